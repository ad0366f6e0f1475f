/* Whole-file reads with a size limit, and atomic writes (temp file + rename),
 * so an interrupted run never leaves a half-written output. Every output
 * file of libfer and the tools is written here (docs/hardening.md: output
 * files). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* A temporary of ours older than this is left over from a killed save. */
#define STALE_TEMP_SECONDS 3600
/* The characters of a temporary name's random suffix. */
static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

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

/* Six characters from the kernel's random source (or, failing that, the
 * clock, the pid and the attempt): a temporary name nobody can plant first. */
static void random_suffix(char out[7], int attempt)
{
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uint64_t)getpid() << 32 ^
            (uint64_t)attempt;
    }
    for (int i = 0; i < 6; i++, r /= 62)
        out[i] = ALNUM[r % 62];
    out[6] = 0;
}

/* 1 if `name` is one of our temporaries for `base`: ".BASE.tmp-XXXXXX". */
static int is_our_temp(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, n) || strncmp(name + 1 + n, ".tmp-", 5))
        return 0;
    const char *x = name + n + 6;
    return strlen(x) == 6 && strspn(x, ALNUM) == 6;
}

/* Removes our temporaries for this path that are regular files of this user
 * last written over an hour ago: what a kill during an earlier save left.
 * Best effort: a directory that cannot be listed is no error. */
static void remove_stale_temps(const char *dir, const char *base)
{
    DIR *d = opendir(*dir ? dir : ".");
    if (!d)
        return;
    time_t old = time(NULL) - STALE_TEMP_SECONDS;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (is_our_temp(e->d_name, base) &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_uid == geteuid() && st.st_mtime < old)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* An existing FIFO or character device (or a symlink to one) is written
 * in place: it cannot be replaced, and replacing /dev/null would be wrong. */
static fer_status open_in_place(fer_afile *a, fer_error *err)
{
    a->fd = open(a->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (a->fd < 0)
        return fer_fail(err, FER_EIO, "%s: %s", a->path, strerror(errno));
    struct stat st;
    if (fstat(a->fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
        close(a->fd);
        a->fd = -1;
        return fer_fail(err, FER_EIO, "%s: changed while it was being opened", a->path);
    }
    return FER_OK;
}

/* DIR/.NAME.tmp-XXXXXX beside path, created O_EXCL|O_NOFOLLOW so that
 * nothing planted at that name (a symlink) is ever followed. */
static fer_status open_temp(fer_afile *a, fer_error *err)
{
    const char *slash = strrchr(a->path, '/');
    size_t dlen = slash ? (size_t)(slash - a->path) + 1 : 0, cap = strlen(a->path) + 16;
    char *dir = malloc(dlen + 1);
    if (!dir || !(a->tmp = malloc(cap))) {
        free(dir);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", a->path);
    }
    memcpy(dir, a->path, dlen);
    dir[dlen] = 0;
    remove_stale_temps(dir, a->path + dlen);
    free(dir);
    for (int attempt = 0; attempt < 100 && a->fd < 0; attempt++) {
        char x[7];
        random_suffix(x, attempt);
        snprintf(a->tmp, cap, "%.*s.%s.tmp-%s", (int)dlen, a->path, a->path + dlen, x);
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (a->fd < 0 && errno != EEXIST)
            break;
    }
    if (a->fd < 0) {
        fer_status s = fer_fail(err, FER_EIO, "%s: %s", a->path, strerror(errno));
        free(a->tmp);
        a->tmp = NULL;
        return s;
    }
    return FER_OK;
}

fer_status fer_afile_open(fer_afile *a, const char *path, fer_error *err)
{
    *a = (fer_afile){.path = path, .fd = -1};
    struct stat st;
    /* A new name or a regular file is replaced; so is a symlink, unless
     * it points to a FIFO or device (the link itself, never its target). */
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode) ||
        (S_ISLNK(st.st_mode) && stat(path, &st) != 0))
        return open_temp(a, err);
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
        return open_in_place(a, err);
    if (S_ISDIR(st.st_mode))
        return fer_fail(err, FER_EIO, "%s: is a directory", path);
    if (!S_ISREG(st.st_mode))
        return fer_fail(err, FER_EIO, "%s: not a regular file, FIFO or character device", path);
    return open_temp(a, err);
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
    /* fsync is for the file about to be renamed; a FIFO or a terminal
     * would refuse it. */
    int ok = !a->failed && (!a->tmp || fsync(a->fd) == 0);
    int saved = a->failed ? a->saved_errno : errno;
    if (close(a->fd) != 0 && ok) {
        saved = errno;
        ok = 0;
    }
    if (ok && a->tmp && rename(a->tmp, a->path) != 0) {
        saved = errno;
        ok = 0;
    }
    if (!ok && a->tmp)
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
