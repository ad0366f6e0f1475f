/* The JSON the tools print and read (docs/tools.md, "JSON"): one schema
 * version for all of them, numbers rounded alike, strings always valid
 * UTF-8, and the state and heart objects written by fer-predict and
 * fer-recommend and read back by fer-recommend, all here. */
#ifndef FER_JSON_H
#define FER_JSON_H

#include <cJSON.h>
#include <stddef.h>

#include "fer.h"

/* "schema" of every object the tools print; a reader refuses a newer one. */
#define CLI_JSON_SCHEMA 1

/* A number rounded to 4 decimals (NAN and infinities: null). */
void cli_json_number(cJSON *o, const char *key, double v);
/* s with every byte that is not part of valid UTF-8 replaced by U+FFFD. */
void cli_json_string(cJSON *o, const char *key, const char *s);
/* A list "a; b; c" (blanks around items trimmed, empty items dropped) as an array of strings. */
void cli_json_list(cJSON *o, const char *key, const char *list, char sep);
/* A new object with "schema" and, when model_path is given, "model" (its file name). */
cJSON *cli_json_object(const char *model_path);

/* {"face" (when face >= 0), "emotion" (the class name, as faces have it:
 * "fear"), "intensity" ("mildly", "plain", "very"), "label" ("Fearful and
 * tense"), "valence", "arousal"}. */
cJSON *cli_json_state(const fer_state *st, int face);
/* {"bpm", "level" ("low", "moderate", "high"), "arousal"}, or null. */
cJSON *cli_json_heart(const fer_heart *h);

/* The state object back (also the capitalised names of schema-less files);
 * 0 with the reason in why ("state.arousal missing or outside 0..1"). The
 * label is not read: the library words it again from the other fields. */
int cli_json_read_state(const cJSON *st, fer_state *s, char *why, size_t cap);
/* heart.bpm (required), and level and arousal when present and valid. */
int cli_json_read_heart(const cJSON *h, double *bpm, int *level, double *arousal, char *why,
                        size_t cap);
/* 0 when o has a "schema" newer than CLI_JSON_SCHEMA (or not a number). */
int cli_json_schema_ok(const cJSON *o, char *why, size_t cap);

/* Prints o on one line of stdout and deletes it; 0 after "prog: out of memory". */
int cli_json_print(const char *prog, cJSON *o);

#endif
