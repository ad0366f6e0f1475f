/* Image loading (formats, grey conversion, limits, broken files) and the
 * area-averaged crop/resize against a slow exact reference. Fixtures are
 * generated here with stb_image_write (and a hand-made 16-bit PNG). */
#include <stdint.h>
#include <sys/stat.h>

#include <stb_image_write.h>

#include "testutil.h"
#include "core/core.h"
#include "vision/vision.h" /* fer_exif_orientation, fer_jpeg_check, fer_image_shrink */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fer-test-image-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tmp_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* OpenCV 4.6's cvtColor(BGR2GRAY) weights for 8-bit images (15-bit fixed
 * point), the reference for every colour pixel. */
static int luma_ref(int r, int g, int b)
{
    return (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
}

/* A w x h RGB test pattern with every channel varying. */
static uint8_t *pattern_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x * 7 + y * 3);
            q[1] = (uint8_t)(x * 5 + y * 11 + 40);
            q[2] = (uint8_t)(255 - x * 3 - y * 2);
        }
    return p;
}

START_TEST(png_rgb_grey_values)
{
    make_tmpdir();
    char path[128];
    int w = 37, h = 23;
    uint8_t *rgb = pattern_rgb(w, h);
    ck_assert(stbi_write_png(tmp_path("a.png", path, sizeof path), w, h, 3, rgb, w * 3));
    fer_image img;
    fer_error err;
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
    ck_assert_int_eq(img.w, w);
    ck_assert_int_eq(img.h, h);
    for (int i = 0; i < w * h; i++) {
        const uint8_t *q = rgb + 3 * i;
        ck_assert_int_eq(img.px[i], luma_ref(q[0], q[1], q[2]));
        /* and within rounding of the BT.601 formula itself */
        double y = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
        ck_assert(fabs(img.px[i] - y) <= 0.51);
    }
    fer_image_free(&img);
    free(rgb);
    remove_tmpdir();
}
END_TEST

/* Grey stays grey; alpha is ignored (as OpenCV's IMREAD_COLOR does). */
START_TEST(png_grey_and_alpha)
{
    make_tmpdir();
    char path[128];
    int w = 16, h = 9;
    uint8_t ga[16 * 9 * 2], rgba[16 * 9 * 4];
    for (int i = 0; i < w * h; i++) {
        ga[2 * i] = (uint8_t)(i * 3), ga[2 * i + 1] = (uint8_t)(i % 2 ? 0 : 255);
        rgba[4 * i] = (uint8_t)i, rgba[4 * i + 1] = (uint8_t)(2 * i), rgba[4 * i + 2] = 7;
        rgba[4 * i + 3] = (uint8_t)(i * 5);
    }
    fer_image img;
    fer_error err;
    ck_assert(stbi_write_png(tmp_path("ga.png", path, sizeof path), w, h, 2, ga, w * 2));
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
    for (int i = 0; i < w * h; i++)
        ck_assert_int_eq(img.px[i], ga[2 * i]);
    fer_image_free(&img);
    ck_assert(stbi_write_png(tmp_path("rgba.png", path, sizeof path), w, h, 4, rgba, w * 4));
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
    for (int i = 0; i < w * h; i++)
        ck_assert_int_eq(img.px[i], luma_ref(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]));
    fer_image_free(&img);
    remove_tmpdir();
}
END_TEST

START_TEST(jpeg_and_bmp)
{
    make_tmpdir();
    char path[128];
    int w = 64, h = 48;
    uint8_t *rgb = pattern_rgb(w, h);
    fer_image img;
    fer_error err;
    ck_assert(stbi_write_bmp(tmp_path("a.bmp", path, sizeof path), w, h, 3, rgb));
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
    for (int i = 0; i < w * h; i++) /* BMP is lossless */
        ck_assert_int_eq(img.px[i], luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]));
    fer_image_free(&img);
    ck_assert(stbi_write_jpg(tmp_path("a.jpg", path, sizeof path), w, h, 3, rgb, 95));
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
    ck_assert_int_eq(img.w, w);
    double mad = 0; /* lossy: close on average */
    for (int i = 0; i < w * h; i++)
        mad += abs(img.px[i] - luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]));
    ck_assert_msg(mad / (w * h) < 4, "JPEG mean abs diff %g", mad / (w * h));
    fer_image_free(&img);
    free(rgb);
    remove_tmpdir();
}
END_TEST

/* ---- a minimal PNG writer (stored deflate) for what stb cannot write */

static uint32_t crc32_png(const uint8_t *p, size_t n, uint32_t c)
{
    c = ~c;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static size_t put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
    return 4;
}

static size_t chunk(uint8_t *out, const char *type, const uint8_t *data, size_t n)
{
    size_t k = put32(out, (uint32_t)n);
    memcpy(out + k, type, 4);
    if (n)
        memcpy(out + k + 4, data, n);
    uint32_t crc = crc32_png(out + k, n + 4, 0);
    return k + 4 + n + put32(out + k + 4 + n, crc);
}

/* PNG of w x h with `depth` bits and colour type `ct`; raw is the filtered
 * scanline data (filter byte 0 per row), or NULL for a header-only file. */
static size_t make_png(uint8_t *out, uint32_t w, uint32_t h, int depth, int ct, const uint8_t *raw,
                       size_t raw_n)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    size_t k = 8;
    uint8_t ihdr[13];
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth, ihdr[9] = (uint8_t)ct, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    k += chunk(out + k, "IHDR", ihdr, 13);
    if (raw) { /* zlib header, one stored block, adler32 */
        uint8_t *z = malloc(raw_n + 11);
        z[0] = 0x78, z[1] = 0x01, z[2] = 1;
        z[3] = (uint8_t)raw_n, z[4] = (uint8_t)(raw_n >> 8);
        z[5] = (uint8_t)~z[3], z[6] = (uint8_t)~z[4];
        memcpy(z + 7, raw, raw_n);
        uint32_t a = 1, b = 0;
        for (size_t i = 0; i < raw_n; i++)
            a = (a + raw[i]) % 65521, b = (b + a) % 65521;
        put32(z + 7 + raw_n, b << 16 | a);
        k += chunk(out + k, "IDAT", z, raw_n + 11);
        free(z);
    }
    return k + chunk(out + k, "IEND", NULL, 0);
}

START_TEST(png_16bit)
{
    int w = 5, h = 3;
    uint8_t raw[3 * (1 + 5 * 6)], png[512];
    size_t k = 0;
    uint16_t v[15][3];
    for (int y = 0; y < h; y++) {
        raw[k++] = 0;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                uint16_t s = (uint16_t)(x * 12000 + y * 5000 + c * 7000 + 123);
                v[y * w + x][c] = s;
                raw[k++] = (uint8_t)(s >> 8), raw[k++] = (uint8_t)s;
            }
    }
    size_t n = make_png(png, (uint32_t)w, (uint32_t)h, 16, 2, raw, k);
    fer_image img;
    fer_error err;
    ck_assert_int_eq(fer_image_load_mem(png, n, 0, &img, &err), FER_OK);
    ck_assert_int_eq(img.w, w);
    for (int i = 0; i < w * h; i++) /* 16 -> 8 bits keeps the high byte */
        ck_assert_int_eq(img.px[i], luma_ref(v[i][0] >> 8, v[i][1] >> 8, v[i][2] >> 8));
    fer_image_free(&img);
}
END_TEST

/* A header claiming 100000 x 100000 must be refused before any decoding:
 * there is no pixel data at all, so decoding would fail differently. */
START_TEST(max_pixels_from_header)
{
    uint8_t png[128];
    size_t n = make_png(png, 100000, 100000, 8, 2, NULL, 0);
    fer_image img;
    fer_error err;
    ck_assert_int_eq(fer_image_load_mem(png, n, 0, &img, &err), FER_ERANGE);
    ck_assert_ptr_null(img.px);
    /* 100 MP passes stb's own sanity check and meets our 64 MP default */
    n = make_png(png, 10000, 10000, 8, 2, NULL, 0);
    ck_assert_int_eq(fer_image_load_mem(png, n, 0, &img, &err), FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "10000x10000"));
    /* and an explicit limit applies to small images too */
    n = make_png(png, 20, 10, 8, 2, NULL, 0);
    ck_assert_int_eq(fer_image_load_mem(png, n, 199, &img, &err), FER_ERANGE);
}
END_TEST

START_TEST(truncated_files)
{
    make_tmpdir();
    char path[128], cut[128];
    int w = 40, h = 30;
    uint8_t *rgb = pattern_rgb(w, h);
    const char *names[] = {"t.png", "t.jpg", "t.bmp"};
    ck_assert(stbi_write_png(tmp_path(names[0], path, sizeof path), w, h, 3, rgb, w * 3));
    ck_assert(stbi_write_jpg(tmp_path(names[1], path, sizeof path), w, h, 3, rgb, 90));
    ck_assert(stbi_write_bmp(tmp_path(names[2], path, sizeof path), w, h, 3, rgb));
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *b = read_bytes(tmp_path(names[i], path, sizeof path), &n);
        char cname[32];
        snprintf(cname, sizeof cname, "cut-%s", names[i]);
        write_bytes(tmp_path(cname, cut, sizeof cut), b, n * 2 / 3);
        fer_image img;
        fer_error err;
        ck_assert_int_eq(fer_image_load(cut, 0, &img, &err), FER_EFORMAT);
        ck_assert_msg(strstr(err.msg, cname) != NULL, "message names the file: %s", err.msg);
        free(b);
    }
    free(rgb);
    remove_tmpdir();
}
END_TEST

/* ---- JPEGs whose scans use tables nobody defined (stb_image would decode
 * them with uninitialised memory; see libfer/vision/jpeg_check.c) */

static void append(void *ctx, void *data, int n)
{
    uint8_t **buf = ctx; /* buf[0]: data, buf[1]: (uint8_t *)length */
    size_t len = (size_t)buf[1];
    buf[0] = realloc(buf[0], len + (size_t)n);
    memcpy(buf[0] + len, data, (size_t)n);
    buf[1] = (uint8_t *)(len + (size_t)n);
}

/* Offset of the first marker segment `marker` in a JPEG's header part. */
static size_t find_segment(const uint8_t *p, size_t len, int marker)
{
    for (size_t i = 2; i + 4 <= len; i += 2 + (size_t)(p[i + 2] << 8 | p[i + 3]))
        if (p[i + 1] == marker)
            return i;
    ck_abort_msg("no marker %02x", marker);
    return 0;
}

/* `jpg` with the segment at `at` cut out, decoded: the status, message in err. */
static fer_status load_without(const uint8_t *jpg, size_t len, size_t at, fer_error *err)
{
    size_t seg = 2 + (size_t)(jpg[at + 2] << 8 | jpg[at + 3]);
    uint8_t *b = malloc(len - seg);
    memcpy(b, jpg, at);
    memcpy(b + at, jpg + at + seg, len - at - seg);
    fer_image img;
    fer_status s = fer_image_load_mem(b, len - seg, 0, &img, err);
    fer_image_free(&img);
    free(b);
    return s;
}

START_TEST(jpeg_undefined_tables)
{
    int w = 40, h = 30;
    uint8_t *rgb = pattern_rgb(w, h), *buf[2] = {NULL, NULL};
    ck_assert(stbi_write_jpg_to_func(append, buf, w, h, 3, rgb, 90));
    uint8_t *jpg = buf[0];
    size_t len = (size_t)buf[1];
    fer_image img;
    fer_error err;
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &img, &err), FER_OK);
    fer_image_free(&img);

    ck_assert_int_eq(load_without(jpg, len, find_segment(jpg, len, 0xC4), &err), FER_EFORMAT);
    ck_assert_msg(strstr(err.msg, "undefined Huffman table"), "%s", err.msg);
    ck_assert_int_eq(load_without(jpg, len, find_segment(jpg, len, 0xDB), &err), FER_EFORMAT);
    ck_assert_msg(strstr(err.msg, "quantisation table"), "%s", err.msg);

    /* The scan's first component asks for DC table 2 and AC table 3. */
    size_t sos = find_segment(jpg, len, 0xDA);
    for (int sel = 0; sel < 2; sel++) {
        uint8_t keep = jpg[sos + 6];
        jpg[sos + 6] = sel ? (uint8_t)((keep & 0xF0) | 3) : (uint8_t)((keep & 0x0F) | 0x20);
        ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &img, &err), FER_EFORMAT);
        ck_assert_msg(strstr(err.msg, "undefined Huffman table"), "%s", err.msg);
        jpg[sos + 6] = keep;
    }
    /* A segment length running past the end is refused, not followed. */
    size_t dqt = find_segment(jpg, len, 0xDB);
    jpg[dqt + 2] = 0xFF;
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &img, &err), FER_EFORMAT);
    free(jpg);
    free(rgb);
}
END_TEST

START_TEST(garbage_missing_directory)
{
    make_tmpdir();
    char path[128];
    fer_rng r;
    fer_rng_seed(&r, 7);
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)fer_rng_below(&r, 256);
    write_bytes(tmp_path("junk.png", path, sizeof path), junk, sizeof junk);
    fer_image img;
    fer_error err;
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_EFORMAT);
    ck_assert_int_eq(fer_image_load(tmp_path("missing.png", path, sizeof path), 0, &img, &err),
                     FER_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.png"));
    ck_assert_int_eq(fer_image_load(tmpdir, 0, &img, &err), FER_EIO);
    write_bytes(tmp_path("empty.png", path, sizeof path), "", 0);
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_EFORMAT);
    ck_assert_int_eq(fer_image_load_mem(junk, 0, 0, &img, &err), FER_EFORMAT);
    remove_tmpdir();
}
END_TEST

/* ---- crop_resize */

static fer_image random_image(int w, int h, uint64_t seed)
{
    fer_rng r;
    fer_rng_seed(&r, seed);
    fer_image img = {w, h, malloc((size_t)w * h)};
    for (int i = 0; i < w * h; i++)
        img.px[i] = (uint8_t)fer_rng_below(&r, 256);
    return img;
}

/* The exact area mean of output pixel (ox, oy) by 2-D overlap, in double. */
static double area_ref(const fer_image *img, int x, int y, int w, int h, int ow, int oh, int ox,
                       int oy)
{
    double sx = (double)w / ow, sy = (double)h / oh;
    double x0 = ox * sx, x1 = (ox + 1) * sx, y0 = oy * sy, y1 = (oy + 1) * sy, acc = 0;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            double cx = fmin(i + 1, x1) - fmax(i, x0), cy = fmin(j + 1, y1) - fmax(j, y0);
            if (cx > 0 && cy > 0)
                acc += cx * cy * img->px[(size_t)(y + j) * img->w + x + i];
        }
    return acc / (sx * sy);
}

START_TEST(crop_resize_halves_exactly)
{
    fer_image img = random_image(96, 96, 1);
    uint8_t out[48 * 48];
    fer_error err;
    ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, 96, 96, 48, 48, out, &err), FER_OK);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) {
            const uint8_t *p = img.px + 2 * y * 96 + 2 * x;
            int sum = p[0] + p[1] + p[96] + p[97];
            ck_assert_int_eq(out[y * 48 + x], (sum + 2) / 4); /* mean, halves up */
        }
    fer_image_free(&img);
}
END_TEST

/* fer_image_shrink is the area resize for a whole factor (exactly, where the
 * factor divides the size), and averages what is left at the edges. */
START_TEST(shrink_is_the_area_resize)
{
    fer_rng r;
    fer_rng_seed(&r, 3);
    fer_image img = {64, 48, malloc(64 * 48)}, s;
    for (int i = 0; i < 64 * 48; i++)
        img.px[i] = (uint8_t)fer_rng_below(&r, 256);
    fer_error e;
    uint8_t want[16 * 12];
    ck_assert_int_eq(fer_image_shrink(&img, 4, &s, &e), FER_OK);
    ck_assert(s.w == 16 && s.h == 12);
    ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, 64, 48, 16, 12, want, &e), FER_OK);
    ck_assert_mem_eq(s.px, want, sizeof want);
    fer_image_free(&s);
    ck_assert_int_eq(fer_image_shrink(&img, 5, &s, &e), FER_OK); /* 64x48 -> 13x10 */
    ck_assert(s.w == 13 && s.h == 10);
    unsigned sum = 0; /* the bottom-right pixel: the 4x3 block left over */
    for (int y = 45; y < 48; y++)
        for (int x = 60; x < 64; x++)
            sum += img.px[y * 64 + x];
    ck_assert_int_eq(s.px[9 * 13 + 12], (sum + 6) / 12);
    fer_image_free(&s);
    ck_assert_int_eq(fer_image_shrink(&img, 0, &s, &e), FER_ERANGE);
    fer_image_free(&img);
}
END_TEST

START_TEST(crop_resize_fractional_matches_reference)
{
    fer_image img = random_image(120, 90, 2);
    const int boxes[][6] = {{5, 7, 101, 77, 48, 48}, {0, 0, 120, 90, 31, 17},
                            {33, 2, 50, 61, 48, 48}, {10, 10, 7, 9, 3, 4}};
    uint8_t out[48 * 48];
    fer_error err;
    for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
        const int *q = boxes[b];
        ck_assert_int_eq(fer_image_crop_resize(&img, q[0], q[1], q[2], q[3], q[4], q[5], out, &err),
                         FER_OK);
        for (int oy = 0; oy < q[5]; oy++)
            for (int ox = 0; ox < q[4]; ox++) {
                double ref = area_ref(&img, q[0], q[1], q[2], q[3], q[4], q[5], ox, oy);
                ck_assert_msg(fabs(out[oy * q[4] + ox] - ref) <= 0.5 + 1e-9,
                              "box %zu (%d,%d): %d vs %.4f", b, ox, oy, out[oy * q[4] + ox], ref);
            }
    }
    fer_image_free(&img);
}
END_TEST

START_TEST(crop_resize_clips_and_refuses)
{
    fer_image img = random_image(50, 40, 3);
    uint8_t a[24 * 24], b[24 * 24];
    fer_error err;
    /* a box hanging over the top-left corner is its clipped part */
    ck_assert_int_eq(fer_image_crop_resize(&img, -10, -5, 40, 30, 24, 24, a, &err), FER_OK);
    ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, 30, 25, 24, 24, b, &err), FER_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_int_eq(fer_image_crop_resize(&img, 60, 0, 10, 10, 24, 24, a, &err), FER_ERANGE);
    ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, 0, 10, 24, 24, a, &err), FER_ERANGE);
    ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, 10, 10, 0, 24, a, &err), FER_ERANGE);
    ck_assert_int_eq(fer_image_crop_resize(&img, 0, 0, 10, 10, 24, 24, NULL, &err), FER_EINVAL);
    /* upscaling (box smaller than the output) is allowed: constant stays constant */
    memset(img.px, 77, 50 * 40);
    ck_assert_int_eq(fer_image_crop_resize(&img, 3, 3, 5, 7, 24, 24, a, &err), FER_OK);
    for (int i = 0; i < 24 * 24; i++)
        ck_assert_int_eq(a[i], 77);
    fer_image_free(&img);
}

/* fer_face_crop_box: the full margin inside the image, a margin shrunk on
 * every side alike near an edge, none at all for a face touching one. */
START_TEST(face_crop_box_keeps_proportions)
{
    fer_image img = {.w = 200, .h = 100, .px = NULL};
    fer_box c = fer_face_crop_box(&img, (fer_box){80, 30, 40, 40}, 0.1);
    ck_assert(c.x == 76 && c.y == 26 && c.w == 48 && c.h == 48);
    c = fer_face_crop_box(&img, (fer_box){2, 30, 40, 40}, 0.1); /* 2 px of room on the left */
    ck_assert(c.x == 0 && c.y == 28 && c.w == 44 && c.h == 44);
    c = fer_face_crop_box(&img, (fer_box){100, 40, 40, 60}, 0.25); /* touches the bottom */
    ck_assert(c.x == 100 && c.y == 40 && c.w == 40 && c.h == 60);
    c = fer_face_crop_box(&img, (fer_box){10, 10, 20, 40}, 0.5); /* 10 px room: f = 0.25 */
    ck_assert(c.x == 5 && c.y == 0 && c.w == 30 && c.h == 60);
}
END_TEST
END_TEST


/* ---- EXIF orientation (libfer/vision/exif.c) */

/* A w x h RGB pattern with no symmetry: every turn or mirror of it differs. */
static uint8_t *pattern_asym(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            int v = x < w / 3 && y < h / 4 ? 250 : (x * 9 + y * y * 2) % 200;
            q[0] = (uint8_t)v, q[1] = (uint8_t)(v / 2 + x), q[2] = (uint8_t)(255 - v);
        }
    return p;
}

static uint8_t *jpeg_of(const uint8_t *rgb, int w, int h, size_t *len)
{
    uint8_t *buf[2] = {NULL, NULL};
    ck_assert(stbi_write_jpg_to_func(append, buf, w, h, 3, rgb, 95));
    *len = (size_t)buf[1];
    return buf[0];
}

/* How to build (or break) an APP1 EXIF segment: IFD0 holds a Make entry
 * then the orientation entry. */
typedef struct exif_spec {
    int be;                  /* MM rather than II */
    unsigned orientation;    /* the value */
    unsigned type;           /* 3: SHORT */
    uint32_t count;          /* 1 */
    uint32_t ifd;            /* offset of IFD0 in the TIFF data, 8 */
    unsigned entries;        /* IFD0's entry count, 2 */
    size_t cut;              /* keep only this many TIFF bytes (0: all) */
    const char *magic;       /* "II"/"MM" when NULL */
    unsigned tiff_42;        /* 42 */
    const char *exif_id;     /* "Exif\0\0" when NULL */
} exif_spec;

static exif_spec exif_default(int be, unsigned orientation)
{
    return (exif_spec){be, orientation, 3, 1, 8, 2, 0, NULL, 42, NULL};
}

static void put_u(uint8_t *p, uint32_t v, int bytes, int be)
{
    for (int i = 0; i < bytes; i++)
        p[be ? bytes - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

/* The whole segment, FF E1 included, into out; returns its length. */
static size_t exif_segment(uint8_t *out, const exif_spec *e)
{
    uint8_t t[64] = {0};
    memcpy(t, e->magic ? e->magic : e->be ? "MM" : "II", 2);
    put_u(t + 2, e->tiff_42, 2, e->be);
    put_u(t + 4, e->ifd, 4, e->be);
    put_u(t + 8, e->entries, 2, e->be);
    uint8_t *make = t + 10, *ori = t + 22;
    put_u(make, 0x010F, 2, e->be), put_u(make + 2, 2, 2, e->be), put_u(make + 4, 4, 4, e->be);
    memcpy(make + 8, "fer", 4);
    put_u(ori, 0x0112, 2, e->be), put_u(ori + 2, e->type, 2, e->be);
    put_u(ori + 4, e->count, 4, e->be), put_u(ori + 8, e->orientation, 2, e->be);
    /* next IFD offset 0 at t + 34 */
    size_t tiff = e->cut ? e->cut : 38;
    memcpy(out + 4, e->exif_id ? e->exif_id : "Exif\0\0", 6);
    memcpy(out + 10, t, tiff);
    size_t seg = 2 + 6 + tiff;
    out[0] = 0xFF, out[1] = 0xE1, out[2] = (uint8_t)(seg >> 8), out[3] = (uint8_t)seg;
    return 2 + seg;
}

/* jpg with `seg` inserted at byte `at` (2: right after SOI). */
static uint8_t *splice(const uint8_t *jpg, size_t len, size_t at, const uint8_t *seg, size_t n,
                       size_t *out_len)
{
    uint8_t *b = malloc(len + n);
    memcpy(b, jpg, at);
    memcpy(b + at, seg, n);
    memcpy(b + at + n, jpg + at, len - at);
    *out_len = len + n;
    return b;
}

/* The EXIF table itself (EXIF 2.3, Orientation): for each value, where the
 * stored image's 0th row and 0th column are shown. T top, B bottom,
 * L left, R right. */
static const char exif_row[9] = " TTBBLRRL", exif_col[9] = " LRRLTTBB";

/* Expected display of the stored w x h grey image g under orientation o. */
static uint8_t *expected_display(const uint8_t *g, int w, int h, int o, int *dw, int *dh)
{
    int side = exif_row[o] == 'L' || exif_row[o] == 'R';
    *dw = side ? h : w, *dh = side ? w : h;
    uint8_t *d = malloc((size_t)w * h);
    for (int sy = 0; sy < h; sy++)
        for (int sx = 0; sx < w; sx++) {
            int x, y;
            if (!side) { /* stored rows stay rows */
                y = exif_row[o] == 'T' ? sy : h - 1 - sy;
                x = exif_col[o] == 'L' ? sx : w - 1 - sx;
            } else { /* stored rows become columns */
                x = exif_row[o] == 'L' ? sy : h - 1 - sy;
                y = exif_col[o] == 'T' ? sx : w - 1 - sx;
            }
            d[(size_t)y * *dw + x] = g[(size_t)sy * w + sx];
        }
    return d;
}

/* Loads `b` (a copy of exactly len bytes, so ASan sees any overread). */
static fer_status load_exact(const uint8_t *b, size_t len, fer_image *img, fer_error *err)
{
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    fer_status s = fer_image_load_mem(c, len, 0, img, err);
    free(c);
    return s;
}

START_TEST(exif_all_orientations_both_byte_orders)
{
    int w = 24, h = 16;
    uint8_t *rgb = pattern_asym(w, h);
    size_t len;
    uint8_t *jpg = jpeg_of(rgb, w, h, &len);
    fer_image plain, img;
    fer_error err;
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &plain, &err), FER_OK);
    ck_assert_int_eq(fer_exif_orientation(jpg, len), 1);
    /* after SOI, and after stb's JFIF APP0 (where cameras put it) */
    size_t app0 = jpg[3] == 0xE0 ? 4 + (size_t)(jpg[4] << 8 | jpg[5]) : 2;
    size_t places[2] = {2, app0};
    for (int be = 0; be < 2; be++)
        for (int o = 1; o <= 8; o++)
            for (int pl = 0; pl < 2; pl++) {
                uint8_t seg[64];
                exif_spec e = exif_default(be, (unsigned)o);
                size_t n = exif_segment(seg, &e), blen;
                uint8_t *b = splice(jpg, len, places[pl], seg, n, &blen);
                ck_assert_int_eq(fer_exif_orientation(b, blen), o);
                ck_assert_msg(load_exact(b, blen, &img, &err) == FER_OK, "%s", err.msg);
                int dw, dh;
                uint8_t *want = expected_display(plain.px, w, h, o, &dw, &dh);
                ck_assert_int_eq(img.w, dw);
                ck_assert_int_eq(img.h, dh);
                ck_assert_msg(memcmp(img.px, want, (size_t)w * h) == 0,
                              "orientation %d (%s) differs", o, be ? "MM" : "II");
                if (o > 1) /* and the pattern is asymmetric enough to tell */
                    ck_assert(dw != w || memcmp(img.px, plain.px, (size_t)w * h) != 0);
                free(want);
                fer_image_free(&img);
                free(b);
            }
    fer_image_free(&plain);
    free(jpg);
    free(rgb);
}
END_TEST

/* The same through fer_image_load, a photo 6 (rotate 90 clockwise) on disk. */
START_TEST(exif_rotated_file)
{
    make_tmpdir();
    char path[128];
    int w = 40, h = 24;
    uint8_t *rgb = pattern_asym(w, h);
    size_t len, blen;
    uint8_t *jpg = jpeg_of(rgb, w, h, &len), seg[64];
    exif_spec e = exif_default(1, 6);
    uint8_t *b = splice(jpg, len, 2, seg, exif_segment(seg, &e), &blen);
    write_bytes(tmp_path("rot6.jpg", path, sizeof path), b, blen);
    fer_image plain, img;
    fer_error err;
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &plain, &err), FER_OK);
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_OK);
    ck_assert(img.w == h && img.h == w);
    /* the stored bottom-left pixel is shown top-left, the top-left top-right */
    ck_assert_int_eq(img.px[0], plain.px[(size_t)(h - 1) * w]);
    ck_assert_int_eq(img.px[h - 1], plain.px[0]);
    fer_image_free(&img);
    /* the pixel limit counts pixels, whichever way up */
    ck_assert_int_eq(fer_image_load(path, (size_t)w * h - 1, &img, &err), FER_ERANGE);
    fer_image_free(&plain);
    free(b);
    free(jpg);
    free(rgb);
    remove_tmpdir();
}
END_TEST

/* Broken EXIF never fails the load and never turns the image: 1. */
START_TEST(exif_broken_means_orientation_1)
{
    int w = 24, h = 16;
    uint8_t *rgb = pattern_asym(w, h);
    size_t len;
    uint8_t *jpg = jpeg_of(rgb, w, h, &len);
    fer_image plain, img;
    fer_error err;
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &plain, &err), FER_OK);
    exif_spec bad[24];
    int nb = 0;
    for (int be = 0; be < 2; be++) {
        exif_spec e = exif_default(be, 6);
        exif_spec b;
        b = e, b.cut = 30, bad[nb++] = b;              /* truncated inside the entry */
        b = e, b.cut = 9, bad[nb++] = b;               /* truncated inside the count */
        b = e, b.cut = 5, bad[nb++] = b;               /* truncated inside the header */
        b = e, b.ifd = 0xFFFFFFF0u, bad[nb++] = b;     /* IFD offset past the end */
        b = e, b.ifd = 37, bad[nb++] = b;              /* count's second byte past the end */
        b = e, b.ifd = 4, bad[nb++] = b;               /* IFD inside the TIFF header */
        b = e, b.entries = 0xFFFF, bad[nb++] = b;      /* huge entry count */
        b = e, b.entries = 3, bad[nb++] = b;           /* one entry more than fits */
        b = e, b.count = 2, bad[nb++] = b;             /* wrong value count */
        b = e, b.count = 0xFFFFFFFFu, bad[nb++] = b;   /* huge value count */
        b = e, b.type = 4, bad[nb++] = b;              /* LONG, not SHORT */
        b = e, b.orientation = 9, bad[nb++] = b;       /* no such orientation */
    }
    ck_assert_int_eq(nb, 24);
    for (int i = 0; i < nb; i++) {
        uint8_t seg[64];
        size_t blen;
        uint8_t *b = splice(jpg, len, 2, seg, exif_segment(seg, &bad[i]), &blen);
        ck_assert_msg(fer_exif_orientation(b, blen) == 1, "case %d", i);
        ck_assert_msg(load_exact(b, blen, &img, &err) == FER_OK, "case %d: %s", i, err.msg);
        ck_assert(img.w == w && img.h == h && memcmp(img.px, plain.px, (size_t)w * h) == 0);
        fer_image_free(&img);
        free(b);
    }
    /* byte order, 42, the "Exif" id, value 0, an empty APP1 */
    exif_spec e = exif_default(0, 6), odd[5];
    odd[0] = e, odd[0].magic = "IM";
    odd[1] = e, odd[1].tiff_42 = 43;
    odd[2] = e, odd[2].exif_id = "Exif\0x";
    odd[3] = e, odd[3].orientation = 0;
    odd[4] = e, odd[4].cut = 0, odd[4].exif_id = "Exig\0\0";
    for (int i = 0; i < 5; i++) {
        uint8_t seg[64];
        size_t blen;
        uint8_t *b = splice(jpg, len, 2, seg, exif_segment(seg, &odd[i]), &blen);
        ck_assert_msg(fer_exif_orientation(b, blen) == 1, "odd case %d", i);
        free(b);
    }
    static const uint8_t empty_app1[4] = {0xFF, 0xE1, 0, 2};
    size_t blen;
    uint8_t *b = splice(jpg, len, 2, empty_app1, 4, &blen);
    ck_assert_int_eq(fer_exif_orientation(b, blen), 1);
    ck_assert_int_eq(load_exact(b, blen, &img, &err), FER_OK);
    fer_image_free(&img);
    free(b);
    /* An APP1 whose length runs past the end of the file: a JPEG error, not a read. */
    uint8_t seg[64];
    e = exif_default(1, 6);
    size_t n = exif_segment(seg, &e);
    b = splice(jpg, len, 2, seg, n, &blen);
    b[4] = 0xFF;
    ck_assert_int_eq(fer_exif_orientation(b, blen), 1);
    ck_assert_int_eq(load_exact(b, blen, &img, &err), FER_EFORMAT);
    /* Every prefix of a good EXIF JPEG: never a read past the end (ASan). */
    b[4] = 0;
    for (size_t cut = 0; cut <= 2 + n + 4; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        int o = fer_exif_orientation(c, cut);
        ck_assert_msg(o == (cut >= 2 + n ? 6 : 1), "prefix %zu: %d", cut, o);
        free(c);
    }
    ck_assert_int_eq(fer_exif_orientation(NULL, 0), 1);
    free(b);
    fer_image_free(&plain);
    free(jpg);
    free(rgb);
}
END_TEST

/* Random bytes in the TIFF part of an EXIF segment (fixed seed): the
 * reader answers 1..8 and never reads outside the data (ASan builds). */
START_TEST(exif_random_damage)
{
    int w = 16, h = 8;
    uint8_t *rgb = pattern_asym(w, h);
    size_t len;
    uint8_t *jpg = jpeg_of(rgb, w, h, &len);
    fer_rng r;
    fer_rng_seed(&r, 2024);
    for (int it = 0; it < 4000; it++) {
        uint8_t seg[64];
        exif_spec e = exif_default(it & 1, (unsigned)(1 + it % 8));
        size_t n = exif_segment(seg, &e), blen;
        int hits = 1 + (int)fer_rng_below(&r, 6);
        for (int k = 0; k < hits; k++) /* the TIFF data starts at byte 10 */
            seg[10 + fer_rng_below(&r, n - 10)] = (uint8_t)fer_rng_below(&r, 256);
        uint8_t *b = splice(jpg, len, 2, seg, n, &blen);
        uint8_t *c = malloc(blen);
        memcpy(c, b, blen);
        int o = fer_exif_orientation(c, blen);
        ck_assert(o >= 1 && o <= 8);
        free(c);
        free(b);
    }
    free(jpg);
    free(rgb);
}
END_TEST

/* Non-JPEG formats carry no EXIF here: a PNG stays as stored. */
START_TEST(exif_only_for_jpeg)
{
    uint8_t png[] = {0x89, 'P', 'N', 'G'};
    ck_assert_int_eq(fer_exif_orientation(png, sizeof png), 1);
}
END_TEST

/* ---- pixel buffers in (fer_image_from_pixels) */

START_TEST(from_pixels_matches_file_path)
{
    make_tmpdir();
    char path[128];
    int w = 37, h = 23;
    uint8_t *rgb = pattern_rgb(w, h);
    fer_rng r;
    fer_rng_seed(&r, 5);
    size_t n = (size_t)w * h;
    uint8_t *rgba = malloc(n * 4), *grey = malloc(n), *ga = malloc(n * 2);
    for (size_t i = 0; i < n; i++) {
        memcpy(rgba + 4 * i, rgb + 3 * i, 3);
        rgba[4 * i + 3] = (uint8_t)fer_rng_below(&r, 256);
        grey[i] = (uint8_t)(rgb[3 * i] ^ rgb[3 * i + 2]);
        ga[2 * i] = grey[i], ga[2 * i + 1] = rgba[4 * i + 3];
    }
    fer_image want_rgb, want_rgba, want_grey, want_ga, img;
    fer_error err;
    ck_assert(stbi_write_png(tmp_path("c.png", path, sizeof path), w, h, 3, rgb, w * 3));
    ck_assert_int_eq(fer_image_load(path, 0, &want_rgb, &err), FER_OK);
    ck_assert(stbi_write_png(tmp_path("ca.png", path, sizeof path), w, h, 4, rgba, w * 4));
    ck_assert_int_eq(fer_image_load(path, 0, &want_rgba, &err), FER_OK);
    ck_assert(stbi_write_png(tmp_path("g.png", path, sizeof path), w, h, 1, grey, w));
    ck_assert_int_eq(fer_image_load(path, 0, &want_grey, &err), FER_OK);
    ck_assert(stbi_write_png(tmp_path("ga.png", path, sizeof path), w, h, 2, ga, w * 2));
    ck_assert_int_eq(fer_image_load(path, 0, &want_ga, &err), FER_OK);

    /* Every layout, packed (stride 0) and with 5 junk bytes after each row. */
    struct { int ch; fer_pixel_order order; const uint8_t *src; const fer_image *want; } lay[] = {
        {3, FER_PIXEL_RGB, rgb, &want_rgb}, {3, FER_PIXEL_BGR, NULL, &want_rgb},
        {4, FER_PIXEL_RGBA, rgba, &want_rgba}, {4, FER_PIXEL_BGRA, NULL, &want_rgba},
        {1, FER_PIXEL_RGB, grey, &want_grey}, {2, FER_PIXEL_RGB, ga, &want_ga}};
    for (size_t l = 0; l < sizeof lay / sizeof lay[0]; l++)
        for (int pad = 0; pad <= 5; pad += 5) {
            int ch = lay[l].ch;
            size_t row = (size_t)w * ch, stride = row + (size_t)pad;
            uint8_t *buf = malloc(stride * h);
            memset(buf, 0xA5, stride * h);
            const uint8_t *src = lay[l].src ? lay[l].src : ch == 3 ? rgb : rgba;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    const uint8_t *s = src + ((size_t)y * w + x) * ch;
                    uint8_t *d = buf + (size_t)y * stride + (size_t)x * ch;
                    memcpy(d, s, (size_t)ch);
                    if (!lay[l].src) /* BGR(A): swap R and B */
                        d[0] = s[2], d[2] = s[0];
                }
            ck_assert_int_eq(fer_image_from_pixels(buf, w, h, ch, pad ? stride : 0, lay[l].order,
                                                   &img, &err), FER_OK);
            ck_assert(img.w == w && img.h == h);
            ck_assert_msg(memcmp(img.px, lay[l].want->px, n) == 0, "layout %zu pad %d", l, pad);
            fer_image_free(&img);
            free(buf);
        }
    /* alpha is ignored: the RGBA image is the RGB one */
    ck_assert_mem_eq(want_rgba.px, want_rgb.px, n);
    fer_image_free(&want_rgb);
    fer_image_free(&want_rgba);
    fer_image_free(&want_grey);
    fer_image_free(&want_ga);
    free(rgb);
    free(rgba);
    free(grey);
    free(ga);
    remove_tmpdir();
}
END_TEST

START_TEST(from_pixels_refuses_bad_arguments)
{
    uint8_t px[64] = {0};
    fer_image img = {1, 1, px}; /* overwritten, never freed */
    fer_error err;
    ck_assert_int_eq(fer_image_from_pixels(NULL, 4, 4, 1, 0, FER_PIXEL_RGB, &img, &err),
                     FER_EINVAL);
    ck_assert_ptr_null(img.px);
    ck_assert_ptr_nonnull(strstr(err.msg, "fer_image_from_pixels"));
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 4, 1, 0, FER_PIXEL_RGB, NULL, &err), FER_EINVAL);
    ck_assert_int_eq(fer_image_from_pixels(px, 0, 4, 1, 0, FER_PIXEL_RGB, &img, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "0x4"));
    ck_assert_int_eq(fer_image_from_pixels(px, 4, -1, 1, 0, FER_PIXEL_RGB, &img, &err), FER_EINVAL);
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 4, 0, 0, FER_PIXEL_RGB, &img, &err), FER_EINVAL);
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 4, 5, 0, FER_PIXEL_RGB, &img, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "5 channels"));
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 4, 3, 11, FER_PIXEL_RGB, &img, &err),
                     FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "stride 11"));
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 4, 3, 0, (fer_pixel_order)7, &img, &err),
                     FER_EINVAL);
    ck_assert_int_eq(fer_image_from_pixels(px, 65536, 65536, 1, 0, FER_PIXEL_RGB, &img, &err),
                     FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "65536x65536"));
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 3, 1, SIZE_MAX / 2, FER_PIXEL_RGB, &img, &err),
                     FER_ERANGE);
    ck_assert_int_eq(fer_image_from_pixels(px, 4, 4, 3, 0, FER_PIXEL_BGR, &img, NULL), FER_OK);
    ck_assert(img.w == 4 && img.h == 4 && img.px != px);
    fer_image_free(&img);
}
END_TEST

/* ---- headers that declare more than the file holds */

/* A tiny 8x8 JPEG whose frame header says W x H: stb would allocate and
 * fill W*H*3 bytes from a few hundred (found: 631 bytes, 8000x8000, 309 MB). */
static uint8_t *jpeg_claiming(int W, int H, size_t *len)
{
    uint8_t *rgb = pattern_rgb(8, 8);
    uint8_t *jpg = jpeg_of(rgb, 8, 8, len);
    free(rgb);
    size_t sof = find_segment(jpg, *len, 0xC0);
    jpg[sof + 5] = (uint8_t)(H >> 8), jpg[sof + 6] = (uint8_t)H;
    jpg[sof + 7] = (uint8_t)(W >> 8), jpg[sof + 8] = (uint8_t)W;
    return jpg;
}

START_TEST(jpeg_frame_larger_than_its_data)
{
    make_tmpdir();
    char path[128], want[160];
    size_t len;
    uint8_t *jpg = jpeg_claiming(8000, 8000, &len);
    write_bytes(tmp_path("x.jpg", path, sizeof path), jpg, len);
    fer_image img;
    fer_error err;
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_EFORMAT);
    snprintf(want, sizeof want, "x.jpg: JPEG data too short for its 8000x8000 frame (%zu bytes)",
             len);
    ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
    ck_assert_ptr_null(img.px);
    free(jpg);
    /* 64x64 needs 3 * 64 blocks, 24 bytes; the 8x8 image has more than that */
    jpg = jpeg_claiming(64, 64, &len);
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &img, &err), FER_OK);
    fer_image_free(&img);
    free(jpg);
    jpg = jpeg_claiming(256, 256, &len); /* 3072 blocks: 384 bytes */
    ck_assert_int_eq(fer_image_load_mem(jpg, len, 0, &img, &err), FER_EFORMAT);
    free(jpg);
    /* The most compressible real image, one colour, still loads: a baseline
     * block costs at least 2 bits, the bound assumes 1. */
    int w = 1024, h = 768;
    uint8_t *flat = malloc((size_t)w * h * 3);
    memset(flat, 90, (size_t)w * h * 3);
    for (int q = 10; q <= 100; q += 90) {
        uint8_t *buf[2] = {NULL, NULL};
        ck_assert(stbi_write_jpg_to_func(append, buf, w, h, 3, flat, q));
        ck_assert_msg(fer_image_load_mem(buf[0], (size_t)buf[1], 0, &img, &err) == FER_OK, "%s",
                      err.msg);
        ck_assert(img.w == w && img.h == h);
        fer_image_free(&img);
        free(buf[0]);
    }
    free(flat);
    remove_tmpdir();
}
END_TEST

/* PNM files are made here: header text then n bytes of pixel data. */
static uint8_t *pnm_file(const char *header, size_t n, uint8_t fill, size_t *len)
{
    size_t hl = strlen(header);
    uint8_t *b = malloc(hl + n + 1);
    memcpy(b, header, hl);
    for (size_t i = 0; i < n; i++)
        b[hl + i] = (uint8_t)(fill + i * 7);
    *len = hl + n;
    return b;
}

START_TEST(pnm_data_shorter_than_header)
{
    make_tmpdir();
    char path[128];
    const char *hdr[2] = {"P6\n8000 8000\n255\n", "P5\n8000 8000\n255\n"};
    const char *name[2] = {"big.ppm", "big.pgm"};
    fer_image img;
    fer_error err;
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *b = pnm_file(hdr[i], 100, 1, &len);
        write_bytes(tmp_path(name[i], path, sizeof path), b, len);
        ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_EFORMAT);
        ck_assert_msg(strstr(err.msg, name[i]) && strstr(err.msg, "PNM data too short") &&
                      strstr(err.msg, "8000x8000"), "%s", err.msg);
        ck_assert_ptr_null(img.px);
        free(b);
    }
    /* Exactly enough loads, one byte less does not; 16-bit samples count 2 bytes. */
    struct { const char *h; size_t need; } exact[] = {
        {"P5 5 3 255\n", 15}, {"P6 5 3 255\n", 45}, {"P5 5 3 65535\n", 30}, {"P6 5 3 256\n", 90}};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        size_t len;
        uint8_t *b = pnm_file(exact[i].h, exact[i].need, 3, &len);
        ck_assert_msg(fer_image_load_mem(b, len, 0, &img, &err) == FER_OK, "%s", err.msg);
        ck_assert(img.w == 5 && img.h == 3);
        fer_image_free(&img);
        ck_assert_int_eq(fer_image_load_mem(b, len - 1, 0, &img, &err), FER_EFORMAT);
        free(b);
    }
    /* the pixel limit comes first, from the header */
    size_t len;
    uint8_t *b = pnm_file("P5 100000 100000 255\n", 10, 0, &len);
    ck_assert_int_eq(fer_image_load_mem(b, len, 0, &img, &err), FER_ERANGE);
    free(b);
    remove_tmpdir();
}
END_TEST

START_TEST(pnm_dimensions_that_do_not_fit)
{
    make_tmpdir();
    char path[128];
    fer_image img;
    fer_error err;
    /* stb's parser wraps: 4294967297 x 2 was read as 1 x 2 */
    size_t len;
    uint8_t *b = pnm_file("P5\n4294967297 2\n255\n", 2, 9, &len);
    write_bytes(tmp_path("wide.pgm", path, sizeof path), b, len);
    ck_assert_int_eq(fer_image_load(path, 0, &img, &err), FER_ERANGE);
    ck_assert_msg(strstr(err.msg, "wide.pgm: PNM width 4294967297 is out of range"), "%s",
                  err.msg);
    free(b);
    const char *bad[] = {"P5 0 2 255\n", "P5 2 0 255\n", "P5 2 2147483648 255\n",
                         "P6 99999999999999999999999999999 2 255\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = pnm_file(bad[i], 16, 0, &len);
        ck_assert_msg(fer_image_load_mem(b, len, 0, &img, &err) == FER_ERANGE, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
        free(b);
    }
    /* maxval outside 1..65535, missing fields, no whitespace after maxval */
    const char *corrupt[] = {"P5 2 2 0\n", "P5 2 2 65536\n", "P5 2 2\n", "P5 2 2 255",
                             "P5 2 2 255#\n", "P5\n2 x 255\n", "P52 2 255\n", "P5 -2 2 255\n"};
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        b = pnm_file(corrupt[i], i == 3 ? 0 : 16, 0, &len);
        ck_assert_msg(fer_image_load_mem(b, len, 0, &img, &err) == FER_EFORMAT, "%s: %s",
                      corrupt[i], err.msg);
        free(b);
    }
    remove_tmpdir();
}
END_TEST

/* Comments and any whitespace between fields; P6 to luma; 16-bit samples
 * are big-endian and keep their high byte (stb took the low one). */
START_TEST(pnm_pixels)
{
    fer_image img;
    fer_error err;
    size_t len;
    uint8_t *b = pnm_file("P5 # a comment\n3\t# another\r2\n\n255 ", 6, 10, &len);
    ck_assert_int_eq(fer_image_load_mem(b, len, 0, &img, &err), FER_OK);
    ck_assert(img.w == 3 && img.h == 2);
    size_t hl = len - 6;
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(img.px[i], b[hl + i]);
    fer_image_free(&img);
    free(b);
    b = pnm_file("P6\n2 2\n255\n", 12, 40, &len);
    ck_assert_int_eq(fer_image_load_mem(b, len, 0, &img, &err), FER_OK);
    for (int i = 0; i < 4; i++) {
        const uint8_t *q = b + len - 12 + 3 * i;
        ck_assert_int_eq(img.px[i], luma_ref(q[0], q[1], q[2]));
    }
    fer_image_free(&img);
    free(b);
    static const uint8_t p16[] = {'P', '5', ' ', '2', ' ', '1', ' ', '6', '5', '5', '3', '5', '\n',
                                  0x12, 0x34, 0xAB, 0xCD};
    ck_assert_int_eq(fer_image_load_mem(p16, sizeof p16, 0, &img, &err), FER_OK);
    ck_assert(img.px[0] == 0x12 && img.px[1] == 0xAB);
    fer_image_free(&img);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("image");
    tcase_add_test(tc, png_rgb_grey_values);
    tcase_add_test(tc, png_grey_and_alpha);
    tcase_add_test(tc, jpeg_and_bmp);
    tcase_add_test(tc, png_16bit);
    tcase_add_test(tc, max_pixels_from_header);
    tcase_add_test(tc, truncated_files);
    tcase_add_test(tc, jpeg_undefined_tables);
    tcase_add_test(tc, garbage_missing_directory);
    tcase_add_test(tc, crop_resize_halves_exactly);
    tcase_add_test(tc, shrink_is_the_area_resize);
    tcase_add_test(tc, crop_resize_fractional_matches_reference);
    tcase_add_test(tc, crop_resize_clips_and_refuses);
    tcase_add_test(tc, face_crop_box_keeps_proportions);
    tcase_add_test(tc, exif_all_orientations_both_byte_orders);
    tcase_add_test(tc, exif_rotated_file);
    tcase_add_test(tc, exif_broken_means_orientation_1);
    tcase_add_test(tc, exif_random_damage);
    tcase_add_test(tc, exif_only_for_jpeg);
    tcase_add_test(tc, from_pixels_matches_file_path);
    tcase_add_test(tc, from_pixels_refuses_bad_arguments);
    tcase_add_test(tc, jpeg_frame_larger_than_its_data);
    tcase_add_test(tc, pnm_data_shorter_than_header);
    tcase_add_test(tc, pnm_dimensions_that_do_not_fit);
    tcase_add_test(tc, pnm_pixels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
