/* Fuzz target: the safetensors weights loader (libfer/nn/safetensors.c with the
 * architecture in its metadata), as a model and as a checkpoint; a model that
 * loads also runs once. */
#include "fer.h"
#include "fuzz.h"

static void run_once(fer_model *m)
{
    int c, h, w;
    fer_model_input_shape(m, &c, &h, &w);
    size_t in = (size_t)c * (size_t)h * (size_t)w;
    int k = fer_model_n_classes(m);
    if (in > 65536 || k <= 0)
        return;
    float *x = calloc(in, sizeof *x), *p = calloc((size_t)k, sizeof *p);
    fer_error err;
    if (x && p)
        fer_model_predict(m, x, 1, p, &err);
    free(x);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch(data, size);
    if (!path)
        return 0;
    fer_model *m = NULL;
    fer_optim *opt = NULL;
    char *extra = NULL;
    fer_error err;
    if (fer_model_load(path, &m, &err) == FER_OK) {
        fer_model_set_threads(m, 1, &err);
        run_once(m);
    }
    fer_model_free(m);
    m = NULL;
    fer_checkpoint_load(path, &m, &opt, &extra, &err);
    free(extra);
    fer_optim_free(opt);
    fer_model_free(m);
    return 0;
}
