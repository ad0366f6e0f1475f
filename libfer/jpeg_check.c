/* A walk over a JPEG's marker segments before stb_image decodes it.
 *
 * Why: stb_image allocates its decoder state with malloc and never clears
 * it, so a scan that uses a Huffman table no DHT segment defined makes it
 * decode with uninitialised tables; the garbage becomes an array index and
 * the process dies (fuzzer finds: tests/fuzz/known/image/). Debian's libstb
 * cannot be changed, so libfer refuses such files first. A conforming JPEG
 * defines every table before the scan that uses it, so nothing valid is
 * lost. The walk also refuses segments that run past the end of the data. */
#include <string.h>

#include "internal.h"

enum { SOF0 = 0xC0, SOF1 = 0xC1, SOF2 = 0xC2, DHT = 0xC4, SOI = 0xD8, EOI = 0xD9,
       SOS = 0xDA, DQT = 0xDB };

typedef struct tables {
    int huff[2][4]; /* [0: DC, 1: AC][id]: defined by a DHT */
    int quant[4];   /* defined by a DQT */
    int quant_of[256]; /* frame component id -> its quantisation table, -1: none */
    int progressive, have_frame;
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

static const char *read_sof(const uint8_t *p, size_t n, int marker, tables *t)
{
    if (n < 6 || n < 6 + 3 * (size_t)p[5])
        return "corrupt JPEG (short frame header)";
    t->have_frame = 1;
    t->progressive = marker == SOF2;
    for (int i = 0; i < p[5]; i++) {
        if (p[8 + 3 * i] > 3)
            return "corrupt JPEG (bad quantisation table id)";
        t->quant_of[p[6 + 3 * i]] = p[8 + 3 * i];
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

const char *fer_jpeg_check(const uint8_t *p, size_t len)
{
    tables t = {0};
    memset(t.quant_of, -1, sizeof t.quant_of);
    size_t i = 2; /* after SOI */
    while (i < len) {
        while (i < len && p[i] != 0xFF)
            i++; /* stray bytes: stb_image skips them too, so we must see what it sees */
        while (i < len && p[i] == 0xFF)
            i++;
        if (i >= len)
            break;
        int marker = p[i++];
        if (marker == EOI)
            return NULL;
        if (marker == SOI || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
            continue; /* no length field */
        if (i + 2 > len)
            return "corrupt JPEG (segment past the end of the data)";
        size_t seg = (size_t)p[i] << 8 | p[i + 1];
        if (seg < 2 || i + seg > len)
            return "corrupt JPEG (segment past the end of the data)";
        const uint8_t *body = p + i + 2;
        size_t n = seg - 2;
        const char *bad = NULL;
        if ((marker >= 0xC3 && marker <= 0xCF && marker != DHT && marker != 0xCC))
            return "unsupported JPEG type (only baseline and progressive are decoded)";
        if (marker == DHT)
            bad = read_dht(body, n, &t);
        else if (marker == DQT)
            bad = read_dqt(body, n, &t);
        else if (marker == SOF0 || marker == SOF1 || marker == SOF2)
            bad = read_sof(body, n, marker, &t);
        else if (marker == SOS)
            bad = read_sos(body, n, &t);
        if (bad)
            return bad;
        i += seg;
        if (marker == SOS)
            i = skip_entropy_data(p, i, len);
    }
    return NULL; /* no EOI: fer's truncation check reports that */
}
