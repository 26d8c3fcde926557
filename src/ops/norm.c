/* BatchNormalization, inference mode (opsets 6-17), any rank >= 2:
 *   Y = (X - mean) / sqrt(var + epsilon) * scale + B
 * per channel (axis 1); with opsets 6-8 spatial=0 the statistics are per
 * (C, D1, ..., Dn) element instead. Training mode (opset 6 is_test=0,
 * opset 14+ training_mode=1) and training outputs that something reads are
 * rejected. */
#include "conv_kernels.h"
#include "simd.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    const float *x;
    float *y;
    const float *a, *b; /* y = x * a + b, per channel (or per element of C x S) */
    int64_t C, S;
    int per_elem;
} bn_job;

CFP_HOT static void
bn_plane(const float *x, float *y, int64_t S, float a, float b, const float *av,
         const float *bv) {
    if (av)
        for (int64_t i = 0; i < S; i++) y[i] = x[i] * av[i] + bv[i];
    else
        for (int64_t i = 0; i < S; i++) y[i] = x[i] * a + b;
}

static void bn_range(void *arg, int64_t begin, int64_t end, int tid) {
    const bn_job *j = arg;
    for (int64_t i = begin; i < end; i++) { /* i = n * C + c */
        int64_t c = i % j->C;
        if (j->per_elem)
            bn_plane(j->x + i * j->S, j->y + i * j->S, j->S, 0, 0, j->a + c * j->S,
                     j->b + c * j->S);
        else
            bn_plane(j->x + i * j->S, j->y + i * j->S, j->S, j->a[c], j->b[c], NULL, NULL);
    }
}

static int bn_reshape(cfp_model *m, cfp_node *n) {
    char b1[128], b2[128];
    if (n->opset < 7 && cfp_attr_i(n, "is_test", 0) == 0)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "is_test=0 (training) is not supported (inference only)");
    if (n->opset >= 14 && cfp_attr_i(n, "training_mode", 0) != 0)
        return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                             "training_mode=1 is not supported (inference only)");
    for (int i = 0; i < 5; i++) {
        cfp_value *v = cfp_in(m, n, i);
        if (!v)
            return cfp_node_fail(m, n, CFP_E_INVALID,
                                 "expected 5 inputs (X, scale, B, mean, var), input %d missing",
                                 i);
        if (v->t.dtype != CFP_F32)
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                 "input %d ('%s'): only float32 is supported, got %s", i, v->name,
                                 cfp_dtype_name(v->t.dtype));
    }
    /* extra outputs (running / saved statistics) exist only in training */
    for (int i = 1; i < n->n_out; i++) {
        cfp_value *o = cfp_out(m, n, i);
        if (o && (o->n_consumers > 0 || o->is_output))
            return cfp_node_fail(m, n, CFP_E_UNSUPPORTED,
                                 "output %d ('%s') is a training output; only inference "
                                 "(one output) is supported",
                                 i, o->name);
    }
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    if (x->ndim < 2)
        return cfp_node_fail(m, n, CFP_E_SHAPE, "X must have rank >= 2 (N, C, ...), got %s",
                             cfp_shape_str(x, b1, sizeof b1));
    int spatial = n->opset < 9 ? (int)cfp_attr_i(n, "spatial", 1) : 1;
    int64_t C = x->dims[1], S = 1;
    for (int i = 2; i < x->ndim; i++) S *= x->dims[i];
    int64_t want = spatial ? C : C * S;
    for (int i = 1; i < 5; i++) {
        const cfp_tensor *t = &cfp_in(m, n, i)->t;
        if (cfp_tensor_numel(t) != want || (spatial && t->ndim != 1))
            return cfp_node_fail(m, n, CFP_E_SHAPE,
                                 "input %d must have %s%lld elements for X %s, got %s", i,
                                 spatial ? "shape (C): " : "", (long long)want,
                                 cfp_shape_str(x, b1, sizeof b1), cfp_shape_str(t, b2, sizeof b2));
    }
    int rc = cfp_tensor_shape(&cfp_out(m, n, 0)->t, CFP_F32, x->ndim, x->dims);
    if (rc) return cfp_node_fail(m, n, rc, "output too large");
    /* unused training outputs: shaped like the statistics, filled in run */
    for (int i = 1; i < n->n_out; i++) {
        cfp_value *o = cfp_out(m, n, i);
        if (o && (rc = cfp_tensor_shape(&o->t, CFP_F32, 1, &want)))
            return cfp_node_fail(m, n, rc, "output too large");
    }
    return CFP_OK;
}

static int bn_run(cfp_model *m, cfp_node *n) {
    const cfp_tensor *x = &cfp_in(m, n, 0)->t;
    const float *scale = cfp_in(m, n, 1)->t.data, *bias = cfp_in(m, n, 2)->t.data;
    const float *mean = cfp_in(m, n, 3)->t.data, *var = cfp_in(m, n, 4)->t.data;
    float eps = cfp_attr_f(n, "epsilon", 1e-5f);
    int64_t C = x->dims[1], S = 1;
    for (int i = 2; i < x->ndim; i++) S *= x->dims[i];
    int64_t P = cfp_tensor_numel(&cfp_in(m, n, 1)->t);
    float *ab = malloc((size_t)(2 * P > 0 ? 2 * P : 1) * sizeof(float));
    if (!ab) return cfp_node_fail(m, n, CFP_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < P; i++) {
        double a = (double)scale[i] / sqrt((double)var[i] + (double)eps);
        ab[i] = (float)a;
        ab[P + i] = (float)((double)bias[i] - (double)mean[i] * a);
    }
    bn_job j = {x->data, cfp_out(m, n, 0)->t.data, ab, ab + P, C, S, P != C};
    cfp_parallel_for(m->ctx->pool, x->dims[0] * C, 1 + 16384 / (S + 1), bn_range, &j);
    free(ab);
    /* unused statistics outputs (old exporters declare them): the running
     * statistics, unchanged in inference */
    for (int i = 1; i < n->n_out && i < 3; i++) {
        cfp_value *o = cfp_out(m, n, i);
        if (o && o->t.data) {
            const float *src = i == 1 ? mean : var;
            float *dst = o->t.data;
            for (int64_t k = 0; k < P; k++) dst[k] = src[k];
        }
    }
    return CFP_OK;
}

const cfp_op cfp_ops_norm[] = {
    {"BatchNormalization", 6, NULL, bn_reshape, bn_run, NULL},
    {0},
};
