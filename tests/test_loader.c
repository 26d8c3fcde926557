/* Protobuf decoder, TensorProto reader and model loader, including malformed
 * and hostile inputs. Models are built here with the protobuf writer of
 * pbwrite.h so each test says exactly which bytes it feeds the loader. */
#include "../src/cfp_internal.h"
#include "../src/pb.h"
#include "pbwrite.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* model: y = Relu(x + w), x: (N, 3), w: (1, 3) initializer; op2 replaces
 * the Relu. cycle: add0 consumes s, which act0 makes from add0's output. */
static void build_model(pbw *model, const char *op2, int cycle) {
    gbuild g = {0};
    float w[3] = {1, -2, 0.5f};
    int64_t wd[2] = {1, 3}, xd[2] = {-1, 3};
    if (!cycle) {
        gb_node(&g, "Add", "add0", "x,w", "s", NULL);
        gb_node(&g, op2, "act0", "s", "y", NULL);
    } else {
        gb_node(&g, "Add", "add0", "x,s", "z", NULL);
        gb_node(&g, "Relu", "act0", "z", "s", NULL);
        gb_node(&g, "Relu", "act1", "s", "y", NULL);
    }
    pbw_str(&g.g, 2, "g");
    gb_init(&g, "w", 2, wd, w);
    gb_value_info(&g, 11, "x", 2, xd);
    gb_value_info(&g, 12, "y", 2, xd);
    model->n = 0;
    gb_model(&g, model, 13);
}

/* ModelProto with only IR 8, opset 13 (no producer, no domain) and graph g */
static void bare_model(pbw *model, gbuild *g) {
    pbw op = {0};
    pbw_int(model, 1, 8);
    pbw_int(&op, 2, 13);
    pbw_msg(model, 8, &op);
    pbw_msg(model, 7, &g->g);
    pbw_free(&op), pbw_free(&g->g);
}

static const char *tmp_path(const char *name) { return cfp_test_tmp("loader", name); }

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(p, 1, n, f) == n);
    fclose(f);
}

static int load_bytes(cfp_ctx *ctx, const void *p, size_t n, cfp_model **m) {
    const char *path = tmp_path("model.onnx");
    write_file(path, p, n);
    return cfp_model_load(ctx, path, m);
}

/* ---- tests ------------------------------------------------------------- */

TEST(pb_varint_edge_cases) {
    uint8_t ok[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pb_reader r = pb_init(ok, sizeof ok);
    uint64_t v = 0;
    CHECK(pb_varint(&r, &v));
    CHECK(v == UINT64_MAX);
    uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    r = pb_init(over, sizeof over);
    CHECK(!pb_varint(&r, &v));
    CHECK(r.err != NULL);
    uint8_t trunc[] = {0x80, 0x80};
    r = pb_init(trunc, sizeof trunc);
    CHECK(!pb_varint(&r, &v));
    uint8_t longlen[] = {0x0a, 0x05, 'a', 'b'}; /* field 1, LEN 5, only 2 bytes */
    r = pb_init(longlen, sizeof longlen);
    pb_field f;
    CHECK(!pb_next(&r, &f));
    CHECK(r.err != NULL);
    uint8_t group[] = {0x0b}; /* field 1, start group */
    r = pb_init(group, sizeof group);
    CHECK(!pb_next(&r, &f));
    CHECK(r.err != NULL);
}

TEST(pb_packed_and_unpacked) {
    pbw a = {0};
    int64_t vals[] = {1, 300, -5};
    pbw packed = {0};
    for (int i = 0; i < 3; i++) pbw_varint(&packed, (uint64_t)vals[i]);
    pbw_msg(&a, 1, &packed);
    for (int i = 0; i < 3; i++) pbw_int(&a, 1, vals[i]);
    pb_reader r = pb_init(a.b, a.n);
    pb_field f;
    int k = 0;
    while (pb_next(&r, &f)) {
        pb_packed it;
        uint64_t v;
        CHECK(pb_packed_init(&it, &f, PB_VARINT));
        while (pb_packed_next(&it, &v)) {
            CHECK_EQ((int64_t)v, vals[k % 3]);
            k++;
        }
    }
    CHECK(r.err == NULL);
    CHECK_EQ(k, 6);
    pbw_free(&a), pbw_free(&packed);
}

static int decode(cfp_ctx *ctx, const pbw *t, cfp_tensor *out) {
    return cfp_tensor_decode(ctx, NULL, t->b, t->n, false, out, NULL, "tensor");
}

TEST(tensor_typed_fields_match_raw) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    float d[6] = {1, 2, 3, -4, 5.5f, 1e-7f};
    int64_t dims[2] = {2, 3};
    for (int mode = PBW_F32_RAW; mode <= PBW_F32_PACKED; mode++) {
        pbw t = {0};
        cfp_tensor x;
        pbw_tensor_f32(&t, "t", 2, dims, d, mode);
        CHECK_EQ(decode(ctx, &t, &x), 0);
        CHECK_EQ(x.ndim, 2);
        CHECK_EQ(x.dims[1], 3);
        CHECK(x.data && memcmp(x.data, d, sizeof d) == 0);
        cfp_tensor_free(&x);
        pbw_free(&t);
    }
    /* int64_data, negative values */
    pbw t = {0};
    pbw_int(&t, 1, 2);
    pbw_int(&t, 2, CFP_I64);
    pbw_int(&t, 7, -3);
    pbw_int(&t, 7, 1LL << 40);
    cfp_tensor x;
    CHECK_EQ(decode(ctx, &t, &x), 0);
    CHECK_EQ(((int64_t *)x.data)[0], -3);
    CHECK_EQ(((int64_t *)x.data)[1], 1LL << 40);
    cfp_tensor_free(&x);
    pbw_free(&t);
    cfp_ctx_free(ctx);
}

TEST(tensor_rejects_bad_sizes) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    cfp_tensor x;
    float d[6] = {0};
    pbw t = {0};
    int64_t dims[2] = {2, 4}; /* needs 8 floats, raw has 6 */
    t.n = 0;
    pbw_int(&t, 1, 2);
    pbw_int(&t, 1, 4);
    pbw_int(&t, 2, CFP_F32);
    pbw_bytes(&t, 9, d, sizeof d);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "raw data has 24 bytes") != NULL);
    /* typed count mismatch */
    (void)dims;
    t.n = 0;
    pbw_int(&t, 1, 2);
    pbw_int(&t, 1, 4);
    pbw_int(&t, 2, CFP_F32);
    pbw_bytes(&t, 4, d, sizeof d);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_INVALID);
    /* negative dim */
    t.n = 0;
    pbw_int(&t, 1, -2);
    pbw_int(&t, 2, CFP_F32);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "negative dim") != NULL);
    /* element count overflow */
    t.n = 0;
    for (int i = 0; i < 4; i++) pbw_int(&t, 1, 1LL << 40);
    pbw_int(&t, 2, CFP_F32);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_LIMIT);
    CHECK(strstr(cfp_errmsg(ctx), "overflow") != NULL);
    /* byte-size overflow with a small element count product */
    t.n = 0;
    pbw_int(&t, 1, (1LL << 61));
    pbw_int(&t, 2, CFP_F64);
    CHECK(decode(ctx, &t, &x) != 0);
    /* strings and unknown types */
    t.n = 0;
    pbw_int(&t, 1, 1);
    pbw_int(&t, 2, CFP_STRING);
    pbw_str(&t, 6, "hello");
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_UNSUPPORTED);
    t.n = 0;
    pbw_int(&t, 2, 99);
    CHECK(decode(ctx, &t, &x) != 0);
    /* unknown fields are skipped */
    t.n = 0;
    pbw_tensor_f32(&t, "t", 2, (int64_t[]){2, 3}, d, PBW_F32_RAW);
    pbw_int(&t, 99, 12345);
    pbw_str(&t, 100, "ignored");
    CHECK_EQ(decode(ctx, &t, &x), 0);
    cfp_tensor_free(&x);
    pbw_free(&t);
    cfp_ctx_free(ctx);
}

TEST(tensor_pb_file_roundtrip) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    float d[4] = {1, 2, 3, 4};
    cfp_tensor t = {.dtype = CFP_F32, .ndim = 3, .dims = {1, 2, 2}, .data = d, .nbytes = sizeof d};
    const char *p = tmp_path("t.pb");
    CHECK_EQ(cfp_tensor_write_pb(ctx, p, &t, "input"), 0);
    cfp_tensor r;
    char *name = NULL;
    CHECK_EQ(cfp_tensor_read_pb(ctx, p, &r, &name), 0);
    CHECK(name && strcmp(name, "input") == 0);
    CHECK(cfp_same_shape(&t, &r));
    CHECK(r.data && memcmp(r.data, d, sizeof d) == 0);
    free(name);
    cfp_tensor_free(&r);
    CHECK_EQ(cfp_tensor_read_pb(ctx, tmp_path("missing.pb"), &r, NULL), CFP_E_IO);
    CHECK(strstr(cfp_errmsg(ctx), "missing.pb") != NULL);
    write_file(p, "", 0);
    CHECK_EQ(cfp_tensor_read_pb(ctx, p, &r, NULL), CFP_E_PARSE);
    cfp_ctx_free(ctx);
}

TEST(model_loads_and_runs) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), 0);
    pbw model = {0};
    build_model(&model, "Relu", 0);
    cfp_model *m = NULL;
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), 0);
    if (!m) {
        fprintf(stderr, "%s\n", cfp_errmsg(ctx));
        pbw_free(&model);
        cfp_ctx_free(ctx);
        return;
    }
    CHECK_EQ(cfp_model_n_inputs(m), 1);
    CHECK_EQ(cfp_model_n_nodes(m), 2);
    float x[6] = {0, 0, 0, 1, 1, 1};
    cfp_tensor in = {.dtype = CFP_F32, .ndim = 2, .dims = {2, 3}, .data = x, .nbytes = sizeof x};
    CHECK_EQ(cfp_model_run(m, 1, &in), 0);
    const cfp_tensor *y = cfp_value_tensor(cfp_model_output(m, 0));
    float want[6] = {1, 0, 0.5f, 2, 0, 1.5f};
    CHECK(y->data && memcmp(y->data, want, sizeof want) == 0);
    /* the weight is a view into the mapped file where it is aligned, and
     * aligned either way */
    cfp_value *w = cfp_model_find(m, "w");
    const uint8_t *wd = w ? cfp_value_tensor(w)->data : NULL;
    CHECK(wd && (uintptr_t)wd % 4 == 0);
    /* the policy: a view exactly when the file offset of the raw data is
     * 4-byte aligned (the map itself is page-aligned) */
    const float wv[3] = {1, -2, 0.5f};
    const uint8_t *at = memmem(model.b, model.n, wv, sizeof wv);
    CHECK(at != NULL);
    bool in_map = wd && wd >= (uint8_t *)m->map && wd < (uint8_t *)m->map + m->map_len;
    if (at && wd) CHECK_EQ(in_map, (at - model.b) % 4 == 0);
    /* producers and consumers */
    cfp_value *s = cfp_model_find(m, "s");
    CHECK(s && strcmp(cfp_node_op(cfp_value_producer(s)), "Add") == 0);
    CHECK(s && cfp_value_n_consumers(s) == 1 && strcmp(cfp_node_name(cfp_value_consumer(s, 0)), "act0") == 0);
    /* pooled activation of a (N, C) value is the vector of batch 0 */
    int64_t nc;
    const float *pooled = cfp_value_pooled(s, &nc);
    CHECK(pooled && nc == 3 && pooled[1] == -2.0f);
    /* wrong rank and wrong dims are refused with expected and actual */
    cfp_tensor bad = {.dtype = CFP_F32, .ndim = 2, .dims = {3, 2}, .data = x, .nbytes = sizeof x};
    CHECK_EQ(cfp_model_run(m, 1, &bad), CFP_E_SHAPE);
    CHECK(strstr(cfp_errmsg(ctx), "expected shape ?x3, got 3x2") != NULL);
    cfp_model_free(m);
    pbw_free(&model);
    cfp_ctx_free(ctx);
}

TEST(model_truncated_at_every_offset) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    pbw model = {0};
    build_model(&model, "Relu", 0);
    int failed = 0, loaded = 0;
    for (size_t cut = 0; cut < model.n; cut++) {
        cfp_model *m = NULL;
        int rc = load_bytes(ctx, model.b, cut, &m);
        if (rc) {
            failed++;
            CHECK(cfp_errmsg(ctx)[0] != 0);
            CHECK(m == NULL);
        } else {
            loaded++; /* a cut at a field boundary can leave a valid prefix */
            cfp_model_free(m);
        }
    }
    CHECK(failed > (int)model.n / 2);
    /* flipping bytes must never crash either */
    uint32_t seed = 1;
    pbw bad = {0};
    for (int trial = 0; trial < 2000; trial++) {
        bad.n = 0;
        pbw_raw(&bad, model.b, model.n);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            bad.b[(seed >> 8) % bad.n] = (uint8_t)(seed >> 16);
        }
        cfp_model *m = NULL;
        if (load_bytes(ctx, bad.b, bad.n, &m) == 0) {
            float x[3] = {1, 2, 3};
            cfp_tensor in = {.dtype = CFP_F32, .ndim = 2, .dims = {1, 3}, .data = x, .nbytes = sizeof x};
            cfp_model_run(m, cfp_model_n_inputs(m) == 1 ? 1 : 0, &in);
            cfp_model_free(m);
        }
    }
    pbw_free(&bad), pbw_free(&model);
    cfp_ctx_free(ctx);
}

TEST(model_errors_name_the_problem) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    pbw model = {0};
    cfp_model *m = NULL;
    build_model(&model, "NoSuchOp", 0);
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), CFP_E_UNSUPPORTED);
    CHECK(strstr(cfp_errmsg(ctx), "node 'act0': operator NoSuchOp (opset 13) is not supported") != NULL);
    build_model(&model, "Relu", 1);
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "cycle") != NULL);
    CHECK_EQ(load_bytes(ctx, "", 0, &m), CFP_E_PARSE);
    CHECK(strstr(cfp_errmsg(ctx), "empty file") != NULL);
    CHECK_EQ(load_bytes(ctx, "hello world, not a model", 24, &m), CFP_E_PARSE);
    CHECK_EQ(cfp_model_load(ctx, tmp_path("nope.onnx"), &m), CFP_E_IO);
    CHECK(strstr(cfp_errmsg(ctx), "nope.onnx") != NULL);
    /* a node input nobody produces */
    gbuild g = {0};
    gb_node(&g, "Relu", "r", "ghost", "y", NULL);
    gb_value_info(&g, 12, "y", 1, (int64_t[]){3});
    model.n = 0;
    bare_model(&model, &g);
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "input 'ghost' is not produced") != NULL);
    CHECK(m == NULL);
    pbw_free(&model);
    cfp_ctx_free(ctx);
}

/* initializer "w" stored in an external file; location given by `loc` */
static int load_external(cfp_ctx *ctx, const char *loc, cfp_model **m) {
    gbuild g = {0};
    pbw t = {0}, mo = {0};
    float w[3] = {1, -2, 0.5f};
    write_file(tmp_path("weights.bin"), w, sizeof w);
    gb_node(&g, "Add", "add0", "x,w", "y", NULL);
    pbw_tensor_external(&t, "w", 2, (int64_t[]){1, 3}, loc);
    pbw_msg(&g.g, 5, &t);
    gb_value_info(&g, 11, "x", 2, (int64_t[]){1, 3});
    gb_value_info(&g, 12, "y", 2, (int64_t[]){1, 3});
    bare_model(&mo, &g);
    int rc = load_bytes(ctx, mo.b, mo.n, m);
    pbw_free(&t), pbw_free(&mo);
    return rc;
}

TEST(external_data_stays_in_model_folder) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    cfp_model *m = NULL;
    CHECK_EQ(load_external(ctx, "weights.bin", &m), 0);
    if (m) {
        const cfp_tensor *w = cfp_value_tensor(cfp_model_find(m, "w"));
        CHECK(w->data && ((float *)w->data)[1] == -2.0f);
        cfp_model_free(m);
    }
    CHECK_EQ(load_external(ctx, "../etc/passwd", &m), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "outside the model's folder") != NULL);
    CHECK_EQ(load_external(ctx, "/etc/passwd", &m), CFP_E_INVALID);
    /* a symlink inside the folder that points out of it */
    unlink(tmp_path("link.bin"));
    CHECK_EQ(symlink("/etc/hostname", tmp_path("link.bin")), 0);
    CHECK_EQ(load_external(ctx, "link.bin", &m), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "resolves outside") != NULL);
    /* missing file */
    CHECK_EQ(load_external(ctx, "absent.bin", &m), CFP_E_IO);
    CHECK(m == NULL);
    cfp_ctx_free(ctx);
}

TEST(memory_limit_refuses_before_allocating) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    pbw model = {0};
    build_model(&model, "Relu", 0);
    cfp_model *m = NULL;
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), 0);
    pbw_free(&model);
    if (!m) return;
    cfp_ctx_set_max_memory(ctx, 1 << 20);
    /* (N, 3) floats with N = 1M: 12 MB per value */
    float *x = calloc(1 << 20, 3 * sizeof(float));
    cfp_tensor in = {.dtype = CFP_F32, .ndim = 2, .dims = {1 << 20, 3}, .data = x, .nbytes = (size_t)3 << 22};
    CHECK_EQ(cfp_model_run(m, 1, &in), CFP_E_LIMIT);
    CHECK(strstr(cfp_errmsg(ctx), "max-memory") != NULL);
    free(x);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
}
