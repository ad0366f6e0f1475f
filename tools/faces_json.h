/* fer-predict's JSON object for one analysed image (docs/tools.md,
 * "fer-predict", JSON), built in one place for fer-predict --json and
 * fer-serve's POST /v1/analyze. */
#ifndef FER_FACES_JSON_H
#define FER_FACES_JSON_H

#include <cJSON.h>

#include "fer.h"

/* {"schema", "model" (model_path's file name), "image", "faces", "heart",
 * "state"}: each face's box, angle, score, the probabilities of the model's
 * classes (FER2013 names and order), emotion and confidence; heart null when
 * NULL; state that of face state_face, null when state_face < 0. A caller
 * that gives each face its own state (fer-predict --face all) adds a
 * "state" to the items of "faces". */
cJSON *cli_json_analysis(const fer_model *m, const char *model_path, const char *image,
                         const fer_faces *f, const fer_heart *heart, int state_face,
                         const fer_state *state);

#endif
