/* Training augmentation (fer_augment): the identity with every transform
 * off, and random erasing: one rectangle of noise within the documented
 * sizes, at about the asked rate, and no change to the random stream of
 * runs that leave it off. */
#include "testutil.h"

enum { H = 48, W = 40 };

/* A flat image of grey level v; returns its preprocessed value (what
 * fer_augment gives with everything off). */
static float flat_image(uint8_t *img, uint8_t v)
{
    for (int i = 0; i < H * W; i++)
        img[i] = v;
    fer_augment_opts none = {0};
    fer_rng r;
    fer_rng_seed(&r, 1);
    float out[H * W];
    fer_augment(img, H, W, &none, &r, out);
    return out[0];
}

START_TEST(all_off_is_the_preprocessed_image)
{
    uint8_t img[H * W];
    for (int i = 0; i < H * W; i++)
        img[i] = (uint8_t)(i * 7);
    fer_augment_opts o = {0};
    fer_rng r;
    fer_rng_seed(&r, 3);
    float out[H * W];
    fer_augment(img, H, W, &o, &r, out);
    for (int i = 0; i < H * W; i++)
        ck_assert_float_eq_tol(out[i], img[i] / 255.0f, 1e-6f);
}
END_TEST

/* The pixels that differ from a flat image's: their count and bounding
 * box; 1 when they are exactly the box. */
static int changed_box(const float *out, float flat, int *n, int *bh, int *bw)
{
    int y0 = H, y1 = -1, x0 = W, x1 = -1;
    *n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float v = out[y * W + x];
            ck_assert(v >= 0 && v < 1);
            if (v == flat)
                continue;
            (*n)++;
            y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
        }
    *bh = y1 - y0 + 1, *bw = x1 - x0 + 1;
    return *n == 0 || *n == *bh * *bw;
}

START_TEST(erasing_is_one_rectangle_of_noise)
{
    uint8_t img[H * W];
    float flat = flat_image(img, 128), out[H * W];
    fer_augment_opts o = {.erase = 1};
    fer_rng r;
    fer_rng_seed(&r, 5);
    int small = H * W, big = 0;
    for (int k = 0; k < 300; k++) {
        fer_augment(img, H, W, &o, &r, out);
        int n, bh, bw;
        /* noise equal to the flat value would leave a hole (about 1e-7 a
         * pixel; not with this seed) */
        ck_assert_msg(changed_box(out, flat, &n, &bh, &bw), "draw %d: %d pixels in a %dx%d box",
                      k, n, bh, bw);
        ck_assert_int_gt(n, 0);
        /* 2-33% of the area, give or take the rounding of each side */
        ck_assert_msg(n >= 0.015 * H * W && n <= 0.36 * H * W, "draw %d: %d pixels", k, n);
        ck_assert(bh <= 3.5 * bw + 2 && bw <= 3.5 * bh + 2);
        small = n < small ? n : small, big = n > big ? n : big;
    }
    ck_assert_int_lt(small, 0.05 * H * W); /* the whole range is used */
    ck_assert_int_gt(big, 0.28 * H * W);
}
END_TEST

START_TEST(erasing_rate_and_stream)
{
    uint8_t img[H * W];
    float flat = flat_image(img, 60);
    fer_augment_opts on = {.erase = 0.5f}, off; /* on: erasing alone, so a flat image stays
                                                  flat elsewhere */
    fer_augment_opts_default(&off);
    ck_assert(off.erase == 0);
    fer_rng a, b;
    fer_rng_seed(&a, 9);
    float out[H * W];
    int erased = 0;
    for (int k = 0; k < 400; k++) {
        fer_augment(img, H, W, &on, &a, out);
        int n, bh, bw;
        changed_box(out, flat, &n, &bh, &bw);
        erased += n > 0;
    }
    ck_assert_msg(erased > 140 && erased < 260, "%d of 400 erased at 0.5", erased);
    /* Off, an image takes the transforms' six numbers and no more. */
    fer_rng_seed(&a, 9);
    b = a;
    fer_augment(img, H, W, &off, &a, out);
    for (int k = 0; k < 6; k++)
        fer_rng_uniform(&b);
    ck_assert(!memcmp(&a, &b, sizeof a));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("augment");
    TCase *t = tcase_create("augment");
    tcase_add_test(t, all_off_is_the_preprocessed_image);
    tcase_add_test(t, erasing_is_one_rectangle_of_noise);
    tcase_add_test(t, erasing_rate_and_stream);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
