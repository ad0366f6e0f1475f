/* ReLU, also fused into conv and dense; the standalone layer uses these. */
#include <math.h>

#include "layers.h"

void fer_relu_forward(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = fmaxf(x[i], 0.0f);
}

void fer_relu_backward(size_t n, const float *y, const float *dy, float *dx)
{
    /* a select, not a branch, so it vectorises */
    for (size_t i = 0; i < n; i++)
        dx[i] = (y[i] > 0) * dy[i];
}
