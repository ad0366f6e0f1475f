/* SVG charts drawn by the tools themselves (no plotting library). */
#ifndef FER_PLOT_H
#define FER_PLOT_H

#include "fer.h"

/* Training curves: loss (train, validation) and accuracy (train,
 * validation) against epoch, two panels side by side. NAN points are skipped.
 * Written atomically. */
fer_status plot_curves_svg(const char *path, const char *title, int n, const double *loss,
                           const double *val_loss, const double *acc, const double *val_acc,
                           fer_error *err);

#endif
