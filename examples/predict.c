/* The fer-predict pipeline in a page, through the public header only:
 *   predict WEIGHTS IMAGE [BPM]
 * Finds the largest face (or takes the whole image), classifies it, fuses it
 * with the heart rate and prints the state. Build: see examples/build-and-run. */
#include <fer.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const fer_error *e)
{
    fprintf(stderr, "predict: %s\n", e->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: predict WEIGHTS IMAGE [BPM]\n"), 2;
    fer_error e = {0};
    fer_model *m = NULL;
    fer_cascade *cascade = NULL;
    fer_image img = {0};
    fer_box *faces = NULL, face;
    size_t n = 0;
    if (fer_model_load(argv[1], &m, &e) || fer_image_load(argv[2], 0, &img, &e))
        return fail(&e);
    fer_detect_opts o;
    fer_detect_opts_default(&o);
    if (fer_cascade_load(FER_DEFAULT_CASCADE, &cascade, &e) == FER_OK)
        fer_detect_faces(cascade, &img, &o, &faces, &n, &e);
    face = n ? faces[0] : (fer_box){0, 0, img.w, img.h}; /* largest face first */
    int c, h, w, k = fer_model_n_classes(m);
    fer_model_input_shape(m, &c, &h, &w);
    uint8_t *px = malloc((size_t)h * w);
    float *x = malloc(sizeof *x * h * w), *p = malloc(sizeof *p * k), p7[FER_N_EMOTIONS] = {0};
    if (!px || !x || !p || c != 1 ||
        fer_image_crop_resize(&img, face.x, face.y, face.w, face.h, w, h, px, &e))
        return fail(&e);
    fer_preprocess(px, (size_t)h * w, x);
    if (fer_model_predict(m, x, 1, p, &e))
        return fail(&e);
    for (int j = 0; j < k; j++) /* model classes -> FER2013 slots */
        if (fer_emotion_index(fer_model_class_name(m, j)) >= 0)
            p7[fer_emotion_index(fer_model_class_name(m, j))] = p[j];
    fer_heart heart;
    fer_state s;
    if (argc > 3 && fer_heart_from_bpm(atof(argv[3]), NULL, &heart, &e))
        return fail(&e);
    if (fer_fuse(p7, argc > 3 ? &heart : NULL, NULL, &s, &e))
        return fail(&e);
    printf("%s: %s face at %d,%d %dx%d -> %s (valence %+.2f, arousal %.2f)\n", argv[2],
           n ? "detected" : "whole-image", face.x, face.y, face.w, face.h, s.label, s.valence,
           s.arousal);
    free(px), free(x), free(p), free(faces);
    fer_image_free(&img), fer_cascade_free(cascade), fer_model_free(m);
    return 0;
}
