/* The FER2013 readers. CSV: real rows, every kind of bad row (with its line
 * number), skip_bad, CRLF, quotes, stdin, and the real file's counts.
 * Folders: the Keras layout, order, resizing, ignored entries, errors. */
#include <fcntl.h>
#include <signal.h>
#include <stb_image_write.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

enum { PIX = 48 * 48 };

#define SAMPLE "tests/data/fer2013-sample.csv"

/* ---------------------------------------------------------------- helpers */

/* A growing text buffer for generated fixtures. */
typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        ck_assert_ptr_nonnull(t->s);
    }
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = 0;
}

static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

/* Appends n pixel values (value of pixel i: (i * 7 + seed) % 256). */
static void put_pixels(text *t, int n, int seed)
{
    char num[8];
    for (int i = 0; i < n; i++) {
        int k = snprintf(num, sizeof num, i ? " %d" : "%d", (i * 7 + seed) % 256);
        put(t, num, (size_t)k);
    }
}

/* "label,<PIX pixels>,usage" + eol */
static void put_row(text *t, const char *label, int seed, const char *usage, const char *eol)
{
    puts_(t, label);
    puts_(t, ",");
    put_pixels(t, PIX, seed);
    if (usage) {
        puts_(t, ",");
        puts_(t, usage);
    }
    puts_(t, eol);
}

/* Writes a temp file; returns its malloc'd path. */
static char *write_temp(const void *data, size_t n)
{
    char *path = strdup("/tmp/test_dataset.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Loads text as a CSV file; returns the status, err filled. */
static fer_status load_text(const text *t, int skip_bad, fer_dataset *ds, fer_error *err,
                            char **path_out)
{
    char *path = write_temp(t->s ? t->s : "", t->n);
    fer_status st = fer_dataset_load_csv(path, skip_bad, ds, err);
    unlink(path);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return st;
}

/* Asserts that loading fails with a message "PATH:LINE: ...WHAT...". */
static void expect_bad(const text *t, long line, const char *what)
{
    fer_dataset ds;
    fer_error err = {0};
    char *path;
    fer_status st = load_text(t, 0, &ds, &err, &path);
    ck_assert_int_ne(st, FER_OK);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s:%ld: ", path, line);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "'%s' lacks '%s'", err.msg,
                  prefix);
    ck_assert_msg(strstr(err.msg, what), "'%s' lacks '%s'", err.msg, what);
    ck_assert_ptr_null(ds.pixels);
    ck_assert_uint_eq(ds.n, 0);
    free(path);
}

/* A valid file: header then rows labelled 0,1,2,... and the given usage. */
static text valid_file(int rows, const char *eol)
{
    text t = {0};
    puts_(&t, "emotion,pixels,Usage");
    puts_(&t, eol);
    for (int i = 0; i < rows; i++) {
        char label[8];
        snprintf(label, sizeof label, "%d", i % 7);
        put_row(&t, label, i, i % 2 ? "PublicTest" : "Training", eol);
    }
    return t;
}

static void check_generated_rows(const fer_dataset *ds, int rows, int with_usage)
{
    ck_assert_uint_eq(ds->n, (size_t)rows);
    ck_assert_int_eq(ds->h, 48);
    ck_assert_int_eq(ds->w, 48);
    for (int i = 0; i < rows; i++) {
        ck_assert_int_eq(ds->labels[i], i % 7);
        int usage = with_usage ? (i % 2 ? FER_USAGE_PUBLIC_TEST : FER_USAGE_TRAINING)
                               : FER_USAGE_NONE;
        ck_assert_int_eq(ds->usage[i], usage);
        for (int p = 0; p < PIX; p++)
            ck_assert_int_eq(ds->pixels[(size_t)i * PIX + p], (p * 7 + i) % 256);
    }
}

/* ---------------------------------------------------------------- real rows */

/* Parses the fixture with strtol, independently of the library's parser. */
static size_t reference_parse(const char *path, int *labels, int *usage, uint8_t *px, size_t max)
{
    char *data;
    size_t len, n = 0;
    ck_assert_int_eq(fer_file_read(path, 1 << 24, &data, &len, NULL), FER_OK);
    char *save = NULL, *ln = strtok_r(data, "\n", &save); /* header */
    while ((ln = strtok_r(NULL, "\n", &save)) && n < max) {
        char *c1 = strchr(ln, ','), *c2 = strrchr(ln, ',');
        labels[n] = (int)strtol(ln, NULL, 10);
        usage[n] = strcmp(c2 + 1, "Training") == 0     ? FER_USAGE_TRAINING
                   : strcmp(c2 + 1, "PublicTest") == 0 ? FER_USAGE_PUBLIC_TEST
                                                        : FER_USAGE_PRIVATE_TEST;
        char *p = c1 + 1;
        for (int i = 0; i < PIX; i++)
            px[n * PIX + (size_t)i] = (uint8_t)strtol(p, &p, 10);
        ck_assert_ptr_eq(p, c2);
        n++;
    }
    free(data);
    return n;
}

START_TEST(sample_exact_values)
{
    enum { MAX = 64 };
    static int labels[MAX], usage[MAX];
    static uint8_t px[MAX * PIX];
    size_t n = reference_parse(SAMPLE, labels, usage, px, MAX);
    ck_assert_uint_ge(n, 14);
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_eq(fer_dataset_load_csv(SAMPLE, 0, &ds, &err), FER_OK);
    ck_assert_uint_eq(ds.n, n);
    ck_assert_uint_eq(ds.n_bad, 0);
    ck_assert_str_eq(err.msg, "");
    int seen[FER_N_EMOTIONS] = {0}, seen_usage[4] = {0};
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(ds.labels[i], labels[i]);
        ck_assert_int_eq(ds.usage[i], usage[i]);
        seen[labels[i]]++;
        seen_usage[usage[i]]++;
    }
    ck_assert_mem_eq(ds.pixels, px, n * PIX);
    for (int c = 0; c < FER_N_EMOTIONS; c++)
        ck_assert_int_gt(seen[c], 0);
    ck_assert_int_gt(seen_usage[FER_USAGE_TRAINING], 0);
    ck_assert_int_gt(seen_usage[FER_USAGE_PUBLIC_TEST], 0);
    fer_dataset_free(&ds);
    fer_dataset_free(&ds); /* idempotent */
    fer_dataset_free(NULL);
}
END_TEST

START_TEST(generated_lf_and_crlf)
{
    const char *eols[] = {"\n", "\r\n"};
    for (int k = 0; k < 2; k++) {
        text t = valid_file(9, eols[k]);
        fer_dataset ds;
        fer_error err = {0};
        ck_assert_msg(load_text(&t, 0, &ds, &err, NULL) == FER_OK, "%s", err.msg);
        check_generated_rows(&ds, 9, 1);
        fer_dataset_free(&ds);
        free(t.s);
    }
}
END_TEST

START_TEST(all_three_usages_any_column_order)
{
    text t = {0};
    puts_(&t, "Usage,pixels,emotion\n");
    const char *usages[] = {"Training", "PublicTest", "PrivateTest"};
    for (int i = 0; i < 3; i++) {
        puts_(&t, usages[i]);
        puts_(&t, ",");
        put_pixels(&t, PIX, i);
        char tail[8];
        snprintf(tail, sizeof tail, ",%d\n", 6 - i);
        puts_(&t, tail);
    }
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_msg(load_text(&t, 0, &ds, &err, NULL) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(ds.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ds.usage[i], i); /* FER_USAGE_TRAINING, _PUBLIC_TEST, _PRIVATE_TEST */
        ck_assert_int_eq(ds.labels[i], 6 - i);
        ck_assert_int_eq(ds.pixels[(size_t)i * PIX + 5], (5 * 7 + i) % 256);
    }
    fer_dataset_free(&ds);
    free(t.s);
}
END_TEST

START_TEST(no_usage_column)
{
    text t = {0};
    puts_(&t, "emotion,pixels\n");
    for (int i = 0; i < 4; i++) {
        char label[8];
        snprintf(label, sizeof label, "%d", i % 7);
        put_row(&t, label, i, NULL, "\n");
    }
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_msg(load_text(&t, 0, &ds, &err, NULL) == FER_OK, "%s", err.msg);
    check_generated_rows(&ds, 4, 0);
    fer_dataset_free(&ds);
    free(t.s);
}
END_TEST

START_TEST(quotes_blank_lines_no_final_newline)
{
    text t = {0};
    puts_(&t, "\xEF\xBB\xBF\"emotion\",\"pixels\",\"Usage\"\r\n\r\n");
    puts_(&t, "0,\"");
    put_pixels(&t, PIX, 0);
    puts_(&t, "\",Training\n\n");
    puts_(&t, "\"1\", \"");
    put_pixels(&t, PIX, 1);
    puts_(&t, "\" ,\"PublicTest\""); /* no final newline */
    puts_(&t, "\n\n  \n\r\n");        /* then trailing blank lines */
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_msg(load_text(&t, 0, &ds, &err, NULL) == FER_OK, "%s", err.msg);
    check_generated_rows(&ds, 2, 1);
    fer_dataset_free(&ds);
    t.n -= strlen("\n\n  \n\r\n");
    ck_assert_msg(load_text(&t, 0, &ds, &err, NULL) == FER_OK, "%s", err.msg);
    check_generated_rows(&ds, 2, 1);
    fer_dataset_free(&ds);
    free(t.s);
}
END_TEST

START_TEST(header_only_is_empty_set)
{
    text t = {0};
    puts_(&t, "emotion,pixels,Usage\n");
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_eq(load_text(&t, 0, &ds, &err, NULL), FER_OK);
    ck_assert_uint_eq(ds.n, 0);
    fer_dataset_free(&ds);
    free(t.s);
}
END_TEST

/* ---------------------------------------------------------------- bad rows */

/* A valid header and row 2, then `bad` as line 3, then a valid row. */
static text with_bad_line(const char *bad)
{
    text t = valid_file(1, "\n");
    puts_(&t, bad);
    puts_(&t, "\n");
    put_row(&t, "3", 3, "Training", "\n");
    return t;
}

static void expect_bad_line(const char *bad, const char *what)
{
    text t = with_bad_line(bad);
    expect_bad(&t, 3, what);
    free(t.s);
}

START_TEST(bad_pixel_count)
{
    text row = {0};
    puts_(&row, "1,");
    put_pixels(&row, PIX - 1, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "2303 pixel values, expected 2304");
    row.n = 0;
    puts_(&row, "1,");
    put_pixels(&row, PIX + 1, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "2305 pixel values, expected 2304");
    expect_bad_line("1,,Training", "0 pixel values");
    free(row.s);
}
END_TEST

START_TEST(bad_pixel_values)
{
    text row = {0};
    puts_(&row, "1,1 2 3 x4 ");
    put_pixels(&row, PIX - 4, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "pixel 4: 'x4' is not a number");
    row.n = 0;
    puts_(&row, "1,1 2 256 ");
    put_pixels(&row, PIX - 3, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "pixel 3: value 256 exceeds 255");
    row.n = 0;
    puts_(&row, "1,-1 ");
    put_pixels(&row, PIX - 1, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "pixel 1: '-1' is not a number");
    row.n = 0;
    puts_(&row, "1,99999999999999999999 ");
    put_pixels(&row, PIX - 1, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "pixel 1: value 99999999999999999999 exceeds 255");
    row.n = 0;
    puts_(&row, "1,1.5 ");
    put_pixels(&row, PIX - 1, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "pixel 1: '1.5' is not a number");
    free(row.s);
}
END_TEST

START_TEST(bad_labels_usage_fields)
{
    const char *cases[][2] = {
        {"7", "emotion 7 out of range 0..6"},
        {"12345678901234567890", "out of range 0..6"},
        {"x", "emotion 'x' is not a number"},
        {"-1", "emotion '-1' is not a number"},
        {"", "emotion '' is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        text row = {0};
        put_row(&row, cases[i][0], 0, "Training", "");
        expect_bad_line(row.s, cases[i][1]);
        free(row.s);
    }
    text row = {0};
    put_row(&row, "2", 0, "Validation", "");
    expect_bad_line(row.s, "Usage 'Validation' is not Training, PublicTest or PrivateTest");
    row.n = 0;
    put_row(&row, "2", 0, "Training,extra", "");
    expect_bad_line(row.s, "4 fields, expected 3");
    row.n = 0;
    put_row(&row, "2", 0, NULL, "");
    expect_bad_line(row.s, "2 fields, expected 3");
    row.n = 0;
    puts_(&row, "2,\"");
    put_pixels(&row, PIX, 0);
    puts_(&row, ",Training");
    expect_bad_line(row.s, "unterminated quote");
    row.n = 0;
    puts_(&row, "2,\"1\"2");
    expect_bad_line(row.s, "text after a closing quote");
    expect_bad_line("\x01\x02\xff\xfe", "1 fields, expected 3");
    expect_bad_line("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "more than 16 fields");
    expect_bad_line("1\"2,3,Training", "field 1: stray double quote");
    free(row.s);
}
END_TEST

START_TEST(line_numbers_count_blank_and_crlf_lines)
{
    text t = valid_file(2, "\r\n"); /* lines 1..3 */
    puts_(&t, "\r\n\r\n");           /* lines 4, 5 */
    put_row(&t, "9", 0, "Training", "\r\n");
    expect_bad(&t, 6, "emotion 9 out of range");
    free(t.s);
}
END_TEST

static void expect_whole_file_error(const text *t, const char *what)
{
    fer_dataset ds;
    fer_error err = {0};
    char *path;
    ck_assert_int_ne(load_text(t, 1, &ds, &err, &path), FER_OK); /* even with skip_bad */
    ck_assert_msg(strstr(err.msg, path) == err.msg, "'%s' does not start with the path", err.msg);
    ck_assert_msg(strstr(err.msg, what), "'%s' lacks '%s'", err.msg, what);
    ck_assert_ptr_null(ds.pixels);
    free(path);
}

START_TEST(missing_header_empty_file)
{
    text t = {0};
    expect_whole_file_error(&t, "empty file");
    puts_(&t, "\n\r\n\n");
    expect_whole_file_error(&t, "empty file");
    t.n = 0;
    put_row(&t, "0", 0, "Training", "\n"); /* rows without a header */
    expect_whole_file_error(&t, ":1: missing header");
    t.n = 0;
    puts_(&t, "label,pixels\n");
    expect_whole_file_error(&t, ":1: missing header: expected emotion,pixels[,Usage], got 'label,pixels'");
    t.n = 0;
    puts_(&t, "emotion,pixels,emotion\n");
    expect_whole_file_error(&t, ":1: column 'emotion' appears twice");
    free(t.s);
}
END_TEST

START_TEST(binary_garbage)
{
    fer_rng r;
    fer_rng_seed(&r, 7);
    enum { N = 1 << 18 };
    text t = {0};
    for (int i = 0; i < N; i++) {
        char c = (char)fer_rng_below(&r, 256);
        put(&t, &c, 1);
    }
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_ne(load_text(&t, 1, &ds, &err, NULL), FER_OK);
    ck_assert_msg(strstr(err.msg, "missing header"), "%s", err.msg);
    /* garbage after a valid header: every line is a bad row */
    text v = valid_file(2, "\n");
    put(&v, t.s, t.n);
    ck_assert_int_ne(load_text(&v, 0, &ds, &err, NULL), FER_OK);
    ck_assert_msg(strstr(err.msg, ":4: "), "%s", err.msg);
    err = (fer_error){0};
    ck_assert_int_eq(load_text(&v, 1, &ds, &err, NULL), FER_OK);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_gt(ds.n_bad, 100);
    ck_assert_msg(strstr(ds.first_bad, ":4: "), "%s", ds.first_bad);
    ck_assert_str_eq(err.msg, ""); /* no message with FER_OK */
    fer_dataset_free(&ds);
    free(t.s);
    free(v.s);
}
END_TEST

START_TEST(ten_megabyte_line)
{
    text t = valid_file(1, "\n");
    size_t big = 10u << 20;
    char *line = malloc(big);
    ck_assert_ptr_nonnull(line);
    for (size_t i = 0; i < big; i++)
        line[i] = i % 2 ? ' ' : '1';
    put(&t, line, big);
    puts_(&t, "\n");
    put_row(&t, "3", 1, "Training", "\n");
    free(line);
    expect_bad(&t, 3, "line longer than 65536 bytes");
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_eq(load_text(&t, 1, &ds, &err, NULL), FER_OK);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.n_bad, 1);
    ck_assert_int_eq(ds.labels[1], 3);
    ck_assert_int_eq(ds.pixels[PIX + 10], (10 * 7 + 1) % 256);
    fer_dataset_free(&ds);
    /* a 100 KB line that fits in the read buffer gets the same verdict */
    t.n = 0;
    text v = valid_file(1, "\n");
    puts_(&v, "1,");
    put_pixels(&v, 25000, 0);
    puts_(&v, ",Training\n");
    expect_bad(&v, 3, "line longer than 65536 bytes");
    free(v.s);
    /* as the header: */
    for (int i = 0; i < 100000; i++)
        puts_(&t, "emotion");
    expect_whole_file_error(&t, ":1: missing header");
    free(t.s);
}
END_TEST

START_TEST(skip_bad_counts_and_keeps_first_message)
{
    text t = valid_file(3, "\n"); /* lines 2..4 good */
    put_row(&t, "8", 0, "Training", "\n");   /* line 5 */
    put_row(&t, "1", 0, "Testing", "\n");    /* line 6 */
    puts_(&t, "1,1 2 3,Training\n");         /* line 7 */
    put_row(&t, "4", 4, "PublicTest", "\n"); /* line 8, good */
    fer_dataset ds;
    fer_error err = {0};
    char *path;
    ck_assert_int_eq(load_text(&t, 1, &ds, &err, &path), FER_OK);
    ck_assert_int_eq(err.code, FER_OK);
    ck_assert_uint_eq(ds.n, 4);
    ck_assert_uint_eq(ds.n_bad, 3);
    char want[160];
    snprintf(want, sizeof want, "%s:5: emotion 8 out of range 0..6", path);
    ck_assert_str_eq(ds.first_bad, want);
    ck_assert_str_eq(err.msg, ""); /* no message with FER_OK */
    ck_assert_int_eq(ds.labels[3], 4);
    ck_assert_int_eq(ds.usage[3], FER_USAGE_PUBLIC_TEST);
    ck_assert_int_eq(ds.pixels[3 * PIX + 100], (100 * 7 + 4) % 256);
    fer_dataset_free(&ds);
    ck_assert_int_eq(load_text(&t, 1, &ds, NULL, NULL), FER_OK); /* err may be NULL */
    fer_dataset_free(&ds);
    free(path);
    free(t.s);
}
END_TEST

START_TEST(missing_file_and_directory)
{
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_eq(fer_dataset_load_csv("/nonexistent/fer.csv", 0, &ds, &err), FER_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/fer.csv: "), "%s", err.msg);
    ck_assert_int_eq(fer_dataset_load_csv("/tmp", 0, &ds, &err), FER_EIO);
    ck_assert_msg(strstr(err.msg, "/tmp: is a directory"), "%s", err.msg);
    ck_assert_int_eq(fer_dataset_load_csv(NULL, 0, &ds, &err), FER_EINVAL);
    ck_assert_int_eq(fer_dataset_load_csv(SAMPLE, 0, NULL, &err), FER_EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- stdin */

/* Runs fer_dataset_load_csv("-") with fd as stdin; restores stdin after. */
static fer_status load_stdin_from(int fd, int skip_bad, fer_dataset *ds, fer_error *err)
{
    int saved = dup(0);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, 0), 0);
    close(fd);
    clearerr(stdin);
    fer_status st = fer_dataset_load_csv("-", skip_bad, ds, err);
    ck_assert_int_ge(dup2(saved, 0), 0);
    close(saved);
    __fpurge(stdin); /* whatever the reader left buffered is not the next test's */
    clearerr(stdin);
    return st;
}

/* A child process that writes data into a pipe; returns the read end. */
static int pipe_from_child(const char *data, size_t n, pid_t *pid)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    *pid = fork();
    ck_assert_int_ge(*pid, 0);
    if (*pid == 0) {
        close(fds[0]);
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fds[1], data + off, n - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

START_TEST(stdin_pipe_and_file)
{
    text t = valid_file(12, "\r\n");
    pid_t pid;
    int fd = pipe_from_child(t.s, t.n, &pid);
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_msg(load_stdin_from(fd, 0, &ds, &err) == FER_OK, "%s", err.msg);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    check_generated_rows(&ds, 12, 1);
    fer_dataset_free(&ds);
    /* a regular file as stdin, with a bad row: the message names <stdin> */
    put_row(&t, "1", 0, "Nope", "\n");
    char *path = write_temp(t.s, t.n);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ne(load_stdin_from(fd, 0, &ds, &err), FER_OK);
    ck_assert_msg(strstr(err.msg, "<stdin>:14: Usage 'Nope'"), "%s", err.msg);
    unlink(path);
    free(path);
    free(t.s);
}
END_TEST

/* Endless input without a newline: an error after the first 64 KiB, no hang. */
START_TEST(endless_line_fails_fast)
{
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_ne(fer_dataset_load_csv("/dev/zero", 1, &ds, &err), FER_OK);
    ck_assert_msg(strstr(err.msg, "/dev/zero:1: missing header"), "%s", err.msg);
    text t = valid_file(1, "\n");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* the header and a row, then 'x' until the reader hangs up */
        close(fds[0]);
        if (write(fds[1], t.s, t.n) != (ssize_t)t.n)
            _exit(1);
        char xs[4096];
        memset(xs, 'x', sizeof xs);
        while (write(fds[1], xs, sizeof xs) > 0)
            ;
        _exit(0);
    }
    close(fds[1]);
    ck_assert_int_ne(load_stdin_from(fds[0], 0, &ds, &err), FER_OK);
    ck_assert_msg(strstr(err.msg, "<stdin>:3: line longer than"), "%s", err.msg);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    free(t.s);
}
END_TEST

/* ---------------------------------------------------------------- real file */

START_TEST(real_file_counts)
{
    char buf[4096];
    const char *gz = tu_shared("datasets/fer2013.csv.gz", buf, sizeof buf);
    if (!gz) {
        printf("test_dataset: skipping real_file_counts: ../shared/datasets/fer2013.csv.gz "
               "is absent\n");
        return;
    }
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        execlp("zcat", "zcat", gz, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    fer_dataset ds;
    fer_error err = {0};
    fer_status st = load_stdin_from(fds[0], 0, &ds, &err);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(st == FER_OK, "%s", err.msg);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    static const size_t train_per_class[FER_N_EMOTIONS] = {3995, 436, 4097, 7215, 4830, 3171, 4965};
    size_t per_usage[4] = {0}, train[FER_N_EMOTIONS] = {0};
    for (size_t i = 0; i < ds.n; i++) {
        per_usage[ds.usage[i]]++;
        if (ds.usage[i] == FER_USAGE_TRAINING)
            train[ds.labels[i]]++;
    }
    ck_assert_uint_eq(per_usage[FER_USAGE_TRAINING], 28709);
    ck_assert_uint_eq(per_usage[FER_USAGE_PUBLIC_TEST], 3589);
    ck_assert_uint_eq(per_usage[FER_USAGE_NONE], 0);
    for (int c = 0; c < FER_N_EMOTIONS; c++)
        ck_assert_uint_eq(train[c], train_per_class[c]);
    ck_assert_uint_eq(ds.n_bad, 0);
    fer_dataset_free(&ds);
}
END_TEST

/* ---------------------------------------------------------------- folders */

/* A temp folder tree; returns its malloc'd path. */
static char *temp_dir(void)
{
    char *path = strdup("/tmp/test_dataset_dir.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

static void make_subdir(const char *root, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

/* A w x h grey PNG whose pixel (x, y) is f(x, y, seed). */
static void write_png(const char *root, const char *rel, int w, int h, int seed)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    uint8_t *px = malloc((size_t)w * (size_t)h);
    ck_assert_ptr_nonnull(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            px[y * w + x] = (uint8_t)((x / (w / 48) * 5 + y / (h / 48) * 3 + seed * 11) % 256);
    ck_assert_int_ne(stbi_write_png(p, w, h, 1, px, w), 0);
    free(px);
}

static void write_bytes(const char *root, const char *rel, const char *bytes)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(bytes, f);
    fclose(f);
}

/* The 48x48 pixels write_png(48, 48, seed) stored (and any 2x/3x upscale of them). */
static void expected_face(int seed, uint8_t *out)
{
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++)
            out[y * 48 + x] = (uint8_t)((x * 5 + y * 3 + seed * 11) % 256);
}

static void remove_tree(const char *root)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *const CLASSES3[] = {"happy", "sad", "angry"};

START_TEST(folders_keras_layout)
{
    char *root = temp_dir();
    make_subdir(root, "Sad");      /* matched case-insensitively */
    make_subdir(root, "HAPPY");
    make_subdir(root, "contempt"); /* not a class: ignored */
    write_png(root, "Sad/b.png", 48, 48, 2);
    write_png(root, "Sad/a.png", 96, 96, 1); /* 2x2 blocks: area average is exact */
    write_png(root, "Sad/c.PNG", 144, 144, 3);
    write_png(root, "HAPPY/z.png", 48, 48, 4);
    write_png(root, "contempt/x.png", 48, 48, 5);
    write_png(root, "Sad/.hidden.png", 48, 48, 6);
    write_bytes(root, "Sad/notes.txt", "not an image\n");
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/Sad/d.png", root); /* would block a reader */
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    make_subdir(root, "Sad/e.png"); /* a folder with an image name */
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_msg(fer_dataset_load_dir(root, 3, CLASSES3, &ds, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(ds.n, 4);
    ck_assert_int_eq(ds.h, 48);
    ck_assert_int_eq(ds.w, 48);
    /* class order, then sorted names: HAPPY/z, Sad/a, Sad/b, Sad/c */
    const int labels[] = {0, 1, 1, 1}, seeds[] = {4, 1, 2, 3};
    uint8_t want[48 * 48];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(ds.labels[i], labels[i]);
        ck_assert_int_eq(ds.usage[i], FER_USAGE_NONE);
        expected_face(seeds[i], want);
        ck_assert_msg(memcmp(ds.pixels + (size_t)i * PIX, want, PIX) == 0, "image %d differs", i);
    }
    fer_dataset_free(&ds);
    remove_tree(root);
    free(root);
}
END_TEST

START_TEST(folders_errors)
{
    char *root = temp_dir();
    fer_dataset ds;
    fer_error err = {0};
    ck_assert_int_ne(fer_dataset_load_dir(root, 3, CLASSES3, &ds, &err), FER_OK);
    ck_assert_msg(strstr(err.msg, "no sub-folder named after a class"), "%s", err.msg);
    make_subdir(root, "sad");
    make_subdir(root, "Sad");
    ck_assert_int_ne(fer_dataset_load_dir(root, 3, CLASSES3, &ds, &err), FER_OK);
    ck_assert_msg(strstr(err.msg, "both name class 'sad'"), "%s", err.msg);
    char p[512];
    snprintf(p, sizeof p, "%s/Sad", root);
    ck_assert_int_eq(rmdir(p), 0);
    write_png(root, "sad/ok.png", 48, 48, 1);
    write_bytes(root, "sad/broken.png", "\x89PNG garbage");
    ck_assert_int_ne(fer_dataset_load_dir(root, 3, CLASSES3, &ds, &err), FER_OK);
    ck_assert_msg(strstr(err.msg, "sad/broken.png"), "%s", err.msg);
    ck_assert_ptr_null(ds.pixels);
    ck_assert_int_eq(fer_dataset_load_dir("/nonexistent/faces", 3, CLASSES3, &ds, &err), FER_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/faces"), "%s", err.msg);
    ck_assert_int_eq(fer_dataset_load_dir(SAMPLE, 3, CLASSES3, &ds, &err), FER_EIO);
    ck_assert_int_eq(fer_dataset_load_dir(root, 0, CLASSES3, &ds, &err), FER_EINVAL);
    ck_assert_int_eq(fer_dataset_load_dir(root, 3, NULL, &ds, &err), FER_EINVAL);
    remove_tree(root);
    free(root);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, sample_exact_values);
    tcase_add_test(tc, generated_lf_and_crlf);
    tcase_add_test(tc, all_three_usages_any_column_order);
    tcase_add_test(tc, no_usage_column);
    tcase_add_test(tc, quotes_blank_lines_no_final_newline);
    tcase_add_test(tc, header_only_is_empty_set);
    tcase_add_test(tc, bad_pixel_count);
    tcase_add_test(tc, bad_pixel_values);
    tcase_add_test(tc, bad_labels_usage_fields);
    tcase_add_test(tc, line_numbers_count_blank_and_crlf_lines);
    tcase_add_test(tc, missing_header_empty_file);
    tcase_add_test(tc, binary_garbage);
    tcase_add_test(tc, ten_megabyte_line);
    tcase_add_test(tc, endless_line_fails_fast);
    tcase_add_test(tc, skip_bad_counts_and_keeps_first_message);
    tcase_add_test(tc, missing_file_and_directory);
    tcase_add_test(tc, stdin_pipe_and_file);
    suite_add_tcase(s, tc);
    TCase *dir = tcase_create("folders");
    tcase_add_test(dir, folders_keras_layout);
    tcase_add_test(dir, folders_errors);
    suite_add_tcase(s, dir);
    TCase *real = tcase_create("real");
    tcase_set_timeout(real, 120);
    tcase_add_test(real, real_file_counts);
    suite_add_tcase(s, real);
    return s;
}

int main(void) { return tu_run(suite()); }
