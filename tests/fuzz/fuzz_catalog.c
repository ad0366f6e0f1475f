/* Fuzz target: the song catalogue CSV reader (libfer/music/catalog.c + csv.c),
 * then the id index, the genre index and rankings over whatever was loaded. */
#include "fer.h"
#include "fuzz.h"
#include "music/source.h" /* fer_catalog_rank */

static void use_catalog(const fer_catalog *c)
{
    size_t n = fer_catalog_size(c);
    if (n == 0)
        return;
    const fer_track *t = fer_catalog_track(c, n - 1);
    fer_catalog_find(c, t->id);
    fer_track_has_genre(t, "pop");
    fer_music_target target = {.valence = .5, .energy = .5, .tempo = 110, .danceability = .5,
                               .acousticness = .5, .tol_valence = .2, .tol_energy = .2,
                               .tol_tempo = 20};
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_rank_pick picks[10];
    size_t n_picks;
    fer_error err;
    o.limit = 10;
    fer_catalog_rank(c, &target, &o, picks, &n_picks, &err);
    size_t n_tracks;
    o.genre = fer_catalog_genre(c, fer_catalog_n_genres(c) / 2, &n_tracks);
    o.genre_share = 0.1;
    fer_catalog_rank(c, &target, &o, picks, &n_picks, &err);
    o.genre = " pop, ,ROCK ";
    fer_catalog_rank(c, &target, &o, picks, &n_picks, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch(data, size);
    if (!path)
        return 0;
    fer_catalog *c = NULL;
    size_t n_bad;
    fer_error err;
    if (fer_catalog_load(path, &c, &n_bad, &err) == FER_OK)
        use_catalog(c);
    fer_catalog_free(c);
    return 0;
}
