/* The analyzer (fer_analyze): options, the whole-image path, face choice,
 * score filtering with a random-weight verifier, and, with the shipped
 * models, the demo photo at three resolutions and a photo without people. */
#include "testutil.h"

#include <sys/stat.h>

#include "core/core.h"
#include "vision/vision.h" /* fer_image_turn, fer_turn_point */

#define DEMO "datasets/demo/face.png"
#define EMOTION "weights/fer-7class.safetensors"
#define VERIFIER "weights/face-verifier.safetensors"

static int exists(const char *p) { return access(p, R_OK) == 0; }

static char tmpdir[64];

/* A random-weight model with these classes, saved under tmpdir. */
static const char *random_model(const char *name, int n, const char *const *classes)
{
    static char path[2][128];
    static int k;
    char *p = path[k++ % 2];
    snprintf(p, sizeof path[0], "%s/%s.safetensors", tmpdir, name);
    fer_model *m;
    fer_error e;
    ck_assert_int_eq(fer_model_paper_cnn(n, classes, 7, &m, &e), FER_OK);
    ck_assert_int_eq(fer_model_save(m, NULL, NULL, p, &e), FER_OK);
    fer_model_free(m);
    return p;
}

static void setup(void)
{
    strcpy(tmpdir, "/tmp/test_analyze.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static fer_image grey(int w, int h, uint8_t v)
{
    fer_image img = {w, h, malloc((size_t)w * h)};
    ck_assert_ptr_nonnull(img.px);
    memset(img.px, v, (size_t)w * h);
    return img;
}

START_TEST(options_are_checked)
{
    fer_analyzer_opts o;
    fer_analyzer *a = (fer_analyzer *)1;
    fer_error e;
    ck_assert_int_eq(fer_analyzer_new(NULL, &a, &e), FER_EINVAL); /* defaults name no model */
    ck_assert_ptr_null(a);
    ck_assert_str_eq(e.msg, "analyzer: no face verifier given");
    fer_analyzer_opts_default(&o);
    o.no_detect = 1; /* the whole image: an emotion model is all there is to run */
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_EINVAL);
    ck_assert_str_eq(e.msg, "analyzer: no emotion model given");
    o.emotion_model = random_model("e", 7, NULL);
    o.tilt = 91;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_ERANGE);
    o.tilt = 25;
    o.margin = 1.5;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_ERANGE);
    o.margin = 0.1;
    o.min_score = NAN;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_ERANGE);
    o.min_score = 0.5;
    o.max_side = 10;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_ERANGE);
    o.max_side = 1280;
    o.pick = (fer_face_pick)7;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_EINVAL);
    o.pick = FER_FACE_BEST;
    o.tta = (fer_tta)(FER_TTA_PAIR + 1); /* one past the last mode */
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_EINVAL);
    ck_assert_str_eq(e.msg, "analyzer: unknown test-time augmentation 4");
    o.tta = FER_TTA_DEFAULT;
    /* A verifier must have two classes, one named "face". */
    o.pick = FER_FACE_BEST;
    o.no_detect = 0;
    o.verifier_model = o.emotion_model;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_EFORMAT);
    ck_assert_msg(strstr(e.msg, "not a face verifier"), "%s", e.msg);
    /* An emotion model's classes must be FER2013 emotions. */
    const char *names[2] = {"face", "nonface"};
    o.emotion_model = random_model("v", 2, names);
    o.no_detect = 1;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_EFORMAT);
    ck_assert_msg(strstr(e.msg, "class 'face' is not a FER2013 emotion"), "%s", e.msg);
    o.emotion_model = "/nonexistent.safetensors";
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_EIO);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(whole_image_is_one_face)
{
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    const char *five[5] = {"neutral", "happy", "sad", "angry", "disgust"};
    o.emotion_model = random_model("e5", 5, five);
    o.no_detect = 1;
    fer_analyzer *a;
    fer_error e;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_OK);
    fer_image img = grey(60, 40, 90);
    fer_faces f;
    fer_heart h;
    ck_assert_int_eq(fer_heart_from_bpm(120, NULL, &h, &e), FER_OK);
    ck_assert_int_eq(fer_analyze(a, &img, &h, &f, &e), FER_OK);
    ck_assert_uint_eq(f.n, 1);
    ck_assert_int_eq(f.state_face, 0);
    ck_assert(f.face[0].box.x == 0 && f.face[0].box.y == 0 && f.face[0].box.w == 60 &&
              f.face[0].box.h == 40);
    ck_assert(f.face[0].score == 1);
    /* The five classes land in their FER2013 slots; fear and surprise stay 0. */
    double sum = 0;
    for (int k = 0; k < FER_N_EMOTIONS; k++)
        sum += f.face[0].probs[k];
    ck_assert_double_eq_tol(sum, 1, 1e-5);
    ck_assert(f.face[0].probs[2] == 0 && f.face[0].probs[5] == 0);
    /* The state is fer_fuse of that face with the heart. */
    fer_state s;
    fer_fusion_opts fo;
    fer_fusion_opts_default(&fo);
    ck_assert_int_eq(fer_fuse(f.face[0].probs, &h, &fo, &s, &e), FER_OK);
    ck_assert_str_eq(s.label, f.state.label);
    ck_assert_double_eq(s.arousal, f.state.arousal);
    fer_faces_free(&f);
    ck_assert_ptr_null(f.face);
    ck_assert_int_eq(fer_analyze(a, NULL, NULL, &f, &e), FER_EINVAL);
    fer_image_free(&img);
    fer_analyzer_free(a);
}
END_TEST

START_TEST(pick_best_and_largest)
{
    fer_face face[3] = {{.box = {0, 0, 10, 10}, .score = 0.9f},
                        {.box = {50, 0, 30, 30}, .score = 0.6f},
                        {.box = {0, 50, 20, 20}, .score = 0.9f}};
    fer_faces f = {.face = face, .n = 3};
    ck_assert_int_eq(fer_faces_pick(&f, FER_FACE_BEST), 2); /* tie on score: the larger */
    ck_assert_int_eq(fer_faces_pick(&f, FER_FACE_LARGEST), 1);
    f.n = 0;
    ck_assert_int_eq(fer_faces_pick(&f, FER_FACE_BEST), -1);
    ck_assert_int_eq(fer_faces_pick(NULL, FER_FACE_BEST), -1);
}
END_TEST

/* min_score 0 keeps the proposals (less overlaps), 1 rejects them all. */
START_TEST(scores_filter_proposals)
{
    if (!exists(FER_DEFAULT_CASCADE) || !exists(DEMO)) {
        printf("scores_filter_proposals: skipped, opencv-data or %s missing\n", DEMO);
        return;
    }
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    const char *names[2] = {"nonface", "face"};
    o.emotion_model = random_model("e", 7, NULL);
    o.verifier_model = random_model("v", 2, names);
    fer_error e;
    fer_image img;
    ck_assert_int_eq(fer_image_load(DEMO, 0, &img, &e), FER_OK);
    size_t seen[2];
    for (int k = 0; k < 2; k++) {
        o.min_score = k;
        fer_analyzer *a;
        fer_faces f;
        ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_OK);
        ck_assert_int_eq(fer_analyze(a, &img, NULL, &f, &e), FER_OK);
        seen[k] = f.n + f.n_rejected;
        for (size_t i = 0; i < f.n; i++) {
            ck_assert(f.face[i].score >= 0 && f.face[i].score <= 1);
            ck_assert(i == 0 || f.face[i].score <= f.face[i - 1].score);
        }
        if (k == 1) {
            ck_assert_uint_eq(f.n, 0);
            ck_assert_int_eq(f.state_face, -1);
        } else {
            ck_assert_uint_ge(f.n, 1);
            ck_assert_int_eq(f.state_face, fer_faces_pick(&f, FER_FACE_BEST));
        }
        fer_faces_free(&f);
        fer_analyzer_free(a);
    }
    ck_assert_uint_eq(seen[0], seen[1]);
    ck_assert_uint_ge(seen[1], 1);
    fer_image_free(&img);
}
END_TEST

/* Any image of any shape analyses without error, whatever the proposals
 * (min_score 0 keeps every one, turned ones near the corners included). */
START_TEST(any_image_analyses)
{
    if (!exists(FER_DEFAULT_CASCADE)) {
        printf("any_image_analyses: skipped, opencv-data missing\n");
        return;
    }
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    const char *names[2] = {"face", "nonface"};
    o.verifier_model = random_model("v", 2, names);
    o.min_score = 0;
    o.max_side = 256;
    fer_analyzer *a;
    fer_error e;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_OK);
    fer_rng r;
    fer_rng_seed(&r, 5);
    static const int sizes[][2] = {{1, 1}, {23, 500}, {600, 40}, {300, 300}, {257, 1000}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        fer_image img = grey(sizes[k][0], sizes[k][1], 0);
        for (size_t i = 0; i < (size_t)img.w * img.h; i++) /* blocks of noise: many proposals */
            img.px[i] = (uint8_t)(((i / 7) % 3) * 90 + fer_rng_below(&r, 40));
        fer_faces f;
        ck_assert_msg(fer_analyze(a, &img, NULL, &f, &e) == FER_OK, "%dx%d: %s", img.w, img.h, e.msg);
        for (size_t i = 0; i < f.n; i++) {
            const fer_box *b = &f.face[i].box;
            double cx = b->x + b->w / 2.0, cy = b->y + b->h / 2.0;
            ck_assert(cx >= 0 && cy >= 0 && cx <= img.w && cy <= img.h);
        }
        ck_assert_int_eq(f.state_face, -1); /* no emotion model, no state */
        fer_faces_free(&f);
        fer_image_free(&img);
    }
    fer_analyzer_free(a);
    /* A wallpaper (mate-backgrounds) at 680x383, where a turned proposal lies
     * on the turned copy's repeated edges, off the photo: it used to fail the
     * whole call ("turned crop ... is outside the image"). */
    const char *wall = "/usr/share/backgrounds/mate/abstract/Elephants.jpg";
    fer_image src, img;
    if (!exists(wall) || fer_image_load(wall, 0, &src, &e) != FER_OK) {
        printf("any_image_analyses: %s missing, off-photo proposal case skipped\n", wall);
        return;
    }
    img = (fer_image){680, 383, malloc(680 * 383)};
    ck_assert_int_eq(fer_image_crop_resize(&src, 0, 0, src.w, src.h, img.w, img.h, img.px, &e), FER_OK);
    o.max_side = 1280;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_OK);
    fer_faces f;
    ck_assert_msg(fer_analyze(a, &img, NULL, &f, &e) == FER_OK, "%s", e.msg);
    fer_faces_free(&f);
    fer_analyzer_free(a);
    fer_image_free(&img);
    fer_image_free(&src);
}
END_TEST

static double iou(fer_box a, fer_box b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double in = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0;
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

/* An analyzer with the shipped models (default options but `tilt`), or NULL
 * after a "skipped" line when they or opencv-data are missing. */
static fer_analyzer *shipped_analyzer(const char *test, double tilt)
{
    if (!exists(FER_DEFAULT_CASCADE) || !exists(DEMO) || !exists(EMOTION) || !exists(VERIFIER)) {
        printf("%s: skipped, opencv-data or shipped files missing\n", test);
        return NULL;
    }
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    o.emotion_model = EMOTION;
    o.verifier_model = VERIFIER;
    o.tilt = tilt;
    fer_analyzer *a;
    fer_error e;
    ck_assert_int_eq(fer_analyzer_new(&o, &a, &e), FER_OK);
    return a;
}

/* The demo photo's one face, found at 640x480, 2x and 6x (working copies of
 * the same size): the same face, scaled. A flat photo gives no face. */
START_TEST(shipped_models_on_the_demo_photo)
{
    fer_analyzer *a = shipped_analyzer("shipped_models_on_the_demo_photo", 25);
    if (!a)
        return;
    fer_error e;
    fer_image img;
    ck_assert_int_eq(fer_image_load(DEMO, 0, &img, &e), FER_OK);
    fer_box first = {0};
    static const int scale[3] = {1, 2, 6};
    for (int k = 0; k < 3; k++) {
        fer_image big = {img.w * scale[k], img.h * scale[k], NULL};
        big.px = malloc((size_t)big.w * big.h);
        ck_assert_ptr_nonnull(big.px);
        ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, img.w, img.h, big.w, big.h, big.px, &e),
                         FER_OK);
        fer_faces f;
        ck_assert_int_eq(fer_analyze(a, &big, NULL, &f, &e), FER_OK);
        ck_assert_msg(f.n == 1, "scale %d: %zu faces", scale[k], f.n);
        ck_assert_int_eq(f.state_face, 0);
        ck_assert_msg(f.face[0].score >= 0.9, "score %g", f.face[0].score);
        /* An upright face is read from the upright proposal, not a turned one
         * that also scores ~1 (it used to win on its larger box). */
        ck_assert_msg(f.face[0].angle == 0, "scale %d: angle %g", scale[k], f.face[0].angle);
        fer_box b = f.face[0].box;
        if (k == 0)
            first = b;
        fer_box s = {first.x * scale[k], first.y * scale[k], first.w * scale[k], first.h * scale[k]};
        ck_assert_msg(iou(b, s) >= 0.8, "scale %d: box %d,%d %dx%d vs %d,%d %dx%d", scale[k],
                      b.x, b.y, b.w, b.h, s.x, s.y, s.w, s.h);
        fer_faces_free(&f);
        fer_image_free(&big);
    }
    /* The face pasted at (180, 120), 200 px (scripts/make-demo-photo). */
    ck_assert_msg(iou(first, (fer_box){180, 120, 200, 200}) >= 0.5, "box %d,%d %dx%d", first.x,
                  first.y, first.w, first.h);
    fer_image_free(&img);
    fer_image flat = grey(640, 480, 128);
    fer_faces f;
    ck_assert_int_eq(fer_analyze(a, &flat, NULL, &f, &e), FER_OK);
    ck_assert_uint_eq(f.n, 0);
    ck_assert_int_eq(f.state_face, -1);
    fer_faces_free(&f);
    fer_image_free(&flat);
    fer_analyzer_free(a);
}
END_TEST

/* An analyzer sharing another's models gives the same faces, scores and
 * probabilities, while both are used in turn; freeing it leaves the source. */
START_TEST(shared_analyzer_answers_the_same)
{
    fer_analyzer *a = shipped_analyzer("shared_analyzer_answers_the_same", 25), *b;
    if (!a)
        return;
    fer_error e;
    ck_assert_int_eq(fer_analyzer_share(a, &b, &e), FER_OK);
    fer_image img;
    ck_assert_int_eq(fer_image_load(DEMO, 0, &img, &e), FER_OK);
    for (int round = 0; round < 2; round++) {
        fer_faces fa, fb;
        ck_assert_int_eq(fer_analyze(a, &img, NULL, &fa, &e), FER_OK);
        ck_assert_int_eq(fer_analyze(b, &img, NULL, &fb, &e), FER_OK);
        ck_assert_uint_eq(fa.n, 1);
        ck_assert_uint_eq(fb.n, fa.n);
        ck_assert(fa.face[0].score == fb.face[0].score);
        ck_assert(memcmp(fa.face[0].probs, fb.face[0].probs, sizeof fa.face[0].probs) == 0);
        fer_faces_free(&fa);
        fer_faces_free(&fb);
        if (round == 0) { /* b gone, a unchanged */
            fer_analyzer_free(b);
            ck_assert_int_eq(fer_analyzer_share(a, &b, &e), FER_OK);
        }
    }
    fer_analyzer_free(b);
    fer_image_free(&img);
    fer_analyzer_free(a);
}
END_TEST

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += fabs((double)a[i] - b[i]);
    return d / (double)n;
}

/* fer_face_crop: upright boxes crop exactly as fer_face_crop_box (grow > 0)
 * or the inset box (grow < 0) with fer_image_crop_resize; a turned box crops
 * what fer_image_turn shows upright. */
START_TEST(face_crops)
{
    fer_image img = grey(200, 160, 0);
    for (int y = 0; y < img.h; y++) /* an asymmetric scene: gradients and a bright block */
        for (int x = 0; x < img.w; x++)
            img.px[y * img.w + x] = (uint8_t)((x * 3 + y) % 200 + (x > 90 && x < 120 && y > 50 && y < 70 ? 55 : 0));
    fer_error e;
    uint8_t got[32 * 32], want[32 * 32];
    fer_face f = {.box = {60, 40, 80, 80}};
    ck_assert_int_eq(fer_face_crop(&img, &f, 0.1, 32, 32, got, &e), FER_OK);
    fer_box c = fer_face_crop_box(&img, f.box, 0.1);
    ck_assert_int_eq(fer_image_crop_resize(&img, c.x, c.y, c.w, c.h, 32, 32, want, &e), FER_OK);
    ck_assert_mem_eq(got, want, sizeof got);
    ck_assert_int_eq(fer_face_crop(&img, &f, -0.1, 32, 32, got, &e), FER_OK);
    ck_assert_int_eq(fer_image_crop_resize(&img, 68, 48, 64, 64, 32, 32, want, &e), FER_OK);
    ck_assert_mem_eq(got, want, sizeof got);
    ck_assert_int_eq(fer_face_crop(&img, &f, -0.5, 32, 32, got, &e), FER_ERANGE);
    ck_assert_int_eq(fer_face_crop(&img, NULL, 0, 32, 32, got, &e), FER_EINVAL);
    /* Turned: the scene turned by 25 degrees shows, at its point P, what the
     * turned crop of the scene around turn_point(P) shows upright. */
    fer_image t;
    ck_assert_int_eq(fer_image_turn(&img, 25, &t, &e), FER_OK);
    double sx, sy;
    fer_turn_point(img.w, img.h, 25, 100, 80, &sx, &sy);
    ck_assert_double_eq_tol(sx, 100, 1e-9); /* the centre stays */
    fer_turn_point(img.w, img.h, 25, 110, 70, &sx, &sy);
    f = (fer_face){.box = {(int)lround(sx) - 20, (int)lround(sy) - 20, 40, 40}, .angle = 25};
    ck_assert_int_eq(fer_face_crop(&img, &f, 0, 32, 32, got, &e), FER_OK);
    ck_assert_int_eq(fer_image_crop_resize(&t, 90, 50, 40, 40, 32, 32, want, &e), FER_OK);
    double d = mean_abs_diff(got, want, sizeof got);
    ck_assert_msg(d < 4, "turned crop differs by %g grey levels", d);
    f.angle = 0; /* and the upright crop there is a different picture */
    ck_assert_int_eq(fer_face_crop(&img, &f, 0, 32, 32, got, &e), FER_OK);
    ck_assert_msg(mean_abs_diff(got, want, sizeof got) > 4 * d, "the check cannot tell");
    fer_image_free(&t);
    fer_image_free(&img);
}
END_TEST

/* fer_image_turn against a plain bilinear turn (rotate.c's convention, its
 * arithmetic written out once more), bit for bit, on the portable path and
 * on the AVX2 one: noise images of odd and tiny sizes, several angles. */
static uint8_t plain_turned(const fer_image *src, double c, double s, int x, int y)
{
    double cx = src->w / 2.0, cy = src->h / 2.0, u = x + 0.5 - cx, v = y + 0.5 - cy;
    double sx = cx + c * u + s * v - 0.5, sy = cy - s * u + c * v - 0.5;
    sx = sx < 0 ? 0 : sx > src->w - 1 ? src->w - 1 : sx;
    sy = sy < 0 ? 0 : sy > src->h - 1 ? src->h - 1 : sy;
    int x0 = (int)sx, y0 = (int)sy, x1 = x0 + 1 < src->w ? x0 + 1 : x0;
    int y1 = y0 + 1 < src->h ? y0 + 1 : y0;
    double a = sx - x0, b = sy - y0;
    const uint8_t *r0 = src->px + (size_t)y0 * src->w, *r1 = src->px + (size_t)y1 * src->w;
    double p = (1 - b) * ((1 - a) * r0[x0] + a * r0[x1]) + b * ((1 - a) * r1[x0] + a * r1[x1]);
    return (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p + 0.5);
}

START_TEST(turn_matches_plain)
{
    static const int sizes[][2] = {{1, 1}, {2, 2}, {3, 5}, {7, 2}, {33, 17}, {64, 48}, {101, 99}};
    static const double angles[] = {25, -25, 30, -38, 0, 7.25, 90, 180};
    int paths = fer_image_turn_simd() ? 2 : 1;
    if (paths == 1)
        printf("turn_matches_plain: this CPU has no AVX2, the portable path only\n");
    fer_rng r;
    fer_rng_seed(&r, 11);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (size_t j = 0; j < sizeof angles / sizeof *angles; j++) {
            fer_image img = grey(sizes[k][0], sizes[k][1], 0);
            for (int i = 0; i < img.w * img.h; i++)
                img.px[i] = (uint8_t)(fer_rng_u64(&r) >> 56);
            double c = cos(angles[j] * M_PI / 180), s = sin(angles[j] * M_PI / 180);
            for (int simd = 0; simd < paths; simd++) {
                fer_image t;
                fer_error e;
                ck_assert_int_eq(fer_image_turn_with(&img, angles[j], simd, &t, &e), FER_OK);
                for (int y = 0; y < t.h; y++)
                    for (int x = 0; x < t.w; x++)
                        ck_assert_msg(t.px[y * t.w + x] == plain_turned(&img, c, s, x, y),
                                      "%dx%d turned %g, path %d: pixel %d,%d", img.w, img.h,
                                      angles[j], simd, x, y);
                fer_image_free(&t);
            }
            fer_image_free(&img);
        }
}
END_TEST

/* A tilted head: the demo photo turned by 38 degrees, too far for the
 * upright cascade, has its face found by the turned search, cut upright,
 * where the face went. */
START_TEST(tilted_face_is_found)
{
    fer_analyzer *a = shipped_analyzer("tilted_face_is_found", 25);
    if (!a)
        return;
    fer_error e;
    fer_image img, t;
    ck_assert_int_eq(fer_image_load(DEMO, 0, &img, &e), FER_OK);
    ck_assert_int_eq(fer_image_turn(&img, -38, &t, &e), FER_OK);
    /* The face (centre 280,220 in the demo photo) in the turned photo: the
     * point that turn_point maps onto it. */
    double fx = 0, fy = 0, best = 1e9;
    for (int y = 0; y < t.h; y++)
        for (int x = 0; x < t.w; x++) {
            double sx, sy;
            fer_turn_point(t.w, t.h, -38, x + 0.5, y + 0.5, &sx, &sy);
            double d = hypot(sx - 280, sy - 220);
            if (d < best)
                best = d, fx = x + 0.5, fy = y + 0.5;
        }
    fer_faces f;
    ck_assert_int_eq(fer_analyze(a, &t, NULL, &f, &e), FER_OK);
    ck_assert_uint_ge(f.n, 1);
    fer_box b = f.face[0].box;
    ck_assert_msg(f.face[0].angle == 25 || f.face[0].angle == -25, "angle %g", f.face[0].angle);
    ck_assert_msg(hypot(b.x + b.w / 2.0 - fx, b.y + b.h / 2.0 - fy) < 0.2 * b.w,
                  "face at %d,%d %dx%d, expected centre %.0f,%.0f", b.x, b.y, b.w, b.h, fx, fy);
    ck_assert(f.face[0].score >= 0.5 && f.state_face >= 0);
    fer_faces_free(&f);
    fer_analyzer_free(a);
    a = shipped_analyzer("tilted_face_is_found", 0);
    ck_assert_int_eq(fer_analyze(a, &t, NULL, &f, &e), FER_OK);
    ck_assert_msg(f.n == 0, "found upright too: the test shows nothing");
    fer_faces_free(&f);
    fer_image_free(&t);
    fer_image_free(&img);
    fer_analyzer_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyze");
    TCase *tc = tcase_create("analyze");
    tcase_set_timeout(tc, 300); /* a hang guard: the 3840x2880 case is slow under ASan */
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, whole_image_is_one_face);
    tcase_add_test(tc, pick_best_and_largest);
    tcase_add_test(tc, scores_filter_proposals);
    tcase_add_test(tc, shipped_models_on_the_demo_photo);
    tcase_add_test(tc, shared_analyzer_answers_the_same);
    tcase_add_test(tc, face_crops);
    tcase_add_test(tc, turn_matches_plain);
    tcase_add_test(tc, any_image_analyses);
    tcase_add_test(tc, tilted_face_is_found);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
