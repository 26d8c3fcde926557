/* Reductions over axes (ReduceMean, ReduceMax, ReduceMin, ReduceSum,
 * ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum,
 * ReduceLogSumExp) and Softmax / LogSoftmax / Hardmax. float32 only. */
#include "../cfp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP };

static const struct {
    const char *name;
    int code;
} reduce_names[] = {
    {"ReduceSum", R_SUM},     {"ReduceMean", R_MEAN},      {"ReduceMax", R_MAX},
    {"ReduceMin", R_MIN},     {"ReduceProd", R_PROD},      {"ReduceL1", R_L1},
    {"ReduceL2", R_L2},       {"ReduceSumSquare", R_SUMSQ}, {"ReduceLogSum", R_LOGSUM},
    {"ReduceLogSumExp", R_LOGSUMEXP},
};

static int reduce_code(const char *name) {
    for (size_t i = 0; i < sizeof reduce_names / sizeof *reduce_names; i++)
        if (!strcmp(reduce_names[i].name, name)) return reduce_names[i].code;
    return R_SUM;
}

/* Which axes are reduced (mask over the input rank); *noop if the node
 * reduces nothing (empty axes with noop_with_empty_axes). */
static int reduce_axes(cfp_model *m, cfp_node *n, int r, bool *mask, bool *noop) {
    int64_t axes[CFP_MAX_DIMS * 2];
    int nax = -1;
    *noop = false;
    cfp_value *av = cfp_in(m, n, 1);
    if (av) {
        if (!cfp_has_data(av))
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input 'axes' must be constant");
        int64_t k = cfp_tensor_numel(&av->t);
        if (k > CFP_MAX_DIMS * 2)
            return cfp_node_fail(m, n, CFP_E_INVALID, "too many axes (%lld)", (long long)k);
        for (int64_t i = 0; i < k; i++) axes[i] = cfp_tensor_get_i64(&av->t, i);
        nax = (int)k;
    } else {
        nax = cfp_attr_ints(n, "axes", axes, CFP_MAX_DIMS * 2);
        if (nax == -2) return cfp_node_fail(m, n, CFP_E_INVALID, "too many axes");
    }
    if (nax <= 0) {
        if (nax == 0 && cfp_attr_i(n, "noop_with_empty_axes", 0)) *noop = true;
        for (int d = 0; d < r; d++) mask[d] = !*noop;
        return CFP_OK;
    }
    for (int d = 0; d < r; d++) mask[d] = false;
    for (int i = 0; i < nax; i++) {
        int64_t a = axes[i];
        if (a < -r || a >= r)
            return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld out of range for rank %d",
                                 (long long)a, r);
        if (a < 0) a += r;
        if (mask[a])
            return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld repeated", (long long)axes[i]);
        mask[a] = true;
    }
    return CFP_OK;
}

/* Input 0 and output 0 of n, the input float32. */
static int f32_io(cfp_model *m, cfp_node *n, cfp_value **x, cfp_value **y) {
    *x = cfp_in(m, n, 0);
    *y = cfp_out(m, n, 0);
    if (!*x || !*y) return cfp_node_fail(m, n, CFP_E_INVALID, "expected an input and an output");
    if ((*x)->t.dtype != CFP_F32)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             (*x)->name, cfp_dtype_name((*x)->t.dtype));
    return CFP_OK;
}

static int reduce_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x, *y;
    int rc = f32_io(m, n, &x, &y);
    if (rc) return rc;
    bool mask[CFP_MAX_DIMS], noop;
    int r = x->t.ndim;
    rc = reduce_axes(m, n, r, mask, &noop);
    if (rc) return rc;
    bool keep = cfp_attr_i(n, "keepdims", 1) != 0;
    int64_t dims[CFP_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < r; d++) {
        if (!mask[d]) dims[nd++] = x->t.dims[d];
        else if (keep) dims[nd++] = 1;
    }
    rc = cfp_tensor_shape(&y->t, CFP_F32, nd, dims);
    if (rc) return cfp_node_fail(m, n, rc, "bad output shape");
    return CFP_OK;
}

/* Input seen as groups of merged dims, each reduced or kept. */
typedef struct {
    int code;
    int ng;
    int64_t size[CFP_MAX_DIMS];
    bool red[CFP_MAX_DIMS];
    int64_t ostride[CFP_MAX_DIMS]; /* output stride of a kept group, 0 if reduced */
    const float *x;
    float *y;
    const float *aux; /* per-output max for LogSumExp */
} rplan;

static inline float r_init(int code) {
    switch (code) {
    case R_MAX: return -INFINITY;
    case R_MIN: return INFINITY;
    case R_PROD: return 1.0f;
    default: return 0.0f;
    }
}

/* One row of the innermost group: either combines a contiguous run into one
 * output (reduced) or element-wise into a run of outputs (kept). */
CLONES static void reduce_row(int code, bool red, const float *restrict x, int64_t len,
                              float *restrict y, float aux) {
    if (red) {
        double acc;
        switch (code) {
        case R_MAX: {
            float v = *y;
            for (int64_t i = 0; i < len; i++) v = (x[i] > v || x[i] != x[i]) ? x[i] : v;
            *y = v;
            return;
        }
        case R_MIN: {
            float v = *y;
            for (int64_t i = 0; i < len; i++) v = (x[i] < v || x[i] != x[i]) ? x[i] : v;
            *y = v;
            return;
        }
        case R_PROD:
            acc = *y;
            for (int64_t i = 0; i < len; i++) acc *= x[i];
            break;
        case R_L1:
            acc = *y;
            for (int64_t i = 0; i < len; i++) acc += fabsf(x[i]);
            break;
        case R_L2: case R_SUMSQ:
            acc = *y;
            for (int64_t i = 0; i < len; i++) acc += (double)x[i] * x[i];
            break;
        case R_LOGSUMEXP:
            acc = *y;
            for (int64_t i = 0; i < len; i++) acc += expf(x[i] - aux);
            break;
        default: {
            /* blocked partial sums: vectorisable and more accurate */
            float part[BLK] = {0};
            int64_t i = 0;
            for (; i + BLK <= len; i += BLK)
                for (int j = 0; j < BLK; j++) part[j] += x[i + j];
            acc = *y;
            for (int j = 0; j < BLK; j++) acc += part[j];
            for (; i < len; i++) acc += x[i];
        }
        }
        *y = (float)acc;
        return;
    }
    switch (code) {
    case R_MAX: VLOOP(len, y[i] = (x[i] > y[i] || x[i] != x[i]) ? x[i] : y[i]); break;
    case R_MIN: VLOOP(len, y[i] = (x[i] < y[i] || x[i] != x[i]) ? x[i] : y[i]); break;
    case R_PROD: VLOOP(len, y[i] *= x[i]); break;
    case R_L1: VLOOP(len, y[i] += fabsf(x[i])); break;
    case R_L2: case R_SUMSQ: VLOOP(len, y[i] += x[i] * x[i]); break;
    case R_LOGSUMEXP: /* aux is per output here: handled by the caller */ break;
    default: VLOOP(len, y[i] += x[i]); break;
    }
}

/* Rows [begin, end) of the input (each row = the innermost group). */
static void reduce_rows(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const rplan *p = arg;
    int g = p->ng;
    int64_t inner = p->size[g - 1];
    bool red = p->red[g - 1];
    for (int64_t row = begin; row < end; row++) {
        int64_t rem = row, off = 0;
        for (int d = g - 2; d >= 0; d--) {
            off += (rem % p->size[d]) * p->ostride[d];
            rem /= p->size[d];
        }
        const float *x = p->x + row * inner;
        if (p->code == R_LOGSUMEXP && !red) {
            float *y = p->y + off;
            const float *mx = p->aux + off;
            for (int64_t i = 0; i < inner; i++) y[i] += expf(x[i] - mx[i]);
        } else {
            reduce_row(p->code, red, x, inner, p->y + off, p->aux ? p->aux[off] : 0.0f);
        }
    }
}

static int reduce_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *xt = &cfp_in(m, n, 0)->t;
    cfp_tensor *yt = &cfp_out(m, n, 0)->t;
    int code = reduce_code(n->op_type);
    bool mask[CFP_MAX_DIMS], noop;
    int r = xt->ndim;
    int rc = reduce_axes(m, n, r, mask, &noop);
    if (rc) return rc;
    int64_t ytotal = cfp_tensor_numel(yt), xtotal = cfp_tensor_numel(xt);
    float *y = yt->data;
    if (ytotal == 0) return CFP_OK;
    rplan p = {.code = code, .x = xt->data, .y = y};
    if (!noop) {
        /* merge dims into groups (size-1 dims are dropped) */
        p.ng = 0;
        for (int d = 0; d < r; d++) {
            if (xt->dims[d] == 1) continue;
            if (p.ng > 0 && p.red[p.ng - 1] == mask[d]) {
                p.size[p.ng - 1] *= xt->dims[d];
            } else {
                p.size[p.ng] = xt->dims[d];
                p.red[p.ng++] = mask[d];
            }
        }
    }
    if (p.ng == 0) {
        p.ng = 1;
        p.size[0] = xtotal;
        p.red[0] = false;
    }
    int64_t s = 1;
    for (int d = p.ng - 1; d >= 0; d--) {
        p.ostride[d] = p.red[d] ? 0 : s;
        if (!p.red[d]) s *= p.size[d];
    }
    int64_t count = ytotal ? xtotal / ytotal : 0;
    int64_t inner = p.size[p.ng - 1], rows = inner ? xtotal / inner : 0;
    /* rows map to distinct outputs only if the innermost group is the only
     * reduced one */
    bool par = true;
    for (int d = 0; d < p.ng - 1; d++)
        if (p.red[d]) par = false;
    int64_t grain = inner > 0 ? 65536 / inner + 1 : rows;
    float *mx = NULL;
    if (code == R_LOGSUMEXP && xtotal > 0) {
        mx = malloc((size_t)ytotal * sizeof *mx);
        if (!mx) return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
        rplan q = p;
        q.code = R_MAX;
        q.y = mx;
        for (int64_t i = 0; i < ytotal; i++) mx[i] = -INFINITY;
        if (par) cfp_parallel_for(m->ctx->pool, rows, grain, reduce_rows, &q);
        else reduce_rows(&q, 0, rows, 0);
        for (int64_t i = 0; i < ytotal; i++)
            if (isinf(mx[i])) mx[i] = 0.0f;
        p.aux = mx;
    }
    float init = r_init(code);
    for (int64_t i = 0; i < ytotal; i++) y[i] = init;
    if (xtotal > 0) {
        if (par) cfp_parallel_for(m->ctx->pool, rows, grain, reduce_rows, &p);
        else reduce_rows(&p, 0, rows, 0);
    }
    switch (code) {
    case R_MEAN:
        for (int64_t i = 0; i < ytotal; i++) y[i] = (float)((double)y[i] / (double)count);
        break;
    case R_L2:
        for (int64_t i = 0; i < ytotal; i++) y[i] = sqrtf(y[i]);
        break;
    case R_LOGSUM:
        for (int64_t i = 0; i < ytotal; i++) y[i] = logf(y[i]);
        break;
    case R_LOGSUMEXP:
        for (int64_t i = 0; i < ytotal; i++) y[i] = logf(y[i]) + (mx ? mx[i] : 0.0f);
        break;
    }
    free(mx);
    return CFP_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax ------------------------------------------ */
enum { S_SOFTMAX, S_LOGSOFTMAX, S_HARDMAX };

typedef struct {
    int code;
    int64_t len, inner;
    const float *x;
    float *y;
} sjob;

static void softmax_row(int code, const float *x, float *y, int64_t len) {
    float mx = -INFINITY;
    int64_t arg = 0;
    for (int64_t i = 0; i < len; i++)
        if (x[i] > mx) mx = x[i], arg = i;
    if (code == S_HARDMAX) {
        for (int64_t i = 0; i < len; i++) y[i] = i == arg ? 1.0f : 0.0f;
        return;
    }
    if (isinf(mx)) mx = 0.0f;
    double sum = 0;
    for (int64_t i = 0; i < len; i++) {
        float e = expf(x[i] - mx);
        sum += e;
        if (code == S_SOFTMAX) y[i] = e;
    }
    if (code == S_SOFTMAX) {
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < len; i++) y[i] *= inv;
    } else {
        float ls = (float)log(sum);
        for (int64_t i = 0; i < len; i++) y[i] = x[i] - mx - ls;
    }
}

/* Items [begin, end) of the outer dimension. */
static void softmax_range(void *arg, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const sjob *j = arg;
    int64_t len = j->len, inner = j->inner;
    float stack[512], *buf = stack;
    if (inner > 1 && len > 256) {
        buf = malloc((size_t)len * 2 * sizeof *buf);
        if (!buf) { /* degrade to a slow but allocation-free path */
            for (int64_t o = begin; o < end; o++)
                for (int64_t c = 0; c < inner; c++)
                    for (int64_t l = 0; l < len; l++) j->y[(o * len + l) * inner + c] = NAN;
            return;
        }
    }
    for (int64_t o = begin; o < end; o++) {
        const float *x = j->x + o * len * inner;
        float *y = j->y + o * len * inner;
        if (inner == 1) {
            softmax_row(j->code, x, y, len);
            continue;
        }
        /* strided along the axis: column by column through a buffer */
        for (int64_t c = 0; c < inner; c++) {
            for (int64_t l = 0; l < len; l++) buf[l] = x[l * inner + c];
            softmax_row(j->code, buf, buf + len, len);
            for (int64_t l = 0; l < len; l++) y[l * inner + c] = buf[len + l];
        }
    }
    if (buf != stack) free(buf);
}

/* The attribute axis (default dflt) for an input of rank r >= 1, made
 * non-negative. */
static int axis_attr(cfp_model *m, cfp_node *n, int r, int64_t dflt, int *axis) {
    int64_t a = cfp_attr_i(n, "axis", dflt);
    if (r == 0) return cfp_node_fail(m, n, CFP_E_SHAPE, "input must have rank >= 1");
    if (a < -r || a >= r)
        return cfp_node_fail(m, n, CFP_E_INVALID, "axis %lld out of range for rank %d",
                             (long long)a, r);
    *axis = (int)(a < 0 ? a + r : a);
    return CFP_OK;
}

static int softmax_axis(cfp_model *m, cfp_node *n, int r, int *axis) {
    return axis_attr(m, n, r, n->opset >= 13 ? -1 : 1, axis);
}

static int softmax_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x, *y;
    int axis, rc = f32_io(m, n, &x, &y);
    if (rc) return rc;
    if ((rc = softmax_axis(m, n, x->t.ndim, &axis))) return rc;
    rc = cfp_tensor_shape(&y->t, CFP_F32, x->t.ndim, x->t.dims);
    if (rc) return cfp_node_fail(m, n, rc, "bad output shape");
    return CFP_OK;
}

static int softmax_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *xt = &cfp_in(m, n, 0)->t;
    cfp_tensor *yt = &cfp_out(m, n, 0)->t;
    int code = !strcmp(n->op_type, "Softmax")      ? S_SOFTMAX
               : !strcmp(n->op_type, "LogSoftmax") ? S_LOGSOFTMAX
                                                   : S_HARDMAX;
    int axis, r = xt->ndim;
    int rc = softmax_axis(m, n, r, &axis);
    if (rc) return rc;
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < r; d++) {
        if (d < axis) outer *= xt->dims[d];
        else if (d == axis || n->opset < 13) len *= xt->dims[d];
        else inner *= xt->dims[d];
    }
    if (outer * len * inner == 0) return CFP_OK;
    sjob j = {code, len, inner, xt->data, yt->data};
    int64_t per = len * inner;
    cfp_parallel_for(m->ctx->pool, outer, per > 0 ? 16384 / per + 1 : outer, softmax_range, &j);
    return CFP_OK;
}

/* ---- ArgMax, ArgMin ------------------------------------------------------------ */

static int arg_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *x, *y;
    int axis, rc = f32_io(m, n, &x, &y);
    if (rc) return rc;
    if ((rc = axis_attr(m, n, x->t.ndim, 0, &axis))) return rc;
    if (x->t.dims[axis] == 0)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "cannot take the %s of an empty axis", n->op_type);
    bool keep = cfp_attr_i(n, "keepdims", 1) != 0;
    int64_t dims[CFP_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->t.ndim; d++) {
        if (d != axis) dims[nd++] = x->t.dims[d];
        else if (keep) dims[nd++] = 1;
    }
    rc = cfp_tensor_shape(&y->t, CFP_I64, nd, dims);
    if (rc) return cfp_node_fail(m, n, rc, "bad output shape");
    return CFP_OK;
}

static int arg_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *xt = &cfp_in(m, n, 0)->t;
    int64_t *y = cfp_out(m, n, 0)->t.data;
    int axis, rc = axis_attr(m, n, xt->ndim, 0, &axis);
    if (rc) return rc;
    bool mx = !strcmp(n->op_type, "ArgMax"), last = cfp_attr_i(n, "select_last_index", 0) != 0;
    int64_t outer = 1, len = xt->dims[axis], inner = 1;
    for (int d = 0; d < xt->ndim; d++) {
        if (d < axis) outer *= xt->dims[d];
        else if (d > axis) inner *= xt->dims[d];
    }
    const float *x = xt->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < inner; c++) {
            const float *p = x + o * len * inner + c;
            int64_t best = 0;
            float bv = p[0];
            for (int64_t l = 1; l < len; l++) {
                float v = p[l * inner];
                bool better = mx ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv));
                if (better) bv = v, best = l;
            }
            y[o * inner + c] = best;
        }
    return CFP_OK;
}

#define RED(name) {name, 1, NULL, reduce_reshape, reduce_run, NULL}
#define SMX(name) {name, 1, NULL, softmax_reshape, softmax_run, NULL}

const cfp_op cfp_ops_reduce[] = {
    RED("ReduceSum"),  RED("ReduceMean"),      RED("ReduceMax"),   RED("ReduceMin"),
    RED("ReduceProd"), RED("ReduceL1"),        RED("ReduceL2"),    RED("ReduceSumSquare"),
    RED("ReduceLogSum"), RED("ReduceLogSumExp"),
    {"ArgMax", 1, NULL, arg_reshape, arg_run, NULL},
    {"ArgMin", 1, NULL, arg_reshape, arg_run, NULL},
    SMX("Softmax"),    SMX("LogSoftmax"),      SMX("Hardmax"),
    {0},
};
