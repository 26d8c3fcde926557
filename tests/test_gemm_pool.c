/* Gemm, MatMul, pooling, BatchNormalization and the Conv operator's
 * validation, each run as a one-node model built in memory (no loader): the
 * op's prepare / reshape / run are called the way the engine calls them. */
#include "test.h"

#include "cfp_internal.h"
#include "ops/conv_kernels.h"

#include <stdlib.h>
#include <string.h>

/* ---- a one-node model ---------------------------------------------------- */

#define FK_VALS 10
typedef struct {
    cfp_ctx ctx;
    cfp_model m;
    cfp_value vals[FK_VALS];
    cfp_node node;
    int in[6], out[4];
    cfp_attr attrs[10];
    int64_t ints[10][8];
    char names[FK_VALS][8];
} fake;

static void fk_init(fake *f, const char *op, int opset, int threads) {
    memset(f, 0, sizeof *f);
    f->ctx.threads = threads;
    f->ctx.pool = cfp_pool_new(threads);
    f->m.ctx = &f->ctx;
    f->m.values = f->vals;
    f->m.nodes = &f->node;
    f->m.n_nodes = 1;
    f->m.opset = opset;
    f->node.name = (char *)"n0";
    f->node.op_type = (char *)op;
    f->node.domain = (char *)"";
    f->node.in = f->in;
    f->node.out = f->out;
    f->node.attrs = f->attrs;
    f->node.opset = opset;
}

static cfp_value *fk_value(fake *f) {
    int id = f->m.n_values++;
    cfp_value *v = &f->vals[id];
    snprintf(f->names[id], sizeof f->names[id], "v%d", id);
    v->name = f->names[id];
    v->id = id;
    v->producer = -1;
    return v;
}

/* data is borrowed, not copied */
static void fk_input(fake *f, int ndim, const int64_t *dims, const float *data) {
    cfp_value *v = fk_value(f);
    cfp_tensor_shape(&v->t, CFP_F32, ndim, dims);
    v->t.data = (void *)data;
    v->is_input = true;
    f->in[f->node.n_in++] = v->id;
}
static void fk_omit_input(fake *f) { f->in[f->node.n_in++] = -1; }
static void fk_output(fake *f, int used) {
    cfp_value *v = fk_value(f);
    v->is_output = used;
    v->producer = 0;
    f->out[f->node.n_out++] = v->id;
}
static cfp_attr *fk_attr(fake *f, const char *name, int type) {
    cfp_attr *a = &f->attrs[f->node.n_attrs++];
    a->name = (char *)name;
    a->type = type;
    return a;
}
static void fk_attr_i(fake *f, const char *name, int64_t v) { fk_attr(f, name, CFP_ATTR_INT)->i = v; }
static void fk_attr_f(fake *f, const char *name, float v) { fk_attr(f, name, CFP_ATTR_FLOAT)->f = v; }
static void fk_attr_s(fake *f, const char *name, const char *s) {
    cfp_attr *a = fk_attr(f, name, CFP_ATTR_STRING);
    a->s = (char *)s;
    a->slen = strlen(s);
}
static void fk_attr_ints(fake *f, const char *name, int n, const int64_t *v) {
    int k = f->node.n_attrs;
    cfp_attr *a = fk_attr(f, name, CFP_ATTR_INTS);
    memcpy(f->ints[k], v, (size_t)n * sizeof *v);
    a->ints = f->ints[k];
    a->n = n;
}

/* prepare + reshape + allocate + run; the status of the first failure */
static int fk_run(fake *f) {
    const cfp_op *op = cfp_op_find(f->node.op_type);
    if (!op) return CFP_E_UNSUPPORTED;
    f->node.op = op;
    int rc = op->prepare ? op->prepare(&f->m, &f->node) : CFP_OK;
    if (!rc) rc = op->reshape(&f->m, &f->node);
    for (int i = 0; !rc && i < f->node.n_out; i++)
        if (f->out[i] >= 0) rc = cfp_tensor_alloc(&f->vals[f->out[i]].t);
    if (!rc) rc = op->run(&f->m, &f->node);
    return rc;
}
static const cfp_tensor *fk_y(fake *f) { return &f->vals[f->out[0]].t; }

static void fk_free(fake *f) {
    if (f->node.op && f->node.op->release) f->node.op->release(&f->node);
    for (int i = 0; i < f->node.n_out; i++)
        if (f->out[i] >= 0) cfp_tensor_release(&f->vals[f->out[i]].t);
    cfp_pool_free(f->ctx.pool);
}

static uint64_t rs = 1;
static uint32_t rnd(void) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rs >> 33);
}
static int64_t rin(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static float *rbuf(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)((double)rnd() / 2147483648.0 - 1.0);
    return p;
}

static void check_close(const char *what, const float *got, const double *want, int64_t n,
                        double tol) {
    double mag = 1, err = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((double)got[i] == want[i]) continue; /* also equal infinities */
        double e = fabs(got[i] - want[i]);
        if (!(e <= err)) err = e, at = i;
        if (fabs(want[i]) > mag) mag = fabs(want[i]);
    }
    if (!(err / mag < tol))
        cfp_test_fail_here(__FILE__, __LINE__, "%s: element %lld: got %.7g want %.7g", what,
                           (long long)at, got[at], want[at]);
}

/* ---- Gemm ---------------------------------------------------------------------- */

TEST(gemm_random_vs_loops) {
    rs = 42;
    for (int iter = 0; iter < 60; iter++) {
        int64_t M = rin(1, 40), N = rin(1, 40), K = rin(1, 50);
        if (iter % 10 == 0) M = rin(60, 130), N = rin(60, 130), K = rin(200, 400); /* threaded */
        int tA = (int)(rnd() % 2), tB = (int)(rnd() % 2);
        float alpha = iter % 3 ? 1.0f : 0.5f, beta = iter % 4 ? 1.0f : -2.0f;
        int cshape = (int)(rnd() % 7); /* none, scalar, (N), (1,N), (M,1), (M,N), (1) */
        int64_t adims[2] = {tA ? K : M, tA ? M : K}, bdims[2] = {tB ? N : K, tB ? K : N};
        int64_t cdims[2];
        int cnd = 0;
        switch (cshape) {
        case 1: cnd = 0; break;
        case 2: cnd = 1, cdims[0] = N; break;
        case 3: cnd = 2, cdims[0] = 1, cdims[1] = N; break;
        case 4: cnd = 2, cdims[0] = M, cdims[1] = 1; break;
        case 5: cnd = 2, cdims[0] = M, cdims[1] = N; break;
        case 6: cnd = 1, cdims[0] = 1; break;
        }
        float *A = rbuf(M * K), *B = rbuf(K * N), *C = rbuf(M * N);
        fake f;
        fk_init(&f, "Gemm", 13, 2);
        fk_input(&f, 2, adims, A);
        fk_input(&f, 2, bdims, B);
        if (cshape) fk_input(&f, cnd, cdims, C);
        fk_output(&f, 1);
        fk_attr_i(&f, "transA", tA);
        fk_attr_i(&f, "transB", tB);
        fk_attr_f(&f, "alpha", alpha);
        fk_attr_f(&f, "beta", beta);
        int rc = fk_run(&f);
        CHECK_EQ(rc, CFP_OK);
        if (!rc) {
            CHECK_EQ(fk_y(&f)->dims[0], M);
            CHECK_EQ(fk_y(&f)->dims[1], N);
            double *want = malloc((size_t)(M * N) * sizeof(double));
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double s = 0;
                    for (int64_t k = 0; k < K; k++)
                        s += (double)(tA ? A[k * M + i] : A[i * K + k]) *
                             (tB ? B[j * K + k] : B[k * N + j]);
                    double c = 0;
                    switch (cshape) {
                    case 1: case 6: c = C[0]; break;
                    case 2: case 3: c = C[j]; break;
                    case 4: c = C[i]; break;
                    case 5: c = C[i * N + j]; break;
                    }
                    want[i * N + j] = alpha * s + beta * c;
                }
            char what[96];
            snprintf(what, sizeof what, "Gemm M%lld N%lld K%lld tA%d tB%d C%d", (long long)M,
                     (long long)N, (long long)K, tA, tB, cshape);
            check_close(what, fk_y(&f)->data, want, M * N, 1e-5);
            free(want);
        }
        fk_free(&f);
        free(A), free(B), free(C);
    }
}

TEST(gemm_bad_shapes) {
    float a[6] = {0}, b[6] = {0}, c[4] = {0};
    fake f;
    fk_init(&f, "Gemm", 13, 1);
    fk_input(&f, 2, (int64_t[]){2, 3}, a);
    fk_input(&f, 2, (int64_t[]){2, 3}, b); /* needs transB */
    fk_output(&f, 1);
    CHECK_EQ(fk_run(&f), CFP_E_SHAPE);
    fk_free(&f);
    fk_init(&f, "Gemm", 13, 1);
    fk_input(&f, 2, (int64_t[]){2, 3}, a);
    fk_input(&f, 2, (int64_t[]){3, 2}, b);
    fk_input(&f, 1, (int64_t[]){4}, c); /* does not broadcast to 2x2 */
    fk_output(&f, 1);
    CHECK_EQ(fk_run(&f), CFP_E_SHAPE);
    fk_free(&f);
}

/* ---- MatMul ------------------------------------------------------------------- */

static void matmul_case(int na, const int64_t *ad, int nb, const int64_t *bd, int nexp,
                        const int64_t *expect, int threads) {
    int64_t an = 1, bn = 1;
    for (int i = 0; i < na; i++) an *= ad[i];
    for (int i = 0; i < nb; i++) bn *= bd[i];
    float *A = rbuf(an), *B = rbuf(bn);
    fake f;
    fk_init(&f, "MatMul", 13, threads);
    fk_input(&f, na, ad, A);
    fk_input(&f, nb, bd, B);
    fk_output(&f, 1);
    int rc = fk_run(&f);
    CHECK_EQ(rc, CFP_OK);
    if (!rc) {
        const cfp_tensor *y = fk_y(&f);
        CHECK_EQ(y->ndim, nexp);
        int ok = y->ndim == nexp;
        for (int i = 0; ok && i < nexp; i++) ok = y->dims[i] == expect[i];
        CHECK(ok);
        if (ok) {
            /* numpy semantics computed independently: promote, broadcast, multiply */
            int64_t A2[CFP_MAX_DIMS], B2[CFP_MAX_DIMS];
            int ra = na, rb = nb;
            for (int i = 0; i < na; i++) A2[i] = ad[i];
            for (int i = 0; i < nb; i++) B2[i] = bd[i];
            if (na == 1) A2[1] = A2[0], A2[0] = 1, ra = 2;
            if (nb == 1) B2[1] = 1, rb = 2;
            int64_t M = A2[ra - 2], K = A2[ra - 1], N = B2[rb - 1];
            int r = ra > rb ? ra : rb; /* full rank incl. matrix dims */
            int64_t ob[CFP_MAX_DIMS], nbatch = 1;
            for (int i = 0; i < r - 2; i++) {
                int ia = i - (r - ra), ib = i - (r - rb);
                int64_t da = ia >= 0 ? A2[ia] : 1, db = ib >= 0 ? B2[ib] : 1;
                ob[i] = da > db ? da : db;
                nbatch *= ob[i];
            }
            double *want = malloc((size_t)(nbatch * M * N) * sizeof(double));
            for (int64_t bi = 0; bi < nbatch; bi++) {
                int64_t rem = bi, offa = 0, offb = 0, sa = M * K, sb = K * N;
                for (int i = r - 3; i >= 0; i--) {
                    int64_t c = rem % ob[i];
                    rem /= ob[i];
                    int ia = i - (r - ra), ib = i - (r - rb);
                    int64_t da = ia >= 0 ? A2[ia] : 1, db = ib >= 0 ? B2[ib] : 1;
                    if (da > 1) offa += c * sa;
                    if (db > 1) offb += c * sb;
                    sa *= da;
                    sb *= db;
                }
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = 0;
                        for (int64_t k = 0; k < K; k++)
                            s += (double)A[offa + i * K + k] * B[offb + k * N + j];
                        want[(bi * M + i) * N + j] = s;
                    }
            }
            check_close("MatMul", y->data, want, nbatch * M * N, 1e-5);
            free(want);
        }
    }
    fk_free(&f);
    free(A), free(B);
}

TEST(matmul_numpy_semantics) {
    rs = 7;
    for (int t = 1; t <= 2; t++) {
        matmul_case(1, (int64_t[]){5}, 1, (int64_t[]){5}, 0, NULL, t);
        matmul_case(1, (int64_t[]){5}, 2, (int64_t[]){5, 3}, 1, (int64_t[]){3}, t);
        matmul_case(2, (int64_t[]){4, 5}, 1, (int64_t[]){5}, 1, (int64_t[]){4}, t);
        matmul_case(3, (int64_t[]){2, 4, 5}, 1, (int64_t[]){5}, 2, (int64_t[]){2, 4}, t);
        matmul_case(1, (int64_t[]){5}, 3, (int64_t[]){2, 5, 3}, 2, (int64_t[]){2, 3}, t);
        matmul_case(2, (int64_t[]){4, 5}, 2, (int64_t[]){5, 3}, 2, (int64_t[]){4, 3}, t);
        matmul_case(4, (int64_t[]){2, 1, 3, 4}, 3, (int64_t[]){5, 4, 6}, 4,
                    (int64_t[]){2, 5, 3, 6}, t);
        matmul_case(3, (int64_t[]){1, 3, 4}, 3, (int64_t[]){6, 4, 2}, 3, (int64_t[]){6, 3, 2}, t);
        /* PyTorchVideo heads: (1, T, H, W, C) x (C, K) */
        matmul_case(5, (int64_t[]){1, 2, 3, 3, 64}, 2, (int64_t[]){64, 10}, 5,
                    (int64_t[]){1, 2, 3, 3, 10}, t);
        /* big enough to split across threads */
        matmul_case(3, (int64_t[]){3, 70, 120}, 3, (int64_t[]){3, 120, 90}, 3,
                    (int64_t[]){3, 70, 90}, t);
        matmul_case(2, (int64_t[]){300, 200}, 2, (int64_t[]){200, 20}, 2, (int64_t[]){300, 20}, t);
    }
}

TEST(matmul_bad_shapes) {
    float a[12] = {0}, b[12] = {0};
    fake f;
    fk_init(&f, "MatMul", 13, 1);
    fk_input(&f, 2, (int64_t[]){3, 4}, a);
    fk_input(&f, 2, (int64_t[]){3, 4}, b);
    fk_output(&f, 1);
    CHECK_EQ(fk_run(&f), CFP_E_SHAPE);
    fk_free(&f);
    fk_init(&f, "MatMul", 13, 1);
    fk_input(&f, 3, (int64_t[]){2, 2, 3}, a);
    fk_input(&f, 3, (int64_t[]){3, 3, 1}, b); /* batch 2 vs 3 */
    fk_output(&f, 1);
    CHECK_EQ(fk_run(&f), CFP_E_SHAPE);
    fk_free(&f);
}

/* ---- pooling -------------------------------------------------------------------- */

/* PyTorch-semantics reference for one axis: output length */
static int64_t ref_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe,
                       int ceil) {
    int64_t ek = d * (k - 1) + 1, num = in + pb + pe - ek;
    if (num < 0) return 0;
    int64_t o = (ceil ? (num + s - 1) / s : num / s) + 1;
    if (ceil && (o - 1) * s >= in + pb) o--;
    return o;
}

static void pool_case(int is_max, int nsp, int ceil, int cip, int threads, int auto_pad, int wide) {
    int64_t N = rin(1, 2), C = rin(1, 3), in[3], k[3], s[3], d[3], pads[6], out[3];
    for (int i = 0; i < nsp; i++) {
        in[i] = rin(1, nsp == 3 ? 7 : 12);
        if (wide && i == nsp - 1) in[i] = rin(30, 90); /* rows long enough for the vector paths */
        k[i] = rin(1, 3);
        s[i] = rin(1, 3);
        d[i] = is_max && rnd() % 3 == 0 ? 2 : 1;
        int64_t ek = d[i] * (k[i] - 1) + 1;
        pads[i] = rin(0, (ek - 1) / 2 + 1 > k[i] - 1 ? k[i] - 1 : (ek - 1) / 2 + 1);
        pads[nsp + i] = rin(0, k[i] - 1);
    }
    int ok = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t ek = d[i] * (k[i] - 1) + 1;
        if (auto_pad) { /* SAME_UPPER */
            out[i] = (in[i] + s[i] - 1) / s[i];
            int64_t t = (out[i] - 1) * s[i] + ek - in[i];
            if (t < 0) t = 0;
            pads[i] = t / 2;
            pads[nsp + i] = t - t / 2;
        } else {
            out[i] = ref_len(in[i], k[i], s[i], d[i], pads[i], pads[nsp + i], ceil);
        }
        if (out[i] < 1) ok = 0;
    }
    if (!ok) return;
    int64_t xd[5] = {N, C}, isz = 1, osz = 1;
    for (int i = 0; i < nsp; i++) xd[2 + i] = in[i], isz *= in[i], osz *= out[i];
    float *x = rbuf(N * C * isz);
    fake f;
    fk_init(&f, is_max ? "MaxPool" : "AveragePool", is_max ? 12 : 11, threads);
    fk_input(&f, 2 + nsp, xd, x);
    fk_output(&f, 1);
    fk_attr_ints(&f, "kernel_shape", nsp, k);
    fk_attr_ints(&f, "strides", nsp, s);
    if (auto_pad) fk_attr_s(&f, "auto_pad", "SAME_UPPER");
    else fk_attr_ints(&f, "pads", 2 * nsp, pads);
    if (is_max) fk_attr_ints(&f, "dilations", nsp, d);
    fk_attr_i(&f, "ceil_mode", ceil);
    if (!is_max) fk_attr_i(&f, "count_include_pad", cip);
    int rc = fk_run(&f);
    CHECK_EQ(rc, CFP_OK);
    if (!rc) {
        const cfp_tensor *y = fk_y(&f);
        for (int i = 0; i < nsp; i++) CHECK_EQ(y->dims[2 + i], out[i]);
        double *want = malloc((size_t)(N * C * osz) * sizeof(double));
        for (int64_t pl = 0; pl < N * C; pl++)
            for (int64_t o = 0; o < osz; o++) {
                int64_t oi[3], rem = o;
                for (int i = nsp - 1; i >= 0; i--) oi[i] = rem % out[i], rem /= out[i];
                double acc = is_max ? -INFINITY : 0;
                int64_t cnt = 0, cnt_pad = 1;
                for (int i = 0; i < nsp; i++) {
                    int64_t st = oi[i] * s[i] - pads[i];
                    int64_t e = st + k[i] < in[i] + pads[nsp + i] ? st + k[i] : in[i] + pads[nsp + i];
                    cnt_pad *= e - st;
                }
                int64_t kvol = 1;
                for (int i = 0; i < nsp; i++) kvol *= k[i];
                for (int64_t kk = 0; kk < kvol; kk++) {
                    int64_t ki[3], r2 = kk, off = 0, inside = 1;
                    for (int i = nsp - 1; i >= 0; i--) ki[i] = r2 % k[i], r2 /= k[i];
                    for (int i = 0; i < nsp; i++) {
                        int64_t pos = oi[i] * s[i] - pads[i] + ki[i] * d[i];
                        if (pos < 0 || pos >= in[i]) inside = 0;
                        off = off * in[i] + pos;
                    }
                    if (!inside) continue;
                    double v = x[pl * isz + off];
                    if (is_max) acc = v > acc ? v : acc;
                    else acc += v, cnt++;
                }
                want[pl * osz + o] = is_max ? acc : acc / (double)(cip ? cnt_pad : cnt);
            }
        char what[128];
        snprintf(what, sizeof what, "%s %dD ceil %d cip %d same %d", is_max ? "MaxPool" : "AvgPool",
                 nsp, ceil, cip, auto_pad);
        check_close(what, y->data, want, N * C * osz, 1e-5);
        free(want);
    }
    fk_free(&f);
    free(x);
}

TEST(pool_random_vs_loops) {
    rs = 2024;
    for (int iter = 0; iter < 300; iter++)
        pool_case(iter % 2, 1 + (iter / 2) % 3, (iter / 6) % 2, (iter / 12) % 2, 1 + iter % 2,
                  iter % 7 == 0, iter % 3 == 0);
}

TEST(pool_known_values) {
    /* onnx test_maxpool_2d_ceil / test_averagepool_2d_ceil: 4x4, k3 s2 ceil */
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    for (int is_max = 0; is_max < 2; is_max++) {
        fake f;
        fk_init(&f, is_max ? "MaxPool" : "AveragePool", 12, 1);
        fk_input(&f, 4, (int64_t[]){1, 1, 4, 4}, x);
        fk_output(&f, 1);
        fk_attr_ints(&f, "kernel_shape", 2, (int64_t[]){3, 3});
        fk_attr_ints(&f, "strides", 2, (int64_t[]){2, 2});
        fk_attr_i(&f, "ceil_mode", 1);
        CHECK_EQ(fk_run(&f), CFP_OK);
        const float *y = fk_y(&f)->data;
        CHECK_EQ(fk_y(&f)->dims[3], 2);
        static const float mx[4] = {11, 12, 15, 16}, av[4] = {6, 7.5f, 12, 13.5f};
        for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], is_max ? mx[i] : av[i], 1e-6);
        fk_free(&f);
    }
    /* a window may not start in the right padding: 1-D, 5 + pads (1,1), k2 s2 -> 3 */
    float x5[5] = {1, 2, 3, 4, 5};
    fake f;
    fk_init(&f, "MaxPool", 12, 1);
    fk_input(&f, 3, (int64_t[]){1, 1, 5}, x5);
    fk_output(&f, 1);
    fk_attr_ints(&f, "kernel_shape", 1, (int64_t[]){2});
    fk_attr_ints(&f, "strides", 1, (int64_t[]){2});
    fk_attr_ints(&f, "pads", 2, (int64_t[]){1, 1});
    fk_attr_i(&f, "ceil_mode", 1);
    CHECK_EQ(fk_run(&f), CFP_OK);
    CHECK_EQ(fk_y(&f)->dims[2], 3);
    CHECK_NEAR(((float *)fk_y(&f)->data)[0], 1, 0);
    CHECK_NEAR(((float *)fk_y(&f)->data)[2], 5, 0);
    fk_free(&f);
}

TEST(pool_rejects) {
    float x[16] = {0};
    fake f;
    /* Indices output */
    fk_init(&f, "MaxPool", 12, 1);
    fk_input(&f, 4, (int64_t[]){1, 1, 4, 4}, x);
    fk_output(&f, 1);
    fk_output(&f, 1);
    fk_attr_ints(&f, "kernel_shape", 2, (int64_t[]){2, 2});
    CHECK_EQ(fk_run(&f), CFP_E_UNSUPPORTED);
    CHECK(strstr(f.ctx.err, "Indices") != NULL);
    fk_free(&f);
    /* missing kernel_shape */
    fk_init(&f, "AveragePool", 11, 1);
    fk_input(&f, 4, (int64_t[]){1, 1, 4, 4}, x);
    fk_output(&f, 1);
    CHECK_EQ(fk_run(&f), CFP_E_INVALID);
    fk_free(&f);
    /* kernel larger than the input */
    fk_init(&f, "MaxPool", 12, 1);
    fk_input(&f, 4, (int64_t[]){1, 1, 4, 4}, x);
    fk_output(&f, 1);
    fk_attr_ints(&f, "kernel_shape", 2, (int64_t[]){5, 5});
    CHECK_EQ(fk_run(&f), CFP_E_SHAPE);
    fk_free(&f);
    /* kernel rank differs from the input's */
    fk_init(&f, "MaxPool", 12, 1);
    fk_input(&f, 4, (int64_t[]){1, 1, 4, 4}, x);
    fk_output(&f, 1);
    fk_attr_ints(&f, "kernel_shape", 3, (int64_t[]){2, 2, 2});
    CHECK_EQ(fk_run(&f), CFP_E_SHAPE);
    fk_free(&f);
}

TEST(global_pools) {
    rs = 5;
    int64_t dims[5] = {2, 3, 4, 5, 6}, S = 120;
    float *x = rbuf(2 * 3 * S);
    for (int is_max = 0; is_max < 2; is_max++) {
        fake f;
        fk_init(&f, is_max ? "GlobalMaxPool" : "GlobalAveragePool", 13, 2);
        fk_input(&f, 5, dims, x);
        fk_output(&f, 1);
        CHECK_EQ(fk_run(&f), CFP_OK);
        const cfp_tensor *y = fk_y(&f);
        CHECK_EQ(y->ndim, 5);
        CHECK_EQ(y->dims[1], 3);
        CHECK_EQ(y->dims[4], 1);
        double want[6];
        for (int p = 0; p < 6; p++) {
            double a = is_max ? -INFINITY : 0;
            for (int64_t i = 0; i < S; i++) {
                double v = x[p * S + i];
                a = is_max ? (v > a ? v : a) : a + v;
            }
            want[p] = is_max ? a : a / (double)S;
        }
        check_close(is_max ? "GlobalMaxPool" : "GlobalAveragePool", y->data, want, 6, 1e-6);
        fk_free(&f);
    }
    free(x);
}

/* ---- BatchNormalization --------------------------------------------------------- */

TEST(batchnorm_inference) {
    rs = 11;
    int64_t shapes[3][5] = {{2, 4}, {2, 4, 7}, {1, 4, 3, 5, 6}};
    int ranks[3] = {2, 3, 5};
    for (int c = 0; c < 3; c++) {
        int64_t n = 1;
        for (int i = 0; i < ranks[c]; i++) n *= shapes[c][i];
        int64_t S = n / (shapes[c][0] * 4);
        float *x = rbuf(n), *sc = rbuf(4), *b = rbuf(4), *mean = rbuf(4), *var = rbuf(4);
        for (int i = 0; i < 4; i++) var[i] = var[i] * var[i] + 0.1f;
        fake f;
        fk_init(&f, "BatchNormalization", 15, 2);
        fk_input(&f, ranks[c], shapes[c], x);
        const int64_t four = 4;
        fk_input(&f, 1, &four, sc);
        fk_input(&f, 1, &four, b);
        fk_input(&f, 1, &four, mean);
        fk_input(&f, 1, &four, var);
        fk_output(&f, 1);
        fk_attr_f(&f, "epsilon", 1e-3f);
        CHECK_EQ(fk_run(&f), CFP_OK);
        double *want = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n; i++) {
            int64_t ch = (i / S) % 4;
            want[i] = (x[i] - mean[ch]) / sqrt((double)var[ch] + 1e-3) * sc[ch] + b[ch];
        }
        check_close("BatchNormalization", fk_y(&f)->data, want, n, 1e-5);
        free(want);
        fk_free(&f);
        /* training mode is refused */
        fk_init(&f, "BatchNormalization", 15, 1);
        fk_input(&f, ranks[c], shapes[c], x);
        fk_input(&f, 1, &four, sc);
        fk_input(&f, 1, &four, b);
        fk_input(&f, 1, &four, mean);
        fk_input(&f, 1, &four, var);
        fk_output(&f, 1);
        fk_attr_i(&f, "training_mode", 1);
        CHECK_EQ(fk_run(&f), CFP_E_UNSUPPORTED);
        fk_free(&f);
        /* a training output that is read is refused; an unread one is fine */
        for (int used = 0; used < 2; used++) {
            fk_init(&f, "BatchNormalization", 9, 1);
            fk_input(&f, ranks[c], shapes[c], x);
            fk_input(&f, 1, &four, sc);
            fk_input(&f, 1, &four, b);
            fk_input(&f, 1, &four, mean);
            fk_input(&f, 1, &four, var);
            fk_output(&f, 1);
            fk_output(&f, used);
            CHECK_EQ(fk_run(&f), used ? CFP_E_UNSUPPORTED : CFP_OK);
            fk_free(&f);
        }
        free(x), free(sc), free(b), free(mean), free(var);
    }
}

/* ---- Conv operator validation ---------------------------------------------------- */

static int conv_op(int64_t *xd, int xn, int64_t *wd, int wn, int64_t group,
                   const char *auto_pad, const int64_t *ks, int nks, int64_t *out_dims) {
    int64_t xs = 1, ws = 1;
    for (int i = 0; i < xn; i++) xs *= xd[i];
    for (int i = 0; i < wn; i++) ws *= wd[i];
    float *x = rbuf(xs), *w = rbuf(ws);
    fake f;
    fk_init(&f, "Conv", 11, 1);
    fk_input(&f, xn, xd, x);
    fk_input(&f, wn, wd, w);
    fk_omit_input(&f);
    fk_output(&f, 1);
    fk_attr_i(&f, "group", group);
    if (auto_pad) fk_attr_s(&f, "auto_pad", auto_pad);
    if (ks) fk_attr_ints(&f, "kernel_shape", nks, ks);
    int rc = fk_run(&f);
    if (!rc && out_dims)
        for (int i = 0; i < fk_y(&f)->ndim; i++) out_dims[i] = fk_y(&f)->dims[i];
    fk_free(&f);
    free(x), free(w);
    return rc;
}

TEST(conv_op_validation) {
    int64_t od[5];
    /* SAME_UPPER keeps the spatial size at stride 1 */
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 6, 7}, 5, (int64_t[]){8, 4, 3, 2, 3}, 5, 1, "SAME_UPPER",
                     NULL, 0, od),
             CFP_OK);
    CHECK_EQ(od[1], 8);
    CHECK_EQ(od[2], 5);
    CHECK_EQ(od[3], 6);
    CHECK_EQ(od[4], 7);
    /* groups: W's dim 1 must be C / group */
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 5}, 4, (int64_t[]){4, 2, 3, 3}, 4, 2, NULL, NULL, 0, od),
             CFP_OK);
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 5}, 4, (int64_t[]){4, 4, 3, 3}, 4, 2, NULL, NULL, 0, NULL),
             CFP_E_SHAPE);
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 5}, 4, (int64_t[]){3, 2, 3, 3}, 4, 2, NULL, NULL, 0, NULL),
             CFP_E_SHAPE);
    /* kernel_shape must match W */
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 5}, 4, (int64_t[]){4, 4, 3, 3}, 4, 1, NULL,
                     (int64_t[]){2, 2}, 2, NULL),
             CFP_E_SHAPE);
    /* kernel larger than the input */
    CHECK_EQ(conv_op((int64_t[]){1, 4, 2, 2}, 4, (int64_t[]){4, 4, 3, 3}, 4, 1, NULL, NULL, 0, NULL),
             CFP_E_SHAPE);
    /* ranks */
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 5}, 4, (int64_t[]){4, 4, 3}, 3, 1, NULL, NULL, 0, NULL),
             CFP_E_SHAPE);
    CHECK_EQ(conv_op((int64_t[]){1, 1, 2, 2, 2, 2}, 6, (int64_t[]){1, 1, 1, 1, 1, 1}, 6, 1, NULL,
                     NULL, 0, NULL),
             CFP_E_UNSUPPORTED);
    CHECK_EQ(conv_op((int64_t[]){1, 4, 5, 5}, 4, (int64_t[]){4, 4, 3, 3}, 4, 1, "BOGUS", NULL, 0,
                     NULL),
             CFP_E_INVALID);
}

/* opset 7-8 spatial=0: statistics per (C, D1, ...) element */
TEST(batchnorm_spatial0) {
    rs = 13;
    int64_t xd[3] = {2, 3, 4}, sd[2] = {3, 4};
    float *x = rbuf(24), *sc = rbuf(12), *b = rbuf(12), *mean = rbuf(12), *var = rbuf(12);
    for (int i = 0; i < 12; i++) var[i] = var[i] * var[i] + 0.5f;
    fake f;
    fk_init(&f, "BatchNormalization", 7, 1);
    fk_input(&f, 3, xd, x);
    fk_input(&f, 2, sd, sc);
    fk_input(&f, 2, sd, b);
    fk_input(&f, 2, sd, mean);
    fk_input(&f, 2, sd, var);
    fk_output(&f, 1);
    fk_attr_i(&f, "spatial", 0);
    CHECK_EQ(fk_run(&f), CFP_OK);
    double want[24];
    for (int i = 0; i < 24; i++) {
        int e = i % 12;
        want[i] = (x[i] - mean[e]) / sqrt((double)var[e] + 1e-5) * sc[e] + b[e];
    }
    check_close("BatchNormalization spatial=0", fk_y(&f)->data, want, 24, 1e-5);
    fk_free(&f);
    free(x), free(sc), free(b), free(mean), free(var);
}
