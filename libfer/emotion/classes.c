/* The emotion vocabulary (FER2013's seven classes and their other names)
 * and the preprocessing every emotion model shares. */
#include <string.h>
#include <strings.h>

#include "fer.h"

const char *const fer_emotion_names[FER_N_EMOTIONS] = {"angry", "disgust", "fear", "happy",
                                                       "sad", "surprise", "neutral"};

int fer_emotion_index(const char *name)
{
    static const char *const alt[FER_N_EMOTIONS] = {"anger", "disgusted", "fearful", "happiness",
                                                    "sadness", "surprised", "calm"};
    for (int i = 0; i < FER_N_EMOTIONS; i++)
        if (name && (!strcasecmp(name, fer_emotion_names[i]) || !strcasecmp(name, alt[i])))
            return i;
    return -1;
}

void fer_preprocess(const uint8_t *px, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)px[i] * (1.0f / 255.0f);
}
