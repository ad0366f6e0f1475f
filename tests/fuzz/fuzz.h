/* Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c): the library's file
 * readers take a path, so each input is first written to a scratch file. */
#ifndef FER_FUZZ_H
#define FER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch file of this process (one per process, so parallel fuzzers
 * never share one), rewritten with each input. Removed at exit. Returns its
 * path, or NULL if it cannot be written (the input is then skipped). */
static char fuzz_path_buf[64];

static void fuzz_remove_scratch(void)
{
    if (fuzz_path_buf[0])
        unlink(fuzz_path_buf);
}

static inline const char *fuzz_write_scratch(const uint8_t *data, size_t size)
{
    if (!fuzz_path_buf[0]) {
        /* tmpfs when there is one: a disk file system may flush each rewrite. */
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(fuzz_path_buf, sizeof fuzz_path_buf, "%.40s/fer-fuzz.%ld", dir ? dir : "/tmp",
                 (long)getpid());
        atexit(fuzz_remove_scratch);
    }
    /* A new file rather than a truncated one: ext4 syncs truncate-and-rewrite. */
    unlink(fuzz_path_buf);
    FILE *f = fopen(fuzz_path_buf, "wb");
    if (!f)
        return NULL;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || put != size)
        return NULL;
    return fuzz_path_buf;
}

/* A NUL-terminated malloc'd copy, for parsers that take a C string. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = 0;
    return s;
}

/* Keras Adam with this learning rate and time decay. */
static inline fer_status tu_adam(fer_model *m, float lr, float decay, fer_optim **o, fer_error *err)
{
    fer_optim_opts opts;
    fer_optim_opts_default(&opts, FER_ADAM);
    opts.lr = lr, opts.decay = decay;
    return fer_optim_new(m, &opts, o, err);
}

#endif
