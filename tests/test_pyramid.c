/* Class Feature Pyramids on small hand-made graphs whose answers are worked
 * out here, in the comments, from spec §2–§3 and docs/method.md.
 *
 * Every graph starts with the same stem: input x (1,4,2,2,2) whose channel c
 * holds the constant x[c] everywhere, then S = Conv(x, identity 4×4 1x1x1)
 * and r = Relu(S). So the pooled activation of channel c of r is x[c]. */
#include "../src/cfp_internal.h"
#include "pbwrite.h"
#include "test.h"

#include <unistd.h>

static const int64_t X_DIMS[5] = {1, 4, 2, 2, 2};

static void stem(gbuild *g) {
    float eye[16] = {0};
    for (int i = 0; i < 4; i++) eye[i * 4 + i] = 1;
    gb_input(g, "x", 5, X_DIMS);
    gb_init(g, "WS", 5, (int64_t[]){4, 4, 1, 1, 1}, eye);
    gb_node(g, "Conv", "S", "x,WS", "s", NULL);
    gb_node(g, "Relu", "R", "s", "r", NULL);
}

/* GAP → Flatten → Gemm(transB) with weight rows `wf` (n_cls × c) */
static void head(gbuild *g, const char *from, int c, int n_cls, const float *wf) {
    gb_node(g, "GlobalAveragePool", "GAP", from, "gp", NULL);
    gb_node(g, "Flatten", "FL", "gp", "fl", NULL);
    gb_init(g, "WF", 2, (int64_t[]){n_cls, c}, wf);
    gb_node(g, "Gemm", "FC", "fl,WF", "y", "transB=i:1", NULL);
    gb_output(g, "y");
}

typedef struct {
    cfp_ctx *ctx;
    cfp_model *m;
    cfp_pyramid *p;
} built;

static built build(gbuild *g, const float x[4], double theta, int depth, int cls) {
    built b = {0};
    char path[64];
    snprintf(path, sizeof path, "/tmp/cfp-pyr-%d.onnx", (int)getpid());
    CHECK_EQ(gb_write(g, path, 13), 0);
    CHECK_EQ(cfp_ctx_new(&b.ctx, 1), 0);
    if (cfp_model_load(b.ctx, path, &b.m)) {
        cfp_test_fail_here(__FILE__, __LINE__, "load: %s", cfp_errmsg(b.ctx));
        return b;
    }
    unlink(path);
    float data[32];
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 8; k++) data[c * 8 + k] = x[c];
    cfp_tensor in = {.dtype = CFP_F32, .ndim = 5, .dims = {1, 4, 2, 2, 2}, .data = data, .nbytes = sizeof data};
    if (cfp_model_run(b.m, 1, &in)) {
        cfp_test_fail_here(__FILE__, __LINE__, "run: %s", cfp_errmsg(b.ctx));
        return b;
    }
    cfp_pyramid_params pp;
    cfp_pyramid_params_default(&pp);
    pp.theta = theta;
    pp.depth = depth;
    pp.class_index = cls;
    if (cfp_pyramid_build(b.m, &pp, &b.p)) cfp_test_fail_here(__FILE__, __LINE__, "pyramid: %s", cfp_errmsg(b.ctx));
    return b;
}

static void done(built *b) {
    cfp_pyramid_free(b->p);
    cfp_model_free(b->m);
    cfp_ctx_free(b->ctx);
}

/* level of kernel (layer, channel), or -1 */
static int level_of(const built *b, const char *layer, int64_t ch) {
    if (!b->p) return -2;
    for (int i = 0; i < cfp_pyramid_n_nodes(b->p); i++) {
        const cfp_pyramid_node *n = cfp_pyramid_node_at(b->p, i);
        if (!strcmp(cfp_node_layer_name(n->layer), layer) && n->channel == ch) return n->level;
    }
    return -1;
}

static int count_layer(const built *b, const char *layer) {
    int k = 0;
    for (int i = 0; b->p && i < cfp_pyramid_n_nodes(b->p); i++)
        k += !strcmp(cfp_node_layer_name(cfp_pyramid_node_at(b->p, i)->layer), layer);
    return k;
}

static const cfp_pyramid_edge *edge(const built *b, const char *pl, int64_t pc, const char *cl, int64_t cc) {
    for (int i = 0; b->p && i < cfp_pyramid_n_edges(b->p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(b->p, i);
        const cfp_pyramid_node *p = cfp_pyramid_node_at(b->p, e->parent), *c = cfp_pyramid_node_at(b->p, e->child);
        if (!strcmp(cfp_node_layer_name(p->layer), pl) && p->channel == pc && !strcmp(cfp_node_layer_name(c->layer), cl) &&
            c->channel == cc)
            return e;
    }
    return NULL;
}

/* G = Conv(r, group 2, 4→2, all-ones weights): g0 = x0 + x1, g1 = x2 + x3.
 * x = 1,2,3,4 → logits (identity FC) 3, 7 → class 1.
 * (FC,1): v = [0·3, 1·7] → child channel 1 → (G,1).
 * (G,1): group 1 holds input channels 2,3: v = [3, 4] → v̂ = [0, 1]:
 *   θ = 0.6 → channel 3 only; θ = 0 → channels 2 and 3; never 0 or 1.
 * At θ = 0 (FC,1) also takes (G,0) (v̂ = 0), whose children are 0 and 1. */
TEST(pyramid_grouped_children_stay_in_group) {
    for (int t = 0; t < 2; t++) {
        gbuild g = {0};
        stem(&g);
        float wg[4] = {1, 1, 1, 1};
        gb_init(&g, "WG", 5, (int64_t[]){2, 2, 1, 1, 1}, wg);
        gb_node(&g, "Conv", "G", "r,WG", "g", "group=i:2", NULL);
        head(&g, "g", 2, 2, (float[]){1, 0, 0, 1});
        built b = build(&g, (float[]){1, 2, 3, 4}, t ? 0.0 : 0.6, 3, -1);
        CHECK_EQ(cfp_pyramid_class(b.p), 1);
        CHECK_EQ(level_of(&b, "FC", 1), 0);
        CHECK_EQ(level_of(&b, "G", 1), 1);
        CHECK_EQ(level_of(&b, "G", 0), t ? 1 : -1);
        CHECK_EQ(level_of(&b, "S", 3), 2);
        CHECK_EQ(level_of(&b, "S", 2), t ? 2 : -1);
        CHECK(edge(&b, "G", 1, "S", 0) == NULL && edge(&b, "G", 1, "S", 1) == NULL);
        CHECK((edge(&b, "G", 1, "S", 2) != NULL) == t);
        if (t) CHECK(edge(&b, "G", 0, "S", 0) && edge(&b, "G", 0, "S", 1) && !edge(&b, "G", 0, "S", 2) &&
                     !edge(&b, "G", 0, "S", 3));
        else CHECK(level_of(&b, "S", 0) == -1 && level_of(&b, "S", 1) == -1);
        const cfp_pyramid_edge *e = edge(&b, "G", 1, "S", 3);
        CHECK(e && e->score == 1.0 && e->contribution == 4.0 && e->via_channel == 3);
        done(&b);
    }
}

/* D = depth-wise Conv(r, group 4, weights 1): d = x. FC row 0 = all ones,
 * row 1 = e0. x = 1,2,3,0 → logits 6, 1 → class 0.
 * θ = 0: (FC,0) v = [1,2,3,0] → v̂ = [1/3, 2/3, 1, 0] → all four (D,c).
 * Each (D,c) is degenerate (one input): child (S,c) with score 1 when v ≠ 0;
 * (D,3) has v = 0, so no child: channel 3 is dead. */
TEST(pyramid_depthwise_links_own_channel) {
    gbuild g = {0};
    stem(&g);
    gb_init(&g, "WD", 5, (int64_t[]){4, 1, 1, 1, 1}, (float[]){1, 1, 1, 1});
    gb_node(&g, "Conv", "D", "r,WD", "d", "group=i:4", NULL);
    head(&g, "d", 4, 2, (float[]){1, 1, 1, 1, 1, 0, 0, 0});
    built b = build(&g, (float[]){1, 2, 3, 0}, 0.0, 3, -1);
    CHECK_EQ(cfp_pyramid_class(b.p), 0);
    for (int c = 0; c < 4; c++) CHECK_EQ(level_of(&b, "D", c), 1);
    for (int c = 0; c < 3; c++) {
        const cfp_pyramid_edge *e = edge(&b, "D", c, "S", c);
        CHECK(e && e->score == 1.0);
        for (int o = 0; o < 4; o++)
            if (o != c) CHECK(edge(&b, "D", c, "S", o) == NULL);
    }
    CHECK_EQ(level_of(&b, "S", 3), -1);
    done(&b);
}

/* Residual: a = Conv(r, identity), y = FC(GAP(a + r)). FC rows e3, e2:
 * logits 8, 6 → class 0 → child channel 3 of the sum, which reaches
 * (A,3) through the branch and (S,3) through the identity shortcut: both at
 * level 1. (A,3) then links to (S,3) again (an edge within the DAG). */
TEST(pyramid_residual_add_reaches_both_branches) {
    gbuild g = {0};
    stem(&g);
    float eye[16] = {0};
    for (int i = 0; i < 4; i++) eye[i * 4 + i] = 1;
    gb_init(&g, "WA", 5, (int64_t[]){4, 4, 1, 1, 1}, eye);
    gb_node(&g, "Conv", "A", "r,WA", "a", NULL);
    gb_node(&g, "Add", "ADD", "a,r", "sum", NULL);
    head(&g, "sum", 4, 2, (float[]){0, 0, 0, 1, 0, 0, 1, 0});
    built b = build(&g, (float[]){1, 2, 3, 4}, 0.6, 3, -1);
    CHECK_EQ(cfp_pyramid_class(b.p), 0);
    CHECK_EQ(level_of(&b, "A", 3), 1);
    CHECK_EQ(level_of(&b, "S", 3), 1);
    CHECK(edge(&b, "FC", 0, "A", 3) != NULL);
    CHECK(edge(&b, "FC", 0, "S", 3) != NULL);
    CHECK(edge(&b, "A", 3, "S", 3) != NULL);
    CHECK_EQ(cfp_pyramid_n_nodes(b.p), 3);
    /* S has two parents: its number of connections */
    for (int i = 0; i < cfp_pyramid_n_nodes(b.p); i++) {
        const cfp_pyramid_node *n = cfp_pyramid_node_at(b.p, i);
        if (!strcmp(cfp_node_layer_name(n->layer), "S")) CHECK_EQ(n->n_parents, 2);
    }
    done(&b);
}

/* Concat: S1 (2 channels: x0, x1) and S2 (3 channels: x1, x2, x3) straight
 * from x, concatenated: channels x0 x1 | x1 x2 x3. FC rows e3, e4 (of 5):
 * logits 3, 4 → class 1 → concat channel 4 = S2 channel 2. Class 0 →
 * concat channel 3 = S2 channel 1. S1 never appears. */
TEST(pyramid_concat_offsets) {
    for (int cls = 0; cls < 2; cls++) {
        gbuild g = {0};
        gb_input(&g, "x", 5, X_DIMS);
        float w1[8] = {1, 0, 0, 0, 0, 1, 0, 0}, w2[12] = {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
        gb_init(&g, "W1", 5, (int64_t[]){2, 4, 1, 1, 1}, w1);
        gb_init(&g, "W2", 5, (int64_t[]){3, 4, 1, 1, 1}, w2);
        gb_node(&g, "Conv", "S1", "x,W1", "s1", NULL);
        gb_node(&g, "Conv", "S2", "x,W2", "s2", NULL);
        gb_node(&g, "Concat", "CAT", "s1,s2", "cat", "axis=i:1", NULL);
        head(&g, "cat", 5, 2, (float[]){0, 0, 0, 1, 0, 0, 0, 0, 0, 1});
        built b = build(&g, (float[]){1, 2, 3, 4}, 0.6, 3, cls);
        CHECK_EQ(level_of(&b, "S2", cls ? 2 : 1), 1);
        CHECK_EQ(count_layer(&b, "S1"), 0);
        CHECK_EQ(cfp_pyramid_n_nodes(b.p), 2);
        done(&b);
    }
}

/* Squeeze-excitation: m = a · sigmoid(Conv_gate(GAP(r))). The gate input is
 * broadcast (1,4,1,1,1), so only a = Conv(r, identity) is followed; the gate
 * conv never appears, at any depth. */
TEST(pyramid_mul_gate_not_followed) {
    gbuild g = {0};
    stem(&g);
    float eye[16] = {0};
    for (int i = 0; i < 4; i++) eye[i * 4 + i] = 1;
    gb_init(&g, "WA", 5, (int64_t[]){4, 4, 1, 1, 1}, eye);
    gb_init(&g, "WG", 5, (int64_t[]){4, 4, 1, 1, 1}, eye);
    gb_node(&g, "Conv", "A", "r,WA", "a", NULL);
    gb_node(&g, "GlobalAveragePool", "SQ", "r", "sq", NULL);
    gb_node(&g, "Conv", "GATE", "sq,WG", "gc", NULL);
    gb_node(&g, "Sigmoid", "SIG", "gc", "gs", NULL);
    gb_node(&g, "Mul", "MUL", "a,gs", "mul", NULL);
    head(&g, "mul", 4, 2, (float[]){0, 0, 0, 1, 1, 0, 0, 0});
    built b = build(&g, (float[]){1, 2, 3, 4}, 0.0, 10, -1);
    CHECK_EQ(cfp_pyramid_class(b.p), 0);
    CHECK_EQ(level_of(&b, "A", 3), 1);
    CHECK_EQ(count_layer(&b, "GATE"), 0);
    CHECK_EQ(cfp_pyramid_n_warnings(b.p), 0);
    done(&b);
}

/* x = 2,2,2,2 and FC row 0 all ones: v = [2,2,2,2] is constant, not zero →
 * every channel is a child with score 1. With x = 0 the same kernel has
 * v = 0 → no child. */
TEST(pyramid_constant_contributions) {
    for (int zero = 0; zero < 2; zero++) {
        gbuild g = {0};
        stem(&g);
        head(&g, "r", 4, 2, (float[]){1, 1, 1, 1, 0, 0, 0, 0});
        built b = build(&g, zero ? (float[]){0, 0, 0, 0} : (float[]){2, 2, 2, 2}, 0.6, 3, 0);
        for (int c = 0; c < 4; c++) {
            const cfp_pyramid_edge *e = edge(&b, "FC", 0, "S", c);
            if (zero) CHECK(e == NULL);
            else CHECK(e && e->score == 1.0 && e->contribution == 2.0);
        }
        CHECK_EQ(cfp_pyramid_n_nodes(b.p), zero ? 1 : 5);
        done(&b);
    }
}

/* BatchNorm with a negative scale after a conv must give the pyramid of the
 * same model with the BN folded into the conv.
 * C = Conv(r, W), W row 0 = [1, 2.5, 0, 0]: v = [1, 5, 0, 0] → without BN
 * the child would be channel 1 alone. BN scale[0] = -1 (var 1): v becomes
 * −[1, 5, 0, 0]/sqrt(1+ε) → v̂ = [0.8, 0, 1, 1] → children 0, 2, 3.
 * Folded: W' = W · (−1/sqrt(1+ε)) gives the same v directly. FC row 0 =
 * [−1, 0] makes class 0 (logit 6) and (FC,0) → (C,0). */
TEST(pyramid_batchnorm_negative_scale_matches_folded) {
    const float eps = 1e-5f;
    for (int folded = 0; folded < 2; folded++) {
        gbuild g = {0};
        stem(&g);
        float k = folded ? -1.0f / sqrtf(1 + eps) : 1.0f;
        float wc[8] = {1 * k, 2.5f * k, 0, 0, 0, 0, 0, 1};
        gb_init(&g, "WC", 5, (int64_t[]){2, 4, 1, 1, 1}, wc);
        gb_node(&g, "Conv", "C", "r,WC", "c", NULL);
        const char *feat = "c";
        if (!folded) {
            gb_init(&g, "BS", 1, (int64_t[]){2}, (float[]){-1, 1});
            gb_init(&g, "BB", 1, (int64_t[]){2}, (float[]){0, 0});
            gb_init(&g, "BM", 1, (int64_t[]){2}, (float[]){0, 0});
            gb_init(&g, "BV", 1, (int64_t[]){2}, (float[]){1, 1});
            gb_node(&g, "BatchNormalization", "BN", "c,BS,BB,BM,BV", "bn", "epsilon=f:1e-5", NULL);
            feat = "bn";
        }
        head(&g, feat, 2, 2, (float[]){-1, 0, 0, 0});
        built b = build(&g, (float[]){1, 2, 3, 4}, 0.6, 3, -1);
        CHECK_EQ(cfp_pyramid_class(b.p), 0);
        CHECK_EQ(level_of(&b, "C", 0), 1);
        CHECK_EQ(level_of(&b, "S", 0), 2);
        CHECK_EQ(level_of(&b, "S", 1), -1);
        CHECK_EQ(level_of(&b, "S", 2), 2);
        CHECK_EQ(level_of(&b, "S", 3), 2);
        const cfp_pyramid_edge *e = edge(&b, "C", 0, "S", 0);
        CHECK(e != NULL);
        if (e) CHECK_NEAR(e->score, 0.8, 1e-6);
        done(&b);
    }
}

/* PyTorchVideo head: Transpose(0,2,3,4,1) → MatMul(B) → ReduceMean over
 * T,H,W. B's columns: e3, e0, e1 → logits 4, 1, 2 → class 0. The class node
 * is the MatMul; its back-step pools its input over T,H,W with channels
 * last: v = [0,0,0,4] → channel 3 → through the Transpose to channel 3 of
 * r, axis 1 → (S,3). */
TEST(pyramid_transpose_matmul_head) {
    gbuild g = {0};
    stem(&g);
    gb_node(&g, "Transpose", "TR", "r", "t", "perm=ints:0,2,3,4,1", NULL);
    float bm[12] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0}; /* (4,3) row-major */
    gb_init(&g, "B", 2, (int64_t[]){4, 3}, bm);
    gb_node(&g, "MatMul", "MM", "t,B", "mm", NULL);
    gb_node(&g, "ReduceMean", "RM", "mm", "y", "axes=ints:1,2,3", "keepdims=i:0", NULL);
    gb_output(&g, "y");
    built b = build(&g, (float[]){1, 2, 3, 4}, 0.6, 3, -1);
    CHECK_EQ(cfp_pyramid_class(b.p), 0);
    CHECK_EQ(level_of(&b, "MM", 0), 0);
    CHECK_EQ(level_of(&b, "S", 3), 1);
    CHECK_EQ(cfp_pyramid_n_nodes(b.p), 2);
    const cfp_pyramid_edge *e = edge(&b, "MM", 0, "S", 3);
    CHECK(e && e->contribution == 4.0);
    done(&b);
}

/* A Reshape that merges the channel axis with the spatial axes (1,4,2,2,2)
 * → (1,32) leaves no channel to follow: the walk stops there with a warning
 * that names the node, and the pyramid is the class node alone. */
TEST(pyramid_reshape_merging_channels_stops_with_warning) {
    gbuild g = {0};
    stem(&g);
    gb_init_i64(&g, "SHP", 2, (int64_t[]){1, 32});
    gb_node(&g, "Reshape", "MERGE", "r,SHP", "rs", NULL);
    float wf[64];
    for (int i = 0; i < 64; i++) wf[i] = (float)(i % 7) - 3;
    gb_init(&g, "WF", 2, (int64_t[]){2, 32}, wf);
    gb_node(&g, "Gemm", "FC", "rs,WF", "y", "transB=i:1", NULL);
    gb_output(&g, "y");
    built b = build(&g, (float[]){1, 2, 3, 4}, 0.6, 3, -1);
    CHECK_EQ(cfp_pyramid_n_nodes(b.p), 1);
    CHECK(cfp_pyramid_n_warnings(b.p) >= 1);
    if (b.p && cfp_pyramid_n_warnings(b.p)) CHECK(strstr(cfp_pyramid_warning(b.p, 0), "node 'MERGE' (Reshape)") != NULL);
    done(&b);
}

/* --max-children keeps the best K; equal scores go to the lower channel.
 * FC row 0 = all ones, x = 4,4,1,4: v = [4,4,1,4], v̂ = [1,1,0,1]; K = 2 →
 * channels 0 and 1 (not 3). */
TEST(pyramid_max_children_ties_to_lower_channel) {
    gbuild g = {0};
    stem(&g);
    head(&g, "r", 4, 2, (float[]){1, 1, 1, 1, 0, 0, 0, 0});
    char path[64];
    snprintf(path, sizeof path, "/tmp/cfp-pyr-k-%d.onnx", (int)getpid());
    CHECK_EQ(gb_write(&g, path, 13), 0);
    cfp_ctx *ctx;
    cfp_model *m;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    CHECK_EQ(cfp_model_load(ctx, path, &m), 0);
    unlink(path);
    float data[32];
    const float x[4] = {4, 4, 1, 4};
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 8; k++) data[c * 8 + k] = x[c];
    cfp_tensor in = {.dtype = CFP_F32, .ndim = 5, .dims = {1, 4, 2, 2, 2}, .data = data, .nbytes = sizeof data};
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    cfp_pyramid_params pp;
    cfp_pyramid_params_default(&pp);
    pp.max_children = 2;
    pp.class_index = 0;
    built b = {ctx, m, NULL};
    CHECK_EQ(cfp_pyramid_build(m, &pp, &b.p), 0);
    CHECK(edge(&b, "FC", 0, "S", 0) && edge(&b, "FC", 0, "S", 1));
    CHECK(edge(&b, "FC", 0, "S", 3) == NULL);
    CHECK_EQ(cfp_pyramid_n_edges(b.p), 2);
    done(&b);
}

/* Maps (spec §5) on the grouped graph of pyramid_grouped_children_stay_in_group
 * at θ = 0.6, where every channel is constant over (2,2,2):
 * - kernel-wise map of (G,1): mean of its children {r channel 3} = 4;
 * - own map of (G,1): channel 1 of g = x2 + x3 = 7;
 * - kernel-wise map of the class node: its child is g channel 1, traced back
 *   through Flatten and GAP to the feature map g: 7;
 * - Saliency Tubes: Σ_c w_fc[1, c] · g[c] = 0·3 + 1·7 = 7;
 * - layer-wise map of S at level 2: (S,3) has one parent: 1 × S[3] = 4. */
TEST(pyramid_maps_on_grouped_graph) {
    gbuild g = {0};
    stem(&g);
    gb_init(&g, "WG", 5, (int64_t[]){2, 2, 1, 1, 1}, (float[]){1, 1, 1, 1});
    gb_node(&g, "Conv", "G", "r,WG", "g", "group=i:2", NULL);
    head(&g, "g", 2, 2, (float[]){1, 0, 0, 1});
    built b = build(&g, (float[]){1, 2, 3, 4}, 0.6, 3, -1);
    int gnode = -1, snode = -1, cnode = -1;
    for (int i = 0; b.p && i < cfp_pyramid_n_nodes(b.p); i++) {
        const cfp_pyramid_node *n = cfp_pyramid_node_at(b.p, i);
        const char *l = cfp_node_layer_name(n->layer);
        if (!strcmp(l, "G")) gnode = i;
        if (!strcmp(l, "S")) snode = i;
        if (!strcmp(l, "FC")) cnode = i;
    }
    CHECK(gnode >= 0 && snode >= 0 && cnode >= 0);
    if (gnode < 0 || snode < 0 || cnode < 0) return;
    cfp_volume v;
    struct {
        int (*fn)(cfp_pyramid *, int, cfp_volume *);
        int node;
        float want;
    } cases[] = {{cfp_map_kernelwise, gnode, 4}, {cfp_map_own, gnode, 7}, {cfp_map_kernelwise, cnode, 7}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        CHECK_EQ(cases[k].fn(b.p, cases[k].node, &v), 0);
        CHECK(v.dims[0] == 2 && v.dims[1] == 2 && v.dims[2] == 2);
        for (int i = 0; v.data && i < 8; i++) CHECK_NEAR(v.data[i], cases[k].want, 1e-6);
        cfp_volume_free(&v);
    }
    CHECK_EQ(cfp_map_saliency_tubes(b.p, &v), 0);
    for (int i = 0; v.data && i < 8; i++) CHECK_NEAR(v.data[i], 7, 1e-6);
    cfp_volume_free(&v);
    CHECK_EQ(cfp_map_layerwise(b.p, cfp_pyramid_node_at(b.p, snode)->layer, 2, &v), 0);
    for (int i = 0; v.data && i < 8; i++) CHECK_NEAR(v.data[i], 4, 1e-6);
    cfp_volume_free(&v);
    done(&b);
}
