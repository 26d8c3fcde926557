/* Protobuf decoder, TensorProto reader and model loader, including malformed
 * and hostile inputs. Models are built here with a tiny protobuf writer so
 * each test says exactly which bytes it feeds the loader. */
#include "../src/cfp_internal.h"
#include "../src/pb.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tiny protobuf writer --------------------------------------------- */
typedef struct {
    uint8_t b[1 << 16];
    size_t n;
} buf;

static void put_varint(buf *o, uint64_t v) {
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        o->b[o->n++] = c | (v ? 0x80 : 0);
    } while (v);
}
static void put_key(buf *o, int field, int wire) { put_varint(o, (uint64_t)field << 3 | (uint64_t)wire); }
static void put_int(buf *o, int field, int64_t v) {
    put_key(o, field, 0);
    put_varint(o, (uint64_t)v);
}
static void put_bytes(buf *o, int field, const void *p, size_t n) {
    put_key(o, field, 2);
    put_varint(o, n);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put_str(buf *o, int field, const char *s) { put_bytes(o, field, s, strlen(s)); }
static void put_msg(buf *o, int field, const buf *m) { put_bytes(o, field, m->b, m->n); }
static void put_float(buf *o, int field, float f) {
    put_key(o, field, 5);
    memcpy(o->b + o->n, &f, 4);
    o->n += 4;
}

/* TensorProto: float tensor with raw data (or typed float_data if packed>=0) */
static void tensor_f32(buf *t, const char *name, int ndim, const int64_t *dims, const float *data, int typed_packed) {
    t->n = 0;
    for (int i = 0; i < ndim; i++) put_int(t, 1, dims[i]);
    put_int(t, 2, CFP_F32);
    put_str(t, 8, name);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    if (typed_packed < 0) put_bytes(t, 9, data, (size_t)n * 4);
    else if (typed_packed) put_bytes(t, 4, data, (size_t)n * 4);
    else
        for (int64_t i = 0; i < n; i++) put_float(t, 4, data[i]);
}

static void value_info(buf *vi, const char *name, int ndim, const int64_t *dims) {
    buf shape = {.n = 0}, tt = {.n = 0}, type = {.n = 0}, d = {.n = 0};
    for (int i = 0; i < ndim; i++) {
        d.n = 0;
        if (dims[i] >= 0) put_int(&d, 1, dims[i]);
        else put_str(&d, 2, "N");
        put_msg(&shape, 1, &d);
    }
    put_int(&tt, 1, CFP_F32);
    put_msg(&tt, 2, &shape);
    put_msg(&type, 1, &tt);
    vi->n = 0;
    put_str(vi, 1, name);
    put_msg(vi, 2, &type);
}

static void node(buf *nd, const char *op, const char *name, const char *in0, const char *in1, const char *out) {
    nd->n = 0;
    if (in0) put_str(nd, 1, in0);
    if (in1) put_str(nd, 1, in1);
    put_str(nd, 2, out);
    put_str(nd, 3, name);
    put_str(nd, 4, op);
}

/* model: y = Relu(x + w), x: (N, 3), w: (1, 3) initializer */
static void build_model(buf *model, const char *op2, int cycle) {
    static buf g, t, n, vi, op;
    g.n = 0;
    float w[3] = {1, -2, 0.5f};
    int64_t wd[2] = {1, 3}, xd[2] = {-1, 3};
    node(&n, "Add", "add0", "x", "w", cycle ? "z" : "s");
    put_msg(&g, 1, &n);
    node(&n, op2, "act0", cycle ? "z" : "s", NULL, cycle ? "s" : "y");
    put_msg(&g, 1, &n);
    if (cycle) {
        node(&n, "Relu", "act1", "s", NULL, "y");
        put_msg(&g, 1, &n);
        /* make add0 consume s: rebuild with s as an input */
        g.n = 0;
        node(&n, "Add", "add0", "x", "s", "z");
        put_msg(&g, 1, &n);
        node(&n, "Relu", "act0", "z", NULL, "s");
        put_msg(&g, 1, &n);
        node(&n, "Relu", "act1", "s", NULL, "y");
        put_msg(&g, 1, &n);
    }
    put_str(&g, 2, "g");
    tensor_f32(&t, "w", 2, wd, w, -1);
    put_msg(&g, 5, &t);
    value_info(&vi, "x", 2, xd);
    put_msg(&g, 11, &vi);
    value_info(&vi, "y", 2, xd);
    put_msg(&g, 12, &vi);
    model->n = 0;
    put_int(model, 1, 8);
    put_str(model, 2, "cfp-test");
    op.n = 0;
    put_str(&op, 1, "");
    put_int(&op, 2, 13);
    put_msg(model, 8, &op);
    put_msg(model, 7, &g);
}

static char tmpdir[256];
static const char *tmp_path(const char *name) {
    static char p[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cfp-test-XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
    }
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

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
    buf a = {.n = 0};
    int64_t vals[] = {1, 300, -5};
    buf packed = {.n = 0};
    for (int i = 0; i < 3; i++) put_varint(&packed, (uint64_t)vals[i]);
    put_msg(&a, 1, &packed);
    for (int i = 0; i < 3; i++) put_int(&a, 1, vals[i]);
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
}

static int decode(cfp_ctx *ctx, const buf *t, cfp_tensor *out) {
    return cfp_tensor_decode(ctx, NULL, t->b, t->n, false, out, NULL, "tensor");
}

TEST(tensor_typed_fields_match_raw) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    float d[6] = {1, 2, 3, -4, 5.5f, 1e-7f};
    int64_t dims[2] = {2, 3};
    for (int mode = -1; mode <= 1; mode++) {
        buf t;
        cfp_tensor x;
        tensor_f32(&t, "t", 2, dims, d, mode);
        CHECK_EQ(decode(ctx, &t, &x), 0);
        CHECK_EQ(x.ndim, 2);
        CHECK_EQ(x.dims[1], 3);
        CHECK(x.data && memcmp(x.data, d, sizeof d) == 0);
        cfp_tensor_free(&x);
    }
    /* int64_data, negative values */
    buf t = {.n = 0};
    put_int(&t, 1, 2);
    put_int(&t, 2, CFP_I64);
    put_int(&t, 7, -3);
    put_int(&t, 7, 1LL << 40);
    cfp_tensor x;
    CHECK_EQ(decode(ctx, &t, &x), 0);
    CHECK_EQ(((int64_t *)x.data)[0], -3);
    CHECK_EQ(((int64_t *)x.data)[1], 1LL << 40);
    cfp_tensor_free(&x);
    cfp_ctx_free(ctx);
}

TEST(tensor_rejects_bad_sizes) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    cfp_tensor x;
    float d[6] = {0};
    buf t;
    int64_t dims[2] = {2, 4}; /* needs 8 floats, raw has 6 */
    t.n = 0;
    put_int(&t, 1, 2);
    put_int(&t, 1, 4);
    put_int(&t, 2, CFP_F32);
    put_bytes(&t, 9, d, sizeof d);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "raw data has 24 bytes") != NULL);
    /* typed count mismatch */
    (void)dims;
    t.n = 0;
    put_int(&t, 1, 2);
    put_int(&t, 1, 4);
    put_int(&t, 2, CFP_F32);
    put_bytes(&t, 4, d, sizeof d);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_INVALID);
    /* negative dim */
    t.n = 0;
    put_int(&t, 1, -2);
    put_int(&t, 2, CFP_F32);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "negative dim") != NULL);
    /* element count overflow */
    t.n = 0;
    for (int i = 0; i < 4; i++) put_int(&t, 1, 1LL << 40);
    put_int(&t, 2, CFP_F32);
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_LIMIT);
    CHECK(strstr(cfp_errmsg(ctx), "overflow") != NULL);
    /* byte-size overflow with a small element count product */
    t.n = 0;
    put_int(&t, 1, (1LL << 61));
    put_int(&t, 2, CFP_F64);
    CHECK(decode(ctx, &t, &x) != 0);
    /* strings and unknown types */
    t.n = 0;
    put_int(&t, 1, 1);
    put_int(&t, 2, CFP_STRING);
    put_str(&t, 6, "hello");
    CHECK_EQ(decode(ctx, &t, &x), CFP_E_UNSUPPORTED);
    t.n = 0;
    put_int(&t, 2, 99);
    CHECK(decode(ctx, &t, &x) != 0);
    /* unknown fields are skipped */
    tensor_f32(&t, "t", 2, (int64_t[]){2, 3}, d, -1);
    put_int(&t, 99, 12345);
    put_str(&t, 100, "ignored");
    CHECK_EQ(decode(ctx, &t, &x), 0);
    cfp_tensor_free(&x);
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
    static buf model;
    build_model(&model, "Relu", 0);
    cfp_model *m = NULL;
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), 0);
    if (!m) {
        fprintf(stderr, "%s\n", cfp_errmsg(ctx));
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
    cfp_ctx_free(ctx);
}

TEST(model_truncated_at_every_offset) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    static buf model;
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
    for (int trial = 0; trial < 2000; trial++) {
        static buf bad;
        bad = model;
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
    cfp_ctx_free(ctx);
}

TEST(model_errors_name_the_problem) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    static buf model;
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
    static buf g, n, mo, op;
    g.n = 0;
    node(&n, "Relu", "r", "ghost", NULL, "y");
    put_msg(&g, 1, &n);
    buf vi;
    value_info(&vi, "y", 1, (int64_t[]){3});
    put_msg(&g, 12, &vi);
    mo.n = 0;
    put_int(&mo, 1, 8);
    op.n = 0;
    put_int(&op, 2, 13);
    put_msg(&mo, 8, &op);
    put_msg(&mo, 7, &g);
    CHECK_EQ(load_bytes(ctx, mo.b, mo.n, &m), CFP_E_INVALID);
    CHECK(strstr(cfp_errmsg(ctx), "input 'ghost' is not produced") != NULL);
    CHECK(m == NULL);
    cfp_ctx_free(ctx);
}

/* initializer "w" stored in an external file; location given by `loc` */
static int load_external(cfp_ctx *ctx, const char *loc, cfp_model **m) {
    static buf g, t, e, n, mo, op, vi;
    float w[3] = {1, -2, 0.5f};
    write_file(tmp_path("weights.bin"), w, sizeof w);
    g.n = 0;
    node(&n, "Add", "add0", "x", "w", "y");
    put_msg(&g, 1, &n);
    t.n = 0;
    put_int(&t, 1, 1);
    put_int(&t, 1, 3);
    put_int(&t, 2, CFP_F32);
    put_str(&t, 8, "w");
    e.n = 0;
    put_str(&e, 1, "location");
    put_str(&e, 2, loc);
    put_msg(&t, 13, &e);
    put_int(&t, 14, 1);
    put_msg(&g, 5, &t);
    value_info(&vi, "x", 2, (int64_t[]){1, 3});
    put_msg(&g, 11, &vi);
    value_info(&vi, "y", 2, (int64_t[]){1, 3});
    put_msg(&g, 12, &vi);
    mo.n = 0;
    put_int(&mo, 1, 8);
    op.n = 0;
    put_int(&op, 2, 13);
    put_msg(&mo, 8, &op);
    put_msg(&mo, 7, &g);
    return load_bytes(ctx, mo.b, mo.n, m);
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
    static buf model;
    build_model(&model, "Relu", 0);
    cfp_model *m = NULL;
    CHECK_EQ(load_bytes(ctx, model.b, model.n, &m), 0);
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
