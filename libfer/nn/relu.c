/* ReLU, also fused into conv and dense; the standalone layer uses these.
 * Selects, not branches and not fmaxf (an out-of-line libm call under GCC),
 * so the loops vectorise. The vector copies are static helpers: clang only
 * emits target_clones dispatchers for functions local to the file. */
#include "nn/layers.h"

FER_VECTOR_CLONES
static void relu(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : 0;
}

FER_VECTOR_CLONES
static void relu_mask(size_t n, const float *y, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0; /* 0 * inf is never formed */
}

void fer_relu_forward(size_t n, const float *x, float *y) { relu(n, x, y); }

void fer_relu_backward(size_t n, const float *y, const float *dy, float *dx)
{
    relu_mask(n, y, dy, dx);
}
