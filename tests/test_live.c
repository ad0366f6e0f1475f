/* The live heart-rate stream (every line format, BLE flag combinations,
 * garbage, the rolling window and the sensor timeout) and the live loop
 * (smoothing that behaves alike at two frame rates, hysteresis, the
 * fallback to the face alone, tracking between full detections). */
#include "testutil.h"

#define DEMO "datasets/demo/face.png"
#define EMOTION "weights/fer-7class.safetensors"
#define VERIFIER "weights/face-verifier.safetensors"
#define SAMPLE "tests/data/fer2013-sample.csv"

static int exists(const char *p) { return access(p, R_OK) == 0; }

static fer_hr_stream *stream(double window, double timeout)
{
    fer_hr_stream_opts o;
    fer_hr_stream_opts_default(&o);
    o.window = window;
    o.timeout = timeout;
    fer_hr_stream *s;
    fer_error e;
    ck_assert_int_eq(fer_hr_stream_new(&o, &s, &e), FER_OK);
    return s;
}

static fer_hr_stream_stats stats(const fer_hr_stream *s)
{
    fer_hr_stream_stats st;
    fer_hr_stream_get_stats(s, &st);
    return st;
}

/* The heart at now; ck fails when there is none. */
static fer_heart heart_at(const fer_hr_stream *s, double now)
{
    fer_heart h;
    int has = -1;
    fer_error e;
    ck_assert_int_eq(fer_hr_stream_heart(s, now, &h, &has, &e), FER_OK);
    ck_assert_int_eq(has, 1);
    return h;
}

/* ------------------------------------------------------------ heart stream */

START_TEST(stream_reads_bpm_seconds_and_rr_lines)
{
    fer_hr_stream *s = stream(30, 5);
    fer_error e;
    ck_assert_int_eq(fer_hr_stream_line(s, "72\n", 0, &e), FER_OK);
    ck_assert_int_eq(fer_hr_stream_line(s, "  74.5 \r\n", 1, &e), FER_OK);
    ck_assert_int_eq(fer_hr_stream_line(s, "", 1, &e), FER_OK); /* blank: nothing */
    fer_heart h = heart_at(s, 1);
    ck_assert_int_eq(h.n_samples, 1); /* two readings: the last alone */
    ck_assert_double_eq_tol(h.bpm, 74.5, 1e-9);
    ck_assert_int_eq(fer_hr_stream_line(s, "76", 2, &e), FER_OK);
    h = heart_at(s, 2);
    ck_assert_int_eq(h.n_samples, 3);
    ck_assert_double_eq_tol(h.bpm, (72 + 74.5 + 76) / 3, 1e-9);
    ck_assert_int_eq(stats(s).n_readings, 3);
    ck_assert_int_eq(stats(s).n_lines, 4);
    fer_hr_stream_free(s);

    s = stream(30, 5); /* seconds,bpm with a header; the given times give the trend */
    ck_assert_int_eq(fer_hr_stream_line(s, "seconds,bpm", 0, &e), FER_OK);
    for (int i = 0; i < 5; i++) {
        char line[32];
        snprintf(line, sizeof line, "%d, %d", i * 6, 70 + i); /* +1 bpm per 6 s */
        ck_assert_int_eq(fer_hr_stream_line(s, line, 0, &e), FER_OK);
    }
    h = heart_at(s, 0);
    ck_assert_int_eq(h.n_samples, 5);
    ck_assert_double_eq_tol(h.trend, 10, 1e-6);
    ck_assert_int_eq(fer_hr_stream_line(s, "24,80", 0, &e), FER_EFORMAT); /* time repeats */
    ck_assert_ptr_nonnull(strstr(e.msg, "not after"));
    ck_assert_int_eq(stats(s).n_bad, 1);
    fer_hr_stream_free(s);

    s = stream(30, 5); /* RR intervals: a number over 250, or "rr N" */
    const char *rr[] = {"800", "rr 810", "RR=790", "rr:800", "805"};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(fer_hr_stream_line(s, rr[i], i, &e), FER_OK);
    h = heart_at(s, 4);
    ck_assert_int_eq(h.n_samples, 5);
    ck_assert(!isnan(h.rmssd_ms));
    ck_assert_double_eq_tol(h.bpm, 60000.0 / 801, 0.5);
    fer_hr_stream_free(s);
}
END_TEST

/* BLE bytes as text: flags, rate, optional energy, optional RR. */
START_TEST(stream_decodes_ble_heart_rate_measurements)
{
    fer_hr_stream *s = stream(30, 5);
    fer_error e;
    /* uint8 rate 0x48 = 72, no contact feature */
    ck_assert_int_eq(fer_hr_stream_line(s, "00 48", 0, &e), FER_OK);
    ck_assert_double_eq_tol(heart_at(s, 0).bpm, 72, 1e-9);
    /* uint16 rate 0x0050 = 80, other spellings of the bytes */
    ck_assert_int_eq(fer_hr_stream_line(s, "01:50:00", 0, &e), FER_OK);
    ck_assert_double_eq_tol(heart_at(s, 0).bpm, 80, 1e-9);
    ck_assert_int_eq(fer_hr_stream_line(s, "0x01 0x52 0x00", 0, &e), FER_OK);
    ck_assert_int_eq(fer_hr_stream_line(s, "01-54-00", 0, &e), FER_OK);
    ck_assert_int_eq(fer_hr_stream_line(s, "0x015600", 0, &e), FER_OK); /* packed, 0x */
    ck_assert_int_eq(fer_hr_stream_line(s, "Notification handle = 0x0010 value: 00 58", 0, &e),
                     FER_OK);
    ck_assert_double_eq_tol(heart_at(s, 0).bpm, (72 + 80 + 82 + 84 + 86 + 88) / 6.0, 1e-9);
    ck_assert_int_eq(stats(s).n_readings, 6);
    /* contact supported and detected (0x06) counts; supported, not detected (0x04) is dropped */
    ck_assert_int_eq(fer_hr_stream_line(s, "06 5a", 0, &e), FER_OK);
    ck_assert_int_eq(stats(s).n_readings, 7);
    ck_assert_int_eq(fer_hr_stream_line(s, "04 5a", 0, &e), FER_OK);
    ck_assert_int_eq(stats(s).n_readings, 7);
    ck_assert_int_eq(stats(s).n_no_contact, 1);
    /* energy expended (0x08): uint16 kJ after the rate */
    ck_assert_int_eq(stats(s).energy_kj, -1);
    ck_assert_int_eq(fer_hr_stream_line(s, "08 5a 2c 01", 0, &e), FER_OK);
    ck_assert_int_eq(stats(s).energy_kj, 300);
    ck_assert_int_eq(stats(s).n_readings, 8);
    ck_assert_int_eq(stats(s).n_bad, 0);
    fer_hr_stream_free(s);

    /* RR (0x10) in 1/1024 s: 0x0334 = 820 -> 800.8 ms; with uint16 rate, energy and
     * contact: 0x1f = all flags. RR readings replace the rate's. */
    s = stream(30, 5);
    ck_assert_int_eq(fer_hr_stream_line(s, "10 4b 34 03 34 03", 0, &e), FER_OK);
    ck_assert_int_eq(stats(s).n_readings, 2);
    ck_assert_int_eq(fer_hr_stream_line(s, "1f 4b 00 10 00 34 03", 1, &e), FER_OK);
    ck_assert_int_eq(stats(s).energy_kj, 16);
    ck_assert_int_eq(fer_hr_stream_line(s, "164b3403", 2, &e), FER_OK); /* packed, a letter */
    fer_heart h = heart_at(s, 2);
    ck_assert_int_eq(h.n_samples, 4);
    ck_assert_double_eq_tol(h.bpm, 60000.0 / (820 * 1000.0 / 1024), 1e-6);
    ck_assert(!isnan(h.rmssd_ms));
    fer_hr_stream_free(s);
}
END_TEST

START_TEST(stream_skips_and_counts_garbage)
{
    fer_hr_stream *s = stream(30, 5);
    fer_error e;
    const char *bad[] = {"hello", "72 bpm", "0", "-5", "300x", "1e999", "nan", "inf",
                         "7000",       /* RR ms, too long */
                         "12,abc",     /* seconds,bpm with a word */
                         "1,2,3",      /* three fields, not hex either */
                         "10",         /* a single byte is not a measurement: bpm 10 is fine */
                         "01 48",      /* uint16 flag, one rate byte */
                         "08 48 01",   /* energy flag, one energy byte */
                         "10 48",      /* RR flag, no RR */
                         "10 48 34",   /* RR flag, odd RR bytes */
                         "00 48 00",   /* a byte too many */
                         "00 00",      /* rate 0 */
                         "10 48 10 00",/* RR 15.6 ms */
                         "0x48",       /* one byte */
                         "value: zz",  /* gatttool, not hex */
                         "zz 48"};
    size_t n_bad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fer_status st = fer_hr_stream_line(s, bad[i], 0, &e);
        if (!strcmp(bad[i], "10")) {
            ck_assert_int_eq(st, FER_OK); /* a number alone is bpm */
            continue;
        }
        ck_assert_msg(st == FER_EFORMAT || st == FER_ERANGE, "'%s' accepted", bad[i]);
        ck_assert_msg(*e.msg && !strchr(e.msg, '\n'), "'%s': message '%s'", bad[i], e.msg);
        n_bad++;
    }
    ck_assert_int_eq(stats(s).n_bad, n_bad);
    ck_assert_int_eq(stats(s).n_readings, 1);

    /* Bytes fed in pieces: lines split anywhere, a NUL, an overlong line, a partial last line. */
    fer_hr_stream *f = stream(30, 5);
    static const char chunk1[] = "70\n7", chunk2[] = "2\nab\0c\n";
    ck_assert_int_eq(fer_hr_stream_feed(f, chunk1, sizeof chunk1 - 1, 0, &e), FER_OK);
    ck_assert_int_eq(stats(f).n_readings, 1);
    ck_assert_int_eq(fer_hr_stream_feed(f, chunk2, sizeof chunk2 - 1, 0, &e), FER_OK);
    ck_assert_int_eq(e.code, FER_OK);
    ck_assert_str_eq(e.msg, ""); /* no message with FER_OK: the stats keep it */
    ck_assert_ptr_nonnull(strstr(stats(f).first_bad, "NUL"));
    ck_assert_int_eq(stats(f).n_readings, 2);
    ck_assert_int_eq(stats(f).n_bad, 1);
    char big[3000];
    memset(big, '7', sizeof big);
    big[sizeof big - 1] = '\n';
    ck_assert_int_eq(fer_hr_stream_feed(f, big, sizeof big, 0, &e), FER_OK);
    ck_assert_int_eq(stats(f).n_bad, 2);
    ck_assert_int_eq(fer_hr_stream_feed(f, "74", 2, 0, &e), FER_OK);
    ck_assert_int_eq(stats(f).n_readings, 2);
    ck_assert_int_eq(fer_hr_stream_end(f, 0, &e), FER_OK);
    ck_assert_int_eq(stats(f).n_readings, 3);
    ck_assert_double_eq_tol(heart_at(f, 0).bpm, (70 + 72 + 74) / 3.0, 1e-9);
    ck_assert_int_eq(fer_hr_stream_line(f, NULL, 0, &e), FER_EINVAL);
    fer_hr_stream_free(f);
    fer_hr_stream_free(s);

    fer_hr_stream_opts o;
    fer_hr_stream_opts_default(&o);
    o.timeout = 0;
    ck_assert_int_eq(fer_hr_stream_new(&o, &s, &e), FER_ERANGE);
    ck_assert_ptr_null(s);
}
END_TEST

/* The window cleans as a series does (a Hampel outlier goes), forgets old
 * readings, follows a rising rate, and times out when the sensor stops. */
START_TEST(stream_window_cleaning_rise_and_timeout)
{
    fer_hr_stream *s = stream(10, 3);
    fer_error e;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(fer_hr_stream_line(s, i == 5 ? "180" : "70", i, &e), FER_OK);
    fer_heart h = heart_at(s, 9);
    ck_assert_int_eq(h.n_removed, 1);
    ck_assert_double_eq_tol(h.bpm, 70, 1e-9);
    double calm = h.arousal;
    for (int i = 10; i < 25; i++) { /* the rate rises to 130 */
        char line[16];
        snprintf(line, sizeof line, "%d", 70 + 4 * (i - 9));
        ck_assert_int_eq(fer_hr_stream_line(s, line, i, &e), FER_OK);
    }
    h = heart_at(s, 24); /* the window holds the last 10 s only: 94..130 */
    ck_assert_int_eq(h.n_samples + h.n_removed, 11);
    ck_assert(h.bpm > 105);
    ck_assert(h.arousal > calm + 0.2);
    heart_at(s, 27); /* 3 s after the last reading: still there */
    int has = -1;
    ck_assert_int_eq(fer_hr_stream_heart(s, 27.01, &h, &has, &e), FER_OK);
    ck_assert_int_eq(has, 0); /* the sensor stopped */
    fer_hr_stream_free(s);
}
END_TEST

/* ------------------------------------------------------------ live loop */

/* Face k of the FER2013 sample as a 48x48 grey image. */
static int sample_face(int k, uint8_t *px)
{
    FILE *f = fopen(SAMPLE, "r");
    if (!f)
        return 0;
    char line[16384];
    int row = -1, ok = 0;
    while (fgets(line, sizeof line, f))
        if (row++ == k) {
            char *p = strchr(line, ',');
            for (int i = 0; p && i < 48 * 48; i++)
                px[i] = (uint8_t)strtol(p + 1, &p, 10);
            ok = p != NULL;
            break;
        }
    fclose(f);
    return ok;
}

static fer_analyzer *whole_image_analyzer(void)
{
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    o.emotion_model = EMOTION;
    o.no_detect = 1;
    o.threads = 1;
    fer_analyzer *a;
    fer_error e;
    ck_assert_msg(fer_analyzer_new(&o, &a, &e) == FER_OK, "%s", e.msg);
    return a;
}

/* Two sample faces the model reads as different emotions. */
static void two_faces(fer_analyzer *a, uint8_t *fa, uint8_t *fb, int *ea, int *eb)
{
    fer_image img = {48, 48, NULL};
    int first = -1;
    for (int k = 0; k < 21; k++) {
        uint8_t px[48 * 48];
        ck_assert(sample_face(k, px));
        img.px = px;
        fer_faces f;
        fer_error e;
        ck_assert_int_eq(fer_analyze(a, &img, NULL, &f, &e), FER_OK);
        int em = f.face[0].emotion;
        float conf = f.face[0].probs[em];
        fer_faces_free(&f);
        if (conf < 0.6)
            continue;
        if (first < 0) {
            memcpy(fa, px, sizeof px);
            *ea = first = em;
        } else if (em != first) {
            memcpy(fb, px, sizeof px);
            *eb = em;
            return;
        }
    }
    ck_abort_msg("no two confident faces of different emotions in " SAMPLE);
}

/* What four loop tests share: the analyzer, two faces of different emotions
 * and default options; 0 (and a line) when the files are missing. */
typedef struct fixture {
    fer_analyzer *a;
    uint8_t fa[48 * 48], fb[48 * 48];
    int ea, eb;
    fer_live_opts o;
} fixture;

static int fixture_open(fixture *x, const char *test)
{
    if (!exists(EMOTION) || !exists(SAMPLE)) {
        printf("%s: shipped model or sample faces missing, skipped\n", test);
        return 0;
    }
    x->a = whole_image_analyzer();
    two_faces(x->a, x->fa, x->fb, &x->ea, &x->eb);
    fer_live_opts_default(&x->o);
    return 1;
}

typedef struct run_result {
    double switch_t;      /* when the state in force became face B's emotion */
    int changes;          /* state changes after the first state */
    float probs_at[3][FER_N_EMOTIONS]; /* smoothed at t = 2.5, 3, 4 */
} run_result;

/* Face A for 2 s, then face B until 5 s, at fps frames a second. */
static run_result run_step(const fixture *x, double fps)
{
    fer_live *l;
    fer_error e;
    ck_assert_int_eq(fer_live_new(x->a, &x->o, &l, &e), FER_OK);
    run_result r = {.switch_t = -1};
    int n = (int)lround(5 * fps), first = 1;
    for (int i = 0; i <= n; i++) {
        double t = i / fps;
        fer_live_update u;
        const uint8_t *px = t < 2 - 1e-9 ? x->fa : x->fb;
        ck_assert_int_eq(fer_live_frame(l, px, 48, 48, 1, 0, FER_PIXEL_RGB, t, &u, &e), FER_OK);
        ck_assert_int_eq(u.face, 0);
        ck_assert(u.has_state);
        if (u.changed && !first)
            r.changes++;
        first = 0;
        if (r.switch_t < 0 && u.state.emotion == x->eb)
            r.switch_t = t;
        const double at[3] = {2.5, 3, 4};
        for (int k = 0; k < 3; k++)
            if (fabs(t - at[k]) < 1e-9)
                memcpy(r.probs_at[k], u.probs, sizeof u.probs);
    }
    fer_live_free(l);
    return r;
}

START_TEST(smoothing_behaves_alike_at_two_frame_rates)
{
    fixture x;
    if (!fixture_open(&x, "smoothing"))
        return;
    run_result r10 = run_step(&x, 10), r30 = run_step(&x, 30);
    for (int k = 0; k < 3; k++)
        ck_assert_float_le(tu_max_abs_diff(r10.probs_at[k], r30.probs_at[k], FER_N_EMOTIONS), 1e-4);
    /* The change is reported within a bounded delay, alike at both rates, once. */
    ck_assert(r10.switch_t > 2 && r30.switch_t > 2);
    ck_assert_double_le(r10.switch_t - 2, x.o.smooth * 3 + x.o.hold + 0.1);
    ck_assert_double_le(fabs(r10.switch_t - r30.switch_t), 2 / 10.0 + 1e-9);
    ck_assert_int_eq(r10.changes, 1);
    ck_assert_int_eq(r30.changes, 1);
    /* The smoothed probabilities are the documented exponential: face A until
     * a frame of face B at 0.5 s, then p(t) = pB + (pA - pB) exp(-(t - 0.5) / smooth). */
    fer_live *l;
    fer_error e;
    ck_assert_int_eq(fer_live_new(x.a, &x.o, &l, &e), FER_OK);
    fer_live_update u;
    ck_assert_int_eq(fer_live_frame(l, x.fa, 48, 48, 1, 0, FER_PIXEL_RGB, 0, &u, &e), FER_OK);
    float pa[FER_N_EMOTIONS];
    memcpy(pa, u.probs, sizeof pa);
    ck_assert_int_eq(fer_live_frame(l, x.fb, 48, 48, 1, 0, FER_PIXEL_RGB, 0.5, &u, &e), FER_OK);
    ck_assert_int_eq(fer_live_frame(l, x.fb, 48, 48, 1, 0, FER_PIXEL_RGB, 1.0, &u, &e), FER_OK);
    fer_faces f;
    fer_image img = {48, 48, x.fb};
    ck_assert_int_eq(fer_analyze(x.a, &img, NULL, &f, &e), FER_OK);
    double k = exp(-0.5 / x.o.smooth);
    for (int c = 0; c < FER_N_EMOTIONS; c++)
        ck_assert_double_eq_tol(u.probs[c], f.face[0].probs[c] + (pa[c] - f.face[0].probs[c]) * k,
                                1e-5);
    fer_faces_free(&f);
    /* Time going back is refused. */
    ck_assert_int_eq(fer_live_frame(l, x.fb, 48, 48, 1, 0, FER_PIXEL_RGB, 0.9, &u, &e), FER_EINVAL);
    fer_live_free(l);
    fer_analyzer_free(x.a);
}
END_TEST

START_TEST(hysteresis_ignores_short_changes)
{
    fixture x;
    if (!fixture_open(&x, "hysteresis"))
        return;
    x.o.smooth = 0; /* the raw probabilities: only the hold time is at work */
    x.o.hold = 1;
    fer_live *l;
    fer_error e;
    ck_assert_int_eq(fer_live_new(x.a, &x.o, &l, &e), FER_OK);
    fer_live_update u;
    int changes = 0;
    /* A for 1 s, B for 0.9 s (shorter than hold), A for 1 s, then B for 2 s. */
    for (int i = 0; i <= 50; i++) {
        double t = i * 0.1;
        int b = (t >= 1 - 1e-9 && t < 1.9 - 1e-9) || t >= 2.9 - 1e-9;
        ck_assert_int_eq(fer_live_frame(l, b ? x.fb : x.fa, 48, 48, 1, 0, FER_PIXEL_RGB, t, &u, &e),
                         FER_OK);
        changes += u.changed;
        if (t < 3.9 - 1e-9)
            ck_assert_msg(u.state.emotion == x.ea, "t %.1f: state %s", t, u.state.label);
        else
            ck_assert_msg(u.state.emotion == x.eb, "t %.1f: state %s", t, u.state.label);
    }
    ck_assert_int_eq(changes, 2); /* the first state, then B once */
    fer_live_free(l);
    fer_analyzer_free(x.a);
}
END_TEST

START_TEST(hysteresis_clock_follows_the_emotion_not_its_words)
{
    fixture x;
    if (!fixture_open(&x, "hysteresis words"))
        return;
    x.o.smooth = 0;
    x.o.hold = 1;
    fer_live *l;
    fer_error e;
    ck_assert_int_eq(fer_live_new(x.a, &x.o, &l, &e), FER_OK);
    /* A calm heart, then from 1 s face B; at 1.3 s the heart races, so B's
     * words change (another arousal band) while its emotion stays: the state
     * turns to B at 2 s, hold after B first showed, in its latest words. */
    fer_heart calm = {.bpm = 60, .arousal = 0.05}, racing = {.bpm = 160, .arousal = 0.95};
    fer_live_update u;
    int changes = 0;
    for (int i = 0; i <= 30; i++) {
        double t = i * 0.1;
        fer_live_set_heart(l, t < 1.3 - 1e-9 ? &calm : &racing);
        const uint8_t *px = t < 1 - 1e-9 ? x.fa : x.fb;
        ck_assert_int_eq(fer_live_frame(l, px, 48, 48, 1, 0, FER_PIXEL_RGB, t, &u, &e), FER_OK);
        changes += u.changed;
        if (i == 11 || i == 13) { /* B's candidate in its two wordings */
            fer_state c;
            const fer_heart *h = i == 11 ? &calm : &racing;
            ck_assert_int_eq(fer_fuse(u.probs, h, &x.o.fusion, &c, &e), FER_OK);
            ck_assert_int_eq(c.emotion, x.eb);
            ck_assert_str_ne(c.label, u.state.label);
        }
        if (t < 2 - 1e-9)
            ck_assert_msg(u.state.emotion == x.ea, "t %.1f: state %s", t, u.state.label);
        else
            ck_assert_msg(u.state.emotion == x.eb && u.state.arousal >= 0.65, "t %.1f: state %s",
                          t, u.state.label);
    }
    ck_assert_int_eq(changes, 2);
    fer_live_free(l);
    fer_analyzer_free(x.a);
}
END_TEST

START_TEST(sensor_timeout_falls_back_to_the_face)
{
    fixture x;
    if (!fixture_open(&x, "timeout"))
        return;
    x.o.hold = 0;
    fer_live *l;
    fer_error e;
    ck_assert_int_eq(fer_live_new(x.a, &x.o, &l, &e), FER_OK);
    fer_hr_stream *s = stream(30, 2);
    fer_live_update u;
    double face_alone = -1, racing = -1, after = -1;
    for (int i = 0; i <= 60; i++) {
        double t = i * 0.1;
        if (i < 30 && i % 5 == 0) /* a racing heart for 3 s, then the sensor stops */
            ck_assert_int_eq(fer_hr_stream_line(s, "150", t, &e), FER_OK);
        fer_heart h;
        int has;
        ck_assert_int_eq(fer_hr_stream_heart(s, t, &h, &has, &e), FER_OK);
        fer_live_set_heart(l, has ? &h : NULL);
        ck_assert_int_eq(has, t <= 2.5 + 2 + 1e-9);
        ck_assert_int_eq(fer_live_frame(l, x.fa, 48, 48, 1, 0, FER_PIXEL_RGB, t, &u, &e), FER_OK);
        if (i == 20)
            racing = u.state.arousal;
        if (i == 60)
            after = u.state.arousal;
    }
    fer_state alone;
    ck_assert_int_eq(fer_fuse(u.probs, NULL, &x.o.fusion, &alone, &e), FER_OK);
    face_alone = alone.arousal;
    ck_assert_double_eq_tol(after, face_alone, 1e-9);
    ck_assert(racing > face_alone + 0.1);
    fer_hr_stream_free(s);
    fer_live_free(l);
    fer_analyzer_free(x.a);
}
END_TEST

/* face.png's 640x480 frame with its content moved by (dx, dy) (edges repeated). */
static void shifted(const fer_image *src, int dx, int dy, uint8_t *out)
{
    for (int y = 0; y < src->h; y++)
        for (int x = 0; x < src->w; x++) {
            int sx = x - dx, sy = y - dy;
            sx = sx < 0 ? 0 : sx >= src->w ? src->w - 1 : sx;
            sy = sy < 0 ? 0 : sy >= src->h ? src->h - 1 : sy;
            out[(size_t)y * src->w + x] = src->px[(size_t)sy * src->w + sx];
        }
}

START_TEST(tracking_searches_near_the_last_box)
{
    if (!exists(EMOTION) || !exists(VERIFIER) || !exists(DEMO) || !exists(FER_DEFAULT_CASCADE))
        return (void)puts("tracking: shipped models, demo photo or cascade missing, skipped");
    fer_analyzer_opts ao;
    fer_analyzer_opts_default(&ao);
    ao.emotion_model = EMOTION;
    ao.verifier_model = VERIFIER;
    ao.tilt = 0;
    ao.threads = 1;
    fer_analyzer *a;
    fer_error e;
    ck_assert_msg(fer_analyzer_new(&ao, &a, &e) == FER_OK, "%s", e.msg);
    fer_image photo;
    ck_assert_int_eq(fer_image_load(DEMO, 0, &photo, &e), FER_OK);
    fer_live_opts o;
    fer_live_opts_default(&o);
    o.detect_every = 5;
    o.search_grow = 0.25;
    fer_live *l;
    ck_assert_int_eq(fer_live_new(a, &o, &l, &e), FER_OK);
    uint8_t *px = malloc((size_t)photo.w * photo.h);
    fer_live_update u;
    int tracked = 0;
    for (int i = 0; i < 10; i++) { /* the face drifts right, 6 px a frame */
        shifted(&photo, 6 * i, 2 * i, px);
        ck_assert_int_eq(fer_live_frame(l, px, photo.w, photo.h, 1, 0, FER_PIXEL_RGB, i / 10.0,
                                        &u, &e), FER_OK);
        ck_assert_msg(u.face >= 0, "frame %d: no face", i);
        ck_assert_int_eq(u.tracked, i % 5 != 0); /* full detection every 5 frames */
        tracked += u.tracked;
        fer_box b = u.faces.face[u.face].box; /* the face is at 180,120 200x200 in the photo */
        ck_assert_msg(abs(b.x + b.w / 2 - (280 + 6 * i)) < 25 && abs(b.y + b.h / 2 - (220 + 2 * i)) < 25,
                      "frame %d: box %d,%d %dx%d", i, b.x, b.y, b.w, b.h);
    }
    ck_assert_int_eq(tracked, 8);
    size_t frames, full;
    fer_live_counts(l, &frames, &full);
    ck_assert_int_eq(frames, 10);
    ck_assert_int_eq(full, 2);
    /* The face jumps far from its box: lost near it, found by a full detection at once. */
    shifted(&photo, 260, -100, px);
    ck_assert_int_eq(fer_live_frame(l, px, photo.w, photo.h, 1, 0, FER_PIXEL_RGB, 1.0, &u, &e),
                     FER_OK);
    ck_assert_int_eq(u.tracked, 0);
    ck_assert_int_ge(u.face, 0);
    fer_box b = u.faces.face[u.face].box;
    ck_assert_msg(abs(b.x + b.w / 2 - 540) < 30 && abs(b.y + b.h / 2 - 120) < 30, "box %d,%d",
                  b.x, b.y);
    fer_live_counts(l, &frames, &full);
    ck_assert_int_eq(full, 3);
    /* No face at all: no face, the state stays. */
    memset(px, 128, (size_t)photo.w * photo.h);
    ck_assert_int_eq(fer_live_frame(l, px, photo.w, photo.h, 1, 0, FER_PIXEL_RGB, 1.1, &u, &e),
                     FER_OK);
    ck_assert_int_eq(u.face, -1);
    ck_assert_int_eq(u.faces.n, 0);
    ck_assert(u.has_state);
    free(px);
    fer_image_free(&photo);
    fer_live_free(l);
    fer_analyzer_free(a);
}
END_TEST

START_TEST(live_options_and_arguments_are_checked)
{
    fer_live *l = (fer_live *)1;
    fer_error e;
    ck_assert_int_eq(fer_live_new(NULL, NULL, &l, &e), FER_EINVAL);
    if (!exists(EMOTION))
        return;
    fer_analyzer *a = whole_image_analyzer();
    fer_live_opts o;
    fer_live_opts_default(&o);
    o.detect_every = 0;
    ck_assert_int_eq(fer_live_new(a, &o, &l, &e), FER_ERANGE);
    ck_assert_ptr_null(l);
    fer_live_opts_default(&o);
    o.smooth = -1;
    ck_assert_int_eq(fer_live_new(a, &o, &l, &e), FER_ERANGE);
    ck_assert_int_eq(fer_live_new(a, NULL, &l, &e), FER_OK);
    fer_live_update u;
    uint8_t px[16] = {0};
    ck_assert_int_eq(fer_live_frame(l, px, 4, 4, 5, 0, FER_PIXEL_RGB, 0, &u, &e), FER_EINVAL);
    ck_assert_int_eq(fer_live_frame(l, px, 4, 4, 1, 0, FER_PIXEL_RGB, NAN, &u, &e), FER_EINVAL);
    fer_live_free(l);
    fer_live_free(NULL);
    fer_analyzer_free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("live");
    TCase *t = tcase_create("stream");
    tcase_add_test(t, stream_reads_bpm_seconds_and_rr_lines);
    tcase_add_test(t, stream_decodes_ble_heart_rate_measurements);
    tcase_add_test(t, stream_skips_and_counts_garbage);
    tcase_add_test(t, stream_window_cleaning_rise_and_timeout);
    suite_add_tcase(s, t);
    t = tcase_create("loop");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, smoothing_behaves_alike_at_two_frame_rates);
    tcase_add_test(t, hysteresis_ignores_short_changes);
    tcase_add_test(t, hysteresis_clock_follows_the_emotion_not_its_words);
    tcase_add_test(t, sensor_timeout_falls_back_to_the_face);
    tcase_add_test(t, tracking_searches_near_the_last_box);
    tcase_add_test(t, live_options_and_arguments_are_checked);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
