/* Fuzz target: image decoding (libfer/vision/image.c over stb_image), then face
 * detection with OpenCV's frontal-face cascade when it is installed, and the
 * crop-resize of every box found. */
#include "fer.h"
#include "fuzz.h"

/* Small images keep each input fast; the limit itself is also exercised. */
#define MAX_PIXELS (256 * 256)

/* Loaded once per process: a harness may keep state, the library may not. */
static fer_cascade *face_cascade(void)
{
    static int tried;
    static fer_cascade *c;
    if (!tried) {
        tried = 1;
        fer_error err;
        if (fer_cascade_load(FER_DEFAULT_CASCADE, &c, &err) != FER_OK)
            c = NULL;
    }
    return c;
}

static void detect(const fer_image *img)
{
    fer_cascade *c = face_cascade();
    if (!c)
        return;
    fer_detect_opts o;
    fer_detect_opts_default(&o);
    o.scale_factor = 1.25;
    o.min_neighbors = 1;
    fer_box *boxes = NULL;
    size_t n = 0;
    fer_error err;
    if (fer_detect_faces(c, img, &o, &boxes, &n, &err) == FER_OK) {
        uint8_t face[48 * 48];
        for (size_t i = 0; i < n; i++)
            fer_image_crop_resize(img, boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h, 48, 48,
                                  face, &err);
    }
    free(boxes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fer_image img = {0};
    fer_error err;
    if (fer_image_load_mem(data, size, MAX_PIXELS, &img, &err) == FER_OK) {
        uint8_t small[48 * 48];
        /* A box reaching outside the image must be clipped, not read. */
        fer_image_crop_resize(&img, -3, -3, img.w + 6, img.h + 6, 48, 48, small, &err);
        detect(&img);
    }
    fer_image_free(&img);
    return 0;
}
