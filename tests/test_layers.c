/* The layers' fast paths (direct one-channel convolution, fused ReLU
 * backward, reused scratch, gradients written over the input, 2x2 pooling,
 * small-batch dense, in-place dropout) against plain double-precision loops, forward and backward, on
 * odd shapes and for 1 to 3 threads. */
#include "testutil.h"

#include "nn/model.h"

typedef struct layer_case {
    fer_layer l;
    fer_pool *pool;
    float **scratch;
    int threads;
} layer_case;

static void case_open(layer_case *c, int threads, size_t scratch_floats)
{
    ck_assert(fer_pool_new(threads, &c->pool, NULL) == FER_OK);
    c->threads = threads;
    c->scratch = calloc((size_t)threads, sizeof *c->scratch);
    for (int t = 0; t < threads; t++)
        c->scratch[t] = fer_aligned_alloc((scratch_floats ? scratch_floats : 1) * sizeof(float));
}

static void case_drop_exec(layer_case *c)
{
    for (int t = 0; t < c->threads; t++)
        fer_aligned_free(c->scratch[t]);
    free(c->scratch);
    fer_pool_free(c->pool);
}

static void case_close(layer_case *c)
{
    case_drop_exec(c);
    fer_tensor_free(&c->l.w);
    fer_tensor_free(&c->l.b);
    fer_tensor_free(&c->l.dw);
    fer_tensor_free(&c->l.db);
}

static fer_exec case_exec(layer_case *c, int n)
{
    fer_exec e = {.pool = c->pool, .threads = c->threads, .scratch = c->scratch, .n = n, .train = 1};
    return e;
}

static void alloc_params(fer_layer *l, int nd, const int *wshape, fer_rng *r)
{
    ck_assert(fer_tensor_alloc(&l->w, nd, wshape, NULL) == FER_OK);
    ck_assert(fer_tensor_alloc(&l->dw, nd, wshape, NULL) == FER_OK);
    ck_assert(fer_tensor_alloc(&l->b, 1, &l->oc, NULL) == FER_OK);
    ck_assert(fer_tensor_alloc(&l->db, 1, &l->oc, NULL) == FER_OK);
    tu_fill_uniform(r, l->w.data, l->w.size, -0.5f, 0.5f);
    tu_fill_uniform(r, l->b.data, l->b.size, -0.3f, 0.3f);
}

static float *rand_floats(fer_rng *r, size_t n, float lo, float hi)
{
    float *p = fer_aligned_alloc(n * sizeof *p);
    tu_fill_uniform(r, p, n, lo, hi);
    return p;
}

/* Worst |a - b| relative to max(1, |b|). */
static double rel_diff(const float *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* ------------------------------------------------------------ conv */

static float conv_in(const fer_layer *l, const float *x, int c, int iy, int ix)
{
    if (iy < 0 || iy >= l->ih || ix < 0 || ix >= l->iw)
        return 0;
    return x[((size_t)c * l->ih + iy) * l->iw + ix];
}

/* y, then (from dy) dW, db and dx of one batch, in double. */
static void conv_plain(const fer_layer *l, int n, const float *x, const float *dy, double *y,
                       double *dw, double *db, double *dx)
{
    size_t in = fer_layer_in_size(l), out = fer_layer_out_size(l);
    memset(dw, 0, l->w.size * sizeof *dw);
    memset(db, 0, (size_t)l->oc * sizeof *db);
    memset(dx, 0, n * in * sizeof *dx);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < l->oc; o++)
            for (int oy = 0; oy < l->oh; oy++)
                for (int ox = 0; ox < l->ow; ox++) {
                    size_t yo = i * out + ((size_t)o * l->oh + oy) * l->ow + ox;
                    double s = l->b.data[o];
                    for (int c = 0; c < l->ic; c++)
                        for (int ky = 0; ky < l->k; ky++)
                            for (int kx = 0; kx < l->k; kx++)
                                s += (double)l->w.data[((o * l->ic + c) * l->k + ky) * l->k + kx] *
                                     conv_in(l, x + i * in, c, oy + ky - l->pad, ox + kx - l->pad);
                    int relu = l->act == FER_ACT_RELU;
                    y[yo] = relu && s < 0 ? 0 : s;
                    double g = relu && !(y[yo] > 0) ? 0 : dy[yo];
                    db[o] += g;
                    for (int c = 0; c < l->ic; c++)
                        for (int ky = 0; ky < l->k; ky++)
                            for (int kx = 0; kx < l->k; kx++) {
                                int iy = oy + ky - l->pad, ix = ox + kx - l->pad;
                                size_t wi = ((size_t)(o * l->ic + c) * l->k + ky) * l->k + kx;
                                dw[wi] += g * conv_in(l, x + i * in, c, iy, ix);
                                if (iy >= 0 && iy < l->ih && ix >= 0 && ix < l->iw)
                                    dx[i * in + ((size_t)c * l->ih + iy) * l->iw + ix] +=
                                        g * l->w.data[wi];
                            }
                }
}

/* ih x iw input, k x k kernel, `pad` before, output oh x ow (so the padding
 * after is whatever makes it fit). */
static void check_conv(int ic, int ih, int iw, int oc, int k, int pad, int oh, int ow, int act,
                       int n, int threads)
{
    layer_case c = {.l = {.ops = &fer_conv_ops, .ic = ic, .ih = ih, .iw = iw, .oc = oc, .oh = oh,
                          .ow = ow, .k = k, .pad = pad, .act = act}};
    fer_layer *l = &c.l;
    fer_rng r;
    fer_rng_seed(&r, (uint64_t)(ic * 1000 + k * 100 + oh + threads));
    int wshape[4] = {oc, ic, k, k};
    alloc_params(l, 4, wshape, &r);
    size_t in = n * fer_layer_in_size(l), out = n * fer_layer_out_size(l);
    float *x = rand_floats(&r, in, -1, 1), *dy = rand_floats(&r, out, -1, 1);
    float *y = fer_aligned_alloc(out * sizeof *y), *dx = fer_aligned_alloc(in * sizeof *dx);
    /* inference within the forward scratch (the sanitizer build checks the
     * bound), then the same again with backward's */
    ck_assert(l->ops->scratch(l, 0) <= l->ops->scratch(l, 1));
    case_open(&c, threads, l->ops->scratch(l, 0));
    fer_exec ei = case_exec(&c, n);
    ei.train = 0;
    l->ops->forward(l, &ei, (const float *const[]){x}, y);
    case_drop_exec(&c);
    float *yi = fer_aligned_alloc(out * sizeof *yi);
    memcpy(yi, y, out * sizeof *yi);
    case_open(&c, threads, l->ops->scratch(l, 1));
    double *yr = malloc(out * sizeof *yr), *dwr = malloc(l->w.size * sizeof *dwr);
    double *dbr = malloc((size_t)oc * sizeof *dbr), *dxr = malloc(in * sizeof *dxr);
    double *dyr = malloc(out * sizeof *dyr);
    for (size_t i = 0; i < out; i++)
        dyr[i] = dy[i];
    conv_plain(l, n, x, dy, yr, dwr, dbr, dxr);
    (void)dyr;
    fer_exec e = case_exec(&c, n);
    l->ops->forward(l, &e, (const float *const[]){x}, y);
    ck_assert_msg(rel_diff(y, yr, out) < 1e-5, "conv ic %d k %d forward: %g", ic, k,
                  rel_diff(y, yr, out));
    ck_assert_msg(!memcmp(y, yi, out * sizeof *y), "conv ic %d k %d: inference differs", ic, k);
    fer_aligned_free(yi);
    l->ops->backward(l, &e, (const float *const[]){x}, y, dy, (float *const[]){dx});
    ck_assert_msg(rel_diff(l->dw.data, dwr, l->w.size) < 1e-4, "conv ic %d k %d pad %d dW: %g", ic,
                  k, pad, rel_diff(l->dw.data, dwr, l->w.size));
    ck_assert_msg(rel_diff(l->db.data, dbr, (size_t)oc) < 1e-4, "conv db");
    ck_assert_msg(rel_diff(dx, dxr, in) < 1e-4, "conv ic %d k %d dx: %g", ic, k,
                  rel_diff(dx, dxr, in));
    /* the same gradient written over (a copy of) the input, with the mask
     * of the input's sign applied, as for a ReLU output */
    float *xdx = fer_aligned_alloc(in * sizeof *xdx);
    memcpy(xdx, x, in * sizeof *xdx);
    l->ops->backward_into(l, &e, xdx, y, dy, 1);
    for (size_t i = 0; i < in; i++)
        dxr[i] = x[i] > 0 ? dxr[i] : 0;
    ck_assert_msg(rel_diff(xdx, dxr, in) < 1e-4, "conv ic %d k %d dx in place", ic, k);
    ck_assert_msg(rel_diff(l->dw.data, dwr, l->w.size) < 1e-4, "conv dW in place");
    fer_aligned_free(xdx);
    fer_aligned_free(x);
    fer_aligned_free(dy);
    fer_aligned_free(y);
    fer_aligned_free(dx);
    free(yr);
    free(dwr);
    free(dbr);
    free(dxr);
    free(dyr);
    case_close(&c);
}

START_TEST(conv_one_channel_direct)
{
    for (int threads = 1; threads <= 3; threads++) {
        check_conv(1, 13, 11, 5, 3, 0, 11, 9, FER_ACT_RELU, 4, threads);   /* valid */
        check_conv(1, 9, 14, 3, 3, 1, 9, 14, FER_ACT_NONE, 3, threads);    /* same */
        check_conv(1, 8, 7, 4, 4, 1, 8, 7, FER_ACT_RELU, 2, threads);      /* same, even k */
        check_conv(1, 5, 23, 7, 5, 2, 5, 23, FER_ACT_RELU, 5, threads);    /* wide row */
        check_conv(1, 1, 1, 2, 1, 0, 1, 1, FER_ACT_RELU, 1, threads);      /* 1x1 */
        check_conv(1, 6, 6, 2, 15, 7, 6, 6, FER_ACT_RELU, 2, threads);    /* padding > input */
        check_conv(1, 10, 33, 11, 3, 1, 10, 33, FER_ACT_RELU, 2, threads); /* 8 + 3 filters */
    }
}
END_TEST

START_TEST(conv_multi_channel_gemm)
{
    for (int threads = 1; threads <= 3; threads++) {
        check_conv(3, 13, 11, 5, 3, 0, 11, 9, FER_ACT_RELU, 4, threads);
        check_conv(2, 9, 14, 3, 4, 1, 9, 14, FER_ACT_NONE, 3, threads);
        check_conv(7, 6, 5, 9, 3, 1, 6, 5, FER_ACT_RELU, 1, threads);
        check_conv(2, 6, 6, 2, 15, 7, 6, 6, FER_ACT_RELU, 2, threads);
        /* a larger plane (272 pixels), and 21 small images (the input
         * gradient by Winograd in several chunks, split across threads) */
        check_conv(4, 17, 16, 6, 3, 1, 17, 16, FER_ACT_RELU, 3, threads);
        check_conv(5, 4, 4, 8, 3, 1, 4, 4, FER_ACT_RELU, 21, threads);
    }
}
END_TEST

/* ------------------------------------------------------------ maxpool */

START_TEST(maxpool_matches_plain)
{
    /* (size, stride, ih, iw): the 2x2 fast path, odd edges, overlap */
    static const int shapes[][4] = {{2, 2, 10, 8}, {2, 2, 7, 9}, {3, 2, 9, 8}, {2, 1, 5, 6},
                                    {3, 3, 7, 7}};
    for (int threads = 1; threads <= 3; threads += 2)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int size = shapes[s][0], stride = shapes[s][1], ih = shapes[s][2], iw = shapes[s][3];
            enum { N = 3, C = 5 };
            layer_case c = {.l = {.ops = &fer_maxpool_ops, .ic = C, .ih = ih, .iw = iw, .oc = C,
                                  .size = size, .stride = stride}};
            fer_layer *l = &c.l;
            l->oh = (ih - size) / stride + 1;
            l->ow = (iw - size) / stride + 1;
            case_open(&c, threads, 0);
            fer_rng r;
            fer_rng_seed(&r, s + 1);
            size_t in = N * fer_layer_in_size(l), out = N * fer_layer_out_size(l);
            float *x = rand_floats(&r, in, -1, 1), *dy = rand_floats(&r, out, -1, 1);
            float *y = fer_aligned_alloc(out * sizeof *y), *dx = fer_aligned_alloc(in * sizeof *dx);
            l->argmax = fer_aligned_alloc(out * sizeof *l->argmax);
            fer_exec e = case_exec(&c, N), ei = e;
            float *yi = fer_aligned_alloc(out * sizeof *yi);
            uint16_t *am = l->argmax;
            l->argmax = NULL; /* inference: no argmax */
            ei.train = 0;
            l->ops->forward(l, &ei, (const float *const[]){x}, yi);
            l->argmax = am;
            l->ops->forward(l, &e, (const float *const[]){x}, y);
            ck_assert_msg(memcmp(y, yi, out * sizeof *y) == 0, "pool %zu inference", s);
            fer_aligned_free(yi);
            l->ops->backward(l, &e, (const float *const[]){NULL}, NULL, dy, (float *const[]){dx});
            double *dxr = calloc(in, sizeof *dxr);
            for (int i = 0; i < N; i++)
                for (int ch = 0; ch < C; ch++)
                    for (int oy = 0; oy < l->oh; oy++)
                        for (int ox = 0; ox < l->ow; ox++) {
                            const float *xc = x + ((size_t)i * C + ch) * ih * iw;
                            int best = oy * stride * iw + ox * stride; /* first maximum wins */
                            for (int wy = 0; wy < size; wy++)
                                for (int wx = 0; wx < size; wx++) {
                                    int p = (oy * stride + wy) * iw + ox * stride + wx;
                                    best = xc[p] > xc[best] ? p : best;
                                }
                            size_t o = (((size_t)i * C + ch) * l->oh + oy) * l->ow + ox;
                            ck_assert_msg(y[o] == xc[best], "pool %zu forward", s);
                            dxr[((size_t)i * C + ch) * ih * iw + best] += dy[o];
                        }
            ck_assert_msg(rel_diff(dx, dxr, in) < 1e-6, "pool %zu backward", s);
            free(dxr);
            fer_aligned_free(x);
            fer_aligned_free(dy);
            fer_aligned_free(y);
            fer_aligned_free(dx);
            fer_aligned_free(l->argmax);
            case_close(&c);
        }
}
END_TEST

/* ------------------------------------------------------------ dense */

START_TEST(dense_small_and_large_batches)
{
    /* 1..3 rows take the streaming path, 9 the GEMM */
    static const int batches[] = {1, 2, 3, 9};
    for (int threads = 1; threads <= 3; threads += 2)
        for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
            int n = batches[bi], in = 37, units = 71;
            layer_case c = {.l = {.ops = &fer_dense_ops, .ic = in, .ih = 1, .iw = 1, .oc = units,
                                  .oh = 1, .ow = 1, .act = FER_ACT_RELU}};
            fer_layer *l = &c.l;
            fer_rng r;
            fer_rng_seed(&r, bi + 10);
            int wshape[2] = {in, units};
            alloc_params(l, 2, wshape, &r);
            case_open(&c, threads, 0);
            float *x = rand_floats(&r, (size_t)n * in, -1, 1);
            float *y = fer_aligned_alloc((size_t)n * units * sizeof *y);
            fer_exec e = case_exec(&c, n);
            l->ops->forward(l, &e, (const float *const[]){x}, y);
            for (int i = 0; i < n; i++)
                for (int o = 0; o < units; o++) {
                    double s = l->b.data[o];
                    for (int k = 0; k < in; k++)
                        s += (double)x[i * in + k] * l->w.data[k * units + o];
                    s = s < 0 ? 0 : s;
                    ck_assert_msg(fabs(y[i * units + o] - s) < 1e-5 * (1 + fabs(s)),
                                  "dense n %d row %d unit %d", n, i, o);
                }
            fer_aligned_free(x);
            fer_aligned_free(y);
            case_close(&c);
        }
}
END_TEST

/* --------------------------------------------------- whole-model paths */

/* Training in place (dropout over its input, gradients in shared buffers)
 * must give the same parameters as a second model given the same steps, and
 * the paper CNN's predictions must not depend on the batch split. */
START_TEST(paper_cnn_batch_of_one_equals_batch)
{
    fer_model *m;
    ck_assert(fer_model_paper_cnn(7, NULL, 3, &m, NULL) == FER_OK);
    enum { N = 5 };
    fer_rng r;
    fer_rng_seed(&r, 4);
    float *x = rand_floats(&r, (size_t)N * 48 * 48, 0, 1);
    float all[N * 7], one[7];
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert(fer_model_set_threads(m, threads, NULL) == FER_OK);
        ck_assert(fer_model_predict(m, x, N, all, NULL) == FER_OK);
        for (int i = 0; i < N; i++) {
            ck_assert(fer_model_predict(m, x + (size_t)i * 48 * 48, 1, one, NULL) == FER_OK);
            for (int k = 0; k < 7; k++)
                ck_assert_msg(fabsf(one[k] - all[i * 7 + k]) < 1e-5f, "image %d class %d", i, k);
        }
    }
    fer_aligned_free(x);
    fer_model_free(m);
}
END_TEST

/* A 2x2 pool after a ReLU convolution writes its gradient over the
 * convolution's output with the mask fused; after a separate ReLU layer it
 * takes the plain path. The two models are the same function, so one
 * training step (dropout on, same masks) must leave the same parameters. */
START_TEST(pool_gradient_in_place_equals_plain)
{
    static const char *const arch[2] = {
        "{\"input\":[2,11,10],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
        "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
        "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},{\"type\":\"dropout\",\"rate\":0.3},"
        "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}",
        "{\"input\":[2,11,10],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
        "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":3,\"padding\":\"same\"},{\"type\":\"relu\"},"
        "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},{\"type\":\"dropout\",\"rate\":0.3},"
        "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}"};
    enum { N = 6 };
    fer_rng r;
    fer_rng_seed(&r, 21);
    float *x = rand_floats(&r, (size_t)N * 2 * 11 * 10, -1, 1);
    int y[N];
    for (int i = 0; i < N; i++)
        y[i] = (int)fer_rng_below(&r, 3);
    fer_model *m[2];
    fer_optim *opt[2];
    for (int k = 0; k < 2; k++) {
        fer_error err = {0};
        ck_assert_msg(fer_model_from_json(arch[k], 5, &m[k], &err) == FER_OK, "%s", err.msg);
        ck_assert(fer_model_set_threads(m[k], 2, NULL) == FER_OK);
        ck_assert(tu_adam(m[k], 1e-2f, 0, &opt[k], NULL) == FER_OK);
        fer_rng dr;
        fer_rng_seed(&dr, 8);
        float loss;
        ck_assert(fer_model_train_step(m[k], opt[k], &dr, x, y, N, NULL, &loss, NULL, NULL) ==
                  FER_OK);
    }
    int np = fer_model_param_count(m[0]);
    ck_assert_int_eq(np, fer_model_param_count(m[1]));
    for (int p = 0; p < np; p++) {
        fer_tensor *ga, *gb;
        fer_tensor *a = fer_model_param(m[0], p, &ga, NULL, 0);
        fer_tensor *b = fer_model_param(m[1], p, &gb, NULL, 0);
        ck_assert_msg(tu_max_abs_diff(ga->data, gb->data, ga->size) < 1e-6f, "param %d gradient", p);
        ck_assert_msg(tu_max_abs_diff(a->data, b->data, a->size) < 1e-6f, "param %d value", p);
    }
    for (int k = 0; k < 2; k++) {
        fer_optim_free(opt[k]);
        fer_model_free(m[k]);
    }
    fer_aligned_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("fast paths");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, conv_one_channel_direct);
    tcase_add_test(tc, conv_multi_channel_gemm);
    tcase_add_test(tc, maxpool_matches_plain);
    tcase_add_test(tc, dense_small_and_large_batches);
    tcase_add_test(tc, paper_cnn_batch_of_one_equals_batch);
    tcase_add_test(tc, pool_gradient_in_place_equals_plain);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
