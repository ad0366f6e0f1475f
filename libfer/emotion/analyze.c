/* The face pipeline: a photo or a video frame in, scored faces with their
 * emotion probabilities and the fused state out (docs/face-detection.md,
 * "The analyzer").
 *
 *   working copy (long side <= max_side) -> Haar proposals (loose settings),
 *   upright and on the copy turned by +-tilt -> boxes mapped back to the
 *   image -> verifier CNN on the inside of each box, cut upright (score =
 *   P(face)) -> score >= min_score, overlaps suppressed -> emotion CNN on the
 *   margin crop -> the chosen face fused with the heart. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "emotion/emotion.h"
#include "vision/vision.h"

enum { MAX_CLASSES = 64, MAX_INPUT_SIDE = 1024, TURNED_MIN_SIZE = 40 };
#define TURNED_STEP 1.25

struct fer_analyzer {
    fer_analyzer_opts o;
    fer_cascade *cascade;
    int borrowed;      /* the cascade is another analyzer's (fer_analyzer_share) */
    fer_model *emotion, *verifier;
    int eh, ew, n_classes;
    int slot[MAX_CLASSES]; /* FER2013 index of each emotion-model class */
    int vh, vw, face_class;
};

void fer_analyzer_opts_default(fer_analyzer_opts *o)
{
    *o = (fer_analyzer_opts){0};
    fer_detect_opts_default(&o->detect);
    o->detect.min_neighbors = 1; /* loose: the verifier rejects what is not a face */
    o->detect.min_size = 24;
    o->margin = 0.1;
    o->min_score = 0.9; /* docs/face-detection.md, "Selection" */
    o->max_side = 1280;
    o->tilt = 25;
    o->pick = FER_FACE_BEST;
    o->tta = FER_TTA_DEFAULT;
    fer_fusion_opts_default(&o->fusion);
}

void fer_analyzer_free(fer_analyzer *a)
{
    if (!a)
        return;
    if (!a->borrowed)
        fer_cascade_free(a->cascade);
    fer_model_free(a->emotion);
    fer_model_free(a->verifier);
    free(a);
}

/* A grey model of at most MAX_INPUT_SIDE a side. */
static fer_status grey_input(const fer_model *m, const char *path, int *h, int *w, fer_error *err)
{
    int c;
    fer_model_input_shape(m, &c, h, w);
    if (c != 1 || *h < 1 || *w < 1 || *h > MAX_INPUT_SIDE || *w > MAX_INPUT_SIDE)
        return fer_fail(err, FER_EFORMAT, "%s: model takes %dx%dx%d input; the analyzer needs grey "
                        "(1-channel) images of at most %d a side", path, c, *h, *w, MAX_INPUT_SIDE);
    return FER_OK;
}

/* Every emotion-model class must be a different one of the seven FER2013 emotions. */
static fer_status map_classes(fer_analyzer *a, const char *path, fer_error *err)
{
    a->n_classes = fer_model_n_classes(a->emotion);
    if (a->n_classes < 2 || a->n_classes > MAX_CLASSES)
        return fer_fail(err, FER_EFORMAT, "%s: %d classes; an emotion model has 2..%d", path,
                        a->n_classes, MAX_CLASSES);
    for (int j = 0; j < a->n_classes; j++) {
        const char *name = fer_model_class_name(a->emotion, j);
        a->slot[j] = fer_emotion_index(name);
        if (a->slot[j] < 0)
            return fer_fail(err, FER_EFORMAT, "%s: class '%s' is not a FER2013 emotion", path,
                            name ? name : "(null)");
        for (int i = 0; i < j; i++)
            if (a->slot[i] == a->slot[j])
                return fer_fail(err, FER_EFORMAT, "%s: classes %d and %d are both '%s'", path, i,
                                j, fer_emotion_names[a->slot[j]]);
    }
    return FER_OK;
}

static fer_status load_verifier(fer_analyzer *a, const char *path, fer_error *err)
{
    fer_status s = fer_model_load(path, &a->verifier, err);
    if (!s)
        s = grey_input(a->verifier, path, &a->vh, &a->vw, err);
    if (s)
        return s;
    a->face_class = -1;
    for (int j = 0; j < fer_model_n_classes(a->verifier); j++)
        if (!strcmp(fer_model_class_name(a->verifier, j), "face"))
            a->face_class = j;
    if (a->face_class < 0 || fer_model_n_classes(a->verifier) != 2)
        return fer_fail(err, FER_EFORMAT, "%s: not a face verifier (needs two classes, one of "
                        "them \"face\")", path);
    return FER_OK;
}

static fer_status check_opts(const fer_analyzer_opts *o, fer_error *err)
{
    if (!o->emotion_model && o->no_detect)
        return fer_fail(err, FER_EINVAL, "analyzer: no emotion model given");
    if (!o->no_detect && !o->verifier_model)
        return fer_fail(err, FER_EINVAL, "analyzer: no face verifier given");
    if (!(o->margin >= 0 && o->margin <= 1))
        return fer_fail(err, FER_ERANGE, "analyzer: margin %g is not in [0, 1]", o->margin);
    if (!(o->min_score >= 0 && o->min_score <= 1))
        return fer_fail(err, FER_ERANGE, "analyzer: min_score %g is not in [0, 1]", o->min_score);
    if (o->max_side != 0 && (o->max_side < 64 || o->max_side > 16384))
        return fer_fail(err, FER_ERANGE, "analyzer: max_side %d is not 0 or 64..16384", o->max_side);
    if (!tta_known(o->tta))
        return fer_fail(err, FER_EINVAL, "analyzer: unknown test-time augmentation %d", (int)o->tta);
    if (!(o->tilt >= 0 && o->tilt <= 90))
        return fer_fail(err, FER_ERANGE, "analyzer: tilt %g is not in [0, 90] degrees", o->tilt);
    if (o->pick != FER_FACE_BEST && o->pick != FER_FACE_LARGEST)
        return fer_fail(err, FER_EINVAL, "analyzer: unknown face choice %d", (int)o->pick);
    if (o->threads < 0 || o->threads > 1024)
        return fer_fail(err, FER_ERANGE, "analyzer: threads %d is not 0..1024", o->threads);
    return FER_OK;
}

fer_status fer_analyzer_new(const fer_analyzer_opts *o, fer_analyzer **out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_analyzer_new: NULL argument");
    *out = NULL;
    fer_analyzer_opts def;
    if (!o)
        fer_analyzer_opts_default(&def), o = &def;
    fer_status s = check_opts(o, err);
    if (s)
        return s;
    fer_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return fer_fail(err, FER_ENOMEM, "analyzer: out of memory");
    a->o = *o;
    a->o.emotion_model = a->o.verifier_model = a->o.cascade = NULL; /* paths are not kept */
    if (o->emotion_model) {
        s = fer_model_load(o->emotion_model, &a->emotion, err);
        if (!s)
            s = grey_input(a->emotion, o->emotion_model, &a->eh, &a->ew, err);
        if (!s)
            s = map_classes(a, o->emotion_model, err);
    }
    if (!s && !o->no_detect)
        s = load_verifier(a, o->verifier_model, err);
    if (!s && !o->no_detect)
        s = fer_cascade_load(o->cascade ? o->cascade : FER_DEFAULT_CASCADE, &a->cascade, err);
    if (!s && o->threads && a->emotion)
        s = fer_model_set_threads(a->emotion, o->threads, err);
    if (!s && o->threads && a->verifier)
        s = fer_model_set_threads(a->verifier, o->threads, err);
    if (s) {
        fer_analyzer_free(a);
        return s;
    }
    *out = a;
    return FER_OK;
}

fer_status fer_analyzer_share(const fer_analyzer *src, fer_analyzer **out, fer_error *err)
{
    if (!src || !out)
        return fer_fail(err, FER_EINVAL, "fer_analyzer_share: NULL argument");
    *out = NULL;
    fer_analyzer *a = malloc(sizeof *a);
    if (!a)
        return fer_fail(err, FER_ENOMEM, "analyzer: out of memory");
    *a = *src; /* options, class map, input sizes; the cascade is only read */
    a->borrowed = 1;
    a->emotion = a->verifier = NULL;
    fer_status s = src->emotion ? fer_model_share(src->emotion, &a->emotion, err) : FER_OK;
    if (!s && src->verifier)
        s = fer_model_share(src->verifier, &a->verifier, err);
    if (s) {
        fer_analyzer_free(a);
        return s;
    }
    *out = a;
    return FER_OK;
}

const fer_model *fer_analyzer_emotion_model(const fer_analyzer *a) { return a ? a->emotion : NULL; }

/* ------------------------------------------------------------ detection */

/* Haar hits on img (the working copy, or it turned by deg), as faces in the
 * pixels of the image analysed: kx, ky = its size over the working copy's. */
static fer_status scan(const fer_analyzer *a, const fer_image *img, double deg, double kx,
                       double ky, fer_face **faces, size_t *n, size_t *cap, fer_error *err)
{
    fer_detect_opts o = a->o.detect;
    if (deg != 0) { /* the turned searches are coarser: tilted heads are big ones */
        o.scale_factor = o.scale_factor < TURNED_STEP ? TURNED_STEP : o.scale_factor;
        o.min_size = o.min_size < TURNED_MIN_SIZE ? TURNED_MIN_SIZE : o.min_size;
    }
    fer_box *b = NULL;
    size_t nb = 0;
    fer_status st = fer_detect_faces(a->cascade, img, &o, &b, &nb, err);
    if (!st && *n + nb > *cap) {
        size_t nc = *n + nb + 16;
        fer_face *f = realloc(*faces, nc * sizeof *f);
        if (!f)
            st = fer_fail(err, FER_ENOMEM, "analyzer: out of memory for %zu proposals", nc);
        else
            *faces = f, *cap = nc;
    }
    for (size_t i = 0; !st && i < nb; i++) {
        double cx, cy;
        fer_turn_point(img->w, img->h, deg, b[i].x + b[i].w / 2.0, b[i].y + b[i].h / 2.0, &cx, &cy);
        if (cx < 0 || cy < 0 || cx >= img->w || cy >= img->h)
            continue; /* centred on the turned copy's repeated edges, off the photo */
        int w = (int)lround(b[i].w * kx), h = (int)lround(b[i].h * ky);
        (*faces)[(*n)++] = (fer_face){.box = {(int)lround(cx * kx - w / 2.0),
                                              (int)lround(cy * ky - h / 2.0), w, h},
                                      .angle = (float)deg};
    }
    free(b);
    return st;
}

/* Proposals on a working copy whose long side is at most max_side, upright
 * and turned by +-tilt. */
static fer_status propose(const fer_analyzer *a, const fer_image *img, fer_face **faces, size_t *n,
                          fer_error *err)
{
    *faces = NULL;
    *n = 0;
    size_t cap = 0;
    int long_side = img->w > img->h ? img->w : img->h;
    fer_image work = *img, turned = {0};
    fer_status st = FER_OK;
    if (a->o.max_side && long_side > a->o.max_side) {
        double s = (double)a->o.max_side / long_side;
        work = (fer_image){(int)lround(img->w * s), (int)lround(img->h * s), NULL};
        work.w = work.w < 1 ? 1 : work.w;
        work.h = work.h < 1 ? 1 : work.h;
        if (!(work.px = malloc((size_t)work.w * (size_t)work.h)))
            return fer_fail(err, FER_ENOMEM, "analyzer: out of memory for a %dx%d working copy",
                            work.w, work.h);
        /* A photo over twice the size is first shrunk by a whole factor
         * (block means: one cheap pass over its pixels). */
        fer_image small = *img;
        int q = long_side / a->o.max_side;
        if (q >= 2)
            st = fer_image_shrink(img, q, &small, err);
        if (!st)
            st = fer_image_crop_resize(&small, 0, 0, small.w, small.h, work.w, work.h, work.px,
                                       err);
        if (small.px != img->px)
            fer_image_free(&small);
    }
    double kx = (double)img->w / work.w, ky = (double)img->h / work.h;
    if (!st)
        st = scan(a, &work, 0, kx, ky, faces, n, &cap, err);
    for (int t = -1; !st && a->o.tilt > 0 && t <= 1; t += 2) {
        st = fer_image_turn(&work, t * a->o.tilt, &turned, err);
        if (!st)
            st = scan(a, &turned, t * a->o.tilt, kx, ky, faces, n, &cap, err);
        fer_image_free(&turned);
    }
    if (work.px != img->px)
        fer_image_free(&work);
    if (st) {
        free(*faces);
        *faces = NULL;
        *n = 0;
    }
    return st;
}

fer_status fer_face_crop(const fer_image *img, const fer_face *f, double grow, int ow, int oh,
                         uint8_t *out, fer_error *err)
{
    if (!img || !img->px || !f || !out)
        return fer_fail(err, FER_EINVAL, "fer_face_crop: NULL argument");
    if (!(grow > -0.5 && grow <= 1))
        return fer_fail(err, FER_ERANGE, "fer_face_crop: grow %g is not in (-0.5, 1]", grow);
    fer_box c = f->box;
    if (f->angle != 0)
        return fer_image_crop_turned(img, c.x + c.w / 2.0, c.y + c.h / 2.0, c.w * (1 + 2 * grow),
                                     c.h * (1 + 2 * grow), f->angle, ow, oh, out, err);
    if (grow < 0) {
        int dx = (int)lround(c.w * -grow), dy = (int)lround(c.h * -grow);
        c = (fer_box){c.x + dx, c.y + dy, c.w - 2 * dx, c.h - 2 * dy};
    } else {
        c = fer_face_crop_box(img, c, grow);
    }
    return fer_image_crop_resize(img, c.x, c.y, c.w, c.h, ow, oh, out, err);
}

/* Runs model m on the crops of n faces (with augmentation tta): probs gets
 * n x classes. */
static fer_status run_model(fer_model *m, const fer_image *img, const fer_face *f, size_t n,
                            double grow, int h, int w, fer_tta tta, float *probs, fer_error *err)
{
    if (n == 0)
        return FER_OK;
    if (n > (size_t)1 << 20)
        return fer_fail(err, FER_ERANGE, "analyzer: %zu faces", n);
    size_t hw = (size_t)h * (size_t)w;
    uint8_t *px = malloc(n * hw);
    fer_status s =
        px ? FER_OK : fer_fail(err, FER_ENOMEM, "analyzer: out of memory for %zu crops", n);
    for (size_t i = 0; !s && i < n; i++)
        s = fer_face_crop(img, &f[i], grow, w, h, px + i * hw, err);
    if (!s)
        s = fer_model_predict_crops(m, px, (int)n, tta, probs, err);
    free(px);
    return s;
}

static double overlap(fer_box a, fer_box b, double *of_smaller)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double in = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0;
    double aa = (double)a.w * a.h, ab = (double)b.w * b.h;
    *of_smaller = in / (aa < ab ? aa : ab);
    return in / (aa + ab - in);
}

static int by_score(const void *pa, const void *pb)
{
    const fer_face *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? 1 : -1;
    double sa = (double)a->box.w * a->box.h, sb = (double)b->box.w * b->box.h;
    return (sa < sb) - (sa > sb);
}

static int upright_then_score(const void *pa, const void *pb)
{
    int ta = ((const fer_face *)pa)->angle != 0, tb = ((const fer_face *)pb)->angle != 0;
    return ta != tb ? ta - tb : by_score(pa, pb);
}

/* Keeps the faces that pass min_score, dropping any that overlaps a kept
 * one (IoU > 0.3, or mostly inside it or around it): the upright proposals
 * first, best first, then the turned ones, which only fill in faces the
 * upright search missed (on an upright face both score near 1, and the turned
 * crop of it reads the expression worse). The kept faces end best first. */
static size_t select_faces(fer_face *f, size_t n, double min_score)
{
    if (n == 0) /* f may be NULL: qsort must not see it */
        return 0;
    qsort(f, n, sizeof *f, upright_then_score);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].score < min_score)
            continue;
        int dup = 0;
        for (size_t j = 0; j < kept && !dup; j++) {
            double inside, o = overlap(f[i].box, f[j].box, &inside);
            dup = o > 0.3 || inside > 0.6;
        }
        if (!dup)
            f[kept++] = f[i];
    }
    qsort(f, kept, sizeof *f, by_score);
    return kept;
}

/* ------------------------------------------------------------ the call */

static int argmax7(const float *p)
{
    int best = 0;
    for (int e = 1; e < FER_N_EMOTIONS; e++)
        if (p[e] > p[best])
            best = e;
    return best;
}

int fer_faces_pick(const fer_faces *f, fer_face_pick how)
{
    if (!f || f->n == 0)
        return -1;
    int best = 0;
    for (size_t i = 1; i < f->n; i++) {
        const fer_face *a = &f->face[i], *b = &f->face[best];
        double sa = (double)a->box.w * a->box.h, sb = (double)b->box.w * b->box.h;
        if (how == FER_FACE_LARGEST ? sa > sb : a->score > b->score || (a->score == b->score && sa > sb))
            best = (int)i;
    }
    return best;
}

void fer_faces_free(fer_faces *f)
{
    if (!f)
        return;
    free(f->face);
    memset(f, 0, sizeof *f);
}

/* Verifier scores for the proposals (out->face, n of them); those that
 * pass are kept. */
static fer_status verify(fer_analyzer *a, const fer_image *img, size_t n, fer_faces *out,
                         fer_error *err)
{
    float *p = malloc((n ? n : 1) * 2 * sizeof *p);
    if (!p)
        return fer_fail(err, FER_ENOMEM, "analyzer: out of memory for %zu proposals", n);
    fer_status s = run_model(a->verifier, img, out->face, n, -FER_VERIFY_INSET, a->vh, a->vw,
                             FER_TTA_NONE, p, err);
    for (size_t i = 0; !s && i < n; i++)
        out->face[i].score = p[2 * i + (size_t)a->face_class];
    free(p);
    if (!s) {
        out->n = select_faces(out->face, n, a->o.min_score);
        out->n_rejected = n - out->n;
    }
    return s;
}

static fer_status classify(fer_analyzer *a, const fer_image *img, fer_faces *f, fer_error *err)
{
    size_t k = (size_t)a->n_classes;
    float *p = malloc((f->n ? f->n : 1) * k * sizeof *p);
    if (!p)
        return fer_fail(err, FER_ENOMEM, "analyzer: out of memory");
    fer_status s =
        run_model(a->emotion, img, f->face, f->n, a->o.margin, a->eh, a->ew, a->o.tta, p, err);
    for (size_t i = 0; !s && i < f->n; i++) {
        fer_face *fc = &f->face[i];
        memset(fc->probs, 0, sizeof fc->probs);
        for (size_t j = 0; j < k; j++)
            fc->probs[a->slot[j]] = p[i * k + j];
        fc->emotion = argmax7(fc->probs);
    }
    free(p);
    return s;
}

fer_status fer_analyze(fer_analyzer *a, const fer_image *img, const fer_heart *heart,
                       fer_faces *out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_analyze: NULL argument");
    memset(out, 0, sizeof *out);
    out->state_face = -1;
    if (!a || !img || !img->px || img->w <= 0 || img->h <= 0)
        return fer_fail(err, FER_EINVAL, "fer_analyze: NULL argument or empty image");
    fer_status s;
    if (a->o.no_detect) {
        if (!(out->face = calloc(1, sizeof *out->face)))
            return fer_fail(err, FER_ENOMEM, "analyzer: out of memory");
        out->face[0] = (fer_face){.box = {0, 0, img->w, img->h}, .score = 1};
        out->n = 1;
        s = FER_OK;
    } else {
        size_t n = 0;
        s = propose(a, img, &out->face, &n, err);
        if (!s)
            s = verify(a, img, n, out, err);
    }
    if (!s && a->emotion)
        s = classify(a, img, out, err);
    if (!s && out->n && a->emotion) {
        out->state_face = fer_faces_pick(out, a->o.pick);
        s = fer_fuse(out->face[out->state_face].probs, heart, &a->o.fusion, &out->state, err);
    }
    if (s) {
        fer_faces_free(out);
        out->state_face = -1;
    }
    return s;
}
