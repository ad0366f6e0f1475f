/* Music sources, internal side: the ranking of the offline catalogue and what
 * an implementation of fer_music_source provides (fer.h, "music sources").
 * A new source is one file: a struct of its own state, a music_source_ops
 * with its name, recommend and free, and a public constructor in fer.h that
 * hands both to fer_music_source_new (offline.c and spotify.c are the two
 * there are). Internal to libfer. */
#ifndef FER_MUSIC_SOURCE_H
#define FER_MUSIC_SOURCE_H

#include "fer.h"

/* ---- ranking (recommend.c) */

typedef struct fer_rank_pick {
    size_t track;    /* catalogue index */
    double score;    /* higher is better */
    double distance; /* to the target in feature space */
} fer_rank_pick;

/* Tracks ranked by score (fit to the target blended with popularity), at
 * most one per artist when asked, each genre within its share while other
 * tracks are left, ties broken by o->seed, listed best first. picks must
 * hold o->limit entries; *n_picks receives how many were filled (0 when no
 * track has a genre asked for). */
fer_status fer_catalog_rank(const fer_catalog *c, const fer_music_target *t,
                            const fer_rank_opts *o, fer_rank_pick *picks, size_t *n_picks,
                            fer_error *err);

/* ---- sources (source.c) */

typedef struct music_source_ops {
    const char *name; /* fer_music_source_name: "offline", "spotify" */
    /* Fills out (empty, never NULL) with at most o->limit songs, best first,
     * and sets out->source; on failure the dispatcher empties it again. */
    fer_status (*recommend)(void *impl, const fer_music_target *t, const fer_rank_opts *o,
                            fer_playlist *out, fer_error *err);
    void (*free)(void *impl); /* NULL: nothing to free */
} music_source_ops;

/* A source over impl; on failure impl is freed with ops->free. */
fer_status fer_music_source_new(const music_source_ops *ops, void *impl, fer_music_source **out,
                                fer_error *err);

/* Room for n songs in p (empty so far). */
fer_status fer_playlist_reserve(fer_playlist *p, size_t n, fer_error *err);
/* Appends a song (within the room reserved): tr's strings copied, the link
 * to open.spotify.com made from tr->id, in_band and why worked out against
 * t. distance NAN: no audio features are known (tr's are then NAN). */
fer_status fer_playlist_add(fer_playlist *p, const fer_track *tr, double score, double distance,
                            const fer_music_target *t, fer_error *err);

#endif
