/* Winograd F(m x m, 3 x 3) convolution (winograd.h): the weight
 * transform, the block driver (input transform, alpha^2 GEMMs on the
 * micro-kernels of gemm_*.c, output transform), the portable transforms,
 * and the conv layer's use of it (the transformed weights kept in the
 * layer, the tiles split across threads; the weight and input gradients in
 * training). */
#include <stdlib.h>
#include <string.h>

#include "nn/winograd.h"

/* ---- the transforms, one dimension at a time (Lavin & Gray 2016; points
 * 0, 1, -1 for F(2,3), 0, 1, -1, 2, -2 for F(4,3), and infinity):
 *   F(2,3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *           G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1];
 *   F(4,3): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *                  0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *           G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 *                1/24 -1/12 1/6; 0 0 1],
 *           A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 * B^T d (input) and A^T m (output) are below as the portable path's lane
 * loops, and in winograd_x86.h as vectors; G g (weights) here. The 2-D
 * transforms apply them along rows, then along columns. */

/* G g in double (the weights are transformed once, so the extra precision
 * costs nothing), for 8 output channels at once (the lanes, innermost so
 * that the loops vectorise): 3 taps g[0], g[s], g[2s] -> alpha values
 * u[0], u[s], ..., each an array of 8 lanes. */
enum { GL = WINO_OCP };

static inline void g2(const double (*g)[GL], double (*u)[GL], int s)
{
    for (int i = 0; i < GL; i++) {
        double g0 = g[0][i], g1 = g[s][i], g2v = g[2 * s][i];
        u[0][i] = g0;
        u[s][i] = (g0 + g1 + g2v) / 2;
        u[2 * s][i] = (g0 - g1 + g2v) / 2;
        u[3 * s][i] = g2v;
    }
}

static inline void g4(const double (*g)[GL], double (*u)[GL], int s)
{
    for (int i = 0; i < GL; i++) {
        double g0 = g[0][i], g1 = g[s][i], g2v = g[2 * s][i];
        u[0][i] = g0 / 4;
        u[s][i] = -(g0 + g1 + g2v) / 6;
        u[2 * s][i] = -(g0 - g1 + g2v) / 6;
        u[3 * s][i] = g0 / 24 + g1 / 12 + g2v / 6;
        u[4 * s][i] = g0 / 24 - g1 / 12 + g2v / 6;
        u[5 * s][i] = g2v;
    }
}

/* ---- shapes */

static int round_up(int v, int to) { return (v + to - 1) / to * to; }

int fer_wino_setup(fer_wino_conv *c, int m, int ic, int ih, int iw, int oc, int pad, int relu)
{
    if ((m != 2 && m != 4) || ic < 1 || oc < 1 || pad < 0 || pad > 1)
        return 0;
    int oh = ih + 2 * pad - 2, ow = iw + 2 * pad - 2;
    if (oh < 1 || ow < 1)
        return 0;
    *c = (fer_wino_conv){.m = m, .ic = ic, .ih = ih, .iw = iw, .oc = oc, .oh = oh, .ow = ow,
                         .pad = pad, .relu = relu, .tiles_y = (oh + m - 1) / m,
                         .tiles_x = (ow + m - 1) / m};
    c->nb = WINO_NB;
    return 1;
}

/* Floats from one channel's block of V or M to the next: alpha^2 rows of
 * WINO_NB, plus one cache line so that the rows the GEMM reads (one per
 * channel) do not all fall in the same L1 sets. */
static size_t chan_stride(const fer_wino_conv *c) { return (size_t)(c->m + 2) * (c->m + 2) * WINO_NB + 16; }

size_t fer_wino_scratch_floats(const fer_wino_conv *c)
{
    return (size_t)(c->ic + c->oc) * chan_stride(c);
}

size_t fer_wino_u_floats(const fer_wino_conv *c)
{
    return (size_t)(c->m + 2) * (c->m + 2) * round_up(c->oc, WINO_OCP) * c->ic;
}

/* ---- paths: the GEMM's micro-kernel and this file's transforms */

enum { K_REF, K_C, K_AVX2, K_AVX512 };

static const fer_gemm_isa *gemm_isa(int kernel)
{
    return kernel == K_C ? &fer_gemm_isa_c
         : kernel == K_AVX2 ? &fer_gemm_isa_avx2
         : kernel == K_AVX512 ? &fer_gemm_isa_avx512 : NULL;
}

static const fer_wino_isa *wino_isa(int kernel)
{
    return kernel == K_C ? &fer_wino_isa_c
         : kernel == K_AVX2 ? &fer_wino_isa_avx2
         : kernel == K_AVX512 ? &fer_wino_isa_avx512 : NULL;
}

int fer_wino_supported(int kernel)
{
    return gemm_isa(kernel) && fer_gemm_kernel_supported(kernel);
}

/* U[t][o / MR][ch][o % MR] = (G g G^T)[t] of w[o][ch] for the output
 * channels o0 .. o0 + 7; zero for o >= oc. */
FER_VECTOR_CLONES
static void weights_group(int m, int mr, const fer_wino_conv *c, const float *w, float *u, int o0)
{
    int alpha = m + 2, T = alpha * alpha, ic = c->ic;
    size_t tstride = (size_t)round_up(c->oc, WINO_OCP) * ic, at[GL];
    for (int i = 0; i < GL; i++) /* lane i's place in its panel, channel 0 */
        at[i] = (size_t)((o0 + i) / mr) * mr * ic + (size_t)(o0 + i) % mr;
    for (int ch = 0; ch < ic; ch++) {
        double g[9][GL], tmp[6 * 3][GL], ut[6 * 6][GL];
        for (int k = 0; k < 9; k++)
            for (int i = 0; i < GL; i++)
                g[k][i] = o0 + i >= c->oc ? 0
                        : c->turned ? w[((size_t)ch * c->oc + o0 + i) * 9 + 8 - k]
                                    : w[((size_t)(o0 + i) * ic + ch) * 9 + k];
        for (int kx = 0; kx < 3; kx++) { /* columns: G g, alpha x 3 */
            if (m == 2)
                g2(g + kx, tmp + kx, 3);
            else
                g4(g + kx, tmp + kx, 3);
        }
        for (int r = 0; r < alpha; r++) { /* rows: (G g) G^T, alpha x alpha */
            if (m == 2)
                g2(tmp + r * 3, ut + r * alpha, 1);
            else
                g4(tmp + r * 3, ut + r * alpha, 1);
        }
        for (int t = 0; t < T; t++)
            for (int i = 0; i < GL; i++)
                u[t * tstride + at[i] + (size_t)ch * mr] = (float)ut[t][i];
    }
}

void fer_wino_weights(int kernel, const fer_wino_conv *c, const float *w, float *u, int o0, int o1)
{
    const fer_gemm_isa *gi = gemm_isa(kernel);
    int mr = gi ? gi->mr : WINO_OCP;
    for (int o = o0; o < o1; o += GL)
        weights_group(c->m, mr, c, w, u, o);
}

/* ---- tiles and edges */

/* The padded patch of an edge tile, channel ch, for the portable path:
 * alpha rows of 8 floats (zeros outside the input and in the last 8 - alpha
 * columns). */
static void wino_patch(const fer_wino_conv *c, const fer_wino_group *g, int lane, int ch,
                       float *patch)
{
    int alpha = c->m + 2, py = g->py[lane], px = g->px[lane];
    int r0 = py < 0 ? -py : 0, r1 = c->ih - py < alpha ? c->ih - py : alpha;
    int s0 = px < 0 ? -px : 0, s1 = c->iw - px < alpha ? c->iw - px : alpha;
    memset(patch, 0, (size_t)alpha * 8 * sizeof *patch);
    const float *x = g->x[lane] + (size_t)ch * c->ih * c->iw;
    for (int r = r0; r < r1; r++)
        for (int s = s0; s < s1; s++)
            patch[r * 8 + s] = x[(size_t)(py + r) * c->iw + px + s];
}

void fer_wino_store_edge(const fer_wino_conv *c, const fer_wino_group *g, int lane, int o,
                         const float *tile)
{
    int rows = c->oh - g->oy[lane], cols = c->ow - g->ox[lane];
    rows = rows < c->m ? rows : c->m;
    cols = cols < c->m ? cols : c->m;
    float *y = g->y[lane] + ((size_t)o * c->oh + g->oy[lane]) * c->ow + g->ox[lane];
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < cols; s++)
            y[(size_t)r * c->ow + s] = tile[r * 4 + s];
}

/* The group of tiles tile0 .. tile0 + n - 1 (counted over all images),
 * padded to `lanes` by repeating the last one. */
static void make_group(const fer_wino_conv *c, const float *x, float *y, long tile0, int n,
                       int lanes, fer_wino_group *g)
{
    long tpi = (long)c->tiles_y * c->tiles_x;
    size_t in_sz = (size_t)c->ic * c->ih * c->iw, out_sz = (size_t)c->oc * c->oh * c->ow;
    g->n = n;
    g->in_edge = g->out_edge = 0;
    for (int i = 0; i < lanes; i++) {
        long t = tile0 + (i < n ? i : n - 1);
        long img = t / tpi, local = t % tpi;
        int ty = (int)(local / c->tiles_x), tx = (int)(local % c->tiles_x);
        g->x[i] = x + (size_t)img * in_sz;
        g->y[i] = y + (size_t)img * out_sz;
        g->oy[i] = ty * c->m, g->ox[i] = tx * c->m;
        g->py[i] = g->oy[i] - c->pad, g->px[i] = g->ox[i] - c->pad;
        int alpha = c->m + 2;
        if (g->py[i] < 0 || g->px[i] < 0 || g->py[i] + alpha > c->ih || g->px[i] + alpha > c->iw)
            g->in_edge |= 1u << i;
        if (g->oy[i] + c->m > c->oh || g->ox[i] + c->m > c->ow)
            g->out_edge |= 1u << i;
    }
}

/* ---- the driver */

void fer_wino_run(int kernel, const fer_wino_conv *c, const float *u, const float *bias,
                  const float *x, float *y, long t0, long t1, float *scratch)
{
    const fer_gemm_isa *gi = gemm_isa(kernel);
    const fer_wino_isa *wi = wino_isa(kernel);
    int T = (c->m + 2) * (c->m + 2), lanes = wi->lanes, mr = gi->mr, nr = gi->nr;
    size_t cs = chan_stride(c), tstride = (size_t)round_up(c->oc, WINO_OCP) * c->ic;
    float *v = scratch, *mm = scratch + (size_t)c->ic * cs;
    fer_wino_group g;
    for (long b0 = t0; b0 < t1; b0 += c->nb) {
        int nb = t1 - b0 < c->nb ? (int)(t1 - b0) : c->nb;
        for (int j0 = 0; j0 < nb; j0 += lanes) {
            make_group(c, x, y, b0 + j0, nb - j0 < lanes ? nb - j0 : lanes, lanes, &g);
            wi->input(c, &g, v + j0, cs);
        }
        /* columns the micro-kernels read past the last group: zeros */
        int done = round_up(nb, lanes), read = round_up(nb, 16);
        for (int ch = 0; done < read && ch < c->ic; ch++)
            for (int t = 0; t < T; t++)
                memset(v + ch * cs + (size_t)t * WINO_NB + done, 0,
                       (size_t)(read - done) * sizeof *v);
        /* the alpha^2 products: each V_t panel (ic x nr) stays in L1 while
         * every oc panel of U_t passes over it */
        for (int t = 0; t < T; t++) {
            const float *ut = u + t * tstride;
            for (int j0 = 0; j0 < nb; j0 += nr) {
                int n = nb - j0 < nr ? nb - j0 : nr;
                for (int q = 0; q < c->oc; q += mr)
                    gi->micro(c->ic, ut + (size_t)q * c->ic, v + (size_t)t * WINO_NB + j0, (int)cs,
                              mm + q * cs + (size_t)t * WINO_NB + j0, (int)cs,
                              c->oc - q < mr ? c->oc - q : mr, n, 0);
            }
        }
        for (int j0 = 0; j0 < nb; j0 += lanes) {
            make_group(c, x, y, b0 + j0, nb - j0 < lanes ? nb - j0 : lanes, lanes, &g);
            wi->output(c, &g, mm + j0, cs, bias, 0, c->oc);
        }
    }
}

/* ---- the portable transforms: 8 tiles at a time, each value an array of
 * 8 lanes, the lane loops innermost so that the compiler vectorises them
 * (SSE2 on baseline x86-64, NEON on AArch64). d, v: lanes of element k at
 * d + k * ds, v + k * vs. */

enum { CL = 8 };

static inline void bt2_lanes(const float *restrict d, size_t ds, float *restrict v, size_t vs)
{
    for (int i = 0; i < CL; i++) {
        float d0 = d[i], d1 = d[ds + i], d2 = d[2 * ds + i], d3 = d[3 * ds + i];
        v[i] = d0 - d2, v[vs + i] = d1 + d2, v[2 * vs + i] = d2 - d1, v[3 * vs + i] = d1 - d3;
    }
}

static inline void bt4_lanes(const float *restrict d, size_t ds, float *restrict v, size_t vs)
{
    for (int i = 0; i < CL; i++) {
        float d0 = d[i], d1 = d[ds + i], d2 = d[2 * ds + i], d3 = d[3 * ds + i];
        float d4 = d[4 * ds + i], d5 = d[5 * ds + i];
        float t0 = d4 - 4 * d2, t1 = d3 - 4 * d1, t2 = d4 - d2, t3 = 2 * (d3 - d1);
        v[i] = 4 * d0 - 5 * d2 + d4;
        v[vs + i] = t0 + t1, v[2 * vs + i] = t0 - t1;
        v[3 * vs + i] = t2 + t3, v[4 * vs + i] = t2 - t3;
        v[5 * vs + i] = 4 * d1 - 5 * d3 + d5;
    }
}

static inline void at2_lanes(const float *restrict m, size_t ms, float *restrict y, size_t ys)
{
    for (int i = 0; i < CL; i++) {
        float m1 = m[ms + i], m2 = m[2 * ms + i];
        y[i] = m[i] + m1 + m2;
        y[ys + i] = m1 - m2 - m[3 * ms + i];
    }
}

static inline void at4_lanes(const float *restrict m, size_t ms, float *restrict y, size_t ys)
{
    for (int i = 0; i < CL; i++) {
        float a = m[ms + i] + m[2 * ms + i], b = m[ms + i] - m[2 * ms + i];
        float c = m[3 * ms + i] + m[4 * ms + i], d = m[3 * ms + i] - m[4 * ms + i];
        y[i] = m[i] + a + c;
        y[ys + i] = b + 2 * d;
        y[2 * ys + i] = a + 4 * c;
        y[3 * ys + i] = b + 8 * d + m[5 * ms + i];
    }
}

/* m is a constant in each of the two copies (input_c below). */
static inline void input_c_m(const int m, const fer_wino_conv *c, const fer_wino_group *g,
                             float *v, size_t cs)
{
    const int alpha = m + 2, ic = c->ic;
    const size_t plane = (size_t)c->ih * c->iw, iw = (size_t)c->iw;
    const float *base[CL];
    for (int i = 0; i < CL; i++)
        base[i] = g->x[i] + (size_t)g->py[i] * c->iw + g->px[i];
    for (int ch = 0; ch < ic; ch++) {
        float d[6][6][CL], w[6][6][CL], patch[6 * 8];
        for (int i = 0; i < CL; i++) {
            const float *p = base[i] + ch * plane;
            size_t st = iw;
            if (g->in_edge >> i & 1) {
                wino_patch(c, g, i, ch, patch);
                p = patch, st = 8;
            }
            for (int r = 0; r < alpha; r++)
                for (int s = 0; s < alpha; s++)
                    d[r][s][i] = p[r * st + s];
        }
        float *vc = v + ch * cs;
        for (int r = 0; r < alpha; r++) { /* rows: w[r][.] = B^T d[r][.] */
            if (m == 2)
                bt2_lanes(d[r][0], CL, w[r][0], CL);
            else
                bt4_lanes(d[r][0], CL, w[r][0], CL);
        }
        for (int s = 0; s < alpha; s++) { /* columns: V[.][s] = B^T w[.][s] */
            if (m == 2)
                bt2_lanes(w[0][s], 6 * CL, vc + (size_t)s * WINO_NB, (size_t)alpha * WINO_NB);
            else
                bt4_lanes(w[0][s], 6 * CL, vc + (size_t)s * WINO_NB, (size_t)alpha * WINO_NB);
        }
    }
}

static void input_c(const fer_wino_conv *c, const fer_wino_group *g, float *v, size_t cs)
{
    if (c->m == 2)
        input_c_m(2, c, g, v, cs);
    else
        input_c_m(4, c, g, v, cs);
}

static inline void output_c_m(const int m, const fer_wino_conv *c, const fer_wino_group *g,
                              const float *mm, size_t cs, const float *bias, int o0, int o1)
{
    const int alpha = m + 2, relu = c->relu;
    for (int o = o0; o < o1; o++) {
        const float *mo = mm + o * cs;
        float z[6][4][CL], yv[4][4][CL];
        for (int r = 0; r < alpha; r++) { /* rows: z[r][.] = A^T M[r][.] */
            if (m == 2)
                at2_lanes(mo + (size_t)r * alpha * WINO_NB, WINO_NB, z[r][0], CL);
            else
                at4_lanes(mo + (size_t)r * alpha * WINO_NB, WINO_NB, z[r][0], CL);
        }
        for (int s = 0; s < m; s++) { /* columns */
            if (m == 2)
                at2_lanes(z[0][s], 4 * CL, yv[0][s], 4 * CL);
            else
                at4_lanes(z[0][s], 4 * CL, yv[0][s], 4 * CL);
        }
        float b = bias ? bias[o] : 0;
        for (int r = 0; r < m; r++)
            for (int s = 0; s < m; s++)
                for (int i = 0; i < CL; i++) {
                    float val = yv[r][s][i] + b;
                    yv[r][s][i] = relu && !(val > 0) ? 0 : val;
                }
        for (int i = 0; i < g->n; i++) {
            float tile[16];
            for (int r = 0; r < m; r++)
                for (int s = 0; s < m; s++)
                    tile[r * 4 + s] = yv[r][s][i];
            if (g->out_edge >> i & 1) {
                fer_wino_store_edge(c, g, i, o, tile);
                continue;
            }
            float *y = g->y[i] + ((size_t)o * c->oh + g->oy[i]) * c->ow + g->ox[i];
            for (int r = 0; r < m; r++)
                for (int s = 0; s < m; s++)
                    y[(size_t)r * c->ow + s] = tile[r * 4 + s];
        }
    }
}

static void output_c(const fer_wino_conv *c, const fer_wino_group *g, const float *mm, size_t cs,
                     const float *bias, int o0, int o1)
{
    if (c->m == 2)
        output_c_m(2, c, g, mm, cs, bias, o0, o1);
    else
        output_c_m(4, c, g, mm, cs, bias, o0, o1);
}

const fer_wino_isa fer_wino_isa_c = {CL, input_c, output_c};

/* ---- the conv layer's use */

/* Where Winograd pays (measured, docs/gemm.md "Winograd convolution"):
 * 3x3 with at least WINO_MIN_IC input channels (the first layer, one
 * channel, has its own direct kernel) and WINO_MIN_OC filters. F(4x4) needs
 * a call of at least WINO_F4_TILES of its tiles (batch 1 of an 8x8 output
 * has 4: too few columns for the GEMM), and an output that its 4x4 tiles
 * cover without much more waste than 2x2 ones (10x10 needs 12x12 of 4x4
 * tiles, mostly edge tiles: F(2x2) is faster there); else F(2x2). */
enum { WINO_MIN_IC = 8, WINO_MIN_OC = 4, WINO_F4_TILES = 16 };

static int layer_ok(const fer_layer *l)
{
    return l->k == 3 && l->ic >= WINO_MIN_IC && l->oc >= WINO_MIN_OC && l->pad <= 1 &&
           l->oh >= 2 && l->ow >= 2;
}

int fer_winograd_tile(const fer_layer *l, int n)
{
    if (!layer_ok(l))
        return 0;
    long ty4 = (l->oh + 3) / 4, tx4 = (l->ow + 3) / 4, ty2 = (l->oh + 1) / 2, tx2 = (l->ow + 1) / 2;
    long area4 = 16 * ty4 * tx4, area2 = 4 * ty2 * tx2;
    return (long)n * ty4 * tx4 >= WINO_F4_TILES && 4 * area4 <= 5 * area2 ? 4 : 2;
}

static int layer_conv(const fer_layer *l, int m, fer_wino_conv *c)
{
    return m && fer_wino_setup(c, m, l->ic, l->ih, l->iw, l->oc, l->pad, l->act == FER_ACT_RELU);
}

/* The input gradient of a 'same' layer: a 'same' convolution of dy (oc
 * channels) into ic channels with the filters transposed and turned. */
static int dx_ok(const fer_layer *l)
{
    return l->k == 3 && l->pad == 1 && l->oh == l->ih && l->ow == l->iw && l->oc >= WINO_MIN_IC &&
           l->ic >= WINO_MIN_OC && l->ih >= 2 && l->iw >= 2;
}

static int dx_conv(const fer_layer *l, int m, fer_wino_conv *c)
{
    if (!m || !fer_wino_setup(c, m, l->oc, l->oh, l->ow, l->ic, 1, 0))
        return 0;
    c->turned = 1;
    return 1;
}

size_t fer_winograd_scratch(const fer_layer *l)
{
    fer_wino_conv c2, c4;
    if (!layer_ok(l) || !layer_conv(l, 2, &c2) || !layer_conv(l, 4, &c4))
        return 0;
    size_t s2 = fer_wino_scratch_floats(&c2), s4 = fer_wino_scratch_floats(&c4);
    return s2 > s4 ? s2 : s4;
}

/* The layer's transformed weights, each made when first needed, for the
 * weights generation they were made at (fer_layer.weights_gen, which the
 * model moves whenever its parameters may have changed: model.h). */
enum { U_F2, U_F4, U_DX_F2, U_DX_F4, U_SLOTS };
struct fer_wino_cache {
    unsigned gen;
    int kernel[U_SLOTS];  /* GEMM path each U was made for (its MR); -1: none yet */
    float *u[U_SLOTS];    /* forward F(2x2), F(4x4); input gradient F(2x2), F(4x4) */
};

void fer_winograd_release(fer_layer *l)
{
    if (!l->wino)
        return;
    for (int i = 0; i < U_SLOTS; i++)
        fer_aligned_free(l->wino->u[i]);
    free(l->wino);
    l->wino = NULL;
}

typedef struct wino_job {
    const fer_wino_conv *c;
    const fer_exec *e;
    int kernel;
    const float *w, *u, *bias, *x;
    float *uw, *y;
    long tiles, per; /* tiles in all, tiles a unit of the pool's shares */
} wino_job;

static void weights_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const wino_job *j = arg;
    fer_wino_weights(j->kernel, j->c, j->w, j->uw, begin * WINO_OCP, end * WINO_OCP);
}

static void tiles_range(void *arg, int begin, int end, int t)
{
    const wino_job *j = arg;
    long t0 = begin * j->per, t1 = end * j->per < j->tiles ? end * j->per : j->tiles;
    if (t0 < t1)
        fer_wino_run(j->kernel, j->c, j->u, j->bias, j->x, j->y, t0, t1, j->e->scratch[t]);
}

/* The layer's U in `slot` for conv c on path `kernel`, made (across the
 * pool) when missing or made for other weights or another path; NULL
 * without memory. */
static const float *transformed(fer_layer *l, const fer_exec *e, int slot, const fer_wino_conv *c,
                                int kernel)
{
    struct fer_wino_cache *wc = l->wino;
    if (!wc) {
        if (!(wc = calloc(1, sizeof *wc)))
            return NULL;
        l->wino = wc;
        for (int i = 0; i < U_SLOTS; i++)
            wc->kernel[i] = -1;
        wc->gen = l->weights_gen;
    } else if (wc->gen != l->weights_gen) {
        for (int i = 0; i < U_SLOTS; i++)
            wc->kernel[i] = -1;
        wc->gen = l->weights_gen;
    }
    if (!wc->u[slot] && !(wc->u[slot] = fer_aligned_alloc(fer_wino_u_floats(c) * sizeof(float))))
        return NULL;
    if (wc->kernel[slot] != kernel) {
        wino_job j = {.c = c, .kernel = kernel, .w = l->w.data, .uw = wc->u[slot]};
        fer_pool_for(e->pool, round_up(c->oc, WINO_OCP) / WINO_OCP, weights_range, &j);
        wc->kernel[slot] = kernel;
    }
    return wc->u[slot];
}

int fer_winograd_lend(fer_layer *src, unsigned gen, fer_layer *dst)
{
    int kernel = fer_gemm_kernel_active();
    if (!layer_ok(src) || !fer_wino_supported(kernel))
        return 1;
    fer_exec e = {0}; /* no pool: made on this thread */
    src->weights_gen = gen;
    /* the tile sizes some batch uses: the tile grows with the batch */
    int tile[2] = {fer_winograd_tile(src, 1), fer_winograd_tile(src, 1 << 20)};
    for (int i = 0; i < 2; i++) {
        fer_wino_conv c;
        if (layer_conv(src, tile[i], &c) && !transformed(src, &e, tile[i] == 4 ? U_F4 : U_F2, &c, kernel))
            return 0;
    }
    dst->wino_lent = src->wino;
    return 1;
}

int fer_winograd_forward(fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    fer_wino_conv c;
    int kernel = fer_gemm_kernel_active(), m = fer_winograd_tile(l, e->n), slot = m == 4 ? U_F4 : U_F2;
    if (!layer_conv(l, m, &c) || !fer_wino_supported(kernel))
        return 0;
    wino_job j = {.c = &c, .e = e, .kernel = kernel, .bias = l->b.data, .x = x, .y = y};
    const struct fer_wino_cache *lent = l->wino_lent;
    if (lent && lent->gen == l->weights_gen && lent->kernel[slot] == kernel)
        j.u = lent->u[slot];
    if (!j.u && !(j.u = transformed(l, e, slot, &c, kernel)))
        return 0;
    /* Each thread an equal share of the tiles, in whole groups of 8 (a
     * batch-1 call too), cut into blocks by fer_wino_run. */
    j.tiles = (long)e->n * c.tiles_y * c.tiles_x;
    j.per = 8;
    fer_pool_for(e->pool, (int)((j.tiles + j.per - 1) / j.per), tiles_range, &j);
    return 1;
}

/* ---- the input gradient (training) */

enum { CHUNK_MAX = 8 };

/* Images a chunk: about two blocks of output tiles, so that a small
 * image's GEMMs still have wide panels (6x6 with F(2x2): 9 tiles an image). */
int fer_winograd_chunk(const fer_layer *l, int m)
{
    long tiles = (long)((l->oh + m - 1) / m) * ((l->ow + m - 1) / m);
    long n = 2 * WINO_NB / tiles;
    return n < 1 ? 1 : n > CHUNK_MAX ? CHUNK_MAX : (int)n;
}

size_t fer_winograd_dx_scratch(const fer_layer *l)
{
    fer_wino_conv c;
    return dx_ok(l) && dx_conv(l, 4, &c) ? fer_wino_scratch_floats(&c) : 0;
}

/* The tile by the forward's rule, on the gradient's channels: the layer's
 * outputs and inputs have the same size, so only the tile counts matter. */
int fer_winograd_dx_prepare(fer_layer *l, const fer_exec *e)
{
    fer_wino_conv c;
    int kernel = fer_gemm_kernel_active(), m = dx_ok(l) ? fer_winograd_tile(l, e->n) : 0;
    if (!dx_conv(l, m, &c) || !fer_wino_supported(kernel))
        return 0;
    return transformed(l, e, m == 4 ? U_DX_F4 : U_DX_F2, &c, kernel) ? m : 0;
}

void fer_winograd_dx(const fer_layer *l, int m, const float *dy, float *dx, int n, float *scratch)
{
    fer_wino_conv c;
    dx_conv(l, m, &c);
    int slot = m == 4 ? U_DX_F4 : U_DX_F2;
    fer_wino_run(l->wino->kernel[slot], &c, l->wino->u[slot], NULL, dy, dx, 0,
                 (long)n * c.tiles_y * c.tiles_x, scratch);
}

/* ---- the weight gradient (training) */

/* A d: m values d[0], d[ds], ... -> alpha values q[0], q[qs], ..., with A
 * the transpose of the output transform's A^T (comment at the top). */
static inline void a2_lanes(const float *restrict d, size_t ds, float *restrict q, size_t qs)
{
    for (int i = 0; i < CL; i++) {
        float d0 = d[i], d1 = d[ds + i];
        q[i] = d0, q[qs + i] = d0 + d1, q[2 * qs + i] = d0 - d1, q[3 * qs + i] = -d1;
    }
}

static inline void a4_lanes(const float *restrict d, size_t ds, float *restrict q, size_t qs)
{
    for (int i = 0; i < CL; i++) {
        float d0 = d[i], d1 = d[ds + i], d2 = d[2 * ds + i], d3 = d[3 * ds + i];
        float e = d0 + d2, o = d1 + d3, e4 = d0 + 4 * d2, o8 = 2 * d1 + 8 * d3;
        q[i] = d0, q[qs + i] = e + o, q[2 * qs + i] = e - o;
        q[3 * qs + i] = e4 + o8, q[4 * qs + i] = e4 - o8, q[5 * qs + i] = d3;
    }
}

/* Q = A dy A^T of each of g's CL tiles, every output channel, into
 * q[o*cs + t*WINO_NB + i] (the layout of M); dy outside the output is 0.
 * Inlined into each of dy_c's vector copies. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void dy_c_m(const int m, const fer_wino_conv *c, const fer_wino_group *g,
                          float *q, size_t cs)
{
    const int alpha = m + 2;
    const size_t plane = (size_t)c->oh * c->ow;
    for (int o = 0; o < c->oc; o++) {
        float d[4][4][CL], w[4][6][CL];
        for (int i = 0; i < CL; i++) {
            const float *p = g->y[i] + o * plane + (size_t)g->oy[i] * c->ow + g->ox[i];
            int rows = m, cols = m;
            if (g->out_edge >> i & 1) {
                rows = c->oh - g->oy[i] < m ? c->oh - g->oy[i] : m;
                cols = c->ow - g->ox[i] < m ? c->ow - g->ox[i] : m;
                for (int r = 0; r < m; r++)
                    for (int s = 0; s < m; s++)
                        d[r][s][i] = 0;
            }
            for (int r = 0; r < rows; r++)
                for (int s = 0; s < cols; s++)
                    d[r][s][i] = p[(size_t)r * c->ow + s];
        }
        for (int r = 0; r < m; r++) { /* rows: w[r][.] = A d[r][.] */
            if (m == 2)
                a2_lanes(d[r][0], CL, w[r][0], CL);
            else
                a4_lanes(d[r][0], CL, w[r][0], CL);
        }
        float *qo = q + o * cs;
        for (int s = 0; s < alpha; s++) { /* columns: Q[.][s] = A w[.][s] */
            if (m == 2)
                a2_lanes(w[0][s], 6 * CL, qo + (size_t)s * WINO_NB, (size_t)alpha * WINO_NB);
            else
                a4_lanes(w[0][s], 6 * CL, qo + (size_t)s * WINO_NB, (size_t)alpha * WINO_NB);
        }
    }
}

FER_VECTOR_CLONES
static void dy_c(const fer_wino_conv *c, const fer_wino_group *g, float *q, size_t cs)
{
    if (c->m == 2)
        dy_c_m(2, c, g, q, cs);
    else
        dy_c_m(4, c, g, q, cs);
}

int fer_winograd_dw_tile(const fer_layer *l, int n)
{
    return fer_wino_supported(fer_gemm_kernel_active()) ? fer_winograd_tile(l, n) : 0;
}

size_t fer_winograd_dw_acc_floats(const fer_layer *l, int m)
{
    return layer_ok(l) ? (size_t)(m + 2) * (m + 2) * l->oc * l->ic : 0;
}

size_t fer_winograd_dw_scratch(const fer_layer *l) { return fer_winograd_scratch(l); }

void fer_winograd_dw(const fer_layer *l, int m, const float *x, float *dy, int n, float *acc,
                     float *scratch)
{
    fer_wino_conv c;
    layer_conv(l, m, &c);
    int kernel = fer_gemm_kernel_active();
    const fer_wino_isa *wi = wino_isa(kernel);
    int T = (m + 2) * (m + 2), lanes = wi->lanes;
    size_t cs = chan_stride(&c), oi = (size_t)c.oc * c.ic;
    float *v = scratch, *q = scratch + (size_t)c.ic * cs;
    long tiles = (long)n * c.tiles_y * c.tiles_x;
    fer_wino_group g;
    for (long b0 = 0; b0 < tiles; b0 += c.nb) {
        int nb = tiles - b0 < c.nb ? (int)(tiles - b0) : c.nb;
        for (int j0 = 0; j0 < nb; j0 += lanes) {
            make_group(&c, x, dy, b0 + j0, nb - j0 < lanes ? nb - j0 : lanes, lanes, &g);
            wi->input(&c, &g, v + j0, cs);
        }
        for (int j0 = 0; j0 < nb; j0 += CL) {
            make_group(&c, x, dy, b0 + j0, nb - j0 < CL ? nb - j0 : CL, CL, &g);
            dy_c(&c, &g, q + j0, cs);
        }
        /* acc_t (oc x ic) += Q_t (oc x tiles) V_t^T (tiles x ic) */
        for (int t = 0; t < T; t++)
            fer_gemm_with(kernel, 0, 1, c.oc, c.ic, nb, q + (size_t)t * WINO_NB, (int)cs,
                          v + (size_t)t * WINO_NB, (int)cs, 1, acc + t * oi, c.ic);
    }
}

/* dW = G^T acc G for each (o, c), over blocks of PB pairs: the rows of acc
 * are read contiguously, the inner loops run over the pairs. Static: clang
 * resolves vector copies only for calls from this file. */
enum { PB = 64 };

FER_VECTOR_CLONES
static void dw_finish(const fer_layer *l, int m, const float *acc, float *dw)
{
    static const float g2t[3][6] = {{1, .5f, .5f, 0}, {0, .5f, -.5f, 0}, {0, .5f, .5f, 1}};
    static const float g4t[3][6] = {{1 / 4.f, -1 / 6.f, -1 / 6.f, 1 / 24.f, 1 / 24.f, 0},
                                    {0, -1 / 6.f, 1 / 6.f, 1 / 12.f, -1 / 12.f, 0},
                                    {0, -1 / 6.f, -1 / 6.f, 1 / 6.f, 1 / 6.f, 1}};
    const float(*gt)[6] = m == 2 ? g2t : g4t;
    int alpha = m + 2;
    size_t oi = (size_t)l->oc * l->ic;
    for (size_t p0 = 0; p0 < oi; p0 += PB) {
        int n = oi - p0 < PB ? (int)(oi - p0) : PB;
        float z[3][6][PB];
        for (int u = 0; u < 3; u++)
            for (int s = 0; s < alpha; s++) {
                float *zs = z[u][s];
                for (int i = 0; i < n; i++)
                    zs[i] = 0;
                for (int r = 0; r < alpha; r++) {
                    const float g = gt[u][r], *row = acc + (size_t)(r * alpha + s) * oi + p0;
                    for (int i = 0; g != 0 && i < n; i++)
                        zs[i] += g * row[i];
                }
            }
        for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++) {
                float y[PB];
                for (int i = 0; i < n; i++)
                    y[i] = 0;
                for (int s = 0; s < alpha; s++) {
                    const float g = gt[v][s];
                    for (int i = 0; g != 0 && i < n; i++)
                        y[i] += z[u][s][i] * g;
                }
                for (int i = 0; i < n; i++)
                    dw[(p0 + i) * 9 + u * 3 + v] = y[i];
            }
    }
}

void fer_winograd_dw_finish(const fer_layer *l, int m, const float *acc, float *dw)
{
    dw_finish(l, m, acc, dw);
}

/* ---- for tests */

int fer_winograd_conv_with(int kernel, int m, int n, int ic, int ih, int iw, int oc, int pad,
                           int relu, const float *w, const float *bias, const float *x, float *y)
{
    fer_wino_conv c;
    if (!fer_wino_supported(kernel) || !fer_wino_setup(&c, m, ic, ih, iw, oc, pad, relu))
        return 0;
    float *u = fer_aligned_alloc(fer_wino_u_floats(&c) * sizeof(float));
    float *s = fer_aligned_alloc(fer_wino_scratch_floats(&c) * sizeof(float));
    int ok = u && s;
    if (ok) {
        fer_wino_weights(kernel, &c, w, u, 0, round_up(oc, WINO_OCP));
        fer_wino_run(kernel, &c, u, bias, x, y, 0, (long)n * c.tiles_y * c.tiles_x, s);
    }
    fer_aligned_free(u);
    fer_aligned_free(s);
    return ok;
}
