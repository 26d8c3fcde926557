/* Element-wise operators: broadcasting binary arithmetic (Add, Sub, Mul, Div,
 * Pow, PRelu), variadic Sum/Max/Min/Mean, unary activations, Clip, Identity
 * and Dropout (inference).
 *
 * float32 is the fast path (vectorised, threaded); integer tensors (int64 for
 * folded shape arithmetic, and the other integer types) and float64 take a
 * simple generic path. */
#include "../cfp_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define GRAIN 65536

static bool is_int_dtype(int dt) {
    switch (dt) {
    case CFP_I64: case CFP_I32: case CFP_I16: case CFP_I8:
    case CFP_U64: case CFP_U32: case CFP_U16: case CFP_U8: case CFP_BOOL:
        return true;
    default:
        return false;
    }
}

/* ---- fast exp for the activations (vectorisable, ~2 ulp) ------------------ */
static inline float fast_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: round to nearest */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

/* ---- broadcasting ---------------------------------------------------------- */

/* Multidirectional (numpy) broadcast of two shapes. */
static int bcast_dims(const cfp_tensor *a, const cfp_tensor *b, int *nd, int64_t *dims) {
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < r; d++) {
        int da = d - (r - a->ndim), db = d - (r - b->ndim);
        int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
        if (x == y || y == 1) dims[d] = x;
        else if (x == 1) dims[d] = y;
        else return CFP_E_SHAPE;
    }
    *nd = r;
    return CFP_OK;
}

/* Output dims with per-input element strides (0 where broadcast); size-1
 * output dims dropped and adjacent dims merged where both inputs allow. */
typedef struct {
    int nd;
    int64_t dims[CFP_MAX_DIMS];
    int64_t st[2][CFP_MAX_DIMS];
} bplan;

/* Element strides of `in` broadcast to rank r: 0 along its size-1 dims and
 * the dims it lacks. */
static void bcast_strides(const cfp_tensor *in, int r, int64_t *st) {
    int off = r - in->ndim;
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        int64_t dim = d >= off ? in->dims[d - off] : 1;
        st[d] = dim == 1 ? 0 : s;
        s *= dim;
    }
}

static void bplan_make(bplan *p, const cfp_tensor *out, const cfp_tensor *a, const cfp_tensor *b) {
    int64_t st[2][CFP_MAX_DIMS];
    int r = out->ndim;
    bcast_strides(a, r, st[0]);
    bcast_strides(b, r, st[1]);
    p->nd = 0;
    for (int d = 0; d < r; d++) {
        if (out->dims[d] == 1) continue;
        int j = p->nd - 1;
        if (j >= 0 && p->st[0][j] == st[0][d] * out->dims[d] &&
            p->st[1][j] == st[1][d] * out->dims[d]) {
            p->dims[j] *= out->dims[d];
            p->st[0][j] = st[0][d];
            p->st[1][j] = st[1][d];
        } else {
            p->dims[p->nd] = out->dims[d];
            p->st[0][p->nd] = st[0][d];
            p->st[1][p->nd] = st[1][d];
            p->nd++;
        }
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dims[0] = 1;
        p->st[0][0] = p->st[1][0] = 0;
    }
}

/* Iterate over every output element k with input offsets oa, ob. */
#define BPLAN_FOR(p, total, k, oa, ob, ...)                                   \
    do {                                                                       \
        int64_t idx_[CFP_MAX_DIMS] = {0};                                      \
        int64_t oa = 0, ob = 0;                                                \
        for (int64_t k = 0; k < (total); k++) {                                \
            __VA_ARGS__;                                                       \
            for (int d_ = (p)->nd - 1; d_ >= 0; d_--) {                        \
                idx_[d_]++;                                                    \
                oa += (p)->st[0][d_];                                          \
                ob += (p)->st[1][d_];                                          \
                if (idx_[d_] < (p)->dims[d_]) break;                           \
                oa -= (p)->st[0][d_] * (p)->dims[d_];                          \
                ob -= (p)->st[1][d_] * (p)->dims[d_];                          \
                idx_[d_] = 0;                                                  \
            }                                                                  \
        }                                                                      \
    } while (0)

/* ---- binary float kernels --------------------------------------------------- */
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_PRELU, B_MAX, B_MIN, B_MOD, B_IMOD };

#define BIN_VARIANTS(E)                                                        \
    do {                                                                       \
        if (sa == 1 && sb == 1) {                                              \
            VLOOP(n, { float x = a[i], y = b[i]; o[i] = (E); });               \
        } else if (sa == 1 && sb == 0) {                                       \
            const float y = b[0];                                              \
            VLOOP(n, { float x = a[i]; o[i] = (E); });                         \
        } else if (sa == 0 && sb == 1) {                                       \
            const float x = a[0];                                              \
            VLOOP(n, { float y = b[i]; o[i] = (E); });                         \
        } else {                                                               \
            for (int64_t i = 0; i < n; i++) {                                  \
                float x = a[i * sa], y = b[i * sb];                            \
                o[i] = (E);                                                    \
            }                                                                  \
        }                                                                      \
    } while (0)

#define BIN_SWITCH(V)                                                          \
    switch (op) {                                                              \
    case B_ADD: V(x + y); break;                                               \
    case B_SUB: V(x - y); break;                                               \
    case B_MUL: V(x * y); break;                                               \
    case B_DIV: V(x / y); break;                                               \
    case B_POW: V(powf(x, y)); break;                                          \
    case B_PRELU: V(x < 0.0f ? x * y : x); break;                              \
    /* NaN propagates (numpy maximum/minimum) */                               \
    case B_MAX: V(x != x ? x : (x > y ? x : y)); break;                        \
    case B_MIN: V(x != x ? x : (x < y ? x : y)); break;                        \
    case B_MOD: case B_IMOD: V(fmodf(x, y)); break;                            \
    }

CLONES static void kbin_f32(int op, const float *restrict a, int64_t sa,
                            const float *restrict b, int64_t sb, float *restrict o, int64_t n) {
    BIN_SWITCH(BIN_VARIANTS)
}

/* o = o op b, in place */
#define ACC_VARIANTS(E)                                                        \
    do {                                                                       \
        if (sb == 1) {                                                         \
            VLOOP(n, { float x = o[i], y = b[i]; o[i] = (E); });               \
        } else {                                                               \
            const float y = b[0];                                              \
            VLOOP(n, { float x = o[i]; o[i] = (E); });                         \
        }                                                                      \
    } while (0)

CLONES static void kacc_f32(int op, const float *restrict b, int64_t sb, float *restrict o,
                            int64_t n) {
    BIN_SWITCH(ACC_VARIANTS)
}

typedef struct {
    bplan p;
    int op;
    const float *a, *b;
    float *o;
} binjob;

static void bin_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const binjob *j = arg;
    const bplan *p = &j->p;
    int nd = p->nd;
    int64_t idx[CFP_MAX_DIMS], oa = 0, ob = 0, rem = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        oa += idx[d] * p->st[0][d];
        ob += idx[d] * p->st[1][d];
    }
    const int64_t last = p->dims[nd - 1], sa = p->st[0][nd - 1], sb = p->st[1][nd - 1];
    int64_t pos = begin;
    while (pos < end) {
        int64_t len = last - idx[nd - 1];
        if (len > end - pos) len = end - pos;
        if (j->a == j->o) /* in place: a has the output's layout */
            kacc_f32(j->op, j->b + ob, sb, j->o + pos, len);
        else
            kbin_f32(j->op, j->a + oa, sa, j->b + ob, sb, j->o + pos, len);
        pos += len;
        idx[nd - 1] += len;
        oa += len * sa;
        ob += len * sb;
        if (idx[nd - 1] < last) continue;
        oa -= last * sa;
        ob -= last * sb;
        idx[nd - 1] = 0;
        for (int d = nd - 2; d >= 0; d--) {
            idx[d]++;
            oa += p->st[0][d];
            ob += p->st[1][d];
            if (idx[d] < p->dims[d]) break;
            oa -= p->st[0][d] * p->dims[d];
            ob -= p->st[1][d] * p->dims[d];
            idx[d] = 0;
        }
    }
}

static int64_t idiv(int64_t x, int64_t y) {
    if (y == 0) return 0;
    if (y == -1) return (int64_t)(0 - (uint64_t)x);
    return x / y;
}

static int64_t ipow(int64_t x, int64_t y) {
    if (y < 0) return x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0);
    uint64_t r = 1, b = (uint64_t)x;
    while (y) {
        if (y & 1) r *= b;
        b *= b;
        y >>= 1;
    }
    return (int64_t)r;
}

/* out = a op b (broadcast); out's shape is set. */
static int binary_apply(cfp_model *m, int op, const cfp_tensor *a, const cfp_tensor *b,
                        cfp_tensor *out) {
    int64_t total = cfp_tensor_numel(out);
    if (total == 0) return CFP_OK;
    bplan p;
    bplan_make(&p, out, a, b);
    if (out->dtype == CFP_F32 && a->dtype == CFP_F32 && b->dtype == CFP_F32) {
        binjob j = {p, op, a->data, b->data, out->data};
        cfp_parallel_for(m->ctx->pool, total, GRAIN, bin_range, &j);
        return CFP_OK;
    }
    int dt = out->dtype;
    bool fl = dt == CFP_F32 || dt == CFP_F64;
    if (op == B_POW) {
        bool fexp = b->dtype == CFP_F32 || b->dtype == CFP_F64;
        BPLAN_FOR(&p, total, k, oa, ob, {
            if (fl || fexp) {
                double r = pow(cfp_tensor_get_f64(a, oa), cfp_tensor_get_f64(b, ob));
                cfp_tensor_set_f64(out, k, r);
            } else {
                cfp_tensor_set_i64(out, k,
                                   ipow(cfp_tensor_get_i64(a, oa), cfp_tensor_get_i64(b, ob)));
            }
        });
        return CFP_OK;
    }
    if (fl) {
        BPLAN_FOR(&p, total, k, oa, ob, {
            double x = cfp_tensor_get_f64(a, oa), y = cfp_tensor_get_f64(b, ob), r = 0;
            switch (op) {
            case B_ADD: r = x + y; break;
            case B_SUB: r = x - y; break;
            case B_MUL: r = x * y; break;
            case B_DIV: r = x / y; break;
            case B_PRELU: r = x < 0 ? x * y : x; break;
            case B_MAX: r = x != x ? x : (x > y ? x : y); break;
            case B_MIN: r = x != x ? x : (x < y ? x : y); break;
            case B_MOD: case B_IMOD: r = fmod(x, y); break;
            }
            cfp_tensor_set_f64(out, k, r);
        });
        return CFP_OK;
    }
    BPLAN_FOR(&p, total, k, oa, ob, {
        int64_t x = cfp_tensor_get_i64(a, oa), y = cfp_tensor_get_i64(b, ob), r = 0;
        switch (op) {
        case B_ADD: r = (int64_t)((uint64_t)x + (uint64_t)y); break;
        case B_SUB: r = (int64_t)((uint64_t)x - (uint64_t)y); break;
        case B_MUL: r = (int64_t)((uint64_t)x * (uint64_t)y); break;
        case B_DIV:
            if (dt == CFP_U64)
                r = y ? (int64_t)((uint64_t)x / (uint64_t)y) : 0;
            else
                r = idiv(x, y);
            break;
        case B_PRELU: r = x < 0 ? x * y : x; break;
        case B_MAX: r = x > y ? x : y; break;
        case B_MIN: r = x < y ? x : y; break;
        case B_MOD: /* fmod=1: sign of the dividend (C) */
        case B_IMOD: /* fmod=0: sign of the divisor (Python) */
            if (y == 0 || (y == -1 && dt != CFP_U64)) {
                r = 0;
            } else if (dt == CFP_U64) {
                r = (int64_t)((uint64_t)x % (uint64_t)y);
            } else {
                r = x % y;
                if (op == B_IMOD && r != 0 && ((r < 0) != (y < 0))) r += y;
            }
            break;
        }
        cfp_tensor_set_i64(out, k, r);
    });
    return CFP_OK;
}

/* Input i as broadcast sees it. Before opset 7, binary ops with broadcast=1
 * align B at `axis`, and PRelu's 1-D slope of size C is per channel (axis 1),
 * not numpy-aligned to the last axis. */
static cfp_tensor bin_input(cfp_model *m, const cfp_node *n, int i) {
    cfp_tensor t = cfp_in(m, n, i)->t;
    if (i == 1 && n->opset < 7 && cfp_attr_i(n, "broadcast", 0) && cfp_attr_get(n, "axis")) {
        /* legacy broadcast (opset < 7): B's dims start at `axis` of A */
        const cfp_tensor *a = &cfp_in(m, n, 0)->t;
        int64_t ax = cfp_attr_i(n, "axis", 0);
        if (ax < 0) ax += a->ndim;
        if (ax >= 0 && ax + t.ndim <= a->ndim) {
            int nd = a->ndim - (int)ax;
            for (int d = t.ndim; d < nd; d++) t.dims[d] = 1;
            t.ndim = nd;
        }
    }
    if (i == 1 && n->opset < 7 && !strcmp(n->op_type, "PRelu")) {
        const cfp_tensor *x = &cfp_in(m, n, 0)->t;
        if (t.ndim == 1 && x->ndim >= 2 && t.dims[0] == x->dims[1] && t.dims[0] != 1) {
            t.ndim = x->ndim - 1;
            for (int d = 1; d < t.ndim; d++) t.dims[d] = 1;
        }
    }
    return t;
}

static int check_numeric(cfp_model *m, cfp_node *n, const cfp_value *v) {
    int dt = v->t.dtype;
    if (dt == CFP_F32 || dt == CFP_F64 || (is_int_dtype(dt) && dt != CFP_BOOL)) return CFP_OK;
    return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' has unsupported dtype %s", v->name,
                         cfp_dtype_name(dt));
}

static int op_code(const char *name) {
    if (!strcmp(name, "Add") || !strcmp(name, "Sum") || !strcmp(name, "Mean")) return B_ADD;
    if (!strcmp(name, "Sub")) return B_SUB;
    if (!strcmp(name, "Mul")) return B_MUL;
    if (!strcmp(name, "Div")) return B_DIV;
    if (!strcmp(name, "Pow")) return B_POW;
    if (!strcmp(name, "PRelu")) return B_PRELU;
    if (!strcmp(name, "Max")) return B_MAX;
    if (!strcmp(name, "Mod")) return B_MOD;
    return B_MIN;
}

/* Mod's integer flavour depends on its fmod attribute. */
static int node_op_code(const cfp_node *n) {
    int op = op_code(n->op_type);
    if (op == B_MOD && !cfp_attr_i(n, "fmod", 0)) op = B_IMOD;
    return op;
}

/* Add, Sub, Mul, Div, Pow, PRelu and variadic Sum, Max, Min, Mean. */
static int binary_reshape(cfp_model *m, cfp_node *n) {
    int op = node_op_code(n);
    bool variadic = !strcmp(n->op_type, "Sum") || !strcmp(n->op_type, "Max") ||
                    !strcmp(n->op_type, "Min") || !strcmp(n->op_type, "Mean");
    if (n->n_in < 1 || (!variadic && n->n_in != 2))
        return cfp_node_fail(m, n, CFP_E_INVALID, "expected %s inputs, got %d",
                             variadic ? "1 or more" : "2", n->n_in);
    cfp_value *out = cfp_out(m, n, 0);
    if (!out) return cfp_node_fail(m, n, CFP_E_INVALID, "missing output");
    cfp_value *a = cfp_in(m, n, 0);
    if (!a) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 0");
    int rc = check_numeric(m, n, a);
    if (rc) return rc;
    cfp_tensor shp = a->t;
    char b1[128], b2[128];
    for (int i = 1; i < n->n_in; i++) {
        cfp_value *b = cfp_in(m, n, i);
        if (!b) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input %d", i);
        if ((rc = check_numeric(m, n, b))) return rc;
        if (op != B_POW && b->t.dtype != a->t.dtype)
            return cfp_node_fail(m, n, CFP_E_INVALID, "input dtypes differ: %s and %s",
                                 cfp_dtype_name(a->t.dtype), cfp_dtype_name(b->t.dtype));
        int nd;
        int64_t dims[CFP_MAX_DIMS];
        cfp_tensor bt = bin_input(m, n, i);
        if (bcast_dims(&shp, &bt, &nd, dims))
            return cfp_node_fail(m, n, CFP_E_SHAPE, "shapes %s and %s do not broadcast",
                                 cfp_shape_str(&shp, b1, sizeof b1),
                                 cfp_shape_str(&bt, b2, sizeof b2));
        shp.ndim = nd;
        memcpy(shp.dims, dims, sizeof dims);
    }
    if (op == B_IMOD && (a->t.dtype == CFP_F32 || a->t.dtype == CFP_F64))
        return cfp_node_fail(m, n, CFP_E_INVALID, "floating-point Mod requires fmod=1");
    if (op == B_PRELU && !cfp_same_shape(&shp, &a->t))
        return cfp_node_fail(m, n, CFP_E_SHAPE,
                             "slope of shape %s does not broadcast to input shape %s",
                             cfp_shape_str(&cfp_in(m, n, 1)->t, b1, sizeof b1),
                             cfp_shape_str(&a->t, b2, sizeof b2));
    if (op == B_POW && a->t.dtype != CFP_F32 && !is_int_dtype(a->t.dtype) &&
        a->t.dtype != CFP_F64)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "unsupported dtype %s",
                             cfp_dtype_name(a->t.dtype));
    rc = cfp_tensor_shape(&out->t, a->t.dtype, shp.ndim, shp.dims);
    if (rc) return cfp_node_fail(m, n, rc, "output shape too large");
    return CFP_OK;
}

/* Copy `in` broadcast to `out`'s shape (same dtype). */
static void bcast_copy(const cfp_tensor *in, cfp_tensor *out) {
    int64_t total = cfp_tensor_numel(out);
    if (total == 0) return;
    if (cfp_tensor_numel(in) == total) {
        memcpy(out->data, in->data, out->nbytes);
        return;
    }
    bplan p;
    bplan_make(&p, out, in, in);
    size_t es = cfp_dtype_size(in->dtype);
    BPLAN_FOR(&p, total, k, oa, ob, {
        (void)ob;
        memcpy((char *)out->data + k * es, (const char *)in->data + oa * es, es);
    });
}

/* Relu or Add on a kept feature map: each row (batch item, channel) is
 * computed block by block, and for batch item 0 each block is summed while
 * it is still in cache, so the output's means (cfp_value_pooled) come
 * without another pass over it. */
typedef struct {
    const float *a, *b; /* b: Add's second input; NULL: Relu of a */
    float *y, *pooled;
    int64_t C, S;
    float *pooled_a; /* Relu in place (a == y): the means of a too, before */
} fused_mean_job;

CLONES static void relu_block(const float *restrict x, float *restrict y, int64_t n) {
    VLOOP(n, y[i] = x[i] > 0.0f ? x[i] : 0.0f);
}
CLONES static void relu_inplace_block(float *y, int64_t n) {
    VLOOP(n, y[i] = y[i] > 0.0f ? y[i] : 0.0f);
}
CLONES static void add_block(const float *restrict a, const float *restrict b, float *restrict y, int64_t n) {
    VLOOP(n, y[i] = a[i] + b[i]);
}

static void fused_mean_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const fused_mean_job *j = arg;
    for (int64_t r = begin; r < end; r++) {
        const int64_t o = r * j->S;
        double sum = 0, sum_a = 0;
        for (int64_t s0 = 0; s0 < j->S; s0 += 4096) {
            int64_t len = j->S - s0 < 4096 ? j->S - s0 : 4096;
            if (j->pooled_a) {
                if (r < j->C) sum_a += cfp_sum_f32(j->y + o + s0, len);
                relu_inplace_block(j->y + o + s0, len);
            } else if (j->b) add_block(j->a + o + s0, j->b + o + s0, j->y + o + s0, len);
            else relu_block(j->a + o + s0, j->y + o + s0, len);
            if (r < j->C) sum += cfp_sum_f32(j->y + o + s0, len);
        }
        if (r < j->C) j->pooled[r] = (float)(sum / (double)j->S);
        if (r < j->C && j->pooled_a) j->pooled_a[r] = (float)(sum_a / (double)j->S);
    }
}

/* Runs op over y's rows with the means of batch item 0; returns false when
 * y is not a kept float feature map of rows, left to the general path. */
static bool run_with_means(cfp_model *m, cfp_node *n, const float *a, const float *b) {
    cfp_value *yv = cfp_out(m, n, 0);
    const cfp_tensor *y = &yv->t;
    int64_t total = cfp_tensor_numel(y);
    if (m->keep_none || !yv->pooled || y->dtype != CFP_F32 || y->ndim < 2 || yv->n_pooled != y->dims[1] ||
        total == 0)
        return false;
    fused_mean_job j = {a, b, y->data, yv->pooled, y->dims[1], total / (y->dims[0] * y->dims[1]), NULL};
    cfp_parallel_for(m->ctx->pool, y->dims[0] * j.C, j.S >= 16384 ? 1 : 16384 / j.S + 1, fused_mean_range, &j);
    n->pooled_done = true;
    return true;
}

void cfp_relu_inplace_means(cfp_pool *pool, float *y, int64_t N, int64_t C, int64_t S, float *pooled_pre,
                            float *pooled_post) {
    fused_mean_job j = {y, NULL, y, pooled_post, C, S, pooled_pre};
    cfp_parallel_for(pool, N * C, S >= 16384 ? 1 : 16384 / S + 1, fused_mean_range, &j);
}

static int binary_run(cfp_model *m, cfp_node *n) {
    int op = node_op_code(n);
    cfp_tensor *out = &cfp_out(m, n, 0)->t;
    const cfp_tensor *a = &cfp_in(m, n, 0)->t;
    /* a residual connection: two maps of the output's shape */
    if (op == B_ADD && !strcmp(n->op_type, "Add") && n->n_in == 2 && a->dtype == CFP_F32 &&
        cfp_same_shape(a, out) && cfp_same_shape(&cfp_in(m, n, 1)->t, out) &&
        run_with_means(m, n, a->data, cfp_in(m, n, 1)->t.data))
        return CFP_OK;
    if (n->n_in == 1) {
        bcast_copy(a, out);
        return CFP_OK;
    }
    cfp_tensor b = bin_input(m, n, 1);
    int rc = binary_apply(m, op, a, &b, out);
    for (int i = 2; i < n->n_in && !rc; i++)
        rc = binary_apply(m, op, out, &cfp_in(m, n, i)->t, out);
    if (!rc && !strcmp(n->op_type, "Mean")) {
        int64_t total = cfp_tensor_numel(out);
        if (out->dtype == CFP_F32) {
            float *o = out->data, s = 1.0f / (float)n->n_in;
            for (int64_t i = 0; i < total; i++) o[i] *= s;
        } else {
            for (int64_t i = 0; i < total; i++) {
                if (out->dtype == CFP_F64) ((double *)out->data)[i] /= n->n_in;
                else cfp_tensor_set_i64(out, i, cfp_tensor_get_i64(out, i) / n->n_in);
            }
        }
    }
    return rc;
}

/* ---- unary ------------------------------------------------------------------- */
enum {
    U_RELU, U_LEAKY, U_SIGMOID, U_HARDSIGMOID, U_HARDSWISH, U_TANH, U_CLIP, U_NEG, U_ABS,
    U_EXP, U_LOG, U_SQRT, U_RECIP, U_ERF, U_ELU, U_SELU, U_CELU, U_SOFTPLUS, U_SOFTSIGN,
    U_THRELU, U_FLOOR, U_CEIL, U_ROUND, U_SIGN, U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN,
    U_SINH, U_COSH, U_ASINH, U_ACOSH, U_ATANH, U_IDENTITY
};

static const struct {
    const char *name;
    int code;
    bool ints; /* also defined on integer tensors */
} unary_names[] = {
    {"Relu", U_RELU, true},        {"LeakyRelu", U_LEAKY, false},
    {"Sigmoid", U_SIGMOID, false}, {"HardSigmoid", U_HARDSIGMOID, false},
    {"HardSwish", U_HARDSWISH, false}, {"Tanh", U_TANH, false},
    {"Clip", U_CLIP, true},        {"Neg", U_NEG, true},
    {"Abs", U_ABS, true},          {"Exp", U_EXP, false},
    {"Log", U_LOG, false},         {"Sqrt", U_SQRT, false},
    {"Reciprocal", U_RECIP, false}, {"Erf", U_ERF, false},
    {"Elu", U_ELU, false},         {"Selu", U_SELU, false},
    {"Celu", U_CELU, false},       {"Softplus", U_SOFTPLUS, false},
    {"Softsign", U_SOFTSIGN, false}, {"ThresholdedRelu", U_THRELU, false},
    {"Floor", U_FLOOR, false},     {"Ceil", U_CEIL, false},
    {"Round", U_ROUND, false},     {"Sign", U_SIGN, true},
    {"Sin", U_SIN, false},         {"Cos", U_COS, false},
    {"Tan", U_TAN, false},         {"Asin", U_ASIN, false},
    {"Acos", U_ACOS, false},       {"Atan", U_ATAN, false},
    {"Sinh", U_SINH, false},       {"Cosh", U_COSH, false},
    {"Asinh", U_ASINH, false},     {"Acosh", U_ACOSH, false},
    {"Atanh", U_ATANH, false},
};

static int unary_code(const char *name, bool *ints) {
    for (size_t i = 0; i < sizeof unary_names / sizeof *unary_names; i++)
        if (!strcmp(unary_names[i].name, name)) {
            if (ints) *ints = unary_names[i].ints;
            return unary_names[i].code;
        }
    return -1;
}

typedef struct {
    int op;
    float alpha, beta, gamma;
    const float *x;
    float *y;
} unjob;

CLONES static void kun_f32(const unjob *j, const float *restrict x, float *restrict y, int64_t n) {
    const float al = j->alpha, be = j->beta, ga = j->gamma;
    switch (j->op) {
    case U_RELU: VLOOP(n, y[i] = x[i] > 0.0f ? x[i] : 0.0f); break;
    case U_LEAKY: VLOOP(n, y[i] = x[i] < 0.0f ? x[i] * al : x[i]); break;
    case U_SIGMOID: VLOOP(n, y[i] = 1.0f / (1.0f + fast_expf(-x[i]))); break;
    case U_HARDSIGMOID:
        VLOOP(n, {
            float v = al * x[i] + be;
            v = v < 0.0f ? 0.0f : v;
            y[i] = v > 1.0f ? 1.0f : v;
        });
        break;
    case U_HARDSWISH:
        VLOOP(n, {
            float v = x[i] * (1.0f / 6.0f) + 0.5f;
            v = v < 0.0f ? 0.0f : v;
            v = v > 1.0f ? 1.0f : v;
            y[i] = x[i] * v;
        });
        break;
    case U_TANH: for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]); break;
    case U_CLIP:
        /* NaN stays NaN */
        VLOOP(n, {
            float v = x[i] < al ? al : x[i];
            y[i] = v > be ? be : v;
        });
        break;
    case U_NEG: VLOOP(n, y[i] = -x[i]); break;
    case U_ABS: VLOOP(n, y[i] = fabsf(x[i])); break;
    case U_EXP: for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]); break;
    case U_LOG: for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]); break;
    case U_SQRT: for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]); break;
    case U_RECIP: VLOOP(n, y[i] = 1.0f / x[i]); break;
    case U_ERF: for (int64_t i = 0; i < n; i++) y[i] = erff(x[i]); break;
    case U_ELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? al * expm1f(x[i]) : x[i];
        break;
    case U_SELU:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] <= 0.0f ? ga * (al * expf(x[i]) - al) : ga * x[i];
        break;
    case U_CELU:
        for (int64_t i = 0; i < n; i++) {
            float v = al * expm1f(x[i] / al);
            y[i] = (x[i] > 0.0f ? x[i] : 0.0f) + (v < 0.0f ? v : 0.0f);
        }
        break;
    case U_SOFTPLUS:
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
        }
        break;
    case U_SOFTSIGN: VLOOP(n, y[i] = x[i] / (1.0f + fabsf(x[i]))); break;
    case U_THRELU: VLOOP(n, y[i] = x[i] > al ? x[i] : 0.0f); break;
    case U_FLOOR: for (int64_t i = 0; i < n; i++) y[i] = floorf(x[i]); break;
    case U_CEIL: for (int64_t i = 0; i < n; i++) y[i] = ceilf(x[i]); break;
    case U_ROUND: for (int64_t i = 0; i < n; i++) y[i] = nearbyintf(x[i]); break;
    case U_SIGN: VLOOP(n, y[i] = x[i] > 0.0f ? 1.0f : (x[i] < 0.0f ? -1.0f : x[i])); break;
    case U_SIN: for (int64_t i = 0; i < n; i++) y[i] = sinf(x[i]); break;
    case U_COS: for (int64_t i = 0; i < n; i++) y[i] = cosf(x[i]); break;
    case U_TAN: for (int64_t i = 0; i < n; i++) y[i] = tanf(x[i]); break;
    case U_ASIN: for (int64_t i = 0; i < n; i++) y[i] = asinf(x[i]); break;
    case U_ACOS: for (int64_t i = 0; i < n; i++) y[i] = acosf(x[i]); break;
    case U_ATAN: for (int64_t i = 0; i < n; i++) y[i] = atanf(x[i]); break;
    case U_SINH: for (int64_t i = 0; i < n; i++) y[i] = sinhf(x[i]); break;
    case U_COSH: for (int64_t i = 0; i < n; i++) y[i] = coshf(x[i]); break;
    case U_ASINH: for (int64_t i = 0; i < n; i++) y[i] = asinhf(x[i]); break;
    case U_ACOSH: for (int64_t i = 0; i < n; i++) y[i] = acoshf(x[i]); break;
    case U_ATANH: for (int64_t i = 0; i < n; i++) y[i] = atanhf(x[i]); break;
    default: memcpy(y, x, (size_t)n * sizeof *y); break;
    }
}

static void un_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const unjob *j = arg;
    kun_f32(j, j->x + begin, j->y + begin, end - begin);
}

static int unary_reshape(cfp_model *m, cfp_node *n) {
    bool ints = false;
    int op = unary_code(n->op_type, &ints);
    cfp_value *x = cfp_in(m, n, 0), *y = cfp_out(m, n, 0);
    if (!x || !y) return cfp_node_fail(m, n, CFP_E_INVALID, "expected 1 input and 1 output");
    int dt = x->t.dtype;
    bool ok = dt == CFP_F32 || (ints && is_int_dtype(dt) && dt != CFP_BOOL);
    if (!ok)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, cfp_dtype_name(dt));
    if (op == U_CLIP && n->opset >= 11) {
        for (int i = 1; i <= 2; i++) {
            cfp_value *b = cfp_in(m, n, i);
            if (!b) continue;
            if (b->t.dtype != dt)
                return cfp_node_fail(m, n, CFP_E_INVALID, "%s has dtype %s, input is %s",
                                     i == 1 ? "min" : "max", cfp_dtype_name(b->t.dtype),
                                     cfp_dtype_name(dt));
            if (cfp_tensor_numel(&b->t) != 1)
                return cfp_node_fail(m, n, CFP_E_SHAPE, "%s must be a scalar",
                                     i == 1 ? "min" : "max");
        }
    }
    int rc = cfp_tensor_shape(&y->t, dt, x->t.ndim, x->t.dims);
    if (rc) return cfp_node_fail(m, n, rc, "output shape too large");
    return CFP_OK;
}

static int unary_run(cfp_model *m, cfp_node *n) {
    int op = unary_code(n->op_type, NULL);
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int64_t total = cfp_tensor_numel(x);
    unjob j = {op, 0, 0, 0, x->data, y->data};
    switch (op) {
    case U_LEAKY: j.alpha = cfp_attr_f(n, "alpha", 0.01f); break;
    case U_HARDSIGMOID:
        j.alpha = cfp_attr_f(n, "alpha", 0.2f);
        j.beta = cfp_attr_f(n, "beta", 0.5f);
        break;
    case U_ELU: case U_CELU: j.alpha = cfp_attr_f(n, "alpha", 1.0f); break;
    case U_THRELU: j.alpha = cfp_attr_f(n, "alpha", 1.0f); break;
    case U_SELU:
        j.alpha = cfp_attr_f(n, "alpha", 1.67326319217681884765625f);
        j.gamma = cfp_attr_f(n, "gamma", 1.05070102214813232421875f);
        break;
    default: break;
    }
    if (op == U_CLIP) {
        const cfp_value *lo = n->opset >= 11 ? cfp_in(m, n, 1) : NULL;
        const cfp_value *hi = n->opset >= 11 ? cfp_in(m, n, 2) : NULL;
        if (x->dtype != CFP_F32) {
            int64_t l = INT64_MIN, h = INT64_MAX;
            if (lo) l = cfp_tensor_get_i64(&lo->t, 0);
            if (hi) h = cfp_tensor_get_i64(&hi->t, 0);
            for (int64_t i = 0; i < total; i++) {
                int64_t v = cfp_tensor_get_i64(x, i);
                v = v < l ? l : v;
                cfp_tensor_set_i64(y, i, v > h ? h : v);
            }
            return CFP_OK;
        }
        if (n->opset >= 11) {
            j.alpha = lo ? (float)cfp_tensor_get_f64(&lo->t, 0) : -INFINITY;
            j.beta = hi ? (float)cfp_tensor_get_f64(&hi->t, 0) : INFINITY;
        } else {
            j.alpha = cfp_attr_f(n, "min", -FLT_MAX);
            j.beta = cfp_attr_f(n, "max", FLT_MAX);
        }
    }
    if (x->dtype != CFP_F32) { /* integer Relu, Neg, Abs, Sign */
        for (int64_t i = 0; i < total; i++) {
            int64_t v = cfp_tensor_get_i64(x, i), r = v;
            switch (op) {
            case U_RELU: r = v > 0 ? v : 0; break;
            case U_NEG: r = (int64_t)(0 - (uint64_t)v); break;
            case U_ABS: r = v < 0 ? (int64_t)(0 - (uint64_t)v) : v; break;
            case U_SIGN: r = (v > 0) - (v < 0); break;
            }
            cfp_tensor_set_i64(y, i, r);
        }
        return CFP_OK;
    }
    if (op == U_RELU && run_with_means(m, n, x->data, NULL)) return CFP_OK;
    cfp_parallel_for(m->ctx->pool, total, GRAIN, un_range, &j);
    return CFP_OK;
}

/* ---- Identity, Dropout ------------------------------------------------------- */

static int identity_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x = cfp_in(m, n, 0), *y = cfp_out(m, n, 0);
    if (!x || !y) return cfp_node_fail(m, n, CFP_E_INVALID, "expected 1 input and 1 output");
    int rc = cfp_tensor_shape(&y->t, x->t.dtype, x->t.ndim, x->t.dims);
    if (rc)
        return cfp_node_fail(m, n, rc, "unsupported input dtype %s or shape",
                             cfp_dtype_name(x->t.dtype));
    return CFP_OK;
}

static int identity_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return CFP_OK;
}

static int dropout_reshape(cfp_model *m, cfp_node *n) {
    int rc = identity_reshape(m, n);
    if (rc) return rc;
    cfp_value *x = cfp_in(m, n, 0);
    if (n->opset >= 12) {
        cfp_value *tm = cfp_in(m, n, 2);
        if (tm) {
            if (!cfp_has_data(tm))
                return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                     "input 'training_mode' must be constant");
            if (cfp_tensor_numel(&tm->t) > 0 && cfp_tensor_get_i64(&tm->t, 0)) {
                cfp_value *r = cfp_in(m, n, 1);
                double ratio = 0.5;
                if (r) {
                    if (!cfp_has_data(r) || cfp_tensor_numel(&r->t) < 1)
                        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                             "input 'ratio' must be a constant scalar");
                    ratio = cfp_tensor_get_f64(&r->t, 0);
                }
                if (ratio != 0.0)
                    return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                         "training mode (random dropout) is not supported");
            }
        }
    }
    cfp_value *mask = cfp_out(m, n, 1);
    if (mask) {
        /* before opset 10 the mask has the input's type */
        int dt = n->opset < 10 ? x->t.dtype : CFP_BOOL;
        rc = cfp_tensor_shape(&mask->t, dt, x->t.ndim, x->t.dims);
        if (rc) return cfp_node_fail(m, n, rc, "mask shape too large");
    }
    return CFP_OK;
}

static int dropout_run(cfp_model *m, cfp_node *n) {
    identity_run(m, n);
    cfp_value *mask = cfp_out(m, n, 1);
    if (mask) {
        int64_t total = cfp_tensor_numel(&mask->t);
        if (mask->t.dtype == CFP_BOOL) memset(mask->t.data, 1, (size_t)total);
        else
            for (int64_t i = 0; i < total; i++) cfp_tensor_set_i64(&mask->t, i, 1);
    }
    return CFP_OK;
}

/* ---- comparisons, logic, Where (small shape subgraphs: generic path) ----------- */
enum { C_EQ, C_LT, C_GT, C_LE, C_GE, C_AND, C_OR, C_XOR };

static int cmp_code(const char *name) {
    static const char *names[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                  "And", "Or", "Xor"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(names[i], name)) return i;
    return C_EQ;
}

static int compare_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *a = cfp_in(m, n, 0), *b = cfp_in(m, n, 1), *y = cfp_out(m, n, 0);
    if (!a || !b || !y) return cfp_node_fail(m, n, CFP_E_INVALID, "expected 2 inputs and an output");
    int code = cmp_code(n->op_type);
    for (int i = 0; i < 2; i++) {
        cfp_value *v = i ? b : a;
        int dt = v->t.dtype;
        bool ok = code >= C_AND ? dt == CFP_BOOL
                                : (dt == CFP_F32 || dt == CFP_F64 || is_int_dtype(dt));
        if (!ok)
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                                 v->name, cfp_dtype_name(dt));
    }
    if (a->t.dtype != b->t.dtype)
        return cfp_node_fail(m, n, CFP_E_INVALID, "input dtypes differ: %s and %s",
                             cfp_dtype_name(a->t.dtype), cfp_dtype_name(b->t.dtype));
    int nd;
    int64_t dims[CFP_MAX_DIMS];
    char b1[128], b2[128];
    if (bcast_dims(&a->t, &b->t, &nd, dims))
        return cfp_node_fail(m, n, CFP_E_SHAPE, "shapes %s and %s do not broadcast",
                             cfp_shape_str(&a->t, b1, sizeof b1), cfp_shape_str(&b->t, b2, sizeof b2));
    int rc = cfp_tensor_shape(&y->t, CFP_BOOL, nd, dims);
    if (rc) return cfp_node_fail(m, n, rc, "output shape too large");
    return CFP_OK;
}

static int compare_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *a = &cfp_in(m, n, 0)->t, *b = &cfp_in(m, n, 1)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int64_t total = cfp_tensor_numel(y);
    if (total == 0) return CFP_OK;
    int code = cmp_code(n->op_type);
    bool fl = a->dtype == CFP_F32 || a->dtype == CFP_F64;
    uint8_t *o = y->data;
    bplan p;
    bplan_make(&p, y, a, b);
    BPLAN_FOR(&p, total, k, oa, ob, {
        bool r;
        if (fl) {
            double x = cfp_tensor_get_f64(a, oa), w = cfp_tensor_get_f64(b, ob);
            r = code == C_EQ ? x == w : code == C_LT ? x < w : code == C_GT ? x > w
                : code == C_LE ? x <= w : x >= w;
        } else {
            int64_t x = cfp_tensor_get_i64(a, oa), w = cfp_tensor_get_i64(b, ob);
            if (a->dtype == CFP_U64) {
                uint64_t ux = (uint64_t)x, uw = (uint64_t)w;
                r = code == C_EQ ? ux == uw : code == C_LT ? ux < uw : code == C_GT ? ux > uw
                    : code == C_LE ? ux <= uw : ux >= uw;
            } else {
                switch (code) {
                case C_EQ: r = x == w; break;
                case C_LT: r = x < w; break;
                case C_GT: r = x > w; break;
                case C_LE: r = x <= w; break;
                case C_GE: r = x >= w; break;
                case C_AND: r = x && w; break;
                case C_OR: r = x || w; break;
                default: r = (x != 0) != (w != 0); break;
                }
            }
        }
        o[k] = r;
    });
    return CFP_OK;
}

static int not_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x = cfp_in(m, n, 0), *y = cfp_out(m, n, 0);
    if (!x || !y) return cfp_node_fail(m, n, CFP_E_INVALID, "expected 1 input and 1 output");
    if (x->t.dtype != CFP_BOOL)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, cfp_dtype_name(x->t.dtype));
    int rc = cfp_tensor_shape(&y->t, CFP_BOOL, x->t.ndim, x->t.dims);
    if (rc) return cfp_node_fail(m, n, rc, "output shape too large");
    return CFP_OK;
}

static int not_run(cfp_model *m, cfp_node *n) {
    const uint8_t *x = cfp_in(m, n, 0)->t.data;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    uint8_t *o = y->data;
    for (size_t i = 0; i < y->nbytes; i++) o[i] = !x[i];
    return CFP_OK;
}

static int where_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *c = cfp_in(m, n, 0), *a = cfp_in(m, n, 1), *b = cfp_in(m, n, 2),
              *y = cfp_out(m, n, 0);
    if (!c || !a || !b || !y)
        return cfp_node_fail(m, n, CFP_E_INVALID, "expected 3 inputs and an output");
    if (c->t.dtype != CFP_BOOL)
        return cfp_node_fail(m, n, CFP_E_INVALID, "condition must be bool, got %s",
                             cfp_dtype_name(c->t.dtype));
    if (a->t.dtype != b->t.dtype || !cfp_dtype_size(a->t.dtype))
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "unsupported or differing dtypes %s and %s",
                             cfp_dtype_name(a->t.dtype), cfp_dtype_name(b->t.dtype));
    cfp_tensor t = c->t;
    int nd;
    int64_t dims[CFP_MAX_DIMS];
    char b1[128];
    for (int i = 0; i < 2; i++) {
        if (bcast_dims(&t, i ? &b->t : &a->t, &nd, dims))
            return cfp_node_fail(m, n, CFP_E_SHAPE, "inputs do not broadcast (%s)",
                                 cfp_shape_str(i ? &b->t : &a->t, b1, sizeof b1));
        t.ndim = nd;
        memcpy(t.dims, dims, sizeof dims);
    }
    int rc = cfp_tensor_shape(&y->t, a->t.dtype, t.ndim, t.dims);
    if (rc) return cfp_node_fail(m, n, rc, "output shape too large");
    return CFP_OK;
}

static int where_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *c = &cfp_in(m, n, 0)->t, *a = &cfp_in(m, n, 1)->t, *b = &cfp_in(m, n, 2)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int64_t total = cfp_tensor_numel(y);
    if (total == 0) return CFP_OK;
    size_t es = cfp_dtype_size(y->dtype);
    int r = y->ndim;
    int64_t idx[CFP_MAX_DIMS] = {0}, st[3][CFP_MAX_DIMS];
    bcast_strides(c, r, st[0]);
    bcast_strides(a, r, st[1]);
    bcast_strides(b, r, st[2]);
    const uint8_t *cond = c->data;
    for (int64_t k = 0; k < total; k++) {
        int64_t oc = 0, oa = 0, ob = 0;
        for (int d = 0; d < r; d++) {
            oc += idx[d] * st[0][d];
            oa += idx[d] * st[1][d];
            ob += idx[d] * st[2][d];
        }
        const char *src = cond[oc] ? (const char *)a->data + oa * (int64_t)es
                                   : (const char *)b->data + ob * (int64_t)es;
        memcpy((char *)y->data + k * (int64_t)es, src, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return CFP_OK;
}

#define BIN(name) {name, 1, NULL, binary_reshape, binary_run, NULL}
#define UN(name) {name, 1, NULL, unary_reshape, unary_run, NULL}

const cfp_op cfp_ops_eltwise[] = {
    BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Pow"), BIN("PRelu"),
    BIN("Sum"), BIN("Max"), BIN("Min"), BIN("Mean"), BIN("Mod"),
    UN("Relu"), UN("LeakyRelu"), UN("Sigmoid"), UN("HardSigmoid"), UN("HardSwish"),
    UN("Tanh"), UN("Clip"), UN("Neg"), UN("Abs"), UN("Exp"), UN("Log"), UN("Sqrt"),
    UN("Reciprocal"), UN("Erf"), UN("Elu"), UN("Selu"), UN("Celu"), UN("Softplus"),
    UN("Softsign"), UN("ThresholdedRelu"), UN("Floor"), UN("Ceil"), UN("Round"), UN("Sign"),
    UN("Sin"), UN("Cos"), UN("Tan"), UN("Asin"), UN("Acos"), UN("Atan"), UN("Sinh"), UN("Cosh"),
    UN("Asinh"), UN("Acosh"), UN("Atanh"),
    {"Equal", 7, NULL, compare_reshape, compare_run, NULL},
    {"Less", 7, NULL, compare_reshape, compare_run, NULL},
    {"Greater", 7, NULL, compare_reshape, compare_run, NULL},
    {"LessOrEqual", 12, NULL, compare_reshape, compare_run, NULL},
    {"GreaterOrEqual", 12, NULL, compare_reshape, compare_run, NULL},
    {"And", 7, NULL, compare_reshape, compare_run, NULL},
    {"Or", 7, NULL, compare_reshape, compare_run, NULL},
    {"Xor", 7, NULL, compare_reshape, compare_run, NULL},
    {"Not", 1, NULL, not_reshape, not_run, NULL},
    {"Where", 9, NULL, where_reshape, where_run, NULL},
    {"Identity", 1, NULL, identity_reshape, identity_run, NULL},
    {"Dropout", 1, NULL, dropout_reshape, dropout_run, NULL},
    {0},
};
