/* The music source interface (fer.h, "music sources"; source.h for the
 * implementations' side): one call for every source, and the playlist it
 * fills, with the link and the "why it fits" line made here once for all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/source.h"

struct fer_music_source {
    const music_source_ops *ops;
    void *impl;
};

#define LINK_PREFIX "https://open.spotify.com/track/"

fer_status fer_music_source_new(const music_source_ops *ops, void *impl, fer_music_source **out,
                                fer_error *err)
{
    fer_music_source *s = calloc(1, sizeof *s);
    if (!s) {
        if (ops->free)
            ops->free(impl);
        return fer_fail(err, FER_ENOMEM, "out of memory for a %s music source", ops->name);
    }
    s->ops = ops;
    s->impl = impl;
    *out = s;
    return FER_OK;
}

const char *fer_music_source_name(const fer_music_source *src)
{
    return src ? src->ops->name : "";
}

void fer_music_source_free(fer_music_source *src)
{
    if (!src)
        return;
    if (src->ops->free)
        src->ops->free(src->impl);
    free(src);
}

fer_status fer_music_recommend(fer_music_source *src, const fer_music_target *t,
                               const fer_rank_opts *o, fer_playlist *out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_music_recommend: NULL out");
    *out = (fer_playlist){NULL, 0, ""};
    if (!src || !t || !o)
        return fer_fail(err, FER_EINVAL, "fer_music_recommend: NULL argument");
    if (!(t->tol_valence > 0 && t->tol_energy > 0 && t->tol_tempo > 0))
        return fer_fail(err, FER_EINVAL, "target tolerances must be > 0");
    if (!isfinite(t->valence) || !isfinite(t->energy) || !isfinite(t->tempo))
        return fer_fail(err, FER_EINVAL, "target valence/energy/tempo must be finite");
    if (!(o->popularity_weight >= 0 && o->popularity_weight <= 1))
        return fer_fail(err, FER_ERANGE, "popularity weight %g is outside [0, 1]",
                        o->popularity_weight);
    fer_status st = src->ops->recommend(src->impl, t, o, out, err);
    if (st != FER_OK) {
        fer_playlist_free(out);
        out->source = "";
    }
    return st;
}

/* ------------------------------------------------------------ playlists */

void fer_playlist_free(fer_playlist *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free((void *)p->songs[i].track.id); /* the block that holds all its strings */
    free(p->songs);
    p->songs = NULL;
    p->n = 0;
}

fer_status fer_playlist_reserve(fer_playlist *p, size_t n, fer_error *err)
{
    p->songs = calloc(n ? n : 1, sizeof *p->songs);
    return p->songs ? FER_OK : fer_fail(err, FER_ENOMEM, "out of memory for %zu songs", n);
}

/* x as printed with 1/scale resolution, so that a difference that rounds
 * to zero reads "+0.00", not "-0.00". */
static double as_shown(double x, double scale) { return round(x * scale) / scale + 0.0; }

static int in_band(const fer_track *f, const fer_music_target *t)
{
    return fabs(f->valence - t->valence) <= t->tol_valence &&
           fabs(f->energy - t->energy) <= t->tol_energy &&
           fabs(f->tempo - t->tempo) <= t->tol_tempo;
}

static void why_text(const fer_track *f, int band, int known, const fer_music_target *t,
                     char *buf, size_t cap)
{
    if (!known && f->popularity >= 0)
        snprintf(buf, cap, "no audio features known; popularity %d", f->popularity);
    else if (!known)
        snprintf(buf, cap, "no audio features known");
    else
        snprintf(buf, cap, "valence %.2f (%+.2f) energy %.2f (%+.2f) %3.0f BPM (%+.0f)%s",
                 f->valence, as_shown(f->valence - t->valence, 100), f->energy,
                 as_shown(f->energy - t->energy, 100), f->tempo,
                 as_shown(f->tempo - t->tempo, 1), band ? " \xE2\x9C\x93" : "");
}

/* Copies s to *at and moves *at past its NUL. */
static const char *put(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

fer_status fer_playlist_add(fer_playlist *p, const fer_track *tr, double score, double distance,
                            const fer_music_target *t, fer_error *err)
{
    fer_song *s = &p->songs[p->n];
    int known = !isnan(distance);
    char why[160];
    s->in_band = known && in_band(tr, t);
    why_text(tr, s->in_band, known, t, why, sizeof why);
    const char *genre = tr->genre ? tr->genre : "";
    size_t len = strlen(tr->id) + strlen(tr->title) + strlen(tr->artist) + strlen(genre) +
                 strlen(why) + 2 * strlen(tr->id) + sizeof LINK_PREFIX + 6;
    char *block = malloc(len), *at = block;
    if (!block)
        return fer_fail(err, FER_ENOMEM, "out of memory for a song");
    s->track = *tr;
    s->track.id = put(&at, tr->id); /* first: fer_playlist_free frees the block by it */
    s->track.title = put(&at, tr->title);
    s->track.artist = put(&at, tr->artist);
    s->track.genre = put(&at, genre);
    s->why = put(&at, why);
    s->url = at;
    sprintf(at, LINK_PREFIX "%s", tr->id);
    s->score = score;
    s->distance = distance;
    p->n++;
    return FER_OK;
}
