/* Fuzz target: the model architecture JSON (libfer/nn/arch.c, model.c), as
 * stored in a weights file's metadata; a model that builds also runs once
 * forward and takes one training step. */
#include <string.h>

#include "fer.h"
#include "fuzz.h"

/* Layer sizes come from the input, so a model may legitimately be big; runs
 * are skipped above this many parameters to keep each input fast. */
#define RUN_MAX_PARAMS 200000

/* One Adam step on one image, so the backward passes see the layer too. */
static void train_once(fer_model *m, const float *x)
{
    fer_optim *opt = NULL;
    fer_rng rng;
    fer_error err;
    fer_rng_seed(&rng, 1);
    int label = 0;
    float loss;
    int correct;
    if (tu_adam(m, 1e-3f, 0, &opt, &err) == FER_OK)
        fer_model_train_step(m, opt, &rng, x, &label, 1, NULL, &loss, &correct, &err);
    fer_optim_free(opt);
}

static void run_once(fer_model *m)
{
    int c, h, w;
    fer_model_input_shape(m, &c, &h, &w);
    size_t in = (size_t)c * (size_t)h * (size_t)w;
    int k = fer_model_n_classes(m);
    if (fer_model_n_params(m) > RUN_MAX_PARAMS || in > 65536 || k <= 0)
        return;
    float *x = calloc(in, sizeof *x), *p = calloc((size_t)k, sizeof *p);
    fer_error err;
    if (x && p && fer_model_predict(m, x, 1, p, &err) == FER_OK)
        train_once(m, x);
    free(x);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_cstring(data, size);
    if (!json)
        return 0;
    fer_model *m = NULL;
    fer_error err;
    if (fer_model_from_json(json, 1, &m, &err) == FER_OK) {
        fer_model_set_threads(m, 1, &err);
        run_once(m);
    }
    fer_model_free(m);
    free(json);
    return 0;
}
