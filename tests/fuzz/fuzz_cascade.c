/* Fuzz target: the Haar cascade XML loader (libfer/vision/cascade.c); a cascade
 * that loads is run on a small textured image, so that any feature the
 * validation let through is actually evaluated. */
#include "fer.h"
#include "fuzz.h"

#define SIDE 64

static void run_on_texture(const fer_cascade *c)
{
    static uint8_t px[SIDE * SIDE];
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++)
            px[y * SIDE + x] = (uint8_t)((x * 7 + y * 13 + (x * y) % 29) & 0xff);
    fer_image img = {SIDE, SIDE, px};
    fer_detect_opts o;
    fer_detect_opts_default(&o);
    o.min_size = 0;
    o.min_neighbors = 0;
    o.scale_factor = 1.5;
    fer_box *boxes = NULL;
    size_t n = 0;
    fer_error err;
    fer_detect_faces(c, &img, &o, &boxes, &n, &err);
    free(boxes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_scratch(data, size);
    if (!path)
        return 0;
    fer_cascade *c = NULL;
    fer_error err;
    if (fer_cascade_load(path, &c, &err) == FER_OK)
        run_on_texture(c);
    fer_cascade_free(c);
    return 0;
}
