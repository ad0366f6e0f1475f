/* Face + heart fusion: the face decides the kind of emotion (argmax of the
 * FER2013 probabilities), heart rate its intensity. Each emotion has a place
 * on the valence/arousal circumplex; the face's arousal (probability-
 * weighted) is blended with heart-rate arousal, and the intensity and the
 * arousal phrase follow from the blend. docs/heart-and-fusion.md has the
 * tables and their reasoning. */
#include <math.h>
#include <stdio.h>

#include "core/core.h"

#define PROB_SUM_TOLERANCE 0.01
#define DEFAULT_FACE_WEIGHT 1.0
#define DEFAULT_HEART_WEIGHT 2.0
/* Arousal bands for the phrase and the intensity. */
#define AROUSAL_LOW 0.35
#define AROUSAL_HIGH 0.65
/* Face-confidence bands for the intensity. */
#define CONF_WEAK 0.45
#define CONF_CLEAR 0.6

enum { BAND_LOW, BAND_MID, BAND_HIGH };

/* One row per FER2013 index: angry disgust fear happy sad surprise neutral. */
static const struct emotion_place {
    const char *name;     /* as a label starts */
    const char *lower;    /* after an intensity word */
    double valence;       /* [-1, 1] */
    double arousal;       /* typical arousal, [0, 1] */
    const char *phrase[3];/* per arousal band, with its conjunction */
} places[FER_N_EMOTIONS] = {
    {"Angry", "angry", -0.70, 0.85, {"but composed", "and irritated", "and frustrated"}},
    {"Disgusted", "disgusted", -0.70, 0.60, {"but calm", "and uneasy", "and repulsed"}},
    {"Fearful", "fearful", -0.60, 0.85, {"but calm", "and uneasy", "and tense"}},
    {"Happy", "happy", 0.80, 0.60, {"and content", "and cheerful", "and excited"}},
    {"Sad", "sad", -0.80, 0.25, {"but calm", "and downcast", "and agitated"}},
    {"Surprised", "surprised", 0.30, 0.90, {"but calm", "and alert", "and startled"}},
    {"Neutral", "neutral", 0.00, 0.50, {"and relaxed", "and attentive", "but tense"}},
};

#define NEUTRAL_INDEX 6

void fer_fusion_opts_default(fer_fusion_opts *o)
{
    o->face_weight = DEFAULT_FACE_WEIGHT;
    o->heart_weight = DEFAULT_HEART_WEIGHT;
}

/* Copies probs to p, checking each is finite and >= 0 and that they sum to
 * 1 within PROB_SUM_TOLERANCE; renormalises the rest of the way. */
static fer_status check_probs(const float *probs, double *p, fer_error *err)
{
    double sum = 0;
    for (int i = 0; i < FER_N_EMOTIONS; i++) {
        p[i] = probs[i];
        if (!isfinite(p[i]) || p[i] < 0)
            return fer_fail(err, FER_EINVAL, "probabilities[%d] (%s) = %g: must be finite, >= 0",
                            i, places[i].lower, p[i]);
        sum += p[i];
    }
    if (!(fabs(sum - 1) <= PROB_SUM_TOLERANCE))
        return fer_fail(err, FER_EINVAL, "probabilities sum to %g, not 1 (+-%g)", sum,
                        PROB_SUM_TOLERANCE);
    for (int i = 0; i < FER_N_EMOTIONS; i++)
        p[i] /= sum;
    return FER_OK;
}

static fer_status check_weights(const fer_fusion_opts *o, const fer_heart *heart, double *wf,
                                double *wh, fer_error *err)
{
    if (!isfinite(o->face_weight) || o->face_weight < 0)
        return fer_fail(err, FER_EINVAL, "face weight %g: must be finite and >= 0",
                        o->face_weight);
    if (!isfinite(o->heart_weight) || o->heart_weight < 0)
        return fer_fail(err, FER_EINVAL, "heart weight %g: must be finite and >= 0",
                        o->heart_weight);
    *wf = o->face_weight;
    *wh = heart ? o->heart_weight : 0;
    if (*wf + *wh <= 0)
        return fer_fail(err, FER_EINVAL, "face weight and heart weight are both 0%s",
                        heart ? "" : " (no heart rate given)");
    if (heart && !(heart->arousal >= 0 && heart->arousal <= 1))
        return fer_fail(err, FER_EINVAL, "heart arousal %g: must be in [0, 1]", heart->arousal);
    return FER_OK;
}

static int band_of(double arousal)
{
    return arousal < AROUSAL_LOW ? BAND_LOW : arousal >= AROUSAL_HIGH ? BAND_HIGH : BAND_MID;
}

/* Weak face evidence makes any emotion "Mildly"; only a clear face in a
 * highly aroused body is "Very"; Neutral has no intensity. */
static fer_intensity intensity_of(int emotion, double confidence, double arousal)
{
    if (emotion == NEUTRAL_INDEX)
        return FER_PLAIN;
    int band = band_of(arousal);
    if (confidence < CONF_WEAK || (confidence < CONF_CLEAR && band == BAND_LOW))
        return FER_MILDLY;
    if (confidence >= CONF_CLEAR && band == BAND_HIGH)
        return FER_VERY;
    return FER_PLAIN;
}

static const char *intensity_word(fer_intensity i)
{
    return i == FER_MILDLY ? "Mildly" : i == FER_VERY ? "Very" : "";
}

static void write_label(fer_state *s)
{
    const struct emotion_place *e = &places[s->emotion];
    const char *phrase = e->phrase[band_of(s->arousal)];
    if (s->intensity == FER_PLAIN)
        snprintf(s->label, sizeof s->label, "%s %s", e->name, phrase);
    else
        snprintf(s->label, sizeof s->label, "%s %s %s", s->intensity_name, e->lower, phrase);
    /* the phrase without its conjunction: "and excited" -> "excited" */
    const char *sp = phrase;
    while (*sp && *sp != ' ')
        sp++;
    s->arousal_phrase = *sp ? sp + 1 : phrase;
}

fer_status fer_state_describe(fer_state *s, fer_error *err)
{
    if (!s)
        return fer_fail(err, FER_EINVAL, "fer_state_describe: NULL state");
    if (s->emotion < 0 || s->emotion >= FER_N_EMOTIONS)
        return fer_fail(err, FER_EINVAL, "emotion %d: not a FER2013 index 0..6", s->emotion);
    if (s->intensity != FER_MILDLY && s->intensity != FER_PLAIN && s->intensity != FER_VERY)
        return fer_fail(err, FER_EINVAL, "intensity %d: not mildly, plain or very", (int)s->intensity);
    if (!(s->arousal >= 0 && s->arousal <= 1))
        return fer_fail(err, FER_EINVAL, "arousal %g: must be in [0, 1]", s->arousal);
    s->emotion_name = places[s->emotion].name;
    s->intensity_name = intensity_word(s->intensity);
    write_label(s);
    return FER_OK;
}

fer_status fer_fuse(const float *probs, const fer_heart *heart, const fer_fusion_opts *o,
                    fer_state *out, fer_error *err)
{
    if (!probs || !out)
        return fer_fail(err, FER_EINVAL, "fer_fuse: %s is NULL", !probs ? "probs" : "out");
    fer_fusion_opts def;
    fer_fusion_opts_default(&def);
    double p[FER_N_EMOTIONS], wf = 0, wh = 0;
    fer_status st = check_probs(probs, p, err);
    if (!st)
        st = check_weights(o ? o : &def, heart, &wf, &wh, err);
    if (st)
        return st;
    fer_state s = {0};
    double face_arousal = 0;
    for (int i = 0; i < FER_N_EMOTIONS; i++) {
        if (p[i] > p[s.emotion])
            s.emotion = i;
        s.valence += p[i] * places[i].valence;
        face_arousal += p[i] * places[i].arousal;
    }
    s.arousal = (wf * face_arousal + (wh > 0 ? wh * heart->arousal : 0)) / (wf + wh);
    s.confidence = p[s.emotion];
    s.emotion_name = places[s.emotion].name;
    s.intensity = intensity_of(s.emotion, s.confidence, s.arousal);
    s.intensity_name = intensity_word(s.intensity);
    write_label(&s);
    *out = s;
    return FER_OK;
}
