/* Engine behaviour the method depends on: constant folding of exporters'
 * shape arithmetic, replanning for new input shapes, kept activations and
 * their per-channel means. */
#include "../src/cfp_internal.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cfp_model *load_fixture(cfp_ctx *ctx, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/model.onnx", cfp_test_root(), name);
    cfp_model *m = NULL;
    if (cfp_model_load(ctx, path, &m)) fprintf(stderr, "%s\n", cfp_errmsg(ctx));
    return m;
}

static cfp_tensor random_input(int ndim, const int64_t *dims, unsigned seed) {
    cfp_tensor t = {0};
    cfp_tensor_shape(&t, CFP_F32, ndim, dims);
    cfp_tensor_alloc(&t);
    float *x = t.data;
    for (int64_t i = 0; i < cfp_tensor_numel(&t); i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return t;
}

TEST(engine_folds_shape_subgraphs) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
    cfp_model *m = load_fixture(ctx, "dynamic_shapes");
    CHECK(m != NULL);
    if (!m) return;
    cfp_tensor in = random_input(5, (int64_t[]){2, 3, 6, 16, 16}, 7);
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    int shape_ops = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const char *op = m->nodes[i].op_type;
        if (!strcmp(op, "Shape") || !strcmp(op, "Gather") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Concat") ||
            !strcmp(op, "Constant")) {
            shape_ops++;
            if (!m->nodes[i].folded) cfp_test_fail_here(__FILE__, __LINE__, "node %s was not folded", m->nodes[i].name);
        }
        if (!strcmp(op, "Conv")) CHECK(!m->nodes[i].folded);
    }
    CHECK(shape_ops >= 12);
    CHECK_EQ(cfp_value_tensor(cfp_model_output(m, 0))->dims[0], 2);
    /* another batch and clip length: shapes are resolved again */
    cfp_tensor in2 = random_input(5, (int64_t[]){1, 3, 4, 16, 16}, 9);
    CHECK_EQ(cfp_model_run(m, 1, &in2), 0);
    const cfp_tensor *y = cfp_value_tensor(cfp_model_output(m, 0));
    CHECK_EQ(y->ndim, 2);
    CHECK_EQ(y->dims[0], 1);
    CHECK_EQ(y->dims[1], 5);
    /* softmax output sums to one */
    float s = 0;
    for (int c = 0; c < 5; c++) s += ((float *)y->data)[c];
    CHECK_NEAR(s, 1.0, 1e-5);
    cfp_tensor_free(&in);
    cfp_tensor_free(&in2);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
}

TEST(engine_keeps_activations_and_pooled_means) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
    cfp_model *m = load_fixture(ctx, "r3d_18_bn");
    CHECK(m != NULL);
    if (!m) return;
    cfp_tensor in = random_input(5, (int64_t[]){1, 3, 10, 28, 28}, 3);
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    int maps = 0;
    for (int i = 0; i < m->n_values; i++) {
        cfp_value *v = &m->values[i];
        if (v->is_init) continue;
        CHECK(v->t.data != NULL); /* every intermediate value is kept */
        if (v->t.dtype != CFP_F32 || v->t.ndim < 3) continue;
        int64_t nc;
        const float *p = cfp_value_pooled(v, &nc);
        CHECK(p != NULL);
        CHECK_EQ(nc, v->t.dims[1]);
        if (!p) continue;
        int64_t sp = cfp_tensor_numel(&v->t) / (v->t.dims[0] * v->t.dims[1]);
        for (int64_t c = 0; c < nc; c++) {
            double sum = 0;
            for (int64_t k = 0; k < sp; k++) sum += ((float *)v->t.data)[c * sp + k];
            CHECK_NEAR(p[c], sum / (double)sp, 1e-5 * (1 + fabs(sum / (double)sp)));
        }
        maps++;
    }
    CHECK(maps >= 60);
    /* the (1, C) vector entering the classifier is its own pooled value */
    cfp_node *fc = NULL;
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].op_type, "Gemm")) fc = &m->nodes[i];
    CHECK(fc != NULL);
    if (fc) {
        cfp_value *x = cfp_node_input(fc, 0);
        int64_t nc;
        const float *p = cfp_value_pooled(x, &nc);
        CHECK(p && nc == 32 && memcmp(p, x->t.data, 32 * sizeof(float)) == 0);
    }
    /* a second run over the same plan gives the same result */
    float first[10];
    memcpy(first, cfp_value_tensor(cfp_model_output(m, 0))->data, sizeof first);
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    CHECK(memcmp(first, cfp_value_tensor(cfp_model_output(m, 0))->data, sizeof first) == 0);
    cfp_tensor_free(&in);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
}

/* Every kept feature map's per-channel means, whichever way they were
 * computed (after the node, on the way out of a oneDNN conv, in one pass
 * with a Relu, copied from a Concat's inputs), against a plain sum. */
TEST(engine_pooled_means_every_path) {
    const char *fixtures[] = {"s3d_folded", "i3d_bn", "r3d_18_folded", "x3d_m_folded"};
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
    for (size_t f = 0; f < sizeof fixtures / sizeof *fixtures; f++) {
        cfp_model *m = load_fixture(ctx, fixtures[f]);
        CHECK(m != NULL);
        if (!m) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fixtures/%s/test_data_set_0/input_0.pb", cfp_test_root(), fixtures[f]);
        cfp_tensor in;
        char *name = NULL;
        CHECK_EQ(cfp_tensor_read_pb(ctx, path, &in, &name), 0);
        free(name);
        CHECK_EQ(cfp_model_run(m, 1, &in), 0);
        int checked = 0, bad = 0;
        for (int i = 0; i < m->n_values; i++) {
            cfp_value *v = &m->values[i];
            if (v->is_const || v->t.dtype != CFP_F32 || v->t.ndim < 3 || !v->t.data) continue;
            int64_t nc;
            const float *p = cfp_value_pooled(v, &nc);
            if (!p || nc != v->t.dims[1]) {
                cfp_test_fail_here(__FILE__, __LINE__, "%s: value %s has no means", fixtures[f], v->name);
                continue;
            }
            int64_t sp = cfp_tensor_numel(&v->t) / (v->t.dims[0] * nc);
            const float *d = cfp_value_tensor(v)->data; /* a lazy conv output is computed now */
            for (int64_t c = 0; c < nc; c++) {
                double sum = 0, mag = 0;
                for (int64_t k = 0; k < sp; k++) {
                    double x = d[c * sp + k];
                    sum += x, mag += fabs(x);
                }
                if (fabs(p[c] - sum / (double)sp) > 1e-5 * (1e-3 + mag / (double)sp) && bad++ < 3)
                    cfp_test_fail_here(__FILE__, __LINE__, "%s: %s channel %lld: mean %.9g, sum says %.9g", fixtures[f],
                                       v->name, (long long)c, p[c], sum / (double)sp);
            }
            checked++;
        }
        CHECK(checked >= 20);
        cfp_tensor_free(&in);
        cfp_model_free(m);
    }
    cfp_ctx_free(ctx);
}

/* oneDNN's convolutions in a model with BatchNorm folded (Conv -> Relu):
 * the Relu computed on the way out of the conv and the means of both; the
 * weights oneDNN took given back (their tap means kept) and read back from
 * the file whenever something asks for them: the public accessor, or a new
 * input shape that makes the primitives again. */
static void fused_and_released(cfp_ctx *ctx, const char *fx) {
    cfp_model *m = load_fixture(ctx, fx), *ref = load_fixture(ctx, fx);
    CHECK(m != NULL && ref != NULL);
    if (!m || !ref) return;
    cfp_tensor in = random_input(5, (int64_t[]){1, 3, 10, 28, 28}, 5);
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    float first[10];
    memcpy(first, cfp_value_tensor(cfp_model_output(m, 0))->data, sizeof first);
    int relus = 0, released = 0, dropped = 0, lazy = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        if (!strcmp(n->op_type, "Relu")) {
            cfp_value *x = cfp_in(m, n, 0), *y = cfp_out(m, n, 0);
            int64_t nc, sp = cfp_tensor_numel(&y->t) / (y->t.dims[0] * y->t.dims[1]);
            lazy += x->lazy; /* the conv's own output, computed when asked for */
            const float *p = cfp_value_pooled(y, &nc), *xd = cfp_value_tensor(x)->data, *yd = y->t.data;
            CHECK(!x->lazy);
            CHECK(p != NULL && nc == y->t.dims[1]);
            for (int64_t k = 0; k < cfp_tensor_numel(&y->t); k++)
                if (yd[k] != (xd[k] > 0 ? xd[k] : 0.0f)) {
                    cfp_test_fail_here(__FILE__, __LINE__, "%s: element %lld is not max(x, 0)", n->name, (long long)k);
                    break;
                }
            for (int64_t c = 0; p && c < nc; c++) {
                double sum = 0;
                for (int64_t k = 0; k < sp; k++) sum += yd[c * sp + k];
                CHECK_NEAR(p[c], sum / (double)sp, 1e-5 * (1 + fabs(sum / (double)sp)));
            }
            relus++;
        }
        if (strcmp(n->op_type, "Conv")) continue;
        cfp_value *w = cfp_in(m, n, 1), *w0 = cfp_in(ref, &ref->nodes[i], 1);
        if (!w->tap_means) continue;
        released++;
        dropped += w->dropped;
        int64_t taps = cfp_tensor_numel(&w->t) / (w->t.dims[0] * w->t.dims[1]);
        float *tm = malloc((size_t)w->n_tap_means * sizeof *tm);
        cfp_tap_means(w0->t.data, w->n_tap_means, taps, tm);
        CHECK(w->n_tap_means == w->t.dims[0] * w->t.dims[1]);
        CHECK(memcmp(tm, w->tap_means, (size_t)w->n_tap_means * sizeof *tm) == 0);
        free(tm);
    }
    CHECK(relus >= 10);
    const char *e = getenv("CFP_CONV");
    if (!e || strcmp(e, "gemm")) CHECK(released >= 10 && lazy >= 5); /* oneDNN took most of the convs */
    if (getenv("CFP_TEST_VERBOSE")) printf("%d Relu, %d weights released (%d copies dropped), %d conv outputs lazy\n", relus, released, dropped, lazy);
    /* a new plan (the fixture's input shape is fixed; a released plan is
     * made again, shapes and all): the primitives are made again from the
     * weights; then, not keeping values, once more */
    cfp_model_release_plan(m);
    if (cfp_model_run(m, 1, &in)) cfp_test_fail_here(__FILE__, __LINE__, "%s", cfp_errmsg(ctx));
    CHECK(memcmp(first, cfp_value_tensor(cfp_model_output(m, 0))->data, sizeof first) == 0);
    cfp_model_set_keep(m, 0);
    if (cfp_model_run(m, 1, &in)) cfp_test_fail_here(__FILE__, __LINE__, "%s", cfp_errmsg(ctx));
    CHECK(memcmp(first, cfp_value_tensor(cfp_model_output(m, 0))->data, sizeof first) == 0);
    cfp_model_set_keep(m, 1);
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    CHECK(memcmp(first, cfp_value_tensor(cfp_model_output(m, 0))->data, sizeof first) == 0);
    /* and every weight reads as in the file */
    for (int i = 0; i < m->n_nodes; i++) {
        if (strcmp(m->nodes[i].op_type, "Conv")) continue;
        const cfp_tensor *a = cfp_value_tensor(cfp_in(m, &m->nodes[i], 1)), *b = cfp_value_tensor(cfp_in(ref, &ref->nodes[i], 1));
        CHECK(a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0);
    }
    cfp_tensor_free(&in);
    cfp_model_free(m);
    cfp_model_free(ref);
}

/* A conv output left lazy (its Relu fused in) and computed when a map asks:
 * every pyramid node's own map of the BN-folded model equals the output of
 * the matching BatchNormalization in the model that keeps it (the k-th Conv
 * of one is the k-th BN of the other), which no fusion touches. */
static void lazy_maps(cfp_ctx *ctx, const char *folded, const char *bn) {
    cfp_model *m = load_fixture(ctx, folded), *r = load_fixture(ctx, bn);
    CHECK(m != NULL && r != NULL);
    if (!m || !r) return;
    cfp_tensor in = random_input(5, (int64_t[]){1, 3, 10, 28, 28}, 11);
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    CHECK_EQ(cfp_model_run(r, 1, &in), 0);
    int lazy = 0, checked = 0;
    for (int i = 0; i < m->n_nodes; i++) lazy += m->values[m->nodes[i].out[0]].lazy;
    cfp_pyramid_params pp;
    cfp_pyramid_params_default(&pp);
    pp.depth = 4;
    cfp_pyramid *p = NULL;
    CHECK_EQ(cfp_pyramid_build(m, &pp, &p), 0);
    for (int k = 0; p && k < cfp_pyramid_n_nodes(p); k++) {
        const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, k);
        if (strcmp(nd->layer->op_type, "Conv")) continue;
        int ci = 0, bi = 0; /* the layer's rank among the convs, and that BN */
        for (int i = 0; i < nd->layer->index; i++) ci += !strcmp(m->nodes[i].op_type, "Conv");
        const cfp_value *b = NULL;
        for (int i = 0; i < r->n_nodes && !b; i++)
            if (!strcmp(r->nodes[i].op_type, "BatchNormalization") && bi++ == ci) b = &r->values[r->nodes[i].out[0]];
        cfp_volume v;
        CHECK_EQ(cfp_map_own(p, k, &v), 0);
        CHECK(b != NULL && v.data != NULL);
        if (!b || !v.data) continue;
        int64_t S = v.dims[0] * v.dims[1] * v.dims[2];
        CHECK_EQ(S * b->t.dims[1], cfp_tensor_numel(&b->t));
        const float *want = (const float *)b->t.data + nd->channel * S;
        double err = 0, mag = 1e-3;
        for (int64_t q = 0; q < S && S * b->t.dims[1] == cfp_tensor_numel(&b->t); q++) {
            err = fmax(err, fabs(v.data[q] - want[q]));
            mag = fmax(mag, fabs(want[q]));
        }
        if (!(err <= 1e-4 * mag))
            cfp_test_fail_here(__FILE__, __LINE__, "%s: own map of %s:%lld differs from the BN model's by %g (of %g)",
                               folded, nd->layer->name, (long long)nd->channel, err, mag);
        checked++;
        cfp_volume_free(&v);
    }
    const char *e = getenv("CFP_CONV");
    if (!e || strcmp(e, "gemm")) CHECK(lazy >= 5);
    CHECK(checked >= 5);
    if (getenv("CFP_TEST_VERBOSE")) printf("%s: %d conv outputs lazy, %d own maps checked\n", folded, lazy, checked);
    cfp_pyramid_free(p);
    cfp_tensor_free(&in);
    cfp_model_free(m);
    cfp_model_free(r);
}

TEST(engine_lazy_conv_outputs_in_maps) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
    lazy_maps(ctx, "r3d_18_folded", "r3d_18_bn");
    lazy_maps(ctx, "r2plus1d_18_folded", "r2plus1d_18_bn");
    cfp_ctx_free(ctx);
}

TEST(engine_onednn_fused_relu_and_released_weights) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
    fused_and_released(ctx, "r3d_18_folded");
    fused_and_released(ctx, "r2plus1d_18_folded"); /* (2+1)D: oneDNN spatial convs, temporal ones on the GEMM path */
    cfp_model *m, *ref;
    const char *e = getenv("CFP_CONV");
    /* a model with dynamic shapes: a new clip length makes the primitives
     * again, from weights read back from the file */
    m = load_fixture(ctx, "dynamic_shapes"), ref = load_fixture(ctx, "dynamic_shapes");
    CHECK(m != NULL && ref != NULL);
    if (!m || !ref) return;
    cfp_tensor a = random_input(5, (int64_t[]){1, 3, 6, 16, 16}, 7), b = random_input(5, (int64_t[]){1, 3, 4, 16, 16}, 8);
    CHECK_EQ(cfp_model_run(ref, 1, &a), 0);
    CHECK_EQ(cfp_model_run(m, 1, &a), 0);
    int dropped_dyn = 0;
    for (int i = 0; i < m->n_values; i++) dropped_dyn += m->values[i].dropped;
    CHECK_EQ(cfp_model_run(m, 1, &b), 0);
    CHECK_EQ(cfp_model_run(m, 1, &a), 0);
    const cfp_tensor *ya = cfp_value_tensor(cfp_model_output(m, 0)), *yr = cfp_value_tensor(cfp_model_output(ref, 0));
    CHECK(ya->nbytes == yr->nbytes && memcmp(ya->data, yr->data, ya->nbytes) == 0);
    if (!e || strcmp(e, "gemm")) CHECK(dropped_dyn >= 1); /* the path above was taken */
    cfp_tensor_free(&a);
    cfp_tensor_free(&b);
    cfp_model_free(m);
    cfp_model_free(ref);
    cfp_ctx_free(ctx);
}

/* cfp_model_set_keep(m, 0): values share memory by liveness (the plan is
 * smaller) and the outputs are those of a run that keeps everything; back
 * to keeping, every value and mean is there again. With CFP_POISON=1 a
 * buffer handed out while still needed would show as NaN. */
TEST(engine_no_keep_shares_memory_same_outputs) {
    const char *fixtures[] = {"r3d_18_bn", "s3d_folded", "i3d_folded", "x3d_m_folded", "dynamic_shapes"};
    for (size_t f = 0; f < sizeof fixtures / sizeof *fixtures; f++) {
        cfp_ctx *ctx;
        CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
        cfp_model *m = load_fixture(ctx, fixtures[f]);
        CHECK(m != NULL);
        if (!m) {
            cfp_ctx_free(ctx);
            continue;
        }
        const cfp_value *iv = cfp_model_input(m, 0);
        int64_t dims[CFP_MAX_DIMS];
        int nd = cfp_value_declared(iv, NULL, dims, NULL);
        for (int i = 0; i < nd; i++)
            if (dims[i] < 0) dims[i] = i == 0 ? 1 : 8;
        cfp_tensor in = random_input(nd, dims, 11);
        CHECK_EQ(cfp_model_run(m, 1, &in), 0);
        const cfp_tensor *y = cfp_value_tensor(cfp_model_output(m, 0));
        int64_t n = cfp_tensor_numel(y);
        float *want = malloc((size_t)n * sizeof(float));
        memcpy(want, y->data, (size_t)n * sizeof(float));
        uint64_t kept = cfp_model_activation_bytes(m);

        cfp_model_set_keep(m, 0);
        CHECK_EQ(cfp_model_run(m, 1, &in), 0);
        CHECK(cfp_model_activation_bytes(m) < kept);
        y = cfp_value_tensor(cfp_model_output(m, 0));
        for (int64_t i = 0; i < n; i++)
            if (!(fabs(((float *)y->data)[i] - want[i]) <= 1e-5 * (1 + fabs(want[i])))) {
                cfp_test_fail_here(__FILE__, __LINE__, "%s: output %lld: %g with --no-keep, %g kept", fixtures[f],
                                   (long long)i, ((float *)y->data)[i], want[i]);
                break;
            }

        cfp_pyramid_params pp;
        cfp_pyramid_params_default(&pp);
        cfp_pyramid *pyr = NULL;
        if (strcmp(fixtures[f], "dynamic_shapes")) /* nothing to explain without kept values */
            CHECK_EQ(cfp_pyramid_build(m, &pp, &pyr), CFP_E_ARG);

        cfp_model_set_keep(m, 1);
        CHECK_EQ(cfp_model_run(m, 1, &in), 0);
        CHECK_EQ(cfp_model_activation_bytes(m), kept);
        int64_t nc;
        for (int i = 0; i < m->n_values; i++) {
            cfp_value *v = &m->values[i];
            if (v->is_init || v->t.dtype != CFP_F32 || v->t.ndim < 3) continue;
            CHECK(cfp_value_pooled(v, &nc) != NULL);
        }
        free(want);
        cfp_tensor_free(&in);
        cfp_model_free(m);
        cfp_ctx_free(ctx);
    }
}
