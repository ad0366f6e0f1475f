/* The core every domain uses: errors, output files, the thread pool. Internal to libfer. */
#ifndef FER_CORE_H
#define FER_CORE_H

#include "fer.h"


#if defined(__GNUC__)
#define FER_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FER_PRINTF(a, b)
#endif

/* Fills err (if any) and returns code, so callers write `return fer_fail(...)`. */
fer_status fer_fail(fer_error *err, fer_status code, const char *fmt, ...) FER_PRINTF(3, 4);
/* "prefix: " put before the message a callee left in err (e.g. the file
 * around an architecture error), with code; never formats err into itself. */
fer_status fer_fail_prefix(fer_error *err, fer_status code, const char *prefix);

/* ---- output files written piece by piece (fileio.c; every output of
 * libfer and the tools goes through here). A new name, a regular file or a
 * symlink at path is replaced atomically: data go to DIR/.NAME.tmp-XXXXXX
 * (random, created O_EXCL|O_NOFOLLOW), which commit fsyncs and renames
 * over path (a symlink is replaced, never followed); temporaries of ours
 * for path over an hour old (a killed save) are removed on open. An
 * existing FIFO or character device, or a symlink to one, is written in
 * place; a directory or other special file is refused. A failed write is
 * remembered and reported by commit, which then removes the temporary. */
typedef struct fer_afile {
    const char *path;
    char *tmp; /* NULL when writing in place */
    int fd, failed, saved_errno;
} fer_afile;
fer_status fer_afile_open(fer_afile *a, const char *path, fer_error *err);
void fer_afile_write(fer_afile *a, const void *data, size_t len);
fer_status fer_afile_commit(fer_afile *a, fer_error *err);

/* ---- thread pool: fn runs once per thread on a static, contiguous share of
 * [0, n): thread t gets [t*n/T, (t+1)*n/T). Static shares keep per-thread
 * partial sums, and so results, identical for a given thread count. */
typedef void (*fer_range_fn)(void *arg, int begin, int end, int thread);
void fer_pool_for(fer_pool *p, int n, fer_range_fn fn, void *arg);

#endif
