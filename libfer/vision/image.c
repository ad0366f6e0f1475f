/* Image decoding to 8-bit grey: stb_image reads the file (binary PNM we
 * read ourselves), we convert with the ITU-R BT.601 luma weights in
 * OpenCV's fixed-point form so that the detector sees exactly the grey
 * image OpenCV's cvtColor would give it, and turn camera photos the way
 * their EXIF orientation says (exif.c). */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "core/core.h"
#include "vision/vision.h"

#define DEFAULT_MAX_PIXELS ((size_t)64 << 20)
/* An image file is never allowed to be larger than this. */
#define MAX_FILE_BYTES ((size_t)512 << 20)

/* Y = 0.299 R + 0.587 G + 0.114 B with 15-bit weights summing to 32768,
 * rounded: the integers OpenCV 4.6's cvtColor(BGR2GRAY) uses for 8-bit
 * images (checked: identical on every pixel of random images, where the
 * 14-bit variant differs by 1 in 0.2% of them); grey stays grey. */
static uint8_t luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((r * 9798u + g * 19235u + b * 3735u + 16384u) >> 15);
}

/* n pixels of comp bytes to grey: 1 grey, 2 grey + alpha, 3 colour,
 * 4 colour + alpha, colour as R,G,B or (bgr) B,G,R. Alpha is ignored, as
 * OpenCV's imread(IMREAD_COLOR) does. The one place pixels become grey. */
static void to_grey(const uint8_t *src, int comp, int bgr, size_t n, uint8_t *dst)
{
    if (comp < 3) {
        for (size_t i = 0; i < n; i++, src += comp)
            dst[i] = src[0];
        return;
    }
    int r = bgr ? 2 : 0, b = 2 - r;
    for (size_t i = 0; i < n; i++, src += comp)
        dst[i] = luma(src[r], src[1], src[b]);
}

/* n pixels of comp bytes to R,G,B: grey replicated, alpha dropped. */
static void to_rgb(const uint8_t *src, int comp, size_t n, uint8_t *dst)
{
    for (size_t i = 0; i < n; i++, src += comp, dst += 3) {
        if (comp < 3)
            dst[0] = dst[1] = dst[2] = src[0];
        else
            dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
    }
}

/* stb_image reads past the end of JPEG and BMP data as zeros and returns a
 * half-grey picture; detect the truncation from the container instead.
 * A JPEG must have an end-of-image marker after its last start-of-scan
 * (entropy-coded data cannot contain FF D9), a BMP must be as long as its
 * header says. Returns a reason, or NULL when the data looks complete. */
static int is_jpeg(const uint8_t *p, size_t len)
{
    return len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
}

static const char *truncation(const uint8_t *p, size_t len)
{
    if (is_jpeg(p, len)) {
        size_t sos = 0;
        for (size_t i = len - 1; i > 0 && !sos; i--)
            if (p[i - 1] == 0xFF && p[i] == 0xDA)
                sos = i;
        for (size_t i = sos + 1; i < len; i++)
            if (p[i - 1] == 0xFF && p[i] == 0xD9)
                return NULL;
        return "truncated JPEG (no end-of-image marker)";
    }
    if (len >= 6 && p[0] == 'B' && p[1] == 'M') {
        uint32_t size = p[2] | (uint32_t)p[3] << 8 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 24;
        if (size > len)
            return "truncated BMP (shorter than its header says)";
    }
    return NULL;
}

/* Debian's libstb is built without failure strings: never print NULL. */
static const char *reason(void)
{
    const char *r = stbi_failure_reason();
    return r ? r : "unknown format or corrupt data";
}

/* Width and height from a PNG's IHDR, if `p` starts like a PNG. */
static int png_dims(const uint8_t *p, size_t len, uint32_t *w, uint32_t *h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 24 || memcmp(p, sig, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0)
        return 0;
    *w = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
    *h = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
    return 1;
}

/* ---- binary PGM (P5) and PPM (P6), read here rather than by stb_image:
 * its header parser wraps numbers modulo 2^32 (a width of 4294967297 is 1),
 * it reads missing pixel data as zeros, and it takes 16-bit samples in the
 * machine's byte order where PNM stores them big-endian. The header
 * (netpbm's pgm(5)/ppm(5)) is "P5" or "P6", width, height and maxval as
 * decimal numbers separated by whitespace and #-to-end-of-line comments,
 * then exactly one whitespace byte; the samples follow, 1 byte each when
 * maxval < 256, else 2 (most significant first). */

typedef struct pnm {
    int w, h, channels, sample_bytes;
    size_t data; /* offset of the first sample */
} pnm;

static int is_pnm(const uint8_t *p, size_t len)
{
    return len >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6');
}

static int pnm_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Skips whitespace and comments; returns whether there was any. */
static int pnm_skip(const uint8_t *p, size_t len, size_t *i)
{
    size_t start = *i;
    for (;;) {
        while (*i < len && pnm_space(p[*i]))
            (*i)++;
        if (*i >= len || p[*i] != '#')
            break;
        while (*i < len && p[*i] != '\n' && p[*i] != '\r')
            (*i)++;
    }
    return *i > start;
}

/* The decimal number at *i, saturating far above any accepted value; its
 * digits are p[*start .. *i). Returns 0 when there is no digit. */
static int pnm_number(const uint8_t *p, size_t len, size_t *i, size_t *start, uint64_t *v)
{
    *start = *i;
    *v = 0;
    for (; *i < len && p[*i] >= '0' && p[*i] <= '9'; (*i)++)
        if (*v < (uint64_t)1 << 40)
            *v = *v * 10 + (uint64_t)(p[*i] - '0');
    return *i > *start;
}

static fer_status pnm_header(const char *name, const uint8_t *p, size_t len, pnm *m,
                             fer_error *err)
{
    static const char *const field[3] = {"width", "height", "maxval"};
    uint64_t v[3];
    size_t i = 2;
    for (int f = 0; f < 3; f++) {
        size_t start;
        if (!pnm_skip(p, len, &i) || !pnm_number(p, len, &i, &start, &v[f]))
            return fer_fail(err, FER_EFORMAT, "%s: corrupt PNM header (no %s)", name, field[f]);
        uint64_t hi = f < 2 ? INT_MAX : 65535;
        if (v[f] < 1 || v[f] > hi) {
            int nd = i - start > 24 ? 24 : (int)(i - start);
            return fer_fail(err, f < 2 ? FER_ERANGE : FER_EFORMAT,
                            "%s: PNM %s %.*s%s is out of range (1..%" PRIu64 ")", name, field[f],
                            nd, (const char *)p + start, nd < (int)(i - start) ? "..." : "", hi);
        }
    }
    if (i >= len || !pnm_space(p[i]))
        return fer_fail(err, FER_EFORMAT, "%s: corrupt PNM header (no whitespace after maxval)",
                        name);
    m->w = (int)v[0];
    m->h = (int)v[1];
    m->channels = p[1] == '6' ? 3 : 1;
    m->sample_bytes = v[2] > 255 ? 2 : 1;
    m->data = i + 1;
    return FER_OK;
}

/* The pixels as 8-bit samples (the high byte of 16-bit ones, as for PNG). */
static fer_status pnm_pixels(const char *name, const uint8_t *p, size_t len, const pnm *m,
                             uint8_t **px, fer_error *err)
{
    /* w, h < 2^31, so w * h * 3 fits in 64 bits (twice that may not) */
    uint64_t samples = (uint64_t)m->w * (uint64_t)m->h * (uint64_t)m->channels;
    uint64_t have = len - m->data, sb = (uint64_t)m->sample_bytes;
    if (samples > have / sb)
        return fer_fail(err, FER_EFORMAT,
                        "%s: PNM data too short for its %dx%d image (%" PRIu64 " of %" PRIu64
                        "%s bytes)", name, m->w, m->h, have,
                        samples > UINT64_MAX / sb ? samples : samples * sb,
                        samples > UINT64_MAX / sb ? " samples of 2" : "");
    *px = malloc((size_t)samples);
    if (!*px)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory for %dx%d image", name, m->w, m->h);
    const uint8_t *s = p + m->data; /* samples <= have: fits in size_t */
    for (size_t k = 0; k < (size_t)samples; k++, s += m->sample_bytes)
        (*px)[k] = s[0];
    return FER_OK;
}

/* ---- decoding */

/* Pixels as the file holds them: comp bytes a pixel (1..4), from stb or ours. */
typedef struct raw {
    uint8_t *px;
    int w, h, comp, from_stb;
} raw;

static void raw_free(raw *r)
{
    if (r->from_stb)
        stbi_image_free(r->px);
    else
        free(r->px);
    r->px = NULL;
}

static fer_status too_many(const char *name, uint64_t w, uint64_t h, size_t max_pixels,
                           fer_error *err)
{
    return fer_fail(err, FER_ERANGE, "%s: %" PRIu64 "x%" PRIu64 " image exceeds the %zu pixel limit",
                    name, w, h, max_pixels);
}

static fer_status decode_raw(const char *name, const uint8_t *data, size_t len, size_t max_pixels,
                             raw *r, fer_error *err)
{
    memset(r, 0, sizeof *r);
    if (len == 0)
        return fer_fail(err, FER_EFORMAT, "%s: empty image file", name);
    if (len > (size_t)0x7fffffff)
        return fer_fail(err, FER_ERANGE, "%s: image file larger than 2 GiB", name);
    if (max_pixels == 0)
        max_pixels = DEFAULT_MAX_PIXELS;
    if (is_pnm(data, len)) {
        pnm m = {0};
        fer_status s = pnm_header(name, data, len, &m, err);
        if (s != FER_OK)
            return s;
        if ((size_t)m.w > max_pixels / (size_t)m.h)
            return too_many(name, (uint64_t)m.w, (uint64_t)m.h, max_pixels, err);
        s = pnm_pixels(name, data, len, &m, &r->px, err);
        if (s != FER_OK)
            return s;
        r->w = m.w, r->h = m.h, r->comp = m.channels;
        return FER_OK;
    }
    int w, h, comp;
    /* The header alone says how big the pixels will be: refuse before decoding. */
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &comp)) {
        /* stb refuses absurd PNG sizes itself: report those as size errors. */
        uint32_t pw, ph;
        if (png_dims(data, len, &pw, &ph) && (uint64_t)pw * ph > max_pixels)
            return too_many(name, pw, ph, max_pixels, err);
        return fer_fail(err, FER_EFORMAT, "%s: not a readable image: %s", name, reason());
    }
    if (w <= 0 || h <= 0)
        return fer_fail(err, FER_EFORMAT, "%s: invalid dimensions %dx%d", name, w, h);
    if ((size_t)w > max_pixels / (size_t)h)
        return too_many(name, (uint64_t)w, (uint64_t)h, max_pixels, err);
    const char *cut = truncation(data, len);
    if (cut)
        return fer_fail(err, FER_EFORMAT, "%s: %s", name, cut);
    if (is_jpeg(data, len)) {
        fer_status s = fer_jpeg_check(name, data, len, err);
        if (s != FER_OK)
            return s;
    }
    int dw, dh;
    uint8_t *px = stbi_load_from_memory(data, (int)len, &dw, &dh, &comp, 0);
    if (!px)
        return fer_fail(err, FER_EFORMAT, "%s: cannot decode image: %s", name, reason());
    if (dw != w || dh != h || comp < 1 || comp > 4) {
        stbi_image_free(px);
        return fer_fail(err, FER_EFORMAT, "%s: decoder returned an inconsistent image", name);
    }
    *r = (raw){px, w, h, comp, 1};
    return FER_OK;
}

fer_status fer_image_decode(const char *name, const void *data, size_t len, size_t max_pixels,
                            int channels, uint8_t **px, int *w, int *h, fer_error *err)
{
    *px = NULL;
    *w = *h = 0;
    if (channels != 1 && channels != 3)
        return fer_fail(err, FER_EINVAL, "%s: cannot decode to %d channels", name, channels);
    raw r;
    fer_status s = decode_raw(name, data, len, max_pixels, &r, err);
    if (s != FER_OK)
        return s;
    int orientation = is_jpeg(data, len) ? fer_exif_orientation(data, len) : 1;
    size_t n = (size_t)r.w * (size_t)r.h, bytes = n * (size_t)channels;
    if (n > SIZE_MAX / 4) { /* only with a max_pixels near SIZE_MAX */
        raw_free(&r);
        return too_many(name, (uint64_t)r.w, (uint64_t)r.h, SIZE_MAX / 4, err);
    }
    uint8_t *out = malloc(bytes), *turned = orientation != 1 ? malloc(bytes) : NULL;
    if (!out || (orientation != 1 && !turned)) {
        free(out);
        free(turned);
        raw_free(&r);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory for %dx%d image", name, r.w, r.h);
    }
    if (channels == 1)
        to_grey(r.px, r.comp, 0, n, out);
    else
        to_rgb(r.px, r.comp, n, out);
    raw_free(&r);
    if (turned) {
        fer_orient_pixels(out, r.w, r.h, channels, orientation, turned);
        free(out);
        out = turned;
    }
    *px = out;
    fer_orient_size(orientation, r.w, r.h, w, h);
    return FER_OK;
}

fer_status fer_image_load_mem(const void *data, size_t len, size_t max_pixels, fer_image *img,
                              fer_error *err)
{
    if (!img || (!data && len))
        return fer_fail(err, FER_EINVAL, "fer_image_load_mem: NULL argument");
    memset(img, 0, sizeof *img);
    return fer_image_decode("<memory>", data, len, max_pixels, 1, &img->px, &img->w, &img->h,
                            err);
}

fer_status fer_image_load_rgb_mem(const void *data, size_t len, size_t max_pixels,
                                  fer_rgb_image *img, fer_error *err)
{
    if (!img || (!data && len))
        return fer_fail(err, FER_EINVAL, "fer_image_load_rgb_mem: NULL argument");
    memset(img, 0, sizeof *img);
    return fer_image_decode("<memory>", data, len, max_pixels, 3, &img->px, &img->w, &img->h,
                            err);
}

/* A file decoded to `channels` (1 or 3) bytes a pixel. */
static fer_status load_file(const char *path, size_t max_pixels, int channels, uint8_t **px,
                            int *w, int *h, fer_error *err)
{
    char *data;
    size_t len;
    fer_status s = fer_file_read(path, MAX_FILE_BYTES, &data, &len, err);
    if (s != FER_OK)
        return s;
    s = fer_image_decode(path, data, len, max_pixels, channels, px, w, h, err);
    free(data);
    return s;
}

fer_status fer_image_load(const char *path, size_t max_pixels, fer_image *img, fer_error *err)
{
    if (!path || !img)
        return fer_fail(err, FER_EINVAL, "fer_image_load: NULL argument");
    memset(img, 0, sizeof *img);
    return load_file(path, max_pixels, 1, &img->px, &img->w, &img->h, err);
}

fer_status fer_image_load_rgb(const char *path, size_t max_pixels, fer_rgb_image *img,
                              fer_error *err)
{
    if (!path || !img)
        return fer_fail(err, FER_EINVAL, "fer_image_load_rgb: NULL argument");
    memset(img, 0, sizeof *img);
    return load_file(path, max_pixels, 3, &img->px, &img->w, &img->h, err);
}

void fer_rgb_image_free(fer_rgb_image *img)
{
    if (!img)
        return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

fer_status fer_image_from_pixels(const uint8_t *px, int w, int h, int channels, size_t stride,
                                 fer_pixel_order order, fer_image *img, fer_error *err)
{
    static const char fn[] = "fer_image_from_pixels";
    if (img)
        memset(img, 0, sizeof *img);
    if (!px || !img)
        return fer_fail(err, FER_EINVAL, "%s: NULL %s", fn, !px ? "pixels" : "image");
    if (w <= 0 || h <= 0)
        return fer_fail(err, FER_EINVAL, "%s: %dx%d: width and height must be positive", fn, w, h);
    if (channels < 1 || channels > 4)
        return fer_fail(err, FER_EINVAL, "%s: %d channels (1 grey, 2 grey+alpha, 3 colour, "
                        "4 colour+alpha)", fn, channels);
    if (order != FER_PIXEL_RGB && order != FER_PIXEL_BGR)
        return fer_fail(err, FER_EINVAL, "%s: unknown pixel order %d", fn, (int)order);
    if ((uint64_t)w * (uint64_t)h > INT_MAX)
        return fer_fail(err, FER_ERANGE, "%s: %dx%d image exceeds the %d pixel limit", fn, w, h,
                        INT_MAX);
    size_t row = (size_t)w * (size_t)channels;
    if (stride == 0)
        stride = row;
    if (stride < row)
        return fer_fail(err, FER_EINVAL, "%s: stride %zu is less than %d pixels of %d bytes (%zu)",
                        fn, stride, w, channels, row);
    if (stride > (SIZE_MAX - row) / (size_t)h)
        return fer_fail(err, FER_ERANGE, "%s: stride %zu times %d rows overflows", fn, stride, h);
    img->px = malloc((size_t)w * (size_t)h);
    if (!img->px)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory for %dx%d image", fn, w, h);
    for (int y = 0; y < h; y++)
        to_grey(px + (size_t)y * stride, channels, order == FER_PIXEL_BGR, (size_t)w,
                img->px + (size_t)y * (size_t)w);
    img->w = w;
    img->h = h;
    return FER_OK;
}

void fer_image_free(fer_image *img)
{
    if (!img)
        return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}
