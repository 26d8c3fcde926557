/* Shape and data-movement operators: Concat, Split, Slice, Flatten, Reshape,
 * Squeeze, Unsqueeze, Transpose, Constant, Shape, Size, Gather, Pad, Cast,
 * CastLike, Expand, Tile, ConstantOfShape. They move bytes, so most work on
 * any fixed-size dtype; shape inputs (Reshape's shape, Slice's starts...) must
 * be constant at plan time. */
#include "../cfp_internal.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAIN 65536
#define MAXD (2 * CFP_MAX_DIMS)

/* ---- helpers ----------------------------------------------------------------- */

static bool is_int_dtype(int dt) {
    switch (dt) {
    case CFP_I64: case CFP_I32: case CFP_I16: case CFP_I8:
    case CFP_U64: case CFP_U32: case CFP_U16: case CFP_U8:
        return true;
    default:
        return false;
    }
}

static int fail_dtype(cfp_model *m, cfp_node *n, const cfp_value *v) {
    return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                         v->name, cfp_dtype_name(v->t.dtype));
}

static int set_out(cfp_model *m, cfp_node *n, int i, int dtype, int nd, const int64_t *dims) {
    cfp_value *y = cfp_out(m, n, i);
    if (!y) return CFP_OK; /* omitted optional output */
    if (nd > CFP_MAX_DIMS)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "output rank %d exceeds %d", nd,
                             CFP_MAX_DIMS);
    int rc = cfp_tensor_shape(&y->t, dtype, nd, dims);
    if (rc == CFP_E_UNSUPPORTED)
        return cfp_node_fail(m, n, rc, "unsupported dtype %s", cfp_dtype_name(dtype));
    if (rc == CFP_E_SHAPE) return cfp_node_fail(m, n, rc, "negative output dimension");
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    return CFP_OK;
}

/* The integer data of a constant input: count in *cnt (at most max). */
static int const_ints(cfp_model *m, cfp_node *n, const cfp_value *v, const char *what,
                      int64_t *out, int max, int *cnt) {
    if (!cfp_has_data(v))
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' (%s) must be constant",
                             v->name, what);
    if (!is_int_dtype(v->t.dtype))
        return cfp_node_fail(m, n, CFP_E_INVALID, "input '%s' (%s) must be an integer tensor, got %s",
                             v->name, what, cfp_dtype_name(v->t.dtype));
    if (v->t.ndim > 1)
        return cfp_node_fail(m, n, CFP_E_INVALID, "input '%s' (%s) must be 1-D", v->name, what);
    int64_t k = cfp_tensor_numel(&v->t);
    if (k > max)
        return cfp_node_fail(m, n, CFP_E_INVALID, "input '%s' (%s) has %lld values, at most %d",
                             v->name, what, (long long)k, max);
    for (int64_t i = 0; i < k; i++) out[i] = cfp_tensor_get_i64(&v->t, i);
    *cnt = (int)k;
    return CFP_OK;
}

/* Integer list from attribute `name` (opset < `since_input`) or input `idx`.
 * *cnt = -1 when absent. */
static int ints_attr_or_input(cfp_model *m, cfp_node *n, const char *name, int since_input,
                              int idx, int64_t *out, int max, int *cnt) {
    if (n->opset < since_input) {
        int k = cfp_attr_ints(n, name, out, max);
        if (k == -2) return cfp_node_fail(m, n, CFP_E_INVALID, "too many values in '%s'", name);
        *cnt = k;
        return CFP_OK;
    }
    cfp_value *v = cfp_in(m, n, idx);
    if (!v) {
        *cnt = -1;
        return CFP_OK;
    }
    return const_ints(m, n, v, name, out, max, cnt);
}

static int norm_axis(cfp_model *m, cfp_node *n, int64_t a, int r, int64_t *out) {
    *out = 0;
    if (a < -r || a >= r)
        return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld out of range for rank %d",
                             (long long)a, r);
    *out = a < 0 ? a + r : a;
    return CFP_OK;
}

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

/* ---- strided copy engine ------------------------------------------------------- */
/* out[sum idx*os] = in[sum idx*is] over dims (element strides, may be 0 or
 * negative for the input). */
typedef struct {
    int nd;
    int64_t dims[MAXD], is[MAXD], os[MAXD];
    const char *in;
    char *out;
    size_t es;
} cplan;

static void cplan_merge(cplan *p) {
    int k = 0;
    for (int d = 0; d < p->nd; d++) {
        if (p->dims[d] == 1) continue;
        if (k > 0 && p->is[k - 1] == p->is[d] * p->dims[d] &&
            p->os[k - 1] == p->os[d] * p->dims[d]) {
            p->dims[k - 1] *= p->dims[d];
            p->is[k - 1] = p->is[d];
            p->os[k - 1] = p->os[d];
        } else {
            p->dims[k] = p->dims[d];
            p->is[k] = p->is[d];
            p->os[k] = p->os[d];
            k++;
        }
    }
    if (k == 0) {
        k = 1;
        p->dims[0] = 1;
        p->is[0] = p->os[0] = 1;
    }
    p->nd = k;
}

#define COPY_T(T)                                                                   \
    do {                                                                            \
        T *o_ = (T *)o;                                                             \
        const T *i_ = (const T *)in;                                                \
        if (is == 0) {                                                              \
            T v_ = i_[0];                                                           \
            for (int64_t k = 0; k < n; k++) o_[k * os] = v_;                        \
        } else {                                                                    \
            for (int64_t k = 0; k < n; k++) o_[k * os] = i_[k * is];                \
        }                                                                           \
    } while (0)

static void copy_run(char *o, int64_t os, const char *in, int64_t is, int64_t n, size_t es) {
    if (os == 1 && is == 1) {
        memcpy(o, in, (size_t)n * es);
        return;
    }
    switch (es) {
    case 1: COPY_T(uint8_t); break;
    case 2: COPY_T(uint16_t); break;
    case 4: COPY_T(uint32_t); break;
    case 8: COPY_T(uint64_t); break;
    default:
        for (int64_t k = 0; k < n; k++) memcpy(o + k * os * (int64_t)es, in + k * is * (int64_t)es, es);
    }
}

static void copy_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const cplan *p = arg;
    int nd = p->nd;
    int64_t idx[MAXD], io = 0, oo = 0, rem = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        io += idx[d] * p->is[d];
        oo += idx[d] * p->os[d];
    }
    const int64_t last = p->dims[nd - 1], is = p->is[nd - 1], os = p->os[nd - 1];
    const int64_t es = (int64_t)p->es;
    int64_t pos = begin;
    while (pos < end) {
        int64_t len = last - idx[nd - 1];
        if (len > end - pos) len = end - pos;
        copy_run(p->out + oo * es, os, p->in + io * es, is, len, p->es);
        pos += len;
        idx[nd - 1] += len;
        io += len * is;
        oo += len * os;
        if (idx[nd - 1] < last) continue;
        io -= last * is;
        oo -= last * os;
        idx[nd - 1] = 0;
        for (int d = nd - 2; d >= 0; d--) {
            idx[d]++;
            io += p->is[d];
            oo += p->os[d];
            if (idx[d] < p->dims[d]) break;
            io -= p->is[d] * p->dims[d];
            oo -= p->os[d] * p->dims[d];
            idx[d] = 0;
        }
    }
}

/* Tiled copy for transposes: dims p (input-contiguous) and q (the last,
 * output-contiguous) are walked in TILE x TILE blocks. */
#define TILE 16
typedef struct {
    const cplan *c;
    int p;
    int64_t nblk; /* blocks along p */
} tjob;

#define TILE_T(T)                                                                   \
    do {                                                                            \
        for (int64_t q0 = 0; q0 < nq; q0 += TILE) {                                 \
            int64_t q1 = q0 + TILE < nq ? q0 + TILE : nq;                           \
            for (int64_t a = a0; a < a1; a++) {                                     \
                T *o_ = (T *)c->out + oo + a * osp;                                 \
                const T *i_ = (const T *)c->in + io + a * isp;                      \
                for (int64_t b = q0; b < q1; b++) o_[b * osq] = i_[b * isq];        \
            }                                                                       \
        }                                                                           \
    } while (0)

static void tile_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const tjob *j = arg;
    const cplan *c = j->c;
    int nd = c->nd, p = j->p, q = nd - 1;
    int64_t np = c->dims[p], nq = c->dims[q];
    int64_t isp = c->is[p], osp = c->os[p], isq = c->is[q], osq = c->os[q];
    for (int64_t item = begin; item < end; item++) {
        int64_t blk = item % j->nblk, rem = item / j->nblk;
        int64_t io = 0, oo = 0;
        for (int d = nd - 1; d >= 0; d--) {
            if (d == p || d == q) continue;
            int64_t i = rem % c->dims[d];
            rem /= c->dims[d];
            io += i * c->is[d];
            oo += i * c->os[d];
        }
        int64_t a0 = blk * TILE, a1 = a0 + TILE < np ? a0 + TILE : np;
        switch (c->es) {
        case 1: TILE_T(uint8_t); break;
        case 2: TILE_T(uint16_t); break;
        case 4: TILE_T(uint32_t); break;
        case 8: TILE_T(uint64_t); break;
        default:
            for (int64_t a = a0; a < a1; a++)
                for (int64_t b = 0; b < nq; b++)
                    memcpy(c->out + (oo + a * osp + b * osq) * (int64_t)c->es,
                           c->in + (io + a * isp + b * isq) * (int64_t)c->es, c->es);
        }
    }
}

static void cplan_run(cfp_model *m, cplan *p) {
    cplan_merge(p);
    int64_t total = prod(p->dims, 0, p->nd);
    if (total == 0) return;
    int q = p->nd - 1;
    if (p->nd >= 2 && p->os[q] == 1 && p->is[q] != 1 && p->dims[q] >= 8) {
        int pd = -1;
        for (int d = 0; d < q; d++)
            if (p->is[d] == 1) pd = d;
        if (pd >= 0 && p->dims[pd] >= 8) {
            tjob j = {p, pd, (p->dims[pd] + TILE - 1) / TILE};
            int64_t items = total / (p->dims[pd] * p->dims[q]) * j.nblk;
            int64_t per = TILE * p->dims[q];
            cfp_parallel_for(m->ctx->pool, items, GRAIN / per + 1, tile_range, &j);
            return;
        }
    }
    cfp_parallel_for(m->ctx->pool, total, GRAIN, copy_range, p);
}

/* Contiguous element strides of a shape. */
static void strides_of(const int64_t *dims, int nd, int64_t *st) {
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = s;
        s *= dims[d];
    }
}

/* ---- copy-like: Reshape, Flatten, Squeeze, Unsqueeze ---------------------------- */

static int copy_run_op(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return CFP_OK;
}

static int need_io(cfp_model *m, cfp_node *n, cfp_value **x) {
    *x = cfp_in(m, n, 0);
    if (!*x || !cfp_out(m, n, 0))
        return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and an output");
    if (!cfp_dtype_size((*x)->t.dtype)) return fail_dtype(m, n, *x);
    return CFP_OK;
}

static int reshape_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int64_t shape[CFP_MAX_DIMS];
    int k;
    if (n->opset < 5) {
        k = cfp_attr_ints(n, "shape", shape, CFP_MAX_DIMS);
        if (k < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "missing or too long 'shape'");
    } else {
        cfp_value *s = cfp_in(m, n, 1);
        if (!s) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 'shape'");
        if ((rc = const_ints(m, n, s, "shape", shape, CFP_MAX_DIMS, &k))) return rc;
    }
    bool allowzero = cfp_attr_i(n, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1, total = cfp_tensor_numel(&x->t);
    for (int i = 0; i < k; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) return cfp_node_fail(m, n, CFP_E_INVALID, "more than one -1 in shape");
            infer = i;
            continue;
        }
        if (shape[i] == 0 && !allowzero) {
            if (i >= x->t.ndim)
                return cfp_node_fail(m, n, CFP_E_SHAPE,
                                     "shape[%d] = 0 copies a dimension the input (rank %d) lacks",
                                     i, x->t.ndim);
            shape[i] = x->t.dims[i];
        }
        if (shape[i] < 0)
            return cfp_node_fail(m, n, CFP_E_INVALID, "invalid dimension %lld in shape",
                                 (long long)shape[i]);
        if (shape[i] && known > INT64_MAX / shape[i])
            return cfp_node_fail(m, n, CFP_E_LIMIT, "shape too large");
        known *= shape[i];
    }
    char b1[128];
    if (infer >= 0) {
        if (known == 0 || total % known)
            return cfp_node_fail(m, n, CFP_E_SHAPE,
                                 "cannot infer the -1 dimension: %lld elements (%s) into %lld",
                                 (long long)total, cfp_shape_str(&x->t, b1, sizeof b1),
                                 (long long)known);
        shape[infer] = total / known;
        known = total;
    }
    if (known != total)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "cannot reshape %s (%lld elements) to %lld elements",
                             cfp_shape_str(&x->t, b1, sizeof b1), (long long)total,
                             (long long)known);
    return set_out(m, n, 0, x->t.dtype, k, shape);
}

static int flatten_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int r = x->t.ndim;
    int64_t a = cfp_attr_i(n, "axis", 1);
    if (a < -r || a > r)
        return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld out of range for rank %d",
                             (long long)a, r);
    if (a < 0) a += r;
    int64_t dims[2] = {prod(x->t.dims, 0, (int)a), prod(x->t.dims, (int)a, r)};
    return set_out(m, n, 0, x->t.dtype, 2, dims);
}

static int squeeze_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int r = x->t.ndim;
    int64_t axes[CFP_MAX_DIMS];
    int k;
    if ((rc = ints_attr_or_input(m, n, "axes", 13, 1, axes, CFP_MAX_DIMS, &k))) return rc;
    bool drop[CFP_MAX_DIMS] = {0};
    if (k < 0) {
        for (int d = 0; d < r; d++) drop[d] = x->t.dims[d] == 1;
    } else {
        for (int i = 0; i < k; i++) {
            int64_t a;
            if ((rc = norm_axis(m, n, axes[i], r, &a))) return rc;
            if (x->t.dims[a] != 1)
                return cfp_node_fail(m, n, CFP_E_SHAPE, "cannot squeeze axis %lld of size %lld",
                                     (long long)axes[i], (long long)x->t.dims[a]);
            drop[a] = true;
        }
    }
    int64_t dims[CFP_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < r; d++)
        if (!drop[d]) dims[nd++] = x->t.dims[d];
    return set_out(m, n, 0, x->t.dtype, nd, dims);
}

static int unsqueeze_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int r = x->t.ndim;
    int64_t axes[CFP_MAX_DIMS];
    int k;
    if ((rc = ints_attr_or_input(m, n, "axes", 13, 1, axes, CFP_MAX_DIMS, &k))) return rc;
    if (k < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "missing 'axes'");
    int nd = r + k;
    if (nd > CFP_MAX_DIMS)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "output rank %d exceeds %d", nd,
                             CFP_MAX_DIMS);
    bool ins[CFP_MAX_DIMS] = {0};
    for (int i = 0; i < k; i++) {
        int64_t a;
        if ((rc = norm_axis(m, n, axes[i], nd, &a))) return rc;
        if (ins[a]) return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld repeated", (long long)axes[i]);
        ins[a] = true;
    }
    int64_t dims[CFP_MAX_DIMS];
    for (int d = 0, s = 0; d < nd; d++) dims[d] = ins[d] ? 1 : x->t.dims[s++];
    return set_out(m, n, 0, x->t.dtype, nd, dims);
}

/* ---- Transpose --------------------------------------------------------------- */

static int get_perm(cfp_model *m, cfp_node *n, int r, int64_t *perm) {
    int k = cfp_attr_ints(n, "perm", perm, CFP_MAX_DIMS);
    if (k == -2 || (k >= 0 && k != r))
        return cfp_node_fail(m, n, CFP_E_INVALID, "perm has %d entries, input rank is %d", k, r);
    if (k < 0)
        for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
    bool seen[CFP_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        if (perm[d] < 0 || perm[d] >= r || seen[perm[d]])
            return cfp_node_fail(m, n, CFP_E_INVALID, "perm is not a permutation of 0..%d", r - 1);
        seen[perm[d]] = true;
    }
    return CFP_OK;
}

static int transpose_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int64_t perm[CFP_MAX_DIMS], dims[CFP_MAX_DIMS];
    if ((rc = get_perm(m, n, x->t.ndim, perm))) return rc;
    for (int d = 0; d < x->t.ndim; d++) dims[d] = x->t.dims[perm[d]];
    return set_out(m, n, 0, x->t.dtype, x->t.ndim, dims);
}

static int transpose_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int r = x->ndim;
    int64_t perm[CFP_MAX_DIMS], ist[CFP_MAX_DIMS];
    int rc = get_perm(m, n, r, perm);
    if (rc) return rc;
    cplan p = {.nd = r, .in = x->data, .out = y->data, .es = cfp_dtype_size(x->dtype)};
    strides_of(x->dims, r, ist);
    strides_of(y->dims, r, p.os);
    for (int d = 0; d < r; d++) {
        p.dims[d] = y->dims[d];
        p.is[d] = ist[perm[d]];
    }
    cplan_run(m, &p);
    return CFP_OK;
}

/* ---- Concat, Split ------------------------------------------------------------- */

static int concat_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x0 = cfp_in(m, n, 0);
    if (!x0 || !cfp_out(m, n, 0)) return cfp_node_fail(m, n, CFP_E_INVALID, "expected inputs and an output");
    if (!cfp_dtype_size(x0->t.dtype)) return fail_dtype(m, n, x0);
    int r = x0->t.ndim;
    const cfp_attr *aa = cfp_attr_get(n, "axis");
    if (!aa && n->opset >= 4) return cfp_node_fail(m, n, CFP_E_INVALID, "missing attribute 'axis'");
    int64_t axis;
    int rc = norm_axis(m, n, cfp_attr_i(n, "axis", 1), r, &axis);
    if (rc) return rc;
    int64_t dims[CFP_MAX_DIMS];
    memcpy(dims, x0->t.dims, sizeof dims);
    dims[axis] = 0;
    char b1[128], b2[128];
    for (int i = 0; i < n->n_in; i++) {
        cfp_value *x = cfp_in(m, n, i);
        if (!x) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input %d", i);
        if (x->t.dtype != x0->t.dtype)
            return cfp_node_fail(m, n, CFP_E_INVALID, "input dtypes differ: %s and %s",
                                 cfp_dtype_name(x0->t.dtype), cfp_dtype_name(x->t.dtype));
        bool ok = x->t.ndim == r;
        for (int d = 0; ok && d < r; d++)
            if (d != axis && x->t.dims[d] != x0->t.dims[d]) ok = false;
        if (!ok)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "input shapes %s and %s differ outside axis %lld",
                                 cfp_shape_str(&x0->t, b1, sizeof b1),
                                 cfp_shape_str(&x->t, b2, sizeof b2), (long long)axis);
        dims[axis] += x->t.dims[axis];
    }
    return set_out(m, n, 0, x0->t.dtype, r, dims);
}

static int concat_run(cfp_model *m, cfp_node *n) {
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int r = y->ndim;
    int64_t axis = cfp_attr_i(n, "axis", 1);
    if (axis < 0) axis += r;
    size_t es = cfp_dtype_size(y->dtype);
    int64_t outer = prod(y->dims, 0, (int)axis), inner = prod(y->dims, (int)axis + 1, r);
    size_t orow = (size_t)(y->dims[axis] * inner) * es, off = 0;
    for (int i = 0; i < n->n_in; i++) {
        const cfp_tensor *x = &cfp_in(m, n, i)->t;
        size_t row = (size_t)(x->dims[axis] * inner) * es;
        if (row)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)y->data + (size_t)o * orow + off, (const char *)x->data + (size_t)o * row,
                       row);
        off += row;
    }
    /* along channels, the output's means are its inputs' (no pass over it) */
    cfp_value *yv = cfp_out(m, n, 0);
    if (axis == 1 && !m->keep_none && yv->pooled && yv->n_pooled == y->dims[1]) {
        int64_t at = 0;
        for (int i = 0; i < n->n_in; i++) {
            const cfp_value *x = cfp_in(m, n, i);
            if (!x->pooled || x->n_pooled != x->t.dims[1]) return CFP_OK; /* the engine computes them */
            at += x->n_pooled;
        }
        if (at != yv->n_pooled) return CFP_OK;
        at = 0;
        for (int i = 0; i < n->n_in; i++) {
            const cfp_value *x = cfp_in(m, n, i);
            memcpy(yv->pooled + at, x->pooled, (size_t)x->n_pooled * sizeof(float));
            at += x->n_pooled;
        }
        n->pooled_done = true;
    }
    return CFP_OK;
}

/* Sizes of Split's outputs along the axis. */
static int split_sizes(cfp_model *m, cfp_node *n, const cfp_tensor *x, int64_t axis, int64_t *sizes) {
    int no = n->n_out;
    int64_t dim = x->dims[axis];
    int64_t *sp = NULL;
    int k = -1, rc = CFP_OK;
    if (n->opset < 13) {
        const cfp_attr *a = cfp_attr_get(n, "split");
        if (a && a->type == CFP_ATTR_INTS) {
            sp = a->ints;
            k = a->n;
        }
    } else {
        cfp_value *s = cfp_in(m, n, 1);
        if (s) {
            if (!cfp_has_data(s))
                return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input 'split' must be constant");
            if (!is_int_dtype(s->t.dtype))
                return cfp_node_fail(m, n, CFP_E_INVALID, "input 'split' must be integer");
            k = (int)cfp_tensor_numel(&s->t);
            if (k != no)
                return cfp_node_fail(m, n, CFP_E_INVALID, "split has %d sizes for %d outputs", k, no);
            int64_t sum = 0;
            for (int i = 0; i < k; i++) {
                sizes[i] = cfp_tensor_get_i64(&s->t, i);
                if (sizes[i] < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "negative split size");
                sum += sizes[i];
            }
            if (sum != dim)
                return cfp_node_fail(m, n, CFP_E_SHAPE, "split sizes sum to %lld, axis has %lld",
                                     (long long)sum, (long long)dim);
            return CFP_OK;
        }
    }
    if (sp) {
        if (k != no)
            return cfp_node_fail(m, n, CFP_E_INVALID, "split has %d sizes for %d outputs", k, no);
        int64_t sum = 0;
        for (int i = 0; i < k; i++) {
            if (sp[i] < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "negative split size");
            sizes[i] = sp[i];
            sum += sp[i];
        }
        if (sum != dim)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "split sizes sum to %lld, axis has %lld",
                                 (long long)sum, (long long)dim);
        return CFP_OK;
    }
    if (n->opset >= 18 && cfp_attr_get(n, "num_outputs")) {
        int64_t no2 = cfp_attr_i(n, "num_outputs", no);
        if (no2 != no)
            return cfp_node_fail(m, n, CFP_E_INVALID, "num_outputs %lld but %d outputs",
                                 (long long)no2, no);
        int64_t chunk = (dim + no - 1) / no;
        for (int i = 0; i < no; i++) {
            int64_t left = dim - chunk * i;
            sizes[i] = left < 0 ? 0 : (left < chunk ? left : chunk);
        }
        return CFP_OK;
    }
    if (dim % no)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "axis of size %lld does not split into %d equal parts",
                             (long long)dim, no);
    for (int i = 0; i < no; i++) sizes[i] = dim / no;
    return rc;
}

static int split_common(cfp_model *m, cfp_node *n, int64_t *axis, int64_t **sizes) {
    cfp_value *x = cfp_in(m, n, 0);
    if (!x || n->n_out < 1) return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and outputs");
    if (!cfp_dtype_size(x->t.dtype)) return fail_dtype(m, n, x);
    int rc = norm_axis(m, n, cfp_attr_i(n, "axis", 0), x->t.ndim, axis);
    if (rc) return rc;
    *sizes = malloc((size_t)n->n_out * sizeof **sizes);
    if (!*sizes) return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
    rc = split_sizes(m, n, &x->t, *axis, *sizes);
    if (rc) {
        free(*sizes);
        *sizes = NULL;
    }
    return rc;
}

static int split_reshape(cfp_model *m, cfp_node *n) {
    int64_t axis, *sizes;
    int rc = split_common(m, n, &axis, &sizes);
    if (rc) return rc;
    cfp_value *x = cfp_in(m, n, 0);
    int64_t dims[CFP_MAX_DIMS];
    memcpy(dims, x->t.dims, sizeof dims);
    for (int i = 0; i < n->n_out && !rc; i++) {
        dims[axis] = sizes[i];
        rc = set_out(m, n, i, x->t.dtype, x->t.ndim, dims);
    }
    free(sizes);
    return rc;
}

static int split_run(cfp_model *m, cfp_node *n) {
    int64_t axis, *sizes;
    int rc = split_common(m, n, &axis, &sizes);
    if (rc) return rc;
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    size_t es = cfp_dtype_size(x->dtype);
    int64_t outer = prod(x->dims, 0, (int)axis), inner = prod(x->dims, (int)axis + 1, x->ndim);
    size_t irow = (size_t)(x->dims[axis] * inner) * es, off = 0;
    for (int i = 0; i < n->n_out; i++) {
        size_t row = (size_t)(sizes[i] * inner) * es;
        cfp_value *y = cfp_out(m, n, i);
        if (y && row)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)y->t.data + (size_t)o * row,
                       (const char *)x->data + (size_t)o * irow + off, row);
        off += row;
    }
    free(sizes);
    return CFP_OK;
}

/* ---- Slice ------------------------------------------------------------------- */

static int slice_params(cfp_model *m, cfp_node *n, int64_t *start, int64_t *step, int64_t *count) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    int r = x->ndim, rc;
    int64_t st[CFP_MAX_DIMS], en[CFP_MAX_DIMS], ax[CFP_MAX_DIMS], sp[CFP_MAX_DIMS];
    int ns, ne, na = -1, nsp = -1;
    if (n->opset < 10) {
        ns = cfp_attr_ints(n, "starts", st, CFP_MAX_DIMS);
        ne = cfp_attr_ints(n, "ends", en, CFP_MAX_DIMS);
        na = cfp_attr_ints(n, "axes", ax, CFP_MAX_DIMS);
        if (ns < 0 || ne < 0)
            return cfp_node_fail(m, n, CFP_E_INVALID, "missing or too long 'starts'/'ends'");
        if (na == -2) return cfp_node_fail(m, n, CFP_E_INVALID, "too many axes");
    } else {
        cfp_value *vs = cfp_in(m, n, 1), *ve = cfp_in(m, n, 2), *va = cfp_in(m, n, 3),
                  *vp = cfp_in(m, n, 4);
        if (!vs || !ve) return cfp_node_fail(m, n, CFP_E_INVALID, "missing 'starts' or 'ends'");
        if ((rc = const_ints(m, n, vs, "starts", st, CFP_MAX_DIMS, &ns))) return rc;
        if ((rc = const_ints(m, n, ve, "ends", en, CFP_MAX_DIMS, &ne))) return rc;
        if (va && (rc = const_ints(m, n, va, "axes", ax, CFP_MAX_DIMS, &na))) return rc;
        if (vp && (rc = const_ints(m, n, vp, "steps", sp, CFP_MAX_DIMS, &nsp))) return rc;
    }
    if (ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return cfp_node_fail(m, n, CFP_E_INVALID, "starts, ends, axes and steps differ in length");
    for (int d = 0; d < r; d++) {
        start[d] = 0;
        step[d] = 1;
        count[d] = x->dims[d];
    }
    bool seen[CFP_MAX_DIMS] = {0};
    for (int i = 0; i < ns; i++) {
        int64_t a = na >= 0 ? ax[i] : i;
        if ((rc = norm_axis(m, n, a, r, &a))) return rc;
        if (seen[a]) return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld repeated", (long long)a);
        seen[a] = true;
        int64_t dim = x->dims[a], s = st[i], e = en[i], k = nsp >= 0 ? sp[i] : 1;
        if (k == 0) return cfp_node_fail(m, n, CFP_E_INVALID, "step 0");
        if (k < -INT64_MAX) k = -INT64_MAX;
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t c;
        if (k > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            c = e > s ? (e - s - 1) / k + 1 : 0;
        } else {
            s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            c = s > e ? (s - e - 1) / -k + 1 : 0;
        }
        start[a] = c ? s : 0;
        step[a] = c > 1 ? k : 1; /* a huge step with one element: keep strides small */
        count[a] = c;
    }
    return CFP_OK;
}

static int slice_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int64_t start[CFP_MAX_DIMS], step[CFP_MAX_DIMS], count[CFP_MAX_DIMS];
    if ((rc = slice_params(m, n, start, step, count))) return rc;
    return set_out(m, n, 0, x->t.dtype, x->t.ndim, count);
}

static int slice_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int64_t start[CFP_MAX_DIMS], step[CFP_MAX_DIMS], count[CFP_MAX_DIMS], ist[CFP_MAX_DIMS];
    int rc = slice_params(m, n, start, step, count);
    if (rc) return rc;
    int r = x->ndim;
    size_t es = cfp_dtype_size(x->dtype);
    if (prod(count, 0, r) == 0) return CFP_OK;
    strides_of(x->dims, r, ist);
    int64_t off = 0;
    cplan p = {.nd = r, .out = y->data, .es = es};
    for (int d = 0; d < r; d++) {
        off += start[d] * ist[d];
        p.dims[d] = count[d];
        p.is[d] = ist[d] * step[d];
    }
    strides_of(count, r, p.os);
    p.in = (const char *)x->data + off * (int64_t)es;
    cplan_run(m, &p);
    return CFP_OK;
}

/* ---- Expand, Tile ---------------------------------------------------------------- */

static int expand_dims(cfp_model *m, cfp_node *n, const cfp_tensor *x, int *nd, int64_t *dims) {
    cfp_value *s = cfp_in(m, n, 1);
    if (!s) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 'shape'");
    int64_t shape[CFP_MAX_DIMS];
    int k, rc = const_ints(m, n, s, "shape", shape, CFP_MAX_DIMS, &k);
    if (rc) return rc;
    int r = x->ndim > k ? x->ndim : k;
    for (int d = 0; d < r; d++) {
        int dx = d - (r - x->ndim), ds = d - (r - k);
        int64_t a = dx >= 0 ? x->dims[dx] : 1, b = ds >= 0 ? shape[ds] : 1;
        if (b < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "negative dimension in shape");
        if (a == b || b == 1) dims[d] = a;
        else if (a == 1) dims[d] = b;
        else {
            char b1[128];
            return cfp_node_fail(m, n, CFP_E_SHAPE, "input %s cannot expand to dimension %lld at axis %d",
                                 cfp_shape_str(x, b1, sizeof b1), (long long)b, d);
        }
    }
    *nd = r;
    return CFP_OK;
}

static int expand_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int nd = 0;
    int64_t dims[CFP_MAX_DIMS];
    if ((rc = expand_dims(m, n, &x->t, &nd, dims))) return rc;
    return set_out(m, n, 0, x->t.dtype, nd, dims);
}

static int expand_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int r = y->ndim, off = r - x->ndim;
    int64_t ist[CFP_MAX_DIMS];
    strides_of(x->dims, x->ndim, ist);
    cplan p = {.nd = r, .in = x->data, .out = y->data, .es = cfp_dtype_size(x->dtype)};
    strides_of(y->dims, r, p.os);
    for (int d = 0; d < r; d++) {
        p.dims[d] = y->dims[d];
        p.is[d] = (d >= off && x->dims[d - off] != 1) ? ist[d - off] : 0;
    }
    cplan_run(m, &p);
    return CFP_OK;
}

static int tile_repeats(cfp_model *m, cfp_node *n, const cfp_tensor *x, int64_t *rep) {
    cfp_value *v = cfp_in(m, n, 1);
    if (!v) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 'repeats'");
    int k, rc = const_ints(m, n, v, "repeats", rep, CFP_MAX_DIMS, &k);
    if (rc) return rc;
    if (k != x->ndim)
        return cfp_node_fail(m, n, CFP_E_INVALID, "repeats has %d values, input rank is %d", k,
                             x->ndim);
    for (int d = 0; d < k; d++)
        if (rep[d] < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "negative repeat");
    return CFP_OK;
}

static int tile_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int64_t rep[CFP_MAX_DIMS], dims[CFP_MAX_DIMS];
    if ((rc = tile_repeats(m, n, &x->t, rep))) return rc;
    for (int d = 0; d < x->t.ndim; d++) {
        if (rep[d] && x->t.dims[d] > INT64_MAX / rep[d])
            return cfp_node_fail(m, n, CFP_E_LIMIT, "output too large");
        dims[d] = x->t.dims[d] * rep[d];
    }
    return set_out(m, n, 0, x->t.dtype, x->t.ndim, dims);
}

static int tile_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int r = x->ndim;
    int64_t rep[CFP_MAX_DIMS], ist[CFP_MAX_DIMS];
    int rc = tile_repeats(m, n, x, rep);
    if (rc) return rc;
    /* nothing to copy; and with an empty input the repeats are unbounded,
     * so the strides of the view below could overflow */
    if (y->nbytes == 0) return CFP_OK;
    strides_of(x->dims, r, ist);
    /* view the output as (rep0, d0, rep1, d1, ...) */
    cplan p = {.nd = 2 * r, .in = x->data, .out = y->data, .es = cfp_dtype_size(x->dtype)};
    for (int d = 0; d < r; d++) {
        p.dims[2 * d] = rep[d];
        p.dims[2 * d + 1] = x->dims[d];
        p.is[2 * d] = 0;
        p.is[2 * d + 1] = ist[d];
    }
    strides_of(p.dims, 2 * r, p.os);
    cplan_run(m, &p);
    return CFP_OK;
}

/* ---- Gather ----------------------------------------------------------------------- */

static int gather_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    cfp_value *iv = cfp_in(m, n, 1);
    if (!iv) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 'indices'");
    if (iv->t.dtype != CFP_I64 && iv->t.dtype != CFP_I32)
        return cfp_node_fail(m, n, CFP_E_INVALID, "indices must be int64 or int32, got %s",
                             cfp_dtype_name(iv->t.dtype));
    int r = x->t.ndim, q = iv->t.ndim;
    if (r < 1) return cfp_node_fail(m, n, CFP_E_SHAPE, "data must have rank >= 1");
    int64_t axis;
    if ((rc = norm_axis(m, n, cfp_attr_i(n, "axis", 0), r, &axis))) return rc;
    if (r - 1 + q > CFP_MAX_DIMS)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "output rank %d exceeds %d", r - 1 + q,
                             CFP_MAX_DIMS);
    int64_t dims[CFP_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < axis; d++) dims[nd++] = x->t.dims[d];
    for (int d = 0; d < q; d++) dims[nd++] = iv->t.dims[d];
    for (int d = (int)axis + 1; d < r; d++) dims[nd++] = x->t.dims[d];
    if (cfp_has_data(iv)) {
        int64_t k = x->t.dims[axis], ni = cfp_tensor_numel(&iv->t);
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = cfp_tensor_get_i64(&iv->t, i);
            if (v < -k || v >= k)
                return cfp_node_fail(m, n, CFP_E_INVALID, "index %lld out of range [%lld, %lld]",
                                     (long long)v, (long long)-k, (long long)k - 1);
        }
    }
    return set_out(m, n, 0, x->t.dtype, nd, dims);
}

static int gather_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t, *ix = &cfp_in(m, n, 1)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int r = x->ndim;
    int64_t axis = cfp_attr_i(n, "axis", 0);
    if (axis < 0) axis += r;
    size_t es = cfp_dtype_size(x->dtype);
    int64_t outer = prod(x->dims, 0, (int)axis), k = x->dims[axis];
    int64_t inner = prod(x->dims, (int)axis + 1, r), ni = cfp_tensor_numel(ix);
    size_t row = (size_t)inner * es;
    for (int64_t i = 0; i < ni; i++) {
        int64_t v = cfp_tensor_get_i64(ix, i);
        if (v < -k || v >= k)
            return cfp_node_fail(m, n, CFP_E_INVALID, "index %lld out of range [%lld, %lld]",
                                 (long long)v, (long long)-k, (long long)k - 1);
    }
    if (!row) return CFP_OK;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = cfp_tensor_get_i64(ix, i);
            if (v < 0) v += k;
            memcpy((char *)y->data + (size_t)(o * ni + i) * row,
                   (const char *)x->data + (size_t)(o * k + v) * row, row);
        }
    return CFP_OK;
}

/* ---- Pad --------------------------------------------------------------------- */
enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static int pad_mode(cfp_model *m, cfp_node *n, int *mode) {
    const char *s = cfp_attr_s(n, "mode", "constant");
    if (!strcmp(s, "constant")) *mode = PAD_CONSTANT;
    else if (!strcmp(s, "reflect")) *mode = PAD_REFLECT;
    else if (!strcmp(s, "edge")) *mode = PAD_EDGE;
    else return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "pad mode '%s' is not supported", s);
    return CFP_OK;
}

static int pad_prepare(cfp_model *m, cfp_node *n) {
    int mode;
    return pad_mode(m, n, &mode);
}

/* Begin and end pads per input axis. */
static int pad_amounts(cfp_model *m, cfp_node *n, const cfp_tensor *x, int64_t *pb, int64_t *pe) {
    int r = x->ndim, k, rc;
    int64_t pads[MAXD], axes[CFP_MAX_DIMS];
    int na = -1;
    if (n->opset < 11) {
        k = cfp_attr_ints(n, n->opset < 2 ? "paddings" : "pads", pads, MAXD);
        if (k < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "missing or too long 'pads'");
    } else {
        cfp_value *pv = cfp_in(m, n, 1), *av = cfp_in(m, n, 3);
        if (!pv) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 'pads'");
        if ((rc = const_ints(m, n, pv, "pads", pads, MAXD, &k))) return rc;
        if (av && (rc = const_ints(m, n, av, "axes", axes, CFP_MAX_DIMS, &na))) return rc;
    }
    int nax = na >= 0 ? na : r;
    if (k != 2 * nax)
        return cfp_node_fail(m, n, CFP_E_INVALID, "pads has %d values, expected %d", k, 2 * nax);
    for (int d = 0; d < r; d++) pb[d] = pe[d] = 0;
    for (int i = 0; i < nax; i++) {
        int64_t a = i;
        if (na >= 0 && (rc = norm_axis(m, n, axes[i], r, &a))) return rc;
        pb[a] = pads[i];
        pe[a] = pads[i + nax];
        const int64_t lim = (int64_t)1 << 40;
        if (pb[a] > lim || pb[a] < -lim || pe[a] > lim || pe[a] < -lim)
            return cfp_node_fail(m, n, CFP_E_LIMIT, "pad of axis %lld too large", (long long)a);
    }
    return CFP_OK;
}

static int pad_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x;
    int rc = need_io(m, n, &x);
    if (rc) return rc;
    int mode;
    if ((rc = pad_mode(m, n, &mode))) return rc;
    int64_t pb[CFP_MAX_DIMS], pe[CFP_MAX_DIMS], dims[CFP_MAX_DIMS];
    if ((rc = pad_amounts(m, n, &x->t, pb, pe))) return rc;
    for (int d = 0; d < x->t.ndim; d++) {
        int64_t dim = x->t.dims[d];
        dims[d] = dim + pb[d] + pe[d];
        if (dims[d] < 0)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "pads crop axis %d of size %lld below zero", d,
                                 (long long)dim);
        if (mode != PAD_CONSTANT && dims[d] > 0 && (pb[d] > 0 || pe[d] > 0)) {
            if (dim == 0)
                return cfp_node_fail(m, n, CFP_E_SHAPE, "cannot %s-pad an empty axis",
                                     mode == PAD_EDGE ? "edge" : "reflect");
            if (mode == PAD_REFLECT && (pb[d] >= dim || pe[d] >= dim) && dim > 1)
                return cfp_node_fail(m, n, CFP_E_SHAPE,
                                     "reflect pads (%lld, %lld) must be smaller than axis %d of size %lld",
                                     (long long)pb[d], (long long)pe[d], d, (long long)dim);
        }
    }
    return set_out(m, n, 0, x->t.dtype, x->t.ndim, dims);
}

static int64_t pad_map(int mode, int64_t i, int64_t dim) {
    if (i >= 0 && i < dim) return i;
    if (mode == PAD_EDGE) return i < 0 ? 0 : dim - 1;
    if (dim == 1) return 0;
    /* reflect without repeating the edge */
    int64_t period = 2 * (dim - 1);
    i %= period;
    if (i < 0) i += period;
    return i < dim ? i : period - i;
}

static int pad_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int r = x->ndim, mode, rc;
    if ((rc = pad_mode(m, n, &mode))) return rc;
    int64_t pb[CFP_MAX_DIMS], pe[CFP_MAX_DIMS], ist[CFP_MAX_DIMS], ost[CFP_MAX_DIMS];
    if ((rc = pad_amounts(m, n, x, pb, pe))) return rc;
    size_t es = cfp_dtype_size(x->dtype);
    int64_t total = cfp_tensor_numel(y);
    if (total == 0) return CFP_OK;
    strides_of(x->dims, r, ist);
    strides_of(y->dims, r, ost);
    if (mode == PAD_CONSTANT || cfp_tensor_numel(x) == 0) {
        /* fill, then copy the overlap */
        cfp_value *cv = n->opset >= 11 ? cfp_in(m, n, 2) : NULL;
        bool fl = x->dtype == CFP_F32 || x->dtype == CFP_F64;
        double fv = n->opset < 11 ? cfp_attr_f(n, "value", 0.0f) : 0.0;
        int64_t iv = (int64_t)fv;
        if (cv && cfp_tensor_numel(&cv->t) > 0) {
            fv = cfp_tensor_get_f64(&cv->t, 0);
            iv = cfp_tensor_get_i64(&cv->t, 0);
        }
        if (fv != 0.0 || iv != 0) {
            for (int64_t i = 0; i < total; i++) {
                if (fl) cfp_tensor_set_f64(y, i, fv);
                else cfp_tensor_set_i64(y, i, iv);
            }
        } else {
            memset(y->data, 0, y->nbytes);
        }
        cplan p = {.nd = r, .es = es};
        int64_t ioff = 0, ooff = 0;
        for (int d = 0; d < r; d++) {
            int64_t i0 = pb[d] < 0 ? -pb[d] : 0, o0 = pb[d] > 0 ? pb[d] : 0;
            int64_t c = x->dims[d] - i0 - (pe[d] < 0 ? -pe[d] : 0);
            if (c <= 0) return CFP_OK;
            p.dims[d] = c;
            p.is[d] = ist[d];
            p.os[d] = ost[d];
            ioff += i0 * ist[d];
            ooff += o0 * ost[d];
        }
        p.in = (const char *)x->data + ioff * (int64_t)es;
        p.out = (char *)y->data + ooff * (int64_t)es;
        cplan_run(m, &p);
        return CFP_OK;
    }
    /* edge / reflect: gather through per-axis index maps */
    int64_t *maps[CFP_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        maps[d] = malloc((size_t)(y->dims[d] ? y->dims[d] : 1) * sizeof **maps);
        if (!maps[d]) {
            for (int e = 0; e < d; e++) free(maps[e]);
            return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
        }
        for (int64_t i = 0; i < y->dims[d]; i++) maps[d][i] = pad_map(mode, i - pb[d], x->dims[d]);
    }
    int64_t idx[CFP_MAX_DIMS] = {0};
    for (int64_t k = 0; k < total; k++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += maps[d][idx[d]] * ist[d];
        memcpy((char *)y->data + k * (int64_t)es, (const char *)x->data + off * (int64_t)es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    for (int d = 0; d < r; d++) free(maps[d]);
    return CFP_OK;
}

/* ---- Cast, CastLike ----------------------------------------------------------- */

static bool cast_ok(int dt) {
    return dt == CFP_F32 || dt == CFP_F64 || dt == CFP_BOOL || is_int_dtype(dt);
}

static int cast_target(cfp_model *m, cfp_node *n, int *to) {
    if (!strcmp(n->op_type, "CastLike")) {
        cfp_value *t = cfp_in(m, n, 1);
        if (!t) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input 'target_type'");
        *to = t->t.dtype;
    } else {
        const cfp_attr *a = cfp_attr_get(n, "to");
        if (!a || a->type != CFP_ATTR_INT)
            return cfp_node_fail(m, n, CFP_E_INVALID, "missing attribute 'to'");
        *to = (int)a->i;
    }
    if (!cast_ok(*to))
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "cast to %s is not supported",
                             cfp_dtype_name(*to));
    return CFP_OK;
}

static int cast_prepare(cfp_model *m, cfp_node *n) {
    if (!strcmp(n->op_type, "CastLike")) return CFP_OK;
    int to;
    return cast_target(m, n, &to);
}

static int cast_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x = cfp_in(m, n, 0);
    if (!x || !cfp_out(m, n, 0)) return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and an output");
    int to, rc = cast_target(m, n, &to);
    if (rc) return rc;
    if (!cast_ok(x->t.dtype))
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "cast from %s is not supported",
                             cfp_dtype_name(x->t.dtype));
    return set_out(m, n, 0, to, x->t.ndim, x->t.dims);
}

static int cast_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int64_t total = cfp_tensor_numel(x);
    if (x->dtype == y->dtype) {
        if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
        return CFP_OK;
    }
    if (x->dtype == CFP_I64 && y->dtype == CFP_F32) {
        const int64_t *s = x->data;
        float *d = y->data;
        for (int64_t i = 0; i < total; i++) d[i] = (float)s[i];
        return CFP_OK;
    }
    bool fsrc = x->dtype == CFP_F32 || x->dtype == CFP_F64;
    for (int64_t i = 0; i < total; i++) {
        if (fsrc) cfp_tensor_set_f64(y, i, cfp_tensor_get_f64(x, i));
        else if (x->dtype == CFP_U64 && (y->dtype == CFP_F32 || y->dtype == CFP_F64))
            cfp_tensor_set_f64(y, i, (double)((const uint64_t *)x->data)[i]);
        else cfp_tensor_set_i64(y, i, cfp_tensor_get_i64(x, i));
    }
    return CFP_OK;
}

/* ---- Constant, ConstantOfShape, Shape, Size ---------------------------------------- */

static int constant_reshape(cfp_model *m, cfp_node *n) {
    if (!cfp_out(m, n, 0)) return cfp_node_fail(m, n, CFP_E_INVALID, "missing output");
    const cfp_attr *a;
    if ((a = cfp_attr_get(n, "value"))) {
        if (a->type != CFP_ATTR_TENSOR)
            return cfp_node_fail(m, n, CFP_E_INVALID, "attribute 'value' is not a tensor");
        if (!cfp_dtype_size(a->t.dtype))
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "constant of dtype %s is not supported",
                                 cfp_dtype_name(a->t.dtype));
        int rc = set_out(m, n, 0, a->t.dtype, a->t.ndim, a->t.dims);
        if (rc) return rc;
        if (a->t.nbytes != cfp_out(m, n, 0)->t.nbytes || (a->t.nbytes && !a->t.data))
            return cfp_node_fail(m, n, CFP_E_INVALID, "attribute 'value' has inconsistent data");
        return CFP_OK;
    }
    if ((a = cfp_attr_get(n, "value_float")) && a->type == CFP_ATTR_FLOAT)
        return set_out(m, n, 0, CFP_F32, 0, NULL);
    if ((a = cfp_attr_get(n, "value_int")) && a->type == CFP_ATTR_INT)
        return set_out(m, n, 0, CFP_I64, 0, NULL);
    if ((a = cfp_attr_get(n, "value_floats")) && a->type == CFP_ATTR_FLOATS) {
        int64_t d = a->n;
        return set_out(m, n, 0, CFP_F32, 1, &d);
    }
    if ((a = cfp_attr_get(n, "value_ints")) && a->type == CFP_ATTR_INTS) {
        int64_t d = a->n;
        return set_out(m, n, 0, CFP_I64, 1, &d);
    }
    if (n->n_attrs > 0)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "constant attribute '%s' is not supported",
                             n->attrs[0].name);
    return cfp_node_fail(m, n, CFP_E_INVALID, "no value attribute");
}

static int constant_run(cfp_model *m, cfp_node *n) {
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    const cfp_attr *a;
    if ((a = cfp_attr_get(n, "value"))) {
        if (y->nbytes) memcpy(y->data, a->t.data, y->nbytes);
    } else if ((a = cfp_attr_get(n, "value_float"))) {
        *(float *)y->data = a->f;
    } else if ((a = cfp_attr_get(n, "value_int"))) {
        *(int64_t *)y->data = a->i;
    } else if ((a = cfp_attr_get(n, "value_floats"))) {
        if (a->n) memcpy(y->data, a->floats, (size_t)a->n * sizeof(float));
    } else if ((a = cfp_attr_get(n, "value_ints"))) {
        if (a->n) memcpy(y->data, a->ints, (size_t)a->n * sizeof(int64_t));
    }
    return CFP_OK;
}

static int cos_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *s = cfp_in(m, n, 0);
    if (!s || !cfp_out(m, n, 0)) return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and an output");
    int64_t dims[CFP_MAX_DIMS];
    int k, rc = const_ints(m, n, s, "shape", dims, CFP_MAX_DIMS, &k);
    if (rc) return rc;
    for (int i = 0; i < k; i++)
        if (dims[i] < 0) return cfp_node_fail(m, n, CFP_E_INVALID, "negative dimension in shape");
    const cfp_attr *a = cfp_attr_get(n, "value");
    int dt = CFP_F32;
    if (a) {
        if (a->type != CFP_ATTR_TENSOR || cfp_tensor_numel(&a->t) != 1 || !a->t.data)
            return cfp_node_fail(m, n, CFP_E_INVALID, "'value' must be a one-element tensor");
        dt = a->t.dtype;
    }
    return set_out(m, n, 0, dt, k, dims);
}

static int cos_run(cfp_model *m, cfp_node *n) {
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    const cfp_attr *a = cfp_attr_get(n, "value");
    if (!a) return CFP_OK; /* zeros: the engine zero-fills */
    size_t es = cfp_dtype_size(y->dtype);
    int64_t total = cfp_tensor_numel(y);
    for (int64_t i = 0; i < total; i++) memcpy((char *)y->data + i * (int64_t)es, a->t.data, es);
    return CFP_OK;
}

static void shape_range(const cfp_node *n, int r, int64_t *s, int64_t *e) {
    int64_t a = cfp_attr_i(n, "start", 0), b = cfp_attr_i(n, "end", r);
    if (a < 0) a += r;
    if (b < 0) b += r;
    a = a < 0 ? 0 : (a > r ? r : a);
    b = b < 0 ? 0 : (b > r ? r : b);
    *s = a;
    *e = b > a ? b : a;
}

static int shape_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x = cfp_in(m, n, 0);
    if (!x || !cfp_out(m, n, 0)) return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and an output");
    int64_t s, e;
    shape_range(n, x->t.ndim, &s, &e);
    int64_t d = e - s;
    return set_out(m, n, 0, CFP_I64, 1, &d);
}

static int shape_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    int64_t *y = cfp_out(m, n, 0)->t.data, s, e;
    shape_range(n, x->ndim, &s, &e);
    for (int64_t i = s; i < e; i++) y[i - s] = x->dims[i];
    return CFP_OK;
}

static int size_reshape(cfp_model *m, cfp_node *n) {
    if (!cfp_in(m, n, 0) || !cfp_out(m, n, 0))
        return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and an output");
    return set_out(m, n, 0, CFP_I64, 0, NULL);
}

static int size_run(cfp_model *m, cfp_node *n) {
    *(int64_t *)cfp_out(m, n, 0)->t.data = cfp_tensor_numel(&cfp_in(m, n, 0)->t);
    return CFP_OK;
}

/* ---- Range ---------------------------------------------------------------------- */

static int range_count(cfp_model *m, cfp_node *n, int64_t *count) {
    cfp_value *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = cfp_in(m, n, i);
        if (!v[i]) return cfp_node_fail(m, n, CFP_E_INVALID, "missing input %d", i);
        if (!cfp_has_data(v[i]))
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' must be constant", v[i]->name);
        if (cfp_tensor_numel(&v[i]->t) != 1)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "input '%s' must be a scalar", v[i]->name);
        if (v[i]->t.dtype != v[0]->t.dtype)
            return cfp_node_fail(m, n, CFP_E_INVALID, "input dtypes differ");
    }
    int dt = v[0]->t.dtype;
    if (dt == CFP_F32 || dt == CFP_F64) {
        double s = cfp_tensor_get_f64(&v[0]->t, 0), l = cfp_tensor_get_f64(&v[1]->t, 0),
               d = cfp_tensor_get_f64(&v[2]->t, 0);
        if (d == 0) return cfp_node_fail(m, n, CFP_E_INVALID, "delta is 0");
        double c = ceil((l - s) / d);
        if (!(c < 1e12)) return cfp_node_fail(m, n, CFP_E_LIMIT, "too many elements");
        *count = c > 0 ? (int64_t)c : 0;
    } else if (dt == CFP_I64 || dt == CFP_I32 || dt == CFP_I16) {
        int64_t s = cfp_tensor_get_i64(&v[0]->t, 0), l = cfp_tensor_get_i64(&v[1]->t, 0),
                d = cfp_tensor_get_i64(&v[2]->t, 0);
        if (d == 0) return cfp_node_fail(m, n, CFP_E_INVALID, "delta is 0");
        double span = ((double)l - (double)s) / (double)d;
        if (span > 1e12) return cfp_node_fail(m, n, CFP_E_LIMIT, "too many elements");
        int64_t c = 0;
        if (span > 0) {
            int64_t diff = l - s; /* no overflow: |span| bounded */
            c = diff / d + (diff % d != 0);
        }
        *count = c;
    } else {
        return fail_dtype(m, n, v[0]);
    }
    return CFP_OK;
}

static int range_reshape(cfp_model *m, cfp_node *n) {
    int64_t c;
    int rc = range_count(m, n, &c);
    if (rc) return rc;
    return set_out(m, n, 0, cfp_in(m, n, 0)->t.dtype, 1, &c);
}

static int range_run(cfp_model *m, cfp_node *n) {
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    const cfp_tensor *s = &cfp_in(m, n, 0)->t, *d = &cfp_in(m, n, 2)->t;
    int64_t c = y->dims[0];
    if (y->dtype == CFP_F32 || y->dtype == CFP_F64) {
        /* as the reference: start + i * delta in the tensor's type */
        for (int64_t i = 0; i < c; i++) {
            if (y->dtype == CFP_F32)
                ((float *)y->data)[i] = (float)cfp_tensor_get_f64(s, 0) + (float)i * (float)cfp_tensor_get_f64(d, 0);
            else
                ((double *)y->data)[i] = cfp_tensor_get_f64(s, 0) + (double)i * cfp_tensor_get_f64(d, 0);
        }
    } else {
        for (int64_t i = 0; i < c; i++)
            cfp_tensor_set_i64(y, i, cfp_tensor_get_i64(s, 0) + i * cfp_tensor_get_i64(d, 0));
    }
    return CFP_OK;
}

const cfp_op cfp_ops_shape[] = {
    {"Range", 11, NULL, range_reshape, range_run, NULL},
    {"Concat", 1, NULL, concat_reshape, concat_run, NULL},
    {"Split", 2, NULL, split_reshape, split_run, NULL},
    {"Slice", 1, NULL, slice_reshape, slice_run, NULL},
    {"Flatten", 1, NULL, flatten_reshape, copy_run_op, NULL},
    {"Reshape", 1, NULL, reshape_reshape, copy_run_op, NULL},
    {"Squeeze", 1, NULL, squeeze_reshape, copy_run_op, NULL},
    {"Unsqueeze", 1, NULL, unsqueeze_reshape, copy_run_op, NULL},
    {"Transpose", 1, NULL, transpose_reshape, transpose_run, NULL},
    {"Constant", 1, NULL, constant_reshape, constant_run, NULL},
    {"ConstantOfShape", 9, NULL, cos_reshape, cos_run, NULL},
    {"Shape", 1, NULL, shape_reshape, shape_run, NULL},
    {"Size", 1, NULL, size_reshape, size_run, NULL},
    {"Gather", 1, NULL, gather_reshape, gather_run, NULL},
    {"Pad", 1, pad_prepare, pad_reshape, pad_run, NULL},
    {"Cast", 6, cast_prepare, cast_reshape, cast_run, NULL},
    {"CastLike", 15, NULL, cast_reshape, cast_run, NULL},
    {"Expand", 8, NULL, expand_reshape, expand_run, NULL},
    {"Tile", 6, NULL, tile_reshape, tile_run, NULL},
    {0},
};

/* For the pyramid's channel walk: where channel c of the output along `axis`
 * comes from in the input (start + c * step). */
int cfp_slice_axis(cfp_model *m, cfp_node *n, int axis, int64_t *start, int64_t *step) {
    int64_t st[CFP_MAX_DIMS], sp[CFP_MAX_DIMS], cnt[CFP_MAX_DIMS];
    cfp_value *x = cfp_in(m, n, 0);
    if (!x || axis < 0 || axis >= x->t.ndim) return CFP_E_ARG;
    int rc = slice_params(m, n, st, sp, cnt);
    if (rc) return rc;
    *start = st[axis];
    *step = sp[axis];
    return CFP_OK;
}
