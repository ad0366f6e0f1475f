/* From a fused state to target audio features, and ranking a catalogue by
 * distance to those targets. The tables and the reasoning behind them are in
 * docs/recommend.md; keep the two in step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "music/genres.h"
#include "music/source.h"

/* Music that fits each FER2013 emotion at plain intensity, on Spotify's
 * scales: valence and energy are the circumplex's pleasure and arousal axes. */
typedef struct mood { double valence, energy, tempo; } mood;

static const mood match_table[FER_N_EMOTIONS] = {
    /* angry     */ {0.30, 0.85, 135},
    /* disgust   */ {0.30, 0.65, 115},
    /* fear      */ {0.25, 0.55, 105},
    /* happy     */ {0.80, 0.72, 122},
    /* sad       */ {0.22, 0.30, 82},
    /* surprise  */ {0.65, 0.78, 126},
    /* neutral   */ {0.50, 0.50, 108},
};

/* Where uplift heads for each emotion: positive and calm-to-moderate. */
static const mood uplift_goal[FER_N_EMOTIONS] = {
    /* angry     */ {0.60, 0.45, 95},
    /* disgust   */ {0.62, 0.50, 105},
    /* fear      */ {0.62, 0.38, 88},
    /* happy     */ {0.80, 0.65, 118},
    /* sad       */ {0.62, 0.50, 102},
    /* surprise  */ {0.70, 0.55, 110},
    /* neutral   */ {0.68, 0.58, 112},
};

/* Intensity scales the match mood's distance from neutral (0.5) ... */
static const double intensity_spread[3] = {0.6, 1.0, 1.3};
/* ... and sets how far uplift moves from the match mood towards its goal
 * (the iso principle: the stronger the feeling, the smaller the first step). */
static const double uplift_step[3] = {1.0, 0.75, 0.5};
/* ... and widens the tolerance band when the evidence is weak. */
static const double tolerance_scale[3] = {1.3, 1.0, 0.85};

/* Heart level adjustments: match follows the body a little, uplift leads it
 * (slower, calmer music for a racing heart; livelier for a low one). */
static const mood heart_match[3] = {{0, -0.05, -8}, {0, 0, 0}, {0, 0.05, 8}};
static const mood heart_uplift[3] = {{0.03, 0.15, 15}, {0, 0, 0}, {0.03, -0.15, -20}};

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static mood spread(mood m, double k)
{
    m.valence = 0.5 + (m.valence - 0.5) * k;
    m.energy = 0.5 + (m.energy - 0.5) * k;
    m.tempo = 108 + (m.tempo - 108) * k;
    return m;
}

static mood toward(mood a, mood b, double t)
{
    mood m = {a.valence + (b.valence - a.valence) * t, a.energy + (b.energy - a.energy) * t,
              a.tempo + (b.tempo - a.tempo) * t};
    return m;
}

static fer_status check_inputs(const fer_state *s, const fer_heart *heart, fer_strategy st,
                               fer_error *err)
{
    if (!s)
        return fer_fail(err, FER_EINVAL, "fer_music_target_for: NULL state");
    if (s->emotion < 0 || s->emotion >= FER_N_EMOTIONS)
        return fer_fail(err, FER_EINVAL, "state.emotion %d is not a FER2013 index 0..6",
                        s->emotion);
    if (s->intensity != FER_MILDLY && s->intensity != FER_PLAIN && s->intensity != FER_VERY)
        return fer_fail(err, FER_EINVAL, "state.intensity %d is not Mildly/plain/Very",
                        (int)s->intensity);
    if (!(s->arousal >= 0 && s->arousal <= 1))
        return fer_fail(err, FER_EINVAL, "state.arousal %g is outside [0, 1]", s->arousal);
    if (st != FER_STRATEGY_MATCH && st != FER_STRATEGY_UPLIFT)
        return fer_fail(err, FER_EINVAL, "strategy %d is neither match nor uplift", (int)st);
    if (heart && (heart->level < FER_HR_LOW || heart->level > FER_HR_HIGH))
        return fer_fail(err, FER_EINVAL, "heart.level %d is not low/moderate/high",
                        (int)heart->level);
    if (heart && !(heart->bpm > 0 && heart->bpm <= 250))
        return fer_fail(err, FER_EINVAL, "heart.bpm %g is outside (0, 250]", heart->bpm);
    return FER_OK;
}

fer_status fer_music_target_for(const fer_state *s, const fer_heart *heart, fer_strategy st,
                                fer_music_target *out, fer_error *err)
{
    fer_status rc = check_inputs(s, heart, st, err);
    if (rc != FER_OK || !out)
        return rc != FER_OK ? rc : fer_fail(err, FER_EINVAL, "fer_music_target_for: NULL out");
    int in = (int)s->intensity;
    mood m = spread(match_table[s->emotion], intensity_spread[in]);
    /* The fused arousal (face and heart) pulls energy and tempo: a calm sad
     * listener gets quieter, slower music than an agitated one. */
    m.energy = 0.7 * m.energy + 0.3 * s->arousal;
    m.tempo += (s->arousal - 0.5) * 30;
    if (st == FER_STRATEGY_UPLIFT)
        m = toward(m, uplift_goal[s->emotion], uplift_step[in]);
    if (heart) {
        const mood *h = st == FER_STRATEGY_MATCH ? heart_match : heart_uplift;
        m.valence += h[heart->level].valence;
        m.energy += h[heart->level].energy;
        m.tempo += h[heart->level].tempo;
        /* Entrainment: to slow a racing heart, stay below its rate. */
        if (st == FER_STRATEGY_UPLIFT && heart->level == FER_HR_HIGH && m.tempo > heart->bpm - 15)
            m.tempo = heart->bpm - 15;
    }
    out->valence = clamp(m.valence, 0.03, 0.97);
    out->energy = clamp(m.energy, 0.03, 0.97);
    out->tempo = clamp(m.tempo, 60, 180);
    /* Secondary features follow the primary ones (in the Spotify data,
     * acousticness falls as energy rises; danceability rises with both). */
    out->danceability = clamp(0.25 + 0.35 * out->valence + 0.3 * out->energy, 0.05, 0.95);
    out->acousticness = clamp(1.0 - 1.1 * out->energy, 0.02, 0.95);
    out->tol_valence = 0.15 * tolerance_scale[in];
    out->tol_energy = 0.15 * tolerance_scale[in];
    out->tol_tempo = 15 * tolerance_scale[in];
    return FER_OK;
}

void fer_rank_opts_default(fer_rank_opts *o)
{
    o->limit = 10;
    o->one_per_artist = 1;
    o->genre = NULL;
    o->seed = 0;
    o->popularity_weight = 0.15;
    o->genre_share = 0.2;
}

/* ---------------------------------------------------------------- ranking */

/* Weights of the feature axes; tempo weighs less because beat trackers
 * often report half or double time. */
#define W_VALENCE 1.0
#define W_ENERGY 1.0
#define W_TEMPO 0.7
#define W_SECONDARY 0.3
#define TOL_SECONDARY 0.25

double fer_music_distance(const fer_music_target *t, const fer_track *tr)
{
    double dv = (tr->valence - t->valence) / t->tol_valence;
    double de = (tr->energy - t->energy) / t->tol_energy;
    double dt = (tr->tempo - t->tempo) / t->tol_tempo;
    double sum = W_VALENCE * dv * dv + W_ENERGY * de * de + W_TEMPO * dt * dt;
    double w = W_VALENCE + W_ENERGY + W_TEMPO;
    const double target2[2] = {t->danceability, t->acousticness};
    const double track2[2] = {tr->danceability, tr->acousticness};
    for (int k = 0; k < 2; k++) { /* optional columns: NAN when absent */
        if (isnan(target2[k]) || isnan(track2[k]))
            continue;
        double d = (track2[k] - target2[k]) / TOL_SECONDARY;
        sum += W_SECONDARY * d * d;
        w += W_SECONDARY;
    }
    return sqrt(sum / w);
}

double fer_music_score(const fer_music_target *t, const fer_track *tr, double popularity_weight,
                       double *distance)
{
    double d = fer_music_distance(t, tr);
    if (distance)
        *distance = d;
    double fit = exp(-0.5 * d * d);
    return (1 - popularity_weight) * fit + popularity_weight * tr->popularity / 100.0;
}

typedef struct candidate {
    size_t track;
    double score, distance;
    uint64_t tie; /* seed-dependent order among equal scores */
    int deferred; /* passed over for its genre, may fill the list later */
} candidate;

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL; /* splitmix64 finaliser */
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int by_score(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->tie != y->tie)
        return x->tie < y->tie ? -1 : 1;
    return x->track < y->track ? -1 : x->track > y->track;
}

static void swap_cand(candidate *a, candidate *b)
{
    candidate t = *a;
    *a = *b;
    *b = t;
}

/* Reorders a[0..n) so that a[0..k) hold the k best candidates (in no
 * particular order): quickselect with a median-of-three pivot. by_score is a
 * total order (ties end at the track index), so the result is deterministic. */
static void select_best(candidate *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (k > lo && k < hi && hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, last = hi - 1;
        if (by_score(&a[mid], &a[lo]) < 0)
            swap_cand(&a[mid], &a[lo]);
        if (by_score(&a[last], &a[lo]) < 0)
            swap_cand(&a[last], &a[lo]);
        if (by_score(&a[mid], &a[last]) < 0)
            swap_cand(&a[mid], &a[last]); /* the median is now at `last` */
        size_t store = lo;
        for (size_t i = lo; i < last; i++)
            if (by_score(&a[i], &a[last]) < 0)
                swap_cand(&a[i], &a[store++]);
        swap_cand(&a[store], &a[last]);
        if (store + 1 == k || store == k)
            return;
        if (k < store)
            hi = store;
        else
            lo = store + 1;
    }
}

static fer_status check_rank_inputs(const fer_catalog *c, const fer_music_target *t,
                                    const fer_rank_opts *o, const fer_rank_pick *picks,
                                    const size_t *n_picks, fer_error *err)
{
    if (!c || !t || !o || !picks || !n_picks)
        return fer_fail(err, FER_EINVAL, "fer_catalog_rank: NULL argument");
    if (o->limit == 0 || o->limit > 10000)
        return fer_fail(err, FER_ERANGE, "rank limit %zu is outside 1..10000", o->limit);
    if (!(o->popularity_weight >= 0 && o->popularity_weight <= 1))
        return fer_fail(err, FER_ERANGE, "popularity weight %g is outside [0, 1]",
                        o->popularity_weight);
    if (!(o->genre_share >= 0 && o->genre_share <= 1))
        return fer_fail(err, FER_ERANGE, "genre share %g is outside [0, 1]", o->genre_share);
    if (!(t->tol_valence > 0 && t->tol_energy > 0 && t->tol_tempo > 0))
        return fer_fail(err, FER_EINVAL, "target tolerances must be > 0");
    if (!isfinite(t->valence) || !isfinite(t->energy) || !isfinite(t->tempo))
        return fer_fail(err, FER_EINVAL, "target valence/energy/tempo must be finite");
    return FER_OK;
}

/* A genre name inside a longer string. */
typedef struct genre_ref { const char *name; size_t len; } genre_ref;

/* The genres asked for ("rock, jazz"): comma-separated, blanks trimmed. */
static size_t parse_wanted(const char *list, genre_ref *w)
{
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > p)
            w[n++] = (genre_ref){p, (size_t)(e - p)};
        p = comma ? comma + 1 : end;
    }
    return n;
}

static int is_wanted(const genre_ref *w, size_t n_w, const char *genre, size_t len)
{
    for (size_t k = 0; k < n_w; k++)
        if (w[k].len == len && strncasecmp(w[k].name, genre, len) == 0)
            return 1;
    return 0;
}

static int has_wanted(const fer_track *t, const genre_ref *w, size_t n_w)
{
    for (size_t k = 0; k < n_w; k++)
        if (fer_genre_list_has(t->genre, w[k].name, w[k].len))
            return 1;
    return 0;
}

/* What the list holds so far: its tracks (by candidate index), and how many
 * of them carry each genre other than those asked for. */
typedef struct ranking {
    const fer_catalog *c;
    const fer_rank_opts *o;
    const genre_ref *w; /* asked for */
    size_t n_w;
    size_t *chosen, n_chosen;
    genre_ref *genre; /* the genres in the list, and how many of its tracks have each */
    size_t *count, n_genres, cap_genres;
    size_t per_genre;
} ranking;

static int artist_taken(const ranking *r, const candidate *cand, const char *artist)
{
    for (size_t i = 0; i < r->n_chosen; i++)
        if (!strcasecmp(fer_catalog_track(r->c, cand[r->chosen[i]].track)->artist, artist))
            return 1;
    return 0;
}

static size_t genre_slot(const ranking *r, const char *g, size_t len)
{
    size_t k = 0;
    while (k < r->n_genres && !(r->genre[k].len == len && !strncasecmp(r->genre[k].name, g, len)))
        k++;
    return k;
}

/* 1 if one of the track's genres (not asked for) already fills its share. */
static int genre_full(const ranking *r, const fer_track *t)
{
    const char *p = t->genre, *g;
    size_t len;
    while (fer_genre_next(&p, &g, &len)) {
        size_t k = genre_slot(r, g, len);
        if (k < r->n_genres && r->count[k] >= r->per_genre && !is_wanted(r->w, r->n_w, g, len))
            return 1;
    }
    return 0;
}

static int take(ranking *r, const candidate *cand, size_t i)
{
    const char *p = fer_catalog_track(r->c, cand[i].track)->genre, *g;
    size_t len;
    while (fer_genre_next(&p, &g, &len)) {
        size_t k = genre_slot(r, g, len);
        if (k == r->n_genres) {
            if (k == r->cap_genres) {
                size_t cap = r->cap_genres ? r->cap_genres * 2 : 32;
                genre_ref *ng = realloc(r->genre, cap * sizeof *ng);
                if (ng)
                    r->genre = ng;
                size_t *nc = ng ? realloc(r->count, cap * sizeof *nc) : NULL;
                if (!nc)
                    return 0;
                r->count = nc;
                r->cap_genres = cap;
            }
            r->genre[k] = (genre_ref){g, len};
            r->count[k] = 0;
            r->n_genres++;
        }
        r->count[k]++;
    }
    r->chosen[r->n_chosen++] = i;
    return 1;
}

/* Fills the list from cand[0..m), sorted in [0, head): first the head in
 * score order, skipping a track whose artist is in the list or one of whose
 * genres already fills its share; then the head's tracks passed over for
 * their genre, best first; then the rest (sorted now), with the artist rule
 * only. Returns 0 when out of memory. */
static int fill(ranking *r, candidate *cand, size_t m, size_t head)
{
    size_t limit = r->o->limit;
    for (int pass = 0; pass < 3; pass++) {
        size_t from = pass < 2 ? 0 : head, to = pass < 2 ? head : m;
        if (pass == 2 && r->n_chosen < limit)
            qsort(cand + head, m - head, sizeof *cand, by_score);
        for (size_t i = from; i < to && r->n_chosen < limit; i++) {
            const fer_track *tr = fer_catalog_track(r->c, cand[i].track);
            if ((pass == 1 && !cand[i].deferred) ||
                (r->o->one_per_artist && artist_taken(r, cand, tr->artist)))
                continue;
            if (pass == 0 && (cand[i].deferred = genre_full(r, tr)) != 0)
                continue;
            if (!take(r, cand, i))
                return 0;
        }
    }
    return 1;
}

static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Scores the tracks of the genres asked for into cand; returns how many. */
static size_t score_all(const ranking *r, const fer_music_target *t, candidate *cand)
{
    size_t m = 0;
    for (size_t i = 0; i < fer_catalog_size(r->c); i++) {
        const fer_track *tr = fer_catalog_track(r->c, i);
        if (r->n_w && !has_wanted(tr, r->w, r->n_w))
            continue;
        candidate *k = &cand[m++];
        k->track = i;
        k->score = fer_music_score(t, tr, r->o->popularity_weight, &k->distance);
        k->tie = mix64(r->o->seed ^ mix64(i));
        k->deferred = 0;
    }
    return m;
}

/* 0 when out of memory. */
static int rank(ranking *r, const fer_music_target *t, candidate *cand, fer_rank_pick *picks,
                size_t *n_picks)
{
    size_t m = score_all(r, t, cand);
    /* Only the best few need sorting: more than limit, because one per
     * artist and the genre share skip some; the rest is sorted only if they
     * run out. */
    size_t head = r->o->limit * 8 < m ? r->o->limit * 8 : m;
    select_best(cand, m, head);
    qsort(cand, head, sizeof *cand, by_score);
    if (!fill(r, cand, m, head))
        return 0;
    /* Listed best first: candidate indices are in score order. */
    qsort(r->chosen, r->n_chosen, sizeof *r->chosen, by_index);
    for (size_t i = 0; i < r->n_chosen; i++) {
        const candidate *k = &cand[r->chosen[i]];
        picks[i] = (fer_rank_pick){k->track, k->score, k->distance};
    }
    *n_picks = r->n_chosen;
    return 1;
}

fer_status fer_catalog_rank(const fer_catalog *c, const fer_music_target *t,
                            const fer_rank_opts *o, fer_rank_pick *picks, size_t *n_picks,
                            fer_error *err)
{
    fer_status rc = check_rank_inputs(c, t, o, picks, n_picks, err);
    if (rc != FER_OK)
        return rc;
    *n_picks = 0;
    size_t n = fer_catalog_size(c), n_w_max = 1;
    for (const char *p = o->genre; p && *p; p++)
        n_w_max += *p == ',';
    candidate *cand = malloc((n ? n : 1) * sizeof *cand);
    genre_ref *w = malloc(n_w_max * sizeof *w);
    ranking r = {.c = c, .o = o, .w = w, .n_w = w ? parse_wanted(o->genre, w) : 0,
                 .chosen = malloc(o->limit * sizeof(size_t))};
    /* At least one track a genre, however small the share. */
    r.per_genre = (size_t)(o->genre_share * (double)o->limit + 1e-9);
    r.per_genre = r.per_genre ? r.per_genre : 1;
    if (!cand || !w || !r.chosen || !rank(&r, t, cand, picks, n_picks))
        rc = fer_fail(err, FER_ENOMEM, "fer_catalog_rank: out of memory for %zu tracks", n);
    free(cand);
    free(w);
    free(r.chosen);
    free(r.genre);
    free(r.count);
    return rc;
}
