/* Class Feature Pyramids: ../shared/spec/cfp-method.md §1–4, with the choices
 * of docs/method.md. Everything here walks the model graph; there is no
 * per-architecture code. The back-step reads only pooled activations (kept by
 * the engine) and pooled weights (computed once per model). */
#include "cfp_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- layers ---------------------------------------------------------------- */

enum { LAYER_NONE = 0, LAYER_CONV, LAYER_GEMM, LAYER_MATMUL };

/* What the back-step needs of a layer node, computed once per model. */
typedef struct {
    int kind;
    int in_value;    /* data input (input 0) */
    int in_axis;     /* channel axis of that input */
    int64_t c_out, c_in, cpg, group;
    /* pooled weight w̄[o, k] = wbar[o * w_so + k * w_sk]: the weights
     * themselves when there is one tap (1x1x1 convs, Gemm, MatMul), the tap
     * means oneDNN's convs keep, or means computed here (wbar_own) */
    const float *wbar;
    int64_t w_so, w_sk;
    float *wbar_own;
    double *bn;      /* per-output-channel BatchNorm factor, or NULL */
    bool checked;    /* wbar and bn computed */
} layer_info;

struct cfp_layer_cache {
    layer_info *layers; /* one per node */
    int n;
};

static void layer_cache_free(void *p) {
    struct cfp_layer_cache *c = p;
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->layers[i].wbar_own), free(c->layers[i].bn);
    free(c->layers);
    free(c);
}

/* Decide the layer kind of a node from its op and constant weight; MatMul is
 * a layer only when the walk arrives on its output's last axis (checked by
 * the caller). */
static int layer_kind(cfp_model *m, const cfp_node *n) {
    cfp_value *w = cfp_in(m, n, 1);
    if (!w || !w->is_const || !w->t.data || w->t.dtype != CFP_F32) return LAYER_NONE;
    if (!strcmp(n->op_type, "Conv")) return w->t.ndim >= 3 ? LAYER_CONV : LAYER_NONE;
    if (!strcmp(n->op_type, "Gemm"))
        return w->t.ndim == 2 && cfp_attr_i(n, "transA", 0) == 0 ? LAYER_GEMM : LAYER_NONE;
    if (!strcmp(n->op_type, "MatMul")) return w->t.ndim == 2 ? LAYER_MATMUL : LAYER_NONE;
    return LAYER_NONE;
}

static bool is_layer_op(const cfp_node *n) {
    return !strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul");
}

/* Pooled weights and the BatchNorm factor of one layer (docs/method.md). */
static int layer_prepare(cfp_model *m, const cfp_node *n, layer_info *L) {
    if (L->checked) return CFP_OK;
    cfp_value *wv = cfp_in(m, n, 1);
    const cfp_tensor *w = &wv->t;
    int64_t taps = 1;
    for (int d = 2; L->kind == LAYER_CONV && d < w->ndim; d++) taps *= w->dims[d];
    L->w_so = L->cpg, L->w_sk = 1;
    if (L->kind == LAYER_CONV && wv->tap_means && wv->n_tap_means == L->c_out * L->cpg) {
        L->wbar = wv->tap_means; /* oneDNN holds the weights: their means were kept when it took them */
    } else {
        int rc = cfp_value_restore(m, wv);
        if (rc) return rc;
        if (taps > 1) {
            L->wbar = L->wbar_own = malloc((size_t)(L->c_out * L->cpg) * sizeof *L->wbar_own);
            if (!L->wbar_own) return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
            cfp_tap_means(w->data, L->c_out * L->cpg, taps, L->wbar_own);
        } else {
            L->wbar = w->data; /* (c_out, cpg), or (cpg, c_out) for MatMul and Gemm without transB */
            if (L->kind != LAYER_CONV && !(L->kind == LAYER_GEMM && cfp_attr_i(n, "transB", 0) != 0))
                L->w_so = 1, L->w_sk = L->c_out;
        }
    }
    /* BatchNorm invariance: the layer's only consumer is a BN on input 0 */
    cfp_value *out = cfp_out(m, n, 0);
    if (out && out->n_consumers == 1) {
        cfp_node *bn = &m->nodes[out->consumers[0]];
        cfp_value *scale = cfp_in(m, bn, 1), *var = cfp_in(m, bn, 4);
        if (!strcmp(bn->op_type, "BatchNormalization") && bn->in[0] == out->id && scale && var && scale->is_const &&
            var->is_const && scale->t.dtype == CFP_F32 && var->t.dtype == CFP_F32 &&
            cfp_tensor_numel(&scale->t) == L->c_out && cfp_tensor_numel(&var->t) == L->c_out) {
            double eps = cfp_attr_f(bn, "epsilon", 1e-5f);
            L->bn = malloc((size_t)L->c_out * sizeof *L->bn);
            if (!L->bn) return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
            for (int64_t o = 0; o < L->c_out; o++)
                L->bn[o] = ((const float *)scale->t.data)[o] / sqrt(((const float *)var->t.data)[o] + eps);
        }
    }
    L->checked = true;
    return CFP_OK;
}

static struct cfp_layer_cache *layer_cache(cfp_model *m) {
    if (m->layer_cache) return m->layer_cache;
    struct cfp_layer_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->layers = calloc((size_t)m->n_nodes + 1, sizeof *c->layers))) {
        free(c);
        return NULL;
    }
    c->n = m->n_nodes;
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        layer_info *L = &c->layers[i];
        L->kind = layer_kind(m, n);
        if (!L->kind) continue;
        cfp_value *x = cfp_in(m, n, 0);
        const cfp_tensor *w = &cfp_in(m, n, 1)->t;
        if (!x) {
            L->kind = LAYER_NONE;
            continue;
        }
        L->in_value = x->id;
        if (L->kind == LAYER_CONV) {
            L->group = cfp_attr_i(n, "group", 1);
            L->c_out = w->dims[0];
            L->cpg = w->dims[1];
            L->c_in = L->cpg * L->group;
            L->in_axis = 1;
            if (L->group < 1 || L->c_out % L->group) L->kind = LAYER_NONE;
        } else {
            bool trans = L->kind == LAYER_GEMM && cfp_attr_i(n, "transB", 0) != 0;
            L->group = 1;
            L->c_out = trans ? w->dims[0] : w->dims[1];
            L->cpg = L->c_in = trans ? w->dims[1] : w->dims[0];
            L->in_axis = L->kind == LAYER_GEMM ? 1 : -1; /* MatMul: last axis of A, known at run time */
        }
    }
    m->layer_cache = c;
    m->layer_cache_free = layer_cache_free;
    return c;
}

/* ---- the pyramid ------------------------------------------------------------ */

typedef struct {
    uint64_t key; /* node index << 32 | channel, +1 (0 = empty) */
    int id;
} kmap_slot;

struct cfp_pyramid {
    cfp_model *m;
    cfp_pyramid_params params;
    int class_index;
    double class_prob, class_logit;
    cfp_pyramid_node *nodes;
    int n_nodes, cap_nodes;
    cfp_pyramid_edge *edges;
    int n_edges, cap_edges;
    kmap_slot *kmap;
    int kmap_cap;
    char **warnings;
    int n_warnings;
    /* pooled activations for values whose channel axis is not 1: (value,
     * axis) -> means, computed from the kept activation on demand */
    struct {
        int value, axis;
        double *mean;
        int64_t n;
    } * extra;
    int n_extra;
    cfp_value *arrived; /* the value the walk entered the current node by */
    /* the walk from (value, axis, channel) is the same for every parent
     * reading that value: results are memoised, with the pyramid node id of
     * each kernel once it exists */
    struct walk_memo {
        int value, axis;
        int64_t n;
        int *start, *count; /* per channel; start -1: not walked yet */
    } * memos;
    int n_memos;
    struct {
        int node;
        int64_t channel;
        int id; /* pyramid node, or -1 */
    } * pool;
    int n_pool, cap_pool;
    /* edge dedupe: the edge of the current parent to each child */
    int *stamp, *edge_of;
    int cap_stamp;
};

static uint64_t kkey(int node, int64_t c) { return ((uint64_t)(uint32_t)node << 32 | (uint64_t)(uint32_t)c) + 1; }

static int kmap_find(const cfp_pyramid *p, int node, int64_t c) {
    if (!p->kmap_cap) return -1;
    uint64_t k = kkey(node, c), h = (k * 0x9E3779B97F4A7C15ull) >> 20;
    for (;;) {
        kmap_slot *s = &p->kmap[h & (uint64_t)(p->kmap_cap - 1)];
        if (!s->key) return -1;
        if (s->key == k) return s->id;
        h++;
    }
}

static int kmap_put(cfp_pyramid *p, int node, int64_t c, int id) {
    if ((p->n_nodes + 1) * 2 > p->kmap_cap) {
        int cap = p->kmap_cap ? p->kmap_cap * 2 : 256;
        kmap_slot *t = calloc((size_t)cap, sizeof *t);
        if (!t) return CFP_E_NOMEM;
        for (int i = 0; i < p->kmap_cap; i++) {
            if (!p->kmap[i].key) continue;
            uint64_t h = (p->kmap[i].key * 0x9E3779B97F4A7C15ull) >> 20;
            while (t[h & (uint64_t)(cap - 1)].key) h++;
            t[h & (uint64_t)(cap - 1)] = p->kmap[i];
        }
        free(p->kmap);
        p->kmap = t;
        p->kmap_cap = cap;
    }
    uint64_t k = kkey(node, c), h = (k * 0x9E3779B97F4A7C15ull) >> 20;
    while (p->kmap[h & (uint64_t)(p->kmap_cap - 1)].key) h++;
    p->kmap[h & (uint64_t)(p->kmap_cap - 1)] = (kmap_slot){k, id};
    return CFP_OK;
}

static void warn(cfp_pyramid *p, const cfp_node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(cfp_pyramid *p, const cfp_node *n, const char *fmt, ...) {
    char msg[512];
    int k = snprintf(msg, sizeof msg, "node '%s' (%s): ", n->name, n->op_type);
    for (int i = 0; i < p->n_warnings; i++)
        if (!strncmp(p->warnings[i], msg, (size_t)k)) return; /* once per node */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    char **w = realloc(p->warnings, (size_t)(p->n_warnings + 1) * sizeof *w);
    if (!w) return;
    p->warnings = w;
    if ((w[p->n_warnings] = cfp_strdup(msg))) p->n_warnings++;
}

/* ---- the walk (docs/method.md) ------------------------------------------------ */

typedef struct {
    int node;
    int64_t channel;
} kref;

typedef struct {
    kref *k;
    int n, cap;
} klist;

static int klist_add(klist *l, int node, int64_t c) {
    for (int i = 0; i < l->n; i++)
        if (l->k[i].node == node && l->k[i].channel == c) return CFP_OK;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        kref *k = realloc(l->k, (size_t)cap * sizeof *k);
        if (!k) return CFP_E_NOMEM;
        l->k = k;
        l->cap = cap;
    }
    l->k[l->n++] = (kref){node, c};
    return CFP_OK;
}

static bool op_in(const char *op, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(op, *list)) return true;
    return false;
}

static const char *const passthrough_ops[] = {
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu", "Selu", "Celu",
    "Softplus", "Softsign", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Cast", "Floor", "Ceil",
    "Round", "Sign", "ThresholdedRelu", "Identity", "Dropout", "BatchNormalization", "MaxPool", "AveragePool",
    "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool", NULL};
static const char *const join_ops[] = {"Add", "Sub", "Sum", "Mul", "Div", "Max", "Min", "Mean", NULL};
static const char *const reshape_ops[] = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", NULL};

/* Axis of `in` that holds the channel axis `a` of `out` whole, or -1. */
static int reshape_axis(const cfp_tensor *in, const cfp_tensor *out, int a) {
    int64_t before = 1;
    for (int i = 0; i < a; i++) before *= out->dims[i];
    int64_t pre = 1;
    for (int i = 0; i < in->ndim; i++) {
        if (pre == before && in->dims[i] == out->dims[a]) return i;
        pre *= in->dims[i];
        if (pre > before && before) break;
    }
    return -1;
}

static int walk(cfp_pyramid *p, int value, int a, int64_t c, klist *out, int depth_guard);

static int walk_node(cfp_pyramid *p, cfp_node *n, int a, int64_t c, klist *out, int guard) {
    cfp_model *m = p->m;
    cfp_value *y = cfp_out(m, n, 0);
    const char *op = n->op_type;
    struct cfp_layer_cache *lc = m->layer_cache;
    layer_info *L = &lc->layers[n->index];

    if (is_layer_op(n)) {
        int want_axis = L->kind == LAYER_MATMUL ? y->t.ndim - 1 : 1;
        if (L->kind && a == want_axis && n->out[0] == y->id) return klist_add(out, n->index, c);
        warn(p, n, "not a layer the pyramid can step through (weight not constant, transA, or channel axis %d); the walk stops here", a);
        return CFP_OK;
    }
    if (op_in(op, passthrough_ops) || !strcmp(op, "Pad")) {
        if (!strcmp(op, "Pad")) {
            cfp_value *x = cfp_in(m, n, 0);
            /* pads of axis a must be zero: compare the shapes */
            if (!x || x->t.dims[a] != y->t.dims[a]) {
                warn(p, n, "pads the channel axis; the walk stops here");
                return CFP_OK;
            }
        }
        return cfp_in(m, n, 0) ? walk(p, n->in[0], a, c, out, guard) : CFP_OK;
    }
    if (!strncmp(op, "Reduce", 6)) {
        cfp_value *x = cfp_in(m, n, 0);
        int r = x->t.ndim;
        bool reduced[CFP_MAX_DIMS] = {0};
        int64_t axes[CFP_MAX_DIMS];
        int na = cfp_attr_ints(n, "axes", axes, CFP_MAX_DIMS);
        cfp_value *va = cfp_in(m, n, 1);
        if (na < 0 && va && va->is_const) {
            na = (int)cfp_tensor_numel(&va->t);
            if (na > CFP_MAX_DIMS) na = -1;
            for (int i = 0; i < na; i++) axes[i] = cfp_tensor_get_i64(&va->t, i);
        }
        if (na < 0) {
            warn(p, n, "reduces every axis, the channel axis too; the walk stops here");
            return CFP_OK;
        }
        for (int i = 0; i < na; i++) {
            int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
            if (ax >= 0 && ax < r) reduced[ax] = true;
        }
        int a_in = a;
        if (!cfp_attr_i(n, "keepdims", 1)) {
            /* a counts the surviving axes of the input */
            int k = -1;
            for (a_in = 0; a_in < r; a_in++)
                if (!reduced[a_in] && ++k == a) break;
        }
        if (a_in >= r || reduced[a_in]) {
            warn(p, n, "reduces over the channel axis; the walk stops here");
            return CFP_OK;
        }
        return walk(p, n->in[0], a_in, c, out, guard);
    }
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) {
        int r = y->t.ndim;
        int64_t ax = cfp_attr_i(n, "axis", n->opset >= 13 ? -1 : 1);
        if (ax < 0) ax += r;
        bool mixes = n->opset >= 13 ? ax == a : a >= ax; /* before 13: flattened from axis on */
        if (mixes) {
            warn(p, n, "mixes channels; the walk stops here");
            return CFP_OK;
        }
        return walk(p, n->in[0], a, c, out, guard);
    }
    if (op_in(op, reshape_ops)) {
        cfp_value *x = cfp_in(m, n, 0);
        int a_in = reshape_axis(&x->t, &y->t, a);
        if (a_in < 0) {
            warn(p, n, "merges or splits the channel axis; the walk stops here");
            return CFP_OK;
        }
        return walk(p, n->in[0], a_in, c, out, guard);
    }
    if (!strcmp(op, "Transpose")) {
        int64_t perm[CFP_MAX_DIMS];
        int np = cfp_attr_ints(n, "perm", perm, CFP_MAX_DIMS);
        int a_in = np > a ? (int)perm[a] : y->t.ndim - 1 - a; /* default: reversed */
        return walk(p, n->in[0], a_in, c, out, guard);
    }
    if (op_in(op, join_ops)) {
        int followed = 0, rc;
        for (int k = 0; k < n->n_in; k++) {
            cfp_value *x = cfp_in(m, n, k);
            if (!x || x->is_const || !cfp_same_shape(&x->t, &y->t)) continue;
            followed++;
            if ((rc = walk(p, x->id, a, c, out, guard))) return rc;
        }
        if (!followed) warn(p, n, "has no input of the output's shape; the walk stops here");
        return CFP_OK;
    }
    if (!strcmp(op, "Concat")) {
        int64_t ax = cfp_attr_i(n, "axis", 0);
        if (ax < 0) ax += y->t.ndim;
        int64_t off = 0;
        for (int k = 0; k < n->n_in; k++) {
            cfp_value *x = cfp_in(m, n, k);
            if (!x) continue;
            int rc;
            if (ax == a) {
                if (c >= off && c < off + x->t.dims[a]) return x->is_const ? CFP_OK : walk(p, x->id, a, c - off, out, guard);
                off += x->t.dims[a];
            } else if (!x->is_const && (rc = walk(p, x->id, a, c, out, guard))) {
                return rc;
            }
        }
        return CFP_OK;
    }
    if (!strcmp(op, "Split")) {
        int64_t ax = cfp_attr_i(n, "axis", 0);
        cfp_value *x = cfp_in(m, n, 0);
        if (ax < 0) ax += x->t.ndim;
        int64_t off = 0;
        if (ax == a) {
            /* which output is this? the caller walked into one of them */
            for (int k = 0; k < n->n_out; k++) {
                cfp_value *o = cfp_out(m, n, k);
                if (!o) continue;
                if (o == p->arrived) break;
                off += o->t.dims[a];
            }
        }
        return walk(p, n->in[0], a, c + off, out, guard);
    }
    if (!strcmp(op, "Slice")) {
        cfp_value *x = cfp_in(m, n, 0);
        if (x->t.dims[a] == y->t.dims[a]) return walk(p, n->in[0], a, c, out, guard);
        int64_t start, step;
        if (cfp_slice_axis(m, n, a, &start, &step) == CFP_OK) return walk(p, n->in[0], a, start + c * step, out, guard);
        warn(p, n, "slices the channel axis in a way the walk cannot follow; the walk stops here");
        return CFP_OK;
    }
    warn(p, n, "mixes channels in a way the method does not define; the walk stops here");
    return CFP_OK;
}

static int walk(cfp_pyramid *p, int value, int a, int64_t c, klist *out, int guard) {
    cfp_model *m = p->m;
    cfp_value *v = &m->values[value];
    if (v->producer < 0 || v->is_const) return CFP_OK; /* the clip itself, or a constant */
    if (guard > m->n_nodes) return CFP_OK;           /* cannot happen in a DAG */
    cfp_node *n = &m->nodes[v->producer];
    if (a < 0 || a >= v->t.ndim || c < 0 || c >= v->t.dims[a]) {
        warn(p, n, "channel %lld of axis %d is out of range; the walk stops here", (long long)c, a);
        return CFP_OK;
    }
    p->arrived = v;
    return walk_node(p, n, a, c, out, guard + 1);
}

/* ---- pooled activations --------------------------------------------------------- */

/* ā of `value` along channel axis `a`: the engine's means for a = 1, else
 * computed once from the kept activation. */
static int pooled(cfp_pyramid *p, int value, int a, const float **f32, const double **f64, int64_t *n) {
    cfp_model *m = p->m;
    cfp_value *v = &m->values[value];
    *f32 = NULL;
    *f64 = NULL;
    if (a == 1 && v->pooled) {
        *f32 = v->pooled;
        *n = v->n_pooled;
        return CFP_OK;
    }
    for (int i = 0; i < p->n_extra; i++)
        if (p->extra[i].value == value && p->extra[i].axis == a) {
            *f64 = p->extra[i].mean;
            *n = p->extra[i].n;
            return CFP_OK;
        }
    if (v->t.dtype != CFP_F32 || !v->t.data || a < 1 || a >= v->t.ndim)
        return cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "value '%s' has no channel axis %d to pool", v->name, a);
    int rc = cfp_value_materialize(m, v);
    if (rc) return rc;
    int64_t C = v->t.dims[a], inner = 1, outer = 1;
    for (int i = a + 1; i < v->t.ndim; i++) inner *= v->t.dims[i];
    for (int i = 1; i < a; i++) outer *= v->t.dims[i];
    double *mean = calloc((size_t)C + 1, sizeof *mean);
    void *ex = realloc(p->extra, (size_t)(p->n_extra + 1) * sizeof *p->extra);
    if (!mean || !ex) {
        free(mean);
        if (ex) p->extra = ex;
        return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
    }
    p->extra = ex;
    const float *x = v->t.data; /* batch element 0 comes first */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t i = 0; i < inner; i++) mean[ch] += x[(o * C + ch) * inner + i];
    for (int64_t ch = 0; ch < C; ch++) mean[ch] /= (double)(outer * inner);
    p->extra[p->n_extra].value = value;
    p->extra[p->n_extra].axis = a;
    p->extra[p->n_extra].mean = mean;
    p->extra[p->n_extra++].n = C;
    *f64 = mean;
    *n = C;
    return CFP_OK;
}

/* ---- nodes and edges ---------------------------------------------------------- */

static int add_node(cfp_pyramid *p, int layer, int64_t channel, int level, int *id) {
    int found = kmap_find(p, layer, channel);
    if (found >= 0) {
        *id = found;
        return CFP_OK;
    }
    if (p->n_nodes == p->cap_nodes) {
        int cap = p->cap_nodes ? p->cap_nodes * 2 : 64;
        cfp_pyramid_node *nn = realloc(p->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return CFP_E_NOMEM;
        p->nodes = nn;
        p->cap_nodes = cap;
    }
    if (kmap_put(p, layer, channel, p->n_nodes)) return CFP_E_NOMEM;
    cfp_pyramid_node *nd = &p->nodes[p->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->id = p->n_nodes;
    nd->level = level;
    nd->layer = &p->m->nodes[layer];
    nd->channel = channel;
    cfp_value *y = cfp_out(p->m, nd->layer, 0);
    int a = ((struct cfp_layer_cache *)p->m->layer_cache)->layers[layer].kind == LAYER_MATMUL ? y->t.ndim - 1 : 1;
    const float *f;
    const double *d;
    int64_t n = 0;
    if (pooled(p, y->id, a, &f, &d, &n) == CFP_OK && channel < n) nd->pooled_activation = f ? f[channel] : d[channel];
    *id = p->n_nodes++;
    return CFP_OK;
}

static int add_edge(cfp_pyramid *p, int parent, int child, double score, double contribution, int64_t via) {
    if (child >= p->cap_stamp) {
        int cap = p->cap_nodes > child + 1 ? p->cap_nodes : child + 1;
        int *st = realloc(p->stamp, (size_t)cap * sizeof *st);
        if (st) p->stamp = st;
        int *eo = st ? realloc(p->edge_of, (size_t)cap * sizeof *eo) : NULL;
        if (!st || !eo) return CFP_E_NOMEM;
        p->edge_of = eo;
        for (int i = p->cap_stamp; i < cap; i++) p->stamp[i] = -1;
        p->cap_stamp = cap;
    }
    if (p->stamp[child] == parent) {
        cfp_pyramid_edge *e = &p->edges[p->edge_of[child]];
        if (score > e->score || (score == e->score && via < e->via_channel))
            e->score = score, e->contribution = contribution, e->via_channel = via;
        return CFP_OK;
    }
    if (p->n_edges == p->cap_edges) {
        int cap = p->cap_edges ? p->cap_edges * 2 : 128;
        cfp_pyramid_edge *ne = realloc(p->edges, (size_t)cap * sizeof *ne);
        if (!ne) return CFP_E_NOMEM;
        p->edges = ne;
        p->cap_edges = cap;
    }
    p->stamp[child] = parent;
    p->edge_of[child] = p->n_edges;
    p->edges[p->n_edges++] = (cfp_pyramid_edge){parent, child, score, contribution, via};
    return CFP_OK;
}

/* Kernels reached from channel c of (value, axis): [*first, *first + *n) in
 * p->pool, walking the graph only the first time. */
static int resolve(cfp_pyramid *p, int value, int a, int64_t c, klist *scratch, int *first, int *n, int *hint) {
    struct walk_memo *w = NULL;
    if (*hint >= 0 && *hint < p->n_memos && p->memos[*hint].value == value && p->memos[*hint].axis == a)
        w = &p->memos[*hint];
    for (int i = 0; i < p->n_memos && !w; i++)
        if (p->memos[i].value == value && p->memos[i].axis == a) w = &p->memos[*hint = i];
    if (!w) {
        cfp_value *v = &p->m->values[value];
        int64_t C = a >= 0 && a < v->t.ndim ? v->t.dims[a] : 0;
        struct walk_memo *nm = realloc(p->memos, (size_t)(p->n_memos + 1) * sizeof *nm);
        if (!nm) return CFP_E_NOMEM;
        p->memos = nm;
        w = &p->memos[p->n_memos];
        w->value = value, w->axis = a, w->n = C;
        w->start = malloc(((size_t)C + 1) * sizeof *w->start);
        w->count = calloc((size_t)C + 1, sizeof *w->count);
        if (!w->start || !w->count) {
            free(w->start), free(w->count);
            return CFP_E_NOMEM;
        }
        for (int64_t i = 0; i < C; i++) w->start[i] = -1;
        *hint = p->n_memos++;
    }
    if (c < 0 || c >= w->n) {
        *first = *n = 0;
        return CFP_OK;
    }
    if (w->start[c] < 0) {
        scratch->n = 0;
        int rc = walk(p, value, a, c, scratch, 0);
        if (rc) return rc;
        if (p->n_pool + scratch->n > p->cap_pool) {
            int cap = p->cap_pool ? p->cap_pool * 2 : 256;
            while (cap < p->n_pool + scratch->n) cap *= 2;
            void *np = realloc(p->pool, (size_t)cap * sizeof *p->pool);
            if (!np) return CFP_E_NOMEM;
            p->pool = np;
            p->cap_pool = cap;
        }
        w->start[c] = p->n_pool;
        w->count[c] = scratch->n;
        for (int j = 0; j < scratch->n; j++) {
            p->pool[p->n_pool].node = scratch->k[j].node;
            p->pool[p->n_pool].channel = scratch->k[j].channel;
            p->pool[p->n_pool++].id = -1;
        }
    }
    *first = w->start[c];
    *n = w->count[c];
    return CFP_OK;
}

/* ---- the back-step (spec §2) ------------------------------------------------ */

typedef struct {
    int64_t channel;
    double score, v;
} child_ch;

static int cmp_child(const void *x, const void *y) {
    const child_ch *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->channel > b->channel) - (a->channel < b->channel);
}

static int cmp_channel(const void *x, const void *y) {
    const child_ch *a = x, *b = y;
    return (a->channel > b->channel) - (a->channel < b->channel);
}

/* Children channels of kernel (layer, o), into *kids (channel order). */
static int backstep(cfp_pyramid *p, int layer, int64_t o, child_ch **kids, int *n_kids, double **scratch,
                    int64_t *scratch_n) {
    cfp_model *m = p->m;
    cfp_node *n = &m->nodes[layer];
    layer_info *L = &((struct cfp_layer_cache *)m->layer_cache)->layers[layer];
    int rc = layer_prepare(m, n, L);
    if (rc) return rc;
    *n_kids = 0;
    if (o < 0 || o >= L->c_out) return CFP_OK;
    cfp_value *x = &m->values[L->in_value];
    int a = L->kind == LAYER_MATMUL ? x->t.ndim - 1 : L->in_axis;
    const float *af;
    const double *ad;
    int64_t na;
    if ((rc = pooled(p, L->in_value, a, &af, &ad, &na))) return rc;
    int64_t gi = o / (L->c_out / L->group), base = gi * L->cpg;
    if (base + L->cpg > na) return cfp_seterr(m->ctx, CFP_E_SHAPE, "node '%s': input has %lld channels, weights need %lld", n->name, (long long)na, (long long)(base + L->cpg));
    if (*scratch_n < L->cpg) {
        double *s = realloc(*scratch, (size_t)L->cpg * sizeof *s);
        child_ch *k = realloc(*kids, (size_t)L->cpg * sizeof *k);
        if (s) *scratch = s;
        if (k) *kids = k;
        if (!s || !k) return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
        *scratch_n = L->cpg;
    }
    double *v = *scratch, f = L->bn ? L->bn[o] : 1.0, lo = INFINITY, hi = -INFINITY;
    const float *w = L->wbar + o * L->w_so;
    for (int64_t k = 0; k < L->cpg; k++) {
        double act = af ? (double)af[base + k] : ad[base + k];
        v[k] = (double)w[k * L->w_sk] * act * f;
        if (v[k] < lo) lo = v[k];
        if (v[k] > hi) hi = v[k];
    }
    child_ch *out = *kids;
    int nk = 0;
    if (hi == lo) {
        if (hi != 0)
            for (int64_t k = 0; k < L->cpg; k++) out[nk++] = (child_ch){base + k, 1.0, v[k]};
    } else {
        double range = hi - lo;
        for (int64_t k = 0; k < L->cpg; k++) {
            double s = (v[k] - lo) / range;
            if (s >= p->params.theta) out[nk++] = (child_ch){base + k, s, v[k]};
        }
    }
    if (p->params.max_children > 0 && nk > p->params.max_children) {
        qsort(out, (size_t)nk, sizeof *out, cmp_child);
        nk = p->params.max_children;
        qsort(out, (size_t)nk, sizeof *out, cmp_channel);
    }
    *n_kids = nk;
    return CFP_OK;
}

/* ---- class selection (spec §1) -------------------------------------------------- */

static cfp_value *logits_value(cfp_model *m) {
    cfp_value *y = cfp_model_output(m, 0);
    if (y && y->producer >= 0) {
        cfp_node *n = &m->nodes[y->producer];
        if ((!strcmp(n->op_type, "Softmax") || !strcmp(n->op_type, "LogSoftmax")) && cfp_in(m, n, 0))
            return cfp_in(m, n, 0);
    }
    return y;
}

int cfp_model_logits(cfp_model *m, const float **logits, int64_t *n_classes) {
    cfp_value *y = logits_value(m);
    if (!y || y->t.dtype != CFP_F32 || !y->t.data || y->t.ndim < 2 || y->t.dims[1] < 1)
        return cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "the model's first output is not a (N, classes) float tensor");
    for (int i = 2; i < y->t.ndim; i++)
        if (y->t.dims[i] != 1)
            return cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "the model's first output '%s' is not a vector of class scores", y->name);
    *logits = y->t.data;
    *n_classes = y->t.dims[1];
    return CFP_OK;
}

/* ---- building --------------------------------------------------------------------- */

void cfp_pyramid_params_default(cfp_pyramid_params *p) {
    memset(p, 0, sizeof *p);
    p->theta = 0.6;
    p->depth = 3;
    p->max_children = 0;
    p->class_index = -1;
}

static int cmp_node_order(const void *x, const void *y, void *arg) {
    const cfp_pyramid *p = arg;
    const cfp_pyramid_node *a = &p->nodes[*(const int *)x], *b = &p->nodes[*(const int *)y];
    if (a->layer->index != b->layer->index) return a->layer->index - b->layer->index;
    return (a->channel > b->channel) - (a->channel < b->channel);
}

int cfp_pyramid_build(cfp_model *m, const cfp_pyramid_params *params, cfp_pyramid **out) {
    *out = NULL;
    cfp_ctx *ctx = m->ctx;
    if (!m->planned) return cfp_seterr(ctx, CFP_E_ARG, "run the model before building a pyramid");
    if (m->keep_none)
        return cfp_seterr(ctx, CFP_E_ARG, "the model was run without keeping activations (cfp_model_set_keep)");
    if (!(params->theta >= 0 && params->theta <= 1))
        return cfp_seterr(ctx, CFP_E_ARG, "theta must be in [0, 1], got %g", params->theta);
    if (params->depth < 0) return cfp_seterr(ctx, CFP_E_ARG, "depth must be >= 0");
    if (!layer_cache(m)) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    const float *logits;
    int64_t nc;
    int rc = cfp_model_logits(m, &logits, &nc);
    if (rc) return rc;
    cfp_pyramid *p = calloc(1, sizeof *p);
    if (!p) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    p->m = m;
    p->params = *params;
    int64_t cls = params->class_index;
    if (cls < 0) {
        cls = 0;
        for (int64_t c = 1; c < nc; c++)
            if (logits[c] > logits[cls]) cls = c;
    } else if (cls >= nc) {
        free(p);
        return cfp_seterr(ctx, CFP_E_ARG, "class %lld is out of range: the model has %lld classes", (long long)cls, (long long)nc);
    }
    p->class_index = (int)cls;
    double mx = logits[0], sum = 0;
    for (int64_t c = 1; c < nc; c++) mx = logits[c] > mx ? logits[c] : mx;
    for (int64_t c = 0; c < nc; c++) sum += exp((double)logits[c] - mx);
    p->class_prob = exp((double)logits[cls] - mx) / sum;
    p->class_logit = logits[cls];

    klist found = {0};
    child_ch *kids = NULL;
    double *scratch = NULL;
    int64_t scratch_n = 0;
    int *level = NULL, *next = NULL;
    int n_level = 0, n_next = 0, cap_next = 0;
    cfp_value *lv = logits_value(m);
    if ((rc = walk(p, lv->id, 1, cls, &found, 0))) goto oom; /* oom keeps other errors as they are */
    if (found.n == 0) {
        rc = cfp_seterr(ctx, CFP_E_UNSUPPORTED, "no layer found behind output '%s'%s%s", lv->name,
                        p->n_warnings ? ": " : "", p->n_warnings ? p->warnings[0] : "");
        goto done;
    }
    level = malloc((size_t)found.n * sizeof *level);
    if (!level) {
        rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < found.n; i++) {
        int id;
        if ((rc = add_node(p, found.k[i].node, found.k[i].channel, 0, &id))) goto oom;
        level[n_level++] = id;
    }
    for (int d = 0; d < params->depth && n_level; d++) {
        qsort_r(level, (size_t)n_level, sizeof *level, cmp_node_order, p);
        n_next = cap_next = 0;
        next = NULL;
        for (int i = 0; i < n_level; i++) {
            int parent = level[i], n_kids;
            cfp_pyramid_node *pn = &p->nodes[parent];
            int lidx = pn->layer->index;
            if ((rc = backstep(p, lidx, pn->channel, &kids, &n_kids, &scratch, &scratch_n))) goto done;
            layer_info *L = &((struct cfp_layer_cache *)m->layer_cache)->layers[lidx];
            cfp_value *x = &m->values[L->in_value];
            int a = L->kind == LAYER_MATMUL ? x->t.ndim - 1 : 1;
            int hint = -1;
            for (int k = 0; k < n_kids; k++) {
                int first, count;
                if ((rc = resolve(p, L->in_value, a, kids[k].channel, &found, &first, &count, &hint))) goto oom;
                for (int j = first; j < first + count; j++) {
                    int before = p->n_nodes, id = p->pool[j].id;
                    if (id < 0) {
                        if ((rc = add_node(p, p->pool[j].node, p->pool[j].channel, d + 1, &id))) goto oom;
                        p->pool[j].id = id;
                    }
                    if ((rc = add_edge(p, parent, id, kids[k].score, kids[k].v, kids[k].channel))) goto oom;
                    if (p->n_nodes > before) {
                        if (n_next == cap_next) {
                            cap_next = cap_next ? cap_next * 2 : 64;
                            int *nn = realloc(next, (size_t)cap_next * sizeof *nn);
                            if (!nn) goto oom;
                            next = nn;
                        }
                        next[n_next++] = id;
                    }
                }
            }
        }
        free(level);
        level = next;
        next = NULL;
        n_level = n_next;
    }
    for (int i = 0; i < p->n_edges; i++) p->nodes[p->edges[i].child].n_parents++;
    rc = CFP_OK;
    goto done;
oom:
    if (!rc || rc == CFP_E_NOMEM) rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
done:
    free(found.k);
    free(kids);
    free(scratch);
    free(level);
    free(next);
    if (rc) {
        cfp_pyramid_free(p);
        return rc;
    }
    *out = p;
    return CFP_OK;
}

void cfp_pyramid_free(cfp_pyramid *p) {
    if (!p) return;
    free(p->nodes);
    free(p->edges);
    free(p->kmap);
    for (int i = 0; i < p->n_warnings; i++) free(p->warnings[i]);
    free(p->warnings);
    for (int i = 0; i < p->n_extra; i++) free(p->extra[i].mean);
    free(p->extra);
    for (int i = 0; i < p->n_memos; i++) free(p->memos[i].start), free(p->memos[i].count);
    free(p->memos);
    free(p->pool);
    free(p->stamp);
    free(p->edge_of);
    free(p);
}

int cfp_pyramid_class(const cfp_pyramid *p) { return p->class_index; }
double cfp_pyramid_class_prob(const cfp_pyramid *p) { return p->class_prob; }
double cfp_pyramid_class_logit(const cfp_pyramid *p) { return p->class_logit; }
const cfp_pyramid_params *cfp_pyramid_get_params(const cfp_pyramid *p) { return &p->params; }
int cfp_pyramid_n_nodes(const cfp_pyramid *p) { return p->n_nodes; }
const cfp_pyramid_node *cfp_pyramid_node_at(const cfp_pyramid *p, int i) {
    return i >= 0 && i < p->n_nodes ? &p->nodes[i] : NULL;
}
int cfp_pyramid_n_edges(const cfp_pyramid *p) { return p->n_edges; }
const cfp_pyramid_edge *cfp_pyramid_edge_at(const cfp_pyramid *p, int i) {
    return i >= 0 && i < p->n_edges ? &p->edges[i] : NULL;
}
int cfp_pyramid_n_warnings(const cfp_pyramid *p) { return p->n_warnings; }
const char *cfp_pyramid_warning(const cfp_pyramid *p, int i) {
    return i >= 0 && i < p->n_warnings ? p->warnings[i] : NULL;
}

/* ---- for the maps (saliency.c) ------------------------------------------------ */

int cfp_pyramid_child_channels(cfp_pyramid *p, int node, int64_t **channels, int *n, int *value, int *axis) {
    *channels = NULL;
    *n = 0;
    if (node < 0 || node >= p->n_nodes) return cfp_seterr(p->m->ctx, CFP_E_ARG, "no pyramid node %d", node);
    const cfp_pyramid_node *nd = &p->nodes[node];
    child_ch *kids = NULL;
    double *scratch = NULL;
    int64_t sn = 0;
    int nk = 0, rc = backstep(p, nd->layer->index, nd->channel, &kids, &nk, &scratch, &sn);
    free(scratch);
    if (rc) {
        free(kids);
        return rc;
    }
    layer_info *L = &((struct cfp_layer_cache *)p->m->layer_cache)->layers[nd->layer->index];
    cfp_value *x = &p->m->values[L->in_value];
    *value = L->in_value;
    *axis = L->kind == LAYER_MATMUL ? x->t.ndim - 1 : 1;
    *channels = malloc(((size_t)nk + 1) * sizeof **channels);
    if (!*channels) {
        free(kids);
        return cfp_seterr(p->m->ctx, CFP_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < nk; i++) (*channels)[i] = kids[i].channel;
    *n = nk;
    free(kids);
    return CFP_OK;
}

int cfp_pyramid_class_weights(cfp_pyramid *p, int node, double **w, int64_t *n, int *value, int *axis) {
    const cfp_pyramid_node *nd = &p->nodes[node];
    layer_info *L = &((struct cfp_layer_cache *)p->m->layer_cache)->layers[nd->layer->index];
    int rc = layer_prepare(p->m, nd->layer, L);
    if (rc) return rc;
    cfp_value *x = &p->m->values[L->in_value];
    if (!(*w = malloc((size_t)(L->cpg + 1) * sizeof **w))) return cfp_seterr(p->m->ctx, CFP_E_NOMEM, "out of memory");
    for (int64_t k = 0; k < L->cpg; k++) (*w)[k] = L->wbar[nd->channel * L->w_so + k * L->w_sk];
    *n = L->cpg;
    *value = L->in_value;
    *axis = L->kind == LAYER_MATMUL ? x->t.ndim - 1 : 1;
    return CFP_OK;
}

cfp_model *cfp_pyramid_model(const cfp_pyramid *p) { return p->m; }

/* Axis of input 0 that carries axis `a` of the output of a node that only
 * pools or reshapes (the feature map behind a classifier), or -1. */
int cfp_pyramid_trace_back(cfp_model *m, const cfp_node *n, int a) {
    static const char *const ops[] = {"GlobalAveragePool", "GlobalMaxPool", "AveragePool", "MaxPool", "Flatten",
                                      "Reshape", "Squeeze", "Unsqueeze", "ReduceMean", "ReduceMax", "ReduceSum",
                                      "Dropout", "Identity", "Pad", "Transpose", NULL};
    cfp_value *x = cfp_in(m, n, 0), *y = cfp_out(m, n, 0);
    if (!x || !y || !op_in(n->op_type, ops)) return -1;
    if (!strcmp(n->op_type, "Transpose")) {
        int64_t perm[CFP_MAX_DIMS];
        int np = cfp_attr_ints(n, "perm", perm, CFP_MAX_DIMS);
        return np > a ? (int)perm[a] : y->t.ndim - 1 - a;
    }
    if (op_in(n->op_type, reshape_ops)) return reshape_axis(&x->t, &y->t, a);
    if (!strncmp(n->op_type, "Reduce", 6) && !cfp_attr_i(n, "keepdims", 1)) {
        int64_t axes[CFP_MAX_DIMS];
        int na = cfp_attr_ints(n, "axes", axes, CFP_MAX_DIMS);
        if (na <= 0) return -1;
        bool reduced[CFP_MAX_DIMS] = {0};
        for (int i = 0; i < na; i++) {
            int64_t ax = axes[i] < 0 ? axes[i] + x->t.ndim : axes[i];
            if (ax >= 0 && ax < x->t.ndim) reduced[ax] = true;
        }
        for (int i = 0, k = -1; i < x->t.ndim; i++)
            if (!reduced[i] && ++k == a) return i;
        return -1;
    }
    return a < x->t.ndim && x->t.dims[a] == y->t.dims[a] ? a : -1;
}
