/* Multi-scale face detection as OpenCV's CascadeClassifier::detectMultiScale
 * does it: the image (not the window) is scaled down by scale_factor steps,
 * each level is scanned with the cascade's fixed window, and the raw hits
 * are grouped, clipped to the image and sorted by area. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/haar.h"

#define GROUP_EPS 0.2
#define MAX_LEVELS 4096

void fer_detect_opts_default(fer_detect_opts *o)
{
    o->scale_factor = 1.1;
    o->min_neighbors = 3;
    o->min_size = 30;
    o->max_size = 0;
}

static fer_status check_args(const fer_cascade *c, const fer_image *img,
                             const fer_detect_opts *o, fer_box **boxes, size_t *n,
                             fer_error *err)
{
    if (!c || !img || !o || !boxes || !n)
        return fer_fail(err, FER_EINVAL, "fer_detect_faces: NULL argument");
    if (!img->px || img->w <= 0 || img->h <= 0)
        return fer_fail(err, FER_EINVAL, "fer_detect_faces: empty image");
    /* Integral offsets (two images for tilted features) must fit an int. */
    if ((size_t)img->w * (size_t)img->h > ((size_t)1 << 28))
        return fer_fail(err, FER_ERANGE, "fer_detect_faces: %dx%d image too large", img->w,
                        img->h);
    /* Below 1.01 the number of pyramid levels (and the time) explodes. */
    if (!(o->scale_factor >= 1.01 && o->scale_factor <= 10.0))
        return fer_fail(err, FER_ERANGE, "scale_factor %g outside [1.01, 10]", o->scale_factor);
    if (o->min_neighbors < 0 || o->min_neighbors > 1000)
        return fer_fail(err, FER_ERANGE, "min_neighbors %d outside [0, 1000]", o->min_neighbors);
    if (o->min_size < 0 || o->max_size < 0)
        return fer_fail(err, FER_ERANGE, "min_size/max_size must not be negative");
    return FER_OK;
}

/* OpenCV's scale list: factors whose rounded window fits in [min, max]. */
static int pyramid_scales(const fer_cascade *c, const fer_image *img, const fer_detect_opts *o,
                          float *scales)
{
    int max_w = o->max_size > 0 ? o->max_size : img->w;
    int max_h = o->max_size > 0 ? o->max_size : img->h;
    int n = 0;
    for (double f = 1; n < MAX_LEVELS; f *= o->scale_factor) {
        int ww = (int)lrint(c->win_w * f), wh = (int)lrint(c->win_h * f);
        if (ww > max_w || wh > max_h || ww > img->w || wh > img->h)
            break;
        if (ww < o->min_size || wh < o->min_size)
            continue;
        scales[n++] = (float)f;
    }
    return n;
}

/* Growing list of raw hits. */
typedef struct hits {
    fer_box *b;
    size_t n, cap;
} hits;

static int add_hit(void *arg, const fer_box *box)
{
    hits *h = arg;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        fer_box *nb = realloc(h->b, nc * sizeof *nb);
        if (!nb)
            return 0;
        h->b = nb;
        h->cap = nc;
    }
    h->b[h->n++] = *box;
    return 1;
}

void haar_work_free(haar_work *w)
{
    free(w->level);
    free(w->sum);
    free(w->sq);
    free(w->ints);
    haar_level_buf_free(w->lb);
}

int haar_work_alloc(haar_work *w, const fer_cascade *c, int iw, int ih)
{
    memset(w, 0, sizeof *w);
    size_t cells = ((size_t)iw + 1) * ((size_t)ih + 1);
    w->level = malloc((size_t)iw * ih);
    w->tofs = c->has_tilted ? cells : 0;
    w->sum = calloc((c->has_tilted ? 2 : 1) * cells + HAAR_SCAN_PAD, sizeof *w->sum);
    w->sq = calloc(cells + HAAR_SCAN_PAD, sizeof *w->sq);
    w->ints = malloc(sizeof *w->ints * (4 * (size_t)iw + 2 * (size_t)ih));
    w->lb = haar_level_buf_new(c);
    if (!w->level || !w->sum || !w->sq || !w->ints || !w->lb)
        return 0;
    w->rb.xofs = w->ints;
    w->rb.xw = w->ints + iw;
    w->rb.row0 = w->ints + 2 * (size_t)iw;
    w->rb.row1 = w->ints + 3 * (size_t)iw;
    w->rb.yofs = w->ints + 4 * (size_t)iw;
    w->rb.yw = w->ints + 4 * (size_t)iw + ih;
    w->rb.simd = haar_path_supported(HAAR_PATH_AVX2);
    return 1;
}

/* The pyramid level of a scale, as OpenCV rounds it (never above the image). */
static void level_size(const fer_image *img, float scale, int *lw, int *lh)
{
    *lw = (int)lrintf((float)img->w / scale);
    *lh = (int)lrintf((float)img->h / scale);
    *lw = *lw > img->w ? img->w : *lw;
    *lh = *lh > img->h ? img->h : *lh;
}

void haar_work_level(haar_work *w, const uint8_t *px, int iw, int ih, int lw, int lh)
{
    haar_resize_linear(px, iw, ih, w->level, lw, lh, &w->rb);
    haar_integral(w->level, lw, lh, w->sum, w->sq);
    if (w->tofs)
        haar_tilted_integral(w->level, lw, lh, w->sum + w->tofs);
}

static int scan_scale(const fer_cascade *c, const fer_image *img, haar_work *w, float scale,
                      hits *h)
{
    int lw, lh;
    level_size(img, scale, &lw, &lh);
    haar_work_level(w, img->px, img->w, img->h, lw, lh);
    int step = scale >= 2 ? 1 : 2;
    return haar_scan_level(c, w->lb, w->sum, w->sq, (int)w->tofs, lw, lh, scale, step, add_hit,
                           h) != (size_t)-1;
}

/* OpenCV clips the final boxes to the image and drops empty ones. */
static size_t clip_boxes(fer_box *b, size_t n, int iw, int ih)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int x0 = b[i].x > 0 ? b[i].x : 0, y0 = b[i].y > 0 ? b[i].y : 0;
        int x1 = b[i].x + b[i].w < iw ? b[i].x + b[i].w : iw;
        int y1 = b[i].y + b[i].h < ih ? b[i].y + b[i].h : ih;
        if (x1 > x0 && y1 > y0)
            b[k++] = (fer_box){x0, y0, x1 - x0, y1 - y0};
    }
    return k;
}

static int by_area_desc(const void *pa, const void *pb)
{
    const fer_box *a = pa, *b = pb;
    long aa = (long)a->w * a->h, ab = (long)b->w * b->h;
    if (aa != ab)
        return aa < ab ? 1 : -1;
    if (a->y != b->y)
        return a->y < b->y ? -1 : 1;
    return a->x < b->x ? -1 : a->x > b->x;
}

fer_status fer_detect_faces(const fer_cascade *c, const fer_image *img, const fer_detect_opts *o,
                            fer_box **boxes, size_t *n, fer_error *err)
{
    fer_detect_opts defaults;
    if (!o) {
        fer_detect_opts_default(&defaults);
        o = &defaults;
    }
    fer_status s = check_args(c, img, o, boxes, n, err);
    if (s != FER_OK)
        return s;
    *boxes = NULL;
    *n = 0;
    float *scales = malloc(sizeof *scales * MAX_LEVELS);
    haar_work w;
    hits h = {NULL, 0, 0};
    int n_scales = scales ? pyramid_scales(c, img, o, scales) : 0;
    /* Levels only shrink: buffers sized for the first one serve all. */
    int lw = 1, lh = 1;
    if (n_scales)
        level_size(img, scales[0], &lw, &lh);
    int ok = scales && haar_work_alloc(&w, c, lw, lh);
    for (int i = 0; ok && i < n_scales; i++)
        ok = scan_scale(c, img, &w, scales[i], &h);
    if (scales)
        haar_work_free(&w);
    free(scales);
    if (!ok) {
        free(h.b);
        return fer_fail(err, FER_ENOMEM, "fer_detect_faces: out of memory for a %dx%d image",
                        img->w, img->h);
    }
    size_t kept;
    s = haar_group(h.b, h.n, o->min_neighbors, GROUP_EPS, &kept, err);
    if (s != FER_OK) {
        free(h.b);
        return s;
    }
    kept = clip_boxes(h.b, kept, img->w, img->h);
    if (kept > 1)
        qsort(h.b, kept, sizeof *h.b, by_area_desc);
    if (kept == 0) {
        free(h.b);
        h.b = NULL;
    }
    *boxes = h.b;
    *n = kept;
    return FER_OK;
}
