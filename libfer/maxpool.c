/* Max pooling ('valid': windows that fit), remembering where each maximum
 * came from so that backward is a scatter. */
#include <string.h>

#include "layers.h"

typedef struct pool_job {
    fer_layer *l;
    const float *x;
    float *y;
} pool_job;

static void maxpool_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const pool_job *j = arg;
    fer_layer *l = j->l;
    size_t in_sz = fer_layer_in_size(l), out_sz = fer_layer_out_size(l);
    for (int i = begin; i < end; i++)
        for (int c = 0; c < l->oc; c++) {
            const float *x = j->x + i * in_sz + (size_t)c * l->ih * l->iw;
            size_t ob = i * out_sz + (size_t)c * l->oh * l->ow;
            for (int oy = 0; oy < l->oh; oy++)
                for (int ox = 0; ox < l->ow; ox++) {
                    int best = (oy * l->stride) * l->iw + ox * l->stride;
                    for (int dy = 0; dy < l->size; dy++)
                        for (int dx = 0; dx < l->size; dx++) {
                            int p = (oy * l->stride + dy) * l->iw + ox * l->stride + dx;
                            if (x[p] > x[best])
                                best = p;
                        }
                    size_t o = ob + (size_t)oy * l->ow + ox;
                    j->y[o] = x[best];
                    l->argmax[o] = (int32_t)((size_t)c * l->ih * l->iw + best);
                }
        }
}

void fer_maxpool_forward(fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    pool_job j = {l, x, y};
    fer_pool_for(e->pool, e->n, maxpool_range, &j);
}

void fer_maxpool_backward(const fer_layer *l, const fer_exec *e, const float *dy, float *dx)
{
    size_t in_sz = fer_layer_in_size(l), out_sz = fer_layer_out_size(l);
    memset(dx, 0, (size_t)e->n * in_sz * sizeof *dx);
    for (int i = 0; i < e->n; i++) {
        float *dxi = dx + i * in_sz;
        for (size_t o = 0; o < out_sz; o++)
            dxi[l->argmax[i * out_sz + o]] += dy[i * out_sz + o];
    }
}
