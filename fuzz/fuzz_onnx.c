/* libFuzzer target: the ONNX model decoder, and what a loaded model goes
 * through next — shape inference for its declared inputs, a run when the
 * graph is cheap enough, the Class Feature Pyramid of the run. */
#include "cfp.h"

#include <stdlib.h>
#include <string.h>

/* Rough multiply-accumulate count of a run, from the inferred shapes: each
 * output element costs the per-row size of the node's largest constant input
 * (a Conv kernel's Cin*kT*kH*kW, a Gemm weight's row). Keeps slow units out. */
static double run_cost(cfp_model *m) {
    double cost = 0;
    for (int i = 0; i < cfp_model_n_nodes(m); i++) {
        cfp_node *n = cfp_model_node(m, i);
        double per = 1;
        for (int k = 0; k < cfp_node_n_inputs(n); k++) {
            cfp_value *v = cfp_node_input(n, k);
            if (!v || (k != 1 && !cfp_value_is_const(v))) continue;
            const cfp_tensor *t = cfp_value_tensor(v);
            double e = (double)cfp_tensor_numel(t);
            if (t->ndim > 1 && t->dims[0] > 0) e /= (double)t->dims[0];
            if (e > per) per = e;
        }
        for (int k = 0; k < cfp_node_n_outputs(n); k++) {
            cfp_value *v = cfp_node_output(n, k);
            if (v) cost += per * (double)cfp_tensor_numel(cfp_value_tensor(v));
        }
    }
    return cost;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cfp_ctx *ctx;
    if (!ctx) {
        if (cfp_ctx_new(&ctx, 1)) abort();
        cfp_ctx_set_max_memory(ctx, 64u << 20);
    }
    cfp_model *m = NULL;
    if (cfp_model_load_mem(ctx, data, size, "fuzz.onnx", &m)) {
        if (!cfp_errmsg(ctx)[0]) abort(); /* every failure says why */
        return 0;
    }
    enum { MAX_IN = 4 };
    cfp_tensor in[MAX_IN];
    memset(in, 0, sizeof in);
    int n_in = cfp_model_n_inputs(m), ok = n_in <= MAX_IN;
    for (int i = 0; ok && i < n_in; i++) {
        int dtype;
        int64_t dims[CFP_MAX_DIMS];
        int nd = cfp_value_declared(cfp_model_input(m, i), &dtype, dims, NULL);
        if (nd < 0) nd = 0;
        in[i].dtype = dtype ? dtype : CFP_F32;
        in[i].ndim = nd;
        size_t es = cfp_dtype_size(in[i].dtype), numel = 1;
        if (!es) es = 4;
        for (int d = 0; d < nd; d++) {
            in[i].dims[d] = dims[d] < 0 ? 1 : dims[d];
            if (in[i].dims[d] > (1 << 16)) ok = 0;
            else numel *= (size_t)in[i].dims[d];
            if (numel > (1u << 18)) ok = 0;
        }
        if (!ok) break;
        in[i].nbytes = numel * es;
        in[i].data = calloc(numel ? numel : 1, es);
        if (!in[i].data) ok = 0;
    }
    if (ok && cfp_model_infer_shapes(m, n_in, in) == 0 && cfp_model_activation_bytes(m) <= (8u << 20) &&
        run_cost(m) < 2e7 && cfp_model_run(m, n_in, in) == 0) {
        cfp_pyramid_params p;
        cfp_pyramid_params_default(&p);
        cfp_pyramid *pyr = NULL;
        if (cfp_pyramid_build(m, &p, &pyr) == 0) {
            cfp_volume vol;
            if (cfp_map_saliency_tubes(pyr, &vol) == 0) cfp_volume_free(&vol);
            for (int i = 0; i < cfp_pyramid_n_nodes(pyr) && i < 4; i++) {
                if (cfp_map_kernelwise(pyr, i, &vol) == 0) cfp_volume_free(&vol);
                if (cfp_map_own(pyr, i, &vol) == 0) cfp_volume_free(&vol);
            }
            cfp_pyramid_free(pyr);
        }
    }
    for (int i = 0; i < MAX_IN; i++) free(in[i].data);
    cfp_model_free(m);
    return 0;
}
