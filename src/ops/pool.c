/* MaxPool (1-12), AveragePool (1-11; 7+ count_include_pad, 10+ ceil_mode),
 * GlobalAveragePool and GlobalMaxPool, for 1-D, 2-D and 3-D float32.
 *
 * Windows follow PyTorch/onnxruntime: with ceil_mode, the last window must
 * start inside the input or the left padding (cfp_window_out). Max ignores
 * padding; AveragePool divides by the window's elements inside the input,
 * or with count_include_pad by its extent clipped to input + pads.
 * MaxPool's optional Indices output is not supported. */
#include "conv_kernels.h"
#include "simd.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { POOL_MAX, POOL_AVG };

typedef struct {
    int kind;
    int auto_pad, ceil_mode, count_include_pad;
    cfp_window_attrs w;
    /* plan: 3-D geometry like cfp_conv_params (C = planes) */
    cfp_conv_params p;
    float *count[3]; /* AveragePool divisors per output index along each axis */
} pool_state;

static void pool_release(cfp_node *n) {
    pool_state *st = n->state;
    if (st)
        for (int i = 0; i < 3; i++) free(st->count[i]);
    free(st);
    n->state = NULL;
}

static int pool_prepare(cfp_model *m, cfp_node *n, int kind) {
    pool_state *st = calloc(1, sizeof *st);
    if (!st) return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
    n->state = st;
    st->kind = kind;
    int rc = cfp_window_auto_pad(m, n, &st->auto_pad);
    if (rc) return rc;
    st->ceil_mode = cfp_attr_i(n, "ceil_mode", 0) != 0;
    st->count_include_pad = cfp_attr_i(n, "count_include_pad", 0) != 0;
    if ((rc = cfp_window_attrs_read(m, n, true, &st->w))) return rc;
    if (kind == POOL_AVG)
        for (int i = 0; i < st->w.nd; i++)
            if (st->w.d[i] != 1)
                return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                     "AveragePool dilations (opset 19) are not supported");
    if (kind == POOL_MAX && cfp_out(m, n, 1))
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "the Indices output of MaxPool is not supported");
    return CFP_OK;
}

static int maxpool_prepare(cfp_model *m, cfp_node *n) { return pool_prepare(m, n, POOL_MAX); }
static int avgpool_prepare(cfp_model *m, cfp_node *n) { return pool_prepare(m, n, POOL_AVG); }

static int need_f32_input(cfp_model *m, cfp_node *n, cfp_value **X, int min_rank) {
    char b1[128];
    *X = cfp_in(m, n, 0);
    if (!*X) return cfp_node_fail(m, n, CFP_E_INVALID, "expected input X");
    if ((*X)->t.dtype != CFP_F32)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "only float32 is supported, got %s",
                             cfp_dtype_name((*X)->t.dtype));
    if ((*X)->t.ndim < min_rank)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "X must have rank >= %d (N, C, ...), got %s",
                             min_rank, cfp_shape_str(&(*X)->t, b1, sizeof b1));
    return CFP_OK;
}

static int pool_reshape(cfp_model *m, cfp_node *n) {
    pool_state *st = n->state;
    cfp_value *X;
    char b1[128];
    int rc = need_f32_input(m, n, &X, 3);
    if (rc) return rc;
    const cfp_tensor *x = &X->t;
    int nsp = x->ndim - 2;
    if (nsp > CFP_MAX_SPATIAL)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "only 1-D, 2-D and 3-D pooling is supported, X is %s",
                             cfp_shape_str(x, b1, sizeof b1));
    if (st->w.nk != nsp)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "kernel_shape has %d values, expected %d for X %s",
                             st->w.nk, nsp, cfp_shape_str(x, b1, sizeof b1));
    if ((rc = cfp_window_attrs_check(m, n, &st->w, nsp))) return rc;
    cfp_conv_params *p = &st->p;
    memset(p, 0, sizeof *p);
    p->nsp = nsp;
    p->N = x->dims[0];
    p->C = p->M = p->group = x->dims[1];
    int lead = 3 - nsp;
    for (int i = 0; i < 3; i++) {
        int s = i - lead;
        p->in[i] = s >= 0 ? x->dims[2 + s] : 1;
        p->k[i] = s >= 0 ? st->w.k[s] : 1;
        p->stride[i] = s >= 0 && st->w.ns >= 0 ? st->w.s[s] : 1;
        p->dil[i] = s >= 0 && st->w.nd >= 0 ? st->w.d[s] : 1;
        p->pad_b[i] = s >= 0 && st->w.np >= 0 ? st->w.pads[s] : 0;
        p->pad_e[i] = s >= 0 && st->w.np >= 0 ? st->w.pads[nsp + s] : 0;
        if (s < 0) {
            p->out[i] = 1;
            continue;
        }
        p->out[i] = cfp_window_out(st->auto_pad, st->ceil_mode, p->in[i], p->k[i], p->stride[i],
                                   p->dil[i], &p->pad_b[i], &p->pad_e[i]);
        if (p->out[i] < 1)
            return cfp_node_fail(m, n, CFP_E_SHAPE,
                                 "the window (kernel %lld, dilation %lld) does not fit axis %d "
                                 "of X %s plus pads",
                                 (long long)p->k[i], (long long)p->dil[i], 2 + s,
                                 cfp_shape_str(x, b1, sizeof b1));
    }
    if (st->kind == POOL_AVG) {
        for (int i = 0; i < 3; i++) {
            float *c = realloc(st->count[i], (size_t)p->out[i] * sizeof(float));
            if (!c) return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
            st->count[i] = c;
            for (int64_t o = 0; o < p->out[i]; o++) {
                int64_t start = o * p->stride[i] - p->pad_b[i], end = start + p->k[i];
                int64_t cnt;
                if (st->count_include_pad) {
                    int64_t e = end < p->in[i] + p->pad_e[i] ? end : p->in[i] + p->pad_e[i];
                    cnt = e - start;
                } else {
                    int64_t a = start > 0 ? start : 0, e = end < p->in[i] ? end : p->in[i];
                    cnt = e - a;
                }
                c[o] = (float)cnt;
            }
        }
    }
    int64_t od[CFP_MAX_DIMS];
    od[0] = x->dims[0];
    od[1] = x->dims[1];
    for (int i = 0; i < nsp; i++) od[2 + i] = p->out[lead + i];
    rc = cfp_tensor_shape(&cfp_out(m, n, 0)->t, CFP_F32, x->ndim, od);
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    return CFP_OK;
}

/* One (n, c) plane. Rows of the output accumulate over the window's rows. */
CFP_HOT static void
pool_plane(const pool_state *st, const float *restrict x, float *restrict y) {
    const cfp_conv_params *p = &st->p;
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t sw = p->stride[2];
    const int is_max = st->kind == POOL_MAX;
    /* valid output columns per kw, hoisted out of the row loops */
    int64_t lohi[2 * 32];
    const int table = p->k[2] <= 32;
    for (int64_t kw = 0; table && kw < p->k[2]; kw++)
        cfp_valid_range(kw * p->dil[2] - p->pad_b[2], sw, W, OW, &lohi[2 * kw], &lohi[2 * kw + 1]);
    for (int64_t od = 0; od < OD; od++)
        for (int64_t oh = 0; oh < OH; oh++) {
            float *yr = y + (od * OH + oh) * OW;
            for (int64_t q = 0; q < OW; q++) yr[q] = is_max ? -INFINITY : 0.0f;
            for (int64_t kd = 0; kd < p->k[0]; kd++) {
                int64_t id = od * p->stride[0] - p->pad_b[0] + kd * p->dil[0];
                if (id < 0 || id >= D) continue;
                for (int64_t kh = 0; kh < p->k[1]; kh++) {
                    int64_t ih = oh * p->stride[1] - p->pad_b[1] + kh * p->dil[1];
                    if (ih < 0 || ih >= H) continue;
                    const float *xr = x + (id * H + ih) * W;
                    for (int64_t kw = 0; kw < p->k[2]; kw++) {
                        int64_t off = kw * p->dil[2] - p->pad_b[2], lo, hi;
                        if (table) lo = lohi[2 * kw], hi = lohi[2 * kw + 1];
                        else cfp_valid_range(off, sw, W, OW, &lo, &hi);
                        if (is_max) {
                            if (sw == 1) {
                                const float *restrict src = xr + lo + off;
                                float *restrict dst = yr + lo;
                                for (int64_t q = 0; q < hi - lo; q++)
                                    dst[q] = src[q] > dst[q] ? src[q] : dst[q];
                            } else {
                                for (int64_t q = lo; q < hi; q++) {
                                    float v = xr[q * sw + off];
                                    yr[q] = v > yr[q] ? v : yr[q];
                                }
                            }
                        } else {
                            if (sw == 1) {
                                const float *restrict src = xr + lo + off;
                                float *restrict dst = yr + lo;
                                for (int64_t q = 0; q < hi - lo; q++) dst[q] += src[q];
                            } else {
                                for (int64_t q = lo; q < hi; q++) yr[q] += xr[q * sw + off];
                            }
                        }
                    }
                }
            }
            if (!is_max) {
                float cdh = st->count[0][od] * st->count[1][oh];
                const float *cw = st->count[2];
                for (int64_t q = 0; q < OW; q++) yr[q] /= cdh * cw[q];
            }
        }
}

/* dst[q] = max(dst[q], src[q]) */
CFP_HOT static void max_into(float *restrict dst, const float *restrict src, int64_t n) {
    for (int64_t q = 0; q < n; q++) dst[q] = src[q] > dst[q] ? src[q] : dst[q];
}

/* dst[q] = max(dst[q], src[2q]) for q < n: the taps of a stride-2 window
 * along w, 16 at a time from two loads split into even and odd lanes */
__attribute__((target("avx512f"))) static void max_into_s2_avx512(float *restrict dst, const float *restrict src,
                                                                   int64_t n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    int64_t q = 0;
    for (; q + 16 < n; q += 16) { /* reads src[2q .. 2q + 31]; 2q + 31 < 2(n - 1) */
        __m512 a = _mm512_loadu_ps(src + 2 * q), b = _mm512_loadu_ps(src + 2 * q + 16);
        __m512 e = _mm512_permutex2var_ps(a, even, b);
        _mm512_storeu_ps(dst + q, _mm512_max_ps(e, _mm512_loadu_ps(dst + q)));
    }
    for (; q < n; q++) dst[q] = src[2 * q] > dst[q] ? src[2 * q] : dst[q];
}
static int g_pool_avx512 = -1;

/* Max is separable: along w for every input row (t1: D x H x OW), then
 * along h (t2: D x OH x OW), then along d: k[0] + k[1] + k[2] steps per
 * output instead of their product (a 3x3x3 window: 9 instead of 27). */
CFP_HOT static void
max_plane_separable(const pool_state *st, const float *restrict x, float *restrict y,
                    float *restrict t1, float *restrict t2) {
    const cfp_conv_params *p = &st->p;
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t sw = p->stride[2];
    int64_t lohi[2 * 32];
    for (int64_t kw = 0; kw < p->k[2]; kw++)
        cfp_valid_range(kw * p->dil[2] - p->pad_b[2], sw, W, OW, &lohi[2 * kw], &lohi[2 * kw + 1]);
    for (int64_t r = 0; r < D * H; r++) {
        const float *xr = x + r * W;
        float *tr = t1 + r * OW;
        for (int64_t q = 0; q < OW; q++) tr[q] = -INFINITY;
        for (int64_t kw = 0; kw < p->k[2]; kw++) {
            int64_t off = kw * p->dil[2] - p->pad_b[2], lo = lohi[2 * kw], hi = lohi[2 * kw + 1];
            if (sw == 1) {
                max_into(tr + lo, xr + lo + off, hi - lo);
            } else if (sw == 2 && g_pool_avx512 > 0) {
                if (hi > lo) max_into_s2_avx512(tr + lo, xr + lo * 2 + off, hi - lo);
            } else {
                for (int64_t q = lo; q < hi; q++) {
                    float v = xr[q * sw + off];
                    tr[q] = v > tr[q] ? v : tr[q];
                }
            }
        }
    }
    for (int64_t d = 0; d < D; d++)
        for (int64_t oh = 0; oh < OH; oh++) {
            float *tr = t2 + (d * OH + oh) * OW;
            for (int64_t q = 0; q < OW; q++) tr[q] = -INFINITY;
            for (int64_t kh = 0; kh < p->k[1]; kh++) {
                int64_t ih = oh * p->stride[1] - p->pad_b[1] + kh * p->dil[1];
                if (ih >= 0 && ih < H) max_into(tr, t1 + (d * H + ih) * OW, OW);
            }
        }
    const int64_t plane = OH * OW;
    for (int64_t od = 0; od < OD; od++) {
        float *yr = y + od * plane;
        for (int64_t q = 0; q < plane; q++) yr[q] = -INFINITY;
        for (int64_t kd = 0; kd < p->k[0]; kd++) {
            int64_t id = od * p->stride[0] - p->pad_b[0] + kd * p->dil[0];
            if (id >= 0 && id < D) max_into(yr, t2 + id * plane, plane);
        }
    }
}

typedef struct {
    const pool_state *st;
    const float *x;
    float *y;
    int64_t isp, osp;
    int separable;
} pool_job;

static void pool_range(void *arg, int64_t begin, int64_t end, int tid) {
    const pool_job *j = arg;
    const cfp_conv_params *p = &j->st->p;
    float *t = NULL;
    if (j->separable) {
        size_t n1 = (size_t)(p->in[0] * p->in[1] * p->out[2]), n2 = (size_t)(p->in[0] * p->out[1] * p->out[2]);
        t = cfp_aligned_alloc_uninit((n1 + n2 + 16) * sizeof(float));
        if (t) {
            for (int64_t i = begin; i < end; i++)
                max_plane_separable(j->st, j->x + i * j->isp, j->y + i * j->osp, t, t + n1 + 16 - n1 % 16);
            free(t);
            return;
        }
    }
    for (int64_t i = begin; i < end; i++) pool_plane(j->st, j->x + i * j->isp, j->y + i * j->osp);
}

static int pool_run(cfp_model *m, cfp_node *n) {
    if (g_pool_avx512 < 0) g_pool_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
    pool_state *st = n->state;
    const cfp_conv_params *p = &st->p;
    pool_job j = {st, cfp_in(m, n, 0)->t.data, cfp_out(m, n, 0)->t.data,
                  p->in[0] * p->in[1] * p->in[2], p->out[0] * p->out[1] * p->out[2],
                  st->kind == POOL_MAX && p->k[2] <= 32 && p->k[0] * p->k[1] * p->k[2] >= 4};
    cfp_parallel_for(m->ctx->pool, p->N * p->C, 1, pool_range, &j);
    return CFP_OK;
}

/* ---- global pools -------------------------------------------------------------- */

static int global_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *X;
    int rc = need_f32_input(m, n, &X, 2);
    if (rc) return rc;
    int64_t od[CFP_MAX_DIMS];
    for (int i = 0; i < X->t.ndim; i++) od[i] = i < 2 ? X->t.dims[i] : 1;
    rc = cfp_tensor_shape(&cfp_out(m, n, 0)->t, CFP_F32, X->t.ndim, od);
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    return CFP_OK;
}

typedef struct {
    const float *x;
    float *y;
    int64_t S;
    int is_max;
} global_job;

CFP_HOT static float
plane_max(const float *x, int64_t S) {
    float acc[16];
    for (int l = 0; l < 16; l++) acc[l] = -INFINITY;
    int64_t i = 0;
    for (; i + 16 <= S; i += 16)
        for (int l = 0; l < 16; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    float r = -INFINITY;
    for (int l = 0; l < 16; l++) r = acc[l] > r ? acc[l] : r;
    for (; i < S; i++) r = x[i] > r ? x[i] : r;
    return r;
}

CFP_HOT static double
plane_sum(const float *x, int64_t S) {
    /* float lanes over short blocks, summed in double */
    double total = 0;
    int64_t i = 0;
    while (i < S) {
        int64_t e = i + 4096 < S ? i + 4096 : S;
        float acc[16] = {0};
        for (; i + 16 <= e; i += 16)
            for (int l = 0; l < 16; l++) acc[l] += x[i + l];
        for (; i < e; i++) acc[0] += x[i];
        for (int l = 0; l < 16; l++) total += acc[l];
    }
    return total;
}

static void global_range(void *arg, int64_t begin, int64_t end, int tid) {
    const global_job *j = arg;
    for (int64_t i = begin; i < end; i++) {
        const float *x = j->x + i * j->S;
        j->y[i] = j->is_max ? (j->S ? plane_max(x, j->S) : -INFINITY)
                            : (float)(plane_sum(x, j->S) / (double)j->S);
    }
}

static int global_run(cfp_model *m, cfp_node *n, int is_max) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    int64_t S = 1;
    for (int i = 2; i < x->ndim; i++) S *= x->dims[i];
    global_job j = {x->data, cfp_out(m, n, 0)->t.data, S, is_max};
    cfp_parallel_for(m->ctx->pool, x->dims[0] * x->dims[1], 1 + 65536 / (S + 1), global_range,
                     &j);
    return CFP_OK;
}
static int gap_run(cfp_model *m, cfp_node *n) { return global_run(m, n, 0); }
static int gmp_run(cfp_model *m, cfp_node *n) { return global_run(m, n, 1); }

const cfp_op cfp_ops_pool[] = {
    {"MaxPool", 1, maxpool_prepare, pool_reshape, pool_run, pool_release},
    {"AveragePool", 1, avgpool_prepare, pool_reshape, pool_run, pool_release},
    {"GlobalAveragePool", 1, NULL, global_reshape, gap_run, NULL},
    {"GlobalMaxPool", 1, NULL, global_reshape, gmp_run, NULL},
    {0},
};
