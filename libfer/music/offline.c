/* The offline catalogue as a music source (fer_music_source_catalog): the
 * genres asked for must be the catalogue's (else the nearest are named), then
 * fer_catalog_rank's picks become songs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "music/genres.h"
#include "music/source.h"

enum { NAME_CMP = 48, N_NEAREST = 6 }; /* bytes of a name compared; names suggested */

/* Edit distance between the first NAME_CMP bytes of a and b, ASCII case ignored. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[NAME_CMP + 1];
    na = na < NAME_CMP ? na : NAME_CMP;
    nb = nb < NAME_CMP ? nb : NAME_CMP;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = diag + !same;
            best = up + 1 < best ? up + 1 : best;
            row[j] = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
        }
    }
    return row[nb];
}

/* How far catalogue genre g is from what was asked: names holding it (or
 * held in it) first, then by edit distance. */
static size_t genre_gap(const char *asked, size_t n, const char *g)
{
    size_t ng = strlen(g), hold = 0;
    for (size_t i = 0; !hold && i + n <= ng; i++)
        hold = !strncasecmp(g + i, asked, n);
    for (size_t i = 0; !hold && i + ng <= n; i++)
        hold = !strncasecmp(asked + i, g, ng);
    return (hold ? 0 : NAME_CMP + 1) + edit_distance(asked, n, g, ng);
}

typedef struct near { size_t gap, tracks, index; } near;

static int by_gap(const void *a, const void *b)
{
    const near *x = a, *y = b;
    if (x->gap != y->gap)
        return x->gap < y->gap ? -1 : 1;
    if (x->tracks != y->tracks)
        return x->tracks > y->tracks ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The N_NEAREST catalogue genres closest to `asked` (more tracks first among
 * equals) as "name (tracks), ...", or all of them when there are few. */
static void nearest_genres(const fer_catalog *c, const char *asked, size_t n, char *buf,
                           size_t cap)
{
    size_t total = fer_catalog_n_genres(c), len = 0;
    near *all = malloc((total ? total : 1) * sizeof *all);
    buf[0] = 0;
    if (!all)
        return;
    for (size_t i = 0; i < total; i++) {
        const char *g = fer_catalog_genre(c, i, &all[i].tracks);
        all[i].gap = total <= N_NEAREST ? 0 : genre_gap(asked, n, g);
        all[i].index = i;
    }
    if (total > N_NEAREST)
        qsort(all, total, sizeof *all, by_gap);
    for (size_t i = 0; i < total && i < N_NEAREST && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s (%zu)", i ? ", " : "",
                                fer_catalog_genre(c, all[i].index, NULL), all[i].tracks);
    free(all);
}

/* Every genre of the list ("rock, jazz") must be one the catalogue has. */
static fer_status genres_known(const fer_catalog *c, const char *list, fer_error *err)
{
    const char *p;
    size_t n;
    for (const char *rest = list ? list : ""; fer_list_next(&rest, ',', &p, &n);) {
        size_t i = 0, total = fer_catalog_n_genres(c);
        while (i < total && !(strlen(fer_catalog_genre(c, i, NULL)) == n &&
                              !strncasecmp(fer_catalog_genre(c, i, NULL), p, n)))
            i++;
        if (i == total) {
            char near[400];
            nearest_genres(c, p, n, near, sizeof near);
            return fer_fail(err, FER_EINVAL, "no genre '%.*s' in the catalogue (%zu genres); %s: %s",
                            (int)(n < 64 ? n : 64), p, total,
                            total <= N_NEAREST ? "it has" : "nearest", near);
        }
    }
    return FER_OK;
}

static fer_status offline_recommend(void *impl, const fer_music_target *t,
                                    const fer_rank_opts *o, fer_playlist *out, fer_error *err)
{
    const fer_catalog *c = impl;
    fer_status st = genres_known(c, o->genre, err);
    if (st != FER_OK)
        return st;
    if (o->limit == 0 || o->limit > 10000) /* before sizing picks by it */
        return fer_fail(err, FER_ERANGE, "rank limit %zu is outside 1..10000", o->limit);
    fer_rank_pick *picks = malloc(o->limit * sizeof *picks);
    size_t n = 0;
    if (!picks)
        return fer_fail(err, FER_ENOMEM, "out of memory for %zu picks", o->limit);
    st = fer_catalog_rank(c, t, o, picks, &n, err);
    if (st == FER_OK)
        st = fer_playlist_reserve(out, n, err);
    for (size_t i = 0; st == FER_OK && i < n; i++)
        st = fer_playlist_add(out, fer_catalog_track(c, picks[i].track), picks[i].score,
                              picks[i].distance, t, err);
    free(picks);
    out->source = "offline";
    return st;
}

static const music_source_ops offline_ops = {"offline", offline_recommend, NULL};

fer_status fer_music_source_catalog(const fer_catalog *c, fer_music_source **out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_music_source_catalog: NULL out");
    *out = NULL;
    if (!c)
        return fer_fail(err, FER_EINVAL, "fer_music_source_catalog: NULL catalogue");
    return fer_music_source_new(&offline_ops, (void *)c, out, err);
}
