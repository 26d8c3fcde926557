/* The structural facts Class Feature Pyramids depend on, checked on the
 * reduced-width fixtures of the paper's architectures and today's
 * (scripts/models/, scripts/export_arch.py --fixtures):
 *
 * - residual blocks (Hara ResNet-50/101/152-3D, ResNeXt-101-3D, MFNet, X3D,
 *   SlowFast): a child channel of a value that an Add joins links to the
 *   kernel of that channel on every branch of the Add;
 * - I3D: a child channel c of a mixed block's Concat links to kernel
 *   c − offset_k of branch k's last conv, for the branch k that holds c;
 * - ResNeXt / MFNet: children of a grouped kernel stay in its group (fibre);
 * - X3D: depth-wise kernels link to their own channel only, no kernel behind
 *   a squeeze-excitation gate is ever reached, the gated blocks are crossed,
 *   and the class node is the channels-last MatMul of the head;
 * - SlowFast: the pyramid goes from the slow pathway through a time-strided
 *   lateral conv (with the Concat offset) into the fast pathway;
 * - fibres or paths cut out of the channel axis with Split or Slice (no
 *   fixture has them; a hand-made graph): child c of a part is channel
 *   c + offset of the whole.
 *
 * The expected kernels are derived here from the graph (a small walk over
 * Relu/BatchNormalization/pools/Add/Concat written for these tests), not from
 * src/pyramid.c. Every case also requires that it checked something. */
#include "cfp.h"
#include "pbwrite.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    cfp_ctx *ctx;
    cfp_model *m;
    cfp_pyramid *p;
    int n_nodes;
    cfp_node **nodes; /* graph nodes, topological order */
} fixture;

static int node_index(const fixture *f, const cfp_node *n) {
    for (int i = 0; i < f->n_nodes; i++)
        if (f->nodes[i] == n) return i;
    return -1;
}

static void fixture_free(fixture *f) {
    cfp_pyramid_free(f->p);
    cfp_model_free(f->m);
    cfp_ctx_free(f->ctx);
    free(f->nodes);
    memset(f, 0, sizeof *f);
}

/* Loads tests/fixtures/NAME, runs it on its inputs and builds the pyramid.
 * Returns 0, or -1 with why filled in. */
static int fixture_open(fixture *f, const char *name, double theta, int depth, char *why, size_t wlen) {
    memset(f, 0, sizeof *f);
    char path[1024];
    cfp_tensor in[4] = {{0}};
    int n_in = 0, rc = -1;
    if (cfp_ctx_new(&f->ctx, 2)) {
        snprintf(why, wlen, "no context");
        return -1;
    }
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/model.onnx", cfp_test_root(), name);
    if (cfp_model_load(f->ctx, path, &f->m)) {
        snprintf(why, wlen, "load %.400s: %.500s", path, cfp_errmsg(f->ctx));
        goto out;
    }
    for (; n_in < 4; n_in++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/tests/fixtures/%s/test_data_set_0/input_%d.pb", cfp_test_root(), name, n_in);
        if (stat(path, &st)) break;
        if (cfp_tensor_read_pb(f->ctx, path, &in[n_in], NULL)) {
            snprintf(why, wlen, "%.400s: %.500s", path, cfp_errmsg(f->ctx));
            goto out;
        }
    }
    if (n_in != cfp_model_n_inputs(f->m)) {
        snprintf(why, wlen, "%d input files for %d graph inputs", n_in, cfp_model_n_inputs(f->m));
        goto out;
    }
    if (cfp_model_run(f->m, n_in, in)) {
        snprintf(why, wlen, "run: %s", cfp_errmsg(f->ctx));
        goto out;
    }
    cfp_pyramid_params pp;
    cfp_pyramid_params_default(&pp);
    pp.theta = theta;
    pp.depth = depth;
    if (cfp_pyramid_build(f->m, &pp, &f->p)) {
        snprintf(why, wlen, "pyramid: %s", cfp_errmsg(f->ctx));
        goto out;
    }
    f->n_nodes = cfp_model_n_nodes(f->m);
    f->nodes = malloc((size_t)f->n_nodes * sizeof *f->nodes);
    if (!f->nodes) goto out;
    for (int i = 0; i < f->n_nodes; i++) f->nodes[i] = cfp_model_node(f->m, i);
    rc = 0;
out:
    for (int i = 0; i < n_in; i++) cfp_tensor_free(&in[i]);
    if (rc) fixture_free(f);
    return rc;
}

static int is_op(const cfp_node *n, const char *op) { return n && !strcmp(cfp_node_op(n), op); }

static int is_layer(const cfp_node *n) { return is_op(n, "Conv") || is_op(n, "Gemm") || is_op(n, "MatMul"); }

static int64_t dim(const cfp_value *v, int a) {
    const cfp_tensor *t = cfp_value_tensor(v);
    return t && a < t->ndim ? t->dims[a] : -1;
}

static int same_shape(const cfp_value *a, const cfp_value *b) {
    const cfp_tensor *x = cfp_value_tensor(a), *y = cfp_value_tensor(b);
    if (!x || !y || x->ndim != y->ndim) return 0;
    for (int i = 0; i < x->ndim; i++)
        if (x->dims[i] != y->dims[i]) return 0;
    return 1;
}

/* Ops that keep channel c as channel c (input 0). */
static int channel_preserving(const cfp_node *n) {
    static const char *const ops[] = {"Relu", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
                                      "Identity", "Dropout", NULL};
    for (int i = 0; ops[i]; i++)
        if (is_op(n, ops[i])) return 1;
    /* (N, C, 1, 1, 1) -> (N, C) */
    return is_op(n, "Flatten") && dim(cfp_node_output(n, 0), 1) == dim(cfp_node_input(n, 0), 1);
}

/* The layers whose output channel c is channel c of value v, through
 * channel-preserving ops and every full-shaped input of Add: at most `cap`
 * into out; returns the count. Stops (adds nothing) at anything else. */
static int nearest_layers(const cfp_value *v, const cfp_node **out, int n, int cap) {
    const cfp_node *p = cfp_value_producer(v);
    if (!p || cfp_value_is_const(v)) return n;
    if (is_layer(p)) {
        for (int i = 0; i < n; i++)
            if (out[i] == p) return n;
        if (n < cap) out[n++] = p;
        return n;
    }
    if (channel_preserving(p)) return nearest_layers(cfp_node_input(p, 0), out, n, cap);
    if (is_op(p, "Add"))
        for (int k = 0; k < cfp_node_n_inputs(p); k++) {
            cfp_value *x = cfp_node_input(p, k);
            if (x && !cfp_value_is_const(x) && same_shape(x, v)) n = nearest_layers(x, out, n, cap);
        }
    return n;
}

/* The Add behind value v through channel-preserving ops, or NULL. */
static const cfp_node *add_behind(const cfp_value *v) {
    const cfp_node *p = cfp_value_producer(v);
    while (p && channel_preserving(p)) p = cfp_value_producer(cfp_node_input(p, 0));
    return is_op(p, "Add") ? p : NULL;
}

static const cfp_node *edge_parent(const fixture *f, const cfp_pyramid_edge *e) { return cfp_pyramid_node_at(f->p, e->parent)->layer; }

/* The edge from the parent of edge i to kernel (layer, ch), or NULL (edges
 * come grouped by parent). */
static const cfp_pyramid_edge *sibling_edge(const fixture *f, int i, const cfp_node *layer, int64_t ch) {
    int parent = cfp_pyramid_edge_at(f->p, i)->parent, n = cfp_pyramid_n_edges(f->p), lo = i, hi = i;
    while (lo > 0 && cfp_pyramid_edge_at(f->p, lo - 1)->parent == parent) lo--;
    while (hi + 1 < n && cfp_pyramid_edge_at(f->p, hi + 1)->parent == parent) hi++;
    for (int k = lo; k <= hi; k++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(f->p, k);
        const cfp_pyramid_node *c = cfp_pyramid_node_at(f->p, e->child);
        if (c->layer == layer && c->channel == ch) return e;
    }
    return NULL;
}

static void result(const char *fact, const char *fx, int ok, const char *why) {
    char name[256];
    snprintf(name, sizeof name, "architectures_%s_%s", fact, fx);
    cfp_test_result(name, ok, ok ? NULL : why);
}

static int wanted(const char *fact, const char *fx) {
    char name[256];
    snprintf(name, sizeof name, "architectures_%s_%s", fact, fx);
    return cfp_test_wanted(name);
}

/* ---- residual blocks --------------------------------------------------------- */

/* For every edge whose parent reads a value behind a residual Add: the child
 * channel (= via channel) links to that channel of every nearest layer on
 * every branch of the Add; and one Add is crossed with >= 2 branches. */
static int check_residual(fixture *f, char *why, size_t wlen, int *n_checked) {
    int joins = 0;
    *n_checked = 0;
    for (int i = 0; i < cfp_pyramid_n_edges(f->p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(f->p, i);
        const cfp_node *pl = edge_parent(f, e);
        cfp_value *x = cfp_node_input(pl, 0);
        const cfp_node *add = add_behind(x);
        if (!add) continue;
        const cfp_node *want[64];
        int n = nearest_layers(x, want, 0, 64);
        if (n < 2) continue;
        joins++;
        for (int k = 0; k < n; k++) {
            const cfp_pyramid_edge *g = sibling_edge(f, i, want[k], e->via_channel);
            if (!g) {
                snprintf(why, wlen, "kernel %s:%lld reads '%s' (behind Add '%s'), child channel %lld: no edge to branch kernel %s:%lld",
                         cfp_node_layer_name(pl), (long long)cfp_pyramid_node_at(f->p, e->parent)->channel, cfp_value_name(x),
                         cfp_node_name(add), (long long)e->via_channel, cfp_node_layer_name(want[k]), (long long)e->via_channel);
                return 0;
            }
            (*n_checked)++;
        }
    }
    if (!joins) {
        snprintf(why, wlen, "no pyramid edge crosses a residual Add");
        return 0;
    }
    return 1;
}

SUITE(architectures_residual) {
    static const char *const fx[] = {"resnet50_3d_bn", "resnet50_3d_folded", "resnet101_3d_bn", "resnet101_3d_folded",
                                     "resnet152_3d_bn", "resnet152_3d_folded", "resnext101_3d_bn", "resnext101_3d_folded",
                                     "mfnet3d_bn", "mfnet3d_folded", "x3d_m_bn", "x3d_m_folded", "slowfast_r50_bn",
                                     "slowfast_r50_folded", NULL};
    for (int i = 0; fx[i]; i++) {
        if (!wanted("residual", fx[i])) continue;
        fixture f;
        char why[1024] = "";
        int n = 0, ok = fixture_open(&f, fx[i], 0.6, 3, why, sizeof why) == 0;
        if (ok) ok = check_residual(&f, why, sizeof why, &n);
        if (ok && getenv("CFP_TEST_VERBOSE")) printf("%s: %d branch links checked\n", fx[i], n);
        result("residual", fx[i], ok, why);
        fixture_free(&f);
    }
}

/* ---- I3D: Concat offsets -------------------------------------------------------- */

static int check_concat(fixture *f, char *why, size_t wlen, int *n_checked) {
    int branch_seen[8] = {0};
    *n_checked = 0;
    for (int i = 0; i < cfp_pyramid_n_edges(f->p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(f->p, i);
        const cfp_node *pl = edge_parent(f, e);
        cfp_value *x = cfp_node_input(pl, 0);
        const cfp_node *cat = cfp_value_producer(x);
        while (cat && channel_preserving(cat)) cat = cfp_value_producer(cfp_node_input(cat, 0));
        int64_t axis = -1;
        if (!is_op(cat, "Concat") || cfp_node_attr_int(cat, "axis", &axis) || axis != 1) continue;
        int64_t off = 0, c = e->via_channel;
        int k = 0;
        for (; k < cfp_node_n_inputs(cat); k++) {
            int64_t sz = dim(cfp_node_input(cat, k), 1);
            if (c < off + sz) break;
            off += sz;
        }
        if (k == cfp_node_n_inputs(cat)) {
            snprintf(why, wlen, "via channel %lld beyond Concat '%s'", (long long)c, cfp_node_name(cat));
            return 0;
        }
        const cfp_node *want[4];
        int n = nearest_layers(cfp_node_input(cat, k), want, 0, 4);
        const cfp_pyramid_node *child = cfp_pyramid_node_at(f->p, e->child);
        if (n != 1 || child->layer != want[0] || child->channel != c - off) {
            snprintf(why, wlen, "%s:%lld child channel %lld of Concat '%s' is channel %lld of branch %d (%s); the edge goes to %s:%lld",
                     cfp_node_layer_name(pl), (long long)cfp_pyramid_node_at(f->p, e->parent)->channel, (long long)c,
                     cfp_node_name(cat), (long long)(c - off), k, n == 1 ? cfp_node_layer_name(want[0]) : "?",
                     cfp_node_layer_name(child->layer), (long long)child->channel);
            return 0;
        }
        if (k < 8) branch_seen[k]++;
        (*n_checked)++;
    }
    /* all four branches, the max-pool branch (3) included, must be crossed */
    for (int k = 0; k < 4; k++)
        if (!branch_seen[k]) {
            snprintf(why, wlen, "no pyramid edge into branch %d of a mixed block (%d edges checked)", k, *n_checked);
            return 0;
        }
    return 1;
}

SUITE(architectures_i3d_concat) {
    static const char *const fx[] = {"i3d_bn", "i3d_folded", "i3d_bn_op17", NULL};
    for (int i = 0; fx[i]; i++) {
        if (!wanted("i3d_concat", fx[i])) continue;
        fixture f;
        char why[1024] = "";
        int n = 0, ok = fixture_open(&f, fx[i], 0.6, 3, why, sizeof why) == 0;
        if (ok) ok = check_concat(&f, why, sizeof why, &n);
        if (ok && getenv("CFP_TEST_VERBOSE")) printf("%s: %d concat edges checked\n", fx[i], n);
        result("i3d_concat", fx[i], ok, why);
        fixture_free(&f);
    }
}

/* ---- grouped convs: children stay in their group (fibre) ---------------------------- */

typedef struct {
    int64_t group, c_out, cpg; /* cpg: input channels per group */
} conv_shape;

static int conv_shape_of(const cfp_node *n, conv_shape *s) {
    if (!is_op(n, "Conv")) return 0;
    cfp_value *w = cfp_node_input(n, 1);
    if (!w || dim(w, 0) < 1) return 0;
    s->group = 1;
    cfp_node_attr_int(n, "group", &s->group);
    s->c_out = dim(w, 0);
    s->cpg = dim(w, 1);
    return 1;
}

static int check_groups(fixture *f, int64_t want_group, char *why, size_t wlen, int *n_checked, int *n_fibre) {
    *n_checked = *n_fibre = 0;
    for (int i = 0; i < cfp_pyramid_n_edges(f->p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(f->p, i);
        const cfp_pyramid_node *pn = cfp_pyramid_node_at(f->p, e->parent), *cn = cfp_pyramid_node_at(f->p, e->child);
        conv_shape ps, cs;
        if (!conv_shape_of(pn->layer, &ps) || ps.group != want_group || ps.cpg < 2) continue;
        int64_t gi = pn->channel / (ps.c_out / ps.group);
        if (e->via_channel / ps.cpg != gi) {
            snprintf(why, wlen, "%s:%lld (group %lld of %lld) takes input channel %lld, of group %lld",
                     cfp_node_layer_name(pn->layer), (long long)pn->channel, (long long)gi, (long long)ps.group,
                     (long long)e->via_channel, (long long)(e->via_channel / ps.cpg));
            return 0;
        }
        (*n_checked)++;
        /* a grouped child whose channels are the parent's input channels (a
         * fibre continuing through BN/ReLU): the same fibre */
        if (conv_shape_of(cn->layer, &cs) && cs.group == ps.group && cs.c_out == ps.cpg * ps.group &&
            cn->channel == e->via_channel) {
            int64_t gc = cn->channel / (cs.c_out / cs.group);
            if (gc != gi) {
                snprintf(why, wlen, "fibre %lld of %s:%lld links to %s:%lld in fibre %lld", (long long)gi,
                         cfp_node_layer_name(pn->layer), (long long)pn->channel, cfp_node_layer_name(cn->layer),
                         (long long)cn->channel, (long long)gc);
                return 0;
            }
            (*n_fibre)++;
        }
    }
    if (!*n_checked) {
        snprintf(why, wlen, "no pyramid edge leaves a %lld-group conv with >= 2 channels per group", (long long)want_group);
        return 0;
    }
    return 1;
}

SUITE(architectures_groups) {
    static const struct {
        const char *fx;
        int64_t group;
        int need_fibre;
    } cases[] = {{"mfnet3d_bn", 16, 1}, {"mfnet3d_folded", 16, 1}, {"mfnet3d_folded_op17", 16, 1},
                 {"resnext101_3d_bn", 32, 0}, {"resnext101_3d_folded", 32, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!wanted("groups", cases[i].fx)) continue;
        fixture f;
        char why[1024] = "";
        int n = 0, nf = 0, ok = fixture_open(&f, cases[i].fx, 0.6, 3, why, sizeof why) == 0;
        if (ok) ok = check_groups(&f, cases[i].group, why, sizeof why, &n, &nf);
        if (ok && cases[i].need_fibre && !nf) {
            ok = 0;
            snprintf(why, sizeof why, "no fibre-to-fibre edge (grouped conv -> grouped conv) in the pyramid");
        }
        if (ok && getenv("CFP_TEST_VERBOSE")) printf("%s: %d grouped edges, %d fibre-to-fibre\n", cases[i].fx, n, nf);
        result("groups", cases[i].fx, ok, why);
        fixture_free(&f);
    }
}

/* ---- X3D: depth-wise kernels, SE gates, channels-last head ------------------------- */

static int check_x3d(fixture *f, char *why, size_t wlen, int *n_dw, int *n_se_blocks) {
    *n_dw = *n_se_blocks = 0;
    /* SE layers: behind the broadcast input of a Mul, not behind its other input */
    char *se = calloc((size_t)f->n_nodes, 1), *gated_dw = calloc((size_t)f->n_nodes, 1);
    int ok = 0, n_gates = 0;
    if (!se || !gated_dw) goto out;
    for (int i = 0; i < f->n_nodes; i++) {
        const cfp_node *n = f->nodes[i];
        if (!is_op(n, "Mul") || cfp_node_n_inputs(n) != 2) continue;
        cfp_value *y = cfp_node_output(n, 0), *a = cfp_node_input(n, 0), *b = cfp_node_input(n, 1);
        cfp_value *full = same_shape(a, y) ? a : b, *gate = same_shape(a, y) ? b : a;
        if (same_shape(gate, y)) continue; /* swish: both full-shaped */
        n_gates++;
        /* the gate: Sigmoid(Conv(Relu(Conv(GlobalAveragePool)))) */
        const cfp_node *g = cfp_value_producer(gate);
        while (g && !is_op(g, "GlobalAveragePool") && !is_op(g, "ReduceMean")) {
            int k = node_index(f, g);
            if (k >= 0 && is_layer(g)) se[k] = 1;
            g = cfp_value_producer(cfp_node_input(g, 0));
        }
        const cfp_node *dw = cfp_value_producer(full);
        while (dw && channel_preserving(dw)) dw = cfp_value_producer(cfp_node_input(dw, 0));
        if (dw && node_index(f, dw) >= 0) gated_dw[node_index(f, dw)] = 1;
    }
    if (!n_gates) {
        snprintf(why, wlen, "no squeeze-excitation Mul in the graph");
        goto out;
    }
    for (int i = 0; i < cfp_pyramid_n_nodes(f->p); i++) {
        const cfp_pyramid_node *n = cfp_pyramid_node_at(f->p, i);
        int k = node_index(f, n->layer);
        if (k >= 0 && se[k]) {
            snprintf(why, wlen, "squeeze-excitation conv %s:%lld is in the pyramid (level %d)", cfp_node_layer_name(n->layer),
                     (long long)n->channel, n->level);
            goto out;
        }
        if (k >= 0 && gated_dw[k]) (*n_se_blocks)++;
        if (n->level == 0 && !is_op(n->layer, "MatMul")) {
            snprintf(why, wlen, "class node is %s (%s), not the head's MatMul", cfp_node_layer_name(n->layer), cfp_node_op(n->layer));
            goto out;
        }
    }
    for (int i = 0; i < cfp_pyramid_n_edges(f->p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(f->p, i);
        const cfp_pyramid_node *pn = cfp_pyramid_node_at(f->p, e->parent), *cn = cfp_pyramid_node_at(f->p, e->child);
        conv_shape s;
        if (!conv_shape_of(pn->layer, &s) || s.cpg != 1 || s.group != s.c_out) continue;
        if (e->via_channel != pn->channel || cn->channel != pn->channel) {
            snprintf(why, wlen, "depth-wise %s:%lld links through input channel %lld to %s:%lld", cfp_node_layer_name(pn->layer),
                     (long long)pn->channel, (long long)e->via_channel, cfp_node_layer_name(cn->layer), (long long)cn->channel);
            goto out;
        }
        (*n_dw)++;
    }
    if (!*n_dw) snprintf(why, wlen, "no depth-wise edge in the pyramid");
    else if (!*n_se_blocks) snprintf(why, wlen, "no depth-wise kernel of a gated (SE) block in the pyramid");
    else ok = 1;
out:
    free(se);
    free(gated_dw);
    return ok;
}

SUITE(architectures_x3d) {
    static const char *const fx[] = {"x3d_m_bn", "x3d_m_folded", "x3d_m_folded_op17", NULL};
    for (int i = 0; fx[i]; i++) {
        /* depth 3 ends at the last stage's 1x1x1 convs; depth-wise kernels
         * and SE gates start at level 5 */
        for (int depth = 6; depth <= 10; depth += 4) {
            fixture f;
            char why[1024] = "", fact[32];
            snprintf(fact, sizeof fact, "x3d_depth%d", depth);
            if (!wanted(fact, fx[i])) continue;
            int n = 0, ns = 0, ok = fixture_open(&f, fx[i], 0.6, depth, why, sizeof why) == 0;
            if (ok) ok = check_x3d(&f, why, sizeof why, &n, &ns);
            if (ok && getenv("CFP_TEST_VERBOSE")) printf("%s depth %d: %d depth-wise edges, %d gated kernels\n", fx[i], depth, n, ns);
            result(fact, fx[i], ok, why);
            fixture_free(&f);
        }
    }
}

/* ---- SlowFast: both pathways through the laterals ------------------------------------ */

/* deps[i]: bit k set when node i depends on graph input k. */
static unsigned *input_deps(fixture *f) {
    unsigned *deps = calloc((size_t)f->n_nodes, sizeof *deps);
    if (!deps) return NULL;
    for (int i = 0; i < f->n_nodes; i++)
        for (int k = 0; k < cfp_node_n_inputs(f->nodes[i]); k++) {
            cfp_value *v = cfp_node_input(f->nodes[i], k);
            if (!v) continue;
            for (int g = 0; g < cfp_model_n_inputs(f->m); g++)
                if (cfp_model_input(f->m, g) == v) deps[i] |= 1u << g;
            int p = node_index(f, cfp_value_producer(v));
            if (p >= 0) deps[i] |= deps[p];
        }
    return deps;
}

static int check_slowfast(fixture *f, char *why, size_t wlen, int *n_cross) {
    *n_cross = 0;
    if (cfp_model_n_inputs(f->m) != 2 || strcmp(cfp_value_name(cfp_model_input(f->m, 0)), "slow") ||
        strcmp(cfp_value_name(cfp_model_input(f->m, 1)), "fast")) {
        snprintf(why, wlen, "graph inputs are not (slow, fast)");
        return 0;
    }
    unsigned *deps = input_deps(f);
    if (!deps) return 0;
    const unsigned SLOW = 1, FAST = 2;
    int ok = 0, n_slow = 0, n_fast = 0;
    for (int i = 0; i < cfp_pyramid_n_nodes(f->p); i++) {
        unsigned d = deps[node_index(f, cfp_pyramid_node_at(f->p, i)->layer)];
        n_slow += (d & SLOW) != 0;
        n_fast += d == FAST;
    }
    for (int i = 0; i < cfp_pyramid_n_edges(f->p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(f->p, i);
        const cfp_pyramid_node *sn = cfp_pyramid_node_at(f->p, e->parent), *ln = cfp_pyramid_node_at(f->p, e->child);
        int64_t st[3] = {1, 1, 1};
        if (!(deps[node_index(f, sn->layer)] & SLOW) || deps[node_index(f, ln->layer)] != FAST || !is_op(ln->layer, "Conv") ||
            cfp_node_attr_ints(ln->layer, "strides", st, 3) < 1 || st[0] < 2)
            continue;
        /* slow kernel -> lateral kernel: through the Concat at its offset */
        const cfp_node *cat = cfp_value_producer(cfp_node_input(sn->layer, 0));
        while (cat && channel_preserving(cat)) cat = cfp_value_producer(cfp_node_input(cat, 0));
        if (!is_op(cat, "Concat") || cfp_node_n_inputs(cat) != 2) {
            snprintf(why, wlen, "%s reaches lateral %s not through a two-input Concat", cfp_node_layer_name(sn->layer),
                     cfp_node_layer_name(ln->layer));
            goto out;
        }
        int64_t off = dim(cfp_node_input(cat, 0), 1);
        const cfp_node *want[2];
        if (nearest_layers(cfp_node_input(cat, 1), want, 0, 2) != 1 || want[0] != ln->layer || e->via_channel < off ||
            ln->channel != e->via_channel - off) {
            snprintf(why, wlen, "%s:%lld -> lateral %s:%lld through channel %lld of '%s' (slow part %lld channels)",
                     cfp_node_layer_name(sn->layer), (long long)sn->channel, cfp_node_layer_name(ln->layer), (long long)ln->channel,
                     (long long)e->via_channel, cfp_node_name(cat), (long long)off);
            goto out;
        }
        /* lateral kernel -> fast pathway kernel */
        for (int j = 0; j < cfp_pyramid_n_edges(f->p); j++) {
            const cfp_pyramid_edge *g = cfp_pyramid_edge_at(f->p, j);
            const cfp_pyramid_node *fn = cfp_pyramid_node_at(f->p, g->child);
            if (g->parent == e->child && deps[node_index(f, fn->layer)] == FAST && fn->layer != ln->layer) {
                (*n_cross)++;
                break;
            }
        }
    }
    if (!n_slow || !n_fast) snprintf(why, wlen, "pyramid has %d slow-pathway and %d fast-only kernels", n_slow, n_fast);
    else if (!*n_cross) snprintf(why, wlen, "no pyramid path slow kernel -> lateral conv -> fast kernel");
    else ok = 1;
out:
    free(deps);
    return ok;
}

SUITE(architectures_slowfast) {
    static const char *const fx[] = {"slowfast_r50_bn", "slowfast_r50_folded", "slowfast_r50_folded_op17", NULL};
    for (int i = 0; fx[i]; i++) {
        if (!wanted("slowfast", fx[i])) continue;
        fixture f;
        char why[1024] = "";
        int n = 0, ok = fixture_open(&f, fx[i], 0.6, 3, why, sizeof why) == 0;
        if (ok) ok = check_slowfast(&f, why, sizeof why, &n);
        if (ok && getenv("CFP_TEST_VERBOSE")) printf("%s: %d slow -> lateral -> fast paths\n", fx[i], n);
        result("slowfast", fx[i], ok, why);
        fixture_free(&f);
    }
}

/* ---- Split / Slice on the channel axis ---------------------------------------------- */

/* x (1,4,2,2,2) with channel c constant x[c] = c + 1; S = Conv(x, identity),
 * r = Relu(S). part = Split(r, [1, 3])[1] (channels 1..3) or Slice(r, 2:4)
 * (channels 2, 3); y = Gemm(Flatten(GAP(part))) with one-hot rows, so class
 * k's only child is channel want_part[k] of the part, which is kernel
 * (S, want_part[k] + offset). Logits are the part's channel values: row 0
 * picks the larger one, so class 0 is the arg-max. */
static void split_slice_case(int slice) {
    gbuild g = {0};
    float eye[16] = {0};
    for (int i = 0; i < 4; i++) eye[i * 4 + i] = 1;
    gb_input(&g, "x", 5, (int64_t[]){1, 4, 2, 2, 2});
    gb_init(&g, "WS", 5, (int64_t[]){4, 4, 1, 1, 1}, eye);
    gb_node(&g, "Conv", "S", "x,WS", "s", NULL);
    gb_node(&g, "Relu", "R", "s", "r", NULL);
    int64_t off, n;
    if (slice) {
        gb_init_i64(&g, "ST", 1, (int64_t[]){2});
        gb_init_i64(&g, "EN", 1, (int64_t[]){4});
        gb_init_i64(&g, "AX", 1, (int64_t[]){1});
        gb_node(&g, "Slice", "SL", "r,ST,EN,AX", "part", NULL);
        off = 2, n = 2;
    } else {
        gb_init_i64(&g, "SPL", 2, (int64_t[]){1, 3});
        gb_node(&g, "Split", "SP", "r,SPL", "first,part", "axis=i:1", NULL);
        off = 1, n = 3;
    }
    gb_node(&g, "GlobalAveragePool", "GAP", "part", "gp", NULL);
    gb_node(&g, "Flatten", "FL", "gp", "fl", NULL);
    /* row 0: the part's last channel, row 1: its first */
    float wf[6] = {0};
    wf[n - 1] = 1, wf[n] = 1;
    gb_init(&g, "WF", 2, (int64_t[]){2, n}, wf);
    gb_node(&g, "Gemm", "FC", "fl,WF", "y", "transB=i:1", NULL);
    gb_output(&g, "y");
    char path[64];
    snprintf(path, sizeof path, "/tmp/cfp-arch-split-%d.onnx", (int)getpid());
    CHECK_EQ(gb_write(&g, path, 13), 0);
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    if (cfp_model_load(ctx, path, &m)) {
        cfp_test_fail_here(__FILE__, __LINE__, "load: %s", cfp_errmsg(ctx));
        unlink(path);
        cfp_ctx_free(ctx);
        return;
    }
    unlink(path);
    float data[32];
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 8; k++) data[c * 8 + k] = (float)(c + 1);
    cfp_tensor in = {.dtype = CFP_F32, .ndim = 5, .dims = {1, 4, 2, 2, 2}, .data = data, .nbytes = sizeof data};
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    for (int cls = 0; cls < 2; cls++) {
        cfp_pyramid_params pp;
        cfp_pyramid_params_default(&pp);
        pp.class_index = cls;
        cfp_pyramid *p = NULL;
        if (cfp_pyramid_build(m, &pp, &p)) {
            cfp_test_fail_here(__FILE__, __LINE__, "pyramid: %s", cfp_errmsg(ctx));
            continue;
        }
        int64_t want = (cls == 0 ? n - 1 : 0) + off;
        CHECK_EQ(cfp_pyramid_n_nodes(p), 2);
        CHECK_EQ(cfp_pyramid_n_edges(p), 1);
        const cfp_pyramid_node *k = cfp_pyramid_node_at(p, 1);
        CHECK(k && !strcmp(cfp_node_layer_name(k->layer), "S"));
        if (k) CHECK_EQ(k->channel, want);
        if (k) CHECK_NEAR(k->pooled_activation, (double)(want + 1), 1e-6);
        cfp_pyramid_free(p);
    }
    cfp_model_free(m);
    cfp_ctx_free(ctx);
}

TEST(architectures_split_channel_offset) { split_slice_case(0); }
TEST(architectures_slice_channel_offset) { split_slice_case(1); }
