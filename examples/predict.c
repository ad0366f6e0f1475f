/* The fer-predict pipeline in a page, through the public header only:
 *   predict WEIGHTS VERIFIER|- IMAGE [BPM]
 * Finds the faces (VERIFIER: the face verifier's weights; "-": the whole image
 * is the face), classifies them, fuses the best one with the heart rate and
 * prints the state. Build: see examples/build-and-run. */
#include <fer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const fer_error *e)
{
    fprintf(stderr, "predict: %s\n", e->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return fprintf(stderr, "usage: predict WEIGHTS VERIFIER|- IMAGE [BPM]\n"), 2;
    fer_error e = {0};
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    o.emotion_model = argv[1];
    o.no_detect = !strcmp(argv[2], "-");
    o.verifier_model = o.no_detect ? NULL : argv[2];
    fer_analyzer *a = NULL;
    fer_image img = {0};
    fer_heart heart;
    fer_faces f;
    if (fer_analyzer_new(&o, &a, &e) || fer_image_load(argv[3], 0, &img, &e) ||
        (argc > 4 && fer_heart_from_bpm(atof(argv[4]), NULL, &heart, &e)) ||
        fer_analyze(a, &img, argc > 4 ? &heart : NULL, &f, &e))
        return fail(&e);
    if (f.state_face < 0) {
        printf("%s: no face\n", argv[3]);
    } else {
        const fer_face *face = &f.face[f.state_face];
        printf("%s: %s face at %d,%d %dx%d (score %.2f) -> %s (valence %+.2f, arousal %.2f)\n",
               argv[3], o.no_detect ? "whole-image" : "detected", face->box.x, face->box.y,
               face->box.w, face->box.h, face->score, f.state.label, f.state.valence,
               f.state.arousal);
    }
    fer_faces_free(&f);
    fer_image_free(&img);
    fer_analyzer_free(a);
    return 0;
}
