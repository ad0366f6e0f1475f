/* verifier-data: the training set of the face verifier (docs/training.md).
 *
 *   verifier-data [--mine VERIFIER [--round N]] OUT FER2013.csv|- PHOTO...
 *
 * writes OUT/face/NNNNNN.pgm and OUT/nonface/NNNNNN.pgm, 48x48 grey crops cut
 * exactly as fer_analyze cuts a proposal for its verifier (fer_face_crop with
 * -FER_VERIFY_INSET: the inside of the box, upright), so the verifier learns
 * on what it will judge. The proposals come from
 *  - round 1 (no --mine): the Haar cascade's raw hits (no grouping), upright;
 *  - round 2 (--mine VERIFIER): fer_analyze itself with its default settings
 *    (grouped proposals, upright and turned by +-tilt) scored by the round-1
 *    VERIFIER, hardest first: the mistakes the pipeline would make.
 * Faces: each FER2013 Training face is pasted (feathered edges, random size,
 * position, rotation, flip, contrast, blur and noise) onto a patch of a
 * people-free PHOTO; proposals that overlap it (IoU >= 0.5, at most two) are
 * faces, faces the detector misses never reach the verifier either.
 * Non-faces: proposals on the PHOTOs at four scales and on the canvases away
 * from the face, random boxes of every size (round 1), and (round 2)
 * proposals on photo patches overlaid with stripes (window blinds, striped
 * clothes), a checkerboard or a tiled motif (patterned wallpaper), regular
 * structure the wallpapers lack.
 * Round 3 (--mine VERIFIER --round 3) is round 2 with the round-2 VERIFIER
 * and two more kinds of canvas, the false positives round 2 left on real
 * photos: print (lines of random letters and digits in a DejaVu font, upright
 * or on their side) and emblems (badges, buttons, clock faces, smileys: a
 * disc or ring with a mark inside).
 * Round N > 3 is round 3 again, mining with round N-1's VERIFIER.
 * Later rounds write into round 1's OUT (names starting with "m", "r3",
 * "r4", ...), so OUT then holds the training set of the shipped verifier. One seed a
 * round, one thread: the same inputs give the same files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fer.h>
#include <stb_truetype.h>

/* Round 2 (slower: three searches and the verifier per image) pastes every
 * ROUND2_EVERY-th face only. */
enum { SIDE = 48, MAX_PHOTO_SIDE = 1600, HITS_PER_SCALE = 60, RANDOM_PER_SCALE = 40,
       N_PATTERNS = 2000, PATTERN_SIDE = 320, HITS_PER_PATTERN = 6, ROUND2_EVERY = 8,
       N_PRINT = 1500, N_EMBLEMS = 1500, N_FONTS = 6 };

/* Round 3's print, in the fonts of Debian's fonts-dejavu-core. */
static const char *const font_files[N_FONTS] = {
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"};

typedef struct ctx {
    const char *dir;
    long n_face, n_nonface;
    fer_cascade *cascade;    /* round 1 */
    fer_analyzer *analyzer;  /* round 2 */
    double max_tilt;         /* pasted faces turn by up to this many degrees */
    int round;               /* 1, 2, 3, ... */
    char prefix[4];          /* of the file names: "", "m", then "r3", "r4", ... */
    stbtt_fontinfo font[N_FONTS];  /* rounds 3 and later */
    unsigned char *font_data[N_FONTS];
    fer_rng rng;
} ctx;

static int die(const char *what, const char *msg)
{
    fprintf(stderr, "verifier-data: %s: %s\n", what, msg);
    exit(1);
}

static void write_pgm(ctx *c, int face, const uint8_t *px)
{
    char path[4096];
    long n = face ? c->n_face++ : c->n_nonface++;
    /* Rounds 2 and 3 add their crops beside round 1's, under names of their own. */
    snprintf(path, sizeof path, "%s/%s/%s%06ld.pgm", c->dir, face ? "face" : "nonface",
             c->prefix, n);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path, strerror(errno));
    fprintf(f, "P5\n%d %d\n255\n", SIDE, SIDE);
    fwrite(px, 1, SIDE * SIDE, f);
    if (fclose(f) != 0)
        die(path, strerror(errno));
}

/* The crop the analyzer feeds the verifier: no trace of a pasted face's
 * square edges survives the inset. */
static void emit(ctx *c, int face, const fer_image *img, const fer_face *f)
{
    uint8_t px[SIDE * SIDE];
    fer_error err;
    if (fer_face_crop(img, f, -FER_VERIFY_INSET, SIDE, SIDE, px, &err) == FER_OK)
        write_pgm(c, face, px);
}

static double uniform(fer_rng *r, double a, double b) { return a + (b - a) * fer_rng_uniform(r); }

static double gauss(fer_rng *r)
{
    double u = fer_rng_uniform(r) + 1e-12, v = fer_rng_uniform(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static double iou(fer_box a, fer_box b, double *inter_frac_b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double in = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0;
    if (inter_frac_b)
        *inter_frac_b = in / ((double)b.w * b.h);
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

static fer_image scaled(const fer_image *src, double s)
{
    fer_image d = {(int)lround(src->w * s), (int)lround(src->h * s), NULL};
    fer_error err;
    if (d.w < 24 || d.h < 24)
        return (fer_image){0};
    if (!(d.px = malloc((size_t)d.w * d.h)) ||
        fer_image_crop_resize(src, 0, 0, src->w, src->h, d.w, d.h, d.px, &err))
        die("resize", "failed");
    return d;
}

static int by_score(const void *pa, const void *pb)
{
    const fer_face *a = pa, *b = pb;
    return (a->score < b->score) - (a->score > b->score);
}

/* The proposals on img, shuffled, then (round 2) hardest first: raw Haar
 * hits of min_size..max_size (0: any) pixels, or fer_analyze's proposals. */
static void propose(ctx *c, const fer_image *img, int min_size, int max_size, fer_face **f,
                    size_t *n)
{
    fer_error err;
    if (c->analyzer) {
        fer_faces ff;
        if (fer_analyze(c->analyzer, img, NULL, &ff, &err))
            die("analyze", err.msg);
        *f = ff.face, *n = ff.n;
    } else {
        fer_detect_opts o;
        fer_detect_opts_default(&o);
        o.min_neighbors = 0;
        o.min_size = min_size;
        o.max_size = max_size;
        fer_box *b;
        if (fer_detect_faces(c->cascade, img, &o, &b, n, &err))
            die("detect", err.msg);
        *f = calloc(*n ? *n : 1, sizeof **f);
        for (size_t i = 0; *f && i < *n; i++)
            (*f)[i] = (fer_face){.box = b[i]};
        free(b);
        if (!*f)
            die("proposals", "out of memory");
    }
    for (size_t i = 0; i < *n; i++) {
        size_t j = i + fer_rng_below(&c->rng, (uint32_t)(*n - i));
        fer_face t = (*f)[i];
        (*f)[i] = (*f)[j];
        (*f)[j] = t;
    }
    if (c->analyzer && *n > 1) /* qsort is not stable, but the ties are random anyway */
        qsort(*f, *n, sizeof **f, by_score);
}

/* Up to k proposals on img as non-faces. */
static void negatives(ctx *c, const fer_image *img, size_t k)
{
    fer_face *f;
    size_t n;
    propose(c, img, 24, 0, &f, &n);
    for (size_t i = 0; i < n && i < k; i++)
        emit(c, 0, img, &f[i]);
    free(f);
}

static void mine_photo(ctx *c, const fer_image *photo)
{
    static const int sides[4] = {1600, 1000, 640, 400};
    for (int s = 0; s < 4; s++) {
        int long_side = photo->w > photo->h ? photo->w : photo->h;
        if (sides[s] > long_side)
            continue;
        fer_image img = scaled(photo, (double)sides[s] / long_side);
        if (!img.px)
            continue;
        negatives(c, &img, HITS_PER_SCALE);
        int short_side = img.w < img.h ? img.w : img.h;
        for (int i = 0; !c->analyzer && i < RANDOM_PER_SCALE; i++) {
            int side = (int)exp(uniform(&c->rng, log(24), log(short_side)));
            fer_face f = {.box = {(int)fer_rng_below(&c->rng, (uint32_t)(img.w - side + 1)),
                                  (int)fer_rng_below(&c->rng, (uint32_t)(img.h - side + 1)), side,
                                  side}};
            emit(c, 0, &img, &f);
        }
        fer_image_free(&img);
    }
}

/* Bilinear sample of the 48x48 face at (u, v), edges clamped. */
static double sample48(const uint8_t *f, double u, double v)
{
    u = u < 0 ? 0 : u > SIDE - 1 ? SIDE - 1 : u;
    v = v < 0 ? 0 : v > SIDE - 1 ? SIDE - 1 : v;
    int x = (int)u, y = (int)v, x1 = x + 1 < SIDE ? x + 1 : x, y1 = y + 1 < SIDE ? y + 1 : y;
    double a = u - x, b = v - y;
    return (1 - b) * ((1 - a) * f[y * SIDE + x] + a * f[y * SIDE + x1]) +
           b * ((1 - a) * f[y1 * SIDE + x] + a * f[y1 * SIDE + x1]);
}

/* A square patch of a photo, `side` pixels. */
static fer_image patch_of(const fer_image *photo, int side, fer_rng *r)
{
    int ps = photo->w < photo->h ? photo->w : photo->h;
    int patch = side > ps ? ps : (int)uniform(r, side, ps);
    fer_image c = {side, side, malloc((size_t)side * side)};
    fer_error err;
    if (!c.px || fer_image_crop_resize(photo, (int)fer_rng_below(r, (uint32_t)(photo->w - patch + 1)),
                                       (int)fer_rng_below(r, (uint32_t)(photo->h - patch + 1)),
                                       patch, patch, side, side, c.px, &err))
        die("canvas", "failed");
    return c;
}

/* A canvas: a patch of a photo with the face pasted at box `fb`. */
static fer_image make_canvas(ctx *cx, const uint8_t *face, const fer_image *photo, fer_box *fb)
{
    fer_rng *r = &cx->rng;
    double s = exp(uniform(r, log(40), log(160)));
    int side = (int)lround(s * uniform(r, 1.8, 2.6));
    fer_image c = patch_of(photo, side, r);
    double fx = side / 2.0 + uniform(r, -0.1, 0.1) * side, fy = side / 2.0 + uniform(r, -0.1, 0.1) * side;
    double th = uniform(r, -cx->max_tilt, cx->max_tilt) * M_PI / 180, k = SIDE / s;
    int flip = fer_rng_below(r, 2);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double dx = x + 0.5 - fx, dy = y + 0.5 - fy;
            double u = (cos(th) * dx + sin(th) * dy) * k + SIDE / 2.0 - 0.5;
            double v = (-sin(th) * dx + cos(th) * dy) * k + SIDE / 2.0 - 0.5;
            double edge = fmin(fmin(u + 0.5, SIDE - 0.5 - u), fmin(v + 0.5, SIDE - 0.5 - v));
            if (edge <= 0)
                continue;
            double a = edge >= 12 ? 1 : edge / 12; /* the outer 12 of 48 px fade out */
            a = a * a * (3 - 2 * a);
            double f = sample48(face, flip ? SIDE - 1 - u : u, v);
            c.px[y * side + x] = (uint8_t)lround(a * f + (1 - a) * c.px[y * side + x]);
        }
    *fb = (fer_box){(int)lround(fx - s / 2), (int)lround(fy - s / 2), (int)lround(s), (int)lround(s)};
    /* Photometric: contrast, brightness, sometimes a blur, sensor noise. */
    double gain = uniform(r, 0.7, 1.3), bias = uniform(r, -30, 30), sigma = uniform(r, 0, 6);
    int blur = fer_rng_uniform(r) < 0.3;
    uint8_t *tmp = blur ? malloc((size_t)side * side) : NULL;
    if (tmp) {
        memcpy(tmp, c.px, (size_t)side * side);
        for (int y = 1; y < side - 1; y++)
            for (int x = 1; x < side - 1; x++) {
                int sum = 0;
                for (int j = -1; j <= 1; j++)
                    for (int i = -1; i <= 1; i++)
                        sum += tmp[(y + j) * side + x + i];
                c.px[y * side + x] = (uint8_t)((sum + 4) / 9);
            }
        free(tmp);
    }
    for (int i = 0; i < side * side; i++) {
        double v = (c.px[i] - 128) * gain + 128 + bias + sigma * gauss(r);
        c.px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
    }
    return c;
}

static void paste_face(ctx *c, const uint8_t *face, const fer_image *photo)
{
    fer_box fb;
    fer_face *f;
    size_t n, kept = 0, neg = 0;
    fer_image canvas = make_canvas(c, face, photo, &fb);
    /* Round 1: only the scales that can match the face (IoU >= 0.5 needs a
     * side within 2x), for speed. */
    propose(c, &canvas, (int)(fb.w * 0.6), (int)(fb.w * 1.6) + 1, &f, &n);
    for (size_t i = 0; i < n; i++) {
        double covered, o = iou(f[i].box, fb, &covered);
        if (o >= 0.5 && kept < 2)
            emit(c, 1, &canvas, &f[i]), kept++;
        else if (o < 0.1 && covered < 0.25 && neg < 1)
            emit(c, 0, &canvas, &f[i]), neg++;
    }
    free(f);
    fer_image_free(&canvas);
}

/* A photo patch with, blended over part of it, stripes (square or sine wave,
 * mostly near horizontal or vertical), a checkerboard, or a small piece of the
 * patch tiled like a wallpaper (in a brick layout half the time). */
static fer_image pattern_canvas(const fer_image *photo, fer_rng *r)
{
    int side = PATTERN_SIDE;
    fer_image c = patch_of(photo, side, r);
    int checker = fer_rng_uniform(r) < 0.3, square = fer_rng_uniform(r) < 0.5;
    double period = exp(uniform(r, log(4), log(48)));
    double th = fer_rng_uniform(r) < 0.7 ? (fer_rng_below(r, 2) * 90 + uniform(r, -15, 15))
                                         : uniform(r, 0, 180);
    th *= M_PI / 180;
    double amp = uniform(r, 30, 120), level = uniform(r, 60, 200), mix = uniform(r, 0.5, 1);
    int x0 = (int)fer_rng_below(r, side / 2), y0 = (int)fer_rng_below(r, side / 2);
    int x1 = x0 + side / 2 + (int)fer_rng_below(r, (uint32_t)(side - x0 - side / 2 + 1));
    int y1 = y0 + side / 2 + (int)fer_rng_below(r, (uint32_t)(side - y0 - side / 2 + 1));
    enum { MAX_MOTIF = 64 };
    uint8_t motif[MAX_MOTIF * MAX_MOTIF];
    int m = 12 + (int)fer_rng_below(r, MAX_MOTIF - 11), brick = (int)fer_rng_below(r, 2);
    int tiled = fer_rng_uniform(r) < 0.4;
    int mx = (int)fer_rng_below(r, (uint32_t)(side - m)), my = (int)fer_rng_below(r, (uint32_t)(side - m));
    for (int y = 0; y < m; y++)
        memcpy(motif + y * m, c.px + (my + y) * side + mx, (size_t)m);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            double u = (cos(th) * x + sin(th) * y) / period, v = (-sin(th) * x + cos(th) * y) / period;
            double w = square ? (fmod(u + 1e6, 1) < 0.5 ? 1 : -1) : sin(2 * M_PI * u);
            if (checker)
                w = (fmod(u + 1e6, 1) < 0.5) == (fmod(v + 1e6, 1) < 0.5) ? 1 : -1;
            double val = level + amp * w;
            if (tiled) {
                int row = (y - y0) / m, tx = (x - x0 + (brick && row % 2 ? m / 2 : 0)) % m;
                val = motif[((y - y0) % m) * m + tx];
            }
            val = mix * val + (1 - mix) * c.px[y * side + x];
            c.px[y * side + x] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : lround(val));
        }
    return c;
}

/* Round 3's fonts, read whole (stb_truetype keeps pointers into the data). */
static void load_fonts(ctx *c)
{
    for (int i = 0; i < N_FONTS; i++) {
        FILE *f = fopen(font_files[i], "rb");
        if (!f)
            die(font_files[i], "cannot open (apt-get install fonts-dejavu-core fonts-dejavu-extra)");
        long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        c->font_data[i] = n > 0 ? malloc((size_t)n) : NULL;
        if (!c->font_data[i] || fseek(f, 0, SEEK_SET) != 0 ||
            fread(c->font_data[i], 1, (size_t)n, f) != (size_t)n)
            die(font_files[i], "cannot read");
        fclose(f);
        if (!stbtt_InitFont(&c->font[i], c->font_data[i],
                            stbtt_GetFontOffsetForIndex(c->font_data[i], 0)))
            die(font_files[i], "not a TrueType font");
    }
}

/* Coverage planes (0..1, side x side) that the marks below are drawn into,
 * then blended over a canvas as ink. */
static void cover(float *plane, int side, int x, int y, float v)
{
    if (x >= 0 && x < side && y >= 0 && y < side && v > plane[y * side + x])
        plane[y * side + x] = v;
}

/* The glyphs of s at pixel height px from the pen at (x, baseline y). */
static void draw_text(const stbtt_fontinfo *font, double px, const char *s, float *plane,
                      int side, double x, double y)
{
    float scale = stbtt_ScaleForPixelHeight(font, (float)px);
    for (; *s; s++) {
        int adv, lsb, w, h, xo, yo;
        stbtt_GetCodepointHMetrics(font, *s, &adv, &lsb);
        unsigned char *g = stbtt_GetCodepointBitmap(font, 0, scale, *s, &w, &h, &xo, &yo);
        for (int j = 0; g && j < h; j++)
            for (int i = 0; i < w; i++)
                cover(plane, side, (int)lround(x) + xo + i, (int)lround(y) + yo + j,
                      g[j * w + i] / 255.0f);
        stbtt_FreeBitmap(g, NULL);
        x += adv * scale;
    }
}

/* A stroke from (x0, y0) to (x1, y1), half as wide as hw, antialiased. */
static void draw_line(float *plane, int side, double x0, double y0, double x1, double y1, double hw)
{
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy + 1e-9;
    int xa = (int)floor(fmin(x0, x1) - hw - 1), xb = (int)ceil(fmax(x0, x1) + hw + 1);
    int ya = (int)floor(fmin(y0, y1) - hw - 1), yb = (int)ceil(fmax(y0, y1) + hw + 1);
    for (int y = ya; y <= yb; y++)
        for (int x = xa; x <= xb; x++) {
            double t = fmax(0, fmin(1, ((x + 0.5 - x0) * dx + (y + 0.5 - y0) * dy) / len2));
            double d = hypot(x + 0.5 - x0 - t * dx, y + 0.5 - y0 - t * dy);
            cover(plane, side, x, y, (float)fmax(0, fmin(1, hw - d + 0.5)));
        }
}

static void draw_disc(float *plane, int side, double cx, double cy, double rad)
{
    draw_line(plane, side, cx, cy, cx, cy, rad);
}

/* Ink of level `ink` over c where the plane, turned by th about the centre
 * (bilinear), covers it; `mix` of opacity. */
static void blend_ink(fer_image *c, const float *plane, double th, double ink, double mix)
{
    int side = c->w;
    double h = side / 2.0, cs = cos(th), sn = sin(th);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double u = cs * (x + 0.5 - h) + sn * (y + 0.5 - h) + h - 0.5;
            double v = -sn * (x + 0.5 - h) + cs * (y + 0.5 - h) + h - 0.5;
            int i = (int)floor(u), j = (int)floor(v);
            if (i < 0 || j < 0 || i + 1 >= side || j + 1 >= side)
                continue;
            double a = u - i, b = v - j;
            const float *p = plane + j * side + i;
            double cov = (1 - b) * ((1 - a) * p[0] + a * p[1]) + b * ((1 - a) * p[side] + a * p[side + 1]);
            double val = c->px[y * side + x] + mix * cov * (ink - c->px[y * side + x]);
            c->px[y * side + x] = (uint8_t)lround(fmax(0, fmin(255, val)));
        }
}

static float *new_plane(int side)
{
    float *p = calloc((size_t)side * side, sizeof *p);
    if (!p)
        die("canvas", "out of memory");
    return p;
}

/* Print: one to five lines of random letters and digits (all capitals a third
 * of the time), 10-110 px high, on a paper-like rectangle or straight on the
 * photo, dark on light or light on dark, upright or on either side (a
 * newspaper lying on a table), turned up to 10 degrees more. */
static fer_image print_canvas(ctx *cx, const fer_image *photo)
{
    static const char glyphs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    fer_rng *r = &cx->rng;
    int side = PATTERN_SIDE;
    fer_image c = patch_of(photo, side, r);
    float *plane = new_plane(side), *paper = new_plane(side);
    const stbtt_fontinfo *font = &cx->font[fer_rng_below(r, N_FONTS)];
    double px = exp(uniform(r, log(10), log(110)));
    int caps = fer_rng_below(r, 3) == 0, lines = 1 + (int)fer_rng_below(r, 5);
    double y = uniform(r, 0, side * 0.4) + px;
    for (int l = 0; l < lines && y < side + px; l++, y += px * uniform(r, 1.05, 1.5)) {
        char s[40];
        int len = 2 + (int)fer_rng_below(r, sizeof s - 3);
        for (int k = 0; k < len; k++)
            s[k] = k && fer_rng_below(r, 7) == 0 ? ' '
                                                 : glyphs[fer_rng_below(r, caps ? 26 : sizeof glyphs - 1)];
        s[len] = 0;
        draw_text(font, px, s, plane, side, uniform(r, -px, side * 0.4), y);
    }
    int dark_ink = fer_rng_below(r, 3) != 0;
    double ink = dark_ink ? uniform(r, 0, 90) : uniform(r, 170, 255);
    double th = ((int)fer_rng_below(r, 3) - 1) * 90 * (fer_rng_uniform(r) < 0.5) + uniform(r, -10, 10);
    if (fer_rng_uniform(r) < 0.6) { /* a sheet or label under the print */
        int x0 = (int)fer_rng_below(r, side / 3), y0 = (int)fer_rng_below(r, side / 3);
        for (int yy = y0; yy < side - (int)fer_rng_below(r, side / 3); yy++)
            for (int xx = x0; xx < side; xx++)
                paper[yy * side + xx] = 1;
        blend_ink(&c, paper, th * M_PI / 180, dark_ink ? uniform(r, 150, 250) : uniform(r, 0, 110),
                  uniform(r, 0.7, 1));
    }
    blend_ink(&c, plane, th * M_PI / 180, ink, uniform(r, 0.7, 1));
    free(plane);
    free(paper);
    return c;
}

/* An emblem: a disc or ellipse, often a ring around a second level, with
 * nothing, one to three letters, a smiley, a clock face or a star inside. */
static fer_image emblem_canvas(ctx *cx, const fer_image *photo)
{
    fer_rng *r = &cx->rng;
    int side = PATTERN_SIDE;
    fer_image c = patch_of(photo, side, r);
    float *outer = new_plane(side), *inner = new_plane(side), *mark = new_plane(side);
    double R = exp(uniform(r, log(14), log(130))), ry = R * uniform(r, 0.8, 1.25);
    double x0 = side / 2.0 + uniform(r, -0.15, 0.15) * side, y0 = side / 2.0 + uniform(r, -0.15, 0.15) * side;
    double ring = fer_rng_uniform(r) < 0.7 ? uniform(r, 0.55, 0.92) : 1;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double dx = (x + 0.5 - x0) / R, dy = (y + 0.5 - y0) / ry, d = sqrt(dx * dx + dy * dy);
            outer[y * side + x] = (float)fmax(0, fmin(1, (1 - d) * R + 0.5));
            inner[y * side + x] = (float)fmax(0, fmin(1, (ring - d) * R + 0.5));
        }
    double a = uniform(r, 20, 235), b = uniform(r, 20, 235), in = R * ring;
    double ink = b > 128 ? uniform(r, 0, 90) : uniform(r, 165, 255), hw = fmax(0.7, in * uniform(r, 0.03, 0.08));
    switch (fer_rng_below(r, 5)) {
    case 1: { /* letters */
        char s[4] = {0};
        int n = 1 + (int)fer_rng_below(r, 3);
        for (int k = 0; k < n; k++)
            s[k] = (char)('A' + fer_rng_below(r, 26));
        double px = in * uniform(r, 0.6, 1.2) / (n > 1 ? 1.5 : 1);
        draw_text(&cx->font[fer_rng_below(r, N_FONTS)], px, s, mark, side, x0 - px * 0.3 * n, y0 + px * 0.35);
        break;
    }
    case 2: /* a smiley: two eyes and a mouth */
        draw_disc(mark, side, x0 - in * 0.35, y0 - in * 0.25, in * uniform(r, 0.07, 0.15));
        draw_disc(mark, side, x0 + in * 0.35, y0 - in * 0.25, in * uniform(r, 0.07, 0.15));
        for (int k = 0; k < 12; k++) {
            double t0 = M_PI * (0.15 + 0.7 * k / 12), t1 = M_PI * (0.15 + 0.7 * (k + 1) / 12);
            double m = in * 0.5, yc = y0 + in * uniform(r, -0.05, 0.1);
            draw_line(mark, side, x0 + m * cos(t0), yc + m * sin(t0), x0 + m * cos(t1), yc + m * sin(t1), hw);
        }
        break;
    case 3: /* a clock face: twelve ticks and two hands */
        for (int k = 0; k < 12; k++) {
            double t = k * M_PI / 6;
            draw_line(mark, side, x0 + in * 0.75 * cos(t), y0 + in * 0.75 * sin(t),
                      x0 + in * 0.9 * cos(t), y0 + in * 0.9 * sin(t), hw);
        }
        for (int k = 0; k < 2; k++) {
            double t = uniform(r, 0, 2 * M_PI), l = in * (k ? 0.45 : 0.7);
            draw_line(mark, side, x0, y0, x0 + l * cos(t), y0 + l * sin(t), hw * (k ? 1.5 : 1));
        }
        break;
    case 4: { /* a star or cross: lines through the centre */
        int n = 2 + (int)fer_rng_below(r, 3);
        double t0 = uniform(r, 0, M_PI);
        for (int k = 0; k < n; k++) {
            double t = t0 + k * M_PI / n;
            draw_line(mark, side, x0 - in * 0.7 * cos(t), y0 - in * 0.7 * sin(t),
                      x0 + in * 0.7 * cos(t), y0 + in * 0.7 * sin(t), hw * 1.5);
        }
        break;
    }
    default: /* a plain button or ring */
        break;
    }
    blend_ink(&c, outer, 0, a, 1);
    blend_ink(&c, inner, 0, b, 1);
    blend_ink(&c, mark, 0, ink, 1);
    free(outer);
    free(inner);
    free(mark);
    return c;
}

int main(int argc, char **argv)
{
    ctx c = {0};
    fer_error err;
    int a = 1;
    c.round = 1;
    if (argc > 2 && !strcmp(argv[1], "--mine")) {
        fer_analyzer_opts o;
        fer_analyzer_opts_default(&o);
        o.verifier_model = argv[2];
        o.min_score = 0; /* every proposal, scored */
        o.threads = 1;
        if (fer_analyzer_new(&o, &c.analyzer, &err))
            die(argv[2], err.msg);
        a = 3;
        c.round = 2;
        if (argc > 4 && !strcmp(argv[3], "--round")) {
            c.round = atoi(argv[4]);
            a = 5;
        }
    }
    if (c.round < 1 || c.round > 9)
        die("--round", "must be 2..9");
    if (argc - a < 3) {
        fprintf(stderr, "usage: verifier-data [--mine VERIFIER [--round N]] OUT FER2013.csv|- PHOTO...\n");
        return 2;
    }
    c.dir = argv[a];
    c.max_tilt = c.analyzer ? 35 : 15; /* rounds 2 and 3 also teach the turned proposals */
    if (c.round >= 3) {
        c.prefix[0] = 'r', c.prefix[1] = (char)('0' + c.round);
        load_fonts(&c);
    } else if (c.round == 2) {
        c.prefix[0] = 'm';
    }
    char path[4096];
    mkdir(c.dir, 0755);
    snprintf(path, sizeof path, "%s/face", c.dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/nonface", c.dir);
    mkdir(path, 0755);
    if (!c.analyzer && fer_cascade_load(FER_DEFAULT_CASCADE, &c.cascade, &err))
        die("cascade", err.msg);
    int n_photos = argc - a - 2;
    fer_image *photos = calloc((size_t)n_photos, sizeof *photos);
    if (!photos)
        die("photos", "out of memory");
    fer_rng_seed(&c.rng, (uint64_t)c.round);
    for (int i = 0; i < n_photos; i++) {
        fer_image full;
        if (fer_image_load(argv[a + 2 + i], 0, &full, &err))
            die(argv[a + 2 + i], err.msg);
        int long_side = full.w > full.h ? full.w : full.h;
        photos[i] = long_side > MAX_PHOTO_SIDE ? scaled(&full, (double)MAX_PHOTO_SIDE / long_side) : full;
        if (photos[i].px != full.px)
            fer_image_free(&full);
        mine_photo(&c, &photos[i]);
    }
    fprintf(stderr, "verifier-data: %ld non-faces from %d photos\n", c.n_nonface, n_photos);
    fer_dataset ds;
    if (fer_dataset_load_csv(argv[a + 1], 0, &ds, &err))
        die(argv[a + 1], err.msg);
    for (size_t i = 0; i < ds.n; i++)
        if (ds.usage[i] == FER_USAGE_TRAINING && (!c.analyzer || i % ROUND2_EVERY == 0))
            paste_face(&c, ds.pixels + i * SIDE * SIDE, &photos[fer_rng_below(&c.rng, (uint32_t)n_photos)]);
    fer_dataset_free(&ds);
    for (int i = 0; c.analyzer && i < N_PATTERNS; i++) {
        fer_image p = pattern_canvas(&photos[fer_rng_below(&c.rng, (uint32_t)n_photos)], &c.rng);
        negatives(&c, &p, HITS_PER_PATTERN);
        fer_image_free(&p);
    }
    for (int i = 0; c.round >= 3 && i < N_PRINT + N_EMBLEMS; i++) {
        const fer_image *photo = &photos[fer_rng_below(&c.rng, (uint32_t)n_photos)];
        fer_image p = i < N_PRINT ? print_canvas(&c, photo) : emblem_canvas(&c, photo);
        negatives(&c, &p, HITS_PER_PATTERN);
        fer_image_free(&p);
    }
    fprintf(stderr, "verifier-data: %ld faces, %ld non-faces in %s\n", c.n_face, c.n_nonface, c.dir);
    for (int i = 0; i < N_FONTS; i++)
        free(c.font_data[i]);
    for (int i = 0; i < n_photos; i++)
        fer_image_free(&photos[i]);
    free(photos);
    fer_cascade_free(c.cascade);
    fer_analyzer_free(c.analyzer);
    return 0;
}
