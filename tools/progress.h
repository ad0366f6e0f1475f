/* fer-train's progress, saved in each checkpoint as "fer.extra"
 * (docs/weights-format.md): what --resume needs besides the weights and
 * Adam, as JSON. tests/fuzz/fuzz_checkpoint.c reads it the way --resume does. */
#ifndef FER_PROGRESS_H
#define FER_PROGRESS_H

#include "fer.h"

typedef struct epoch_row { double loss, acc, val_loss, val_acc, lr, seconds, images_per_s; } epoch_row;

/* Everything a checkpoint must carry besides weights and Adam. */
typedef struct progress {
    int epoch; /* completed epochs */
    fer_rng rng;
    double best_val_acc, best_val_loss;
    int since_best_loss, since_lr_change;
    epoch_row *rows;
} progress;

/* The JSON text (malloc'd), NULL when out of memory. */
char *progress_json(const progress *p);
/* Reads json into p, whose rows hold max_epochs rows. 0 unless every field
 * is there and in range, checked before any conversion: epoch an integer
 * 0..max_epochs, since_best_loss and since_lr_change integers 0..epoch,
 * best_val_acc -1..1, best_val_loss >= 0, the RNG state 4 hex words
 * not all zero, and one history row per epoch whose figures (or null) are
 * in the ranges training produces. */
int progress_parse(const char *json, progress *p, int max_epochs);

#endif
