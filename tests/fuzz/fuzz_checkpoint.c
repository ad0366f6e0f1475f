/* Fuzz target: a checkpoint's metadata on fer-train's --resume path: the
 * Adam state in __metadata__ (libfer/nn/safetensors.c) and fer-train's
 * progress in "fer.extra" (tools/progress.c, included here as fer-train
 * links it). The input's first three lines become adam.iterations, adam.lr
 * and adam.decay, the rest fer.extra, in the header of a valid tiny
 * checkpoint (its tensors stay valid, so the metadata is what is tested).
 * The file then loads as --resume loads it, the progress is read and written
 * back, and the loaded Adam state takes one training step. */
#include <string.h>

#include "../../tools/progress.c"

#include "fer.h"
#include "fuzz.h"

#define MAX_EPOCHS 50

static const char ARCH[] = "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":["
                           "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2,"
                           "\"activation\":\"softmax\"}]}";

/* The tiny checkpoint, once: its header (parsed) and its tensor bytes. */
static cJSON *base_header;
static char *base_data;
static size_t base_len;

static int make_base(void)
{
    const char *path = fuzz_write_scratch((const uint8_t *)"", 0);
    fer_model *m = NULL;
    fer_optim *opt = NULL;
    char *file = NULL;
    size_t len = 0;
    int ok = path && fer_model_from_json(ARCH, 1, &m, NULL) == FER_OK &&
             tu_adam(m, 1e-3f, 0, &opt, NULL) == FER_OK &&
             fer_model_save(m, opt, "{}", path, NULL) == FER_OK &&
             fer_file_read(path, 1 << 20, &file, &len, NULL) == FER_OK && len > 8;
    uint64_t hlen = 0;
    for (int i = 0; ok && i < 8; i++)
        hlen |= (uint64_t)(uint8_t)file[i] << (8 * i);
    ok = ok && hlen <= len - 8 && (base_header = cJSON_ParseWithLength(file + 8, hlen)) != NULL;
    if (ok) {
        base_len = len - 8 - hlen;
        ok = (base_data = malloc(base_len + 1)) != NULL;
    }
    if (ok)
        memcpy(base_data, file + 8 + hlen, base_len);
    free(file);
    fer_optim_free(opt);
    fer_model_free(m);
    return ok;
}

/* Line k (0-based) of the input as a string; the last "line" is the rest. */
static char *field(const char *s, int k, int rest)
{
    for (int i = 0; i < k && s; i++)
        s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL;
    if (!s)
        return strdup("");
    size_t n = rest ? strlen(s) : strcspn(s, "\n");
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = 0;
    }
    return out;
}

/* The base checkpoint with the input's metadata, as file bytes. */
static char *with_metadata(const char *text, size_t *len)
{
    static const char *const keys[4] = {"adam.iterations", "adam.lr", "adam.decay", "fer.extra"};
    cJSON *h = cJSON_Duplicate(base_header, 1);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    for (int k = 0; md && k < 4; k++) {
        char *v = field(text, k, k == 3);
        if (v)
            cJSON_ReplaceItemInObjectCaseSensitive(md, keys[k], cJSON_CreateString(v));
        free(v);
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!json)
        return NULL;
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    char *file = malloc(8 + hlen + base_len);
    if (file) {
        for (int i = 0; i < 8; i++)
            file[i] = (char)((uint64_t)hlen >> (8 * i));
        memset(file + 8, ' ', hlen);
        memcpy(file + 8, json, jlen);
        memcpy(file + 8 + hlen, base_data, base_len);
        *len = 8 + hlen + base_len;
    }
    free(json);
    return file;
}

/* What --resume does with a checkpoint that loads, then one step. */
static void resume(fer_model *m, fer_optim *opt, const char *extra)
{
    progress p = {0};
    p.rows = calloc(MAX_EPOCHS + 1, sizeof *p.rows);
    if (p.rows && progress_parse(extra, &p, MAX_EPOCHS))
        free(progress_json(&p));
    free(p.rows);
    float x[16] = {0}, loss;
    int label = 1, correct;
    fer_rng rng;
    fer_rng_seed(&rng, 1);
    fer_model_train_step(m, opt, &rng, x, &label, 1, NULL, &loss, &correct, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base_header && !make_base())
        return 0;
    char *text = fuzz_cstring(data, size);
    size_t len = 0;
    char *file = text ? with_metadata(text, &len) : NULL;
    const char *path = file ? fuzz_write_scratch((const uint8_t *)file, len) : NULL;
    fer_model *m = NULL;
    fer_optim *opt = NULL;
    char *extra = NULL;
    if (path && fer_checkpoint_load(path, &m, &opt, &extra, NULL) == FER_OK) {
        fer_model_set_threads(m, 1, NULL);
        resume(m, opt, extra);
    }
    free(extra);
    fer_optim_free(opt);
    fer_model_free(m);
    free(file);
    free(text);
    return 0;
}
