/* Private to the emotion domain: shared by augment.c, predict.c and analyze.c. */
#ifndef FER_EMOTION_H
#define FER_EMOTION_H

#include <stdint.h>

#include "fer.h"

/* Whether t is one of fer_tta's modes (the one place that knows the last one). */
static inline int tta_known(fer_tta t)
{
    return (unsigned)t <= FER_TTA_PAIR;
}

/* The grey h x w image src through one affine map about its centre (mirror
 * when flip, shift by tx, ty pixels, turn by ang radians, zoom), sampled
 * bilinearly with edges clamped, times bright, preprocessed (as
 * fer_preprocess, clipped at 1) into dst. */
void augment_view(const uint8_t *src, int h, int w, int flip, float tx, float ty, float ang,
                  float zoom, float bright, float *dst);

#endif
