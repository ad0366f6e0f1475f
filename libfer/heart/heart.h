/* What the heart-rate files share. Internal to libfer. */
#ifndef FER_HEART_H
#define FER_HEART_H

#include "core/core.h"

/* The median of buf[0..n) (n >= 1), which it sorts in place (heart.c). */
double fer_median_sort(double *buf, size_t n);

#endif
