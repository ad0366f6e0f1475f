/* ReLU, also fused into conv and dense; the standalone layer uses these. */
#include "layers.h"

void fer_relu_forward(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : 0; /* fmaxf is an out-of-line libm call under GCC */
}

void fer_relu_backward(size_t n, const float *y, const float *dy, float *dx)
{
    /* a select, not a branch, so it vectorises (and 0 * inf is never formed) */
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0;
}
