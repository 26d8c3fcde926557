/* Conv (opsets 1-17): 1-D, 2-D and 3-D, groups, strides, dilations, pads,
 * auto_pad, optional bias.
 *
 * The operator runs oneDNN's convolutions (conv_dnnl.c) where oneDNN has a
 * fast kernel for the shape, except for 1x1x1 stride-1 and depth-wise convs,
 * where the kernels below win (docs/benchmarks.md). Two implementations of
 * our own share cfp_conv_params (conv_kernels.h):
 *  - cfp_conv_ref: direct loops, the reference for tests;
 *  - cfp_conv_fast: per (batch, group), the output positions are cut into
 *    panels; each panel's input volume is unfolded (im2col, N-D) into a
 *    per-thread buffer of bounded size and multiplied by the group's weights
 *    with cblas_sgemm. A 1x1x1, stride-1, unpadded conv multiplies the input
 *    directly. Depth-wise convs (one input channel per group) use a direct
 *    loop kernel instead of GEMM.
 *
 * Threads: the panels run in our pool, each calling single-threaded OpenBLAS
 * (openblas_set_num_threads(1), once, in cfp_blas_init); when a layer has
 * too few output positions for that (late, wide layers), the panel is
 * unfolded by all threads and its GEMM split over output channels
 * (cfp_sgemm_par). Measured on the 2-core build machine (OpenBLAS 0.3.21,
 * Cooperlake kernels, OPENBLAS_CORETYPE unset), the convs of full-size
 * r3d_18 (1x3x16x112x112, 81 GFLOP) take 0.38 s this way, against 0.75 s
 * with one panel at a time and OpenBLAS's own 2 threads, and 0.75 s on one
 * thread: OpenBLAS's threading gains nothing on these medium-sized GEMMs,
 * while our panels also parallelise the unfold. It also keeps one threading
 * model (our pool) for the whole library. */
#include "conv_kernels.h"
#include "simd.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- geometry ------------------------------------------------------------ */

int cfp_conv_setup(cfp_conv_params *p, int nsp, int64_t N, int64_t C, int64_t M, int64_t group,
                   const int64_t *in, const int64_t *k, const int64_t *stride,
                   const int64_t *dil, const int64_t *pads, int auto_pad) {
    memset(p, 0, sizeof *p);
    p->nsp = nsp;
    p->N = N;
    p->C = C;
    p->M = M;
    p->group = group;
    int lead = 3 - nsp;
    for (int i = 0; i < 3; i++) {
        p->in[i] = p->out[i] = p->k[i] = p->stride[i] = p->dil[i] = 1;
        p->pad_b[i] = p->pad_e[i] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        int j = lead + i;
        p->in[j] = in[i];
        p->k[j] = k[i];
        p->stride[j] = stride ? stride[i] : 1;
        p->dil[j] = dil ? dil[i] : 1;
        p->pad_b[j] = pads ? pads[i] : 0;
        p->pad_e[j] = pads ? pads[nsp + i] : 0;
        p->out[j] = cfp_window_out(auto_pad, 0, p->in[j], p->k[j], p->stride[j], p->dil[j],
                                   &p->pad_b[j], &p->pad_e[j]);
        if (p->out[j] < 1) return CFP_E_SHAPE;
    }
    return CFP_OK;
}

/* ---- reference ------------------------------------------------------------- */

void cfp_conv_ref(const cfp_conv_params *p, const float *x, const float *w, const float *b,
                  float *y) {
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const int64_t Cpg = p->C / p->group, Mpg = p->M / p->group;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t m = 0; m < p->M; m++) {
            int64_t g = m / Mpg;
            for (int64_t od = 0; od < OD; od++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        double acc = b ? b[m] : 0.0;
                        for (int64_t c = 0; c < Cpg; c++)
                            for (int64_t kd = 0; kd < KD; kd++) {
                                int64_t id = od * p->stride[0] - p->pad_b[0] + kd * p->dil[0];
                                if (id < 0 || id >= D) continue;
                                for (int64_t kh = 0; kh < KH; kh++) {
                                    int64_t ih = oh * p->stride[1] - p->pad_b[1] + kh * p->dil[1];
                                    if (ih < 0 || ih >= H) continue;
                                    for (int64_t kw = 0; kw < KW; kw++) {
                                        int64_t iw =
                                            ow * p->stride[2] - p->pad_b[2] + kw * p->dil[2];
                                        if (iw < 0 || iw >= W) continue;
                                        double xv = x[(((n * p->C + g * Cpg + c) * D + id) * H +
                                                       ih) * W + iw];
                                        double wv =
                                            w[(((m * Cpg + c) * KD + kd) * KH + kh) * KW + kw];
                                        acc += xv * wv;
                                    }
                                }
                            }
                        y[(((n * p->M + m) * OD + od) * OH + oh) * OW + ow] = (float)acc;
                    }
        }
}

/* ---- fast path --------------------------------------------------------------- */

/* im2col bytes per thread and panel; see cfp_conv_tune */
#define CFP_CONV_PANEL_BYTES ((size_t)2 << 20)
static size_t g_panel_bytes = 0; /* 0: CFP_CONV_PANEL_BYTES */
static int g_pool_panels = 1;
static int g_tconv = 1; /* temporal convs as GEMMs on the planes (CFP_TCONV=0: not) */

void cfp_conv_tune(size_t panel_bytes, int pool_panels) {
    g_panel_bytes = panel_bytes;
    g_pool_panels = pool_panels;
    if (!pool_panels) openblas_set_num_threads((int)sysconf(_SC_NPROCESSORS_ONLN));
    else openblas_set_num_threads(1);
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_init_once(void) {
    openblas_set_num_threads(1);
    const char *e = getenv("CFP_TCONV");
    g_tconv = !(e && strcmp(e, "0") == 0);
}
int cfp_conv_temporal_on(const cfp_conv_params *p) {
    cfp_blas_init();
    return g_tconv && cfp_conv_is_temporal(p);
}
void cfp_blas_init(void) { pthread_once(&blas_once, blas_init_once); }

/* Unfold output positions [p0, p1) of one group: col[K][p1-p0], rows in
 * weight order (c, kd, kh, kw). x points at the group's first channel. */
CFP_HOT static void
im2col3(const cfp_conv_params *p, const float *x, int64_t Cpg, int64_t p0, int64_t p1,
        float *col) {
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const int64_t sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const int64_t np = p1 - p0, ISP = D * H * W;
    const int64_t od0 = p0 / (OH * OW), oh0 = (p0 / OW) % OH, ow0 = p0 % OW;
    float *dst = col;
    for (int64_t c = 0; c < Cpg; c++) {
        const float *xc = x + c * ISP;
        for (int64_t kd = 0; kd < KD; kd++)
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++, dst += np) {
                    const int64_t offw = kw * p->dil[2] - p->pad_b[2];
                    int64_t lo, hi;
                    cfp_valid_range(offw, sw, W, OW, &lo, &hi);
                    int64_t od = od0, oh = oh0, ow = ow0;
                    for (int64_t j = 0; j < np;) {
                        int64_t seg = OW - ow < np - j ? OW - ow : np - j;
                        float *d = dst + j; /* d[q - ow] for output column q */
                        int64_t id = od * sd - p->pad_b[0] + kd * p->dil[0];
                        int64_t ih = oh * sh - p->pad_b[1] + kh * p->dil[1];
                        int64_t e = ow + seg;
                        if (id < 0 || id >= D || ih < 0 || ih >= H) {
                            for (int64_t q = 0; q < seg; q++) d[q] = 0.0f;
                        } else {
                            const float *xr = xc + (id * H + ih) * W;
                            /* ow <= a <= b <= e: zeros, copies, zeros */
                            int64_t a = lo < ow ? ow : lo > e ? e : lo;
                            int64_t b = hi < a ? a : hi > e ? e : hi;
                            for (int64_t q = ow; q < a; q++) d[q - ow] = 0.0f;
                            if (sw == 1) {
                                const float *src = xr + (a + offw);
                                float *dd = d + (a - ow);
                                for (int64_t q = 0; q < b - a; q++) dd[q] = src[q];
                            } else {
                                for (int64_t q = a; q < b; q++) d[q - ow] = xr[q * sw + offw];
                            }
                            for (int64_t q = b; q < e; q++) d[q - ow] = 0.0f;
                        }
                        j += seg;
                        ow = 0;
                        if (++oh == OH) oh = 0, od++;
                    }
                }
    }
}

/* yr[q] += wv * xr[q * sw + off] for q in [lo, hi) */
static inline void dw_tap(float *restrict yr, const float *restrict xr, float wv, int64_t sw,
                          int64_t off, int64_t lo, int64_t hi) {
    if (sw == 1) {
        const float *restrict src = xr + (lo + off);
        float *restrict dst = yr + lo;
        for (int64_t q = 0; q < hi - lo; q++) dst[q] += wv * src[q];
    } else {
        for (int64_t q = lo; q < hi; q++) yr[q] += wv * xr[q * sw + off];
    }
}

/* Depth-wise: one output channel from one input channel, one output row at a
 * time. A row of three taps (the usual kernel width) runs as one fused loop
 * over the columns where all three are inside the input. */
CFP_HOT static void
dw_channel(const cfp_conv_params *p, const float *x, const float *w, float bias,
           float *restrict y) {
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const int64_t sw = p->stride[2], dw = p->dil[2];
    /* valid output columns per kw, hoisted out of the row loops */
    int64_t lohi[2 * 32];
    const int table = KW <= 32;
    for (int64_t kw = 0; table && kw < KW; kw++)
        cfp_valid_range(kw * dw - p->pad_b[2], sw, W, OW, &lohi[2 * kw], &lohi[2 * kw + 1]);
    int64_t ilo = 0, ihi = 0; /* columns where all three taps are valid */
    if (KW == 3) {
        ilo = lohi[0] > lohi[2] ? lohi[0] : lohi[2];
        ilo = ilo > lohi[4] ? ilo : lohi[4];
        ihi = lohi[1] < lohi[3] ? lohi[1] : lohi[3];
        ihi = ihi < lohi[5] ? ihi : lohi[5];
    }
    const int fused = KW == 3 && ilo < ihi;
    for (int64_t od = 0; od < OD; od++)
        for (int64_t oh = 0; oh < OH; oh++) {
            float *restrict yr = y + (od * OH + oh) * OW;
            for (int64_t ow = 0; ow < OW; ow++) yr[ow] = bias;
            for (int64_t kd = 0; kd < KD; kd++) {
                int64_t id = od * p->stride[0] - p->pad_b[0] + kd * p->dil[0];
                if (id < 0 || id >= D) continue;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * p->stride[1] - p->pad_b[1] + kh * p->dil[1];
                    if (ih < 0 || ih >= H) continue;
                    const float *restrict xr = x + (id * H + ih) * W;
                    const float *wk = w + (kd * KH + kh) * KW;
                    if (fused) {
                        const float w0 = wk[0], w1 = wk[1], w2 = wk[2];
                        const int64_t o0 = -p->pad_b[2];
                        for (int64_t kw = 0; kw < 3; kw++) { /* edges */
                            int64_t lo = lohi[2 * kw], hi = lohi[2 * kw + 1];
                            dw_tap(yr, xr, wk[kw], sw, o0 + kw * dw, lo, hi < ilo ? hi : ilo);
                            dw_tap(yr, xr, wk[kw], sw, o0 + kw * dw, lo > ihi ? lo : ihi, hi);
                        }
                        if (sw == 1) {
                            const float *restrict s0 = xr + ilo + o0;
                            float *restrict dst = yr + ilo;
                            for (int64_t q = 0; q < ihi - ilo; q++)
                                dst[q] += w0 * s0[q] + w1 * s0[q + dw] + w2 * s0[q + 2 * dw];
                        } else {
                            for (int64_t q = ilo; q < ihi; q++) {
                                const float *s0 = xr + q * sw + o0;
                                yr[q] += w0 * s0[0] + w1 * s0[dw] + w2 * s0[2 * dw];
                            }
                        }
                        continue;
                    }
                    for (int64_t kw = 0; kw < KW; kw++) {
                        const int64_t offw = kw * dw - p->pad_b[2];
                        int64_t lo, hi;
                        if (table) lo = lohi[2 * kw], hi = lohi[2 * kw + 1];
                        else cfp_valid_range(offw, sw, W, OW, &lo, &hi);
                        dw_tap(yr, xr, wk[kw], sw, offw, lo, hi);
                    }
                }
            }
        }
}

/* Depth-wise with unit stride in h and w: the channel is copied into a
 * zero-padded plane buffer xp (Hp x Wp per depth), so that every tap is one
 * long loop over a whole output plane kept at the padded row pitch (yp, OH x
 * Wp; the Wp - OW extra columns of each row are computed and dropped). */
CFP_HOT static void
dw_channel_flat(const cfp_conv_params *p, const float *x, const float *w, float bias,
                float *restrict y, float *restrict xp, float *restrict yp) {
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const int64_t Hp = H + p->pad_b[1] + p->pad_e[1], Wp = W + p->pad_b[2] + p->pad_e[2];
    /* pad */
    for (int64_t i = 0; i < D * Hp * Wp; i++) xp[i] = 0.0f;
    for (int64_t d = 0; d < D; d++)
        for (int64_t h = 0; h < H; h++) {
            const float *src = x + (d * H + h) * W;
            float *dst = xp + (d * Hp + h + p->pad_b[1]) * Wp + p->pad_b[2];
            for (int64_t q = 0; q < W; q++) dst[q] = src[q];
        }
    const int64_t len = (OH - 1) * Wp + OW; /* last valid element + 1 */
    for (int64_t od = 0; od < OD; od++) {
        for (int64_t i = 0; i < len; i++) yp[i] = bias;
        for (int64_t kd = 0; kd < KD; kd++) {
            int64_t id = od * p->stride[0] - p->pad_b[0] + kd * p->dil[0];
            if (id < 0 || id >= D) continue;
            const float *xd = xp + id * Hp * Wp;
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    const float wv = w[(kd * KH + kh) * KW + kw];
                    const float *restrict src = xd + kh * p->dil[1] * Wp + kw * p->dil[2];
                    for (int64_t i = 0; i < len; i++) yp[i] += wv * src[i];
                }
        }
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *src = yp + oh * Wp;
            float *dst = y + (od * OH + oh) * OW;
            for (int64_t q = 0; q < OW; q++) dst[q] = src[q];
        }
    }
}

typedef struct {
    const cfp_conv_params *p;
    const float *x, *w, *b;
    float *y;
    float *scratch;   /* per-thread im2col buffers */
    size_t per_thread; /* floats */
    int64_t Cpg, Mpg, K, ISP, OSP, P, npanels;
    int pointwise;
} conv_job;

static void conv_panels(void *arg, int64_t begin, int64_t end, int tid) {
    const conv_job *j = arg;
    const cfp_conv_params *p = j->p;
    for (int64_t it = begin; it < end; it++) {
        int64_t panel = it % j->npanels, ng = it / j->npanels;
        int64_t g = ng % p->group, n = ng / p->group;
        int64_t p0 = panel * j->P, p1 = p0 + j->P < j->OSP ? p0 + j->P : j->OSP, np = p1 - p0;
        const float *xg = j->x + (n * p->C + g * j->Cpg) * j->ISP;
        const float *wg = j->w + g * j->Mpg * j->K;
        float *yg = j->y + (n * p->M + g * j->Mpg) * j->OSP + p0;
        const float *B;
        int64_t ldb;
        if (j->pointwise) {
            B = xg + p0;
            ldb = j->ISP;
        } else {
            float *col = j->scratch + (size_t)tid * j->per_thread;
            im2col3(p, xg, j->Cpg, p0, p1, col);
            B = col;
            ldb = np;
        }
        cfp_sgemm1(0, 0, j->Mpg, np, j->K, 1.0f, wg, j->K, B, ldb, 0.0f, yg, j->OSP);
        if (j->b)
            for (int64_t mm = 0; mm < j->Mpg; mm++) {
                float bv = j->b[g * j->Mpg + mm], *yr = yg + mm * j->OSP;
                for (int64_t q = 0; q < np; q++) yr[q] += bv;
            }
    }
}

/* A temporal conv (kd x 1 x 1, no spatial stride or padding, one group):
 * for each output plane, kd GEMMs straight on the NCDHW planes, no im2col
 * and no transposes: Y_t (M x HW) += W_k (M x C) . X_t' (C x HW, rows
 * T_in*HW apart), t' = t*stride + k*dilation - pad. */
typedef struct {
    const cfp_conv_params *p;
    const float *x, *wk, *b; /* wk: [kd][M][C] */
    float *y;
} tconv_job;

static void tconv_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const tconv_job *j = arg;
    const cfp_conv_params *p = j->p;
    const int64_t IT = p->in[0], OT = p->out[0], HW = p->out[1] * p->out[2], M = p->M, C = p->C;
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / OT, t = it % OT;
        float *yt = j->y + n * M * OT * HW + t * HW;
        int first = 1;
        for (int64_t k = 0; k < p->k[0]; k++) {
            int64_t ti = t * p->stride[0] + k * p->dil[0] - p->pad_b[0];
            if (ti < 0 || ti >= IT) continue;
            cfp_sgemm1(0, 0, M, HW, C, 1.0f, j->wk + k * M * C, C, j->x + n * C * IT * HW + ti * HW, IT * HW,
                       first ? 0.0f : 1.0f, yt, OT * HW);
            first = 0;
        }
        for (int64_t m = 0; m < M; m++) {
            float *yr = yt + m * OT * HW, bv = j->b ? j->b[m] : 0.0f;
            if (first) /* every tap in the padding */
                for (int64_t q = 0; q < HW; q++) yr[q] = bv;
            else if (j->b)
                for (int64_t q = 0; q < HW; q++) yr[q] += bv;
        }
    }
}

int cfp_conv_is_temporal(const cfp_conv_params *p) {
    return p->group == 1 && p->k[0] >= 2 && p->k[1] == 1 && p->k[2] == 1 && p->stride[1] == 1 &&
           p->stride[2] == 1 && !(p->pad_b[1] | p->pad_b[2] | p->pad_e[1] | p->pad_e[2]);
}

/* Small planes (late layers: 2 x 7 x 7 outputs, 512 x 921 x 3 weights):
 * the weights as they are, M x (C kd), times the input unfolded in time,
 * (C kd) x (T_out HW): one GEMM per batch item, split by rows of the weights
 * so each thread reads half of them once, instead of one small GEMM per
 * plane and tap over a repacked copy. */
typedef struct {
    const cfp_conv_params *p;
    const float *x, *w, *b;
    float *col, *y;
} tcol_job;

static void tcol_unfold(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const tcol_job *j = arg;
    const cfp_conv_params *p = j->p;
    const int64_t IT = p->in[0], OT = p->out[0], HW = p->out[1] * p->out[2], kd = p->k[0];
    for (int64_t r = begin; r < end; r++) { /* r = c * kd + k */
        int64_t c = r / kd, k = r % kd;
        for (int64_t t = 0; t < OT; t++) {
            int64_t ti = t * p->stride[0] + k * p->dil[0] - p->pad_b[0];
            float *dst = j->col + (r * OT + t) * HW;
            if (ti < 0 || ti >= IT) memset(dst, 0, (size_t)HW * sizeof *dst);
            else memcpy(dst, j->x + (c * IT + ti) * HW, (size_t)HW * sizeof *dst);
        }
    }
}

static void tcol_gemm(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const tcol_job *j = arg;
    const cfp_conv_params *p = j->p;
    const int64_t S = p->out[0] * p->out[1] * p->out[2], K = p->C * p->k[0];
    cfp_sgemm1(0, 0, end - begin, S, K, 1.0f, j->w + begin * K, K, j->col, S, 0.0f, j->y + begin * S, S);
    for (int64_t m = begin; j->b && m < end; m++)
        for (int64_t q = 0; q < S; q++) j->y[m * S + q] += j->b[m];
}

/* The weights are repacked on every call: keeping a packed copy (and giving
 * the model's back) measured no faster on r2plus1d_18 and raised its peak
 * memory (docs/benchmarks.md). */
static int conv_temporal(cfp_pool *pool, const cfp_conv_params *p, const float *x, const float *w,
                         const float *b, float *y) {
    const int64_t kd = p->k[0], M = p->M, C = p->C;
    const int64_t S = p->out[0] * p->out[1] * p->out[2];
    if (M >= S) { /* the weights outweigh the unfolded input */
        tcol_job j = {p, NULL, w, b, cfp_aligned_alloc_uninit((size_t)(C * kd * S) * sizeof(float)), NULL};
        if (!j.col) return CFP_E_NOMEM;
        int threads = g_pool_panels ? cfp_pool_threads(pool) : 1;
        for (int64_t n = 0; n < p->N; n++) {
            j.x = x + n * C * p->in[0] * p->in[1] * p->in[2];
            j.y = y + n * M * S;
            cfp_parallel_for(g_pool_panels ? pool : NULL, C * kd, 16, tcol_unfold, &j);
            cfp_parallel_for(g_pool_panels ? pool : NULL, M, (M + threads - 1) / threads, tcol_gemm, &j);
        }
        free(j.col);
        return CFP_OK;
    }
    float *wk = cfp_aligned_alloc_uninit((size_t)(kd * M * C) * sizeof(float));
    if (!wk) return CFP_E_NOMEM;
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < kd; k++) wk[(k * M + m) * C + c] = w[(m * C + c) * kd + k];
    tconv_job j = {p, x, wk, b, y};
    cfp_parallel_for(g_pool_panels ? pool : NULL, p->N * p->out[0], 1, tconv_range, &j);
    free(wk);
    return CFP_OK;
}

static void dw_range(void *arg, int64_t begin, int64_t end, int tid) {
    const conv_job *j = arg;
    const cfp_conv_params *p = j->p;
    for (int64_t it = begin; it < end; it++) { /* it = n * M + m */
        int64_t n = it / p->M, m = it % p->M, g = m / j->Mpg;
        const float *x = j->x + (n * p->C + g) * j->ISP;
        float bias = j->b ? j->b[m] : 0.0f;
        if (j->scratch) {
            float *xp = j->scratch + (size_t)tid * j->per_thread;
            dw_channel_flat(p, x, j->w + m * j->K, bias, j->y + it * j->OSP, xp, xp + j->P);
        } else {
            dw_channel(p, x, j->w + m * j->K, bias, j->y + it * j->OSP);
        }
    }
}

typedef struct {
    const cfp_conv_params *p;
    const float *x;
    float *col;
    int64_t Cpg, p0, p1, kvol, ISP;
} unfold_job;

/* im2col of channels [begin, end) of one panel */
static void unfold_range(void *arg, int64_t begin, int64_t end, int tid) {
    const unfold_job *u = arg;
    im2col3(u->p, u->x + begin * u->ISP, end - begin, u->p0, u->p1,
            u->col + begin * u->kvol * (u->p1 - u->p0));
}

int cfp_conv_fast(cfp_pool *pool, const cfp_conv_params *p, const float *x, const float *w,
                  const float *b, float *y) {
    cfp_blas_init();
    conv_job j = {.p = p, .x = x, .w = w, .b = b, .y = y};
    j.Cpg = p->C / p->group;
    j.Mpg = p->M / p->group;
    j.K = j.Cpg * p->k[0] * p->k[1] * p->k[2];
    j.ISP = p->in[0] * p->in[1] * p->in[2];
    j.OSP = p->out[0] * p->out[1] * p->out[2];
    if (p->N == 0 || p->M == 0 || j.OSP == 0) return CFP_OK;
    if (j.Cpg == 0 || j.K == 0) {
        /* no input channels: the output is the bias */
        for (int64_t n = 0; n < p->N; n++)
            for (int64_t m = 0; m < p->M; m++)
                for (int64_t q = 0; q < j.OSP; q++) y[(n * p->M + m) * j.OSP + q] = b ? b[m] : 0.0f;
        return CFP_OK;
    }
    int threads = g_pool_panels ? cfp_pool_threads(pool) : 1;

    if (j.Cpg == 1 && j.K > 1) {
        /* depth-wise (any channel multiplier): direct loops per channel; unit
         * h/w strides use padded planes (scratch: xp then yp, P = xp size) */
        if (p->stride[1] == 1 && p->stride[2] == 1) {
            int64_t Hp = p->in[1] + p->pad_b[1] + p->pad_e[1];
            int64_t Wp = p->in[2] + p->pad_b[2] + p->pad_e[2];
            j.P = (p->in[0] * Hp * Wp + 15) / 16 * 16;
            j.per_thread = (size_t)j.P + (size_t)(p->out[1] * Wp + 16);
            j.scratch = cfp_aligned_alloc(j.per_thread * sizeof(float) * (size_t)threads);
            if (!j.scratch) return CFP_E_NOMEM;
        }
        cfp_parallel_for(g_pool_panels ? pool : NULL, p->N * p->M, 1, dw_range, &j);
        free(j.scratch);
        return CFP_OK;
    }

    if (cfp_conv_is_temporal(p) && g_tconv) return conv_temporal(pool, p, x, w, b, y);

    j.pointwise = p->k[0] == 1 && p->k[1] == 1 && p->k[2] == 1 && p->stride[0] == 1 &&
                  p->stride[1] == 1 && p->stride[2] == 1 && p->pad_b[0] == 0 &&
                  p->pad_b[1] == 0 && p->pad_b[2] == 0 && p->pad_e[0] == 0 &&
                  p->pad_e[1] == 0 && p->pad_e[2] == 0;
    /* panel width: an im2col buffer of about panel_bytes per thread */
    size_t budget = g_panel_bytes ? g_panel_bytes : CFP_CONV_PANEL_BYTES;
    int64_t P = j.pointwise ? 2048 : (int64_t)(budget / sizeof(float) / (size_t)j.K);
    P = P >= 64 ? P / 16 * 16 : 64;
    if (P > j.OSP) P = j.OSP;
    if (threads > 1 && P < j.OSP) {
        /* panels of equal width, as many per thread: 6272 columns in 2048s
         * left one thread a 128-column panel and the other twice its work */
        int64_t np = (j.OSP + P - 1) / P, per = p->N * p->group;
        while ((np * per) % threads) np++;
        P = ((j.OSP + np - 1) / np + 15) / 16 * 16;
        if (P > j.OSP) P = j.OSP;
    }
    int64_t items = p->N * p->group * ((j.OSP + P - 1) / P);
    if (threads <= 1 || items >= 2 * (int64_t)threads) {
        /* many panels: each thread unfolds and multiplies its own */
        j.P = P;
        j.npanels = (j.OSP + P - 1) / P;
        if (!j.pointwise) {
            j.per_thread = ((size_t)j.K * (size_t)P + 15) / 16 * 16;
            j.scratch = cfp_aligned_alloc(j.per_thread * sizeof(float) * (size_t)threads);
            if (!j.scratch) return CFP_E_NOMEM;
        }
        cfp_parallel_for(g_pool_panels ? pool : NULL, items, 1, conv_panels, &j);
        free(j.scratch);
        return CFP_OK;
    }
    /* Few output positions (late layers: large K, large weights): panels one
     * at a time, each unfolded by all threads and multiplied with the output
     * channels split across threads, so the weights are packed once. */
    int64_t Pb = (int64_t)(((size_t)4 * CFP_CONV_PANEL_BYTES) / sizeof(float) / (size_t)j.K);
    if (Pb < P) Pb = P;
    if (Pb > j.OSP) Pb = j.OSP;
    float *col = NULL;
    if (!j.pointwise) {
        col = cfp_aligned_alloc((size_t)j.K * (size_t)Pb * sizeof(float));
        if (!col) return CFP_E_NOMEM;
    }
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t g = 0; g < p->group; g++)
            for (int64_t p0 = 0; p0 < j.OSP; p0 += Pb) {
                int64_t p1 = p0 + Pb < j.OSP ? p0 + Pb : j.OSP, np = p1 - p0;
                const float *xg = x + (n * p->C + g * j.Cpg) * j.ISP;
                float *yg = y + (n * p->M + g * j.Mpg) * j.OSP + p0;
                const float *B = xg + p0;
                int64_t ldb = j.ISP;
                if (!j.pointwise) {
                    unfold_job u = {p, xg, col, j.Cpg, p0, p1, j.K / j.Cpg, j.ISP};
                    cfp_parallel_for(pool, j.Cpg, 1, unfold_range, &u);
                    B = col;
                    ldb = np;
                }
                cfp_sgemm_par(pool, 0, 0, j.Mpg, np, j.K, 1.0f, w + g * j.Mpg * j.K, j.K, B,
                              ldb, 0.0f, yg, j.OSP);
                if (b)
                    for (int64_t mm = 0; mm < j.Mpg; mm++) {
                        float bv = b[g * j.Mpg + mm], *yr = yg + mm * j.OSP;
                        for (int64_t q = 0; q < np; q++) yr[q] += bv;
                    }
            }
    free(col);
    return CFP_OK;
}

/* ---- window attributes (Conv and the pooling operators) ----------------------- */

int cfp_window_auto_pad(cfp_model *m, cfp_node *n, int *auto_pad) {
    const char *ap = cfp_attr_s(n, "auto_pad", "NOTSET");
    *auto_pad = cfp_parse_auto_pad(ap);
    if (*auto_pad < 0)
        return cfp_node_fail(m, n, CFP_E_INVALID,
                             "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '%s'",
                             ap);
    return CFP_OK;
}

int cfp_window_attrs_read(cfp_model *m, cfp_node *n, bool kernel_required, cfp_window_attrs *w) {
    w->nk = cfp_attr_ints(n, "kernel_shape", w->k, CFP_MAX_SPATIAL);
    w->ns = cfp_attr_ints(n, "strides", w->s, CFP_MAX_SPATIAL);
    w->nd = cfp_attr_ints(n, "dilations", w->d, CFP_MAX_SPATIAL);
    w->np = cfp_attr_ints(n, "pads", w->pads, 2 * CFP_MAX_SPATIAL);
    if (w->nk == -2 || w->ns == -2 || w->nd == -2 || w->np == -2)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "more than %d spatial dims in kernel_shape/strides/dilations/pads",
                             CFP_MAX_SPATIAL);
    if (kernel_required && w->nk < 1)
        return cfp_node_fail(m, n, CFP_E_INVALID, "attribute kernel_shape is required");
    for (int i = 0; i < w->nk; i++)
        if (w->k[i] < 1)
            return cfp_node_fail(m, n, CFP_E_INVALID, "kernel_shape[%d] must be >= 1, got %lld",
                                 i, (long long)w->k[i]);
    for (int i = 0; i < w->ns; i++)
        if (w->s[i] < 1)
            return cfp_node_fail(m, n, CFP_E_INVALID, "strides[%d] must be >= 1, got %lld", i,
                                 (long long)w->s[i]);
    for (int i = 0; i < w->nd; i++)
        if (w->d[i] < 1)
            return cfp_node_fail(m, n, CFP_E_INVALID, "dilations[%d] must be >= 1, got %lld", i,
                                 (long long)w->d[i]);
    for (int i = 0; i < w->np; i++)
        if (w->pads[i] < 0)
            return cfp_node_fail(m, n, CFP_E_INVALID, "pads[%d] must be >= 0, got %lld", i,
                                 (long long)w->pads[i]);
    return CFP_OK;
}

int cfp_window_attrs_check(cfp_model *m, cfp_node *n, const cfp_window_attrs *w, int nsp) {
    if (w->ns >= 0 && w->ns != nsp)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "strides has %d values, expected %d", w->ns, nsp);
    if (w->nd >= 0 && w->nd != nsp)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "dilations has %d values, expected %d", w->nd,
                             nsp);
    if (w->np >= 0 && w->np != 2 * nsp)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "pads has %d values, expected %d", w->np,
                             2 * nsp);
    return CFP_OK;
}

/* ---- the Conv operator ------------------------------------------------------ */

typedef struct {
    int auto_pad;
    int64_t group;
    cfp_window_attrs w;
    cfp_conv_params p; /* set by reshape */
    /* oneDNN primitive for p, made by conv_warm before the first run after
     * reshape (not at reshape: `cfp info` infers shapes without running);
     * NULL: our kernels */
    cfp_dnnl_conv *dn;
    bool dn_tried;
    /* the Relu fused into the conv (oneDNN's way out, or a pass after our
     * kernels): the output's only consumer, and the node that runs next (so
     * nothing can run between and reuse its memory); or NULL */
    cfp_node *relu;
} conv_state;

static int conv_prepare(cfp_model *m, cfp_node *n) {
    conv_state *st = calloc(1, sizeof *st);
    if (!st) return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
    n->state = st;
    int rc = cfp_window_auto_pad(m, n, &st->auto_pad);
    if (rc) return rc;
    st->group = cfp_attr_i(n, "group", 1);
    if (st->group < 1)
        return cfp_node_fail(m, n, CFP_E_INVALID, "group must be >= 1, got %lld",
                             (long long)st->group);
    return cfp_window_attrs_read(m, n, false, &st->w);
}

static int conv_reshape(cfp_model *m, cfp_node *n) {
    conv_state *st = n->state;
    cfp_value *X = cfp_in(m, n, 0), *W = cfp_in(m, n, 1), *B = cfp_in(m, n, 2);
    char b1[128], b2[128];
    if (!X || !W) return cfp_node_fail(m, n, CFP_E_INVALID, "expected inputs X and W");
    const cfp_value *ins[3] = {X, W, B};
    for (int i = 0; i < 3; i++)
        if (ins[i] && ins[i]->t.dtype != CFP_F32)
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                 "input %d ('%s'): only float32 is supported, got %s", i,
                                 ins[i]->name, cfp_dtype_name(ins[i]->t.dtype));
    const cfp_tensor *x = &X->t, *w = &W->t;
    if (x->ndim < 3)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "X must have rank >= 3 (N, C, spatial...), got %s",
                             cfp_shape_str(x, b1, sizeof b1));
    int nsp = x->ndim - 2;
    if (nsp > CFP_MAX_SPATIAL)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "only 1-D, 2-D and 3-D convolutions are supported, X is %s",
                             cfp_shape_str(x, b1, sizeof b1));
    if (w->ndim != x->ndim)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "W (%s) must have the rank of X (%s)",
                             cfp_shape_str(w, b1, sizeof b1), cfp_shape_str(x, b2, sizeof b2));
    int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], G = st->group;
    if (C % G || w->dims[1] != C / G)
        return cfp_node_fail(m, n, CFP_E_SHAPE,
                             "X has %lld channels and group is %lld: W (%s) must have %lld "
                             "channels in dim 1",
                             (long long)C, (long long)G, cfp_shape_str(w, b1, sizeof b1),
                             (long long)(C % G ? -1 : C / G));
    if (M % G)
        return cfp_node_fail(m, n, CFP_E_SHAPE,
                             "output channels (%lld) must be a multiple of group (%lld)",
                             (long long)M, (long long)G);
    if (B && (B->t.ndim != 1 || B->t.dims[0] != M))
        return cfp_node_fail(m, n, CFP_E_SHAPE, "B must have shape (%lld), got %s", (long long)M,
                             cfp_shape_str(&B->t, b1, sizeof b1));
    if (st->w.nk >= 0) {
        if (st->w.nk != nsp)
            return cfp_node_fail(m, n, CFP_E_SHAPE,
                                 "kernel_shape has %d values, expected %d for X of %s", st->w.nk,
                                 nsp, cfp_shape_str(x, b1, sizeof b1));
        for (int i = 0; i < nsp; i++)
            if (st->w.k[i] != w->dims[2 + i])
                return cfp_node_fail(m, n, CFP_E_SHAPE, "kernel_shape does not match W (%s)",
                                     cfp_shape_str(w, b1, sizeof b1));
    }
    int rc = cfp_window_attrs_check(m, n, &st->w, nsp);
    if (rc) return rc;
    for (int i = 0; i < nsp; i++)
        if (w->dims[2 + i] < 1)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "W (%s) has an empty kernel",
                                 cfp_shape_str(w, b1, sizeof b1));
    cfp_dnnl_conv_free(st->dn);
    st->dn = NULL;
    st->dn_tried = false;
    st->relu = NULL;
    rc = cfp_conv_setup(&st->p, nsp, N, C, M, G, x->dims + 2, w->dims + 2,
                            st->w.ns >= 0 ? st->w.s : NULL, st->w.nd >= 0 ? st->w.d : NULL,
                            st->w.np >= 0 ? st->w.pads : NULL, st->auto_pad);
    if (rc)
        return cfp_node_fail(m, n, CFP_E_SHAPE,
                             "the kernel (W %s, with dilations) does not fit X (%s) plus pads",
                             cfp_shape_str(w, b1, sizeof b1), cfp_shape_str(x, b2, sizeof b2));
    {
        const cfp_conv_params *p = &st->p;
        int64_t K = (C / G) * p->k[0] * p->k[1] * p->k[2];
        int64_t osp = p->out[0] * p->out[1] * p->out[2], isp = p->in[0] * p->in[1] * p->in[2];
        if (K > INT_MAX || osp > INT_MAX || isp > INT_MAX || M / G > INT_MAX)
            return cfp_node_fail(m, n, CFP_E_LIMIT,
                                 "a per-channel size exceeds the BLAS int range (X %s, W %s)",
                                 cfp_shape_str(x, b1, sizeof b1), cfp_shape_str(w, b2, sizeof b2));
    }
    int64_t od[CFP_MAX_DIMS];
    od[0] = N;
    od[1] = M;
    for (int i = 0; i < nsp; i++) od[2 + i] = st->p.out[3 - nsp + i];
    rc = cfp_tensor_shape(&cfp_out(m, n, 0)->t, CFP_F32, x->ndim, od);
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    return CFP_OK;
}

/* The Relu that can be computed on the way out of a oneDNN conv: the only
 * consumer of its output, float, and the next node to run. */
static cfp_node *fusable_relu(cfp_model *m, cfp_node *n) {
    cfp_value *y = cfp_out(m, n, 0);
    if (!y || y->n_consumers != 1 || y->t.dtype != CFP_F32) return NULL;
    cfp_node *r = &m->nodes[y->consumers[0]];
    if (strcmp(r->op_type, "Relu") || (r->domain && r->domain[0] && strcmp(r->domain, "ai.onnx")) ||
        r->folded || r->n_in != 1 || r->n_out != 1 || cfp_in(m, r, 0) != y)
        return NULL;
    cfp_value *o = cfp_out(m, r, 0);
    if (!o || o->t.dtype != CFP_F32 || o->t.nbytes != y->t.nbytes) return NULL;
    for (int i = n->index + 1; i < m->n_nodes; i++)
        if (!m->nodes[i].folded) return &m->nodes[i] == r ? r : NULL;
    return NULL;
}

static int conv_warm(cfp_model *m, cfp_node *n) {
    conv_state *st = n->state;
    cfp_value *W = cfp_in(m, n, 1), *B = cfp_in(m, n, 2);
    if (st->dn_tried) return CFP_OK;
    st->dn_tried = true;
    int rc = cfp_value_restore(m, W); /* after a new shape, from the file again */
    if (rc) return rc;
    /* constant weights only: they are reordered once */
    if (W->is_const && (!B || B->is_const))
        st->dn = cfp_dnnl_conv_new(&st->p, W->t.data, B ? B->t.data : NULL, m->ctx->threads);
    /* The weights now live reordered in the oneDNN primitive: their pages
     * (the file's, or a copy's) leave our resident memory; the pyramid
     * reads the tap means kept instead. */
    if (st->dn) cfp_weight_release(m, W, st->p.k[0] * st->p.k[1] * st->p.k[2]);
    st->relu = fusable_relu(m, n);
    return CFP_OK;
}

static int conv_run(cfp_model *m, cfp_node *n) {
    conv_state *st = n->state;
    cfp_value *B = cfp_in(m, n, 2);
    int rc = conv_warm(m, n);
    if (rc) return rc;
    if (st->dn) {
        cfp_value *y = cfp_out(m, n, 0), *r = st->relu ? cfp_out(m, st->relu, 0) : NULL;
        int pooled = !m->keep_none && y->pooled && (!r || r->pooled);
        /* with a fused Relu nothing reads y in the pass: left to be computed
         * if a map asks (the pre-Relu maps of a few layers, cfp_value_materialize),
         * which saves writing (and first touching) the largest outputs twice */
        y->lazy = r && !y->is_output;
        if (cfp_dnnl_conv_run(st->dn, m->ctx->pool, cfp_in(m, n, 0)->t.data, y->lazy ? NULL : y->t.data,
                              r ? r->t.data : NULL, pooled ? y->pooled : NULL, pooled && r ? r->pooled : NULL))
            return cfp_node_fail(m, n, CFP_E_NOMEM, "oneDNN convolution failed (out of memory?)");
        n->pooled_done = pooled;
        if (r) st->relu->skip_run = true;
        return CFP_OK;
    }
    /* Our kernels with a Relu after, keeping values: the conv writes into the
     * Relu's output, which one pass then rectifies in place while summing
     * both means; the conv's own output is left lazy as on oneDNN's path. */
    cfp_value *y = cfp_out(m, n, 0), *r = st->relu ? cfp_out(m, st->relu, 0) : NULL;
    y->lazy = r && !m->keep_none && y->pooled && r->pooled && !y->is_output && cfp_tensor_numel(&y->t) > 0;
    rc = cfp_conv_fast(m->ctx->pool, &st->p, cfp_in(m, n, 0)->t.data, cfp_in(m, n, 1)->t.data,
                       B ? B->t.data : NULL, y->lazy ? r->t.data : y->t.data);
    if (rc) {
        y->lazy = false;
        return cfp_node_fail(m, n, rc, "out of memory for the im2col buffer");
    }
    if (y->lazy) {
        int64_t S = cfp_tensor_numel(&y->t) / (st->p.N * st->p.M);
        cfp_relu_inplace_means(m->ctx->pool, r->t.data, st->p.N, st->p.M, S, y->pooled, r->pooled);
        n->pooled_done = true;
        st->relu->skip_run = true;
    }
    return CFP_OK;
}

static int conv_materialize(cfp_model *m, cfp_node *n) {
    conv_state *st = n->state;
    cfp_value *x = cfp_in(m, n, 0), *y = cfp_out(m, n, 0), *B = cfp_in(m, n, 2);
    if (st->dn) {
        if (cfp_dnnl_conv_run(st->dn, m->ctx->pool, x->t.data, y->t.data, NULL, NULL, NULL))
            return cfp_node_fail(m, n, CFP_E_NOMEM, "oneDNN convolution failed (out of memory?)");
        return CFP_OK;
    }
    int rc = cfp_conv_fast(m->ctx->pool, &st->p, x->t.data, cfp_in(m, n, 1)->t.data, B ? B->t.data : NULL, y->t.data);
    return rc ? cfp_node_fail(m, n, rc, "out of memory for the im2col buffer") : CFP_OK;
}

static void conv_release(cfp_node *n) {
    conv_state *st = n->state;
    if (st) cfp_dnnl_conv_free(st->dn);
    free(n->state);
    n->state = NULL;
}

const cfp_op cfp_ops_conv[] = {
    {"Conv", 1, conv_prepare, conv_reshape, conv_run, conv_release, conv_warm, conv_materialize},
    {0},
};
