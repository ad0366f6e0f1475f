/* Optimisers step a list of (parameter, gradient) pairs and know nothing of
 * models (train.c ties the two together). Internal to libfer. */
#ifndef FER_OPTIM_H
#define FER_OPTIM_H

#include "core/core.h"

typedef struct fer_param {
    fer_tensor *value, *grad; /* grad NULL: a buffer, never stepped */
    int decay;                /* weight decay applies */
    char name[64];            /* "<node>.<suffix>" */
} fer_param;

fer_status fer_optim_create(const fer_optim_opts *o, const fer_param *params, int n,
                            fer_optim **out, fer_error *err);
/* One update of every parameter from its gradient: params is the list the
 * optimiser was created for. */
void fer_optim_step(fer_optim *o, const fer_param *params);

/* State tensors per parameter, for checkpoints: slot s of parameter i is
 * saved as fer_optim_slot_prefix(o, s) + the parameter's name. */
int fer_optim_n_slots(const fer_optim *o);
const char *fer_optim_slot_prefix(const fer_optim *o, int slot);
fer_tensor *fer_optim_slot(fer_optim *o, int param, int slot);
void fer_optim_set_iterations(fer_optim *o, int64_t iterations);
/* "adam", "sgd": the prefix of its checkpoint metadata ("adam.lr"). */
const char *fer_optim_kind_name(fer_optim_kind kind);
/* The range check of every field, as fer_optim_create makes it. */
fer_status fer_optim_opts_check(const fer_optim_opts *o, fer_error *err);

#endif
