/* Whole-file reads with a size limit, and atomic writes (temp file + rename),
 * so an interrupted run never leaves a half-written output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

fer_status fer_file_read(const char *path, size_t max_bytes, char **data, size_t *len,
                         fer_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fer_fail(err, FER_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return fer_fail(err, FER_EIO, "%s: is a directory", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= max_bytes)
                break;
            cap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int read_error = ferror(f), more = buf && n == cap && fgetc(f) != EOF;
    fclose(f);
    if (!buf)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    if (read_error || more) {
        free(buf);
        if (more)
            return fer_fail(err, FER_ERANGE, "%s: larger than %zu bytes", path, max_bytes);
        return fer_fail(err, FER_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return FER_OK;
}

fer_status fer_afile_open(fer_afile *a, const char *path, fer_error *err)
{
    size_t plen = strlen(path);
    a->path = path;
    a->failed = 0;
    a->saved_errno = 0;
    a->fd = -1;
    if (!(a->tmp = malloc(plen + 32)))
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    snprintf(a->tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (a->fd < 0) {
        fer_status s = fer_fail(err, FER_EIO, "%s: %s", path, strerror(errno));
        free(a->tmp);
        a->tmp = NULL;
        return s;
    }
    return FER_OK;
}

void fer_afile_write(fer_afile *a, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0 && !a->failed) {
        ssize_t w = write(a->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            a->failed = 1;
            a->saved_errno = w < 0 ? errno : EIO;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
}

fer_status fer_afile_commit(fer_afile *a, fer_error *err)
{
    int ok = !a->failed && fsync(a->fd) == 0;
    int saved = a->failed ? a->saved_errno : errno;
    ok = close(a->fd) == 0 && ok;
    if (ok && rename(a->tmp, a->path) != 0) {
        saved = errno;
        ok = 0;
    }
    if (!ok)
        unlink(a->tmp);
    free(a->tmp);
    a->tmp = NULL;
    return ok ? FER_OK : fer_fail(err, FER_EIO, "%s: write failed: %s", a->path, strerror(saved));
}

fer_status fer_file_write_atomic(const char *path, const void *data, size_t len, fer_error *err)
{
    fer_afile a;
    fer_status s = fer_afile_open(&a, path, err);
    if (s)
        return s;
    fer_afile_write(&a, data, len);
    return fer_afile_commit(&a, err);
}
