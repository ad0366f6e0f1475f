/* Declarations shared between libfer's own files; not installed. */
#ifndef FER_INTERNAL_H
#define FER_INTERNAL_H

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

/* ---- genre lists (catalog.c): genres separated by ';', blanks around each ignored */

/* The next genre of the list at *p: 1 with *item, *n set and *p moved past
 * it, or 0 at the end. */
int fer_genre_next(const char **p, const char **item, size_t *n);
/* 1 if the list holds the n bytes at genre (case-insensitively). */
int fer_genre_list_has(const char *list, const char *genre, size_t n);

/* ---- resize.c */

/* src shrunk by the whole factor q: each pixel the rounded mean of a q x q
 * block (of what is left at the right and bottom edges), a cheap first step
 * before fer_image_crop_resize on a big photo. */
fer_status fer_image_shrink(const fer_image *src, int q, fer_image *dst, fer_error *err);

/* ---- in-plane rotation (rotate.c): see the convention there */

/* src turned by deg into a new image of the same size (edges repeated). */
fer_status fer_image_turn(const fer_image *src, double deg, fer_image *dst, fer_error *err);
/* The source point of point (x, y) of a w x h image turned by deg. */
void fer_turn_point(int w, int h, double deg, double x, double y, double *sx, double *sy);
/* The upright ow x oh crop of the bw x bh box centred on (cx, cy) and turned
 * by deg in img (area-reduced, then bilinear; edges repeated). */
fer_status fer_image_crop_turned(const fer_image *img, double cx, double cy, double bw, double bh,
                                 double deg, int ow, int oh, uint8_t *out, fer_error *err);

/* ---- images (image.c, jpeg_check.c, exif.c) */

/* Decodes an image file's bytes as fer_image_load does (every header check
 * and the max_pixels limit before decoding, EXIF orientation applied) to
 * `channels` bytes a pixel: 1 grey (the BT.601 luma of fer_image_load),
 * 3 R,G,B (grey replicated, alpha dropped). *px is malloc'd (free()); `name`
 * is only used in messages. For anything that decodes a photo. */
fer_status fer_image_decode(const char *name, const void *data, size_t len, size_t max_pixels,
                            int channels, uint8_t **px, int *w, int *h, fer_error *err);

/* FER_OK when the JPEG data `p` (starting FF D8) defines every table before
 * the scan that uses it, has no segment running past the end and enough
 * scan data for the blocks its frame declares; else FER_EFORMAT with
 * "name: reason" (jpeg_check.c). */
fer_status fer_jpeg_check(const char *name, const uint8_t *p, size_t len, fer_error *err);

/* The marker walk both use: segments in file order (stray bytes and
 * parameterless markers skipped as stb_image skips them); after a SOS the
 * entropy-coded data is skipped and its length added to scan_bytes. */
typedef struct fer_jpeg_walk {
    const uint8_t *p;
    size_t len, pos;
    size_t scan_bytes; /* entropy-coded bytes after every SOS so far */
} fer_jpeg_walk;
typedef struct fer_jpeg_segment {
    int marker;          /* the byte after FF */
    const uint8_t *body; /* after the 2-byte length */
    size_t n;            /* body bytes, all inside the data */
} fer_jpeg_segment;
enum { FER_JPEG_BAD = -1, FER_JPEG_END = 0, FER_JPEG_SEGMENT = 1 };
void fer_jpeg_walk_init(fer_jpeg_walk *w, const uint8_t *p, size_t len);
/* FER_JPEG_SEGMENT: *s is the next segment; FER_JPEG_END: the end-of-image
 * marker or the end of the data; FER_JPEG_BAD: a segment's length runs past
 * the end. */
int fer_jpeg_next(fer_jpeg_walk *w, fer_jpeg_segment *s);

/* EXIF orientation of JPEG data (exif.c): 1..8 from IFD0 tag 0x0112 of the
 * first APP1 "Exif" segment before the first scan; 1 when there is none,
 * or it is not a JPEG, or anything in the EXIF block is out of bounds. */
int fer_exif_orientation(const uint8_t *p, size_t len);
/* The displayed size of a w x h image stored with `orientation` (5-8 swap). */
void fer_orient_size(int orientation, int w, int h, int *ow, int *oh);
/* Writes the w x h image `src` (comp interleaved bytes a pixel) as a viewer
 * displays it under `orientation` into dst (w*h*comp bytes, not src), of
 * the size fer_orient_size gives; an orientation outside 2..8 copies. */
void fer_orient_pixels(const uint8_t *src, int w, int h, int comp, int orientation,
                       uint8_t *dst);

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

/* ---- GEMM: C = op(A) * op(B) + beta * C, row-major, beta 0 or 1.
 * op(A) is M x K (A is K x M when ta), op(B) is K x N (B is N x K when tb). */
void fer_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
/* The plain triple loop every fast path is tested against. */
void fer_gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);
/* Like fer_gemm, with N (or M, when N is narrow) split into static shares
 * across the pool's threads. Every element of C is summed in the same order
 * whatever the split, so results equal fer_gemm's bit for bit. */
void fer_gemm_mt(fer_pool *pool, int ta, int tb, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

/* The kernel paths, for tests and benchmarks: index 0 is "ref" (the triple
 * loop), then "c" (portable), "avx2", "avx512". fer_gemm uses the fastest one
 * the CPU supports, or the one named by FER_GEMM in the environment. */
int fer_gemm_kernel_count(void);
const char *fer_gemm_kernel_name(int kernel); /* NULL when out of range */
int fer_gemm_kernel_supported(int kernel);    /* 1 if this CPU can run it */
int fer_gemm_kernel_active(void);             /* the path fer_gemm uses */
/* Makes the named path (ref, c, avx2, avx512) the one fer_gemm uses, for
 * tests and benchmarks (FER_GEMM, read by them): call it before any thread
 * runs a GEMM. 0 (the fastest path stays) when unknown or unsupported here. */
int fer_gemm_force(const char *name);
/* fer_gemm on a given path; an unsupported path falls back to "ref". */
void fer_gemm_with(int kernel, int ta, int tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

/* What each instruction-set file (gemm_c.c, gemm_avx2.c, gemm_avx512.c)
 * provides to the blocked driver in gemm.c.
 * micro: C[m x n] (+)= Ap * Bp over kc steps, m <= mr, n <= nr; Ap holds
 * kc columns of mr floats (a[k*mr + i]), Bp kc rows of nr floats
 * (b[k*nr + j]), both zero-padded and 64-byte aligned. accumulate: add to C
 * rather than overwrite it.
 * transpose: dst[c*dst_ld + r] = src[r*ld + c] for r < rows, c < cols; the
 * packers use it for the operands stored transposed to the panel layout. */
typedef void (*fer_gemm_micro_fn)(int kc, const float *a, const float *b, int ldb, float *c,
                                  int ldc, int m, int n, int accumulate);
typedef void (*fer_gemm_transpose_fn)(int rows, int cols, const float *src, int ld, float *dst,
                                      int dst_ld);
typedef struct fer_gemm_isa {
    const char *name;
    int (*supported)(void);
    int mr, nr;
    fer_gemm_micro_fn micro;
    fer_gemm_transpose_fn transpose;
    /* Untransposed B is read in place, unless ldb is a multiple of this
     * (0: never packed): rows that far apart share few L1 sets. */
    int pack_ldb_multiple;
} fer_gemm_isa;
extern const fer_gemm_isa fer_gemm_isa_c, fer_gemm_isa_avx2, fer_gemm_isa_avx512;
/* The portable transpose (gemm_c.c). */
void fer_gemm_transpose_c(int rows, int cols, const float *src, int ld, float *dst, int dst_ld);
/* 8 x 8 AVX blocks (gemm_avx2.c); call only when "avx2" is supported. */
void fer_gemm_transpose_avx2(int rows, int cols, const float *src, int ld, float *dst,
                             int dst_ld);

#endif
