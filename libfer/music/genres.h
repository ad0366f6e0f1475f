/* Genre lists of the catalogue. Internal to libfer. */
#ifndef FER_GENRES_H
#define FER_GENRES_H

#include <stddef.h>

/* ---- genre lists (catalog.c): genres separated by ';', blanks around each ignored */

/* The next genre of the list at *p: 1 with *item, *n set and *p moved past
 * it, or 0 at the end. */
int fer_genre_next(const char **p, const char **item, size_t *n);
/* 1 if the list holds the n bytes at genre (case-insensitively). */
int fer_genre_list_has(const char *list, const char *genre, size_t n);

#endif
