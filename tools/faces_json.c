/* fer-predict's object for one image (faces_json.h). */
#include "faces_json.h"

#include "json.h"

static cJSON *face_json(const fer_model *m, const fer_face *fc)
{
    cJSON *f = cJSON_CreateObject(), *probs = cJSON_CreateObject();
    int box[4] = {fc->box.x, fc->box.y, fc->box.w, fc->box.h};
    cJSON_AddItemToObject(f, "box", cJSON_CreateIntArray(box, 4));
    cli_json_number(f, "angle", fc->angle);
    cli_json_number(f, "score", fc->score);
    for (int e = 0; e < FER_N_EMOTIONS; e++) /* the model's classes, in FER2013 order */
        for (int j = 0; j < fer_model_n_classes(m); j++)
            if (fer_emotion_index(fer_model_class_name(m, j)) == e)
                cli_json_number(probs, fer_emotion_names[e], fc->probs[e]);
    cJSON_AddItemToObject(f, "probabilities", probs);
    cJSON_AddStringToObject(f, "emotion", fer_emotion_names[fc->emotion]);
    cli_json_number(f, "confidence", fc->probs[fc->emotion]);
    return f;
}

cJSON *cli_json_analysis(const fer_model *m, const char *model_path, const char *image,
                         const fer_faces *f, const fer_heart *heart, int state_face,
                         const fer_state *state)
{
    cJSON *o = cli_json_object(model_path), *faces = cJSON_CreateArray();
    cli_json_string(o, "image", image);
    for (size_t i = 0; i < f->n; i++)
        cJSON_AddItemToArray(faces, face_json(m, &f->face[i]));
    cJSON_AddItemToObject(o, "faces", faces);
    cJSON_AddItemToObject(o, "heart", cli_json_heart(heart));
    cJSON_AddItemToObject(o, "state", state_face < 0 ? cJSON_CreateNull()
                                                     : cli_json_state(state, state_face));
    return o;
}
