/* The reference CNN of the paper, as an architecture description. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

fer_status fer_model_paper_cnn(int n_classes, const char *const *class_names, uint64_t seed,
                               fer_model **out, fer_error *err)
{
    *out = NULL;
    if (n_classes < 2 || n_classes > 64 || (!class_names && n_classes > FER_N_EMOTIONS))
        return fer_fail(err, FER_EINVAL, "model: %d classes (2..%d without names)", n_classes,
                        FER_N_EMOTIONS);
    char classes[64 * 72] = "";
    size_t off = 0;
    for (int i = 0; i < n_classes; i++) {
        const char *name = class_names ? class_names[i] : fer_emotion_names[i];
        if (!name || strlen(name) > 63 || strpbrk(name, "\"\\"))
            return fer_fail(err, FER_EINVAL, "model: class %d: needs a short plain name", i);
        off += (size_t)snprintf(classes + off, sizeof classes - off, "%s\"%s\"", i ? "," : "", name);
    }
    char json[8192];
    snprintf(json, sizeof json,
             "{\"input\":[1,48,48],\"classes\":[%s],\"layers\":["
             "{\"type\":\"conv2d\",\"filters\":32,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"conv2d\",\"filters\":64,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
             "{\"type\":\"dropout\",\"rate\":0.25},"
             "{\"type\":\"conv2d\",\"filters\":128,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
             "{\"type\":\"conv2d\",\"filters\":128,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
             "{\"type\":\"dropout\",\"rate\":0.25},"
             "{\"type\":\"flatten\"},"
             "{\"type\":\"dense\",\"units\":1024,\"activation\":\"relu\"},"
             "{\"type\":\"dropout\",\"rate\":0.5},"
             "{\"type\":\"dense\",\"units\":%d,\"activation\":\"softmax\"}]}",
             classes, n_classes);
    return fer_model_from_json(json, seed, out, err);
}
