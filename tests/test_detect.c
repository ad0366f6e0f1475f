/* Haar cascade parsing (Debian's cascades, broken variants), detection on
 * synthetic patterns, grouping, and agreement with OpenCV's own
 * detectMultiScale (tests/opencv_faces.py) on real photos from opencv-doc,
 * plus recall on FER2013 faces pasted onto photos (tests/make_composites.py). */
#include <dirent.h>
#include <sys/stat.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include "vision/haar.h"
#include "testutil.h"

#define CASCADE_DIR "/usr/share/opencv4/haarcascades/"
#define PHOTO_DATA "/usr/share/doc/opencv-doc/examples/data/"
#define PHOTO_HTML "/usr/share/doc/opencv-doc/opencv4/html/"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fer-test-detect-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static int exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* A small valid cascade: one stage, two stumps, "bottom half brighter
 * than top half" (rect 0 is the whole window at -1, rect 1 the lower half
 * at 2) and the same feature again. */
static const char *TINY =
    "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade type_id=\"opencv-cascade-classifier\">"
    "<stageType>BOOST</stageType><featureType>HAAR</featureType>\n"
    "<height>24</height><width>24</width>\n"
    "<stageParams><maxWeakCount>2</maxWeakCount></stageParams>\n"
    "<featureParams><maxCatCount>0</maxCatCount></featureParams>\n"
    "<stageNum>1</stageNum>\n<stages><_><maxWeakCount>2</maxWeakCount>"
    "<stageThreshold>0.5</stageThreshold><weakClassifiers>\n"
    "<_><internalNodes>0 -1 0 0.1</internalNodes><leafValues>-1. 1.</leafValues></_>\n"
    "<_><internalNodes>0 -1 1 0.1</internalNodes><leafValues>-1. 1.</leafValues></_>\n"
    "</weakClassifiers></_></stages>\n<features>\n"
    "<_><rects><_>0 0 24 24 -1.</_><_>0 12 24 12 2.</_></rects><tilted>0</tilted></_>\n"
    "<_><rects><_>2 0 20 24 -1.</_><_>2 12 20 12 2.</_></rects><tilted>0</tilted></_>\n"
    "</features></cascade>\n</opencv_storage>\n";

static void write_text(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    fclose(f);
}

/* TINY with the first occurrence of `from` replaced by `to`. */
static fer_status load_variant(const char *from, const char *to, fer_cascade **c, fer_error *err)
{
    char text[4096], path[128];
    const char *at = strstr(TINY, from);
    ck_assert_ptr_nonnull(at);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - TINY), TINY, to, at + strlen(from));
    snprintf(path, sizeof path, "%s/v.xml", tmpdir);
    write_text(path, text, strlen(text));
    return fer_cascade_load(path, c, err);
}

START_TEST(tiny_cascade_loads)
{
    make_tmpdir();
    fer_cascade *c;
    fer_error err;
    ck_assert_int_eq(load_variant("<height>", "<height>", &c, &err), FER_OK);
    ck_assert_int_eq(c->n_stages, 1);
    ck_assert_int_eq(c->n_trees, 2);
    ck_assert_int_eq(c->n_features, 2);
    ck_assert_int_eq(c->max_nodes_per_tree, 1);
    ck_assert_int_eq(c->features[0].n_rects, 2);
    ck_assert_int_eq(c->features[0].r[1].y, 12);
    ck_assert(fabsf(c->stages[0].threshold - (0.5f - 1e-5f)) < 1e-9f);
    fer_cascade_free(c);
    remove_tmpdir();
}
END_TEST

/* Each broken variant fails with the expected code and names the file. */
START_TEST(broken_cascades)
{
    make_tmpdir();
    static const struct { const char *from, *to, *msg; fer_status code; } cases[] = {
        {"<stageNum>1", "<stageNum>2", "stageNum", FER_EFORMAT},
        {"<maxWeakCount>2</maxWeakCount><stageThreshold>",
         "<maxWeakCount>3</maxWeakCount><stageThreshold>", "maxWeakCount", FER_EFORMAT},
        {"0 12 24 12 2.", "0 12 24 13 2.", "window", FER_EFORMAT},
        {"0 12 24 12 2.", "-1 12 24 12 2.", "window", FER_EFORMAT},
        {"0 -1 1 0.1", "0 -1 7 0.1", "feature index", FER_EFORMAT},
        {"0 -1 1 0.1", "0 -1 1", "groups of 4", FER_EFORMAT},
        {"-1. 1.</leafValues></_>\n</weak", "-1.</leafValues></_>\n</weak", "leafValues",
         FER_EFORMAT},
        {"0 -1 0 0.1", "0 -5 0 0.1", "outside its tree", FER_EFORMAT},
        {"0 -1 0 0.1", "0 -1 0 zz", "not a finite number", FER_EFORMAT},
        {"<featureType>HAAR", "<featureType>LBP", "LBP", FER_EUNSUPPORTED},
        {"<tilted>0</tilted></_>\n</features>", "<tilted>1</tilted></_>\n</features>",
         "tilted rectangle 2 0 20 24", FER_EFORMAT},
        {"<tilted>0</tilted></_>\n</features>", "<tilted>2</tilted></_>\n</features>",
         "<tilted> is 2", FER_EFORMAT},
        {"<opencv_storage>\n", "<opencv_storage><haar/>", "old-format", FER_EUNSUPPORTED},
        {"<width>24</width>", "", "width", FER_EFORMAT},
        {"</features></cascade>", "</features></cascad>", "XML error", FER_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fer_cascade *c = (fer_cascade *)1;
        fer_error err = {0, ""};
        fer_status s = load_variant(cases[i].from, cases[i].to, &c, &err);
        ck_assert_msg(s == cases[i].code, "case %zu: status %d, %s", i, s, err.msg);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(err.msg, cases[i].msg) && strstr(err.msg, "v.xml:"),
                      "case %zu: message \"%s\"", i, err.msg);
    }
    /* truncated in the middle, empty, missing */
    char path[128];
    fer_cascade *c;
    fer_error err;
    snprintf(path, sizeof path, "%s/cut.xml", tmpdir);
    write_text(path, TINY, strlen(TINY) / 2);
    ck_assert_int_eq(fer_cascade_load(path, &c, &err), FER_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "cut.xml"));
    write_text(path, "", 0);
    ck_assert_int_eq(fer_cascade_load(path, &c, &err), FER_EFORMAT);
    snprintf(path, sizeof path, "%s/none.xml", tmpdir);
    ck_assert_int_eq(fer_cascade_load(path, &c, &err), FER_EIO);
    remove_tmpdir();
}
END_TEST

/* Random byte edits of a valid cascade: each load either succeeds or fails
 * cleanly (the sanitizer build checks for memory errors); a loaded one
 * can run. */
START_TEST(mutated_cascades_never_crash)
{
    make_tmpdir();
    char path[128], text[4096];
    snprintf(path, sizeof path, "%s/m.xml", tmpdir);
    size_t len = strlen(TINY);
    static const char alphabet[] = "0123456789-.< >/_eE";
    fer_rng r;
    fer_rng_seed(&r, 42);
    fer_image img = {64, 64, malloc(64 * 64)};
    for (int i = 0; i < 64 * 64; i++)
        img.px[i] = (uint8_t)(i * 37 % 251);
    int loaded = 0;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(text, TINY, len + 1);
        int edits = 1 + (int)fer_rng_below(&r, 3);
        for (int e = 0; e < edits; e++)
            text[fer_rng_below(&r, (uint32_t)len)] = alphabet[fer_rng_below(&r, sizeof alphabet - 1)];
        write_text(path, text, len);
        fer_cascade *c;
        fer_error err;
        if (fer_cascade_load(path, &c, &err) == FER_OK) {
            fer_box *b;
            size_t n;
            ck_assert_int_eq(fer_detect_faces(c, &img, NULL, &b, &n, &err), FER_OK);
            free(b);
            fer_cascade_free(c);
            loaded++;
        } else {
            ck_assert_ptr_nonnull(strstr(err.msg, "m.xml"));
        }
    }
    ck_assert_int_gt(loaded, 0); /* some edits are harmless (digits in values) */
    fer_image_free(&img);
    remove_tmpdir();
}
END_TEST

/* A DOCTYPE is refused before any declaration in it: one internal entity
 * referenced 40000 times made a 222 KB file cost 4 GB and 20 s. Here a
 * harmless entity (the file loaded with it before) and an external DTD. */
START_TEST(doctype_refused)
{
    make_tmpdir();
    const char *doctypes[2] = {"<!DOCTYPE opencv_storage [<!ENTITY n \"24\">]>\n",
                               "<!DOCTYPE opencv_storage SYSTEM \"http://192.0.2.1/x.dtd\">\n"};
    const char *root = strstr(TINY, "<opencv_storage>"), *height = strstr(TINY, "<height>24");
    for (int i = 0; i < 2; i++) {
        char text[4096], path[128];
        snprintf(text, sizeof text, "%.*s%s%.*s<height>%s%s", (int)(root - TINY), TINY,
                 doctypes[i], (int)(height - root), root, i ? "24" : "&n;", height + 10);
        snprintf(path, sizeof path, "%s/d.xml", tmpdir);
        write_text(path, text, strlen(text));
        fer_cascade *c;
        fer_error err;
        ck_assert_int_eq(fer_cascade_load(path, &c, &err), FER_EFORMAT);
        ck_assert_msg(strstr(err.msg, "d.xml:2: a DOCTYPE"), "%s", err.msg);
    }
    remove_tmpdir();
}
END_TEST

START_TEST(debian_cascades)
{
    if (!exists(FER_DEFAULT_CASCADE)) {
        printf("debian_cascades: skipped, opencv-data is not installed\n");
        return;
    }
    fer_cascade *c;
    fer_error err;
    ck_assert_int_eq(fer_cascade_load(FER_DEFAULT_CASCADE, &c, &err), FER_OK);
    ck_assert_int_eq(c->n_stages, 25);
    ck_assert_int_eq(c->win_w, 24);
    ck_assert_int_eq(c->win_h, 24);
    ck_assert_int_eq(c->n_trees, 2913);
    ck_assert_int_eq(c->max_nodes_per_tree, 1);
    fer_cascade_free(c);
    const char *ok[] = {"haarcascade_frontalface_alt.xml", "haarcascade_frontalface_alt2.xml",
                        "haarcascade_frontalface_alt_tree.xml", "haarcascade_eye.xml",
                        "haarcascade_profileface.xml", "haarcascade_smile.xml",
                        "haarcascade_eye_tree_eyeglasses.xml", "haarcascade_upperbody.xml"};
    for (size_t i = 0; i < 8; i++) {
        char path[256];
        snprintf(path, sizeof path, CASCADE_DIR "%s", ok[i]);
        ck_assert_msg(fer_cascade_load(path, &c, &err) == FER_OK, "%s", err.msg);
        fer_cascade_free(c);
    }
    ck_assert_int_eq(fer_cascade_load(CASCADE_DIR "haarcascade_smile.xml", &c, &err), FER_OK);
    ck_assert(c->has_tilted);
    fer_cascade_free(c);
    /* LBP and old-format cascades are refused, not misread */
    const char *no[] = {"/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml",
                        CASCADE_DIR "haarcascade_licence_plate_rus_16stages.xml"};
    for (size_t i = 0; i < 2; i++)
        if (exists(no[i]))
            ck_assert_int_eq(fer_cascade_load(no[i], &c, &err), FER_EUNSUPPORTED);
    /* and every other one loads (none has a DOCTYPE) */
    DIR *d = opendir(CASCADE_DIR);
    ck_assert_ptr_nonnull(d);
    int loaded = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[512];
        snprintf(path, sizeof path, CASCADE_DIR "%s", e->d_name);
        if (!strstr(e->d_name, ".xml") || !strcmp(path, no[1]))
            continue;
        ck_assert_msg(fer_cascade_load(path, &c, &err) == FER_OK, "%s", err.msg);
        fer_cascade_free(c);
        loaded++;
    }
    closedir(d);
    ck_assert_int_ge(loaded, 8);
}
END_TEST

/* ---- detection on synthetic images with the tiny cascade */

static fer_image flat_image(int w, int h, uint8_t v)
{
    fer_image img = {w, h, malloc((size_t)w * h)};
    memset(img.px, v, (size_t)w * h);
    return img;
}

/* A square of side s at (x,y): upper half `top`, lower half `bottom`. */
static void paint_square(fer_image *img, int x, int y, int s, uint8_t top, uint8_t bottom)
{
    for (int j = 0; j < s; j++)
        memset(img->px + (size_t)(y + j) * img->w + x, j < s / 2 ? top : bottom, (size_t)s);
}

START_TEST(tiny_cascade_finds_pattern)
{
    make_tmpdir();
    fer_cascade *c;
    fer_error err;
    ck_assert_int_eq(load_variant("<height>", "<height>", &c, &err), FER_OK);
    fer_detect_opts o;
    fer_detect_opts_default(&o);
    fer_image img = flat_image(200, 160, 128);
    paint_square(&img, 70, 50, 60, 40, 220);
    fer_box *b;
    size_t n;
    ck_assert_int_eq(fer_detect_faces(c, &img, &o, &b, &n, &err), FER_OK);
    ck_assert_uint_ge(n, 1);
    for (size_t i = 0; i < n; i++) { /* every box is centred on the square */
        int cx = b[i].x + b[i].w / 2, cy = b[i].y + b[i].h / 2;
        ck_assert_msg(cx >= 70 && cx < 130 && cy >= 50 && cy < 110, "box %d,%d %dx%d", b[i].x,
                      b[i].y, b[i].w, b[i].h);
        if (i)
            ck_assert_int_ge((long)b[i - 1].w * b[i - 1].h, (long)b[i].w * b[i].h);
    }
    /* the same decision written as a 2-node tree gives the same boxes */
    fer_cascade *tree;
    ck_assert_int_eq(load_variant("<internalNodes>0 -1 0 0.1</internalNodes><leafValues>-1. 1.",
                                  "<internalNodes>1 -2 0 0.1 0 -1 1 0.1</internalNodes>"
                                  "<leafValues>-1. -1. 1.",
                                  &tree, &err),
                     FER_OK);
    ck_assert_int_eq(tree->max_nodes_per_tree, 2);
    fer_box *bt;
    size_t nt;
    ck_assert_int_eq(fer_detect_faces(tree, &img, &o, &bt, &nt, &err), FER_OK);
    ck_assert_uint_eq(nt, n);
    ck_assert_mem_eq(bt, b, n * sizeof *b);
    free(bt);
    fer_cascade_free(tree);
    free(b);
    /* bright above dark at the top of the image: no dark-over-bright edge
     * anywhere, so nothing; flat: nothing (variance check) */
    memset(img.px, 40, 200 * 160);
    paint_square(&img, 70, 0, 60, 220, 40);
    ck_assert_int_eq(fer_detect_faces(c, &img, &o, &b, &n, &err), FER_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(b);
    memset(img.px, 90, 200 * 160);
    ck_assert_int_eq(fer_detect_faces(c, &img, &o, &b, &n, &err), FER_OK);
    ck_assert_uint_eq(n, 0);
    /* image smaller than the window, bad options */
    fer_image small = flat_image(20, 20, 0);
    ck_assert_int_eq(fer_detect_faces(c, &small, &o, &b, &n, &err), FER_OK);
    ck_assert_uint_eq(n, 0);
    o.scale_factor = 1.0;
    ck_assert_int_eq(fer_detect_faces(c, &img, &o, &b, &n, &err), FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "scale_factor"));
    fer_detect_opts_default(&o);
    o.min_neighbors = -1;
    ck_assert_int_eq(fer_detect_faces(c, &img, &o, &b, &n, &err), FER_ERANGE);
    ck_assert_int_eq(fer_detect_faces(NULL, &img, NULL, &b, &n, &err), FER_EINVAL);
    fer_image_free(&small);
    fer_image_free(&img);
    fer_cascade_free(c);
    remove_tmpdir();
}
END_TEST

/* ---- the tilted integral against its definition (checked once against
 * cv2.integral3): t[Y][X] sums the pixels (x, y), y < Y, |x - (X-1)| <= Y-1-y */

START_TEST(tilted_integral)
{
    const int sizes[][2] = {{1, 1}, {5, 1}, {1, 6}, {2, 2}, {9, 7}, {17, 30}, {31, 12}};
    fer_rng r;
    fer_rng_seed(&r, 5);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        uint8_t *px = malloc((size_t)w * h);
        uint32_t *t = malloc(sizeof *t * (size_t)(w + 1) * (h + 1));
        for (int i = 0; i < w * h; i++)
            px[i] = (uint8_t)fer_rng_below(&r, 256);
        haar_tilted_integral(px, w, h, t);
        for (int Y = 0; Y <= h; Y++)
            for (int X = 0; X <= w; X++) {
                uint32_t want = 0;
                for (int y = 0; y < Y; y++)
                    for (int x = 0; x < w; x++)
                        if (abs(x - (X - 1)) <= Y - 1 - y)
                            want += px[y * w + x];
                ck_assert_msg(t[Y * (w + 1) + X] == want, "%dx%d at %d,%d", w, h, X, Y);
            }
        free(px);
        free(t);
    }
}
END_TEST

/* ---- grouping, checked by hand */

START_TEST(grouping)
{
    fer_box b[] = {{100, 100, 50, 50}, {102, 98, 52, 52}, {98, 101, 49, 49},
                   {101, 103, 50, 50}, {300, 300, 40, 40}, {305, 302, 41, 41},
                   {120, 118, 20, 20}, {121, 119, 20, 20}, {119, 120, 21, 21},
                   {122, 117, 20, 20}, {400, 10, 30, 30}};
    size_t n = sizeof b / sizeof b[0], kept;
    fer_box g[sizeof b / sizeof b[0]];
    fer_error err;
    memcpy(g, b, sizeof b);
    ck_assert_int_eq(haar_group(g, n, 0, 0.2, &kept, &err), FER_OK);
    ck_assert_uint_eq(kept, n); /* min_neighbors 0: the raw boxes */
    memcpy(g, b, sizeof b);
    /* 4 big near (100,100), 2 near (300,300), 4 small inside the big ones, 1 alone.
     * With min_neighbors 3 only classes of > 3 survive: the big one (mean
     * of its 4) and the small one, which lies inside the big one but the
     * big has no more than max(3, 4) members, so both stay. */
    ck_assert_int_eq(haar_group(g, n, 3, 0.2, &kept, &err), FER_OK);
    ck_assert_uint_eq(kept, 2);
    fer_box big = {100, 100, 50, 50}; /* (401/4, 402/4, 202/4, 201/4) rounded */
    fer_box small = {120, 118, 20, 20};
    ck_assert_mem_eq(&g[0], &big, sizeof big);
    ck_assert_mem_eq(&g[1], &small, sizeof small);
    /* a fifth big box makes it win over the nested small class */
    fer_box b2[12];
    memcpy(b2, b, sizeof b);
    b2[11] = (fer_box){99, 99, 51, 51};
    ck_assert_int_eq(haar_group(b2, 12, 3, 0.2, &kept, &err), FER_OK);
    ck_assert_uint_eq(kept, 1);
    ck_assert_int_eq(b2[0].w, 50);
}
END_TEST

/* ---- the AVX2 scan against the plain one: the same hits in the same order
 * on every level of a pyramid, for both steps, on a photo, on noise and on
 * the tiny cascade's pattern, with upright and tilted stump cascades */

enum { MAX_HITS = 8192 };
typedef struct hitlist {
    fer_box b[MAX_HITS];
    size_t n;
} hitlist;

static int collect(void *arg, const fer_box *box)
{
    hitlist *h = arg;
    ck_assert_uint_lt(h->n, MAX_HITS);
    h->b[h->n++] = *box;
    return 1;
}

/* Scans every level (step 1.1) of img with both paths; returns the hits. */
static size_t scan_paths_on(const fer_cascade *c, const fer_image *img)
{
    size_t total = 0;
    haar_work wk;
    ck_assert(haar_work_alloc(&wk, c, img->w, img->h));
    hitlist *plain = malloc(sizeof *plain), *simd = malloc(sizeof *simd);
    ck_assert(plain && simd);
    for (float scale = 1.f;; scale *= 1.1f) {
        int w = (int)lrintf((float)img->w / scale), h = (int)lrintf((float)img->h / scale);
        if (w < c->win_w + 1 || h < c->win_h + 1)
            break;
        haar_work_level(&wk, img->px, img->w, img->h, w, h);
        for (int step = 1; step <= 2; step++) {
            plain->n = simd->n = 0;
            ck_assert(haar_level_buf_use(wk.lb, HAAR_PATH_C));
            size_t n0 = haar_scan_level(c, wk.lb, wk.sum, wk.sq, (int)wk.tofs, w, h, scale, step,
                                        collect, plain);
            ck_assert(haar_level_buf_use(wk.lb, HAAR_PATH_AVX2));
            size_t n1 = haar_scan_level(c, wk.lb, wk.sum, wk.sq, (int)wk.tofs, w, h, scale, step,
                                        collect, simd);
            ck_assert_uint_eq(n0, plain->n);
            ck_assert_msg(n1 == n0, "%dx%d step %d: %zu hits, plain %zu", w, h, step, n1, n0);
            if (n0)
                ck_assert_mem_eq(simd->b, plain->b, n0 * sizeof *plain->b);
            total += n0;
        }
    }
    free(plain);
    free(simd);
    haar_work_free(&wk);
    return total;
}

/* The pyramid's resize on its AVX2 path gives the plain path's bytes:
 * noise, downscales of many ratios (whole halves, odd sizes, one pixel,
 * ratios near 1) and both ends of the gather's row bound. */
START_TEST(resize_paths_agree)
{
    if (!haar_path_supported(HAAR_PATH_AVX2)) {
        printf("resize_paths_agree: skipped, this CPU has no AVX2\n");
        return;
    }
    static const int sizes[][4] = {{64, 48, 32, 24}, {203, 151, 184, 137}, {203, 151, 29, 21},
                                   {40, 9, 39, 8},   {17, 5, 16, 5},      {640, 480, 581, 436},
                                   {9, 9, 1, 1},     {33, 2, 8, 1},       {12, 12, 11, 12}};
    fer_rng rng;
    fer_rng_seed(&rng, 3);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int sw = sizes[k][0], sh = sizes[k][1], dw = sizes[k][2], dh = sizes[k][3];
        uint8_t *src = malloc((size_t)sw * sh), *d0 = malloc((size_t)dw * dh),
                *d1 = malloc((size_t)dw * dh);
        int *ints = malloc(sizeof *ints * (4 * (size_t)dw + 2 * (size_t)dh));
        ck_assert(src && d0 && d1 && ints);
        for (int i = 0; i < sw * sh; i++)
            src[i] = (uint8_t)(fer_rng_u64(&rng) >> 56);
        haar_resize_buf b = {ints, ints + dw, ints + 2 * dw, ints + 3 * dw, ints + 4 * dw,
                             ints + 4 * dw + dh, 0};
        haar_resize_linear(src, sw, sh, d0, dw, dh, &b);
        b.simd = 1;
        haar_resize_linear(src, sw, sh, d1, dw, dh, &b);
        ck_assert_msg(memcmp(d0, d1, (size_t)dw * dh) == 0, "%dx%d -> %dx%d", sw, sh, dw, dh);
        free(src), free(d0), free(d1), free(ints);
    }
}
END_TEST

/* Both integrals on the AVX2 path are the plain path's numbers: noise and
 * full-white images (the squares' sums wrap past 2^32 on the big one),
 * widths around the 8-column step. */
START_TEST(integral_paths_agree)
{
    if (!haar_path_supported(HAAR_PATH_AVX2)) {
        printf("integral_paths_agree: skipped, this CPU has no AVX2\n");
        return;
    }
    static const int sizes[][2] = {{1, 1}, {7, 3}, {8, 2}, {9, 5}, {17, 16}, {203, 151}, {300, 260}};
    fer_rng rng;
    fer_rng_seed(&rng, 5);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (int white = 0; white < 2; white++) {
            int w = sizes[k][0], h = sizes[k][1];
            size_t n = (size_t)(w + 1) * (h + 1);
            uint8_t *px = malloc((size_t)w * h);
            uint32_t *s0 = malloc(n * sizeof *s0), *q0 = malloc(n * sizeof *q0),
                     *s1 = malloc(n * sizeof *s1), *q1 = malloc(n * sizeof *q1);
            ck_assert(px && s0 && q0 && s1 && q1);
            for (int i = 0; i < w * h; i++)
                px[i] = white ? 255 : (uint8_t)(fer_rng_u64(&rng) >> 56);
            haar_integral_with(px, w, h, s0, q0, 0);
            haar_integral_with(px, w, h, s1, q1, 1);
            ck_assert_msg(memcmp(s0, s1, n * sizeof *s0) == 0, "%dx%d sums", w, h);
            ck_assert_msg(memcmp(q0, q1, n * sizeof *q0) == 0, "%dx%d squares", w, h);
            ck_assert_uint_eq(s0[n - 1], (uint32_t)(white ? 255u * w * h : s0[n - 1]));
            free(px), free(s0), free(q0), free(s1), free(q1);
        }
}
END_TEST

START_TEST(scan_paths_agree)
{
    if (!haar_path_supported(HAAR_PATH_AVX2)) {
        printf("scan_paths_agree: skipped, this CPU has no AVX2\n");
        return;
    }
    make_tmpdir();
    fer_error err;
    fer_cascade *tiny;
    ck_assert_int_eq(load_variant("<height>", "<height>", &tiny, &err), FER_OK);
    fer_image pattern = flat_image(203, 151, 128); /* odd sizes: partial last blocks */
    paint_square(&pattern, 70, 50, 60, 40, 220);
    paint_square(&pattern, 150, 20, 30, 90, 200);
    ck_assert_uint_gt(scan_paths_on(tiny, &pattern), 0);
    fer_image_free(&pattern);
    fer_cascade_free(tiny);
    remove_tmpdir();

    fer_image noise = flat_image(157, 121, 0);
    fer_rng rng;
    fer_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)noise.w * noise.h; i++)
        noise.px[i] = (uint8_t)(fer_rng_u64(&rng) >> 56);
    fer_image photo = {0};
    if (exists("datasets/demo/face.png"))
        ck_assert_int_eq(fer_image_load("datasets/demo/face.png", 0, &photo, &err), FER_OK);
    const char *names[] = {FER_DEFAULT_CASCADE, CASCADE_DIR "haarcascade_smile.xml",
                           CASCADE_DIR "haarcascade_eye.xml"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        fer_cascade *c;
        if (!exists(names[k])) {
            printf("scan_paths_agree: %s skipped, opencv-data missing\n", names[k]);
            continue;
        }
        ck_assert_int_eq(fer_cascade_load(names[k], &c, &err), FER_OK);
        size_t on_noise = scan_paths_on(c, &noise);
        size_t on_photo = photo.px ? scan_paths_on(c, &photo) : 0;
        printf("scan_paths_agree: %s: %zu hits on noise, %zu on the demo photo\n", names[k],
               on_noise, on_photo);
        if (k == 0 && photo.px)
            ck_assert_uint_gt(on_photo, 0); /* the face: stages beyond the first agree */
        fer_cascade_free(c);
    }
    fer_image_free(&photo);
    fer_image_free(&noise);
}
END_TEST

/* ---- agreement with OpenCV on real photos */

static double iou(const fer_box *a, const fer_box *b)
{
    int x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
    int x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    double inter = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0;
    return inter / ((double)a->w * a->h + (double)b->w * b->h - inter);
}

static double best_iou(const fer_box *want, const fer_box *got, size_t n)
{
    double best = 0;
    for (size_t i = 0; i < n; i++)
        best = fmax(best, iou(want, &got[i]));
    return best;
}

static const char *PHOTOS[] = {
    PHOTO_DATA "messi5.jpg",          PHOTO_HTML "julia_facedetect_sample.jpg",
    PHOTO_HTML "faceDetection.png",   PHOTO_HTML "newspaper.jpg",
    PHOTO_HTML "astra_color.jpg",     PHOTO_HTML "Cascade_Classifier_Tutorial_Result_Haar.jpg",
    PHOTO_HTML "2.jpg",
};

/* Runs tests/opencv_faces.py and ours with `cascade` on the photos that
 * exist; checks >= 90% of OpenCV's boxes matched at IoU >= 0.7 and few
 * extras. `name` labels the printed figures. */
static void compare_with_opencv(const char *name, const char *cascade, const char *const *photos,
                                size_t np)
{
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/opencv_faces.py %s 1.1 3 30",
                     cascade);
    for (size_t i = 0; i < np; i++)
        if (exists(photos[i]))
            k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s", photos[i]);
    if (!exists(cascade) || !exists(photos[0]) || !exists("/usr/bin/python3")) {
        printf("%s: skipped, opencv-data/opencv-doc/python3 missing\n", name);
        return;
    }
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char path[160];
    fer_box ref[256];
    char refpath[256][160];
    size_t nref = 0;
    while (nref < 256 && fscanf(p, "%159s %d %d %d %d", path, &ref[nref].x, &ref[nref].y,
                                &ref[nref].w, &ref[nref].h) == 5)
        memcpy(refpath[nref++], path, sizeof path);
    int rc = pclose(p);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("%s: skipped, python3-opencv missing\n", name);
        return;
    }
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "opencv_faces.py failed");
    ck_assert_uint_gt(nref, 0);
    fer_cascade *c;
    fer_error err;
    ck_assert_int_eq(fer_cascade_load(cascade, &c, &err), FER_OK);
    size_t matched = 0, ours_total = 0, exact = 0;
    for (size_t i = 0; i < np; i++) {
        if (!exists(photos[i]))
            continue;
        fer_image img;
        ck_assert_int_eq(fer_image_load(photos[i], 0, &img, &err), FER_OK);
        fer_box *b;
        size_t n;
        ck_assert_int_eq(fer_detect_faces(c, &img, NULL, &b, &n, &err), FER_OK);
        ours_total += n;
        for (size_t r = 0; r < nref; r++) {
            if (strcmp(refpath[r], photos[i]) != 0)
                continue;
            double v = best_iou(&ref[r], b, n);
            matched += v >= 0.7;
            exact += v == 1.0;
        }
        free(b);
        fer_image_free(&img);
    }
    fer_cascade_free(c);
    printf("%s: %zu OpenCV boxes, %zu matched at IoU >= 0.7 (%zu identical), %zu boxes of ours\n",
           name, nref, matched, exact, ours_total);
    ck_assert_msg(matched * 10 >= nref * 9, "only %zu of %zu matched", matched, nref);
    ck_assert_msg(ours_total <= nref + nref / 10 + 1, "%zu extra boxes", ours_total - matched);
}

START_TEST(matches_opencv)
{
    compare_with_opencv("matches_opencv", FER_DEFAULT_CASCADE, PHOTOS,
                        sizeof PHOTOS / sizeof PHOTOS[0]);
}
END_TEST

/* Tilted features: the smile cascade (117 tilted features) is so
 * sensitive that JPEG decoders' +-1 differences change its boxes, so on
 * lossless photos, where the result must be the same as OpenCV's. */
START_TEST(matches_opencv_tilted)
{
    const char *photos[] = {PHOTO_HTML "faceDetection.png", PHOTO_HTML "eigenfaces_opencv.png",
                            PHOTO_HTML "fisherface_reconstruction_opencv.png"};
    compare_with_opencv("matches_opencv_tilted", CASCADE_DIR "haarcascade_smile.xml", photos, 3);
}
END_TEST

/* ---- FER2013 faces pasted on photos: recall against the ground truth */

START_TEST(composite_recall)
{
    char csv[512];
    if (!tu_shared("datasets/fer2013.csv.gz", csv, sizeof csv) || !exists(FER_DEFAULT_CASCADE)) {
        printf("composite_recall: skipped, ../shared/datasets/fer2013.csv.gz or opencv-data "
               "missing\n");
        return;
    }
    make_tmpdir();
    char cmd[1024], path[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/make_composites.py '%s' '%s' 8 1", csv,
             tmpdir);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("composite_recall: skipped, python3-opencv or background photos missing\n");
        remove_tmpdir();
        return;
    }
    ck_assert_int_eq(rc, 0);
    snprintf(path, sizeof path, "%s/truth.csv", tmpdir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256], file[64], last[64] = "";
    int n_truth = 0, found = 0, extra = 0, label;
    double iou_sum = 0;
    fer_cascade *c;
    fer_error err;
    ck_assert_int_eq(fer_cascade_load(FER_DEFAULT_CASCADE, &c, &err), FER_OK);
    fer_box *b = NULL, t;
    size_t n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        ck_assert_int_eq(sscanf(line, "%63[^,],%d,%d,%d,%d,%d", file, &t.x, &t.y, &t.w, &t.h,
                                &label), 6);
        if (strcmp(file, last) != 0) { /* a new photo: detect once */
            free(b);
            fer_image img;
            snprintf(path, sizeof path, "%s/%s", tmpdir, file);
            ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
            ck_assert_int_eq(fer_detect_faces(c, &img, NULL, &b, &n, &err), FER_OK);
            fer_image_free(&img);
            snprintf(last, sizeof last, "%s", file);
            extra += (int)n;
        }
        double v = best_iou(&t, b, n);
        n_truth++;
        found += v >= 0.5;
        extra -= v >= 0.5;
        iou_sum += v;
    }
    free(b);
    fclose(f);
    fer_cascade_free(c);
    printf("composite_recall: %d pasted faces, %d found at IoU >= 0.5 (recall %.2f), mean best "
           "IoU %.2f, %d other boxes\n", n_truth, found, (double)found / n_truth,
           iou_sum / n_truth, extra);
    ck_assert_int_ge(found * 10, n_truth * 6); /* measured 8 of 12 */
    remove_tmpdir();
}
END_TEST

START_TEST(demo_photo_has_one_face)
{
    const char *demo = "datasets/demo/face.png";
    if (!exists(demo) || !exists(FER_DEFAULT_CASCADE)) {
        printf("demo_photo_has_one_face: skipped, %s or opencv-data missing\n", demo);
        return;
    }
    fer_cascade *c;
    fer_image img;
    fer_error err;
    fer_box *b;
    size_t n;
    ck_assert_int_eq(fer_cascade_load(FER_DEFAULT_CASCADE, &c, &err), FER_OK);
    ck_assert_int_eq(fer_image_load(demo, 0, &img, &err), FER_OK);
    ck_assert_int_eq(fer_detect_faces(c, &img, NULL, &b, &n, &err), FER_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_ge(b[0].w, 100);
    free(b);
    fer_image_free(&img);
    fer_cascade_free(c);
}
END_TEST

/* Count of pixels in [x0,x1) x [y0,y1) whose green channel is below 30 (text). */
static int dark_pixels(const fer_rgb_image *img, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            n += img->px[((size_t)y * img->w + x) * 3 + 1] < 30;
    return n;
}

static fer_rgb_image flat_rgb(int w, int h)
{
    fer_rgb_image img = {w, h, malloc((size_t)w * h * 3)};
    ck_assert_ptr_nonnull(img.px);
    memset(img.px, 200, (size_t)w * h * 3);
    return img;
}

/* Boxes and labels drawn on a buffer: the edge drawn and the inside
 * untouched, a label above its box, one at the top edge moved below its box,
 * labels of touching boxes kept apart, lines thicker on a big photo. */
START_TEST(annotate_draws_on_the_buffer)
{
    fer_rgb_image img = flat_rgb(160, 120);
    fer_box boxes[] = {{40, 50, 60, 50}, {-20, -20, 50, 40}, {150, 100, 100, 100}};
    const char *labels[] = {"Happy and excited", "caf\xc3\xa9 \x01\x7f", NULL};
    fer_error err;
    ck_assert_int_eq(fer_image_annotate(&img, boxes, labels, 3, &err), FER_OK);
    const uint8_t *left_edge = img.px + ((size_t)75 * img.w + 40) * 3;
    const uint8_t *inside = img.px + ((size_t)75 * img.w + 70) * 3;
    ck_assert_msg(left_edge[1] > 200 && left_edge[0] < 50, "box edge is drawn");
    ck_assert_int_eq(inside[0], 200); /* the inside is untouched */
    ck_assert_int_gt(dark_pixels(&img, 40, 36, 100, 50), 20); /* the label above box 0 */
    /* Box 1 touches the top edge: its label goes below it (y >= 20), inside the image. */
    ck_assert_int_gt(dark_pixels(&img, 0, 20, 60, 36), 10);
    ck_assert_int_eq(dark_pixels(&img, 0, 0, 30, 19), 0);
    fer_rgb_image_free(&img);

    /* Two boxes side by side: their labels would overlap above them; the
     * second goes below its box instead. */
    img = flat_rgb(200, 200);
    fer_box pair[] = {{20, 60, 60, 60}, {50, 60, 60, 60}};
    const char *two[] = {"first label", "second label"};
    ck_assert_int_eq(fer_image_annotate(&img, pair, two, 2, &err), FER_OK);
    ck_assert_int_gt(dark_pixels(&img, 20, 46, 100, 60), 20); /* first above */
    ck_assert_int_gt(dark_pixels(&img, 50, 120, 150, 136), 20); /* second below */
    fer_rgb_image_free(&img);

    /* Line width grows with the photo: 2 px at 160x120, 6 px at 2000x1600. */
    img = flat_rgb(2000, 1600);
    fer_box big = {500, 500, 400, 400};
    ck_assert_int_eq(fer_image_annotate(&img, &big, NULL, 1, &err), FER_OK);
    ck_assert_int_lt(img.px[((size_t)700 * img.w + 505) * 3], 50);
    ck_assert_int_eq(img.px[((size_t)700 * img.w + 506) * 3], 200);
    fer_rgb_image_free(&img);
    ck_assert_int_eq(fer_image_annotate(NULL, &big, NULL, 1, &err), FER_EINVAL);
}
END_TEST

/* PNG by default, JPEG for .jpg/.jpeg; the PNG reads back the same pixels;
 * an unwritable path is FER_EIO. */
START_TEST(annotate_saves_png_and_jpeg)
{
    make_tmpdir();
    char png[128], jpg[128], bad[160];
    snprintf(png, sizeof png, "%s/out.png", tmpdir);
    snprintf(jpg, sizeof jpg, "%s/out.JPG", tmpdir);
    snprintf(bad, sizeof bad, "%s/no/such/dir/out.png", tmpdir);
    fer_rgb_image img = flat_rgb(64, 48), back;
    for (size_t i = 0; i < (size_t)64 * 48 * 3; i++)
        img.px[i] = (uint8_t)(i * 7);
    fer_error err;
    ck_assert_int_eq(fer_rgb_image_save(&img, png, &err), FER_OK);
    ck_assert_int_eq(fer_rgb_image_save(&img, jpg, &err), FER_OK);
    ck_assert_int_eq(fer_image_load_rgb(png, 0, &back, &err), FER_OK);
    ck_assert(back.w == 64 && back.h == 48);
    ck_assert_mem_eq(back.px, img.px, (size_t)64 * 48 * 3);
    fer_rgb_image_free(&back);
    FILE *f = fopen(jpg, "rb");
    uint8_t magic[3] = {0};
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fread(magic, 1, 3, f), 3);
    fclose(f);
    ck_assert(magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF);
    ck_assert_int_eq(fer_image_load_rgb(jpg, 0, &back, &err), FER_OK);
    ck_assert(back.w == 64 && back.h == 48);
    fer_rgb_image_free(&back);
    ck_assert_int_eq(fer_rgb_image_save(&img, bad, &err), FER_EIO);
    ck_assert_int_eq(fer_image_load_rgb(bad, 0, &back, &err), FER_EIO);
    fer_rgb_image_free(&img);
    remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("detect");
    TCase *tc = tcase_create("detect");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tiny_cascade_loads);
    tcase_add_test(tc, broken_cascades);
    tcase_add_test(tc, mutated_cascades_never_crash);
    tcase_add_test(tc, doctype_refused);
    tcase_add_test(tc, debian_cascades);
    tcase_add_test(tc, tiny_cascade_finds_pattern);
    tcase_add_test(tc, tilted_integral);
    tcase_add_test(tc, grouping);
    tcase_add_test(tc, scan_paths_agree);
    tcase_add_test(tc, resize_paths_agree);
    tcase_add_test(tc, integral_paths_agree);
    tcase_add_test(tc, matches_opencv);
    tcase_add_test(tc, matches_opencv_tilted);
    tcase_add_test(tc, composite_recall);
    tcase_add_test(tc, demo_photo_has_one_face);
    tcase_add_test(tc, annotate_draws_on_the_buffer);
    tcase_add_test(tc, annotate_saves_png_and_jpeg);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
