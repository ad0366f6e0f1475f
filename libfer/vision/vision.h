/* Image helpers shared by the vision files. Internal to libfer. */
#ifndef FER_VISION_H
#define FER_VISION_H

#include "core/core.h"

/* ---- resize.c */

/* src shrunk by the whole factor q: each pixel the rounded mean of a q x q
 * block (of what is left at the right and bottom edges), a cheap first step
 * before fer_image_crop_resize on a big photo. */
fer_status fer_image_shrink(const fer_image *src, int q, fer_image *dst, fer_error *err);

/* ---- in-plane rotation (rotate.c): see the convention there */

/* src turned by deg into a new image of the same size (edges repeated). */
fer_status fer_image_turn(const fer_image *src, double deg, fer_image *dst, fer_error *err);
/* The same on the portable path (simd 0) or, where the CPU has it
 * (fer_image_turn_simd), the AVX2 one: the same bytes (tests). */
fer_status fer_image_turn_with(const fer_image *src, double deg, int simd, fer_image *dst,
                               fer_error *err);
int fer_image_turn_simd(void);
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

#endif
