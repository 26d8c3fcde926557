/* Gemm (opsets 6-17) and MatMul (numpy semantics, 1-13), on cblas_sgemm.
 *
 * OpenBLAS is kept single-threaded (cfp_blas_init); cfp_sgemm_par splits one
 * product across our pool along its larger output dimension, so each thread
 * repacks only the smaller operand. */
#include "conv_kernels.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- parallel sgemm ------------------------------------------------------- */

typedef struct {
    int transA, transB;
    int64_t M, N, K, lda, ldb, ldc, chunk;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int split_m;
} sgemm_job;

static void sgemm_call(const sgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    if (m1 <= m0 || n1 <= n0) return;
    const float *A = j->A + (j->transA ? m0 : m0 * j->lda);
    const float *B = j->B + (j->transB ? n0 * j->ldb : n0);
    cfp_sgemm1(j->transA, j->transB, m1 - m0, n1 - n0, j->K, j->alpha, A, j->lda, B, j->ldb, j->beta,
               j->C + m0 * j->ldc + n0, j->ldc);
}

static void sgemm_range(void *arg, int64_t begin, int64_t end, int tid) {
    const sgemm_job *j = arg;
    for (int64_t c = begin; c < end; c++) {
        int64_t lo = c * j->chunk;
        if (j->split_m)
            sgemm_call(j, lo, lo + j->chunk < j->M ? lo + j->chunk : j->M, 0, j->N);
        else
            sgemm_call(j, 0, j->M, lo, lo + j->chunk < j->N ? lo + j->chunk : j->N);
    }
}

void cfp_sgemm_par(cfp_pool *pool, int transA, int transB, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc) {
    cfp_blas_init();
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = beta * C */
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k++) C[i * ldc + k] = beta == 0.0f ? 0.0f : beta * C[i * ldc + k];
        return;
    }
    sgemm_job j = {transA, transB, M, N, K, lda, ldb, ldc, 0, alpha, beta, A, B, C, 0};
    int threads = cfp_pool_threads(pool);
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (threads <= 1 || flops < 4e6 || (M < 32 && N < 32)) {
        sgemm_call(&j, 0, M, 0, N);
        return;
    }
    j.split_m = M >= N;
    int64_t len = j.split_m ? M : N;
    /* one chunk per thread, a multiple of 16 rows/columns when possible */
    int64_t chunk = (len + threads - 1) / threads;
    if (chunk > 16) chunk = (chunk + 15) / 16 * 16;
    j.chunk = chunk;
    cfp_parallel_for(pool, (len + chunk - 1) / chunk, 1, sgemm_range, &j);
}

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

static int need_f32(cfp_model *m, cfp_node *n, const cfp_value *v, int i) {
    if (v && v->t.dtype != CFP_F32)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "input %d ('%s'): only float32 is supported, got %s", i, v->name,
                             cfp_dtype_name(v->t.dtype));
    return CFP_OK;
}

/* ---- Gemm ------------------------------------------------------------------ */

static int gemm_reshape(cfp_model *m, cfp_node *n) {
    cfp_value *A = cfp_in(m, n, 0), *B = cfp_in(m, n, 1), *C = cfp_in(m, n, 2);
    char b1[128], b2[128];
    if (!A || !B) return cfp_node_fail(m, n, CFP_E_INVALID, "expected inputs A and B");
    for (int i = 0; i < 3; i++) {
        int rc = need_f32(m, n, cfp_in(m, n, i), i);
        if (rc) return rc;
    }
    if (A->t.ndim != 2 || B->t.ndim != 2)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "A and B must be 2-D, got %s and %s",
                             cfp_shape_str(&A->t, b1, sizeof b1),
                             cfp_shape_str(&B->t, b2, sizeof b2));
    int tA = cfp_attr_i(n, "transA", 0) != 0, tB = cfp_attr_i(n, "transB", 0) != 0;
    int64_t M = A->t.dims[tA], K = A->t.dims[!tA], K2 = B->t.dims[tB], N = B->t.dims[!tB];
    if (K != K2)
        return cfp_node_fail(m, n, CFP_E_SHAPE,
                             "inner dims differ: A %s%s and B %s%s", cfp_shape_str(&A->t, b1, sizeof b1),
                             tA ? " (transposed)" : "", cfp_shape_str(&B->t, b2, sizeof b2),
                             tB ? " (transposed)" : "");
    if (!fits_int(M) || !fits_int(N) || !fits_int(K))
        return cfp_node_fail(m, n, CFP_E_LIMIT, "matrix dims exceed the BLAS int range");
    if (C) {
        const cfp_tensor *c = &C->t;
        int64_t want[2] = {M, N};
        bool ok = c->ndim <= 2;
        if (n->opset < 7 && cfp_attr_i(n, "broadcast", 0) == 0) /* Gemm-6: exact shape */
            ok = c->ndim == 2 && c->dims[0] == M && c->dims[1] == N;
        for (int i = 0; ok && i < c->ndim; i++) {
            int64_t d = c->dims[c->ndim - 1 - i], w = want[1 - i];
            if (d != 1 && d != w) ok = false;
        }
        if (!ok)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "C (%s) does not broadcast to (%lld, %lld)",
                                 cfp_shape_str(c, b1, sizeof b1), (long long)M, (long long)N);
    }
    int64_t od[2] = {M, N};
    int rc = cfp_tensor_shape(&cfp_out(m, n, 0)->t, CFP_F32, 2, od);
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    return CFP_OK;
}

static int gemm_run(cfp_model *m, cfp_node *n) {
    cfp_value *A = cfp_in(m, n, 0), *B = cfp_in(m, n, 1), *C = cfp_in(m, n, 2);
    cfp_tensor *y = &cfp_out(m, n, 0)->t;
    int tA = cfp_attr_i(n, "transA", 0) != 0, tB = cfp_attr_i(n, "transB", 0) != 0;
    float alpha = cfp_attr_f(n, "alpha", 1.0f), beta = cfp_attr_f(n, "beta", 1.0f);
    int64_t M = y->dims[0], N = y->dims[1], K = A->t.dims[!tA];
    float *Y = y->data;
    float bb = 0.0f;
    if (C && beta != 0.0f) {
        const cfp_tensor *c = &C->t;
        const float *cd = c->data;
        /* strides of C broadcast to (M, N) */
        int64_t cm = 0, cn = 0;
        if (c->ndim == 2) {
            cm = c->dims[0] == 1 ? 0 : c->dims[1];
            cn = c->dims[1] == 1 ? 0 : 1;
        } else if (c->ndim == 1) {
            cn = c->dims[0] == 1 ? 0 : 1;
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k++) Y[i * N + k] = beta * cd[i * cm + k * cn];
        bb = 1.0f;
    }
    cfp_sgemm_par(m->ctx->pool, tA, tB, M, N, K, alpha, A->t.data, A->t.dims[1], B->t.data,
                  B->t.dims[1], bb, Y, N);
    return CFP_OK;
}

/* ---- MatMul ------------------------------------------------------------------ */

typedef struct {
    int nb;                       /* batch rank of the output */
    int64_t bdims[CFP_MAX_DIMS];  /* output batch dims */
    int64_t sa[CFP_MAX_DIMS], sb[CFP_MAX_DIMS]; /* batch strides in matrices (0: broadcast) */
    int64_t M, N, K, nbatch;
} matmul_plan;

static int matmul_shapes(cfp_model *m, cfp_node *n, matmul_plan *pl, int *ondim,
                         int64_t *od) {
    cfp_value *A = cfp_in(m, n, 0), *B = cfp_in(m, n, 1);
    char b1[128], b2[128];
    if (!A || !B) return cfp_node_fail(m, n, CFP_E_INVALID, "expected inputs A and B");
    for (int i = 0; i < 2; i++) {
        int rc = need_f32(m, n, cfp_in(m, n, i), i);
        if (rc) return rc;
    }
    const cfp_tensor *a = &A->t, *b = &B->t;
    if (a->ndim < 1 || b->ndim < 1)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "inputs must have rank >= 1, got %s and %s",
                             cfp_shape_str(a, b1, sizeof b1), cfp_shape_str(b, b2, sizeof b2));
    int64_t M = a->ndim == 1 ? 1 : a->dims[a->ndim - 2], K = a->dims[a->ndim - 1];
    int64_t K2 = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    int64_t N = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (K != K2)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "inner dims differ: %s x %s",
                             cfp_shape_str(a, b1, sizeof b1), cfp_shape_str(b, b2, sizeof b2));
    int ba = a->ndim > 2 ? a->ndim - 2 : 0, bb = b->ndim > 2 ? b->ndim - 2 : 0;
    int nb = ba > bb ? ba : bb;
    int rank = nb + (a->ndim > 1) + (b->ndim > 1);
    if (rank > CFP_MAX_DIMS)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "output rank %d exceeds %d", rank,
                             CFP_MAX_DIMS);
    memset(pl, 0, sizeof *pl);
    pl->nb = nb;
    pl->M = M, pl->N = N, pl->K = K;
    int64_t stA = M * K, stB = K * N; /* matrix stride, then accumulated */
    pl->nbatch = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ba), ib = i - (nb - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return cfp_node_fail(m, n, CFP_E_SHAPE, "batch dims do not broadcast: %s x %s",
                                 cfp_shape_str(a, b1, sizeof b1), cfp_shape_str(b, b2, sizeof b2));
        pl->bdims[i] = da == 1 ? db : da;
        pl->sa[i] = da == 1 ? 0 : stA;
        pl->sb[i] = db == 1 ? 0 : stB;
        stA *= da;
        stB *= db;
        pl->nbatch *= pl->bdims[i];
    }
    if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(M * pl->nbatch))
        return cfp_node_fail(m, n, CFP_E_LIMIT, "matrix dims exceed the BLAS int range");
    int r = 0;
    for (int i = 0; i < nb; i++) od[r++] = pl->bdims[i];
    if (a->ndim > 1) od[r++] = M;
    if (b->ndim > 1) od[r++] = N;
    *ondim = r;
    return CFP_OK;
}

static int matmul_reshape(cfp_model *m, cfp_node *n) {
    matmul_plan pl;
    int64_t od[CFP_MAX_DIMS];
    int nd;
    int rc = matmul_shapes(m, n, &pl, &nd, od);
    if (rc) return rc;
    rc = cfp_tensor_shape(&cfp_out(m, n, 0)->t, CFP_F32, nd, od);
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    return CFP_OK;
}

typedef struct {
    const matmul_plan *pl;
    const float *A, *B;
    float *Y;
} batch_job;

static void batch_offsets(const matmul_plan *pl, int64_t idx, int64_t *oa, int64_t *ob) {
    int64_t a = 0, b = 0;
    for (int i = pl->nb - 1; i >= 0; i--) {
        int64_t c = idx % pl->bdims[i];
        idx /= pl->bdims[i];
        a += c * pl->sa[i];
        b += c * pl->sb[i];
    }
    *oa = a, *ob = b;
}

static void batch_range(void *arg, int64_t begin, int64_t end, int tid) {
    const batch_job *j = arg;
    const matmul_plan *pl = j->pl;
    for (int64_t i = begin; i < end; i++) {
        int64_t oa, ob;
        batch_offsets(pl, i, &oa, &ob);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pl->M, (int)pl->N, (int)pl->K,
                    1.0f, j->A + oa, (int)pl->K, j->B + ob, (int)pl->N, 0.0f,
                    j->Y + i * pl->M * pl->N, (int)pl->N);
    }
}

static int matmul_run(cfp_model *m, cfp_node *n) {
    matmul_plan pl;
    int64_t od[CFP_MAX_DIMS];
    int nd;
    int rc = matmul_shapes(m, n, &pl, &nd, od);
    if (rc) return rc;
    cfp_blas_init();
    const cfp_tensor *a = &cfp_in(m, n, 0)->t, *b = &cfp_in(m, n, 1)->t;
    float *Y = cfp_out(m, n, 0)->t.data;
    cfp_pool *pool = m->ctx->pool;
    if (pl.nbatch == 0 || pl.M == 0 || pl.N == 0) return CFP_OK;
    if (b->ndim <= 2) {
        /* B is one matrix: A's batch folds into its rows, one product */
        cfp_sgemm_par(pool, 0, 0, pl.M * pl.nbatch, pl.N, pl.K, 1.0f, a->data, pl.K, b->data,
                      pl.N, 0.0f, Y, pl.N);
        return CFP_OK;
    }
    if (pl.K == 0) {
        memset(Y, 0, (size_t)(pl.nbatch * pl.M * pl.N) * sizeof(float));
        return CFP_OK;
    }
    double flops = 2.0 * (double)pl.M * (double)pl.N * (double)pl.K;
    batch_job j = {&pl, a->data, b->data, Y};
    if (pl.nbatch >= cfp_pool_threads(pool) && flops < 64e6) {
        cfp_parallel_for(pool, pl.nbatch, (int64_t)(1 + 1e6 / (flops + 1)), batch_range, &j);
        return CFP_OK;
    }
    for (int64_t i = 0; i < pl.nbatch; i++) {
        int64_t oa, ob;
        batch_offsets(&pl, i, &oa, &ob);
        cfp_sgemm_par(pool, 0, 0, pl.M, pl.N, pl.K, 1.0f, (const float *)a->data + oa, pl.K,
                      (const float *)b->data + ob, pl.N, 0.0f, Y + i * pl.M * pl.N, pl.N);
    }
    return CFP_OK;
}

const cfp_op cfp_ops_gemm[] = {
    {"Gemm", 6, NULL, gemm_reshape, gemm_run, NULL},
    {"MatMul", 1, NULL, matmul_reshape, matmul_run, NULL},
    {0},
};
