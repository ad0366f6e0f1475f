/* Image-folder data sets: DIR/<class>/<image> (the Keras flow_from_directory
 * layout), each image decoded to grey and area-resized to 48x48.
 *
 * The file list is gathered and sorted before anything is decoded, so the
 * order (classes in the caller's order, files by byte-wise name) is the same
 * on every file system, and the storage is allocated once at its final size. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core.h"

enum { SIDE = 48, MAX_CLASSES = 1024 };

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int names_add(name_list *l, const char *a, const char *b)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = malloc(la + lb + 2);
    if (!s)
        return -1;
    memcpy(s, a, la);
    s[la] = 0;
    if (b) {
        s[la] = '/';
        memcpy(s + la + 1, b, lb + 1);
    }
    l->v[l->n++] = s;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Regular files only: a FIFO named x.png would block the decoder forever. */
static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The extensions stb_image decodes; anything else (README, .DS_Store,
 * Thumbs.db...) in a class folder is ignored. */
static int has_image_extension(const char *name)
{
    static const char *const ext[] = {"png", "jpg", "jpeg", "bmp", "gif", "tga", "psd",
                                      "pgm", "ppm", "pnm", "hdr", "pic"};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0)
            return 1;
    return 0;
}

/* Finds the folder of each class (case-insensitive); folders named after no
 * class are ignored. folder[c] is NULL for a class without a folder. */
static fer_status match_class_folders(const char *dir, int k, const char *const *names,
                                      name_list *folder, fer_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fer_fail(err, FER_EIO, "%s: %s", dir, strerror(errno));
    fer_status st = FER_OK;
    struct dirent *e;
    while (st == FER_OK && (e = readdir(d))) {
        int c = 0;
        while (c < k && strcasecmp(e->d_name, names[c]) != 0)
            c++;
        if (c == k || e->d_name[0] == '.')
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            st = fer_fail(err, FER_ERANGE, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        if (!is_dir(path))
            continue;
        if (folder->v[c])
            st = fer_fail(err, FER_EFORMAT, "%s: folders '%s' and '%s' both name class '%s'", dir,
                          folder->v[c], e->d_name, names[c]);
        else if (!(folder->v[c] = strdup(path)))
            st = fer_fail(err, FER_ENOMEM, "%s: out of memory", dir);
    }
    closedir(d);
    return st;
}

/* Appends the sorted image files of one class folder. */
static fer_status list_images(const char *folder, name_list *files, fer_error *err)
{
    DIR *d = opendir(folder);
    if (!d)
        return fer_fail(err, FER_EIO, "%s: %s", folder, strerror(errno));
    size_t first = files->n;
    struct dirent *e;
    fer_status st = FER_OK;
    while (st == FER_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_extension(e->d_name))
            continue;
        if (names_add(files, folder, e->d_name) < 0)
            st = fer_fail(err, FER_ENOMEM, "%s: out of memory", folder);
        else if (!is_regular(files->v[files->n - 1]))
            free(files->v[--files->n]);
    }
    closedir(d);
    if (st == FER_OK)
        qsort(files->v + first, files->n - first, sizeof *files->v, by_name);
    return st;
}

static fer_status check_args(const char *dir, int k, const char *const *names, fer_error *err)
{
    if (!dir || !names || k < 1 || k > MAX_CLASSES)
        return fer_fail(err, FER_EINVAL, "fer_dataset_load_dir: need a folder and 1..%d class names",
                        MAX_CLASSES);
    for (int c = 0; c < k; c++)
        if (!names[c] || !names[c][0] || strchr(names[c], '/'))
            return fer_fail(err, FER_EINVAL, "fer_dataset_load_dir: class %d has no usable name", c);
    if (!is_dir(dir))
        return fer_fail(err, FER_EIO, "%s: not a folder", dir);
    return FER_OK;
}

/* Decodes one file into a 48x48 slot. */
static fer_status load_one(const char *path, uint8_t *out, fer_error *err)
{
    fer_image img = {0};
    fer_status st = fer_image_load(path, 0, &img, err);
    if (st == FER_OK)
        st = fer_image_crop_resize(&img, 0, 0, img.w, img.h, SIDE, SIDE, out, err);
    fer_image_free(&img);
    if (st != FER_OK && err && !strstr(err->msg, path)) /* make sure the file is named */
        fer_fail_prefix(err, st, path);
    return st;
}

static fer_status allocate(fer_dataset *ds, size_t n, const char *dir, fer_error *err)
{
    size_t rows = n ? n : 1;
    if (rows > SIZE_MAX / (SIDE * SIDE))
        return fer_fail(err, FER_ENOMEM, "%s: too many images", dir);
    ds->pixels = malloc(rows * SIDE * SIDE);
    ds->labels = malloc(rows * sizeof *ds->labels);
    ds->usage = malloc(rows);
    if (!ds->pixels || !ds->labels || !ds->usage)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory for %zu images", dir, n);
    ds->cap = n;
    ds->h = ds->w = SIDE;
    memset(ds->usage, FER_USAGE_NONE, rows);
    return FER_OK;
}

static fer_status load_folders(const char *dir, int k, const char *const *names,
                               name_list *folder, fer_dataset *ds, fer_error *err)
{
    fer_status st = match_class_folders(dir, k, names, folder, err);
    int matched = 0;
    for (int c = 0; c < k; c++)
        matched += folder->v[c] != NULL;
    if (st == FER_OK && matched == 0)
        st = fer_fail(err, FER_EFORMAT, "%s: no sub-folder named after a class (first class: '%s')",
                      dir, names[0]);
    name_list files = {0};
    size_t *class_end = calloc((size_t)k, sizeof *class_end);
    if (st == FER_OK && !class_end)
        st = fer_fail(err, FER_ENOMEM, "%s: out of memory", dir);
    for (int c = 0; st == FER_OK && c < k; c++) {
        if (folder->v[c])
            st = list_images(folder->v[c], &files, err);
        class_end[c] = files.n;
    }
    if (st == FER_OK)
        st = allocate(ds, files.n, dir, err);
    for (size_t i = 0, c = 0; st == FER_OK && i < files.n; i++) {
        while (i >= class_end[c])
            c++;
        st = load_one(files.v[i], ds->pixels + i * SIDE * SIDE, err);
        ds->labels[i] = (int)c;
        ds->n += st == FER_OK;
    }
    free(class_end);
    names_free(&files);
    return st;
}

fer_status fer_dataset_load_dir(const char *dir, int n_classes, const char *const *class_names,
                                fer_dataset *ds, fer_error *err)
{
    if (!ds)
        return fer_fail(err, FER_EINVAL, "fer_dataset_load_dir: no data set");
    memset(ds, 0, sizeof *ds);
    fer_status st = check_args(dir, n_classes, class_names, err);
    if (st != FER_OK)
        return st;
    name_list folder = {calloc((size_t)n_classes, sizeof(char *)), (size_t)n_classes,
                        (size_t)n_classes};
    st = folder.v ? load_folders(dir, n_classes, class_names, &folder, ds, err)
                  : fer_fail(err, FER_ENOMEM, "%s: out of memory", dir);
    names_free(&folder); /* frees the NULL entries too */
    if (st != FER_OK)
        fer_dataset_free(ds);
    return st;
}
