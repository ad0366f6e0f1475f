/* The tools' JSON (json.h). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char *const intensity_words[] = {"mildly", "plain", "very"}; /* fer_intensity order */

void cli_json_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, round(v * 1e4) / 1e4 + 0.0);
    else
        cJSON_AddNullToObject(o, key);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
        (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] >= 0x90))
        return 0; /* overlong, surrogate or beyond U+10FFFF */
    return n;
}

/* A cJSON string of s, every byte that is not part of valid UTF-8 as U+FFFD. */
static cJSON *utf8_string(const char *s)
{
    size_t n = strlen(s), bad = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_len(p);
        bad += k == 0;
        p += k ? k : 1;
    }
    if (!bad)
        return cJSON_CreateString(s);
    char *t = malloc(n + 2 * bad + 1), *q = t;
    if (!t)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_len(p);
        memcpy(q, k ? (const char *)p : "\xEF\xBF\xBD", k ? k : 3);
        q += k ? k : 3;
        p += k ? k : 1;
    }
    *q = 0;
    cJSON *j = cJSON_CreateString(t);
    free(t);
    return j;
}

void cli_json_string(cJSON *o, const char *key, const char *s)
{
    cJSON *j = utf8_string(s);
    cJSON_AddItemToObject(o, key, j ? j : cJSON_CreateNull()); /* null: out of memory */
}

void cli_json_list(cJSON *o, const char *key, const char *list, char sep)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    char buf[256];
    for (const char *p = list; a && *p;) {
        const char *end = strchr(p, sep);
        size_t n = end ? (size_t)(end - p) : strlen(p), lead = strspn(p, " \t");
        size_t len = n > lead ? n - lead : 0;
        while (len && strchr(" \t", p[lead + len - 1]))
            len--;
        snprintf(buf, sizeof buf, "%.*s", (int)len, p + lead);
        cJSON *item = len ? utf8_string(buf) : NULL;
        if (item)
            cJSON_AddItemToArray(a, item);
        p += n + (end != NULL);
    }
}

cJSON *cli_json_object(const char *model_path)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "schema", CLI_JSON_SCHEMA);
    if (model_path) {
        const char *slash = strrchr(model_path, '/');
        cli_json_string(o, "model", slash ? slash + 1 : model_path);
    }
    return o;
}

cJSON *cli_json_state(const fer_state *st, int face)
{
    cJSON *s = cJSON_CreateObject();
    if (face >= 0)
        cJSON_AddNumberToObject(s, "face", face);
    cJSON_AddStringToObject(s, "emotion", fer_emotion_names[st->emotion]);
    cJSON_AddStringToObject(s, "intensity", intensity_words[st->intensity]);
    cli_json_string(s, "label", st->label);
    cli_json_number(s, "valence", st->valence);
    cli_json_number(s, "arousal", st->arousal);
    return s;
}

cJSON *cli_json_heart(const fer_heart *h)
{
    if (!h)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cli_json_number(o, "bpm", h->bpm);
    cJSON_AddStringToObject(o, "level", fer_hr_level_name(h->level));
    cli_json_number(o, "arousal", h->arousal);
    return o;
}

static int fail(char *why, size_t cap, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return 0;
}

/* o[key] as a number in lo..1 into *out; 0 when absent or out of range. */
static int unit(const cJSON *o, const char *key, double lo, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= 1))
        return 0;
    *out = v->valuedouble;
    return 1;
}

static int intensity_from_word(const char *w, fer_intensity *out)
{
    if (!*w) /* the library's name of FER_PLAIN */
        return *out = FER_PLAIN, 1;
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(w, intensity_words[i]))
            return *out = (fer_intensity)i, 1;
    return 0;
}

int cli_json_read_state(const cJSON *st, fer_state *s, char *why, size_t cap)
{
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(st, "emotion");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(st, "intensity");
    memset(s, 0, sizeof *s);
    s->emotion = cJSON_IsString(em) ? fer_emotion_index(em->valuestring) : -1;
    if (s->emotion < 0)
        return fail(why, cap, "state.emotion missing or not an emotion name");
    s->intensity = FER_PLAIN;
    if (in && (!cJSON_IsString(in) || !intensity_from_word(in->valuestring, &s->intensity)))
        return fail(why, cap, "state.intensity is not mildly, plain or very");
    if (!unit(st, "arousal", 0, &s->arousal))
        return fail(why, cap, "state.arousal missing or outside 0..1");
    if (!unit(st, "valence", -1, &s->valence))
        s->valence = 0;
    s->confidence = NAN;
    fer_error err;
    if (fer_state_describe(s, &err) != FER_OK)
        return fail(why, cap, err.msg);
    return 1;
}

int cli_json_read_heart(const cJSON *h, double *bpm, int *level, double *arousal, char *why,
                        size_t cap)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(h, "bpm");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(h, "level");
    if (!cJSON_IsNumber(b))
        return fail(why, cap, "heart.bpm missing or not a number");
    *bpm = b->valuedouble;
    *level = -1;
    for (int k = FER_HR_LOW; cJSON_IsString(l) && k <= FER_HR_HIGH; k++)
        if (!strcmp(l->valuestring, fer_hr_level_name((fer_hr_level)k)))
            *level = k;
    if (!unit(h, "arousal", 0, arousal))
        *arousal = NAN;
    return 1;
}

int cli_json_schema_ok(const cJSON *o, char *why, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "schema");
    if (!v)
        return 1; /* written before there was a schema number: version 1 */
    if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= CLI_JSON_SCHEMA)
        return 1;
    snprintf(why, cap, "\"schema\" is not a version this program reads (1..%d)", CLI_JSON_SCHEMA);
    return 0;
}

int cli_json_print(const char *prog, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return cli_error(prog, "out of memory building JSON"), 0;
    puts(text);
    cJSON_free(text);
    return 1;
}
