/* cfp info, cfp run, cfp bench: the model and engine commands. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 8

/* ---- shared option parsing -------------------------------------------------- */

typedef struct {
    const char *model;
    const char *inputs[MAX_IO], *outputs[MAX_IO];
    int n_inputs, n_outputs;
    int threads, repeat, warmup;
    int json;
    const char *input_shape;
    int explain, explain_repeat; /* bench --explain: time the back-step too */
    int no_keep;                 /* bench --no-keep: plain inference, nothing kept */
    cfp_pyramid_params pyr;
} opts;

static int parse_opts(const char *cmd, int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->repeat = 10;
    o->warmup = 2;
    o->explain_repeat = 100;
    cfp_pyramid_params_default(&o->pyr);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used, r = cli_pyramid_flag(cmd, &o->pyr, a, val, &used);
        if (r == 2) return 2;
        if (r == 1) {
            i += used;
            continue;
        }
#define NEED_VAL() \
    if (!val) return cli_usage(cmd, "%s needs a value", a); \
    i++
        if (strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0) {
            NEED_VAL();
            if (o->n_inputs == MAX_IO) return cli_usage(cmd, "at most %d inputs", MAX_IO);
            o->inputs[o->n_inputs++] = val;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            NEED_VAL();
            if (o->n_outputs == MAX_IO) return cli_usage(cmd, "at most %d outputs", MAX_IO);
            o->outputs[o->n_outputs++] = val;
        } else if (strcmp(a, "--threads") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 256, &o->threads)) return 2;
        } else if (strcmp(a, "--repeat") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 100000, &o->repeat)) return 2;
        } else if (strcmp(a, "--warmup") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 0, 100000, &o->warmup)) return 2;
        } else if (strcmp(a, "--input-shape") == 0) {
            NEED_VAL();
            o->input_shape = val;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--explain") == 0) {
            o->explain = 1;
        } else if (strcmp(a, "--no-keep") == 0 && strcmp(cmd, "bench") == 0) {
            o->no_keep = 1;
        } else if (strcmp(a, "--explain-repeat") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 1000000, &o->explain_repeat)) return 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(cmd, "unknown option '%s'", a);
        } else if (!o->model) {
            o->model = a;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", a);
        }
#undef NEED_VAL
    }
    if (!o->model) return cli_usage(cmd, "no model given");
    return 0;
}

static int open_model(const opts *o, cfp_ctx **ctx, cfp_model **m, double *load_ms) {
    if (cli_ctx_new(ctx, o->threads)) return cli_die("out of memory");
    double t0 = cli_now_ms();
    if (cfp_model_load(*ctx, o->model, m)) return cli_die("%s", cfp_errmsg(*ctx));
    if (load_ms) *load_ms = cli_now_ms() - t0;
    return 0;
}

static int read_inputs(cfp_ctx *ctx, cfp_model *m, const opts *o, cfp_tensor *in) {
    if (o->n_inputs != cfp_model_n_inputs(m))
        return cli_die("the model has %d input%s, %d given with -i", cfp_model_n_inputs(m),
                   cfp_model_n_inputs(m) == 1 ? "" : "s", o->n_inputs);
    for (int i = 0; i < o->n_inputs; i++)
        if (cfp_tensor_read_pb(ctx, o->inputs[i], &in[i], NULL)) return cli_die("%s", cfp_errmsg(ctx));
    return 0;
}

/* ---- info ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int count;
} hist_entry;

static int is_layer(cfp_node *n, const cfp_value **weight) {
    const char *op = cfp_node_op(n);
    cfp_value *w = cfp_node_input(n, 1);
    if (!w || !cfp_value_is_const(w)) return 0;
    if (strcmp(op, "Conv") && strcmp(op, "Gemm") && strcmp(op, "MatMul")) return 0;
    *weight = w;
    return 1;
}

static int parse_shape(const char *s, cfp_tensor *t) {
    memset(t, 0, sizeof *t);
    while (*s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || v <= 0 || t->ndim == CFP_MAX_DIMS) return -1;
        t->dims[t->ndim++] = v;
        s = end;
        if (*s == 'x' || *s == ',') s++;
        else if (*s) return -1;
    }
    return t->ndim ? 0 : -1;
}

static int cmd_info(int argc, char **argv) {
    opts o;
    int rc = parse_opts("info", argc, argv, &o);
    if (rc) return rc;
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    if ((rc = open_model(&o, &ctx, &m, NULL))) goto out;

    /* shapes: from --input-shape, else declared static shapes */
    int shapes_known = 1;
    cfp_tensor in[MAX_IO] = {0};
    int n_in = cfp_model_n_inputs(m);
    if (n_in > MAX_IO) n_in = MAX_IO, shapes_known = 0;
    for (int i = 0; i < n_in; i++) {
        cfp_value *v = cfp_model_input(m, i);
        int dtype;
        int64_t dims[CFP_MAX_DIMS];
        int nd = cfp_value_declared(v, &dtype, dims, NULL);
        in[i].dtype = dtype ? dtype : CFP_F32;
        if (i == 0 && o.input_shape) {
            cfp_tensor t;
            if (parse_shape(o.input_shape, &t)) {
                rc = cli_usage("info", "--input-shape expects dims like 1x3x16x112x112, got '%s'", o.input_shape);
                goto out;
            }
            in[i].ndim = t.ndim;
            memcpy(in[i].dims, t.dims, sizeof t.dims);
        } else {
            if (nd < 0) shapes_known = 0;
            in[i].ndim = nd < 0 ? 0 : nd;
            for (int d = 0; d < in[i].ndim; d++) {
                if (dims[d] < 0) shapes_known = 0;
                in[i].dims[d] = dims[d] < 0 ? 1 : dims[d];
            }
        }
        int64_t n = 1;
        for (int d = 0; d < in[i].ndim; d++) n *= in[i].dims[d];
        size_t es = cfp_dtype_size(in[i].dtype);
        if (!es || n > (int64_t)1 << 32) shapes_known = 0;
        else if (shapes_known) {
            in[i].nbytes = (size_t)n * es;
            in[i].data = calloc(1, in[i].nbytes + 1);
            in[i].owned = 1;
        }
    }
    char shape_err[1024] = "";
    if (shapes_known && cfp_model_infer_shapes(m, n_in, in)) {
        snprintf(shape_err, sizeof shape_err, "%s", cfp_errmsg(ctx));
        shapes_known = 0;
    }
    for (int i = 0; i < n_in; i++) cfp_tensor_free(&in[i]);

    /* op histogram, layers, parameters */
    hist_entry hist[256];
    int n_hist = 0;
    int64_t params = 0, total_macs = 0;
    for (int i = 0; i < cfp_model_n_values(m); i++) {
        cfp_value *v = cfp_model_value(m, i);
        if (cfp_value_is_const(v) && !cfp_value_producer(v)) {
            const cfp_tensor *t = cfp_value_tensor(v);
            if (t->dtype == CFP_F32) params += cfp_tensor_numel(t);
        }
    }
    FILE *f = stdout;
    if (o.json) {
        fprintf(f, "{\"model\": ");
        cli_json_str(f, o.model);
        fprintf(f, ", \"ir_version\": %" PRId64 ", \"opset\": %" PRId64 ", \"producer\": ", cfp_model_ir_version(m),
                cfp_model_opset(m));
        cli_json_str(f, cfp_model_producer(m));
        fprintf(f, ", \"inputs\": [");
    } else {
        printf("model    %s\nformat   ONNX IR %" PRId64 ", opset %" PRId64 "%s%s\n", o.model, cfp_model_ir_version(m),
               cfp_model_opset(m), *cfp_model_producer(m) ? ", from " : "", cfp_model_producer(m));
        printf("inputs\n");
    }
    for (int i = 0; i < cfp_model_n_inputs(m); i++) {
        cfp_value *v = cfp_model_input(m, i);
        int dtype;
        int64_t dims[CFP_MAX_DIMS];
        const char *params_[CFP_MAX_DIMS];
        int nd = cfp_value_declared(v, &dtype, dims, params_);
        char buf[256] = "";
        size_t k = 0;
        for (int d = 0; d < nd && k < sizeof buf; d++) {
            if (dims[d] >= 0) k += (size_t)snprintf(buf + k, sizeof buf - k, d ? "x%" PRId64 : "%" PRId64, dims[d]);
            else k += (size_t)snprintf(buf + k, sizeof buf - k, d ? "x%s" : "%s", params_[d] ? params_[d] : "?");
        }
        if (o.json) {
            fprintf(f, "%s{\"name\": ", i ? ", " : "");
            cli_json_str(f, cfp_value_name(v));
            fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", cfp_dtype_name(dtype));
            for (int d = 0; d < nd; d++) {
                if (dims[d] >= 0) fprintf(f, "%s%" PRId64, d ? ", " : "", dims[d]);
                else {
                    fprintf(f, "%s", d ? ", " : "");
                    cli_json_str(f, params_[d] ? params_[d] : "?");
                }
            }
            fprintf(f, "]}");
        } else {
            printf("  %-24s %s %s\n", cfp_value_name(v), cfp_dtype_name(dtype), nd < 0 ? "(rank unknown)" : buf);
        }
    }
    if (o.json) fprintf(f, "], \"outputs\": [");
    else printf("outputs\n");
    for (int i = 0; i < cfp_model_n_outputs(m); i++) {
        cfp_value *v = cfp_model_output(m, i);
        char buf[256] = "?";
        if (shapes_known) cli_shape_str(cfp_value_tensor(v), buf, sizeof buf);
        if (o.json) {
            fprintf(f, "%s{\"name\": ", i ? ", " : "");
            cli_json_str(f, cfp_value_name(v));
            fprintf(f, ", \"shape\": ");
            cli_json_str(f, buf);
            fprintf(f, "}");
        } else {
            printf("  %-24s %s\n", cfp_value_name(v), buf);
        }
    }
    for (int i = 0; i < cfp_model_n_nodes(m); i++) {
        const char *op = cfp_node_op(cfp_model_node(m, i));
        int k = 0;
        while (k < n_hist && strcmp(hist[k].name, op)) k++;
        if (k == n_hist && n_hist < 256) hist[n_hist++] = (hist_entry){op, 0};
        if (k < n_hist) hist[k].count++;
    }
    if (o.json) {
        fprintf(f, "], \"ops\": {");
        for (int k = 0; k < n_hist; k++) {
            fprintf(f, "%s", k ? ", " : "");
            cli_json_str(f, hist[k].name);
            fprintf(f, ": %d", hist[k].count);
        }
        fprintf(f, "}, \"layers\": [");
    } else {
        printf("operators (%d nodes)\n ", cfp_model_n_nodes(m));
        for (int k = 0; k < n_hist; k++) printf(" %s×%d", hist[k].name, hist[k].count);
        printf("\nlayers\n  %-40s %-8s %-12s %5s %6s %6s %14s %12s\n", "name", "op", "kernel", "group", "in", "out",
               "output", "MACs");
    }
    int n_layers = 0;
    for (int i = 0; i < cfp_model_n_nodes(m); i++) {
        cfp_node *n = cfp_model_node(m, i);
        const cfp_value *w;
        if (!is_layer(n, &w)) continue;
        const cfp_tensor *wt = cfp_value_tensor(w);
        const char *op = cfp_node_op(n);
        int64_t group = 1, cin = 0, cout = 0, macs = 0;
        char kern[64] = "-", outs[128] = "?";
        if (strcmp(op, "Conv") == 0) {
            cfp_node_attr_int(n, "group", &group);
            if (wt->ndim >= 3) {
                cout = wt->dims[0];
                cin = wt->dims[1] * group;
                size_t k = 0;
                for (int d = 2; d < wt->ndim && k < sizeof kern; d++)
                    k += (size_t)snprintf(kern + k, sizeof kern - k, d > 2 ? "x%" PRId64 : "%" PRId64, wt->dims[d]);
            }
        } else if (wt->ndim == 2) {
            int64_t tb = 0;
            if (strcmp(op, "Gemm") == 0) cfp_node_attr_int(n, "transB", &tb);
            cin = tb ? wt->dims[1] : wt->dims[0];
            cout = tb ? wt->dims[0] : wt->dims[1];
        }
        if (shapes_known) {
            const cfp_tensor *ot = cfp_value_tensor(cfp_node_output(n, 0));
            cli_shape_str(ot, outs, sizeof outs);
            int64_t per = 1;
            if (strcmp(op, "Conv") == 0)
                for (int d = 1; d < wt->ndim; d++) per *= wt->dims[d];
            else
                per = cin;
            macs = cfp_tensor_numel(ot) * per;
            total_macs += macs;
        }
        if (o.json) {
            fprintf(f, "%s{\"name\": ", n_layers ? ", " : "");
            cli_json_str(f, cfp_node_name(n));
            fprintf(f, ", \"op\": \"%s\", \"kernel_shape\": \"%s\", \"group\": %" PRId64 ", \"in_channels\": %" PRId64
                       ", \"out_channels\": %" PRId64 ", \"output_shape\": \"%s\", \"macs\": %" PRId64 "}",
                    op, kern, group, cin, cout, outs, macs);
        } else {
            printf("  %-40.40s %-8s %-12s %5" PRId64 " %6" PRId64 " %6" PRId64 " %14s %12.4g\n", cfp_node_name(n), op,
                   kern, group, cin, cout, outs, (double)macs);
        }
        n_layers++;
    }
    if (o.json) {
        fprintf(f, "], \"parameters\": %" PRId64 ", \"macs\": ", params);
        if (shapes_known) fprintf(f, "%" PRId64 "}\n", total_macs);
        else fprintf(f, "null}\n");
    } else {
        printf("parameters %" PRId64 " (%.2f M)\n", params, params / 1e6);
        if (shapes_known) printf("MACs       %.3f G (%.3f GFLOP)\n", total_macs / 1e9, 2 * total_macs / 1e9);
        else if (shape_err[0]) printf("MACs       unknown: %s\n", shape_err);
        else printf("MACs       unknown: the input has dynamic axes; pass --input-shape\n");
    }
out:
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

/* ---- run ------------------------------------------------------------------ */

static int cmd_run(int argc, char **argv) {
    opts o;
    int rc = parse_opts("run", argc, argv, &o);
    if (rc) return rc;
    if (o.n_inputs == 0) return cli_usage("run", "no input given (-i IN.pb)");
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    cfp_tensor in[MAX_IO] = {0};
    if ((rc = open_model(&o, &ctx, &m, NULL))) goto out;
    if ((rc = read_inputs(ctx, m, &o, in))) goto out;
    if (o.n_outputs > cfp_model_n_outputs(m)) {
        rc = cli_die("the model has %d output%s, %d given with -o", cfp_model_n_outputs(m),
                 cfp_model_n_outputs(m) == 1 ? "" : "s", o.n_outputs);
        goto out;
    }
    double t0 = cli_now_ms();
    if (cfp_model_run(m, o.n_inputs, in)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t1 = cli_now_ms();
    for (int i = 0; i < cfp_model_n_outputs(m); i++) {
        cfp_value *v = cfp_model_output(m, i);
        const cfp_tensor *t = cfp_value_tensor(v);
        char buf[128];
        cli_shape_str(t, buf, sizeof buf);
        printf("%s: %s %s", cfp_value_name(v), cfp_dtype_name(t->dtype), buf);
        if (t->dtype == CFP_F32 && t->ndim == 2 && t->dims[0] >= 1 && t->dims[1] > 0) {
            const float *x = t->data;
            int64_t best = 0;
            for (int64_t c = 1; c < t->dims[1]; c++)
                if (x[c] > x[best]) best = c;
            printf(", arg-max %" PRId64 " (%.4g)", best, x[best]);
        }
        printf("\n");
        if (i < o.n_outputs && cfp_tensor_write_pb(ctx, o.outputs[i], t, cfp_value_name(v))) {
            rc = cli_die("%s", cfp_errmsg(ctx));
            goto out;
        }
    }
    fprintf(stderr, "forward %.1f ms (%d thread%s, including planning)\n", t1 - t0, cfp_ctx_threads(ctx),
            cfp_ctx_threads(ctx) == 1 ? "" : "s");
out:
    for (int i = 0; i < MAX_IO; i++) cfp_tensor_free(&in[i]);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

/* ---- bench ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv) {
    opts o;
    int rc = parse_opts("bench", argc, argv, &o);
    if (rc) return rc;
    if (o.n_inputs == 0) return cli_usage("bench", "no input given (-i IN.pb)");
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    cfp_tensor in[MAX_IO] = {0};
    double load_ms = 0, *times = NULL;
    if ((rc = open_model(&o, &ctx, &m, &load_ms))) goto out;
    if ((rc = read_inputs(ctx, m, &o, in))) goto out;
    if (o.no_keep && o.explain) {
        rc = cli_usage("bench", "--explain needs the kept activations: not with --no-keep");
        goto out;
    }
    if (o.no_keep) cfp_model_set_keep(m, 0);
    double t0 = cli_now_ms();
    if (cfp_model_plan(m, o.n_inputs, in)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double plan_ms = cli_now_ms() - t0;
    times = calloc((size_t)o.repeat, sizeof *times);
    if (!times) {
        rc = cli_die("out of memory");
        goto out;
    }
    double first_ms = 0; /* the process's first pass: what a single `cfp explain` waits for */
    for (int i = 0; i < o.warmup + o.repeat; i++) {
        double s = cli_now_ms();
        if (cfp_model_run(m, o.n_inputs, in)) {
            rc = cli_die("%s", cfp_errmsg(ctx));
            goto out;
        }
        if (i == 0) first_ms = cli_now_ms() - s;
        if (i >= o.warmup) times[i - o.warmup] = cli_now_ms() - s;
    }
    qsort(times, (size_t)o.repeat, sizeof *times, cmp_double);
    double med = o.repeat % 2 ? times[o.repeat / 2] : 0.5 * (times[o.repeat / 2 - 1] + times[o.repeat / 2]);
    double act_mb = (double)cfp_model_activation_bytes(m) / (1 << 20);
    /* the back-step alone (spec §7): one warm-up build computes the pooled
     * weights, which are kept with the model */
    double bmed = 0, bmin = 0, bmax = 0;
    int levels[64] = {0}, n_nodes = 0, n_edges = 0, max_level = 0;
    if (o.explain) {
        double *bt = calloc((size_t)o.explain_repeat, sizeof *bt);
        if (!bt) {
            rc = cli_die("out of memory");
            goto out;
        }
        for (int i = -1; i < o.explain_repeat; i++) {
            cfp_pyramid *p;
            double s = cli_now_ms();
            if (cfp_pyramid_build(m, &o.pyr, &p)) {
                free(bt);
                rc = cli_die("%s", cfp_errmsg(ctx));
                goto out;
            }
            if (i >= 0) bt[i] = cli_now_ms() - s;
            else {
                n_nodes = cfp_pyramid_n_nodes(p);
                n_edges = cfp_pyramid_n_edges(p);
                for (int k = 0; k < n_nodes; k++) {
                    int l = cfp_pyramid_node_at(p, k)->level;
                    if (l < 64) levels[l]++;
                    if (l > max_level) max_level = l;
                }
            }
            cfp_pyramid_free(p);
        }
        qsort(bt, (size_t)o.explain_repeat, sizeof *bt, cmp_double);
        int r = o.explain_repeat;
        bmed = r % 2 ? bt[r / 2] : 0.5 * (bt[r / 2 - 1] + bt[r / 2]);
        bmin = bt[0];
        bmax = bt[r - 1];
        free(bt);
    }
    if (o.json && o.explain) {
        printf("{\"model\": ");
        cli_json_str(stdout, o.model);
        printf(", \"threads\": %d, \"repeat\": %d, \"warmup\": %d, \"forward_ms_median\": %.3f, \"forward_ms_min\": %.3f, "
               "\"forward_ms_max\": %.3f, \"load_ms\": %.3f, \"plan_ms\": %.3f, \"activations_mb\": %.1f, "
               "\"peak_rss_mb\": %.1f, \"backstep_ms_median\": %.4f, \"backstep_ms_min\": %.4f, \"backstep_ms_max\": %.4f, "
               "\"backstep_repeat\": %d, \"theta\": %g, \"depth\": %d, \"pyramid_nodes\": %d, \"pyramid_edges\": %d, "
               "\"nodes_per_level\": [",
               cfp_ctx_threads(ctx), o.repeat, o.warmup, med, times[0], times[o.repeat - 1], load_ms, plan_ms, act_mb,
               cli_peak_rss_mb(), bmed, bmin, bmax, o.explain_repeat, o.pyr.theta, o.pyr.depth, n_nodes, n_edges);
        for (int l = 0; l <= max_level && l < 64; l++) printf("%s%d", l ? ", " : "", levels[l]);
        printf("]}\n");
    } else if (o.json) {
        printf("{\"model\": ");
        cli_json_str(stdout, o.model);
        printf(", \"threads\": %d, \"repeat\": %d, \"warmup\": %d, \"forward_ms_median\": %.3f, \"forward_ms_min\": %.3f, "
               "\"forward_ms_max\": %.3f, \"load_ms\": %.3f, \"plan_ms\": %.3f, \"activations_mb\": %.1f, "
               "\"peak_rss_mb\": %.1f, \"keep\": %s, \"first_ms\": %.3f}\n",
               cfp_ctx_threads(ctx), o.repeat, o.warmup, med, times[0], times[o.repeat - 1], load_ms, plan_ms, act_mb,
               cli_peak_rss_mb(), o.no_keep ? "false" : "true", first_ms);
    } else {
        printf("model        %s\nthreads      %d\nforward      median %.2f ms, min %.2f, max %.2f (%d runs after %d warm-up)\n"
               "first pass   %.2f ms (the process's first: oneDNN primitives, first-touch pages)\n"
               "load         %.2f ms\nplan         %.2f ms\nactivations  %.1f MB %s\npeak RSS     %.1f MB\n",
               o.model, cfp_ctx_threads(ctx), med, times[0], times[o.repeat - 1], o.repeat, o.warmup, first_ms, load_ms,
               plan_ms, act_mb, o.no_keep ? "(--no-keep: shared by liveness)" : "kept", cli_peak_rss_mb());
        if (o.explain) {
            printf("back-step    median %.4f ms, min %.4f, max %.4f (%d runs; theta %g, depth %d)\n", bmed, bmin, bmax,
                   o.explain_repeat, o.pyr.theta, o.pyr.depth);
            printf("pyramid      %d kernels, %d edges; per level:", n_nodes, n_edges);
            for (int l = 0; l <= max_level && l < 64; l++) printf(" %d", levels[l]);
            printf("\n");
        }
    }
out:
    free(times);
    for (int i = 0; i < MAX_IO; i++) cfp_tensor_free(&in[i]);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}


const cli_command cli_cmd_info = {"info", "describe a model: inputs, outputs, layers, parameters, MACs",
    "cfp info MODEL.onnx [--json] [--input-shape 1x3x16x112x112]\n"
         "  Inputs (with dynamic axes), outputs, opset, operator histogram, the\n"
         "  layers (Conv, Gemm, MatMul with constant weights: kernel shape, group,\n"
         "  channels), parameter count and, for the given or declared input shape,\n"
         "  multiply-accumulates per layer and in total.\n",
    cmd_info};

const cli_command cli_cmd_run = {"run", "run a model on TensorProto inputs, write TensorProto outputs",
    "cfp run MODEL.onnx -i IN0.pb [-i IN1.pb ...] [-o OUT0.pb ...] [--threads N]\n"
         "  Inputs bind to the model's inputs in order; outputs are written in the\n"
         "  order of the model's outputs. Prints each output's shape (and arg-max\n"
         "  for a (1, C) vector).\n",
    cmd_run};

const cli_command cli_cmd_bench = {"bench", "time the forward pass",
    "cfp bench MODEL.onnx -i IN0.pb [-i IN1.pb ...] [--repeat N] [--warmup N] [--threads N] [--json]\n"
         "          [--no-keep]\n"
         "          [--explain [--theta 0.6] [--depth 3] [--max-children K] [--explain-repeat 100]]\n"
         "  Times the forward pass alone (load and planning excluded) over N repeats\n"
         "  (default 10, after 2 warm-up runs); prints median, min, max, load time\n"
         "  and peak resident memory. --no-keep times plain inference instead: values\n"
         "  share memory once consumed and no per-channel means are computed.\n"
         "  --explain also times the back-step alone (building\n"
         "  the pyramid from the kept activations; median of --explain-repeat runs).\n",
    cmd_bench};
