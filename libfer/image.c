/* Image decoding to 8-bit grey: stb_image reads the file, we convert with
 * the ITU-R BT.601 luma weights in OpenCV's fixed-point form so that the
 * detector sees exactly the grey image OpenCV's cvtColor would give it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "internal.h"

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

/* Alpha is ignored, as OpenCV's imread(IMREAD_COLOR) does. */
static void to_grey(const uint8_t *src, int comp, size_t n, uint8_t *dst)
{
    for (size_t i = 0; i < n; i++, src += comp)
        dst[i] = comp >= 3 ? luma(src[0], src[1], src[2]) : src[0];
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

/* Decodes `data`; `name` is only used in messages. */
static fer_status decode(const char *name, const void *data, size_t len, size_t max_pixels,
                         fer_image *img, fer_error *err)
{
    if (len == 0)
        return fer_fail(err, FER_EFORMAT, "%s: empty image file", name);
    if (len > (size_t)0x7fffffff)
        return fer_fail(err, FER_ERANGE, "%s: image file larger than 2 GiB", name);
    if (max_pixels == 0)
        max_pixels = DEFAULT_MAX_PIXELS;
    int w, h, comp;
    /* The header alone says how big the pixels will be: refuse before decoding. */
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &comp)) {
        /* stb refuses absurd PNG sizes itself: report those as size errors. */
        uint32_t pw, ph;
        if (png_dims(data, len, &pw, &ph) && (uint64_t)pw * ph > max_pixels)
            return fer_fail(err, FER_ERANGE, "%s: %" PRIu32 "x%" PRIu32
                            " image exceeds the %zu pixel limit", name, pw, ph, max_pixels);
        return fer_fail(err, FER_EFORMAT, "%s: not a readable image: %s", name, reason());
    }
    if (w <= 0 || h <= 0)
        return fer_fail(err, FER_EFORMAT, "%s: invalid dimensions %dx%d", name, w, h);
    if ((size_t)w > max_pixels / (size_t)h)
        return fer_fail(err, FER_ERANGE, "%s: %dx%d image exceeds the %zu pixel limit", name, w,
                        h, max_pixels);
    const char *cut = truncation(data, len);
    if (!cut && is_jpeg(data, len))
        cut = fer_jpeg_check(data, len);
    if (cut)
        return fer_fail(err, FER_EFORMAT, "%s: %s", name, cut);
    int dw, dh;
    uint8_t *px = stbi_load_from_memory(data, (int)len, &dw, &dh, &comp, 0);
    if (!px)
        return fer_fail(err, FER_EFORMAT, "%s: cannot decode image: %s", name, reason());
    if (dw != w || dh != h || comp < 1 || comp > 4) {
        stbi_image_free(px);
        return fer_fail(err, FER_EFORMAT, "%s: decoder returned an inconsistent image", name);
    }
    img->px = malloc((size_t)w * (size_t)h);
    if (!img->px) {
        stbi_image_free(px);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory for %dx%d image", name, w, h);
    }
    to_grey(px, comp, (size_t)w * (size_t)h, img->px);
    stbi_image_free(px);
    img->w = w;
    img->h = h;
    return FER_OK;
}

fer_status fer_image_load_mem(const void *data, size_t len, size_t max_pixels, fer_image *img,
                              fer_error *err)
{
    if (!img || (!data && len))
        return fer_fail(err, FER_EINVAL, "fer_image_load_mem: NULL argument");
    memset(img, 0, sizeof *img);
    return decode("<memory>", data, len, max_pixels, img, err);
}

fer_status fer_image_load(const char *path, size_t max_pixels, fer_image *img, fer_error *err)
{
    if (!path || !img)
        return fer_fail(err, FER_EINVAL, "fer_image_load: NULL argument");
    memset(img, 0, sizeof *img);
    char *data;
    size_t len;
    fer_status s = fer_file_read(path, MAX_FILE_BYTES, &data, &len, err);
    if (s != FER_OK)
        return s;
    s = decode(path, data, len, max_pixels, img, err);
    free(data);
    return s;
}

void fer_image_free(fer_image *img)
{
    if (!img)
        return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}
