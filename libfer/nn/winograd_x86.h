/* The x86 transforms of Winograd's input and output, 8 tiles at a time in
 * the lanes of a ymm register. Included by winograd_avx2.c and
 * winograd_avx512.c, which define
 *   WINO_TARGET   the target attribute (AVX2+FMA, or AVX-512 with VL: 32
 *                 registers, so the 36 vectors of a 6x6 patch spill less)
 *   WINO_LOAD6    a load of 6 floats (the rest of the vector zero) that
 *                 does not touch memory past them
 *   WINO_LOADM8, WINO_LOADM4  loads of 8 and 4 floats, only the lanes of a
 *                 bit mask read (the others zero), and nothing past them
 *   WINO_ISA      the name of the fer_wino_isa to define.
 *
 * Input, per channel: each tile's patch row is loaded (one vector per
 * tile), a transpose turns the 8 tiles' rows into one vector per column,
 * the row transform (B^T along the row) runs on those, and after all rows
 * the column transform; the alpha^2 results go to V, one vector of 8 tiles
 * each. Output, per output channel: the reverse, ReLU before the transpose
 * back into tile rows. Edge tiles read their patch rows with masked loads
 * (the rows and columns outside the input read as zeros: 'same' padding);
 * partial output tiles store through a tile-sized copy (fer_wino_store_edge).
 *
 * Pointers and sizes are copied into locals first: the intrinsics' stores
 * may alias anything, so whatever is read through c or g would be read
 * again after every store. */
#include <immintrin.h>

#include "nn/winograd.h"

#define WINO_INLINE static inline __attribute__((always_inline)) WINO_TARGET
#define TS WINO_NB /* floats between the rows of V and M (winograd.h) */

/* B^T d for F(2,3) and F(4,3) (winograd.c has the matrices). */
WINO_INLINE void vbt2(const __m256 *d, __m256 *v)
{
    v[0] = _mm256_sub_ps(d[0], d[2]);
    v[1] = _mm256_add_ps(d[1], d[2]);
    v[2] = _mm256_sub_ps(d[2], d[1]);
    v[3] = _mm256_sub_ps(d[1], d[3]);
}

WINO_INLINE void vbt4(const __m256 *d, __m256 *v)
{
    const __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5);
    __m256 t0 = _mm256_fnmadd_ps(four, d[2], d[4]); /* d4 - 4 d2 */
    __m256 t1 = _mm256_fnmadd_ps(four, d[1], d[3]); /* d3 - 4 d1 */
    __m256 t2 = _mm256_sub_ps(d[4], d[2]);
    __m256 t3 = _mm256_sub_ps(d[3], d[1]);
    t3 = _mm256_add_ps(t3, t3);
    v[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
    v[1] = _mm256_add_ps(t0, t1);
    v[2] = _mm256_sub_ps(t0, t1);
    v[3] = _mm256_add_ps(t2, t3);
    v[4] = _mm256_sub_ps(t2, t3);
    v[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

/* A^T m for F(2,3) and F(4,3). */
WINO_INLINE void vat2(const __m256 *m, __m256 *y)
{
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], m[1]), m[2]);
    y[1] = _mm256_sub_ps(_mm256_sub_ps(m[1], m[2]), m[3]);
}

WINO_INLINE void vat4(const __m256 *m, __m256 *y)
{
    __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
    __m256 c = _mm256_add_ps(m[3], m[4]), d = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), d, b);
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), c, a);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), d, b), m[5]);
}

/* ---- input */

/* Patch row r of lane i: p[i] + r * iw, all of it (mk NULL) or the floats of
 * the bits mk[r][i] (edge tiles). F(2x2): rows of 4 floats; lanes i and i + 4
 * share a register (low and high 128 bits), so 4x4 transposes within the
 * halves give the columns. */
#define ROW4(p, r, i) ((mk) ? WINO_LOADM4((p)[i] + (r) * iw, (mk)[r][i]) : _mm_loadu_ps((p)[i] + (r) * iw))
#define ROW6(p, r, i) ((mk) ? WINO_LOADM8((p)[i] + (r) * iw, (mk)[r][i]) : WINO_LOAD6((p)[i] + (r) * iw))

WINO_INLINE void input2_channel(const float *const *p, size_t iw, const unsigned char (*mk)[8],
                                float *vc)
{
    __m256 w[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        __m256 q[4], t[4], d[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(ROW4(p, r, i)), ROW4(p, r, i + 4), 1);
        t[0] = _mm256_unpacklo_ps(q[0], q[1]), t[1] = _mm256_unpackhi_ps(q[0], q[1]);
        t[2] = _mm256_unpacklo_ps(q[2], q[3]), t[3] = _mm256_unpackhi_ps(q[2], q[3]);
        d[0] = _mm256_shuffle_ps(t[0], t[2], 0x44), d[1] = _mm256_shuffle_ps(t[0], t[2], 0xee);
        d[2] = _mm256_shuffle_ps(t[1], t[3], 0x44), d[3] = _mm256_shuffle_ps(t[1], t[3], 0xee);
        vbt2(d, w[r]);
    }
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        __m256 a[4] = {w[0][s], w[1][s], w[2][s], w[3][s]}, b[4];
        vbt2(a, b);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            _mm256_storeu_ps(vc + (r * 4 + s) * TS, b[r]);
    }
}

/* F(4x4): rows of 6 floats, one lane a register, 8x8 transposes (the last
 * two columns are not needed). */
WINO_INLINE void input4_channel(const float *const *p, size_t iw, const unsigned char (*mk)[8],
                                float *vc)
{
    __m256 w[6][6];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        __m256 q[8], t[8], u[8], d[6];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            q[i] = ROW6(p, r, i);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(q[i], q[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(q[i], q[i + 1]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < 8; i += 4) {
            u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
            u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
            u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
        }
        d[0] = _mm256_permute2f128_ps(u[0], u[4], 0x20);
        d[1] = _mm256_permute2f128_ps(u[1], u[5], 0x20);
        d[2] = _mm256_permute2f128_ps(u[2], u[6], 0x20);
        d[3] = _mm256_permute2f128_ps(u[3], u[7], 0x20);
        d[4] = _mm256_permute2f128_ps(u[0], u[4], 0x31);
        d[5] = _mm256_permute2f128_ps(u[1], u[5], 0x31);
        vbt4(d, w[r]);
    }
#pragma GCC unroll 6
    for (int s = 0; s < 6; s++) {
        __m256 a[6] = {w[0][s], w[1][s], w[2][s], w[3][s], w[4][s], w[5][s]}, b[6];
        vbt4(a, b);
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++)
            _mm256_storeu_ps(vc + (r * 6 + s) * TS, b[r]);
    }
}

/* Which floats of each patch row a lane reads: its columns and rows inside
 * the input (every one for a tile inside). */
WINO_INLINE void edge_masks(const int m, const fer_wino_conv *c, const fer_wino_group *g,
                            unsigned char (*mk)[8])
{
    const int alpha = m + 2;
    for (int i = 0; i < 8; i++) {
        int py = g->py[i], px = g->px[i];
        unsigned cols = 0;
        for (int s = 0; s < alpha; s++)
            cols |= (unsigned)(px + s >= 0 && px + s < c->iw) << s;
        for (int r = 0; r < alpha; r++)
            mk[r][i] = (unsigned char)(py + r >= 0 && py + r < c->ih ? cols : 0);
    }
}

/* Every channel of one group: the rows of every lane are iw apart, read
 * whole without edge tiles, else through the masks (a lane's pointer may
 * then lie before its image: the masks keep every read inside). */
WINO_INLINE void input_group(const int m, const fer_wino_conv *c, const fer_wino_group *g,
                             float *v, size_t cs)
{
    const int ic = c->ic;
    const size_t plane = (size_t)c->ih * c->iw, iw = (size_t)c->iw;
    const float *p[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        p[i] = g->x[i] + ((ptrdiff_t)g->py[i] * c->iw + g->px[i]);
    unsigned char mk[6][8];
    if (g->in_edge)
        edge_masks(m, c, g, mk);
    for (int ch = 0; ch < ic; ch++, v += cs) {
        if (m == 2 && !g->in_edge)
            input2_channel(p, iw, NULL, v);
        else if (m == 2)
            input2_channel(p, iw, mk, v);
        else if (!g->in_edge)
            input4_channel(p, iw, NULL, v);
        else
            input4_channel(p, iw, mk, v);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            p[i] += plane;
    }
}

static WINO_TARGET void input(const fer_wino_conv *c, const fer_wino_group *g, float *v, size_t cs)
{
    if (c->m == 2)
        input_group(2, c, g, v, cs);
    else
        input_group(4, c, g, v, cs);
}

/* ---- output */

/* A^T M A for one output channel of 8 tiles: y[r] holds row r's m values
 * of every lane, transposed: ymm k of row r is lane k's row (low 128 bits)
 * and lane k + 4's (high), 2 or 4 floats. The bias is added to M[1][1]:
 * that product reaches every output with weight 1 (column and row 1 of A^T
 * are all ones, the evaluation point 1), so one add does what 4 or 16 would. */
WINO_INLINE void output2_tiles(const float *mo, __m256 b, int relu, __m256 (*rows)[4])
{
    __m256 z[4][2], zero = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        __m256 a[4];
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++)
            a[s] = _mm256_loadu_ps(mo + (r * 4 + s) * TS);
        if (r == 1)
            a[1] = _mm256_add_ps(a[1], b);
        vat2(a, z[r]);
    }
    __m256 y[2][2];
#pragma GCC unroll 2
    for (int s = 0; s < 2; s++) {
        __m256 a[4] = {z[0][s], z[1][s], z[2][s], z[3][s]}, yy[2];
        vat2(a, yy);
        /* max(v, 0) is 0 for NaN, as the direct path's select */
        y[0][s] = relu ? _mm256_max_ps(yy[0], zero) : yy[0];
        y[1][s] = relu ? _mm256_max_ps(yy[1], zero) : yy[1];
    }
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++) {
        /* lanes (0, 1 | 4, 5) and (2, 3 | 6, 7), 2 floats each */
        rows[r][0] = _mm256_unpacklo_ps(y[r][0], y[r][1]);
        rows[r][1] = _mm256_unpackhi_ps(y[r][0], y[r][1]);
    }
}

WINO_INLINE void output4_tiles(const float *mo, __m256 b, int relu, __m256 (*rows)[4])
{
    __m256 z[6][4], zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        __m256 a[6];
#pragma GCC unroll 6
        for (int s = 0; s < 6; s++)
            a[s] = _mm256_loadu_ps(mo + (r * 6 + s) * TS);
        if (r == 1)
            a[1] = _mm256_add_ps(a[1], b);
        vat4(a, z[r]);
    }
    __m256 y[4][4];
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        __m256 a[6] = {z[0][s], z[1][s], z[2][s], z[3][s], z[4][s], z[5][s]}, yy[4];
        vat4(a, yy);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            y[r][s] = relu ? _mm256_max_ps(yy[r], zero) : yy[r];
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        __m256 t0 = _mm256_unpacklo_ps(y[r][0], y[r][1]), t1 = _mm256_unpackhi_ps(y[r][0], y[r][1]);
        __m256 t2 = _mm256_unpacklo_ps(y[r][2], y[r][3]), t3 = _mm256_unpackhi_ps(y[r][2], y[r][3]);
        rows[r][0] = _mm256_shuffle_ps(t0, t2, 0x44);
        rows[r][1] = _mm256_shuffle_ps(t0, t2, 0xee);
        rows[r][2] = _mm256_shuffle_ps(t1, t3, 0x44);
        rows[r][3] = _mm256_shuffle_ps(t1, t3, 0xee);
    }
}

/* Lane i's row r as the tile transforms left it (see output*_tiles). */
WINO_INLINE __m128 lane_row4(__m256 (*rows)[4], int r, int i)
{
    return i < 4 ? _mm256_castps256_ps128(rows[r][i]) : _mm256_extractf128_ps(rows[r][i - 4], 1);
}

WINO_INLINE void store_row2(__m256 (*rows)[4], int r, int i, float *dst)
{
    __m256 v = rows[r][(i >> 1) & 1];
    __m128 h = i < 4 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1);
    if (i & 1)
        _mm_storeh_pi((__m64 *)dst, h);
    else
        _mm_storel_pi((__m64 *)dst, h);
}

WINO_INLINE void store_tile(const int m, __m256 (*rows)[4], int i, float *dst, size_t ld)
{
#pragma GCC unroll 4
    for (int r = 0; r < m; r++) {
        if (m == 2)
            store_row2(rows, r, i, dst + r * ld);
        else
            _mm_storeu_ps(dst + r * ld, lane_row4(rows, r, i));
    }
}

/* Output channels [o0, o1) of one group. Live tiles that lie inside the
 * output are stored straight into it; edge tiles go through a tile-sized
 * copy. */
WINO_INLINE void output_group(const int m, const fer_wino_conv *c, const fer_wino_group *g,
                              const float *mm, size_t cs, const float *bias, int o0, int o1)
{
    const int n = g->n, relu = c->relu;
    const unsigned edge = g->out_edge;
    const size_t plane = (size_t)c->oh * c->ow, ow = (size_t)c->ow;
    float *base[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        base[i] = g->y[i] + (size_t)g->oy[i] * c->ow + g->ox[i];
    for (int o = o0; o < o1; o++) {
        __m256 rows[4][4];
        const float *mo = mm + o * cs;
        __m256 b = _mm256_set1_ps(bias ? bias[o] : 0);
        if (m == 2)
            output2_tiles(mo, b, relu, rows);
        else
            output4_tiles(mo, b, relu, rows);
        if (n == 8 && !edge) {
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                store_tile(m, rows, i, base[i] + o * plane, ow);
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (edge >> i & 1) {
                float tile[16];
                store_tile(m, rows, i, tile, 4);
                fer_wino_store_edge(c, g, i, o, tile);
            } else {
                store_tile(m, rows, i, base[i] + o * plane, ow);
            }
        }
    }
}

static WINO_TARGET void output(const fer_wino_conv *c, const fer_wino_group *g, const float *mm,
                               size_t cs, const float *bias, int o0, int o1)
{
    if (c->m == 2)
        output_group(2, c, g, mm, cs, bias, o0, o1);
    else
        output_group(4, c, g, mm, cs, bias, o0, o1);
}

const fer_wino_isa WINO_ISA = {8, input, output};

#undef TS
