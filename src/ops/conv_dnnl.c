/* Conv through oneDNN (Debian's libdnnl, the library PyTorch's CPU convs
 * use): its brgemm convolution kernels (AVX-512 / AVX2, JIT-compiled for
 * the CPU at hand) work on channels-last data (NDHWC), where they beat
 * im2col + SGEMM on 3D convs (docs/benchmarks.md).
 *
 * The rest of the engine, and the kept activations the pyramid reads, stay
 * in plain NCDHW: each run transposes the input to NDHWC, convolves, and
 * transposes the result back into the node's output. The way back also
 * writes the output of a Relu that follows (the conv's only consumer, run
 * next) and the per-channel means of both, so the output is read once. The
 * weights are reordered once, at the first run, into memory of our own;
 * the model's copy is then given back (cfp_weight_release: the pyramid
 * reads their tap means, anything else gets them back from the file).
 *
 * Threads are ours, not OpenMP's: the output depth is cut into slabs, each
 * a convolution of its own (with the input slab it reads and the padding at
 * its ends) that one pool thread runs with oneDNN on one thread. OpenMP's
 * spinning barriers, once per primitive and reorder, cost more than the
 * convolutions gain on a machine whose cores are shared. A large output is
 * cut into more slabs than threads (about 4 MB each), and each thread turns
 * its slab back to NCDHW right after convolving it, so the NDHWC buffer is
 * one slab per thread. With fewer output planes than threads, one primitive
 * runs on OpenMP threads.
 *
 * oneDNN is only used where it picks one of its fast implementations; its
 * reference and im2col-GEMM ones lose to cfp_conv_fast, which then runs
 * instead (cfp_dnnl_conv_new returns NULL), as it does for 1x1x1, depth-wise
 * and temporal (kd x 1 x 1) convs, which it runs without transposes.
 * CFP_CONV=gemm turns oneDNN off (for comparisons); CFP_PROFILE=1 prints the
 * time of each part. */
#include "conv_kernels.h"

#include <cblas.h>
#include <dlfcn.h>
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#define MAX_PARTS 16
#define SLAB_BYTES ((double)(4 << 20)) /* NDHWC output per slab, at most (about) */
static double g_slab_bytes = SLAB_BYTES;

void cfp_dnnl_tune(size_t slab_bytes) { g_slab_bytes = slab_bytes ? (double)slab_bytes : SLAB_BYTES; }

typedef struct {
    dnnl_primitive_t conv;
    dnnl_memory_t x, w, b, y;
    dnnl_stream_t stream;
    int64_t od0, id0; /* first output plane, first input plane read */
    float *w_data;    /* blocked weights, ours; NULL: shares part 0's */
    size_t w_len;     /* bytes of w_data (cfp_big_alloc) */
} part;

struct cfp_dnnl_conv {
    cfp_conv_params p;
    int n_parts, omp_threads;
    part parts[MAX_PARTS];
};

static dnnl_engine_t g_engine;
static void (*g_omp_set_num_threads)(int);
static int g_enabled;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* the scratch */
static float *g_scratch[3];
static size_t g_scratch_len[3];

static int g_profile; /* CFP_PROFILE=1 (see engine.c): where a conv's time goes */
static int g_avx512;
static int g_dnnl_sgemm = 1; /* CFP_SGEMM=blas: OpenBLAS even with oneDNN on (comparisons) */

static void init_once(void) {
    g_avx512 = __builtin_cpu_supports("avx512f");
    g_profile = getenv("CFP_PROFILE") && atoi(getenv("CFP_PROFILE")) > 0;
    const char *sg = getenv("CFP_SGEMM");
    g_dnnl_sgemm = !(sg && strcmp(sg, "blas") == 0);
    const char *e = getenv("CFP_CONV");
    if (e && strcmp(e, "gemm") == 0) return;
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) return;
    /* libgomp comes with libdnnl; looked up so that we need not link it */
    *(void **)&g_omp_set_num_threads = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    g_enabled = 1;
}

static void omp_threads(int n) {
    static __thread int current;
    if (current != n && g_omp_set_num_threads) g_omp_set_num_threads(n);
    current = n;
}

void cfp_sgemm1(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                int64_t ldc) {
    pthread_once(&g_once, init_once);
    if (g_enabled && g_dnnl_sgemm) {
        omp_threads(1);
        if (dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C,
                       ldc) == dnnl_success)
            return;
    }
    cfp_blas_init();
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static void cfp_dnnl_conv_free_parts(cfp_dnnl_conv *c) {
    for (int i = 0; i < MAX_PARTS; i++) {
        part *q = &c->parts[i];
        dnnl_primitive_destroy(q->conv);
        dnnl_memory_destroy(q->x);
        dnnl_memory_destroy(q->w);
        dnnl_memory_destroy(q->b);
        dnnl_memory_destroy(q->y);
        dnnl_stream_destroy(q->stream);
        cfp_big_free(q->w_data, q->w_len);
        memset(q, 0, sizeof *q);
    }
}

void cfp_dnnl_conv_free(cfp_dnnl_conv *c) {
    if (!c) return;
    cfp_dnnl_conv_free_parts(c);
    free(c);
}

static int fast_impl(const char *impl) {
    /* "ref:any", "gemm:jit", "x64:gemm:jit" lose to our im2col path */
    return impl && !strstr(impl, "ref") && !strstr(impl, "gemm:");
}

/* One slab: output planes [od0, od1) of batch item 0 (every item runs the
 * same primitives). */
static int make_part(cfp_dnnl_conv *c, part *q, int64_t od0, int64_t od1, const float *w,
                     const float *b, int threads) {
    const cfp_conv_params *p = &c->p;
    const int64_t G = p->group, ek = (p->k[0] - 1) * p->dil[0] + 1;
    int64_t lo = od0 * p->stride[0] - p->pad_b[0], hi = (od1 - 1) * p->stride[0] - p->pad_b[0] + ek;
    int64_t a = lo < 0 ? 0 : lo, e = hi > p->in[0] ? p->in[0] : hi;
    if (e <= a) return -1; /* the slab reads only padding */
    q->od0 = od0;
    q->id0 = a;
    dnnl_dims_t xd = {1, p->C, e - a, p->in[1], p->in[2]};
    dnnl_dims_t yd = {1, p->M, od1 - od0, p->out[1], p->out[2]};
    dnnl_dims_t wd, bd = {p->M};
    dnnl_dims_t st = {p->stride[0], p->stride[1], p->stride[2]};
    dnnl_dims_t dl = {p->dil[0] - 1, p->dil[1] - 1, p->dil[2] - 1}; /* oneDNN: 0 = dense */
    dnnl_dims_t pl = {a - lo, p->pad_b[1], p->pad_b[2]};
    dnnl_dims_t pr = {hi - e, p->pad_e[1], p->pad_e[2]};
    int wnd = G == 1 ? 5 : 6;
    if (G == 1) {
        int64_t t[5] = {p->M, p->C, p->k[0], p->k[1], p->k[2]};
        memcpy(wd, t, sizeof t);
    } else {
        int64_t t[6] = {G, p->M / G, p->C / G, p->k[0], p->k[1], p->k[2]};
        memcpy(wd, t, sizeof t);
    }
    dnnl_memory_desc_t xu, yu, wu, bu, wa;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    const char *impl = NULL;
    int rc = -1;
    if (dnnl_memory_desc_init_by_tag(&xu, 5, xd, dnnl_f32, dnnl_ndhwc) ||
        dnnl_memory_desc_init_by_tag(&yu, 5, yd, dnnl_f32, dnnl_ndhwc) ||
        dnnl_memory_desc_init_by_tag(&wu, wnd, wd, dnnl_f32, G == 1 ? dnnl_oidhw : dnnl_goidhw) ||
        dnnl_memory_desc_init_by_tag(&bu, 1, bd, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(&wa, wnd, wd, dnnl_f32, dnnl_format_tag_any))
        return -1;
    if (dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                   dnnl_convolution_direct, &xu, &wa,
                                                   b ? &bu : NULL, &yu, st, dl, pl, pr))
        return -1;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, g_engine, NULL)) return -1;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) || !fast_impl(impl))
        goto out;
    const dnnl_memory_desc_t *wb = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (dnnl_primitive_create(&q->conv, pd) || dnnl_stream_create(&q->stream, g_engine, dnnl_stream_default_flags) ||
        dnnl_memory_create(&q->x, &xu, g_engine, DNNL_MEMORY_NONE) ||
        dnnl_memory_create(&q->y, &yu, g_engine, DNNL_MEMORY_NONE))
        goto out;
    if (b && dnnl_memory_create(&q->b, &bu, g_engine, (void *)b)) goto out;
    /* the weights: part 0's when the layout is the same, else reordered */
    part *q0 = &c->parts[0];
    void *wdata = NULL;
    if (q != q0 && q0->w) {
        const dnnl_memory_desc_t *w0;
        if (!dnnl_memory_get_memory_desc(q0->w, &w0) && dnnl_memory_desc_equal(wb, w0))
            wdata = q0->w_data;
    }
    if (!wdata) {
        q->w_len = dnnl_memory_desc_get_size(wb) + 64;
        q->w_data = cfp_big_alloc(q->w_len);
        if (!q->w_data) goto out;
        wdata = q->w_data;
        dnnl_memory_t wuser = NULL, wblk = NULL;
        dnnl_primitive_desc_t rpd = NULL;
        dnnl_primitive_t r = NULL;
        int bad = dnnl_memory_create(&wuser, &wu, g_engine, (void *)w) ||
                  dnnl_memory_create(&wblk, wb, g_engine, wdata) ||
                  dnnl_reorder_primitive_desc_create(&rpd, &wu, g_engine, wb, g_engine, NULL) ||
                  dnnl_primitive_create(&r, rpd);
        if (!bad) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wuser}, {DNNL_ARG_TO, wblk}};
            omp_threads(threads);
            bad = dnnl_primitive_execute(r, q->stream, 2, args) || dnnl_stream_wait(q->stream);
        }
        if (rpd) dnnl_primitive_desc_destroy(rpd);
        dnnl_primitive_destroy(r);
        dnnl_memory_destroy(wuser);
        dnnl_memory_destroy(wblk);
        if (bad) goto out;
    }
    if (dnnl_memory_create(&q->w, wb, g_engine, wdata)) goto out;
    rc = 0;
out:
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

cfp_dnnl_conv *cfp_dnnl_conv_new(const cfp_conv_params *p, const float *w, const float *b,
                                 int threads) {
    pthread_once(&g_once, init_once);
    if (!g_enabled || p->N < 1 || threads < 1) return NULL;
    int pw = p->k[0] * p->k[1] * p->k[2] == 1 && p->stride[0] * p->stride[1] * p->stride[2] == 1 &&
             !(p->pad_b[0] | p->pad_b[1] | p->pad_b[2] | p->pad_e[0] | p->pad_e[1] | p->pad_e[2]);
    /* 1x1x1 at stride 1: one SGEMM over the NCDHW data as it is
     * (cfp_conv_fast) beats transposing in and out (measured: s3d) */
    if (pw) return NULL;
    /* depth-wise: our direct kernel on NCDHW needs no transposes and wins
     * (x3d_m: 0.55x with oneDNN) */
    if (p->C == p->group) return NULL;
    /* temporal (kd x 1 x 1): GEMMs on the NCDHW planes, no transposes (cfp_conv_fast) */
    if (cfp_conv_temporal_on(p)) return NULL;
    cfp_dnnl_conv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->p = *p;
    int64_t OD = p->out[0];
    int n = threads > MAX_PARTS ? MAX_PARTS : threads;
    if (OD < n) n = 1;
    /* more slabs than threads when the output is large: each thread turns
     * its slab back to NCDHW right after convolving it, so the NDHWC buffer
     * is a slab per thread, not the whole output (peak memory), and is
     * still in cache */
    if (n > 1) {
        double bytes = (double)p->M * (double)(p->out[0] * p->out[1] * p->out[2]) * sizeof(float);
        int want = (int)(bytes / g_slab_bytes) + 1;
        want = (want + n - 1) / n * n;
        if (want > MAX_PARTS) want = MAX_PARTS;
        if (want > OD) want = (int)OD;
        if (want > n) n = want;
    }
    struct timespec tc0, tc1;
    clock_gettime(CLOCK_MONOTONIC, &tc0);
    for (int tries = 0; tries < 2; tries++) {
        c->n_parts = n;
        c->omp_threads = n == 1 ? threads : 1;
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            int64_t od0 = OD * i / n, od1 = OD * (i + 1) / n;
            if (make_part(c, &c->parts[i], od0, od1, w, b, threads)) ok = 0;
        }
        if (ok) {
            clock_gettime(CLOCK_MONOTONIC, &tc1);
            if (g_profile)
                fprintf(stderr, "profile oneDNN: %d part%s made in %.3f ms\n", n, n == 1 ? "" : "s",
                        (tc1.tv_sec - tc0.tv_sec) * 1e3 + (tc1.tv_nsec - tc0.tv_nsec) * 1e-6);
            return c;
        }
        cfp_dnnl_conv_free_parts(c);
        int t = threads > MAX_PARTS ? MAX_PARTS : threads; /* a thin slab read only padding: as before */
        if (n == (OD < t ? 1 : t)) break;
        n = OD < t ? 1 : t;
    }
    cfp_dnnl_conv_free(c);
    return NULL;
}

/* ---- layout ------------------------------------------------------------------ */

typedef struct {
    const float *src; /* C x S (NCDHW) */
    float *dst;       /* S x C (NDHWC) */
    int64_t C, S;     /* channels, spatial size */
} tr_job;

/* r[0..15] (16 rows of 16) into its transpose, in registers (t: scratch) */
__attribute__((target("avx512f"), always_inline)) static inline void transpose16(__m512 *r, __m512 *t) {
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
            t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
}

/* dst[j * ld_dst + i] = src[i * ld_src + j] for a 16 x 16 tile */
__attribute__((target("avx512f"))) static void tile16_avx512(const float *src, int64_t ls,
                                                             float *dst, int64_t ld) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ls);
    transpose16(r, t);
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * ld, r[i]);
}

static void tile_scalar(const float *src, int64_t ls, float *dst, int64_t ld, int64_t rows,
                        int64_t cols) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * ld + i] = src[i * ls + j];
}

/* NCDHW -> NDHWC of one batch item (the way in; the way out is out_range):
 * a (C x S) matrix into its transpose, in blocks of 16 rows x 256 columns,
 * [b, e) of them */
#define TR_COLS 256
static void transpose_range(void *arg, int64_t b, int64_t e, int tid) {
    const tr_job *j = arg;
    const int64_t R = j->C, Cn = j->S;
    const int64_t ncb = (Cn + TR_COLS - 1) / TR_COLS;
    for (int64_t it = b; it < e; it++) {
        int64_t i0 = it / ncb * 16, ni = R - i0 < 16 ? R - i0 : 16;
        int64_t cb = it % ncb * TR_COLS, ce = cb + TR_COLS < Cn ? cb + TR_COLS : Cn;
        for (int64_t c0 = cb; c0 < ce; c0 += 16) {
            int64_t nc = ce - c0 < 16 ? ce - c0 : 16;
            const float *s = j->src + i0 * Cn + c0;
            float *d = j->dst + c0 * R + i0;
            if (g_avx512 && ni == 16 && nc == 16) tile16_avx512(s, Cn, d, R);
            else tile_scalar(s, Cn, d, R, ni, nc);
        }
    }
}

static void to_channels_last(cfp_pool *pool, const float *src, float *dst, int64_t C, int64_t S) {
    tr_job j = {src, dst, C, S};
    cfp_parallel_for(pool, (C + 15) / 16 * ((S + TR_COLS - 1) / TR_COLS), 1, transpose_range, &j);
}

/* The way out, fused: yt (S x C, NDHWC) into y (C x S, NCDHW) and, when
 * r is given, max(y, 0) into r too (a following Relu, which then need not
 * run); with acc, each thread's per-channel sums of y (and of r) go to
 * acc[tid][0][c] (and acc[tid][1][c]), for the pooled activations. Reading
 * the conv output once instead of three to four times (Relu, the two means). */
typedef struct {
    const float *src; /* S x C */
    float *dst, *relu; /* C x S, channel c at c * ld; dst NULL: not written (means only) */
    int64_t C, S, ld;
    double *acc; /* [threads][2][C] or NULL */
} out_job;

__attribute__((target("avx512f"))) static void out_tile_avx512(const out_job *j, int64_t i0,
                                                               int64_t c0, int tid) {
    const int64_t S = j->ld, C = j->C;
    const float *src = j->src + i0 * C + c0;
    __m512 r[16], t[16];
    for (int pass = 0; pass < (j->relu ? 2 : 1); pass++) {
        for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * C);
        if (pass) {
            __m512 z = _mm512_setzero_ps();
            for (int i = 0; i < 16; i++) r[i] = _mm512_max_ps(r[i], z);
        }
        if (j->acc) {
            __m512 a = r[0];
            for (int i = 1; i < 16; i++) a = _mm512_add_ps(a, r[i]);
            double *acc = j->acc + ((size_t)tid * 2 + (size_t)pass) * (size_t)C + c0;
            _mm512_storeu_pd(acc, _mm512_add_pd(_mm512_loadu_pd(acc), _mm512_cvtps_pd(_mm512_castps512_ps256(a))));
            _mm512_storeu_pd(acc + 8, _mm512_add_pd(_mm512_loadu_pd(acc + 8),
                                                    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)))));
        }
        if (!pass && !j->dst) continue;
        transpose16(r, t);
        float *d = (pass ? j->relu : j->dst) + c0 * S + i0;
        /* the outputs (tens of MB) are not read again before they leave the
         * cache: streaming stores skip reading each line before writing it */
        if ((((uintptr_t)d | (uintptr_t)S * sizeof(float)) & 63) == 0)
            for (int i = 0; i < 16; i++) _mm512_stream_ps(d + i * S, r[i]);
        else
            for (int i = 0; i < 16; i++) _mm512_storeu_ps(d + i * S, r[i]);
    }
}

static void out_tile_scalar(const out_job *j, int64_t i0, int64_t c0, int64_t ni, int64_t nc, int tid) {
    const int64_t S = j->ld, C = j->C;
    double *a0 = j->acc ? j->acc + (size_t)tid * 2 * (size_t)C : NULL, *a1 = a0 ? a0 + C : NULL;
    for (int64_t c = c0; c < c0 + nc; c++) {
        float s0 = 0, s1 = 0;
        for (int64_t i = i0; i < i0 + ni; i++) {
            float v = j->src[i * C + c], rv = v > 0.0f ? v : 0.0f;
            if (j->dst) j->dst[c * S + i] = v;
            s0 += v;
            if (j->relu) j->relu[c * S + i] = rv, s1 += rv;
        }
        if (a0) a0[c] += s0, a1[c] += s1;
    }
}

static void out_range(void *arg, int64_t b, int64_t e, int tid) {
    const out_job *j = arg;
    const int64_t ncb = (j->C + TR_COLS - 1) / TR_COLS;
    for (int64_t it = b; it < e; it++) {
        int64_t i0 = it / ncb * 16, ni = j->S - i0 < 16 ? j->S - i0 : 16;
        int64_t cb = it % ncb * TR_COLS, ce = cb + TR_COLS < j->C ? cb + TR_COLS : j->C;
        for (int64_t c0 = cb; c0 < ce; c0 += 16) {
            int64_t nc = ce - c0 < 16 ? ce - c0 : 16;
            if (g_avx512 && ni == 16 && nc == 16) out_tile_avx512(j, i0, c0, tid);
            else out_tile_scalar(j, i0, c0, ni, nc, tid);
        }
    }
    if (g_avx512) _mm_sfence(); /* the streaming stores, before anyone reads them */
}

typedef struct {
    cfp_dnnl_conv *c;
    float *xt, *yt; /* yt: the whole output, or (slabs) one slab per thread of slab floats */
    int64_t slab;
    const out_job *out; /* slabs: the way out, for the whole output */
    int fail;
} run_job;

static int64_t out_tiles(const out_job *o) { return (o->S + 15) / 16 * ((o->C + TR_COLS - 1) / TR_COLS); }

static void parts_range(void *arg, int64_t b, int64_t e, int tid) {
    run_job *j = arg;
    cfp_dnnl_conv *c = j->c;
    const cfp_conv_params *p = &c->p;
    const int64_t plane = p->out[1] * p->out[2];
    for (int64_t i = b; i < e; i++) {
        part *q = &c->parts[i];
        int64_t od1 = i + 1 < c->n_parts ? c->parts[i + 1].od0 : p->out[0];
        float *yt = j->slab ? j->yt + (size_t)tid * (size_t)j->slab : j->yt + q->od0 * plane * p->M;
        dnnl_memory_set_data_handle(q->x, j->xt + q->id0 * p->in[1] * p->in[2] * p->C);
        dnnl_memory_set_data_handle(q->y, yt);
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, q->x}, {DNNL_ARG_WEIGHTS, q->w}, {DNNL_ARG_DST, q->y},
                                {DNNL_ARG_BIAS, q->b}};
        omp_threads(c->omp_threads);
        if (dnnl_primitive_execute(q->conv, q->stream, q->b ? 4 : 3, a) || dnnl_stream_wait(q->stream)) {
            j->fail = 1;
            continue;
        }
        if (j->slab) { /* this slab's planes, back to NCDHW by this thread */
            out_job o = *j->out;
            o.src = yt;
            if (o.dst) o.dst += q->od0 * plane;
            if (o.relu) o.relu += q->od0 * plane;
            o.S = (od1 - q->od0) * plane;
            out_range(&o, 0, out_tiles(&o), tid);
        }
    }
}

static int grow(int i, size_t bytes) {
    if (g_scratch_len[i] >= bytes) return 0;
    cfp_big_free(g_scratch[i], g_scratch_len[i]);
    g_scratch[i] = cfp_big_alloc(bytes);
    g_scratch_len[i] = g_scratch[i] ? bytes : 0;
    return g_scratch[i] ? 0 : -1;
}

int cfp_dnnl_conv_run(cfp_dnnl_conv *c, cfp_pool *pool, const float *x, float *y, float *y_relu,
                      float *pooled_y, float *pooled_r) {
    const cfp_conv_params *p = &c->p;
    int64_t IS = p->in[0] * p->in[1] * p->in[2], OS = p->out[0] * p->out[1] * p->out[2];
    int threads = cfp_pool_threads(pool), rc = CFP_OK;
    /* slabs when there are more parts than threads: each thread's own NDHWC
     * buffer for the largest slab */
    int64_t slab = 0;
    if (c->n_parts > threads)
        for (int i = 0; i < c->n_parts; i++) {
            int64_t od1 = i + 1 < c->n_parts ? c->parts[i + 1].od0 : p->out[0];
            int64_t f = (od1 - c->parts[i].od0) * p->out[1] * p->out[2] * p->M;
            if (f > slab) slab = f;
        }
    pthread_mutex_lock(&g_mu);
    size_t acc_len = (size_t)threads * 2 * (size_t)p->M * sizeof(double);
    size_t y_len = slab ? (size_t)slab * (size_t)threads : (size_t)(OS * p->M);
    if (grow(0, (size_t)(IS * p->C) * sizeof(float)) || grow(1, y_len * sizeof(float)) ||
        (pooled_y && grow(2, acc_len))) {
        rc = CFP_E_NOMEM;
        goto out;
    }
    for (int64_t n = 0; n < p->N && !rc; n++) {
        struct timespec t0, t1, t2, t3;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        to_channels_last(pool, x + n * p->C * IS, g_scratch[0], p->C, IS);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* the means are of batch item 0 */
        double *acc = n == 0 && pooled_y ? (double *)(void *)g_scratch[2] : NULL;
        if (acc) memset(acc, 0, acc_len);
        out_job o = {g_scratch[1], y ? y + n * p->M * OS : NULL, y_relu ? y_relu + n * p->M * OS : NULL, p->M, OS,
                     OS, acc};
        run_job j = {c, g_scratch[0], g_scratch[1], slab, &o, 0};
        cfp_parallel_for(c->n_parts > 1 ? pool : NULL, c->n_parts, 1, parts_range, &j);
        clock_gettime(CLOCK_MONOTONIC, &t2);
        if (j.fail) rc = CFP_E_NOMEM;
        if (!slab) cfp_parallel_for(pool, out_tiles(&o), 1, out_range, &o);
        if (acc)
            for (int64_t ch = 0; ch < p->M; ch++) {
                double s0 = 0, s1 = 0;
                for (int t = 0; t < threads; t++) s0 += acc[(t * 2) * p->M + ch], s1 += acc[(t * 2 + 1) * p->M + ch];
                pooled_y[ch] = OS ? (float)(s0 / (double)OS) : 0.0f;
                if (pooled_r) pooled_r[ch] = OS ? (float)(s1 / (double)OS) : 0.0f;
            }
        clock_gettime(CLOCK_MONOTONIC, &t3);
#define MS(a, b) ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) * 1e-6)
        if (g_profile)
            fprintf(stderr, "profile oneDNN: transpose in %.3f ms, conv%s %.3f ms, transpose out%s %.3f ms\n",
                    MS(t0, t1), slab ? " + transpose out, in slabs" : "", MS(t1, t2), y_relu ? " + Relu" : "",
                    MS(t2, t3));
#undef MS
    }
out:
    pthread_mutex_unlock(&g_mu);
    return rc;
}
