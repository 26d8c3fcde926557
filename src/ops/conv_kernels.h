/* Internal convolution / pooling geometry and kernels, callable without a
 * graph (tests use them directly).
 *
 * Every kernel works on 3 spatial dims (d, h, w): a 1-D or 2-D problem is
 * lifted to 3-D by prepending spatial dims of size 1 (kernel 1, stride 1,
 * dilation 1, no padding), which changes neither the memory layout nor the
 * result. */
#ifndef CFP_CONV_KERNELS_H
#define CFP_CONV_KERNELS_H

#include "../cfp_internal.h"

#include <string.h>

#define CFP_MAX_SPATIAL 3

enum { CFP_PAD_NOTSET = 0, CFP_PAD_SAME_UPPER, CFP_PAD_SAME_LOWER, CFP_PAD_VALID };

typedef struct cfp_conv_params {
    int nsp;               /* spatial rank of the ONNX tensors (1..3) */
    int64_t N, C, M;       /* batch, input channels, output channels */
    int64_t group;         /* C % group == 0, M % group == 0 */
    /* spatial geometry, always (d, h, w); unused leading dims are 1 / 0 */
    int64_t in[3], out[3], k[3], stride[3], dil[3], pad_b[3], pad_e[3];
} cfp_conv_params;

/* auto_pad string -> CFP_PAD_*, or -1 if unknown. */
static inline int cfp_parse_auto_pad(const char *s) {
    if (!s || !*s || strcmp(s, "NOTSET") == 0) return CFP_PAD_NOTSET;
    if (strcmp(s, "SAME_UPPER") == 0) return CFP_PAD_SAME_UPPER;
    if (strcmp(s, "SAME_LOWER") == 0) return CFP_PAD_SAME_LOWER;
    if (strcmp(s, "VALID") == 0) return CFP_PAD_VALID;
    return -1;
}

/* Output length of a sliding window along one axis (ONNX Conv / MaxPool /
 * AveragePool). With NOTSET, *pb and *pe are the explicit pads on entry;
 * with SAME_* they are computed; with VALID they are zeroed. ceil_mode
 * follows PyTorch/onnxruntime: the last window must start inside the input
 * or the left padding. Returns the length (may be <= 0: invalid). */
static inline int64_t cfp_window_out(int auto_pad, int ceil_mode, int64_t in, int64_t k,
                                     int64_t s, int64_t d, int64_t *pb, int64_t *pe) {
    int64_t ek = (k - 1) * d + 1; /* effective kernel extent */
    if (auto_pad == CFP_PAD_SAME_UPPER || auto_pad == CFP_PAD_SAME_LOWER) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + ek - in;
        if (total < 0) total = 0;
        *pb = auto_pad == CFP_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
        return o;
    }
    if (auto_pad == CFP_PAD_VALID) *pb = *pe = 0;
    int64_t span = in + *pb + *pe - ek;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + *pb) o--;
    return o;
}

/* Output positions ow in [lo, hi) read input columns ow*s + off in [0, W). */
static inline void cfp_valid_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *lo,
                                   int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / s + 1;
    if (h > OW) h = OW;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* The kernel_shape / strides / dilations / pads attributes of a Conv or
 * pooling node, as read by cfp_window_attrs_read; a count is -1 where the
 * attribute is absent. */
typedef struct cfp_window_attrs {
    int nk, ns, nd, np;
    int64_t k[CFP_MAX_SPATIAL], s[CFP_MAX_SPATIAL], d[CFP_MAX_SPATIAL],
        pads[2 * CFP_MAX_SPATIAL];
} cfp_window_attrs;

/* For the operators' prepare: the auto_pad attribute of n as CFP_PAD_*.
 * Returns CFP_OK or the cfp_node_fail code. */
int cfp_window_auto_pad(cfp_model *m, cfp_node *n, int *auto_pad);

/* For the operators' prepare: read the four attributes of n into w and check
 * their values (kernel >= 1, strides >= 1, dilations >= 1, pads >= 0; with
 * kernel_required, kernel_shape must be present). Returns CFP_OK or the
 * cfp_node_fail code. */
int cfp_window_attrs_read(cfp_model *m, cfp_node *n, bool kernel_required, cfp_window_attrs *w);

/* For the operators' reshape: strides, dilations (if present) must have nsp
 * values and pads 2 * nsp. kernel_shape's count is the caller's to check. */
int cfp_window_attrs_check(cfp_model *m, cfp_node *n, const cfp_window_attrs *w, int nsp);

/* Fill p->out / pads from the other fields. pads: 2*nsp ONNX pads (begins
 * then ends) or NULL for zeros. Arrays k/stride/dil have nsp entries
 * (stride/dil may be NULL for 1). Returns CFP_OK, or CFP_E_SHAPE if an
 * output length would be < 1. */
int cfp_conv_setup(cfp_conv_params *p, int nsp, int64_t N, int64_t C, int64_t M, int64_t group,
                   const int64_t *in, const int64_t *k, const int64_t *stride,
                   const int64_t *dil, const int64_t *pads, int auto_pad);

/* y[N, M, out...] = conv(x[N, C, in...], w[M, C/group, k...]) + b[M]
 * (b may be NULL). */
/* Plain direct loops (double accumulation): the reference for tests. */
void cfp_conv_ref(const cfp_conv_params *p, const float *x, const float *w, const float *b,
                  float *y);
/* The default path: im2col panels + sgemm, depth-wise direct kernel.
 * Returns CFP_OK or CFP_E_NOMEM. pool may be NULL (one thread). */
int cfp_conv_fast(cfp_pool *pool, const cfp_conv_params *p, const float *x, const float *w,
                  const float *b, float *y);

/* Tuning knobs for tests/benchmarks: bytes of im2col buffer per thread
 * (0: default), and whether the panels run in our pool with single-threaded
 * BLAS (1, the default) or serially with OpenBLAS's own threads (0). */
void cfp_conv_tune(size_t panel_bytes, int pool_panels);

/* kd x 1 x 1 convs (no spatial stride or padding, one group) run as GEMMs
 * on the NCDHW planes in cfp_conv_fast; _on: and that path is enabled
 * (CFP_TCONV=0 turns it off, for comparisons). */
int cfp_conv_is_temporal(const cfp_conv_params *p);
int cfp_conv_temporal_on(const cfp_conv_params *p);

/* OpenBLAS runs single-threaded: all parallelism is ours (see conv.c). */
void cfp_blas_init(void);

/* C[M,N] = alpha * op(A) * op(B) + beta * C on the calling thread
 * (row-major): oneDNN's JIT sgemm when oneDNN is on (1.1-1.7x OpenBLAS's on
 * the pointwise-conv shapes of s3d, docs/benchmarks.md), else OpenBLAS. */
void cfp_sgemm1(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                int64_t ldc);

/* C[M,N] (+)= alpha * op(A) * op(B) split across the pool (row-major). */
void cfp_sgemm_par(cfp_pool *pool, int transA, int transB, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc);

/* oneDNN (conv_dnnl.c): a convolution primitive for p with the weights
 * (and bias, kept by reference) reordered once; NULL when oneDNN is off
 * (CFP_CONV=gemm) or has no fast kernel for p. threads: the pool's. Run
 * takes x and writes y in plain NCDHW; returns CFP_OK or CFP_E_NOMEM.
 * y_relu (or NULL): also max(y, 0) there, the output of a Relu fused in;
 * y may then be NULL (not written: its means are still computed).
 * pooled_y, pooled_r (or NULL): the per-channel means of batch item 0 of y
 * and y_relu, computed on the way out (cfp_value_pooled). */
typedef struct cfp_dnnl_conv cfp_dnnl_conv;
cfp_dnnl_conv *cfp_dnnl_conv_new(const cfp_conv_params *p, const float *w, const float *b,
                                 int threads);
int cfp_dnnl_conv_run(cfp_dnnl_conv *c, cfp_pool *pool, const float *x, float *y, float *y_relu,
                      float *pooled_y, float *pooled_r);
void cfp_dnnl_conv_free(cfp_dnnl_conv *c);
/* Tests: the NDHWC bytes of output per slab (0: the default, 4 MB); a large
 * output is cut into more slabs than threads, each thread converting its
 * slab back right after convolving it. */
void cfp_dnnl_tune(size_t slab_bytes);

#endif
