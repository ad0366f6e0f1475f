/* Fuzz target: the probability file reader (libfer/emotion/probs.c,
 * fer-train --soft-targets), against a fixed data set of three images and a
 * 7-class model, both made once. The seeds (make-seeds.py "probs") carry
 * the right hashes, so mutations reach the per-line checks. */
#include <string.h>

#include "fer.h"
#include "fuzz.h"

enum { N_IMAGES = 3, SIDE = 48 };

static const char ARCH[] =
    "{\"input\": [1, 48, 48], \"classes\": [\"angry\", \"disgust\", \"fear\", \"happy\", \"sad\","
    " \"surprise\", \"neutral\"], \"layers\": [{\"type\": \"flatten\"},"
    " {\"type\": \"dense\", \"units\": 7, \"activation\": \"softmax\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pixels[N_IMAGES * SIDE * SIDE];
    static fer_dataset ds;
    static fer_model *m;
    fer_error err;
    if (!m) {
        /* image i, pixel j: (i * 37 + j * 7) mod 256, as make-seeds.py hashes it */
        for (size_t j = 0; j < sizeof pixels; j++)
            pixels[j] = (uint8_t)(((j / (SIDE * SIDE)) * 37 + (j % (SIDE * SIDE)) * 7) % 256);
        ds = (fer_dataset){.pixels = pixels, .n = N_IMAGES, .h = SIDE, .w = SIDE};
        if (fer_model_from_json(ARCH, 1, &m, &err) != FER_OK)
            return 0;
    }
    const char *path = fuzz_write_scratch(data, size);
    float *t;
    if (path && fer_probs_read(path, &ds, m, &t, &err) == FER_OK)
        free(t);
    return 0;
}
