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

fer_status fer_file_write_atomic(const char *path, const void *data, size_t len, fer_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fer_status s = fer_fail(err, FER_EIO, "%s: %s", path, strerror(errno));
        free(tmp);
        return s;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    int ok = left == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return fer_fail(err, FER_EIO, "%s: write failed: %s", path, strerror(saved));
    }
    free(tmp);
    return FER_OK;
}
