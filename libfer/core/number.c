/* The one number grammar of libfer and its tools (fer.h): plain decimal,
 * optionally signed, with an optional fraction and exponent; no blanks, hex,
 * inf or nan. Catalogue loading parses about two million of them, so the
 * common case is exact arithmetic rather than strtod. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Digits at *p into *m (those past 19 significant ones only counted in
 * *dropped); returns how many digits there were. */
static size_t read_digits(const char **p, uint64_t *m, size_t *dropped)
{
    const char *s = *p;
    for (; is_digit(**p); ++*p) {
        if (*m < 1000000000000000000ULL)
            *m = *m * 10 + (uint64_t)(**p - '0');
        else
            ++*dropped;
    }
    return (size_t)(*p - s);
}

/* Most numbers have at most 19 significant digits and a small exponent, and are
 * m * 10^e or m / 10^-e with m < 2^53 and 10^|e| <= 10^22, both exact, so one
 * rounding gives strtod's correctly rounded result; the rest go to strtod. */
int fer_parse_number(const char *s, double lo, double hi, double *out)
{
    if (!s || !out)
        return 0;
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s + (*s == '+' || *s == '-');
    uint64_t m = 0, e = 0;
    size_t dropped = 0, n_int = read_digits(&p, &m, &dropped), n_frac = 0;
    long exp10 = (long)dropped;
    if (*p == '.') {
        p++;
        size_t before = dropped;
        n_frac = read_digits(&p, &m, &dropped);
        exp10 -= (long)(n_frac - (dropped - before));
    }
    if (n_int + n_frac == 0)
        return 0;
    if (*p == 'e' || *p == 'E') {
        int neg = *++p == '-';
        p += *p == '+' || *p == '-';
        size_t ignored = 0;
        if (read_digits(&p, &e, &ignored) == 0)
            return 0;
        long big = e > 100000 ? 100000 : (long)e; /* far past any double: strtod's case */
        exp10 += neg ? -big : big;
    }
    if (*p)
        return 0;
    double v;
    if (m < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        v = exp10 >= 0 ? (double)m * pow10[exp10] : (double)m / pow10[-exp10];
        v = *s == '-' ? -v : v;
    } else {
        errno = 0;
        v = strtod(s, NULL);
        if (errno == ERANGE) /* beyond the doubles, or below the smallest one */
            return 0;
    }
    if (!isfinite(v) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int fer_parse_integer(const char *s, long lo, long hi, long *out)
{
    if (!s || !out)
        return 0;
    int neg = *s == '-';
    const char *p = s + neg;
    /* the magnitude's bound on this side of 0 (none: the sign is out of range) */
    unsigned long v = 0, bound = neg ? (lo < 0 ? 0UL - (unsigned long)lo : 0)
                                     : (hi > 0 ? (unsigned long)hi : 0);
    if (!*p)
        return 0;
    for (; *p; p++) {
        unsigned long d = (unsigned long)(*p - '0');
        if (!is_digit(*p) || d > bound || v > (bound - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    long r = neg ? (long)(0UL - v) : (long)v;
    if (r < lo || r > hi)
        return 0;
    *out = r;
    return 1;
}
