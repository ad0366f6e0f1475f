/* Image loading (formats, grey conversion, limits, broken files) and the
 * area-averaged crop/resize against a slow exact reference. Fixtures are
 * generated here with stb_image_write (and a hand-made 16-bit PNG). */
#include <stdint.h>
#include <sys/stat.h>

#include <stb_image_write.h>

#include "testutil.h"

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
 * them with uninitialised memory; see libfer/jpeg_check.c) */

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
    tcase_add_test(tc, crop_resize_fractional_matches_reference);
    tcase_add_test(tc, crop_resize_clips_and_refuses);
    tcase_add_test(tc, face_crop_box_keeps_proportions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
