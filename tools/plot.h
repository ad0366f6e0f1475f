/* SVG charts drawn by the tools themselves (no plotting library). */
#ifndef FER_PLOT_H
#define FER_PLOT_H

#include "fer.h"

/* Titles wrap at spaces to the picture's width (which grows for a word
 * longer than that); a newline in a title starts a new line. */

/* Training curves: loss (train, validation) and accuracy (train,
 * validation) against epoch, two panels side by side, on round ticks, the
 * key above them. NAN points are skipped; with few epochs (or a single
 * point) each point has a dot. Written atomically. */
fer_status plot_curves_svg(const char *path, const char *title, int n, const double *loss,
                           const double *val_loss, const double *acc, const double *val_acc,
                           fer_error *err);

/* Confusion matrix as a heat map: k x k counts (row = true class), cells
 * coloured by their share of the row. Written atomically. */
fer_status plot_confusion_svg(const char *path, const char *title, int k,
                              const char *const *names, const long *confusion, fer_error *err);

#endif
