/* EXIF orientation: which way up a camera photo is meant to be shown.
 *
 * Cameras and phones store the sensor's pixels as they came and record in
 * the EXIF block (an APP1 segment "Exif\0\0" holding a TIFF structure) how
 * a viewer must turn them: tag 0x0112 of IFD0, a SHORT 1..8. We read it
 * with every offset checked against the segment, so broken EXIF can only
 * mean "no orientation" (1), and turn the decoded pixels accordingly.
 *
 * The eight values (EXIF 2.3, table 6 "Orientation"), as what the stored
 * pixels must undergo to be displayed:
 *   1 none                 5 transpose (mirror about the main diagonal)
 *   2 mirror horizontally  6 rotate 90 degrees clockwise
 *   3 rotate 180           7 transverse (mirror about the anti-diagonal)
 *   4 mirror vertically    8 rotate 90 degrees counter-clockwise */
#include <stddef.h>

#include "core/core.h"
#include "vision/vision.h"

enum { APP1 = 0xE1, SOS = 0xDA, TAG_ORIENTATION = 0x0112, TYPE_SHORT = 3 };

static unsigned rd16(const uint8_t *p, int be)
{
    return be ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The orientation in a TIFF structure of n bytes ("II" or "MM", 42, the
 * offset of IFD0; IFD0 is a 16-bit entry count then 12-byte entries: tag,
 * type, count, value). Anything out of place gives 1. */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n < 8)
        return 1;
    int be;
    if (t[0] == 'I' && t[1] == 'I')
        be = 0;
    else if (t[0] == 'M' && t[1] == 'M')
        be = 1;
    else
        return 1;
    if (rd16(t + 2, be) != 42)
        return 1;
    uint32_t ifd = rd32(t + 4, be);
    if (ifd < 8 || ifd > n || n - ifd < 2)
        return 1;
    size_t count = rd16(t + ifd, be);
    if (count > (n - ifd - 2) / 12)
        return 1; /* the entries run past the segment */
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = t + ifd + 2 + 12 * i;
        if (rd16(e, be) != TAG_ORIENTATION)
            continue;
        if (rd16(e + 2, be) != TYPE_SHORT || rd32(e + 4, be) != 1)
            return 1;
        unsigned v = rd16(e + 8, be); /* a SHORT sits in the first 2 value bytes */
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int fer_exif_orientation(const uint8_t *p, size_t len)
{
    if (!p || len < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return 1;
    static const uint8_t exif[6] = {'E', 'x', 'i', 'f', 0, 0};
    fer_jpeg_walk w;
    fer_jpeg_segment s;
    fer_jpeg_walk_init(&w, p, len);
    while (fer_jpeg_next(&w, &s) == FER_JPEG_SEGMENT && s.marker != SOS) {
        if (s.marker != APP1 || s.n < sizeof exif)
            continue;
        int is_exif = 1;
        for (size_t i = 0; i < sizeof exif; i++)
            is_exif &= s.body[i] == exif[i];
        if (is_exif) /* the first EXIF block is the one that counts */
            return tiff_orientation(s.body + sizeof exif, s.n - sizeof exif);
    }
    return 1;
}

void fer_orient_size(int orientation, int w, int h, int *ow, int *oh)
{
    int swap = orientation >= 5 && orientation <= 8;
    *ow = swap ? h : w;
    *oh = swap ? w : h;
}

/* Display pixel (x, y) is stored pixel base + x * dx + y * dy (in pixels of
 * the stored w x h image), e.g. for 6: D(x, y) = S(y, h-1-x). */
void fer_orient_pixels(const uint8_t *src, int w, int h, int comp, int orientation,
                       uint8_t *dst)
{
    ptrdiff_t W = w, H = h, base, dx, dy;
    switch (orientation) {
    case 2: base = W - 1, dx = -1, dy = W; break;
    case 3: base = (H - 1) * W + W - 1, dx = -1, dy = -W; break;
    case 4: base = (H - 1) * W, dx = 1, dy = -W; break;
    case 5: base = 0, dx = W, dy = 1; break;
    case 6: base = (H - 1) * W, dx = -W, dy = 1; break;
    case 7: base = (H - 1) * W + W - 1, dx = -W, dy = -1; break;
    case 8: base = W - 1, dx = W, dy = -1; break;
    default: base = 0, dx = 1, dy = W; break;
    }
    int ow, oh;
    fer_orient_size(orientation, w, h, &ow, &oh);
    for (int y = 0; y < oh; y++) {
        const uint8_t *row = src + (base + y * dy) * comp;
        for (int x = 0; x < ow; x++, dst += comp) {
            const uint8_t *q = row + (ptrdiff_t)x * dx * comp;
            for (int c = 0; c < comp; c++)
                dst[c] = q[c];
        }
    }
}
