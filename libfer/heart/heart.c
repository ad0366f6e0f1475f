/* Heart rate -> resting range, level and a continuous arousal in [0,1].
 * A single reading is validated; a series is cleaned (physiological range,
 * then a Hampel filter), summarised (mean, least-squares trend, and RMSSD /
 * SDNN for RR intervals) and then scored like a single reading.
 * docs/heart-and-fusion.md gives the sources of the ranges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heart/heart.h"

/* Readings outside (0, MAX] cannot come from a human heart. */
#define HR_MAX_BPM 250.0
/* Series samples outside these are sensor artefacts and are dropped. */
#define HR_SERIES_MIN_BPM 30.0
#define HR_SERIES_MAX_BPM 220.0
#define HR_RR_MIN_MS 300.0
#define HR_RR_MAX_MS 2000.0
/* Hampel filter: a sample further than HAMPEL_T scaled MADs (or, when the
 * window is nearly constant, HAMPEL_FLOOR of the local median) from the
 * median of its +-HAMPEL_K neighbours is an outlier. */
#define HAMPEL_K 5
#define HAMPEL_T 3.0
#define HAMPEL_FLOOR 0.05
#define MAD_TO_SIGMA 1.4826
#define HR_MIN_SAMPLES 3
/* Arousal at the upper bound of the resting range (and 1 - this at the lower). */
#define AROUSAL_AT_BOUND 0.8
/* A personal resting rate r gives the range r-10 .. r+30: the adult range
 * 60-100 shifted so that r = 70, a typical adult resting rate, reproduces it. */
#define RESTING_BELOW 10.0
#define RESTING_ABOVE 30.0

const char *fer_hr_level_name(fer_hr_level l)
{
    switch (l) {
    case FER_HR_LOW: return "low";
    case FER_HR_MODERATE: return "moderate";
    case FER_HR_HIGH: return "high";
    }
    return "unknown";
}

/* Resting range for an age in whole years (MedlinePlus / AHA, see docs). */
static fer_status age_range(int age, double *lo, double *hi, fer_error *err)
{
    static const struct { int max_age; double lo, hi; } table[] = {
        {2, 80, 130}, {4, 80, 120}, {5, 75, 115}, {17, 70, 100}, {120, 60, 100},
    };
    if (age < 0 || age > 120)
        return fer_fail(err, FER_ERANGE, "age %d: must be 1..120 years (0 for adult)", age);
    if (age == 0)
        age = 18;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (age <= table[i].max_age) {
            *lo = table[i].lo;
            *hi = table[i].hi;
            break;
        }
    }
    return FER_OK;
}

static fer_status resting_range(const fer_hr_opts *o, double *lo, double *hi, fer_error *err)
{
    fer_hr_opts def = {0, 0};
    if (!o)
        o = &def;
    if (o->resting_bpm != 0) {
        if (!(o->resting_bpm >= 30 && o->resting_bpm <= 200))
            return fer_fail(err, FER_ERANGE, "resting_bpm %g: must be 30..200", o->resting_bpm);
        *lo = o->resting_bpm - RESTING_BELOW;
        *hi = o->resting_bpm + RESTING_ABOVE;
        return FER_OK;
    }
    return age_range(o->age, lo, hi, err);
}

/* Logistic in bpm: 0.5 at the middle of the range, AROUSAL_AT_BOUND at its
 * upper bound, smooth and strictly increasing everywhere. */
static double arousal_of(double bpm, double lo, double hi)
{
    double mid = 0.5 * (lo + hi), half = 0.5 * (hi - lo);
    double scale = half / log(AROUSAL_AT_BOUND / (1 - AROUSAL_AT_BOUND));
    return 1.0 / (1.0 + exp(-(bpm - mid) / scale));
}

/* Fills level, range and arousal of a heart whose bpm is already set. */
static fer_status score(fer_heart *h, const fer_hr_opts *o, fer_error *err)
{
    fer_status s = resting_range(o, &h->rest_lo, &h->rest_hi, err);
    if (s)
        return s;
    h->level = h->bpm < h->rest_lo ? FER_HR_LOW
               : h->bpm > h->rest_hi ? FER_HR_HIGH : FER_HR_MODERATE;
    h->arousal = arousal_of(h->bpm, h->rest_lo, h->rest_hi);
    return FER_OK;
}

fer_status fer_heart_from_bpm(double bpm, const fer_hr_opts *o, fer_heart *out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_heart_from_bpm: out is NULL");
    if (!isfinite(bpm) || bpm <= 0 || bpm > HR_MAX_BPM)
        return fer_fail(err, FER_ERANGE, "heart rate %g bpm is impossible (must be in (0, %g])",
                        bpm, HR_MAX_BPM);
    fer_heart h = {.bpm = bpm, .trend = 0, .rmssd_ms = NAN, .sdnn_ms = NAN, .n_samples = 1};
    fer_status s = score(&h, o, err);
    if (s)
        return s;
    *out = h;
    return FER_OK;
}

/* ---------------------------------------------------------------- cleaning */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double fer_median_sort(double *buf, size_t n)
{
    qsort(buf, n, sizeof *buf, cmp_double);
    return n % 2 ? buf[n / 2] : 0.5 * (buf[n / 2 - 1] + buf[n / 2]);
}

/* Marks keep[i] = 0 for Hampel outliers among the samples still kept,
 * judged against the original values of their kept neighbours. */
static void hampel(const double *v, const size_t *idx, size_t m, unsigned char *keep,
                   unsigned char *out)
{
    double win[2 * HAMPEL_K + 1], dev[2 * HAMPEL_K + 1];
    for (size_t j = 0; j < m; j++) {
        size_t a = j >= HAMPEL_K ? j - HAMPEL_K : 0, b = j + HAMPEL_K < m ? j + HAMPEL_K : m - 1;
        size_t w = b - a + 1;
        for (size_t k = 0; k < w; k++)
            win[k] = v[idx[a + k]];
        double med = fer_median_sort(win, w);
        for (size_t k = 0; k < w; k++)
            dev[k] = fabs(v[idx[a + k]] - med);
        double mad = fer_median_sort(dev, w);
        double limit = fmax(HAMPEL_T * MAD_TO_SIGMA * mad, HAMPEL_FLOOR * fabs(med));
        out[j] = fabs(v[idx[j]] - med) <= limit;
    }
    for (size_t j = 0; j < m; j++)
        keep[idx[j]] = out[j];
}

/* Drops non-finite and out-of-range samples, then Hampel outliers. */
static fer_status clean(const double *v, size_t n, double lo, double hi, unsigned char *keep,
                        size_t *n_kept, fer_error *err)
{
    size_t *idx = malloc(n * sizeof *idx);
    unsigned char *out = malloc(n);
    if (!idx || !out) {
        free(idx);
        free(out);
        return fer_fail(err, FER_ENOMEM, "heart rate series: out of memory (%zu samples)", n);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = isfinite(v[i]) && v[i] >= lo && v[i] <= hi;
        if (keep[i])
            idx[m++] = i;
    }
    hampel(v, idx, m, keep, out);
    free(idx);
    free(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += keep[i];
    *n_kept = k;
    return FER_OK;
}

/* --------------------------------------------------------------- summaries */

/* Least-squares slope of y on x over kept samples, per unit of x. */
static double slope(const double *x, const double *y, const unsigned char *keep, size_t n)
{
    double sx = 0, sy = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            sx += x[i];
            sy += y[i];
            k++;
        }
    }
    double mx = sx / k, my = sy / k, sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
    }
    return sxx > 0 ? sxy / sxx : 0;
}

static double mean_kept(const double *y, const unsigned char *keep, size_t n)
{
    double s = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            s += y[i];
            k++;
        }
    }
    return s / k;
}

/* RMSSD over successive kept intervals that were also successive in the
 * recording (a removed beat breaks the chain); NAN when there are none. */
static double rmssd(const double *rr, const unsigned char *keep, size_t n)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (keep[i] && keep[i + 1]) {
            double d = rr[i + 1] - rr[i];
            s += d * d;
            k++;
        }
    }
    return k ? sqrt(s / (double)k) : NAN;
}

/* Sample standard deviation (n - 1) of the kept intervals. */
static double sdnn(const double *rr, const unsigned char *keep, size_t n)
{
    double m = mean_kept(rr, keep, n), s = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            s += (rr[i] - m) * (rr[i] - m);
            k++;
        }
    }
    return k > 1 ? sqrt(s / (k - 1)) : NAN;
}

static fer_status check_times(const double *t, size_t n, fer_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(t[i]))
            return fer_fail(err, FER_EINVAL, "sample %zu: time is not a finite number", i + 1);
        if (i > 0 && !(t[i] > t[i - 1]))
            return fer_fail(err, FER_EINVAL, "sample %zu: time %g s is not after %g s", i + 1,
                            t[i], t[i - 1]);
    }
    return FER_OK;
}

/* Instantaneous bpm and beat times (cumulative sum of every finite positive
 * interval, removed ones included: time passed during them too). */
static void rr_to_bpm(const double *rr, size_t n, double *bpm, double *t)
{
    double clock = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(rr[i]) && rr[i] > 0)
            clock += rr[i] / 1000.0;
        t[i] = clock;
        bpm[i] = rr[i] > 0 ? 60000.0 / rr[i] : NAN;
    }
}

static fer_status summarise(const double *t, const double *v, size_t n, int rr, fer_heart *h,
                            unsigned char *keep, double *work, fer_error *err)
{
    size_t kept;
    fer_status s = rr ? clean(v, n, HR_RR_MIN_MS, HR_RR_MAX_MS, keep, &kept, err)
                      : clean(v, n, HR_SERIES_MIN_BPM, HR_SERIES_MAX_BPM, keep, &kept, err);
    if (s)
        return s;
    if (kept < HR_MIN_SAMPLES)
        return fer_fail(err, FER_ERANGE,
                        "too few valid heart rate samples: %zu of %zu left after cleaning "
                        "(need at least %d; %s accepted)",
                        kept, n, HR_MIN_SAMPLES, rr ? "RR 300..2000 ms" : "30..220 bpm");
    const double *bpm = v, *times = t;
    if (rr) {
        rr_to_bpm(v, n, work, work + n);
        bpm = work;
        times = work + n;
        h->rmssd_ms = rmssd(v, keep, n);
        h->sdnn_ms = sdnn(v, keep, n);
    }
    h->bpm = mean_kept(bpm, keep, n);
    h->trend = 60.0 * slope(times, bpm, keep, n);
    h->n_samples = (int)kept;
    h->n_removed = (int)(n - kept);
    return FER_OK;
}

fer_status fer_heart_from_series(const double *t, const double *v, size_t n, int rr,
                                 const fer_hr_opts *o, fer_heart *out, fer_error *err)
{
    if (!out || !v || (!rr && !t))
        return fer_fail(err, FER_EINVAL, "fer_heart_from_series: %s is NULL",
                        !out ? "out" : !v ? "values" : "t (needed for a bpm series)");
    if (n == 0)
        return fer_fail(err, FER_EINVAL, "heart rate series: no samples");
    if (n > (size_t)1 << 26)
        return fer_fail(err, FER_ERANGE, "heart rate series: %zu samples is too many", n);
    fer_status s = !rr ? check_times(t, n, err) : FER_OK;
    if (s)
        return s;
    unsigned char *keep = malloc(n);
    double *work = rr ? malloc(2 * n * sizeof *work) : NULL;
    if (!keep || (rr && !work)) {
        free(keep);
        free(work);
        return fer_fail(err, FER_ENOMEM, "heart rate series: out of memory (%zu samples)", n);
    }
    fer_heart h = {.rmssd_ms = NAN, .sdnn_ms = NAN};
    s = summarise(t, v, n, rr, &h, keep, work, err);
    free(keep);
    free(work);
    if (!s)
        s = score(&h, o, err);
    if (!s)
        *out = h;
    return s;
}
