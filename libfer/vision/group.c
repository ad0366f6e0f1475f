/* Merging of raw detections the way OpenCV's groupRectangles does it:
 * boxes whose corners are within eps * mean size of each other are
 * equivalent (transitively, via union-find), each class of more than
 * min_neighbors boxes becomes its averaged box, and a class lying inside a
 * better-supported bigger one is dropped. */
#include <math.h>
#include <stdlib.h>

#include "vision/haar.h"

static int similar(const fer_box *a, const fer_box *b, double eps)
{
    int mw = a->w < b->w ? a->w : b->w, mh = a->h < b->h ? a->h : b->h;
    double delta = eps * (mw + mh) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta &&
           abs(a->x + a->w - b->x - b->w) <= delta && abs(a->y + a->h - b->y - b->h) <= delta;
}

static int find_root(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* Class label of every box (0..*n_classes-1, numbered by first member). */
static void partition(const fer_box *b, size_t n, double eps, int *label, int *n_classes)
{
    int *parent = label; /* reused: roots first, labels after */
    for (size_t i = 0; i < n; i++)
        parent[i] = (int)i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (similar(&b[i], &b[j], eps)) {
                int ri = find_root(parent, (int)i), rj = find_root(parent, (int)j);
                if (ri != rj)
                    parent[rj > ri ? rj : ri] = rj > ri ? ri : rj;
            }
    /* Roots are the smallest index of their class, so a root gets its label
     * before any member refers to it; entry i is only rewritten at step i. */
    for (size_t i = 0; i < n; i++)
        parent[i] = find_root(parent, (int)i);
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        int r = parent[i];
        label[i] = r == (int)i ? k++ : label[r];
    }
    *n_classes = k;
}

/* float rounding as OpenCV's saturate_cast<int>(float): to nearest even. */
static int round_f(float v)
{
    return (int)lrintf(v);
}

static int nested(const fer_box *r1, int n1, const fer_box *r2, int n2, double eps)
{
    int dx = (int)lrint(r2->w * eps), dy = (int)lrint(r2->h * eps);
    return r1->x >= r2->x - dx && r1->y >= r2->y - dy && r1->x + r1->w <= r2->x + r2->w + dx &&
           r1->y + r1->h <= r2->y + r2->h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3);
}

fer_status haar_group(fer_box *b, size_t n, int min_neighbors, double eps, size_t *n_out,
                      fer_error *err)
{
    *n_out = n;
    if (min_neighbors <= 0 || n == 0)
        return FER_OK;
    if (n > (size_t)1 << 28)
        return fer_fail(err, FER_ERANGE, "fer_detect_faces: too many raw detections (%zu)", n);
    int *label = malloc(sizeof *label * n), *count = calloc(n, sizeof *count), n_classes;
    long *sum = calloc(n * 4, sizeof *sum);
    fer_box *avg = malloc(sizeof *avg * n);
    if (!label || !count || !sum || !avg) {
        free(label), free(count), free(sum), free(avg);
        return fer_fail(err, FER_ENOMEM, "fer_detect_faces: out of memory grouping %zu boxes", n);
    }
    partition(b, n, eps, label, &n_classes);
    for (size_t i = 0; i < n; i++) {
        long *s = sum + 4 * label[i];
        s[0] += b[i].x, s[1] += b[i].y, s[2] += b[i].w, s[3] += b[i].h;
        count[label[i]]++;
    }
    for (int k = 0; k < n_classes; k++) {
        float inv = 1.f / (float)count[k];
        const long *s = sum + 4 * k;
        avg[k] = (fer_box){round_f((float)s[0] * inv), round_f((float)s[1] * inv),
                           round_f((float)s[2] * inv), round_f((float)s[3] * inv)};
    }
    size_t out = 0;
    for (int i = 0; i < n_classes; i++) {
        if (count[i] <= min_neighbors)
            continue;
        int j;
        for (j = 0; j < n_classes; j++)
            if (j != i && count[j] > min_neighbors &&
                nested(&avg[i], count[i], &avg[j], count[j], eps))
                break;
        if (j == n_classes)
            b[out++] = avg[i];
    }
    free(label), free(count), free(sum), free(avg);
    *n_out = out;
    return FER_OK;
}
