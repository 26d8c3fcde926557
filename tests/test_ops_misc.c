/* Element-wise, reduction and shape operators on shapes larger than the ONNX
 * node tests use (threaded and tiled paths), against naive references. Each
 * test drives one operator through its prepare/reshape/run lifecycle on a
 * hand-built one-node model. */
#include "test.h"

#include "cfp_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rfloat(void) { return (float)((double)rnd() / 2147483648.0 - 1.0); }

/* ---- one-node model harness ------------------------------------------------ */
typedef struct {
    cfp_ctx *ctx;
    cfp_model m;
    cfp_value v[16];
    cfp_node n;
    int in[8], out[4];
    cfp_attr attrs[8];
    int64_t attr_ints[8][CFP_MAX_DIMS * 2];
} harness;

static void h_init(harness *h, const char *op, int opset) {
    memset(h, 0, sizeof *h);
    cfp_ctx_new(&h->ctx, 2);
    h->m.ctx = h->ctx;
    h->m.values = h->v;
    h->m.nodes = &h->n;
    h->m.n_nodes = 1;
    h->n.name = (char *)"test";
    h->n.op_type = (char *)op;
    h->n.domain = (char *)"";
    h->n.in = h->in;
    h->n.out = h->out;
    h->n.attrs = h->attrs;
    h->n.opset = opset;
}

static void h_free(harness *h) {
    for (int i = 0; i < h->m.n_values; i++) cfp_tensor_release(&h->v[i].t);
    cfp_ctx_free(h->ctx);
}

/* Adds an input (random data for float, zeros otherwise); returns its data. */
static void *h_input(harness *h, int dtype, int nd, const int64_t *dims, bool constant) {
    int id = h->m.n_values++;
    cfp_value *v = &h->v[id];
    v->name = (char *)"x";
    v->id = id;
    v->producer = -1;
    v->is_const = constant;
    v->is_input = !constant;
    cfp_tensor_shape(&v->t, dtype, nd, dims);
    cfp_tensor_alloc(&v->t);
    if (dtype == CFP_F32) {
        float *p = v->t.data;
        for (int64_t i = 0; i < cfp_tensor_numel(&v->t); i++) p[i] = rfloat() * 4.0f;
    }
    h->in[h->n.n_in++] = id;
    return v->t.data;
}

static void h_input_ints(harness *h, int n, const int64_t *vals) {
    int64_t d = n;
    int64_t *p = h_input(h, CFP_I64, 1, &d, true);
    memcpy(p, vals, (size_t)n * sizeof *p);
}

static void h_omit_input(harness *h) { h->in[h->n.n_in++] = -1; }

static void h_attr_ints(harness *h, const char *name, int n, const int64_t *vals) {
    cfp_attr *a = &h->attrs[h->n.n_attrs];
    a->name = (char *)name;
    a->type = CFP_ATTR_INTS;
    a->ints = h->attr_ints[h->n.n_attrs];
    memcpy(a->ints, vals, (size_t)n * sizeof *vals);
    a->n = n;
    h->n.n_attrs++;
}

static void h_attr_int(harness *h, const char *name, int64_t v) {
    cfp_attr *a = &h->attrs[h->n.n_attrs++];
    a->name = (char *)name;
    a->type = CFP_ATTR_INT;
    a->i = v;
}

static void h_attr_str(harness *h, const char *name, const char *s) {
    cfp_attr *a = &h->attrs[h->n.n_attrs++];
    a->name = (char *)name;
    a->type = CFP_ATTR_STRING;
    a->s = (char *)s;
    a->slen = strlen(s);
}

/* Adds n outputs, runs the node; returns the status. */
static int h_run(harness *h, int n_out) {
    for (int i = 0; i < n_out; i++) {
        int id = h->m.n_values++;
        h->v[id].name = (char *)"y";
        h->v[id].id = id;
        h->v[id].producer = 0;
        h->out[h->n.n_out++] = id;
    }
    const cfp_op *op = cfp_op_find(h->n.op_type);
    if (!op) return CFP_E_UNSUPPORTED;
    int rc;
    if (op->prepare && (rc = op->prepare(&h->m, &h->n))) return rc;
    if ((rc = op->reshape(&h->m, &h->n))) return rc;
    for (int i = 0; i < n_out; i++)
        if ((rc = cfp_tensor_alloc(&h->v[h->out[i]].t))) return rc;
    rc = op->run(&h->m, &h->n);
    if (op->release) op->release(&h->n);
    return rc;
}

static cfp_tensor *h_out(harness *h, int i) { return &h->v[h->out[i]].t; }
static cfp_tensor *h_in(harness *h, int i) { return &h->v[h->in[i]].t; }

static void strides(const int64_t *dims, int nd, int64_t *st) {
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) st[d] = s, s *= dims[d];
}

/* Next multi-index in row-major order. */
static void next_idx(int64_t *idx, const int64_t *dims, int nd) {
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return;
        idx[d] = 0;
    }
}

/* Offset into a broadcast input of rank nd_in aligned to the output rank. */
static int64_t bcast_off(const int64_t *idx, int nd_out, const cfp_tensor *t) {
    int64_t st[CFP_MAX_DIMS], off = 0;
    strides(t->dims, t->ndim, st);
    for (int d = 0; d < t->ndim; d++) {
        int od = d + nd_out - t->ndim;
        if (t->dims[d] != 1) off += idx[od] * st[d];
    }
    return off;
}

/* ---- element-wise ------------------------------------------------------------ */

static float ref_bin(const char *op, float x, float y) {
    if (!strcmp(op, "Add") || !strcmp(op, "Sum")) return x + y;
    if (!strcmp(op, "Sub")) return x - y;
    if (!strcmp(op, "Mul")) return x * y;
    if (!strcmp(op, "Div")) return x / y;
    if (!strcmp(op, "Max")) return x > y ? x : y;
    if (!strcmp(op, "Min")) return x < y ? x : y;
    if (!strcmp(op, "PRelu")) return x < 0 ? x * y : x;
    return 0;
}

static void check_binary(const char *op, int na, const int64_t *da, int nb, const int64_t *db) {
    harness h;
    h_init(&h, op, 14);
    h_input(&h, CFP_F32, na, da, false);
    h_input(&h, CFP_F32, nb, db, false);
    int rc = h_run(&h, 1);
    CHECK_EQ(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s: %s\n", op, cfp_errmsg(h.ctx));
        h_free(&h);
        return;
    }
    const cfp_tensor *y = h_out(&h, 0), *a = h_in(&h, 0), *b = h_in(&h, 1);
    int64_t idx[CFP_MAX_DIMS] = {0}, total = cfp_tensor_numel(y);
    int bad = 0;
    for (int64_t k = 0; k < total && bad < 3; k++) {
        float x = ((float *)a->data)[bcast_off(idx, y->ndim, a)];
        float w = ((float *)b->data)[bcast_off(idx, y->ndim, b)];
        float want = ref_bin(op, x, w), got = ((float *)y->data)[k];
        if (!(fabsf(got - want) <= 1e-6f * (1 + fabsf(want)))) {
            cfp_test_fail_here(__FILE__, __LINE__, "%s element %lld: %g vs %g", op, (long long)k,
                               got, want);
            bad++;
        }
        next_idx(idx, y->dims, y->ndim);
    }
    h_free(&h);
}

TEST(eltwise_broadcast_paths) {
    const char *ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
    /* big: same shape, per-channel, scalar (threaded) */
    int64_t big[5] = {1, 64, 8, 28, 28}, ch[5] = {1, 64, 1, 1, 1}, sc[1] = {1};
    for (int i = 0; i < 6; i++) {
        check_binary(ops[i], 5, big, 5, big);
        check_binary(ops[i], 5, big, 5, ch);
        check_binary(ops[i], 5, ch, 5, big);
        check_binary(ops[i], 5, big, 0, sc);
        check_binary(ops[i], 1, sc, 5, big);
    }
    int64_t pc[4] = {64, 1, 1, 1};
    check_binary("PRelu", 5, big, 4, pc);
    /* random shapes with broadcast dims */
    for (int it = 0; it < 200; it++) {
        int nd = (int)rint_in(1, 5);
        int64_t a[5], b[5];
        for (int d = 0; d < nd; d++) {
            int64_t s = rint_in(1, 6);
            a[d] = rnd() % 3 ? s : 1;
            b[d] = rnd() % 3 ? s : 1;
        }
        int nb = (int)rint_in(0, nd);
        check_binary(ops[it % 6], nd, a, nb, b + (nd - nb));
    }
}

TEST(eltwise_sum_variadic) {
    harness h;
    h_init(&h, "Sum", 13);
    int64_t d1[3] = {3, 1, 70000}, d2[1] = {70000}, d3[3] = {1, 2, 1};
    float *a = h_input(&h, CFP_F32, 3, d1, false);
    float *b = h_input(&h, CFP_F32, 1, d2, false);
    float *c = h_input(&h, CFP_F32, 3, d3, false);
    CHECK_EQ(h_run(&h, 1), 0);
    const cfp_tensor *y = h_out(&h, 0);
    CHECK_EQ(y->ndim, 3);
    CHECK_EQ(y->dims[1], 2);
    float *o = y->data;
    int bad = 0;
    for (int64_t i = 0; i < 3 && !bad; i++)
        for (int64_t j = 0; j < 2 && !bad; j++)
            for (int64_t k = 0; k < 70000 && !bad; k++) {
                float want = a[i * 70000 + k] + b[k] + c[j];
                float got = o[(i * 2 + j) * 70000 + k];
                if (!(fabsf(got - want) <= 1e-5f)) {
                    CHECK_NEAR(got, want, 1e-5);
                    bad = 1;
                }
            }
    h_free(&h);
}

TEST(eltwise_unary_accuracy) {
    const char *ops[] = {"Sigmoid", "Relu", "HardSwish", "Tanh", "Elu", "Softplus"};
    for (int k = 0; k < 6; k++) {
        harness h;
        h_init(&h, ops[k], 14);
        int64_t d = 200003;
        float *x = h_input(&h, CFP_F32, 1, &d, false);
        for (int64_t i = 0; i < d; i++) x[i] = (float)(i - d / 2) * 1e-3f; /* [-100, 100] */
        x[0] = -1000.0f;
        x[1] = 1000.0f;
        CHECK_EQ(h_run(&h, 1), 0);
        const float *y = h_out(&h, 0)->data;
        double worst = 0;
        for (int64_t i = 0; i < d; i++) {
            double v = x[i], want;
            switch (k) {
            case 0: want = 1.0 / (1.0 + exp(-v)); break;
            case 1: want = v > 0 ? v : 0; break;
            case 2: want = v * fmin(1.0, fmax(0.0, v / 6 + 0.5)); break;
            case 3: want = tanh(v); break;
            case 4: want = v < 0 ? expm1(v) : v; break;
            default: want = v > 30 ? v : log1p(exp(v)); break;
            }
            double err = fabs(y[i] - want) / (fabs(want) + 1e-6);
            if (!(err <= worst)) worst = err;
        }
        /* HardSwish: x/6 + 0.5 cancels near x = -3 in float32 */
        if (!(worst < (k == 2 ? 5e-5 : 2e-6)))
            cfp_test_fail_here(__FILE__, __LINE__, "%s: relative error %g", ops[k], worst);
        h_free(&h);
    }
}

TEST(eltwise_int64_and_clip) {
    harness h;
    h_init(&h, "Div", 14);
    int64_t d = 4, one = 1;
    int64_t *a = h_input(&h, CFP_I64, 1, &d, true);
    int64_t *b = h_input(&h, CFP_I64, 1, &one, true);
    a[0] = 7, a[1] = -7, a[2] = 224, a[3] = 0;
    b[0] = 2;
    CHECK_EQ(h_run(&h, 1), 0);
    const int64_t *y = h_out(&h, 0)->data;
    CHECK_EQ(h_out(&h, 0)->dtype, CFP_I64);
    CHECK_EQ(y[0], 3);
    CHECK_EQ(y[1], -3);
    CHECK_EQ(y[2], 112);
    CHECK_EQ(y[3], 0);
    h_free(&h);

    /* Clip 11 with only max given */
    h_init(&h, "Clip", 13);
    int64_t n = 100;
    float *x = h_input(&h, CFP_F32, 1, &n, false);
    h_omit_input(&h);
    float *mx = h_input(&h, CFP_F32, 0, NULL, true);
    *mx = 0.5f;
    CHECK_EQ(h_run(&h, 1), 0);
    const float *yc = h_out(&h, 0)->data;
    for (int64_t i = 0; i < n; i++) CHECK_EQ(yc[i] == (x[i] > 0.5f ? 0.5f : x[i]), 1);
    h_free(&h);
}

/* ---- Transpose --------------------------------------------------------------- */

static void check_transpose(int nd, const int64_t *dims, const int64_t *perm, int dtype, double *secs) {
    harness h;
    h_init(&h, "Transpose", 13);
    void *x = h_input(&h, dtype, nd, dims, false);
    size_t es = cfp_dtype_size(dtype);
    int64_t total = cfp_tensor_numel(h_in(&h, 0));
    if (dtype != CFP_F32)
        for (int64_t i = 0; i < total; i++) memcpy((char *)x + i * (int64_t)es, &i, es);
    h_attr_ints(&h, "perm", nd, perm);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(h_run(&h, 1), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (secs) *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const cfp_tensor *y = h_out(&h, 0);
    int64_t ist[CFP_MAX_DIMS], idx[CFP_MAX_DIMS] = {0};
    strides(dims, nd, ist);
    for (int d = 0; d < nd; d++) CHECK_EQ(y->dims[d], dims[perm[d]]);
    for (int64_t k = 0; k < total; k++) {
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += idx[d] * ist[perm[d]];
        if (memcmp((char *)y->data + k * (int64_t)es, (char *)x + off * (int64_t)es, es)) {
            cfp_test_fail_here(__FILE__, __LINE__, "transpose element %lld differs", (long long)k);
            break;
        }
        next_idx(idx, y->dims, nd);
    }
    h_free(&h);
}

TEST(transpose_5d_feature_map) {
    int64_t dims[5] = {1, 432, 16, 7, 7}, perm[5] = {0, 2, 3, 4, 1}, back[5] = {0, 4, 1, 2, 3};
    double s1, s2;
    check_transpose(5, dims, perm, CFP_F32, &s1);
    int64_t dims2[5] = {1, 16, 7, 7, 432};
    check_transpose(5, dims2, back, CFP_F32, &s2);
    if (getenv("CFP_TEST_VERBOSE"))
        printf("transpose 1x432x16x7x7 -> NTHWC %.3f ms, back %.3f ms\n", s1 * 1e3, s2 * 1e3);
}

TEST(transpose_random) {
    int dts[4] = {CFP_F32, CFP_I64, CFP_U8, CFP_I16};
    for (int it = 0; it < 150; it++) {
        int nd = (int)rint_in(1, 6);
        int64_t dims[6], perm[6];
        for (int d = 0; d < nd; d++) dims[d] = rint_in(1, it % 10 == 0 ? 40 : 9), perm[d] = d;
        for (int d = nd - 1; d > 0; d--) {
            int j = (int)rint_in(0, d);
            int64_t t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        check_transpose(nd, dims, perm, dts[it % 4], NULL);
    }
}

/* ---- Slice ------------------------------------------------------------------- */

TEST(slice_random_steps) {
    for (int it = 0; it < 300; it++) {
        harness h;
        h_init(&h, "Slice", 13);
        int nd = (int)rint_in(1, 4);
        int64_t dims[4];
        for (int d = 0; d < nd; d++) dims[d] = rint_in(1, it % 20 == 0 ? 60 : 8);
        float *x = h_input(&h, CFP_F32, nd, dims, false);
        int64_t st[4], en[4], ax[4], sp[4];
        int k = (int)rint_in(1, nd);
        int used[4] = {0};
        for (int i = 0; i < k; i++) {
            int a;
            do a = (int)rint_in(0, nd - 1);
            while (used[a]);
            used[a] = 1;
            ax[i] = rnd() % 2 ? a : a - nd;
            st[i] = rint_in(-dims[a] - 2, dims[a] + 2);
            en[i] = rint_in(-dims[a] - 2, dims[a] + 2);
            if (rnd() % 8 == 0) en[i] = rnd() % 2 ? INT64_MAX : INT64_MIN;
            sp[i] = rint_in(-3, 3);
            if (sp[i] == 0) sp[i] = 1;
        }
        h_input_ints(&h, k, st);
        h_input_ints(&h, k, en);
        h_input_ints(&h, k, ax);
        h_input_ints(&h, k, sp);
        CHECK_EQ(h_run(&h, 1), 0);
        /* reference: per-axis index lists (numpy semantics) */
        int64_t lists[4][64], cnt[4];
        for (int d = 0; d < nd; d++) {
            cnt[d] = dims[d];
            for (int64_t i = 0; i < dims[d]; i++) lists[d][i] = i;
        }
        for (int i = 0; i < k; i++) {
            int a = (int)(ax[i] < 0 ? ax[i] + nd : ax[i]);
            int64_t dim = dims[a], s = st[i], e = en[i], stp = sp[i], c = 0;
            if (s < 0) s += dim;
            if (e < 0) e += dim;
            if (stp > 0) {
                s = s < 0 ? 0 : s > dim ? dim : s;
                e = e < 0 ? 0 : e > dim ? dim : e;
                for (int64_t v = s; v < e; v += stp) lists[a][c++] = v;
            } else {
                s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
                e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
                for (int64_t v = s; v > e; v += stp) lists[a][c++] = v;
            }
            cnt[a] = c;
        }
        const cfp_tensor *y = h_out(&h, 0);
        int64_t ist[4], idx[4] = {0};
        strides(dims, nd, ist);
        for (int d = 0; d < nd; d++) CHECK_EQ(y->dims[d], cnt[d]);
        int64_t total = cfp_tensor_numel(y);
        for (int64_t kk = 0; kk < total; kk++) {
            int64_t off = 0;
            for (int d = 0; d < nd; d++) off += lists[d][idx[d]] * ist[d];
            if (((float *)y->data)[kk] != x[off]) {
                cfp_test_fail_here(__FILE__, __LINE__, "slice element %lld differs", (long long)kk);
                break;
            }
            next_idx(idx, y->dims, nd);
        }
        h_free(&h);
    }
}

/* ---- reductions ---------------------------------------------------------------- */

static int64_t prod5(const int64_t *d, int nd) {
    int64_t p = 1;
    for (int i = 0; i < nd; i++) p *= d[i];
    return p;
}

TEST(reduce_random_axes) {
    const char *ops[] = {"ReduceMean", "ReduceMax", "ReduceSum", "ReduceL2", "ReduceLogSumExp",
                         "ReduceMin"};
    for (int it = 0; it < 120; it++) {
        harness h;
        const char *op = ops[it % 6];
        h_init(&h, op, 11);
        int nd = (int)rint_in(1, 5);
        int64_t dims[5];
        for (int d = 0; d < nd; d++) dims[d] = rint_in(1, it % 10 == 0 ? 40 : 6);
        float *x = h_input(&h, CFP_F32, nd, dims, false);
        int64_t axes[5];
        int na = 0;
        bool red[5] = {0};
        for (int d = 0; d < nd; d++)
            if (rnd() % 2) axes[na++] = rnd() % 2 ? d : d - nd, red[d] = true;
        if (na) h_attr_ints(&h, "axes", na, axes);
        else
            for (int d = 0; d < nd; d++) red[d] = true;
        int keep = (int)(rnd() % 2);
        h_attr_int(&h, "keepdims", keep);
        CHECK_EQ(h_run(&h, 1), 0);
        const cfp_tensor *y = h_out(&h, 0);
        /* reference in double, output index from kept dims */
        int64_t odims[5], ost[5];
        for (int d = 0; d < nd; d++) odims[d] = red[d] ? 1 : dims[d];
        strides(odims, nd, ost);
        int64_t on = cfp_tensor_numel(y);
        CHECK_EQ(on, prod5(odims, nd));
        CHECK_EQ(y->ndim, keep ? nd : nd - (na ? na : nd));
        double *acc = calloc((size_t)on, sizeof *acc), *mx = calloc((size_t)on, sizeof *mx);
        for (int64_t i = 0; i < on; i++) mx[i] = -INFINITY;
        int64_t idx[5] = {0}, total = cfp_tensor_numel(h_in(&h, 0));
        for (int pass = 0; pass < 2; pass++) {
            memset(idx, 0, sizeof idx);
            for (int64_t k = 0; k < total; k++) {
                int64_t o = 0;
                for (int d = 0; d < nd; d++) o += (red[d] ? 0 : idx[d]) * ost[d];
                double v = x[k];
                if (pass == 0) mx[o] = v > mx[o] ? v : mx[o];
                else if (!strcmp(op, "ReduceMin")) (void)0; /* scanned separately below */
                else if (!strcmp(op, "ReduceL2")) acc[o] += v * v;
                else if (!strcmp(op, "ReduceLogSumExp")) acc[o] += exp(v - mx[o]);
                else acc[o] += v;
                next_idx(idx, dims, nd);
            }
        }
        int64_t count = total / on;
        const float *got = y->data;
        for (int64_t o = 0; o < on; o++) {
            double want;
            if (!strcmp(op, "ReduceMean")) want = acc[o] / (double)count;
            else if (!strcmp(op, "ReduceMax")) want = mx[o];
            else if (!strcmp(op, "ReduceL2")) want = sqrt(acc[o]);
            else if (!strcmp(op, "ReduceLogSumExp")) want = log(acc[o]) + mx[o];
            else if (!strcmp(op, "ReduceMin")) break; /* checked below */
            else want = acc[o];
            if (!(fabs(got[o] - want) <= 1e-4 * (1 + fabs(want)))) {
                cfp_test_fail_here(__FILE__, __LINE__, "%s output %lld: %g vs %g", op, (long long)o,
                                   got[o], want);
                break;
            }
        }
        if (!strcmp(op, "ReduceMin")) {
            /* min = -max(-x): compare against a direct scan */
            for (int64_t o = 0; o < on; o++) acc[o] = INFINITY;
            memset(idx, 0, sizeof idx);
            for (int64_t k = 0; k < total; k++) {
                int64_t o = 0;
                for (int d = 0; d < nd; d++) o += (red[d] ? 0 : idx[d]) * ost[d];
                if (x[k] < acc[o]) acc[o] = x[k];
                next_idx(idx, dims, nd);
            }
            for (int64_t o = 0; o < on; o++) CHECK_EQ(got[o] == (float)acc[o], 1);
        }
        free(acc);
        free(mx);
        h_free(&h);
    }
}

TEST(softmax_axes) {
    for (int opset = 11; opset <= 13; opset += 2)
        for (int axis = -3; axis < 3; axis++) {
            harness h;
            h_init(&h, "Softmax", opset);
            int64_t dims[3] = {3, 40, 7};
            float *x = h_input(&h, CFP_F32, 3, dims, false);
            h_attr_int(&h, "axis", axis);
            CHECK_EQ(h_run(&h, 1), 0);
            const float *y = h_out(&h, 0)->data;
            int a = axis < 0 ? axis + 3 : axis;
            int64_t outer = 1, len = 1, inner = 1;
            for (int d = 0; d < 3; d++) {
                if (d < a) outer *= dims[d];
                else if (d == a || opset < 13) len *= dims[d];
                else inner *= dims[d];
            }
            for (int64_t o = 0; o < outer; o++)
                for (int64_t c = 0; c < inner; c++) {
                    double mx = -INFINITY, sum = 0;
                    for (int64_t l = 0; l < len; l++) mx = fmax(mx, x[(o * len + l) * inner + c]);
                    for (int64_t l = 0; l < len; l++) sum += exp(x[(o * len + l) * inner + c] - mx);
                    for (int64_t l = 0; l < len; l++) {
                        int64_t i = (o * len + l) * inner + c;
                        CHECK_NEAR(y[i], exp(x[i] - mx) / sum, 1e-6);
                    }
                }
            h_free(&h);
        }
}

/* ---- Pad, Tile, Expand ------------------------------------------------------------ */

static int64_t ref_pad_map(const char *mode, int64_t i, int64_t dim) {
    if (i >= 0 && i < dim) return i;
    if (!strcmp(mode, "constant")) return -1;
    if (!strcmp(mode, "edge")) return i < 0 ? 0 : dim - 1;
    while (i < 0 || i >= dim) i = i < 0 ? -i : 2 * (dim - 1) - i; /* reflect */
    return i;
}

TEST(pad_modes) {
    const char *modes[3] = {"constant", "reflect", "edge"};
    for (int it = 0; it < 90; it++) {
        const char *mode = modes[it % 3];
        harness h;
        h_init(&h, "Pad", 13);
        int nd = (int)rint_in(1, 4);
        int64_t dims[4], pads[8];
        for (int d = 0; d < nd; d++) dims[d] = rint_in(2, 7);
        for (int d = 0; d < nd; d++) {
            int64_t lo = !strcmp(mode, "constant") ? -dims[d] / 2 : 0;
            int64_t hi = !strcmp(mode, "reflect") ? dims[d] - 1 : 3;
            pads[d] = rint_in(lo, hi);
            pads[d + nd] = rint_in(lo, hi);
        }
        float *x = h_input(&h, CFP_F32, nd, dims, false);
        h_input_ints(&h, 2 * nd, pads);
        float *cv = h_input(&h, CFP_F32, 0, NULL, true);
        *cv = 2.5f;
        h_attr_str(&h, "mode", mode);
        int rc = h_run(&h, 1);
        CHECK_EQ(rc, 0);
        if (rc) {
            fprintf(stderr, "  %s\n", cfp_errmsg(h.ctx));
            h_free(&h);
            continue;
        }
        const cfp_tensor *y = h_out(&h, 0);
        int64_t ist[4], idx[4] = {0};
        strides(dims, nd, ist);
        for (int d = 0; d < nd; d++) CHECK_EQ(y->dims[d], dims[d] + pads[d] + pads[d + nd]);
        int64_t total = cfp_tensor_numel(y);
        for (int64_t k = 0; k < total; k++) {
            int64_t off = 0;
            bool fill = false;
            for (int d = 0; d < nd; d++) {
                int64_t i = ref_pad_map(mode, idx[d] - pads[d], dims[d]);
                if (i < 0) fill = true;
                else off += i * ist[d];
            }
            float want = fill ? 2.5f : x[off];
            if (((float *)y->data)[k] != want) {
                cfp_test_fail_here(__FILE__, __LINE__, "pad %s element %lld: %g vs %g", mode,
                                   (long long)k, ((float *)y->data)[k], want);
                break;
            }
            next_idx(idx, y->dims, nd);
        }
        h_free(&h);
    }
}

TEST(tile_and_expand) {
    harness h;
    h_init(&h, "Tile", 13);
    int64_t dims[3] = {2, 3, 5}, rep[3] = {3, 1, 2};
    float *x = h_input(&h, CFP_F32, 3, dims, false);
    h_input_ints(&h, 3, rep);
    CHECK_EQ(h_run(&h, 1), 0);
    const cfp_tensor *y = h_out(&h, 0);
    CHECK_EQ(y->dims[0], 6);
    CHECK_EQ(y->dims[2], 10);
    int64_t idx[3] = {0};
    for (int64_t k = 0; k < cfp_tensor_numel(y); k++) {
        float want = x[((idx[0] % 2) * 3 + idx[1] % 3) * 5 + idx[2] % 5];
        if (((float *)y->data)[k] != want) {
            CHECK(0);
            break;
        }
        next_idx(idx, y->dims, 3);
    }
    h_free(&h);

    h_init(&h, "Expand", 13);
    int64_t xd[3] = {3, 1, 4}, shape[4] = {2, 1, 5, 1};
    x = h_input(&h, CFP_F32, 3, xd, false);
    h_input_ints(&h, 4, shape);
    CHECK_EQ(h_run(&h, 1), 0);
    y = h_out(&h, 0);
    CHECK_EQ(y->ndim, 4);
    int64_t want_dims[4] = {2, 3, 5, 4}, id4[4] = {0};
    for (int d = 0; d < 4; d++) CHECK_EQ(y->dims[d], want_dims[d]);
    for (int64_t k = 0; k < cfp_tensor_numel(y); k++) {
        if (((float *)y->data)[k] != x[id4[1] * 4 + id4[3]]) {
            CHECK(0);
            break;
        }
        next_idx(id4, y->dims, 4);
    }
    h_free(&h);
}

/* ---- errors ----------------------------------------------------------------------- */

TEST(shape_op_errors) {
    harness h;
    /* Reshape with a non-constant shape */
    h_init(&h, "Reshape", 13);
    int64_t d[2] = {2, 3}, two = 2;
    h_input(&h, CFP_F32, 2, d, false);
    h_input(&h, CFP_I64, 1, &two, false);
    h.v[1].is_input = false; /* an activation: no data at plan time */
    CHECK_EQ(h_run(&h, 1), CFP_E_UNSUPPORTED);
    CHECK(strstr(cfp_errmsg(h.ctx), "must be constant") != NULL);
    h_free(&h);
    /* Reshape to a wrong element count */
    h_init(&h, "Reshape", 13);
    h_input(&h, CFP_F32, 2, d, false);
    int64_t bad[2] = {4, -1};
    h_input_ints(&h, 2, bad);
    CHECK_EQ(h_run(&h, 1), CFP_E_SHAPE);
    h_free(&h);
    /* Pad mode wrap is unsupported, naming the mode */
    h_init(&h, "Pad", 19);
    h_input(&h, CFP_F32, 2, d, false);
    int64_t pads[4] = {0, 0, 0, 0};
    h_input_ints(&h, 4, pads);
    h_attr_str(&h, "mode", "wrap");
    CHECK_EQ(h_run(&h, 1), CFP_E_UNSUPPORTED);
    CHECK(strstr(cfp_errmsg(h.ctx), "wrap") != NULL);
    h_free(&h);
    /* Gather index out of range */
    h_init(&h, "Gather", 13);
    h_input(&h, CFP_F32, 2, d, false);
    int64_t ix[1] = {5};
    h_input_ints(&h, 1, ix);
    CHECK_EQ(h_run(&h, 1), CFP_E_INVALID);
    h_free(&h);
    /* Add of incompatible shapes */
    h_init(&h, "Add", 14);
    int64_t e[2] = {2, 4};
    h_input(&h, CFP_F32, 2, d, false);
    h_input(&h, CFP_F32, 2, e, false);
    CHECK_EQ(h_run(&h, 1), CFP_E_SHAPE);
    h_free(&h);
}
