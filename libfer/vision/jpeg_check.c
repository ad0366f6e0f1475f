/* A walk over a JPEG's marker segments before stb_image decodes it.
 *
 * Why: stb_image allocates its decoder state with malloc and never clears
 * it, so a scan that uses a Huffman table no DHT segment defined makes it
 * decode with uninitialised tables; the garbage becomes an array index and
 * the process dies (fuzzer finds: tests/fuzz/known/image/). Debian's libstb
 * cannot be changed, so libfer refuses such files first. A conforming JPEG
 * defines every table before the scan that uses it, so nothing valid is
 * lost. The walk also refuses segments that run past the end of the data.
 *
 * stb_image also reads past the end of the entropy-coded data as zeros, so
 * a few hundred bytes declaring 8000x8000 make it allocate and fill ~300 MB.
 * Every 8x8 block of every component costs at least one bit in the scans
 * (a Huffman code for its DC coefficient in a baseline scan or in the first
 * DC scan of a progressive image is at least one bit long), so fewer than
 * blocks/8 bytes of scan data cannot be a complete image: refused.
 *
 * The walk itself (fer_jpeg_next) is shared with the EXIF reader (exif.c). */
#include <inttypes.h>
#include <string.h>

#include "core/core.h"
#include "vision/vision.h"

enum { SOF0 = 0xC0, SOF1 = 0xC1, SOF2 = 0xC2, DHT = 0xC4, SOI = 0xD8, EOI = 0xD9,
       SOS = 0xDA, DQT = 0xDB };

/* Entropy-coded data ends at the first marker that is neither a stuffed
 * zero (FF 00), a restart marker (FF D0-D7) nor fill (FF FF). */
static size_t skip_entropy_data(const uint8_t *p, size_t i, size_t len)
{
    for (; i + 1 < len; i++)
        if (p[i] == 0xFF && p[i + 1] != 0 && p[i + 1] != 0xFF &&
            !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7))
            return i;
    return len;
}

void fer_jpeg_walk_init(fer_jpeg_walk *w, const uint8_t *p, size_t len)
{
    w->p = p;
    w->len = len;
    w->pos = len < 2 ? len : 2; /* after SOI */
    w->scan_bytes = 0;
}

int fer_jpeg_next(fer_jpeg_walk *w, fer_jpeg_segment *s)
{
    const uint8_t *p = w->p;
    size_t len = w->len, i = w->pos;
    for (;;) {
        while (i < len && p[i] != 0xFF)
            i++; /* stray bytes: stb_image skips them too, so we must see what it sees */
        while (i < len && p[i] == 0xFF)
            i++;
        if (i >= len) {
            w->pos = len;
            return FER_JPEG_END;
        }
        int marker = p[i++];
        if (marker == EOI) {
            w->pos = i;
            return FER_JPEG_END;
        }
        if (marker == SOI || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
            continue; /* no length field */
        if (i + 2 > len)
            break;
        size_t seg = (size_t)p[i] << 8 | p[i + 1];
        if (seg < 2 || seg > len - i)
            break;
        s->marker = marker;
        s->body = p + i + 2;
        s->n = seg - 2;
        i += seg;
        if (marker == SOS) {
            size_t end = skip_entropy_data(p, i, len);
            w->scan_bytes += end - i;
            i = end;
        }
        w->pos = i;
        return FER_JPEG_SEGMENT;
    }
    w->pos = len;
    return FER_JPEG_BAD;
}

typedef struct tables {
    int huff[2][4]; /* [0: DC, 1: AC][id]: defined by a DHT */
    int quant[4];   /* defined by a DQT */
    int quant_of[256]; /* frame component id -> its quantisation table, -1: none */
    int progressive, have_frame;
    int width, height; /* of the first frame header */
    uint64_t blocks;   /* 8x8 blocks of all its components */
} tables;

static const char *read_dht(const uint8_t *p, size_t n, tables *t)
{
    while (n > 0) {
        if (n < 17)
            return "corrupt JPEG (short Huffman table)";
        int cls = p[0] >> 4, id = p[0] & 15;
        size_t count = 0;
        for (int i = 1; i <= 16; i++)
            count += p[i];
        if (cls > 1 || id > 3 || count > 256 || n < 17 + count)
            return "corrupt JPEG (bad Huffman table)";
        t->huff[cls][id] = 1;
        p += 17 + count, n -= 17 + count;
    }
    return NULL;
}

static const char *read_dqt(const uint8_t *p, size_t n, tables *t)
{
    while (n > 0) {
        int precision = p[0] >> 4, id = p[0] & 15;
        size_t size = 1 + 64 * (size_t)(precision + 1);
        if (precision > 1 || id > 3 || n < size)
            return "corrupt JPEG (bad quantisation table)";
        t->quant[id] = 1;
        p += size, n -= size;
    }
    return NULL;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* Component i of Nf covers ceil(X * Hi / Hmax) x ceil(Y * Vi / Vmax)
 * samples, so ceil(that / 8) blocks each way (ITU T.81 A.1.1). */
static const char *read_sof(const uint8_t *p, size_t n, int marker, tables *t)
{
    if (n < 6 || n < 6 + 3 * (size_t)p[5])
        return "corrupt JPEG (short frame header)";
    int nf = p[5], hmax = 1, vmax = 1;
    for (int i = 0; i < nf; i++) {
        int hs = p[7 + 3 * i] >> 4, vs = p[7 + 3 * i] & 15;
        if (hs < 1 || hs > 4 || vs < 1 || vs > 4)
            return "corrupt JPEG (bad sampling factor)"; /* stb refuses them too */
        hmax = hs > hmax ? hs : hmax;
        vmax = vs > vmax ? vs : vmax;
        if (p[8 + 3 * i] > 3)
            return "corrupt JPEG (bad quantisation table id)";
    }
    t->progressive = marker == SOF2;
    for (int i = 0; i < nf; i++)
        t->quant_of[p[6 + 3 * i]] = p[8 + 3 * i];
    if (t->have_frame)
        return NULL; /* stb decodes the first frame: its size is what counts */
    t->have_frame = 1;
    t->height = p[1] << 8 | p[2];
    t->width = p[3] << 8 | p[4];
    for (int i = 0; i < nf; i++) {
        uint64_t hs = (uint64_t)(p[7 + 3 * i] >> 4), vs = (uint64_t)(p[7 + 3 * i] & 15);
        uint64_t cw = ceil_div((uint64_t)t->width * hs, (uint64_t)hmax);
        uint64_t ch = ceil_div((uint64_t)t->height * vs, (uint64_t)vmax);
        t->blocks += ceil_div(cw, 8) * ceil_div(ch, 8);
    }
    return NULL;
}

/* Every table the scan will read must exist now: baseline scans read DC and
 * AC tables, progressive scans DC (spectral start 0) or AC (start > 0). */
static const char *read_sos(const uint8_t *p, size_t n, const tables *t)
{
    if (!t->have_frame)
        return "corrupt JPEG (scan before frame header)";
    if (n < 1 || n < 4 + 2 * (size_t)p[0])
        return "corrupt JPEG (short scan header)";
    int ns = p[0], spectral_start = p[1 + 2 * ns];
    int need_dc = !t->progressive || spectral_start == 0;
    int need_ac = !t->progressive || spectral_start > 0;
    for (int i = 0; i < ns; i++) {
        int comp = p[1 + 2 * i], dc = p[2 + 2 * i] >> 4, ac = p[2 + 2 * i] & 15;
        if (t->quant_of[comp] < 0 || !t->quant[t->quant_of[comp]])
            return "corrupt JPEG (scan component without a quantisation table)";
        if ((need_dc && (dc > 3 || !t->huff[0][dc])) || (need_ac && (ac > 3 || !t->huff[1][ac])))
            return "corrupt JPEG (scan uses an undefined Huffman table)";
    }
    return NULL;
}

fer_status fer_jpeg_check(const char *name, const uint8_t *p, size_t len, fer_error *err)
{
    tables t = {0};
    memset(t.quant_of, -1, sizeof t.quant_of);
    fer_jpeg_walk w;
    fer_jpeg_segment s;
    fer_jpeg_walk_init(&w, p, len);
    int r;
    while ((r = fer_jpeg_next(&w, &s)) == FER_JPEG_SEGMENT) {
        const char *bad = NULL;
        if (s.marker >= 0xC3 && s.marker <= 0xCF && s.marker != DHT && s.marker != 0xCC)
            bad = "unsupported JPEG type (only baseline and progressive are decoded)";
        else if (s.marker == DHT)
            bad = read_dht(s.body, s.n, &t);
        else if (s.marker == DQT)
            bad = read_dqt(s.body, s.n, &t);
        else if (s.marker == SOF0 || s.marker == SOF1 || s.marker == SOF2)
            bad = read_sof(s.body, s.n, s.marker, &t);
        else if (s.marker == SOS)
            bad = read_sos(s.body, s.n, &t);
        if (bad)
            return fer_fail(err, FER_EFORMAT, "%s: %s", name, bad);
    }
    if (r == FER_JPEG_BAD)
        return fer_fail(err, FER_EFORMAT, "%s: corrupt JPEG (segment past the end of the data)",
                        name);
    /* At the end-of-image marker, or at the end of the data (a missing EOI
     * is image.c's truncation check's to report). */
    if (t.have_frame && t.width > 0 && t.height > 0 && (uint64_t)w.scan_bytes * 8 < t.blocks)
        return fer_fail(err, FER_EFORMAT, "%s: JPEG data too short for its %dx%d frame (%zu bytes)",
                        name, t.width, t.height, len);
    return FER_OK;
}
