/* Helpers shared by the Check test programs. */
#ifndef FER_TESTUTIL_H
#define FER_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fer.h"
#include "nn/gemm.h" /* fer_gemm_force */

static inline void tu_fill_uniform(fer_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)fer_rng_uniform(r);
}

static inline float tu_max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) /* also catches NaN */
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* Path of a file under ../shared (or $FER_SHARED), or NULL when absent:
 * tests that need the real data skip with a message then. */
static inline const char *tu_shared(const char *rel, char *buf, size_t cap)
{
    const char *root = getenv("FER_SHARED");
    snprintf(buf, cap, "%s/%s", root ? root : "../shared", rel);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Runs a suite; returns the process exit status. FER_GEMM=ref|c|avx2|avx512
 * runs it on that GEMM path (tests/sh/gemm.sh): the library reads no
 * environment, its tests do. */
static inline int tu_run(Suite *s)
{
    const char *gemm = getenv("FER_GEMM");
    if (gemm && *gemm)
        fer_gemm_force(gemm);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Keras Adam with this learning rate and time decay. */
static inline fer_status tu_adam(fer_model *m, float lr, float decay, fer_optim **o, fer_error *err)
{
    fer_optim_opts opts;
    fer_optim_opts_default(&opts, FER_ADAM);
    opts.lr = lr, opts.decay = decay;
    return fer_optim_new(m, &opts, o, err);
}

#endif
