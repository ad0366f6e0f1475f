/* The live loop (fer.h, "live loop"; docs/live.md): frames with their times
 * in, the face tracked between full detections, its probabilities smoothed
 * with a time constant in seconds (so the behaviour does not depend on the
 * frame rate), and a state that replaces the one in force only after a
 * different one of the same emotion has held for the hysteresis time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

enum { MIN_REGION = 24, TRACK_FACE = 64 };

struct fer_live {
    fer_analyzer *a;
    fer_live_opts o;
    fer_faces faces;          /* the last frame's */
    int has_track;
    fer_box track;            /* the last face's box */
    int since_full;           /* frames since the last full detection */
    int started;
    double last_t;            /* the last frame's time */
    int has_probs;
    float probs[FER_N_EMOTIONS]; /* smoothed, at probs_t */
    float held[FER_N_EMOTIONS];  /* the last face's, held since probs_t */
    double probs_t;           /* time of the last face that fed them */
    int has_state;
    fer_state state;          /* in force */
    int pending;              /* a candidate differs from the state in force */
    int pending_emotion;      /* its emotion, since pending_since */
    double pending_since;
    int has_heart;
    fer_heart heart;
    size_t frames, full;
};

void fer_live_opts_default(fer_live_opts *o)
{
    *o = (fer_live_opts){.smooth = 0.5, .hold = 0.7, .reset = 3, .detect_every = 10,
                         .search_grow = 0.5};
    fer_fusion_opts_default(&o->fusion);
}

fer_status fer_live_new(fer_analyzer *a, const fer_live_opts *o, fer_live **out, fer_error *err)
{
    if (!out || !a)
        return fer_fail(err, FER_EINVAL, "fer_live_new: NULL argument");
    *out = NULL;
    fer_live_opts def;
    if (!o)
        fer_live_opts_default(&def), o = &def;
    if (!fer_analyzer_emotion_model(a))
        return fer_fail(err, FER_EINVAL, "live: the analyzer has no emotion model");
    if (!(o->smooth >= 0 && o->smooth <= 3600))
        return fer_fail(err, FER_ERANGE, "live: smoothing time %g s is not in 0..3600", o->smooth);
    if (!(o->hold >= 0 && o->hold <= 3600))
        return fer_fail(err, FER_ERANGE, "live: hold time %g s is not in 0..3600", o->hold);
    if (!(o->reset > 0 && o->reset <= 3600))
        return fer_fail(err, FER_ERANGE, "live: reset time %g s is not in (0, 3600]", o->reset);
    if (o->detect_every < 1 || o->detect_every > 100000)
        return fer_fail(err, FER_ERANGE, "live: detect_every %d is not in 1..100000",
                        o->detect_every);
    if (!(o->search_grow >= 0.1 && o->search_grow <= 4))
        return fer_fail(err, FER_ERANGE, "live: search_grow %g is not in 0.1..4", o->search_grow);
    if (!(o->fusion.face_weight >= 0 && o->fusion.heart_weight >= 0 &&
          o->fusion.face_weight + o->fusion.heart_weight > 0))
        return fer_fail(err, FER_ERANGE, "live: fusion weights must be >= 0, not both 0");
    fer_live *l = calloc(1, sizeof *l);
    if (!l)
        return fer_fail(err, FER_ENOMEM, "live: out of memory");
    l->a = a;
    l->o = *o;
    l->faces.state_face = -1;
    *out = l;
    return FER_OK;
}

void fer_live_free(fer_live *l)
{
    if (!l)
        return;
    fer_faces_free(&l->faces);
    free(l);
}

void fer_live_set_heart(fer_live *l, const fer_heart *h)
{
    if (!l)
        return;
    l->has_heart = h != NULL;
    if (h)
        l->heart = *h;
}

void fer_live_counts(const fer_live *l, size_t *frames, size_t *full_detections)
{
    if (frames)
        *frames = l ? l->frames : 0;
    if (full_detections)
        *full_detections = l ? l->full : 0;
}

/* ------------------------------------------------------------ tracking */

static double iou(fer_box a, fer_box b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double in = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0;
    double u = (double)a.w * a.h + (double)b.w * b.h - in;
    return u > 0 ? in / u : 0;
}

/* The face closest to the track (by overlap; the analyzer's choice when
 * none overlaps it, or there is no track). */
static int follow(const fer_live *l, const fer_faces *f)
{
    int best = f->n ? fer_faces_pick(f, FER_FACE_BEST) : -1;
    double best_iou = 0.3;
    for (size_t i = 0; l->has_track && i < f->n; i++) {
        double o = iou(f->face[i].box, l->track);
        if (o > best_iou)
            best_iou = o, best = (int)i;
    }
    return best;
}

/* Searches the region around the last box; *face -1 when the track is lost there. */
static fer_status search_near(fer_live *l, const fer_image *img, int *face, fer_error *err)
{
    *face = -1;
    fer_box b = l->track;
    int gx = (int)lround(b.w * l->o.search_grow), gy = (int)lround(b.h * l->o.search_grow);
    int x0 = b.x - gx < 0 ? 0 : b.x - gx, y0 = b.y - gy < 0 ? 0 : b.y - gy;
    int x1 = b.x + b.w + gx > img->w ? img->w : b.x + b.w + gx;
    int y1 = b.y + b.h + gy > img->h ? img->h : b.y + b.h + gy;
    if (x1 - x0 < MIN_REGION || y1 - y0 < MIN_REGION)
        return FER_OK;
    /* The region shrunk so that the face is about TRACK_FACE pixels: the
     * search runs over a few scales only, and the CNNs take 48x48 crops anyway. */
    double k = b.w > TRACK_FACE ? (double)TRACK_FACE / b.w : 1;
    int rw = (int)lround((x1 - x0) * k), rh = (int)lround((y1 - y0) * k);
    if (rw < MIN_REGION || rh < MIN_REGION)
        return FER_OK;
    fer_image sub = {rw, rh, malloc((size_t)rw * (size_t)rh)};
    if (!sub.px)
        return fer_fail(err, FER_ENOMEM, "live: out of memory for a %dx%d search region", rw, rh);
    fer_status s = fer_image_crop_resize(img, x0, y0, x1 - x0, y1 - y0, rw, rh, sub.px, err);
    fer_faces f = {0};
    if (!s)
        s = fer_analyze(l->a, &sub, NULL, &f, err);
    free(sub.px);
    if (s)
        return s;
    for (size_t i = 0; i < f.n; i++) {
        fer_box *fb = &f.face[i].box;
        *fb = (fer_box){x0 + (int)lround(fb->x / k), y0 + (int)lround(fb->y / k),
                        (int)lround(fb->w / k), (int)lround(fb->h / k)};
    }
    if (f.n == 0) {
        fer_faces_free(&f);
        return FER_OK;
    }
    l->faces = f;
    *face = follow(l, &l->faces);
    return FER_OK;
}

static fer_status detect(fer_live *l, const fer_image *img, fer_live_update *out, fer_error *err)
{
    int face = -1;
    fer_status s = FER_OK;
    out->tracked = 0;
    if (l->has_track && l->since_full + 1 < l->o.detect_every) {
        s = search_near(l, img, &face, err);
        if (!s && face >= 0) {
            out->tracked = 1;
            l->since_full++;
        }
    }
    if (!s && face < 0) { /* time for a full detection, or the track is lost */
        s = fer_analyze(l->a, img, NULL, &l->faces, err);
        if (!s) {
            l->full++;
            l->since_full = 0;
            face = follow(l, &l->faces);
        }
    }
    if (s)
        return s;
    l->has_track = face >= 0;
    if (face >= 0)
        l->track = l->faces.face[face].box;
    l->faces.state_face = face;
    out->face = face;
    return FER_OK;
}

/* ------------------------------------------------------------ smoothing */

/* Each face's probabilities hold from its frame's time until the next face's
 * (a step at a frame time gives the same curve at any frame rate); the
 * smoothed value is their exponential average over time. */
static void smooth(fer_live *l, const float *p, double t)
{
    if (!l->has_probs || t - l->probs_t > l->o.reset || l->o.smooth == 0) {
        memcpy(l->probs, p, sizeof l->probs);
    } else {
        double k = exp(-(t - l->probs_t) / l->o.smooth); /* what is left of the past */
        for (int e = 0; e < FER_N_EMOTIONS; e++)
            l->probs[e] = (float)(l->held[e] + k * (l->probs[e] - l->held[e]));
    }
    memcpy(l->held, p, sizeof l->held);
    l->has_probs = 1;
    l->probs_t = t;
}

/* The fused candidate against the state in force. The hold clock runs while
 * the candidate differs from the state and keeps one emotion: its words may
 * change on the way (a rising probability passes "Mildly sad", a settling
 * arousal "and downcast" before "but calm"), and the state then taken is the
 * candidate's latest. */
static fer_status decide(fer_live *l, double t, int *changed, fer_error *err)
{
    fer_state cand;
    fer_status s = fer_fuse(l->probs, l->has_heart ? &l->heart : NULL, &l->o.fusion, &cand, err);
    if (s)
        return s;
    if (!l->has_state || !strcmp(cand.label, l->state.label)) {
        *changed = !l->has_state;
        l->has_state = 1;
        l->state = cand; /* same words: the numbers follow */
        l->pending = 0;
        return FER_OK;
    }
    if (!l->pending || cand.emotion != l->pending_emotion) {
        l->pending = 1;
        l->pending_emotion = cand.emotion;
        l->pending_since = t;
    }
    if (t - l->pending_since >= l->o.hold - 1e-9) {
        l->state = cand;
        l->pending = 0;
        *changed = 1;
    }
    return FER_OK;
}

fer_status fer_live_frame_grey(fer_live *l, const fer_image *img, double t, fer_live_update *out,
                               fer_error *err)
{
    if (!l || !img || !img->px || img->w <= 0 || img->h <= 0 || !out)
        return fer_fail(err, FER_EINVAL, "fer_live_frame: NULL argument or empty image");
    if (!isfinite(t) || (l->started && t < l->last_t))
        return fer_fail(err, FER_EINVAL, "live: frame time %g s is %s", t,
                        isfinite(t) ? "before the last frame's" : "not finite");
    memset(out, 0, sizeof *out);
    out->face = -1;
    out->faces.state_face = -1;
    fer_faces_free(&l->faces);
    l->faces.state_face = -1;
    fer_status s = detect(l, img, out, err);
    if (s) {
        l->has_track = 0;
        return s;
    }
    l->started = 1;
    l->last_t = t;
    l->frames++;
    if (out->face >= 0)
        smooth(l, l->faces.face[out->face].probs, t);
    else if (l->has_probs && t - l->probs_t > l->o.reset)
        l->has_probs = 0; /* the face has been gone a while: start afresh when one comes */
    if (l->has_probs && (s = decide(l, t, &out->changed, err)) != FER_OK)
        return s;
    out->t = t;
    out->faces = l->faces;
    out->has_state = l->has_state;
    memcpy(out->probs, l->probs, sizeof out->probs);
    out->state = l->state;
    return FER_OK;
}

fer_status fer_live_frame(fer_live *l, const uint8_t *px, int w, int h, int channels,
                          size_t stride, fer_pixel_order order, double t, fer_live_update *out,
                          fer_error *err)
{
    fer_image img;
    fer_status s = fer_image_from_pixels(px, w, h, channels, stride, order, &img, err);
    if (s)
        return s;
    s = fer_live_frame_grey(l, &img, t, out, err);
    fer_image_free(&img);
    return s;
}
