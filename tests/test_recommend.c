/* State -> music targets (properties of the table), catalogue ranking (one
 * per artist, genre filter and share, limit, seed determinism, agreement
 * with brute force, diversity on the shipped catalogue), and the music source
 * interface (the offline source, a stub third source). */
#include "testutil.h"

#include "core/core.h"     /* fer_fail, for the stub source */
#include "music/source.h" /* fer_catalog_rank, and what a source implements */

#include <strings.h>

enum { ANGRY, DISGUST, FEAR, HAPPY, SAD, SURPRISE, NEUTRAL };

static fer_state state(int emotion, fer_intensity in, double arousal)
{
    fer_state s;
    memset(&s, 0, sizeof s);
    s.emotion = emotion;
    s.intensity = in;
    s.arousal = arousal;
    s.confidence = 0.8;
    return s;
}

static fer_heart heart(double bpm, fer_hr_level level)
{
    fer_heart h;
    memset(&h, 0, sizeof h);
    h.bpm = bpm;
    h.level = level;
    h.arousal = level == FER_HR_HIGH ? 0.9 : level == FER_HR_LOW ? 0.1 : 0.5;
    return h;
}

static fer_music_target target(fer_state s, const fer_heart *h, fer_strategy st)
{
    fer_music_target t;
    fer_error err;
    ck_assert_msg(fer_music_target_for(&s, h, st, &t, &err) == FER_OK, "%s", err.msg);
    return t;
}

START_TEST(sad_calm_is_low_and_slow)
{
    fer_music_target sad = target(state(SAD, FER_PLAIN, 0.2), NULL, FER_STRATEGY_MATCH);
    fer_music_target happy = target(state(HAPPY, FER_PLAIN, 0.8), NULL, FER_STRATEGY_MATCH);
    ck_assert(sad.valence < 0.35 && sad.energy < 0.35 && sad.tempo < 90);
    ck_assert(sad.valence < happy.valence && sad.energy < happy.energy && sad.tempo < happy.tempo);
    ck_assert(sad.acousticness > happy.acousticness);
}
END_TEST

START_TEST(intensity_and_arousal_are_monotone)
{
    for (int e = 0; e < FER_N_EMOTIONS; e++) {
        fer_music_target mild = target(state(e, FER_MILDLY, 0.5), NULL, FER_STRATEGY_MATCH);
        fer_music_target very = target(state(e, FER_VERY, 0.5), NULL, FER_STRATEGY_MATCH);
        /* Stronger feeling: further from neutral valence, narrower band. */
        ck_assert(fabs(very.valence - 0.5) >= fabs(mild.valence - 0.5));
        ck_assert(very.tol_valence < mild.tol_valence);
        fer_music_target calm = target(state(e, FER_PLAIN, 0.1), NULL, FER_STRATEGY_MATCH);
        fer_music_target agitated = target(state(e, FER_PLAIN, 0.9), NULL, FER_STRATEGY_MATCH);
        ck_assert(calm.energy < agitated.energy && calm.tempo < agitated.tempo);
    }
}
END_TEST

START_TEST(uplift_follows_heart_rate)
{
    for (int e = 0; e < FER_N_EMOTIONS; e++) {
        fer_state s = state(e, FER_PLAIN, 0.6);
        fer_heart fast = heart(125, FER_HR_HIGH), slow = heart(52, FER_HR_LOW);
        fer_music_target mf = target(s, &fast, FER_STRATEGY_MATCH);
        fer_music_target uf = target(s, &fast, FER_STRATEGY_UPLIFT);
        fer_heart usual = heart(75, FER_HR_MODERATE);
        fer_music_target um = target(s, &usual, FER_STRATEGY_UPLIFT);
        fer_music_target us = target(s, &slow, FER_STRATEGY_UPLIFT);
        /* A racing heart: slower and calmer than matching music would be. */
        ck_assert_msg(uf.tempo < mf.tempo && uf.energy < mf.energy, "emotion %d", e);
        ck_assert(uf.tempo <= 125 - 15);
        /* A slow heart: livelier than for a usual one; a fast one: calmer. */
        ck_assert_msg(us.tempo > um.tempo && us.energy > um.energy, "emotion %d", e);
        ck_assert_msg(uf.tempo < um.tempo && uf.energy < um.energy, "emotion %d", e);
    }
}
END_TEST

START_TEST(uplift_raises_negative_valence)
{
    const int negative[] = {ANGRY, DISGUST, FEAR, SAD};
    for (int i = 0; i < 4; i++)
        for (int in = FER_MILDLY; in <= FER_VERY; in++) {
            fer_state s = state(negative[i], (fer_intensity)in, 0.5);
            fer_music_target m = target(s, NULL, FER_STRATEGY_MATCH);
            fer_music_target u = target(s, NULL, FER_STRATEGY_UPLIFT);
            ck_assert(u.valence > m.valence + 0.1);
        }
    /* The iso principle: a very sad listener is moved less far than a mildly sad one. */
    fer_state very = state(SAD, FER_VERY, 0.5), mild = state(SAD, FER_MILDLY, 0.5);
    ck_assert(target(very, NULL, FER_STRATEGY_UPLIFT).valence <
              target(mild, NULL, FER_STRATEGY_UPLIFT).valence);
}
END_TEST

START_TEST(every_cell_in_range)
{
    const fer_hr_level levels[3] = {FER_HR_LOW, FER_HR_MODERATE, FER_HR_HIGH};
    const double bpm[3] = {50, 80, 130};
    for (int e = 0; e < FER_N_EMOTIONS; e++)
        for (int in = 0; in < 3; in++)
            for (int h = -1; h < 3; h++)
                for (int st = 0; st < 2; st++)
                    for (double a = 0; a <= 1.0; a += 0.25) {
                        fer_heart hh = heart(h >= 0 ? bpm[h] : 70, h >= 0 ? levels[h] : FER_HR_MODERATE);
                        fer_music_target t = target(state(e, (fer_intensity)in, a),
                                                    h >= 0 ? &hh : NULL, (fer_strategy)st);
                        ck_assert(t.valence > 0 && t.valence < 1 && t.energy > 0 && t.energy < 1);
                        ck_assert(t.tempo >= 60 && t.tempo <= 180);
                        ck_assert(t.danceability > 0 && t.danceability < 1);
                        ck_assert(t.acousticness > 0 && t.acousticness < 1);
                        ck_assert(t.tol_valence > 0 && t.tol_energy > 0 && t.tol_tempo > 0);
                    }
}
END_TEST

START_TEST(bad_state_rejected)
{
    fer_music_target t;
    fer_error err;
    fer_state s = state(9, FER_PLAIN, 0.5);
    ck_assert_int_eq(fer_music_target_for(&s, NULL, FER_STRATEGY_MATCH, &t, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "emotion"));
    s = state(SAD, FER_PLAIN, NAN);
    ck_assert_int_eq(fer_music_target_for(&s, NULL, FER_STRATEGY_MATCH, &t, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "arousal"));
    s = state(SAD, (fer_intensity)7, 0.5);
    ck_assert_int_eq(fer_music_target_for(&s, NULL, FER_STRATEGY_MATCH, &t, &err), FER_EINVAL);
    s = state(SAD, FER_PLAIN, 0.5);
    fer_heart h = heart(-3, FER_HR_LOW);
    ck_assert_int_eq(fer_music_target_for(&s, &h, FER_STRATEGY_MATCH, &t, &err), FER_EINVAL);
    ck_assert_int_eq(fer_music_target_for(&s, NULL, (fer_strategy)5, &t, &err), FER_EINVAL);
    ck_assert_int_eq(fer_music_target_for(NULL, NULL, FER_STRATEGY_MATCH, &t, &err), FER_EINVAL);
}
END_TEST

/* ------------------------------------------------------------ ranking */

/* n random tracks by n_artists artists over three genres, written as CSV and
 * loaded; the first n_star are by one artist and close to some_target(). */
static fer_catalog *random_catalog_by(size_t n, size_t n_artists, size_t n_star, uint64_t seed)
{
    char path[] = "/tmp/test_recommend_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "genre,artist_name,track_name,track_id,popularity,acousticness,danceability,"
               "energy,tempo,valence\n");
    const char *genres[3] = {"Dance", "R&B", "Movie"};
    fer_rng r;
    fer_rng_seed(&r, seed);
    for (size_t i = 0; i < n_star; i++)
        fprintf(f, "Pop,Star,Hit %zu,star%zu,50,0.6,0.4,0.3,80,%.4f\n", i, i, 0.22 + 1e-4 * (double)i);
    for (size_t i = n_star; i < n; i++)
        fprintf(f, "%s,Artist %zu,Song %zu,t%zu,%u,%.3f,%.3f,%.3f,%.1f,%.3f\n", genres[i % 3],
                i % n_artists, i, i, fer_rng_below(&r, 101), fer_rng_uniform(&r),
                fer_rng_uniform(&r), fer_rng_uniform(&r), 60 + 120 * fer_rng_uniform(&r),
                fer_rng_uniform(&r));
    fclose(f);
    fer_catalog *c;
    fer_error err;
    ck_assert_msg(fer_catalog_load(path, &c, NULL, &err) == FER_OK, "%s", err.msg);
    unlink(path);
    return c;
}

static fer_catalog *random_catalog(size_t n, uint64_t seed)
{
    return random_catalog_by(n, n / 3 + 1, 0, seed);
}

static fer_music_target some_target(void)
{
    return target(state(SAD, FER_PLAIN, 0.3), NULL, FER_STRATEGY_MATCH);
}

START_TEST(ranking_limit_order_artist)
{
    fer_catalog *c = random_catalog(600, 1);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    ck_assert_uint_eq(o.limit, 10);
    ck_assert_int_eq(o.one_per_artist, 1);
    o.limit = 25;
    fer_rank_pick picks[25];
    size_t n;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 25);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ck_assert(picks[i].score <= picks[i - 1].score);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(fer_catalog_track(c, picks[i].track)->artist,
                             fer_catalog_track(c, picks[j].track)->artist);
        double d;
        double s = fer_music_score(&t, fer_catalog_track(c, picks[i].track), o.popularity_weight, &d);
        ck_assert(fabs(s - picks[i].score) < 1e-12 && fabs(d - picks[i].distance) < 1e-12);
    }
    /* Without popularity and diversity the first pick is the nearest track overall. */
    o.popularity_weight = 0;
    o.one_per_artist = 0;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &n, NULL), FER_OK);
    double best = INFINITY;
    for (size_t i = 0; i < fer_catalog_size(c); i++)
        best = fmin(best, fer_music_distance(&t, fer_catalog_track(c, i)));
    ck_assert(fabs(picks[0].distance - best) < 1e-12);
    fer_catalog_free(c);
}
END_TEST

static const fer_catalog *ref_catalog;
static const fer_music_target *ref_target;

static int by_reference_score(const void *a, const void *b)
{
    double x = fer_music_score(ref_target, fer_catalog_track(ref_catalog, *(const size_t *)a), 0.15, NULL);
    double y = fer_music_score(ref_target, fer_catalog_track(ref_catalog, *(const size_t *)b), 0.15, NULL);
    return x > y ? -1 : x < y;
}

/* Against a plain full sort + greedy one-per-artist, also when few artists
 * force the ranking past its partially sorted head. */
START_TEST(matches_full_sort)
{
    const size_t artists[3] = {3, 40, 400}, stars[3] = {0, 300, 0};
    for (int k = 0; k < 3; k++) {
        fer_catalog *c = random_catalog_by(1200, artists[k], stars[k], 10 + (uint64_t)k);
        fer_music_target t = some_target();
        size_t n = fer_catalog_size(c), *order = malloc(n * sizeof *order);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        ref_catalog = c;
        ref_target = &t;
        qsort(order, n, sizeof *order, by_reference_score);
        fer_rank_opts o;
        fer_rank_opts_default(&o);
        o.limit = 20;
        o.genre_share = 1; /* the plain greedy list */
        fer_rank_pick picks[20];
        size_t got;
        ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &got, NULL), FER_OK);
        size_t want = artists[k] < 20 ? artists[k] : 20, j = 0;
        ck_assert_uint_eq(got, want);
        for (size_t i = 0; i < n && j < want; i++) {
            const char *artist = fer_catalog_track(c, order[i])->artist;
            int seen = 0;
            for (size_t q = 0; q < j; q++)
                seen |= !strcmp(fer_catalog_track(c, picks[q].track)->artist, artist);
            if (seen)
                continue;
            ck_assert_msg(picks[j].track == order[i], "artists %zu: pick %zu", artists[k], j);
            j++;
        }
        free(order);
        fer_catalog_free(c);
    }
}
END_TEST

START_TEST(genre_filter_case_insensitive)
{
    fer_catalog *c = random_catalog(300, 2);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    o.genre = "r&b";
    fer_rank_pick picks[10];
    size_t n;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 10); /* the genre asked for has no share limit */
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(fer_catalog_track(c, picks[i].track)->genre, "R&B");
    o.genre = " movie ,,R&B,polka";  /* a list: any of them */
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 10);
    int seen[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        const char *g = fer_catalog_track(c, picks[i].track)->genre;
        ck_assert(!strcmp(g, "Movie") || !strcmp(g, "R&B"));
        seen[!strcmp(g, "Movie")]++;
    }
    ck_assert(seen[0] > 0 && seen[1] > 0);
    o.genre = "Polka";
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 0);
    fer_catalog_free(c);
}
END_TEST

/* Six genres of 10 tracks each (B's are "B; A"), A fitting best, then B, ...
 * (all 60 among the best 8 x limit). */
static fer_catalog *genre_ladder(void)
{
    char path[] = "/tmp/test_recommend_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "track_id,track_name,artist_name,genres,popularity,valence,energy,tempo\n");
    const char *lists[6] = {"A", "B; A", "C", "D", "E", "F"};
    for (int g = 0; g < 6; g++)
        for (int i = 0; i < 10; i++)
            fprintf(f, "%c%d,Song,Artist %c%d,%s,50,%.3f,0.3,80\n", 'A' + g, i, 'A' + g, i,
                    lists[g], 0.22 + 0.01 * g + 0.0001 * i);
    fclose(f);
    fer_catalog *c;
    fer_error err;
    ck_assert_msg(fer_catalog_load(path, &c, NULL, &err) == FER_OK, "%s", err.msg);
    unlink(path);
    return c;
}

static size_t count_genre(const fer_catalog *c, const fer_rank_pick *p, size_t n, const char *g)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)fer_track_has_genre(fer_catalog_track(c, p[i].track), g);
    return k;
}

START_TEST(genre_share_spreads_lists)
{
    fer_catalog *c = genre_ladder();
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    ck_assert(o.genre_share == 0.2);
    fer_rank_pick p[10];
    size_t n;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 10);
    /* B's tracks are "B; A": A is full after 2, so B waits too. */
    const char *names[6] = {"A", "B", "C", "D", "E", "F"};
    const size_t want[6] = {2, 0, 2, 2, 2, 2};
    for (int g = 0; g < 6; g++)
        ck_assert_msg(count_genre(c, p, n, names[g]) == want[g], "genre %s", names[g]);
    for (size_t i = 1; i < n; i++)
        ck_assert(p[i].score <= p[i - 1].score); /* listed best first */
    o.genre_share = 1;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
    ck_assert_uint_eq(count_genre(c, p, n, "A"), 10);
    /* Asked for: no share limit on A, whose own ten tracks fit best. */
    o.genre_share = 0.2;
    o.genre = "a";
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(count_genre(c, p, n, "A"), 10);
    ck_assert_uint_eq(count_genre(c, p, n, "B"), 0);
    /* Every track asked for is also an A, which fills after 2: the share
     * yields, and the list is still full. */
    o.genre = "B";
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(count_genre(c, p, n, "B"), 10);
    /* Share 0: one track a genre, then the best passed over fill the list. */
    o.genre = NULL;
    o.genre_share = 0;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(count_genre(c, p, n, "A"), 6);
    for (int g = 2; g < 6; g++)
        ck_assert_uint_eq(count_genre(c, p, n, names[g]), 1);
    fer_catalog_free(c);
}
END_TEST

/* The share rule against a plain reading of it: the best 8 x limit in
 * score order with both rules, then those passed over for their genre, then
 * the rest with the artist rule only; listed by score. */
static size_t reference_share(const fer_catalog *c, const size_t *order, size_t n, size_t limit,
                              size_t per_genre, size_t *out)
{
    size_t k = 0, head = 8 * limit < n ? 8 * limit : n;
    char *skipped = calloc(n, 1);
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = pass < 2 ? 0 : head; i < (pass < 2 ? head : n) && k < limit; i++) {
            const fer_track *t = fer_catalog_track(c, order[i]);
            int artist = 0;
            size_t same = 0;
            for (size_t q = 0; q < k; q++) {
                const fer_track *u = fer_catalog_track(c, out[q]);
                artist |= !strcmp(u->artist, t->artist);
                same += !strcmp(u->genre, t->genre);
            }
            if (artist || (pass == 1 && !skipped[i]))
                continue;
            if (pass == 0 && same >= per_genre) {
                skipped[i] = 1;
                continue;
            }
            out[k++] = order[i];
        }
    free(skipped);
    return k;
}

START_TEST(genre_share_matches_reference)
{
    const size_t artists[3] = {3, 40, 400}, stars[3] = {0, 300, 0};
    for (int k = 0; k < 3; k++) {
        fer_catalog *c = random_catalog_by(1200, artists[k], stars[k], 20 + (uint64_t)k);
        fer_music_target t = some_target();
        size_t n = fer_catalog_size(c), *order = malloc(n * sizeof *order), want[20];
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        ref_catalog = c;
        ref_target = &t;
        qsort(order, n, sizeof *order, by_reference_score);
        size_t n_want = reference_share(c, order, n, 20, 2, want);
        fer_rank_opts o;
        fer_rank_opts_default(&o);
        o.limit = 20;
        o.genre_share = 0.1; /* 2 a genre */
        fer_rank_pick picks[20];
        size_t got;
        ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &got, NULL), FER_OK);
        ck_assert_uint_eq(got, n_want);
        for (size_t i = 0; i < got; i++) {
            int found = 0;
            for (size_t j = 0; j < n_want; j++)
                found |= picks[i].track == want[j];
            ck_assert_msg(found, "artists %zu: pick %zu not in the reference", artists[k], i);
            if (i)
                ck_assert(picks[i].score <= picks[i - 1].score);
        }
        free(order);
        fer_catalog_free(c);
    }
}
END_TEST

/* Identical tracks: the seed alone orders them, reproducibly. */
START_TEST(seed_breaks_ties_reproducibly)
{
    char path[] = "/tmp/test_recommend_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "track_id,track_name,artist_name,genre,popularity,valence,energy,tempo\n");
    for (int i = 0; i < 40; i++)
        fprintf(f, "same%d,Song,Artist %d,Pop,50,0.3,0.3,80\n", i, i);
    fclose(f);
    fer_catalog *c;
    ck_assert_int_eq(fer_catalog_load(path, &c, NULL, NULL), FER_OK);
    unlink(path);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_rank_pick a[10], b[10];
    size_t na, nb;
    int differs = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        o.seed = seed;
        ck_assert_int_eq(fer_catalog_rank(c, &t, &o, a, &na, NULL), FER_OK);
        ck_assert_int_eq(fer_catalog_rank(c, &t, &o, b, &nb, NULL), FER_OK);
        ck_assert_uint_eq(na, nb);
        ck_assert_mem_eq(a, b, na * sizeof a[0]);
        o.seed = seed + 100;
        ck_assert_int_eq(fer_catalog_rank(c, &t, &o, b, &nb, NULL), FER_OK);
        differs += memcmp(a, b, na * sizeof a[0]) != 0;
    }
    ck_assert_int_ge(differs, 4);
    fer_catalog_free(c);
}
END_TEST

START_TEST(popularity_breaks_equal_fit)
{
    char path[] = "/tmp/test_recommend_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "track_id,track_name,artist_name,genre,popularity,valence,energy,tempo\n"
               "a,A,X,Pop,10,0.3,0.3,80\nb,B,Y,Pop,90,0.3,0.3,80\nc,C,Z,Pop,100,0.95,0.95,170\n");
    fclose(f);
    fer_catalog *c;
    ck_assert_int_eq(fer_catalog_load(path, &c, NULL, NULL), FER_OK);
    unlink(path);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_rank_pick p[10];
    size_t n;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(fer_catalog_track(c, p[0].track)->id, "b");
    ck_assert_str_eq(fer_catalog_track(c, p[1].track)->id, "a");
    ck_assert_str_eq(fer_catalog_track(c, p[2].track)->id, "c"); /* popular but far off */
    fer_catalog_free(c);
}
END_TEST

START_TEST(bad_rank_args)
{
    fer_catalog *c = random_catalog(30, 3);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_rank_pick p[10];
    size_t n;
    fer_error err;
    o.limit = 0;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, &err), FER_ERANGE);
    o.limit = 10;
    o.popularity_weight = 2;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, &err), FER_ERANGE);
    o.popularity_weight = 0.1;
    o.genre_share = 1.5;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, &err), FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "genre share"));
    o.genre_share = NAN;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, &err), FER_ERANGE);
    o.genre_share = 0.2;
    t.tol_tempo = 0;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, &err), FER_EINVAL);
    ck_assert_int_eq(fer_catalog_rank(NULL, &t, &o, p, &n, &err), FER_EINVAL);
    fer_catalog_free(c);
}
END_TEST

/* The shipped catalogue: sad-calm picks sit lower in valence and energy than happy-excited ones. */
START_TEST(shipped_catalog_separates_moods)
{
    fer_catalog *c;
    fer_error err;
    ck_assert_msg(fer_catalog_load("datasets/catalog.csv", &c, NULL, &err) == FER_OK, "%s", err.msg);
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_rank_pick p[10];
    size_t n;
    double mean[2][3] = {{0}};
    fer_music_target ts[2] = {some_target(),
                              target(state(HAPPY, FER_VERY, 0.9), NULL, FER_STRATEGY_MATCH)};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(fer_catalog_rank(c, &ts[k], &o, p, &n, NULL), FER_OK);
        ck_assert_uint_eq(n, 10);
        for (size_t i = 0; i < n; i++) {
            const fer_track *tr = fer_catalog_track(c, p[i].track);
            mean[k][0] += tr->valence / 10;
            mean[k][1] += tr->energy / 10;
            mean[k][2] += tr->tempo / 10;
            ck_assert(p[i].distance < 1.5); /* the catalogue covers both moods */
        }
    }
    ck_assert(mean[0][0] + 0.3 < mean[1][0]);
    ck_assert(mean[0][1] + 0.3 < mean[1][1]);
    ck_assert(mean[0][2] < mean[1][2]);
    fer_catalog_free(c);
}
END_TEST

/* The shipped catalogue, each emotion's top 10: ten artists, at least five
 * genres and none on more than two tracks, all fitting well. */
START_TEST(shipped_catalog_lists_are_diverse)
{
    fer_catalog *c;
    fer_error err;
    ck_assert_msg(fer_catalog_load("datasets/catalog.csv", &c, NULL, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_gt(fer_catalog_n_genres(c), 150);
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    for (int e = 0; e < FER_N_EMOTIONS; e++) {
        fer_music_target t = target(state(e, FER_PLAIN, 0.5), NULL, FER_STRATEGY_MATCH);
        fer_rank_pick p[10];
        size_t n;
        ck_assert_int_eq(fer_catalog_rank(c, &t, &o, p, &n, NULL), FER_OK);
        ck_assert_uint_eq(n, 10);
        size_t n_genres = 0;
        for (size_t g = 0; g < fer_catalog_n_genres(c); g++) {
            size_t k = count_genre(c, p, n, fer_catalog_genre(c, g, NULL));
            ck_assert_msg(k <= 2, "emotion %d: %zu tracks of %s", e, k, fer_catalog_genre(c, g, NULL));
            n_genres += k > 0;
        }
        ck_assert_msg(n_genres >= 5, "emotion %d: %zu genres", e, n_genres);
        for (size_t i = 0; i < n; i++) {
            ck_assert(p[i].distance < 0.6);
            for (size_t j = 0; j < i; j++)
                ck_assert(strcasecmp(fer_catalog_track(c, p[i].track)->artist,
                                     fer_catalog_track(c, p[j].track)->artist));
        }
    }
    fer_catalog_free(c);
}
END_TEST

/* ------------------------------------------------------------ sources */

/* The offline source's songs are the ranking's picks, with the catalogue's
 * strings copied, the link, and why each fits. */
START_TEST(offline_source_is_the_ranking)
{
    fer_catalog *c = random_catalog(300, 5);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    o.limit = 12;
    o.seed = 9;
    fer_rank_pick picks[12];
    size_t n;
    ck_assert_int_eq(fer_catalog_rank(c, &t, &o, picks, &n, NULL), FER_OK);
    fer_music_source *src;
    fer_error err;
    ck_assert_int_eq(fer_music_source_catalog(c, &src, &err), FER_OK);
    ck_assert_str_eq(fer_music_source_name(src), "offline");
    fer_playlist p;
    ck_assert_msg(fer_music_recommend(src, &t, &o, &p, &err) == FER_OK, "%s", err.msg);
    ck_assert_str_eq(p.source, "offline");
    ck_assert_uint_eq(p.n, n);
    size_t in_band = 0;
    for (size_t i = 0; i < p.n; i++) {
        const fer_song *s = &p.songs[i];
        const fer_track *tr = fer_catalog_track(c, picks[i].track);
        ck_assert_str_eq(s->track.id, tr->id);
        ck_assert_ptr_ne(s->track.id, tr->id); /* the playlist's own copy */
        ck_assert_str_eq(s->track.title, tr->title);
        ck_assert_str_eq(s->track.artist, tr->artist);
        ck_assert_str_eq(s->track.genre, tr->genre);
        ck_assert_int_eq(s->track.popularity, tr->popularity);
        ck_assert(s->track.valence == tr->valence && s->track.tempo == tr->tempo);
        ck_assert(s->score == picks[i].score && s->distance == picks[i].distance);
        char url[128];
        snprintf(url, sizeof url, "https://open.spotify.com/track/%s", tr->id);
        ck_assert_str_eq(s->url, url);
        int band = fabs(tr->valence - t.valence) <= t.tol_valence &&
                   fabs(tr->energy - t.energy) <= t.tol_energy &&
                   fabs(tr->tempo - t.tempo) <= t.tol_tempo;
        ck_assert_int_eq(s->in_band, band);
        in_band += band;
        char want[64];
        snprintf(want, sizeof want, "valence %.2f (", tr->valence);
        ck_assert_msg(!strncmp(s->why, want, strlen(want)), "%s", s->why);
        ck_assert_int_eq(strstr(s->why, "\xE2\x9C\x93") != NULL, band);
    }
    ck_assert_uint_gt(in_band, 0);
    fer_playlist_free(&p);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_ptr_null(p.songs);
    /* the genre filter, as the ranking's */
    o.genre = "movie";
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_OK);
    ck_assert_uint_gt(p.n, 0);
    for (size_t i = 0; i < p.n; i++)
        ck_assert_str_eq(p.songs[i].track.genre, "Movie");
    fer_playlist_free(&p);
    fer_music_source_free(src);
    fer_catalog_free(c);
}
END_TEST

/* A genre the catalogue lacks is an error naming the genres it has (few) or
 * the nearest ones (many), and the playlist stays empty. */
START_TEST(offline_source_unknown_genre)
{
    fer_catalog *c = random_catalog(60, 2);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_music_source *src;
    fer_error err;
    ck_assert_int_eq(fer_music_source_catalog(c, &src, NULL), FER_OK);
    fer_playlist p;
    o.genre = "dance, Danse";
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_EINVAL);
    ck_assert_msg(strstr(err.msg, "no genre 'Danse' in the catalogue (3 genres); it has: ") &&
                      strstr(err.msg, "Dance (20)") && strstr(err.msg, "R&B (20)"),
                  "%s", err.msg);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_ptr_null(p.songs);
    o.genre = " , movie ,"; /* empty items are skipped */
    ck_assert_msg(fer_music_recommend(src, &t, &o, &p, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_gt(p.n, 0);
    fer_playlist_free(&p);
    fer_music_source_free(src);
    fer_catalog_free(c);
    /* 26 genres: the nearest 6, those holding the name first */
    char path[] = "/tmp/test_recommend_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "track_id,track_name,artist_name,genre,popularity,valence,energy,tempo\n");
    for (int i = 0; i < 26; i++)
        fprintf(f, "id%d,T%d,A%d,%c%s,10,0.5,0.5,100\n", i, i, i, 'a' + i, i == 9 ? "azz" : "x");
    fprintf(f, "id99,T99,A99,acid jazz,10,0.5,0.5,100\n");
    fclose(f);
    ck_assert_int_eq(fer_catalog_load(path, &c, NULL, NULL), FER_OK);
    unlink(path);
    ck_assert_int_eq(fer_music_source_catalog(c, &src, NULL), FER_OK);
    o.genre = "jaz";
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_EINVAL);
    ck_assert_msg(strstr(err.msg, "(27 genres); nearest: jazz (1), acid jazz (1), "), "%s", err.msg);
    fer_music_source_free(src);
    fer_catalog_free(c);
}
END_TEST

START_TEST(source_bad_args)
{
    fer_catalog *c = random_catalog(30, 3);
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    fer_music_source *src = (fer_music_source *)&o;
    fer_playlist p;
    fer_error err;
    ck_assert_int_eq(fer_music_source_catalog(NULL, &src, &err), FER_EINVAL);
    ck_assert_ptr_null(src);
    ck_assert_int_eq(fer_music_source_catalog(c, NULL, &err), FER_EINVAL);
    ck_assert_int_eq(fer_music_source_catalog(c, &src, &err), FER_OK);
    ck_assert_int_eq(fer_music_recommend(NULL, &t, &o, &p, &err), FER_EINVAL);
    ck_assert_int_eq(fer_music_recommend(src, NULL, &o, &p, &err), FER_EINVAL);
    ck_assert_int_eq(fer_music_recommend(src, &t, NULL, &p, &err), FER_EINVAL);
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, NULL, &err), FER_EINVAL);
    o.limit = 0;
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_ERANGE);
    o.limit = 10001;
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_ERANGE);
    o.limit = 10;
    o.popularity_weight = -1;
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_ERANGE);
    o.popularity_weight = 0.15;
    t.tol_energy = 0;
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_EINVAL);
    t = some_target();
    t.tempo = NAN;
    ck_assert_int_eq(fer_music_recommend(src, &t, &o, &p, &err), FER_EINVAL);
    ck_assert_uint_eq(p.n, 0);
    fer_music_source_free(src);
    fer_music_source_free(NULL);
    fer_playlist_free(NULL);
    ck_assert_str_eq(fer_music_source_name(NULL), "");
    fer_catalog_free(c);
}
END_TEST

/* A third source is one file: its state, its ops and a constructor (here a
 * stub that lists two fixed tracks, or fails after one). */
typedef struct stub { int fail, *freed; } stub;

static fer_status stub_recommend(void *impl, const fer_music_target *t, const fer_rank_opts *o,
                                 fer_playlist *out, fer_error *err)
{
    const stub *st = impl;
    fer_track tr = {"jazz; soul", "Stub Artist", "Stub Song", "stub0", 40, 0, -1, -1, 0,
                    NAN, NAN, 0.4f, NAN, NAN, NAN, NAN, 90, 0.3f};
    fer_status s = fer_playlist_reserve(out, 2, err);
    if (s == FER_OK)
        s = fer_playlist_add(out, &tr, 0.5, fer_music_distance(t, &tr), t, err);
    if (s == FER_OK && st->fail)
        return fer_fail(err, FER_ENET, "stub: gone after one song");
    tr.id = "stub1";
    tr.valence = tr.energy = tr.tempo = NAN;
    if (s == FER_OK && o->limit > 1)
        s = fer_playlist_add(out, &tr, 0.4, NAN, t, err);
    out->source = "stub";
    return s;
}

static void stub_free(void *impl)
{
    stub *st = impl;
    (*st->freed)++;
    free(st);
}

static const music_source_ops stub_ops = {"stub", stub_recommend, stub_free};

START_TEST(third_source_through_the_interface)
{
    int freed = 0;
    fer_music_target t = some_target();
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    for (int fail = 0; fail < 2; fail++) {
        stub *st = malloc(sizeof *st);
        *st = (stub){fail, &freed};
        fer_music_source *src;
        fer_playlist p;
        fer_error err;
        ck_assert_int_eq(fer_music_source_new(&stub_ops, st, &src, &err), FER_OK);
        ck_assert_str_eq(fer_music_source_name(src), "stub");
        fer_status s = fer_music_recommend(src, &t, &o, &p, &err);
        if (fail) {
            ck_assert_int_eq(s, FER_ENET);
            ck_assert_uint_eq(p.n, 0); /* what it had added is freed (ASan) */
        } else {
            ck_assert_int_eq(s, FER_OK);
            ck_assert_uint_eq(p.n, 2);
            ck_assert_str_eq(p.source, "stub");
            ck_assert_str_eq(p.songs[0].url, "https://open.spotify.com/track/stub0");
            ck_assert_int_eq(p.songs[0].in_band, 1);
            ck_assert_msg(strstr(p.songs[0].why, "valence 0.30 (+0.08) energy 0.40 ") &&
                              strstr(p.songs[0].why, "\xE2\x9C\x93"), "%s", p.songs[0].why);
            ck_assert_str_eq(p.songs[1].why, "no audio features known; popularity 40");
            ck_assert_int_eq(p.songs[1].in_band, 0);
            ck_assert(isnan(p.songs[1].distance));
            fer_playlist_free(&p);
        }
        fer_music_source_free(src);
    }
    ck_assert_int_eq(freed, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("recommend");
    TCase *tc = tcase_create("targets");
    tcase_add_test(tc, sad_calm_is_low_and_slow);
    tcase_add_test(tc, intensity_and_arousal_are_monotone);
    tcase_add_test(tc, uplift_follows_heart_rate);
    tcase_add_test(tc, uplift_raises_negative_valence);
    tcase_add_test(tc, every_cell_in_range);
    tcase_add_test(tc, bad_state_rejected);
    suite_add_tcase(s, tc);
    tc = tcase_create("ranking");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ranking_limit_order_artist);
    tcase_add_test(tc, matches_full_sort);
    tcase_add_test(tc, genre_filter_case_insensitive);
    tcase_add_test(tc, genre_share_spreads_lists);
    tcase_add_test(tc, genre_share_matches_reference);
    tcase_add_test(tc, seed_breaks_ties_reproducibly);
    tcase_add_test(tc, popularity_breaks_equal_fit);
    tcase_add_test(tc, bad_rank_args);
    tcase_add_test(tc, shipped_catalog_separates_moods);
    tcase_add_test(tc, shipped_catalog_lists_are_diverse);
    suite_add_tcase(s, tc);
    tc = tcase_create("sources");
    tcase_add_test(tc, offline_source_is_the_ranking);
    tcase_add_test(tc, offline_source_unknown_genre);
    tcase_add_test(tc, source_bad_args);
    tcase_add_test(tc, third_source_through_the_interface);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
