/* Fusion: the table cases of docs/heart-and-fusion.md, the weighted
 * arousal formula, validation of probabilities and weights, monotonicity. */
#include "testutil.h"

enum { ANGRY, DISGUST, FEAR, HAPPY, SAD, SURPRISE, NEUTRAL };

/* The documented circumplex table (valence, typical arousal). */
static const double valence[7] = {-0.70, -0.70, -0.60, 0.80, -0.80, 0.30, 0.00};
static const double typical[7] = {0.85, 0.60, 0.85, 0.60, 0.25, 0.90, 0.50};

static fer_heart adult(double bpm)
{
    fer_heart h;
    ck_assert_int_eq(fer_heart_from_bpm(bpm, NULL, &h, NULL), FER_OK);
    return h;
}

static fer_state fuse(const float *p, const fer_heart *h, const fer_fusion_opts *o)
{
    fer_state s;
    fer_error e = {0};
    ck_assert_msg(fer_fuse(p, h, o, &s, &e) == FER_OK, "%s", e.msg);
    return s;
}

static void one_hot(float *p, int k)
{
    for (int i = 0; i < 7; i++)
        p[i] = i == k;
}

/* Label for probabilities (two classes) and a heart rate (<= 0: none). */
static fer_state case_of(int a, float pa, int b, float pb, double bpm)
{
    float p[7] = {0};
    p[a] += pa;
    p[b] += pb;
    fer_heart h = bpm > 0 ? adult(bpm) : (fer_heart){0};
    return fuse(p, bpm > 0 ? &h : NULL, NULL);
}

START_TEST(table_cases_give_the_documented_labels)
{
    struct { int a; float pa; int b; float pb; double bpm; const char *label; fer_intensity in; }
    cases[] = {
        {HAPPY, 1, NEUTRAL, 0, 120, "Very happy and excited", FER_VERY},
        {HAPPY, 1, NEUTRAL, 0, 55, "Happy and content", FER_PLAIN},
        {HAPPY, 1, NEUTRAL, 0, 0, "Happy and cheerful", FER_PLAIN},
        {SAD, 1, NEUTRAL, 0, 60, "Sad but calm", FER_PLAIN},
        {SAD, 0.8f, NEUTRAL, 0.2f, 125, "Very sad and agitated", FER_VERY},
        {ANGRY, 0.9f, NEUTRAL, 0.1f, 110, "Very angry and frustrated", FER_VERY},
        {FEAR, 0.4f, NEUTRAL, 0.35f, 105, "Mildly fearful and tense", FER_MILDLY},
        {NEUTRAL, 1, HAPPY, 0, 60, "Neutral and relaxed", FER_PLAIN},
        {NEUTRAL, 1, HAPPY, 0, 0, "Neutral and attentive", FER_PLAIN},
        {NEUTRAL, 0.6f, ANGRY, 0.4f, 140, "Neutral but tense", FER_PLAIN},
        {SURPRISE, 0.5f, NEUTRAL, 0.5f, 50, "Mildly surprised but calm", FER_MILDLY},
        {DISGUST, 0.7f, NEUTRAL, 0.3f, 85, "Disgusted and uneasy", FER_PLAIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float rest = 1 - cases[i].pa - cases[i].pb; /* spread over sad, to sum to 1 */
        float p[7] = {0};
        p[cases[i].a] += cases[i].pa;
        p[cases[i].b] += cases[i].pb;
        if (rest > 0)
            p[cases[i].a == SAD || cases[i].b == SAD ? DISGUST : SAD] += rest;
        fer_heart h = cases[i].bpm > 0 ? adult(cases[i].bpm) : (fer_heart){0};
        fer_state s = fuse(p, cases[i].bpm > 0 ? &h : NULL, NULL);
        ck_assert_msg(strcmp(s.label, cases[i].label) == 0, "case %zu: '%s', expected '%s'", i,
                      s.label, cases[i].label);
        ck_assert_int_eq(s.intensity, cases[i].in);
        ck_assert_int_eq(s.emotion, cases[i].a);
    }
}
END_TEST

START_TEST(arousal_and_valence_follow_the_formula)
{
    float p[7] = {0.1f, 0.05f, 0.05f, 0.5f, 0.1f, 0.1f, 0.1f};
    double face_a = 0, v = 0;
    for (int i = 0; i < 7; i++) {
        face_a += p[i] * typical[i];
        v += p[i] * valence[i];
    }
    fer_heart h = adult(95);
    fer_fusion_opts o = {.face_weight = 1.5, .heart_weight = 0.5};
    fer_state s = fuse(p, &h, &o);
    ck_assert_double_eq_tol(s.arousal, (1.5 * face_a + 0.5 * h.arousal) / 2.0, 1e-6);
    ck_assert_double_eq_tol(s.valence, v, 1e-6);
    ck_assert_double_eq_tol(s.confidence, 0.5, 1e-6);
    ck_assert_str_eq(s.emotion_name, "Happy");
    /* defaults: face 1, heart 2 */
    fer_fusion_opts d;
    fer_fusion_opts_default(&d);
    ck_assert_double_eq(d.face_weight, 1);
    ck_assert_double_eq(d.heart_weight, 2);
    ck_assert_double_eq_tol(fuse(p, &h, NULL).arousal, (face_a + 2 * h.arousal) / 3, 1e-6);
    /* no heart: the face alone; heart weight 0: the face alone too */
    ck_assert_double_eq_tol(fuse(p, NULL, NULL).arousal, face_a, 1e-6);
    o = (fer_fusion_opts){1, 0};
    ck_assert_double_eq_tol(fuse(p, &h, &o).arousal, face_a, 1e-6);
    /* face weight 0: heart alone */
    o = (fer_fusion_opts){0, 1};
    ck_assert_double_eq_tol(fuse(p, &h, &o).arousal, h.arousal, 1e-12);
}
END_TEST

START_TEST(names_and_phrases)
{
    const char *names[7] = {"Angry", "Disgusted", "Fearful", "Happy", "Sad", "Surprised",
                            "Neutral"};
    for (int k = 0; k < 7; k++) {
        float p[7];
        one_hot(p, k);
        for (double bpm = 40; bpm <= 160; bpm += 10) {
            fer_heart h = adult(bpm);
            fer_state s = fuse(p, &h, NULL);
            ck_assert_str_eq(s.emotion_name, names[k]);
            ck_assert_double_eq(s.confidence, 1);
            ck_assert_ptr_nonnull(strstr(s.label, s.arousal_phrase));
            ck_assert(strncmp(s.arousal_phrase, "and ", 4) && strncmp(s.arousal_phrase, "but ", 4));
            const char *iname = s.intensity == FER_VERY ? "Very" : s.intensity == FER_MILDLY
                                                                        ? "Mildly" : "";
            ck_assert_str_eq(s.intensity_name, iname);
            if (s.intensity == FER_PLAIN)
                ck_assert(strncmp(s.label, names[k], strlen(names[k])) == 0);
            else
                ck_assert(strncmp(s.label, iname, strlen(iname)) == 0);
            if (k == NEUTRAL)
                ck_assert_int_eq(s.intensity, FER_PLAIN);
        }
    }
}
END_TEST

START_TEST(more_bpm_never_lowers_arousal_or_intensity)
{
    fer_rng r;
    fer_rng_seed(&r, 7);
    for (int trial = 0; trial < 50; trial++) {
        float p[7], sum = 0;
        for (int i = 0; i < 7; i++)
            sum += p[i] = (float)fer_rng_uniform(&r) + 0.01f;
        for (int i = 0; i < 7; i++)
            p[i] /= sum;
        double prev_a = -1;
        int prev_i = -1;
        for (double bpm = 30; bpm <= 220; bpm += 1) {
            fer_heart h = adult(bpm);
            fer_state s = fuse(p, &h, NULL);
            ck_assert(s.arousal > prev_a);
            ck_assert((int)s.intensity >= prev_i);
            prev_a = s.arousal;
            prev_i = (int)s.intensity;
        }
    }
}
END_TEST

START_TEST(bad_inputs_are_clear_errors)
{
    fer_state s;
    fer_error e = {0};
    float p[7];
    one_hot(p, HAPPY);
    p[SAD] = NAN;
    ck_assert_int_eq(fer_fuse(p, NULL, NULL, &s, &e), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "probabilities[4]"));
    one_hot(p, HAPPY);
    p[HAPPY] = 1.2f;
    p[ANGRY] = -0.2f;
    ck_assert_int_eq(fer_fuse(p, NULL, NULL, &s, &e), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "probabilities[0]"));
    one_hot(p, HAPPY);
    p[HAPPY] = 0.5f;
    ck_assert_int_eq(fer_fuse(p, NULL, NULL, &s, &e), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "sum to 0.5"));
    p[HAPPY] = 0;
    ck_assert_int_eq(fer_fuse(p, NULL, NULL, &s, &e), FER_EINVAL);
    one_hot(p, HAPPY);
    p[HAPPY] = 1.005f; /* within tolerance: renormalised */
    ck_assert_int_eq(fer_fuse(p, NULL, NULL, &s, &e), FER_OK);
    ck_assert_double_eq_tol(s.confidence, 1, 1e-12);
    ck_assert_double_eq_tol(s.valence, valence[HAPPY], 1e-12);
    fer_heart h = adult(80);
    const fer_fusion_opts bad[] = {{-1, 1}, {1, -1}, {NAN, 1}, {1, INFINITY}, {0, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(fer_fuse(p, &h, &bad[i], &s, &e), FER_EINVAL);
    fer_fusion_opts face_off = {0, 1};
    ck_assert_int_eq(fer_fuse(p, NULL, &face_off, &s, &e), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "no heart rate"));
    h.arousal = 1.5;
    ck_assert_int_eq(fer_fuse(p, &h, NULL, &s, &e), FER_EINVAL);
    ck_assert_int_eq(fer_fuse(NULL, NULL, NULL, &s, &e), FER_EINVAL);
    ck_assert_int_eq(fer_fuse(p, NULL, NULL, NULL, &e), FER_EINVAL);
}
END_TEST

START_TEST(ties_pick_the_first_fer_class)
{
    fer_state s = case_of(SAD, 0.5f, HAPPY, 0.5f, 80);
    ck_assert_int_eq(s.emotion, HAPPY);
    ck_assert_int_eq(s.intensity, FER_PLAIN);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fusion");
    TCase *t = tcase_create("fusion");
    tcase_add_test(t, table_cases_give_the_documented_labels);
    tcase_add_test(t, arousal_and_valence_follow_the_formula);
    tcase_add_test(t, names_and_phrases);
    tcase_add_test(t, more_bpm_never_lowers_arousal_or_intensity);
    tcase_add_test(t, bad_inputs_are_clear_errors);
    tcase_add_test(t, ties_pick_the_first_fer_class);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
