/* Output files (libfer/core/fileio.c, docs/hardening.md "Output files"): the
 * temporary beside the output is a fresh random name that nothing planted
 * is followed through, a symlink at the output is replaced and not
 * followed, a FIFO or device is written in place, a directory is refused,
 * a failed write leaves nothing, and temporaries a killed save left are
 * removed once an hour old. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

/* A fresh directory; paths in it via at(). */
static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_fileio.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static const char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(at(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The file's text (at most 255 bytes), "" when it cannot be read. */
static const char *text_of(const char *path)
{
    static char buf[256];
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
    }
    return buf;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(at(e->d_name));
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The old temporary name was PATH.tmp.PID, opened without O_EXCL: a symlink
 * planted there made the save overwrite its target. */
START_TEST(planted_temp_symlink_not_followed)
{
    make_dir();
    put("victim", "keep");
    char planted[128];
    snprintf(planted, sizeof planted, "out.tmp.%ld", (long)getpid());
    ck_assert_int_eq(symlink(at("victim"), at(planted)), 0);
    fer_error err;
    ck_assert_msg(fer_file_write_atomic(at("out"), "new", 3, &err) == FER_OK, "%s", err.msg);
    ck_assert_str_eq(text_of(at("victim")), "keep");
    struct stat st;
    ck_assert(lstat(at("out"), &st) == 0 && S_ISREG(st.st_mode));
    ck_assert_str_eq(text_of(at("out")), "new");
    ck_assert_int_eq(count_prefixed(".out.tmp-"), 0);
    remove_dir();
}
END_TEST

START_TEST(symlink_at_output_replaced_not_followed)
{
    make_dir();
    put("target", "keep");
    ck_assert_int_eq(symlink(at("target"), at("out")), 0);
    ck_assert_int_eq(symlink(at("nowhere"), at("dangling")), 0);
    ck_assert_int_eq(fer_file_write_atomic(at("out"), "new", 3, NULL), FER_OK);
    ck_assert_int_eq(fer_file_write_atomic(at("dangling"), "new", 3, NULL), FER_OK);
    struct stat st;
    ck_assert(lstat(at("out"), &st) == 0 && S_ISREG(st.st_mode));
    ck_assert(lstat(at("dangling"), &st) == 0 && S_ISREG(st.st_mode));
    ck_assert_str_eq(text_of(at("target")), "keep");
    ck_assert_int_eq(access(at("nowhere"), F_OK), -1);
    remove_dir();
}
END_TEST

/* A FIFO (or a symlink to one) is written, not replaced by a regular file. */
START_TEST(fifo_written_in_place)
{
    make_dir();
    ck_assert_int_eq(mkfifo(at("pipe"), 0600), 0);
    ck_assert_int_eq(symlink(at("pipe"), at("link")), 0);
    const char *names[2] = {"pipe", "link"};
    for (int i = 0; i < 2; i++) {
        int rd = open(at("pipe"), O_RDONLY | O_NONBLOCK); /* a reader, so opening does not block */
        ck_assert_int_ge(rd, 0);
        fer_error err;
        ck_assert_msg(fer_file_write_atomic(at(names[i]), "through", 7, &err) == FER_OK, "%s",
                      err.msg);
        char buf[16] = {0};
        ck_assert_int_eq(read(rd, buf, sizeof buf - 1), 7);
        ck_assert_str_eq(buf, "through");
        close(rd);
        struct stat st;
        ck_assert(lstat(at("pipe"), &st) == 0 && S_ISFIFO(st.st_mode));
        ck_assert(lstat(at("link"), &st) == 0 && S_ISLNK(st.st_mode));
    }
    ck_assert_int_eq(count_prefixed(".pipe.tmp-") + count_prefixed(".link.tmp-"), 0);
    remove_dir();
}
END_TEST

/* A character device is written in place (as root, the old code replaced
 * /dev/null). Tested on a null device node of our own, so a regression can
 * only replace that: it needs root to make one, else the test only says so. */
START_TEST(device_written_in_place)
{
    make_dir();
    if (mknod(at("null"), S_IFCHR | 0666, makedev(1, 3)) != 0) {
        printf("device_written_in_place: skipped, mknod: %s\n", strerror(errno));
        remove_dir();
        return;
    }
    fer_error err;
    ck_assert_msg(fer_file_write_atomic(at("null"), "gone", 4, &err) == FER_OK, "%s", err.msg);
    struct stat st;
    ck_assert(lstat(at("null"), &st) == 0 && S_ISCHR(st.st_mode));
    remove_dir();
}
END_TEST

START_TEST(directory_refused)
{
    make_dir();
    fer_error err;
    ck_assert_int_eq(fer_file_write_atomic(dir, "x", 1, &err), FER_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
    remove_dir();
}
END_TEST

/* A write that fails (the file size limit) removes its temporary. */
START_TEST(failed_write_leaves_nothing)
{
    make_dir();
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {10, 10};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char big[100] = {0};
    fer_error err;
    ck_assert_int_eq(fer_file_write_atomic(at("out"), big, sizeof big, &err), FER_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "write failed"));
    ck_assert_int_eq(count_prefixed(".out"), 0);
    ck_assert_int_eq(count_prefixed("out"), 0);
    remove_dir();
}
END_TEST

static void age(const char *name, long seconds)
{
    struct timeval now, t[2];
    gettimeofday(&now, NULL);
    t[0] = t[1] = (struct timeval){now.tv_sec - seconds, 0};
    ck_assert_int_eq(utimes(at(name), t), 0);
}

/* What a kill during a save leaves (.NAME.tmp-XXXXXX) goes on the next save
 * of that name once an hour old; nothing else does. */
START_TEST(stale_temporaries_removed)
{
    make_dir();
    const char *stale = ".out.tmp-AbC123", *fresh = ".out.tmp-Fresh1";
    const char *keep[] = {".out.tmp-old", ".other.tmp-AbC123", "out.tmp-AbC123",
                          ".out.tmp-AbC1234"};
    put(stale, "x");
    age(stale, 7200);
    put(fresh, "x");
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        put(keep[i], "x");
        age(keep[i], 7200);
    }
    ck_assert_int_eq(symlink("/nowhere", at(".out.tmp-Link12")), 0);
    ck_assert_int_eq(fer_file_write_atomic(at("out"), "new", 3, NULL), FER_OK);
    ck_assert_int_eq(access(at(stale), F_OK), -1);
    ck_assert_int_eq(access(at(fresh), F_OK), 0);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        ck_assert_msg(access(at(keep[i]), F_OK) == 0, "%s removed", keep[i]);
    struct stat st;
    ck_assert_int_eq(lstat(at(".out.tmp-Link12"), &st), 0);
    remove_dir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("output");
    tcase_add_test(tc, planted_temp_symlink_not_followed);
    tcase_add_test(tc, symlink_at_output_replaced_not_followed);
    tcase_add_test(tc, fifo_written_in_place);
    tcase_add_test(tc, device_written_in_place);
    tcase_add_test(tc, directory_refused);
    tcase_add_test(tc, failed_write_leaves_nothing);
    tcase_add_test(tc, stale_temporaries_removed);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
