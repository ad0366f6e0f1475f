/* Heart rate: validation, resting ranges, arousal curve, series cleaning and
 * summaries (hand-computed answers), and the file reader on good and bad
 * files. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "testutil.h"

#define ADULT NULL

static fer_heart one(double bpm, const fer_hr_opts *o)
{
    fer_heart h;
    fer_error e = {0};
    ck_assert_msg(fer_heart_from_bpm(bpm, o, &h, &e) == FER_OK, "%g: %s", bpm, e.msg);
    return h;
}

START_TEST(impossible_single_values_are_range_errors)
{
    const double bad[] = {0, -5, -0.0, 250.001, 1000, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fer_heart h;
        fer_error e = {0};
        ck_assert_int_eq(fer_heart_from_bpm(bad[i], ADULT, &h, &e), FER_ERANGE);
        ck_assert_ptr_nonnull(strstr(e.msg, "impossible"));
    }
    ck_assert_double_eq(one(250, ADULT).bpm, 250);
    ck_assert_double_eq(one(0.5, ADULT).bpm, 0.5);
    ck_assert_int_eq(fer_heart_from_bpm(70, ADULT, NULL, NULL), FER_EINVAL);
}
END_TEST

START_TEST(adult_levels_have_inclusive_bounds)
{
    ck_assert_int_eq(one(59.9, ADULT).level, FER_HR_LOW);
    ck_assert_int_eq(one(60, ADULT).level, FER_HR_MODERATE);
    ck_assert_int_eq(one(100, ADULT).level, FER_HR_MODERATE);
    ck_assert_int_eq(one(100.1, ADULT).level, FER_HR_HIGH);
    fer_heart h = one(72, ADULT);
    ck_assert_double_eq(h.rest_lo, 60);
    ck_assert_double_eq(h.rest_hi, 100);
    ck_assert(isnan(h.rmssd_ms) && isnan(h.sdnn_ms));
    ck_assert_int_eq(h.n_samples, 1);
    ck_assert_double_eq(h.trend, 0);
    ck_assert_str_eq(fer_hr_level_name(FER_HR_LOW), "low");
    ck_assert_str_eq(fer_hr_level_name(FER_HR_MODERATE), "moderate");
    ck_assert_str_eq(fer_hr_level_name(FER_HR_HIGH), "high");
}
END_TEST

START_TEST(age_and_resting_rate_choose_the_range)
{
    struct { int age; double lo, hi; } cases[] = {
        {1, 80, 130}, {2, 80, 130}, {3, 80, 120}, {4, 80, 120}, {5, 75, 115},
        {6, 70, 100}, {17, 70, 100}, {18, 60, 100}, {90, 60, 100}, {0, 60, 100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fer_hr_opts o = {.age = cases[i].age};
        fer_heart h = one(90, &o);
        ck_assert_msg(h.rest_lo == cases[i].lo && h.rest_hi == cases[i].hi, "age %d: %g-%g",
                      cases[i].age, h.rest_lo, h.rest_hi);
    }
    fer_hr_opts child = {.age = 10};
    ck_assert_int_eq(one(69, &child).level, FER_HR_LOW);
    ck_assert_int_eq(one(65, ADULT).level, FER_HR_MODERATE);
    fer_hr_opts rest = {.age = 10, .resting_bpm = 50};
    fer_heart h = one(85, &rest);
    ck_assert_double_eq(h.rest_lo, 40);
    ck_assert_double_eq(h.rest_hi, 80);
    ck_assert_int_eq(h.level, FER_HR_HIGH);
    ck_assert_int_eq(one(39, &rest).level, FER_HR_LOW);
    /* resting 70 reproduces the adult range */
    fer_hr_opts r70 = {.resting_bpm = 70};
    ck_assert_double_eq(one(90, &r70).arousal, one(90, ADULT).arousal);
    const fer_hr_opts bad[] = {{.age = -1}, {.age = 121}, {.resting_bpm = 10},
                               {.resting_bpm = 201}, {.resting_bpm = NAN}, {.resting_bpm = -60}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fer_error e = {0};
        ck_assert_int_eq(fer_heart_from_bpm(80, &bad[i], &h, &e), FER_ERANGE);
        ck_assert(strlen(e.msg) > 0);
    }
}
END_TEST

START_TEST(arousal_is_logistic_around_the_range)
{
    /* 0.5 in the middle, 0.8 at the upper bound, 0.2 at the lower one. */
    ck_assert_double_eq_tol(one(80, ADULT).arousal, 0.5, 1e-12);
    ck_assert_double_eq_tol(one(100, ADULT).arousal, 0.8, 1e-12);
    ck_assert_double_eq_tol(one(60, ADULT).arousal, 0.2, 1e-12);
    fer_hr_opts child = {.age = 3};
    ck_assert_double_eq_tol(one(100, &child).arousal, 0.5, 1e-12);
    ck_assert_double_eq_tol(one(120, &child).arousal, 0.8, 1e-12);
}
END_TEST

START_TEST(arousal_rises_with_bpm)
{
    const fer_hr_opts opts[] = {{0, 0}, {.age = 2}, {.age = 12}, {.resting_bpm = 55}};
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        double prev = -1;
        for (double bpm = 20; bpm <= 250; bpm += 0.5) {
            double a = one(bpm, &opts[k]).arousal;
            ck_assert_msg(a > prev && a >= 0 && a <= 1, "bpm %g: %g after %g", bpm, a, prev);
            prev = a;
        }
    }
}
END_TEST

START_TEST(series_drops_range_and_hampel_outliers)
{
    /* 0 is outside 30..220; 180 is 108 from its window's median 72 whose
     * MAD is 1, so beyond 3 * 1.4826. Kept: 70 72 71 73 72 70 71 72 at
     * t = 0 1 2 3 5 6 7 9; mean 571/8; by hand sum (t-tm)(y-ym) = 2.625 and
     * sum (t-tm)^2 = 68.875, so the slope is 60 * 2.625 / 68.875 bpm/min. */
    const double t[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const double v[] = {70, 72, 71, 73, 180, 72, 70, 71, 0, 72};
    fer_heart h;
    fer_error e = {0};
    ck_assert_int_eq(fer_heart_from_series(t, v, 10, 0, NULL, &h, &e), FER_OK);
    ck_assert_int_eq(h.n_samples, 8);
    ck_assert_int_eq(h.n_removed, 2);
    ck_assert_double_eq_tol(h.bpm, 571.0 / 8, 1e-12);
    ck_assert_double_eq_tol(h.trend, 60 * 2.625 / 68.875, 1e-9);
    ck_assert(isnan(h.rmssd_ms));
    ck_assert_int_eq(h.level, FER_HR_MODERATE);
}
END_TEST

START_TEST(series_trend_is_bpm_per_minute)
{
    /* +2 bpm every 10 s: 12 bpm/min, nothing removed (small steady steps). */
    double t[7], v[7];
    for (int i = 0; i < 7; i++) {
        t[i] = 10.0 * i;
        v[i] = 60 + 2 * i;
    }
    fer_heart h;
    ck_assert_int_eq(fer_heart_from_series(t, v, 7, 0, NULL, &h, NULL), FER_OK);
    ck_assert_double_eq_tol(h.trend, 12, 1e-9);
    ck_assert_double_eq_tol(h.bpm, 66, 1e-12);
    ck_assert_int_eq(h.n_removed, 0);
}
END_TEST

START_TEST(rr_intervals_give_rmssd_and_sdnn)
{
    /* Successive differences 10 -20 15 -10: RMSSD sqrt(825/4); deviations
     * from the mean 800 are 0 10 -10 5 -5: SDNN sqrt(250/4). */
    const double rr[] = {800, 810, 790, 805, 795};
    fer_heart h;
    fer_error e = {0};
    ck_assert_int_eq(fer_heart_from_series(NULL, rr, 5, 1, NULL, &h, &e), FER_OK);
    ck_assert_double_eq_tol(h.rmssd_ms, sqrt(825.0 / 4), 1e-9);
    ck_assert_double_eq_tol(h.sdnn_ms, sqrt(250.0 / 4), 1e-9);
    double mean = (60000 / 800.0 + 60000 / 810.0 + 60000 / 790.0 + 60000 / 805.0 +
                   60000 / 795.0) / 5;
    ck_assert_double_eq_tol(h.bpm, mean, 1e-9);
    ck_assert_int_eq(h.n_samples, 5);
}
END_TEST

START_TEST(rr_ectopic_beats_are_removed_and_break_the_chain)
{
    /* 400 and 1200 are 400 ms from the median 800 (MAD 5, floor 40 ms).
     * Kept 800 810 _ _ 805 795 800: successive pairs (800,810) (805,795)
     * (795,800) give RMSSD sqrt(225/3); SDNN of the five kept around their
     * mean 802 is sqrt(130/4). 2500 is outside 300..2000 ms. */
    const double rr[] = {800, 810, 400, 1200, 805, 795, 800, 2500};
    fer_heart h;
    ck_assert_int_eq(fer_heart_from_series(NULL, rr, 8, 1, NULL, &h, NULL), FER_OK);
    ck_assert_int_eq(h.n_removed, 3);
    ck_assert_int_eq(h.n_samples, 5);
    ck_assert_double_eq_tol(h.rmssd_ms, sqrt(225.0 / 3), 1e-9);
    ck_assert_double_eq_tol(h.sdnn_ms, sqrt(130.0 / 4), 1e-9);
}
END_TEST

START_TEST(bad_series_are_clear_errors)
{
    fer_heart h;
    fer_error e = {0};
    const double t[] = {0, 1, 2, 3}, flat[] = {70, 0, 500, NAN};
    ck_assert_int_eq(fer_heart_from_series(t, flat, 4, 0, NULL, &h, &e), FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "too few"));
    ck_assert_int_eq(fer_heart_from_series(t, flat, 0, 0, NULL, &h, &e), FER_EINVAL);
    ck_assert_int_eq(fer_heart_from_series(NULL, flat, 4, 0, NULL, &h, &e), FER_EINVAL);
    const double back[] = {0, 2, 1, 3}, ok[] = {70, 71, 72, 73};
    ck_assert_int_eq(fer_heart_from_series(back, ok, 4, 0, NULL, &h, &e), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "sample 3"));
    const double tnan[] = {0, NAN, 2, 3};
    ck_assert_int_eq(fer_heart_from_series(tnan, ok, 4, 0, NULL, &h, &e), FER_EINVAL);
    const double rr_bpm[] = {70, 72, 71, 75};
    ck_assert_int_eq(fer_heart_from_series(NULL, rr_bpm, 4, 1, NULL, &h, &e), FER_ERANGE);
}
END_TEST

/* ------------------------------------------------------------------ files */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_heart.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static fer_status from_text(const char *text, fer_heart *h, fer_error *e)
{
    const char *p = write_file("hr.csv", text, strlen(text));
    return fer_heart_from_file(p, NULL, h, e);
}

START_TEST(good_files_parse)
{
    const char *bpm_files[] = {
        "seconds,bpm\n0,70\n1,72\n2,74\n",
        "0,70\n1,72\n2,74",
        "\xEF\xBB\xBFtime;hr\r\n0;70\r\n1;72\r\n\r\n2;74\r\n",
        "# from a chest strap\n  seconds , bpm \n0\t70\n1\t72\n# pause\n2\t74\n",
        "\"seconds\";\"bpm\"\n\"0\" ; 70\n 1,\"72\"\n2 \t 74\n", /* quoted fields */
    };
    for (size_t i = 0; i < sizeof bpm_files / sizeof bpm_files[0]; i++) {
        fer_heart h;
        fer_error e = {0};
        ck_assert_msg(from_text(bpm_files[i], &h, &e) == FER_OK, "file %zu: %s", i, e.msg);
        ck_assert_double_eq_tol(h.bpm, 72, 1e-12);
        ck_assert_double_eq_tol(h.trend, 120, 1e-9);
        ck_assert(isnan(h.rmssd_ms));
    }
    const char *rr_files[] = {"rr_ms\n800\n810\n790\n805\n795\n", "800\r\n810\r\n790\r\n805\r\n795",
                              "IBI\n800\n810\n790\n805\n795\n"};
    for (size_t i = 0; i < sizeof rr_files / sizeof rr_files[0]; i++) {
        fer_heart h;
        fer_error e = {0};
        ck_assert_msg(from_text(rr_files[i], &h, &e) == FER_OK, "rr file %zu: %s", i, e.msg);
        ck_assert_double_eq_tol(h.rmssd_ms, sqrt(825.0 / 4), 1e-9);
    }
}
END_TEST

/* Expected code and a piece of the message (which must name the file). */
static void expect_bad(const char *text, size_t len, fer_status code, const char *piece)
{
    const char *p = write_file("bad.csv", text, len);
    fer_heart h;
    fer_error e = {0};
    ck_assert_int_eq(fer_heart_from_file(p, NULL, &h, &e), code);
    ck_assert_msg(strstr(e.msg, p) && strstr(e.msg, piece), "'%s' lacks '%s'", e.msg, piece);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
}

START_TEST(bad_files_are_clear_errors)
{
    expect_bad("", 0, FER_EFORMAT, "no heart rate samples");
    expect_bad("seconds,bpm\n", 12, FER_EFORMAT, "no heart rate samples");
    expect_bad("\n\n# nothing\n", 12, FER_EFORMAT, "no heart rate samples");
    expect_bad("0,70\n1,abc\n", 11, FER_EFORMAT, ":2: 'abc' is not");
    expect_bad("0,70\n1,nan\n", 11, FER_EFORMAT, ":2: 'nan' is not");
    /* libfer's one number grammar: no hex (strtod's "0x50" is 80) */
    expect_bad("0,70\n1,0x50\n", 12, FER_EFORMAT, ":2: '0x50' is not");
    expect_bad("0,70\n1,72,3\n", 12, FER_EFORMAT, ":2: 3 fields");
    expect_bad("0,70\n1,72,3,4\n", 14, FER_EFORMAT, ":2: more than 3 fields; expected");
    expect_bad("0,70\n1,\"72\n", 11, FER_EFORMAT, ":2: field 2: unterminated quote");
    expect_bad("0,70\n1,\"72\"x\n", 13, FER_EFORMAT, ":2: field 2: text after a closing quote");
    expect_bad("0,70\n1\n", 7, FER_EFORMAT, ":2: 1 field, but");
    expect_bad("0,70\n5,72\n3,71\n", 15, FER_EFORMAT, ":3: time 3 s is not after");
    expect_bad("70\n72\n71\n", 9, FER_EFORMAT, "RR intervals are in ms");
    expect_bad("bpm\n70\n72\n71\n", 13, FER_EFORMAT, ":1: single column 'bpm'");
    expect_bad("0,70\n1,0\n2,0\n", 13, FER_ERANGE, "too few valid");
    expect_bad("0,70\n\0\x01\x02", 8, FER_EFORMAT, "NUL byte at offset 5");
    expect_bad("\x89PNG\r\n\x1a\n", 8, FER_EFORMAT, ":2: binary data");
    char *line = malloc(5000);
    memset(line, '7', 4999);
    line[4999] = 0;
    expect_bad(line, 4999, FER_EFORMAT, ":1: line longer");
    free(line);
    /* larger than the 8 MiB limit */
    size_t big = ((size_t)8 << 20) + 10;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++)
        text[i] = i % 4 == 3 ? '\n' : '8';
    expect_bad(text, big, FER_ERANGE, "larger than");
    free(text);
    fer_heart h;
    fer_error e = {0};
    ck_assert_int_eq(fer_heart_from_file("/nonexistent/hr.csv", NULL, &h, &e), FER_EIO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/hr.csv"));
    ck_assert_int_eq(fer_heart_from_file(dir, NULL, &h, &e), FER_EIO);
}
END_TEST

/* The grammar every file format and tool option shares (fer_parse_number,
 * fer_parse_integer), against strtod on what both accept. */
START_TEST(one_number_grammar)
{
    const char *good[] = {"0", "-1.5", "+2", "2e-3", ".5", "5.", "1E+10", "0.1", "-0",
                          "123456789012345678901234567890"};
    const char *bad[] = {"", " 1", "1 ", "0x50", "inf", "nan", "-", ".", "e5", "1e", "1e+",
                         "1.2.3", "1,5", "--1", "1e400", "1e-400", "0x1p3"};
    double v;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ck_assert_msg(fer_parse_number(good[i], -HUGE_VAL, HUGE_VAL, &v), "%s", good[i]);
        ck_assert_msg(v == strtod(good[i], NULL), "%s: %.17g", good[i], v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!fer_parse_number(bad[i], -HUGE_VAL, HUGE_VAL, &v), "%s", bad[i]);
    ck_assert(!fer_parse_number("2", 0, 1, &v) && fer_parse_number("1", 0, 1, &v) && v == 1);
    long l;
    ck_assert(fer_parse_integer("-42", -100, 100, &l) && l == -42);
    ck_assert(fer_parse_integer("16", 1, 16, &l) && l == 16 && !fer_parse_integer("0", 1, 16, &l));
    ck_assert(!fer_parse_integer("-0", 1, 16, &l) && !fer_parse_integer("3", -9, -1, &l));
    ck_assert(fer_parse_integer("9223372036854775807", LONG_MIN, LONG_MAX, &l) && l == LONG_MAX);
    ck_assert(fer_parse_integer("-9223372036854775808", LONG_MIN, LONG_MAX, &l) && l == LONG_MIN);
    const char *bad_int[] = {"", "+5", " 5", "5 ", "1.0", "1e3", "0x10", "-",
                             "9223372036854775808", "19000000000000000000", "101"};
    for (size_t i = 0; i < sizeof bad_int / sizeof *bad_int; i++)
        ck_assert_msg(!fer_parse_integer(bad_int[i], i < 9 ? LONG_MIN : -100,
                                         i < 9 ? LONG_MAX : 100, &l), "%s", bad_int[i]);
}
END_TEST

/* Random CSV-ish bytes: every outcome is a result or a one-line error. */
START_TEST(garbage_never_crashes)
{
    static const char alphabet[] = "0123456789,,,...;\t\r\n\n\n-e#abrr_ms \x01\xff";
    fer_rng r;
    fer_rng_seed(&r, 42);
    char buf[512];
    for (int trial = 0; trial < 300; trial++) {
        size_t len = fer_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[fer_rng_below(&r, sizeof alphabet - 1)];
        const char *p = write_file("fuzz.csv", buf, len);
        fer_heart h;
        fer_error e = {0};
        fer_status st = fer_heart_from_file(p, NULL, &h, &e);
        if (st == FER_OK)
            ck_assert(h.bpm >= 30 && h.bpm <= 220 && h.arousal >= 0 && h.arousal <= 1);
        else
            ck_assert(strstr(e.msg, p) && !strchr(e.msg, '\n'));
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("heart");
    TCase *v = tcase_create("values");
    tcase_add_test(v, impossible_single_values_are_range_errors);
    tcase_add_test(v, adult_levels_have_inclusive_bounds);
    tcase_add_test(v, age_and_resting_rate_choose_the_range);
    tcase_add_test(v, arousal_is_logistic_around_the_range);
    tcase_add_test(v, arousal_rises_with_bpm);
    tcase_add_test(v, one_number_grammar);
    suite_add_tcase(s, v);
    TCase *ser = tcase_create("series");
    tcase_add_test(ser, series_drops_range_and_hampel_outliers);
    tcase_add_test(ser, series_trend_is_bpm_per_minute);
    tcase_add_test(ser, rr_intervals_give_rmssd_and_sdnn);
    tcase_add_test(ser, rr_ectopic_beats_are_removed_and_break_the_chain);
    tcase_add_test(ser, bad_series_are_clear_errors);
    suite_add_tcase(s, ser);
    TCase *f = tcase_create("files");
    tcase_add_checked_fixture(f, make_dir, remove_dir);
    tcase_add_test(f, good_files_parse);
    tcase_add_test(f, bad_files_are_clear_errors);
    tcase_add_test(f, garbage_never_crashes);
    suite_add_tcase(s, f);
    return s;
}

int main(void) { return tu_run(suite()); }
