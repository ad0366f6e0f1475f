/* Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution (libfer/nn/winograd.c)
 * against a plain double-precision convolution, on every path the CPU has
 * (portable C, AVX2, AVX-512, each forced), on odd shapes: H and W odd and
 * not multiples of the tile, 'valid' and 'same' padding, small channel
 * counts, one and several images, tile blocks crossing images; then as the
 * conv layer's forward pass (predict) of models, the paper CNN included, and
 * in training (forward and input gradient) against the direct path (im2col
 * and the "ref" GEMM, under which the layers keep it). */
#include "testutil.h"

#include "nn/model.h"
#include "nn/winograd.h"

static void conv_plain(int n, int ic, int ih, int iw, int oc, int pad, int relu, const float *w,
                       const float *b, const float *x, float *y)
{
    int oh = ih + 2 * pad - 2, ow = iw + 2 * pad - 2;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < oc; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = b[o];
                    for (int c = 0; c < ic; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy + ky - pad, ix = ox + kx - pad;
                                if (iy >= 0 && iy < ih && ix >= 0 && ix < iw)
                                    s += (double)w[((o * ic + c) * 3 + ky) * 3 + kx] *
                                         x[(((size_t)i * ic + c) * ih + iy) * iw + ix];
                            }
                    if (relu && s < 0)
                        s = 0;
                    y[(((size_t)i * oc + o) * oh + oy) * ow + ox] = (float)s;
                }
}

#define SENTINEL 4321.0f

typedef struct shape {
    int n, ic, ih, iw, oc, pad, relu;
} shape;

/* Every path and tile size on one shape: the error within a bound
 * relative to the largest output (F(4x4) rounds worse: its transforms
 * scale values by up to 100 before the products and back after), every
 * output written (y starts as NaN) and nothing past it (a sentinel). The
 * tiles computed in three uneven ranges must equal the whole call bit for
 * bit (what the blocks and threads of the layer rely on). */
static void check_shape(fer_rng *r, const shape *s)
{
    int oh = s->ih + 2 * s->pad - 2, ow = s->iw + 2 * s->pad - 2;
    size_t nx = (size_t)s->n * s->ic * s->ih * s->iw, ny = (size_t)s->n * s->oc * oh * ow;
    size_t nw = (size_t)s->oc * s->ic * 9;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(s->oc * sizeof *b);
    float *want = malloc(ny * sizeof *want), *got = malloc((ny + 16) * sizeof *got);
    ck_assert(x && w && b && want && got);
    tu_fill_uniform(r, x, nx, -1, 1);
    tu_fill_uniform(r, w, nw, -0.5f, 0.5f);
    tu_fill_uniform(r, b, s->oc, -0.3f, 0.3f);
    conv_plain(s->n, s->ic, s->ih, s->iw, s->oc, s->pad, s->relu, w, b, x, want);
    float big = 0;
    for (size_t i = 0; i < ny; i++)
        big = fabsf(want[i]) > big ? fabsf(want[i]) : big;
    int ran = 0;
    for (int k = 0; k < fer_gemm_kernel_count(); k++)
        for (int m = 2; m <= 4; m += 2) {
            for (size_t i = 0; i < ny; i++)
                got[i] = NAN;
            for (int i = 0; i < 16; i++)
                got[ny + i] = SENTINEL;
            if (!fer_winograd_conv_with(k, m, s->n, s->ic, s->ih, s->iw, s->oc, s->pad, s->relu, w,
                                        b, x, got)) {
                ck_assert_msg(!fer_wino_supported(k), "path %s refused a shape",
                              fer_gemm_kernel_name(k));
                continue;
            }
            ran++;
            float d = tu_max_abs_diff(want, got, ny), tol = (m == 2 ? 2e-6f : 4e-5f) * (1 + big);
            ck_assert_msg(d <= tol, "%s F(%dx%d) n%d ic%d %dx%d oc%d pad%d: error %g > %g",
                          fer_gemm_kernel_name(k), m, m, s->n, s->ic, s->ih, s->iw, s->oc, s->pad,
                          d, tol);
            for (int i = 0; i < 16; i++)
                ck_assert_msg(got[ny + i] == SENTINEL, "%s F(%dx%d): stored past the output",
                              fer_gemm_kernel_name(k), m, m);
            fer_wino_conv c;
            ck_assert(fer_wino_setup(&c, m, s->ic, s->ih, s->iw, s->oc, s->pad, s->relu));
            long tiles = (long)s->n * c.tiles_y * c.tiles_x;
            float *u = fer_aligned_alloc(fer_wino_u_floats(&c) * sizeof(float));
            float *scratch = fer_aligned_alloc(fer_wino_scratch_floats(&c) * sizeof(float));
            float *split = malloc(ny * sizeof *split);
            fer_wino_weights(k, &c, w, u, 0, (s->oc + WINO_OCP - 1) / WINO_OCP * WINO_OCP);
            long cut[4] = {0, tiles / 7, tiles / 7 + (tiles - tiles / 7) * 2 / 3, tiles};
            for (int part = 0; part < 3; part++)
                fer_wino_run(k, &c, u, b, x, split, cut[part], cut[part + 1], scratch);
            ck_assert_msg(memcmp(split, got, ny * sizeof *got) == 0, "%s F(%dx%d): split differs",
                          fer_gemm_kernel_name(k), m, m);
            fer_aligned_free(u);
            fer_aligned_free(scratch);
            free(split);
        }
    ck_assert(ran >= 2); /* the portable path at least, both tile sizes */
    free(x);
    free(w);
    free(b);
    free(want);
    free(got);
}

/* Every path the CPU supports is offered and the rest refused. */
START_TEST(paths)
{
    for (int k = 0; k < fer_gemm_kernel_count(); k++) {
        const char *name = fer_gemm_kernel_name(k);
        int want = strcmp(name, "ref") != 0 && fer_gemm_kernel_supported(k);
        ck_assert_int_eq(fer_wino_supported(k), want);
        printf("winograd path %s %s\n", name, want ? "supported" : "not supported");
    }
    ck_assert(fer_wino_supported(1)); /* "c" runs anywhere */
}
END_TEST

/* Small and odd: tiles cut by the edges, 'same' padding, one channel. */
START_TEST(odd_shapes)
{
    fer_rng r;
    fer_rng_seed(&r, 11);
    static const shape shapes[] = {
        {1, 1, 3, 3, 1, 0, 0},   /* one output pixel */
        {1, 1, 1, 1, 1, 1, 1},   /* same padding of a 1x1 image */
        {1, 2, 4, 5, 3, 0, 1},   /* 2x3 output */
        {2, 3, 5, 7, 5, 1, 1},   /* odd H and W, same */
        {3, 5, 9, 6, 17, 0, 0},  /* oc not a multiple of any MR */
        {2, 8, 13, 11, 9, 1, 1},
        {1, 7, 2, 30, 4, 1, 0},  /* one tile row */
        {4, 4, 30, 3, 6, 1, 1},  /* one tile column */
        {1, 16, 16, 16, 24, 0, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        check_shape(&r, &shapes[i]);
}
END_TEST

/* Blocks of tiles spanning images, several blocks, ragged last block. */
START_TEST(many_tiles)
{
    fer_rng r;
    fer_rng_seed(&r, 12);
    static const shape shapes[] = {
        {7, 9, 11, 13, 10, 1, 1}, /* 7 images of 6x7 (F2) / 3x4 (F4) tiles */
        {5, 12, 21, 19, 33, 0, 1},
        {3, 3, 40, 37, 8, 1, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        check_shape(&r, &shapes[i]);
}
END_TEST

/* The paper CNN's layers: conv2 (32 -> 64, 46x46), conv3, conv4. */
START_TEST(cnn_shapes)
{
    fer_rng r;
    fer_rng_seed(&r, 13);
    static const shape shapes[] = {
        {2, 32, 46, 46, 64, 0, 1},
        {2, 64, 22, 22, 128, 0, 1},
        {3, 128, 10, 10, 128, 0, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        check_shape(&r, &shapes[i]);
}
END_TEST

/* ---------------------------------------------------------- the layer */

static fer_model *model_from(const char *json, uint64_t seed)
{
    fer_model *m;
    fer_error err;
    ck_assert_msg(fer_model_from_json(json, seed, &m, &err) == FER_OK, "%s", err.msg);
    return m;
}

/* n floats uniform in [lo, hi), from seed (the caller frees them). */
static float *uniform_batch(uint64_t seed, size_t n, float lo, float hi)
{
    fer_rng r;
    fer_rng_seed(&r, seed);
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    tu_fill_uniform(&r, x, n, lo, hi);
    return x;
}

/* Runs the direct path: the "ref" GEMM, which Winograd does not run on,
 * then the fastest path again (no thread runs a GEMM in between). */
static void use_direct(int on)
{
    static int fastest = -1;
    if (fastest < 0)
        fastest = fer_gemm_kernel_active();
    ck_assert(fer_gemm_force(on ? "ref" : fer_gemm_kernel_name(fastest)));
}

static void direct_probs(fer_model *m, const float *x, int n, float *probs)
{
    use_direct(1);
    ck_assert(fer_model_predict(m, x, n, probs, NULL) == FER_OK);
    use_direct(0);
}

static const char *const small_net =
    "{\"input\":[3,15,13],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
    "{\"type\":\"conv2d\",\"filters\":12,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
    "{\"type\":\"conv2d\",\"filters\":16,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
    "{\"type\":\"conv2d\",\"filters\":9,\"kernel\":3,\"activation\":\"relu\"},"
    "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
    "{\"type\":\"conv2d\",\"filters\":10,\"kernel\":3,\"padding\":\"same\"},"
    "{\"type\":\"flatten\"},"
    "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}";

/* Which layers take Winograd (3x3, 8+ input channels, 4+ filters) and
 * which tile: F(4x4) when the call has 16 or more of its tiles and they do
 * not cover much more than 2x2 tiles would. */
START_TEST(layer_choice)
{
    fer_model *m = model_from(small_net, 1);
    ck_assert_int_eq(fer_winograd_tile(&m->layers[0], 9), 0); /* 3 input channels */
    ck_assert_int_eq(fer_winograd_tile(&m->layers[1], 1), 4); /* 15x13: 4x4 tiles */
    ck_assert_int_eq(fer_winograd_tile(&m->layers[2], 1), 2); /* 13x11: 4x3 */
    ck_assert_int_eq(fer_winograd_tile(&m->layers[2], 2), 4);
    ck_assert_int_eq(fer_winograd_tile(&m->layers[4], 64), 2); /* 6x5: 8x8 of 4x4 tiles */
    fer_model_free(m);
    ck_assert(fer_model_paper_cnn(7, NULL, 1, &m, NULL) == FER_OK);
    int conv = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].ops == &fer_conv_ops) {
            const fer_layer *l = &m->layers[i];
            ck_assert_int_eq(fer_winograd_tile(l, 1), conv == 0 ? 0 : conv == 3 ? 2 : 4);
            ck_assert_int_eq(fer_winograd_tile(l, 64), conv == 0 ? 0 : 4);
            conv++;
        }
    ck_assert_int_eq(conv, 4);
    fer_model_free(m);
}
END_TEST

/* predict (Winograd) against the direct path, for 1 to 3 threads (bit-
 * identical: each tile's sums do not depend on the thread's share) and one
 * image at a time (within 1e-5: a call of one image takes F(2x2) where
 * the batch takes F(4x4)). */
START_TEST(predict_matches_direct)
{
    fer_model *m = model_from(small_net, 2);
    enum { N = 6 };
    size_t in = 3 * 15 * 13;
    float *x = uniform_batch(3, N * in, -1, 1);
    float want[N * 3], first[N * 3], got[N * 3];
    direct_probs(m, x, N, want);
    for (int threads = 1; threads <= 3; threads++) {
        ck_assert(fer_model_set_threads(m, threads, NULL) == FER_OK);
        ck_assert(fer_model_predict(m, x, N, got, NULL) == FER_OK);
        ck_assert_msg(tu_max_abs_diff(want, got, N * 3) < 1e-5f, "threads %d", threads);
        if (threads == 1)
            memcpy(first, got, sizeof got);
        ck_assert(memcmp(first, got, sizeof got) == 0);
        for (int i = 0; i < N; i++) { /* one at a time */
            float one[3];
            ck_assert(fer_model_predict(m, x + i * in, 1, one, NULL) == FER_OK);
            ck_assert(tu_max_abs_diff(one, first + 3 * i, 3) < 1e-5f);
        }
    }
    free(x);
    fer_model_free(m);
}
END_TEST

/* Training: the loss and every parameter's gradient of a step with
 * Winograd (forward; the weight gradient of the layers with at least 8
 * inputs, 'same' and 'valid', the last over its ReLU input in chunks of
 * images; the input gradient of the 'same' ones:
 * written to dx after a batch norm, over the input after a ReLU conv and
 * after a max pool, chunks of images cut by the threads' shares) against
 * the direct path, within 2e-5 of each tensor's largest gradient (seen:
 * 3.5e-6) plus 1e-6 (the first conv's bias, which the batch norm after it
 * makes ~0: 5e-8, its noise 1e-7); every GEMM path this CPU has, 1 and 2
 * threads, batches of 1, 5 and 9. */
static const char *const train_net =
    "{\"input\":[4,13,11],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
    "{\"type\":\"conv2d\",\"filters\":10,\"kernel\":3,\"padding\":\"same\"},"
    "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
    "{\"type\":\"conv2d\",\"filters\":12,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
    "{\"type\":\"conv2d\",\"filters\":9,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
    "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
    "{\"type\":\"conv2d\",\"filters\":8,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
    "{\"type\":\"conv2d\",\"filters\":6,\"kernel\":3,\"activation\":\"relu\"},"
    "{\"type\":\"flatten\"},"
    "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}";

static void gradients(fer_model *m, const float *x, const int *y, int n, float *loss,
                      float **grads)
{
    ck_assert(fer_model_gradients(m, x, y, n, loss, NULL) == FER_OK);
    for (int p = 0; p < fer_model_param_count(m); p++) {
        fer_tensor *g;
        fer_model_param(m, p, &g, NULL, 0);
        memcpy(grads[p], g->data, g->size * sizeof(float));
    }
}

START_TEST(training_matches_direct)
{
    fer_model *m = model_from(train_net, 7);
    enum { N = 9 };
    size_t in = 4 * 13 * 11;
    float *x = uniform_batch(8, N * in, -1, 1);
    int y[N] = {0, 1, 2, 2, 1, 0, 1, 1, 2};
    int np = fer_model_param_count(m);
    float *want[16], *got[16];
    ck_assert(np <= 16);
    for (int p = 0; p < np; p++) {
        fer_tensor *t = fer_model_param(m, p, NULL, NULL, 0);
        want[p] = malloc(t->size * sizeof(float));
        got[p] = malloc(t->size * sizeof(float));
    }
    ck_assert_int_eq(fer_winograd_tile(&m->layers[2], 9), 4); /* the layers it runs */
    ck_assert_int_eq(fer_winograd_tile(&m->layers[5], 9), 2);
    ck_assert_int_eq(fer_winograd_tile(&m->layers[6], 9), 2);
    static const int batches[] = {1, 5, N};
    for (int k = 1; k < fer_gemm_kernel_count(); k++)
        for (int threads = 1; fer_gemm_kernel_supported(k) && threads <= 2; threads++)
            for (int b = 0; b < 3; b++) {
                int n = batches[b];
                ck_assert(fer_model_set_threads(m, threads, NULL) == FER_OK);
                float lw, lg;
                use_direct(1);
                gradients(m, x, y, n, &lw, want);
                ck_assert(fer_gemm_force(fer_gemm_kernel_name(k)));
                gradients(m, x, y, n, &lg, got);
                use_direct(0);
                ck_assert_msg(fabsf(lw - lg) < 1e-5f, "loss %g vs %g", lg, lw);
                for (int p = 0; p < np; p++) {
                    fer_tensor *t = fer_model_param(m, p, NULL, NULL, 0);
                    float big = 0;
                    for (size_t i = 0; i < t->size; i++)
                        big = fabsf(want[p][i]) > big ? fabsf(want[p][i]) : big;
                    float d = tu_max_abs_diff(want[p], got[p], t->size);
                    ck_assert_msg(big > 0 && d <= 2e-5f * big + 1e-6f,
                                  "%s, threads %d, batch %d, parameter %d: %g of %g",
                                  fer_gemm_kernel_name(k), threads, n, p, d, big);
                }
            }
    for (int p = 0; p < np; p++)
        free(want[p]), free(got[p]);
    free(x);
    fer_model_free(m);
}
END_TEST

/* The transformed weights follow the weights: changed through
 * fer_model_param, or by a training step, predict gives what a model made
 * with the new weights gives. */
START_TEST(weights_change_is_seen)
{
    fer_model *a = model_from(small_net, 4), *b = model_from(small_net, 4);
    size_t in = 3 * 15 * 13;
    fer_rng r;
    fer_rng_seed(&r, 5);
    float x[2 * 3 * 15 * 13], pa[6], pb[6], before[6];
    tu_fill_uniform(&r, x, 2 * in, -1, 1);
    ck_assert(fer_model_predict(a, x, 2, before, NULL) == FER_OK);
    fer_tensor *wa = fer_model_param(a, 2, NULL, NULL, 0), *wb = fer_model_param(b, 2, NULL, NULL, 0);
    ck_assert_int_eq(wa->ndim, 4); /* layer 1's weights */
    for (size_t i = 0; i < wa->size; i++)
        wa->data[i] = wb->data[i] = wa->data[i] * 1.5f;
    ck_assert(fer_model_predict(a, x, 2, pa, NULL) == FER_OK);
    ck_assert(fer_model_predict(b, x, 2, pb, NULL) == FER_OK);
    ck_assert(memcmp(pa, pb, sizeof pa) == 0);
    ck_assert(memcmp(pa, before, sizeof pa) != 0);
    /* a training step on a, the same on a fresh copy c of b */
    fer_model *c;
    ck_assert(fer_model_from_json(small_net, 9, &c, NULL) == FER_OK);
    for (int p = 0; p < fer_model_param_count(b); p++) {
        fer_tensor *from = fer_model_param(b, p, NULL, NULL, 0), *to = fer_model_param(c, p, NULL, NULL, 0);
        memcpy(to->data, from->data, from->size * sizeof(float));
    }
    fer_optim *oa, *oc;
    ck_assert(tu_adam(a, 0.1f, 0, &oa, NULL) == FER_OK && tu_adam(c, 0.1f, 0, &oc, NULL) == FER_OK);
    int y[2] = {0, 2};
    fer_rng ra, rc;
    fer_rng_seed(&ra, 1), fer_rng_seed(&rc, 1);
    ck_assert(fer_model_train_step(a, oa, &ra, x, y, 2, NULL, NULL, NULL, NULL) == FER_OK);
    ck_assert(fer_model_train_step(c, oc, &rc, x, y, 2, NULL, NULL, NULL, NULL) == FER_OK);
    float pc[6];
    ck_assert(fer_model_predict(a, x, 2, pa, NULL) == FER_OK);
    ck_assert(fer_model_predict(c, x, 2, pc, NULL) == FER_OK);
    ck_assert(memcmp(pa, pc, sizeof pa) == 0);
    ck_assert(memcmp(pa, pb, sizeof pa) != 0);
    /* a shared model follows its source */
    fer_model *s;
    ck_assert(fer_model_share(c, &s, NULL) == FER_OK);
    float ps[6];
    ck_assert(fer_model_predict(s, x, 2, ps, NULL) == FER_OK);
    ck_assert(memcmp(ps, pc, sizeof ps) == 0);
    ck_assert(fer_model_train_step(c, oc, &rc, x, y, 2, NULL, NULL, NULL, NULL) == FER_OK);
    ck_assert(fer_model_predict(c, x, 2, pc, NULL) == FER_OK);
    ck_assert(fer_model_predict(s, x, 2, ps, NULL) == FER_OK);
    ck_assert(memcmp(ps, pc, sizeof ps) == 0);
    fer_model_free(s);
    fer_optim_free(oa);
    fer_optim_free(oc);
    fer_model_free(a);
    fer_model_free(b);
    fer_model_free(c);
}
END_TEST

/* Models made by fer_model_share read their source's transformed weights
 * (one copy: they make none of their own) for both tile sizes, get what the
 * source gets, and keep doing so after the source's buffers grow for a
 * larger batch (which once freed the transformed weights with them). */
START_TEST(shared_models_borrow_the_transformed_weights)
{
    fer_model *src = model_from(small_net, 11), *s[2];
    enum { BIG = 40 };
    size_t in = 3 * 15 * 13;
    float *x = uniform_batch(12, BIG * in, -1, 1);
    float want[BIG * 3], got[BIG * 3];
    int f2 = 0, f4 = 0;
    for (int i = 0; i < src->n_layers; i++) {
        f2 |= fer_winograd_tile(&src->layers[i], 1) == 2;
        f4 |= fer_winograd_tile(&src->layers[i], BIG) == 4;
    }
    ck_assert_msg(f2 && f4, "the test net no longer uses F(2x2) at batch 1 and F(4x4) at %d", BIG);
    ck_assert(fer_model_share(src, &s[0], NULL) == FER_OK && fer_model_share(src, &s[1], NULL) == FER_OK);
    for (int round = 0; round < 2; round++)
        for (int n = 1; n <= BIG; n += BIG - 1) {
            ck_assert(fer_model_predict(src, x, n, want, NULL) == FER_OK);
            for (int k = 0; k < 2; k++) {
                ck_assert(fer_model_predict(s[k], x, n, got, NULL) == FER_OK);
                ck_assert_msg(memcmp(want, got, (size_t)n * 3 * sizeof *got) == 0,
                              "round %d, batch %d, model %d", round, n, k);
                for (int i = 0; i < s[k]->n_layers; i++)
                    ck_assert_msg(!s[k]->layers[i].wino, "layer %d made its own", i);
            }
        }
    int lent = 0;
    for (int i = 0; i < src->n_layers; i++)
        lent += s[0]->layers[i].wino_lent && s[0]->layers[i].wino_lent == src->layers[i].wino;
    ck_assert_int_eq(lent, 3); /* the three 'same' 3x3 layers with more than one input channel */
    fer_model_free(s[0]);
    fer_model_free(s[1]);
    fer_model_free(src);
    free(x);
}
END_TEST

/* The paper CNN with its shipped weights (or Glorot ones without them):
 * predict within 1e-4 of the direct path on 48x48 images, batch 1 and 9. */
START_TEST(paper_cnn_close_to_direct)
{
    fer_model *m = NULL;
    char path[512];
    snprintf(path, sizeof path, "weights/fer-7class.safetensors");
    if (access(path, R_OK) != 0 || fer_model_load(path, &m, NULL) != FER_OK)
        ck_assert(fer_model_paper_cnn(7, NULL, 8, &m, NULL) == FER_OK);
    enum { N = 9 };
    float *x = uniform_batch(6, (size_t)N * 48 * 48, 0, 1);
    float want[N * 7], got[N * 7], one[7];
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert(fer_model_set_threads(m, threads, NULL) == FER_OK);
        direct_probs(m, x, N, want);
        ck_assert(fer_model_predict(m, x, N, got, NULL) == FER_OK);
        float d = tu_max_abs_diff(want, got, N * 7);
        printf("paper CNN, %d thread(s): max |winograd - direct| over %d images %.3g\n", threads, N,
               d);
        ck_assert_msg(d < 1e-4f, "threads %d: %g", threads, d);
        ck_assert(fer_model_predict(m, x + 4 * 48 * 48, 1, one, NULL) == FER_OK);
        ck_assert(tu_max_abs_diff(one, got + 4 * 7, 7) < 1e-4f);
    }
    free(x);
    fer_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winograd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, odd_shapes);
    tcase_add_test(tc, many_tiles);
    tcase_add_test(tc, cnn_shapes);
    tcase_add_test(tc, layer_choice);
    tcase_add_test(tc, predict_matches_direct);
    tcase_add_test(tc, training_matches_direct);
    tcase_add_test(tc, weights_change_is_seen);
    tcase_add_test(tc, shared_models_borrow_the_transformed_weights);
    tcase_add_test(tc, paper_cnn_close_to_direct);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
