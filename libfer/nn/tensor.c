/* The tensor: a float32 array with a shape; aligned storage for SIMD. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void *fer_aligned_alloc(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        memset(p, 0, rounded ? rounded : 64);
    return p;
}

void fer_aligned_free(void *p) { free(p); }

static size_t shape_size(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return n;
}

fer_status fer_tensor_alloc(fer_tensor *t, int ndim, const int *shape, fer_error *err)
{
    memset(t, 0, sizeof *t);
    if (ndim < 1 || ndim > FER_MAX_DIMS)
        return fer_fail(err, FER_EINVAL, "tensor: %d dimensions (1..%d allowed)", ndim,
                        FER_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0 || shape[i] > (1 << 28))
            return fer_fail(err, FER_EINVAL, "tensor: dimension %d is %d", i, shape[i]);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->size = shape_size(ndim, shape);
    if (t->size > ((size_t)1 << 34) / sizeof(float))
        return fer_fail(err, FER_ERANGE, "tensor: %zu elements is too large", t->size);
    t->data = fer_aligned_alloc(t->size * sizeof(float));
    if (!t->data)
        return fer_fail(err, FER_ENOMEM, "tensor: cannot allocate %zu floats", t->size);
    t->owns = 1;
    return FER_OK;
}

void fer_tensor_free(fer_tensor *t)
{
    if (t && t->owns)
        fer_aligned_free(t->data);
    if (t)
        memset(t, 0, sizeof *t);
}

fer_tensor fer_tensor_view(float *data, int ndim, const int *shape)
{
    fer_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.ndim = ndim;
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    t.size = shape_size(ndim, shape);
    return t;
}

size_t fer_tensor_stride(const fer_tensor *t, int d)
{
    size_t s = 1;
    for (int i = d + 1; i < t->ndim; i++)
        s *= (size_t)t->shape[i];
    return s;
}
