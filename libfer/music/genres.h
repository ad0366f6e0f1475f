/* Genre lists of the catalogue. Internal to libfer. */
#ifndef FER_GENRES_H
#define FER_GENRES_H

#include <stddef.h>

/* ---- lists of names (catalog.c): items separated by sep, blanks around each
 * ignored, empty items skipped. The catalogue's genre lists use ';', the
 * genres a caller asks for (--genre rock,jazz) ','. */

/* The next item of the list at *p: 1 with *item, *n set and *p moved past
 * it, or 0 at the end. */
int fer_list_next(const char **p, char sep, const char **item, size_t *n);
/* The next genre of a catalogue genre list. */
static inline int fer_genre_next(const char **p, const char **item, size_t *n)
{
    return fer_list_next(p, ';', item, n);
}
/* 1 if the list holds the n bytes at genre (case-insensitively). */
int fer_genre_list_has(const char *list, const char *genre, size_t n);

#endif
