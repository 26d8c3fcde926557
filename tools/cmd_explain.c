/* cfp explain: run the model, build the Class Feature Pyramid of the chosen
 * class(es), write DIR/pyramid.json (and the tree form), print a summary. */
#include "cli.h"
#include "explain_render.h"
#include "report.h"
#include "video_input.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 8

typedef struct {
    const char *model, *video, *out, *class_arg, *labels;
    const char *inputs[MAX_IO];
    int n_inputs, topk, threads, no_render, tree, force;
    cfp_pyramid_params params;
    render_cfg render;
    cli_video_opts vo;
} explain_opts;

static int parse(int argc, char **argv, explain_opts *o) {
    memset(o, 0, sizeof *o);
    cli_video_opts_init(&o->vo);
    cfp_pyramid_params_default(&o->params);
    o->topk = 1;
    cfp_render_opts_default(&o->render.ro);
    o->render.fps = 8;
    o->render.max_nodes = 40;
    o->render.mp4 = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used, r = cli_video_flag("explain", &o->vo, a, val, &used);
        if (r == 0) r = cli_pyramid_flag("explain", &o->params, a, val, &used);
        if (r == 2) return 2;
        if (r == 1) {
            i += used;
            continue;
        }
#define NEED_VAL()                                                      \
    if (!val) return cli_usage("explain", "%s needs a value", a); \
    i++
        double d;
        if (!strcmp(a, "-i") || !strcmp(a, "--input")) {
            NEED_VAL();
            if (o->n_inputs == MAX_IO) return cli_usage("explain", "at most %d inputs", MAX_IO);
            o->inputs[o->n_inputs++] = val;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            NEED_VAL();
            o->out = val;
        } else if (!strcmp(a, "--class")) {
            NEED_VAL();
            o->class_arg = val;
        } else if (!strcmp(a, "--labels")) {
            NEED_VAL();
            o->labels = val;
        } else if (!strcmp(a, "--topk")) {
            NEED_VAL();
            if (cli_parse_int("explain", a, val, 1, 1000, &o->topk)) return 2;
        } else if (!strcmp(a, "--threads")) {
            NEED_VAL();
            if (cli_parse_int("explain", a, val, 1, 256, &o->threads)) return 2;
        } else if (!strcmp(a, "--no-render")) {
            o->no_render = 1;
        } else if (!strcmp(a, "--tree")) {
            o->tree = 1;
        } else if (!strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->render.quiet = 1;
        } else if (!strcmp(a, "--frames-png")) {
            o->render.frames_png = 1;
        } else if (!strcmp(a, "--save-volumes")) {
            o->render.save_volumes = 1;
        } else if (!strcmp(a, "--no-mp4")) {
            o->render.mp4 = 0;
        } else if (!strcmp(a, "--trilinear")) {
            o->render.ro.order = 1;
        } else if (!strcmp(a, "--per-frame")) {
            o->render.ro.per_frame = 1;
        } else if (!strcmp(a, "--colormap")) {
            NEED_VAL();
            if ((o->render.ro.cmap = cfp_colormap_find(val)) < 0)
                return cli_usage("explain", "--colormap is jet, turbo, viridis or inferno, got '%s'", val);
        } else if (!strcmp(a, "--alpha")) {
            NEED_VAL();
            if (cli_parse_float("explain", a, val, 0, 1, &d)) return 2;
            o->render.ro.alpha = (float)d;
        } else if (!strcmp(a, "--fps")) {
            NEED_VAL();
            if (cli_parse_float("explain", a, val, 0.1, 1000, &d)) return 2;
            o->render.fps = d;
        } else if (!strcmp(a, "--render-nodes")) {
            NEED_VAL();
            if (cli_parse_int("explain", a, val, -1, 1 << 30, &o->render.max_nodes)) return 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage("explain", "unknown option '%s'", a);
        } else if (!o->model) {
            o->model = a;
        } else if (!o->video) {
            o->video = a;
        } else {
            return cli_usage("explain", "unexpected argument '%s'", a);
        }
#undef NEED_VAL
    }
    if (!o->model) return cli_usage("explain", "no model given");
    if (!o->out) return cli_usage("explain", "no output folder given (--out DIR)");
    if (o->video && o->n_inputs) return cli_usage("explain", "give a video or -i inputs, not both");
    if (!o->video && !o->n_inputs) return cli_usage("explain", "no input: give a video or -i IN.pb");
    if (o->class_arg && o->topk > 1) return cli_usage("explain", "--class and --topk exclude each other");
    return cli_video_check("explain", &o->vo);
}

/* ---- labels ------------------------------------------------------------------ */

typedef struct {
    cfp_labels *l;
    int n;
} labels;

static const char *label_of(const labels *l, int64_t c) {
    return l->l && c >= 0 && c < l->n ? cfp_labels_get(l->l, (int)c) : NULL;
}

/* ---- output ------------------------------------------------------------------ */

typedef struct {
    double decode, forward, backstep, render, write;
} timing;

static void json_dims(FILE *f, const int64_t *d, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", d[i]);
    fputc(']', f);
}

/* Best incoming score of every node (1 for the class node). */
static double *node_scores(const cfp_pyramid *p) {
    int n = cfp_pyramid_n_nodes(p);
    double *s = calloc((size_t)n + 1, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < cfp_pyramid_n_edges(p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(p, i);
        if (e->score > s[e->child]) s[e->child] = e->score;
    }
    for (int i = 0; i < n; i++)
        if (cfp_pyramid_node_at(p, i)->level == 0) s[i] = 1.0;
    return s;
}

/* What data.js adds to pyramid.json for the report page
 * (assets/report/report.js documents the contract). */
typedef struct {
    const render_result *rr;
    const render_input *in;
    const render_cfg *cfg;
    const float *logits;
    int64_t n_classes;
} report_extras;

static void json_files(FILE *f, const char *base, int mp4) {
    fprintf(f, "{\"gif\": \"%s.gif\", \"mp4\": %s%s%s}", base, mp4 ? "\"" : "", mp4 ? base : "null", mp4 ? ".mp4\"" : "");
}

static void write_extras(FILE *f, const report_extras *x, const cfp_pyramid *p, const labels *lab) {
    /* top-5 by logit */
    fprintf(f, "  \"top\": [");
    int used[5] = {-1, -1, -1, -1, -1};
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < x->n_classes; c++) mx = x->logits[c] > mx ? x->logits[c] : mx;
    for (int64_t c = 0; c < x->n_classes; c++) sum += exp(x->logits[c] - mx);
    for (int r = 0; r < 5 && r < x->n_classes; r++) {
        int best = -1;
        for (int64_t c = 0; c < x->n_classes; c++) {
            int taken = 0;
            for (int k = 0; k < r; k++) taken |= used[k] == c;
            if (!taken && (best < 0 || x->logits[c] > x->logits[best])) best = (int)c;
        }
        used[r] = best;
        fprintf(f, "%s{\"index\": %d, \"label\": ", r ? ", " : "", best);
        if (label_of(lab, best)) cli_json_str(f, label_of(lab, best));
        else fputs("null", f);
        fprintf(f, ", \"prob\": %.6g, \"logit\": %.6g}", exp(x->logits[best] - mx) / sum, x->logits[best]);
    }
    fprintf(f, "],\n  \"clip\": {\"gif\": \"clip.gif\", \"mp4\": %s, \"frames\": %d, \"width\": %d, \"height\": %d, \"fps\": %g},\n",
            x->cfg->mp4 ? "\"clip.mp4\"" : "null", x->in->paths[0].T, x->in->paths[0].W, x->in->paths[0].H, x->cfg->fps);
    if (x->in->n_paths > 1) {
        fprintf(f, "  \"pathways\": [");
        for (int q = 0; q < x->in->n_paths; q++) {
            const render_path *rp = &x->in->paths[q];
            fprintf(f, "%s{\"index\": %d, \"input\": ", q ? ", " : "", q);
            cli_json_str(f, rp->name ? rp->name : "");
            fprintf(f, ", \"frames\": %d, \"width\": %d, \"height\": %d}", rp->T, rp->W, rp->H);
        }
        fprintf(f, "],\n");
    }
    fprintf(f, "  \"baseline\": ");
    json_files(f, "maps/saliency_tubes", x->cfg->mp4);
    if (x->rr->st_paths & ~(1 << x->rr->st_main_path)) {
        fprintf(f, ", \"baseline_path\": %d, \"baseline_pathways\": [", x->rr->st_main_path);
        for (int q = 0, first = 1; q < RENDER_MAX_PATHS; q++) {
            if (!(x->rr->st_paths & (1 << q)) || q == x->rr->st_main_path) continue;
            char b[64];
            snprintf(b, sizeof b, "maps/saliency_tubes_path%d", q);
            fprintf(f, "%s{\"path\": %d, \"files\": ", first ? "" : ", ", q);
            json_files(f, b, x->cfg->mp4);
            fputc('}', f);
            first = 0;
        }
        fputc(']', f);
    }
    fprintf(f, ",\n  \"figure\": {\"gif\": \"pyramid.gif\", \"png\": \"pyramid.png\"},\n  \"levels\": [");
    for (int l = 0; l < x->rr->n_levels; l++) {
        char base[64];
        snprintf(base, sizeof base, "maps/level%d", l);
        fprintf(f, "%s\n    {\"level\": %d, \"gif\": \"%s.gif\", \"mp4\": ", l ? "," : "", l, base);
        if (x->cfg->mp4) fprintf(f, "\"%s.mp4\"", base);
        else fputs("null", f);
        if (x->in->n_paths > 1) {
            /* the level's map over each pathway (the main one is gif/mp4 above) */
            fprintf(f, ", \"path\": %d, \"pathways\": [", x->rr->level_main_path[l]);
            for (int q = 0, first = 1; q < RENDER_MAX_PATHS; q++) {
                if (!(x->rr->level_paths[l] & (1 << q)) || q == x->rr->level_main_path[l]) continue;
                char b[64];
                snprintf(b, sizeof b, "maps/level%d_path%d", l, q);
                fprintf(f, "%s{\"path\": %d, \"files\": ", first ? "" : ", ", q);
                json_files(f, b, x->cfg->mp4);
                fputc('}', f);
                first = 0;
            }
            fputc(']', f);
        }
        fprintf(f, ", \"layers\": [");
        for (int k = 0; k < x->rr->n_level_layers[l]; k++) {
            fprintf(f, "%s{\"name\": ", k ? ", " : "");
            cli_json_str(f, cfp_node_layer_name(x->rr->level_layers[l][k]));
            if (l == 0) {
                fprintf(f, ", \"gif\": \"%s.gif\", \"mp4\": %s%s%s}", base, x->cfg->mp4 ? "\"" : "", x->cfg->mp4 ? base : "null",
                        x->cfg->mp4 ? ".mp4\"" : "");
                continue;
            }
            char lb[96];
            snprintf(lb, sizeof lb, "maps/level%d_layer%d", l, k);
            if (x->in->n_paths > 1) fprintf(f, ", \"path\": %d", x->rr->level_layer_path[l][k]);
            fprintf(f, ", \"gif\": \"%s.gif\", \"mp4\": %s%s%s}", lb, x->cfg->mp4 ? "\"" : "", x->cfg->mp4 ? lb : "null",
                    x->cfg->mp4 ? ".mp4\"" : "");
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ],\n  \"rendered_nodes\": %d,\n", x->rr->n_rendered);
    if (x->rr->source)
        fprintf(f, "  \"source\": {\"mp4\": \"maps/class_source.mp4\", \"png\": \"maps/class_source.png\"},\n");
    (void)p;
}

static void write_json(FILE *f, const explain_opts *o, cfp_model *m, const cfp_pyramid *p, const labels *lab,
                       const timing *t, const report_extras *x) {
    const cfp_pyramid_params *pp = cfp_pyramid_get_params(p);
    fprintf(f, "%s{\n  \"model\": ", x ? "window.CFP_REPORT = " : "");
    cli_json_str(f, o->model);
    fprintf(f, ",\n  \"input\": ");
    if (o->video) cli_json_str(f, o->video);
    else {
        fputc('[', f);
        for (int i = 0; i < o->n_inputs; i++) {
            if (i) fputs(", ", f);
            cli_json_str(f, o->inputs[i]);
        }
        fputc(']', f);
    }
    int cls = cfp_pyramid_class(p);
    fprintf(f, ",\n  \"class\": {\"index\": %d, \"label\": ", cls);
    if (label_of(lab, cls)) cli_json_str(f, label_of(lab, cls));
    else fputs("null", f);
    fprintf(f, ", \"prob\": %.6g, \"logit\": %.6g},\n", cfp_pyramid_class_prob(p), cfp_pyramid_class_logit(p));
    fprintf(f, "  \"params\": {\"theta\": %g, \"depth\": %d, \"max_children\": %d},\n", pp->theta, pp->depth,
            pp->max_children);
    if (x) write_extras(f, x, p, lab);
    fprintf(f, "  \"timing_ms\": {\"decode\": %.3f, \"forward\": %.3f, \"backstep\": %.3f, \"render\": %.3f, \"write\": %.3f},\n",
            t->decode, t->forward, t->backstep, t->render, t->write);
    /* layers that hold pyramid nodes, in graph order */
    int n_nodes = cfp_pyramid_n_nodes(p);
    fprintf(f, "  \"layers\": [");
    int first_layer = 1;
    char *used = calloc((size_t)cfp_model_n_nodes(m) + 1, 1);
    for (int i = 0; i < n_nodes && used; i++) {
        const cfp_node *L = cfp_pyramid_node_at(p, i)->layer;
        for (int li = 0; li < cfp_model_n_nodes(m); li++)
            if (cfp_model_node(m, li) == L) {
                used[li] = 1;
                break;
            }
    }
    for (int li = 0; li < cfp_model_n_nodes(m) && used; li++) {
        cfp_node *L = cfp_model_node(m, li);
        if (!used[li]) continue;
        const cfp_tensor *w = cfp_value_tensor(cfp_node_input(L, 1));
        const cfp_tensor *y = cfp_value_tensor(cfp_node_output(L, 0));
        int64_t group = 1, tb = 0, cin, cout;
        int is_conv = !strcmp(cfp_node_op(L), "Conv");
        if (is_conv) {
            cfp_node_attr_int(L, "group", &group);
            cout = w->dims[0];
            cin = w->dims[1] * group;
        } else {
            if (!strcmp(cfp_node_op(L), "Gemm")) cfp_node_attr_int(L, "transB", &tb);
            cout = tb ? w->dims[0] : w->dims[1];
            cin = tb ? w->dims[1] : w->dims[0];
        }
        fprintf(f, "%s\n    {\"name\": ", first_layer ? "" : ",");
        first_layer = 0;
        cli_json_str(f, cfp_node_layer_name(L));
        fprintf(f, ", \"op\": \"%s\", \"kernel_shape\": ", cfp_node_op(L));
        if (is_conv) json_dims(f, w->dims + 2, w->ndim - 2);
        else fputs("[]", f);
        fprintf(f, ", \"group\": %" PRId64 ", \"in_channels\": %" PRId64 ", \"out_channels\": %" PRId64
                   ", \"output_shape\": ",
                group, cin, cout);
        json_dims(f, y->dims, y->ndim);
        fputc('}', f);
    }
    free(used);
    fprintf(f, "\n  ],\n  \"nodes\": [");
    int n_edges = cfp_pyramid_n_edges(p);
    /* edges listed per child: first[child] -> next[edge] chains */
    int *first = malloc(((size_t)n_nodes + 1) * sizeof *first), *next = malloc(((size_t)n_edges + 1) * sizeof *next);
    int *pstart = malloc(((size_t)n_nodes + 1) * sizeof *pstart); /* a parent's edges are contiguous */
    if (pstart) {
        for (int i = 0; i < n_nodes; i++) pstart[i] = -1;
        for (int e = n_edges - 1; e >= 0; e--) pstart[cfp_pyramid_edge_at(p, e)->parent] = e;
    }
    if (first && next) {
        for (int i = 0; i < n_nodes; i++) first[i] = -1;
        for (int e = n_edges - 1; e >= 0; e--) {
            int c = cfp_pyramid_edge_at(p, e)->child;
            next[e] = first[c];
            first[c] = e;
        }
    }
    for (int i = 0; i < n_nodes; i++) {
        const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
        fprintf(f, "%s\n    {\"id\": %d, \"level\": %d, \"layer\": ", i ? "," : "", nd->id, nd->level);
        cli_json_str(f, cfp_node_layer_name(nd->layer));
        fprintf(f, ", \"channel\": %" PRId64 ", \"pooled_activation\": %.6g, \"n_parents\": %d, \"parents\": [",
                nd->channel, nd->pooled_activation, nd->n_parents);
        for (int e = first && next ? first[i] : -1, k = 0; e >= 0; e = next[e])
            fprintf(f, "%s%d", k++ ? ", " : "", cfp_pyramid_edge_at(p, e)->parent);
        fputs("]", f);
        if (x) {
            /* children: edges are grouped by parent */
            fputs(", \"children\": [", f);
            for (int e = pstart ? pstart[i] : n_edges, k = 0; e >= 0 && e < n_edges && cfp_pyramid_edge_at(p, e)->parent == i; e++)
                fprintf(f, "%s%d", k++ ? ", " : "", cfp_pyramid_edge_at(p, e)->child);
            fprintf(f, "], \"score\": %.6g, \"kernel\": ", x->rr->score[i]);
            char base[64];
            if (x->rr->node_rendered[i]) {
                snprintf(base, sizeof base, "maps/node%d_kernel", i);
                json_files(f, base, x->cfg->mp4);
                snprintf(base, sizeof base, "maps/node%d_own", i);
                fputs(", \"own\": ", f);
                json_files(f, base, x->cfg->mp4);
            } else {
                fputs("null, \"own\": null", f);
            }
        }
        fputs("}", f);
    }
    free(first);
    free(next);
    free(pstart);
    fprintf(f, "\n  ],\n  \"edges\": [");
    for (int e = 0; e < n_edges; e++) {
        const cfp_pyramid_edge *ed = cfp_pyramid_edge_at(p, e);
        fprintf(f, "%s\n    {\"parent\": %d, \"child\": %d, \"score\": %.6g, \"contribution\": %.6g, \"via_channel\": %" PRId64 "}",
                e ? "," : "", ed->parent, ed->child, ed->score, ed->contribution, ed->via_channel);
    }
    fprintf(f, "\n  ],\n  \"warnings\": [");
    for (int i = 0; i < cfp_pyramid_n_warnings(p); i++) {
        if (i) fputs(", ", f);
        cli_json_str(f, cfp_pyramid_warning(p, i));
    }
    fprintf(f, "]\n}%s\n", x ? ";" : "");
}

/* {class: {kernel: {kernel: [leaf, ...]}}}: the DAG unrolled along edges that
 * go one level down, for tree viewers. */
static void tree_key(FILE *f, const cfp_pyramid_node *nd) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s:%" PRId64, cfp_node_layer_name(nd->layer), nd->channel);
    cli_json_str(f, buf);
}

static void write_tree_node(FILE *f, const cfp_pyramid *p, int id, int depth) {
    const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, id);
    int n_edges = cfp_pyramid_n_edges(p), kids = 0, grandkids = 0;
    for (int e = 0; e < n_edges; e++) {
        const cfp_pyramid_edge *ed = cfp_pyramid_edge_at(p, e);
        if (ed->parent != id || cfp_pyramid_node_at(p, ed->child)->level != nd->level + 1) continue;
        kids++;
        for (int g = 0; g < n_edges && !grandkids; g++) {
            const cfp_pyramid_edge *eg = cfp_pyramid_edge_at(p, g);
            grandkids = eg->parent == ed->child &&
                        cfp_pyramid_node_at(p, eg->child)->level == cfp_pyramid_node_at(p, ed->child)->level + 1;
        }
    }
    if (!kids) {
        fputs("[]", f);
        return;
    }
    fputc(grandkids ? '{' : '[', f);
    int k = 0;
    for (int e = 0; e < n_edges; e++) {
        const cfp_pyramid_edge *ed = cfp_pyramid_edge_at(p, e);
        if (ed->parent != id || cfp_pyramid_node_at(p, ed->child)->level != nd->level + 1) continue;
        if (k++) fputs(", ", f);
        tree_key(f, cfp_pyramid_node_at(p, ed->child));
        if (grandkids) {
            fputs(": ", f);
            write_tree_node(f, p, ed->child, depth + 1);
        }
    }
    fputc(grandkids ? '}' : ']', f);
}

static void write_tree(FILE *f, const cfp_pyramid *p, const labels *lab) {
    char buf[512];
    int cls = cfp_pyramid_class(p);
    snprintf(buf, sizeof buf, "%s", label_of(lab, cls) ? label_of(lab, cls) : "");
    if (!buf[0]) snprintf(buf, sizeof buf, "class %d", cls);
    fputc('{', f);
    cli_json_str(f, buf);
    fputs(": {", f);
    int k = 0;
    for (int i = 0; i < cfp_pyramid_n_nodes(p); i++) {
        const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
        if (nd->level != 0) continue;
        if (k++) fputs(", ", f);
        tree_key(f, nd);
        fputs(": ", f);
        write_tree_node(f, p, i, 0);
    }
    fputs("}}\n", f);
}

static void print_summary(const cfp_pyramid *p, const labels *lab, int rank) {
    int cls = cfp_pyramid_class(p), n = cfp_pyramid_n_nodes(p), max_level = 0;
    const char *label = label_of(lab, cls);
    printf("%sclass %d%s%s%s  p=%.4f  logit %.4g\n", rank ? "\n" : "", cls, label ? " '" : "", label ? label : "",
           label ? "'" : "", cfp_pyramid_class_prob(p), cfp_pyramid_class_logit(p));
    for (int i = 0; i < n; i++)
        if (cfp_pyramid_node_at(p, i)->level > max_level) max_level = cfp_pyramid_node_at(p, i)->level;
    double *scores = node_scores(p);
    for (int l = 0; l <= max_level; l++) {
        int count = 0, n_layers = 0;
        const cfp_node *seen[256];
        int best[5] = {-1, -1, -1, -1, -1};
        double bs[5] = {0};
        for (int i = 0; i < n; i++) {
            const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
            if (nd->level != l) continue;
            count++;
            int known = 0;
            for (int k = 0; k < n_layers && !known; k++) known = seen[k] == nd->layer;
            if (!known && n_layers < 256) seen[n_layers++] = nd->layer;
            double s = scores ? scores[i] : 0;
            for (int k = 0; k < 5; k++)
                if (best[k] < 0 || s > bs[k]) {
                    memmove(best + k + 1, best + k, (size_t)(4 - k) * sizeof *best);
                    memmove(bs + k + 1, bs + k, (size_t)(4 - k) * sizeof *bs);
                    best[k] = i, bs[k] = s;
                    break;
                }
        }
        printf("  level %d: %d kernel%s in %d layer%s;", l, count, count == 1 ? "" : "s", n_layers,
               n_layers == 1 ? "" : "s");
        for (int k = 0; k < 5 && best[k] >= 0; k++) {
            const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, best[k]);
            printf(" %s:%" PRId64 "%s", cfp_node_layer_name(nd->layer), nd->channel, k < 4 && best[k + 1] >= 0 ? "," : "");
            if (l) printf(" (%.2f)", bs[k]);
        }
        printf("\n");
    }
    free(scores);
    for (int i = 0; i < cfp_pyramid_n_warnings(p); i++) fprintf(stderr, "cfp: warning: %s\n", cfp_pyramid_warning(p, i));
}

static int cmd_explain(int argc, char **argv) {
    explain_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        cli_video_opts_free(&o.vo);
        return rc;
    }
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    cfp_tensor in[MAX_IO] = {0};
    cfp_tensor *inputs = in;
    int n_inputs = o.n_inputs;
    cli_video_input vin = {0};
    cfp_pyramid **pyr = NULL;
    labels lab = {0};
    timing t = {0};
    int n_pyr = 0;
    if (cli_ctx_new(&ctx, o.threads)) return cli_die("out of memory");
    if (o.labels && cfp_labels_load(ctx, o.labels, &lab.l)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    if ((rc = cli_outdir_begin(o.out, o.force))) goto out;
    if (cfp_model_load(ctx, o.model, &m)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t0 = cli_now_ms();
    if (o.video) {
        if ((rc = cli_video_prepare(ctx, m, o.model, o.video, &o.vo, &vin))) goto out;
        inputs = vin.in;
        n_inputs = vin.n_in;
        if (!lab.l) lab.l = vin.settings.labels, vin.settings.labels = NULL;
    } else {
        if (o.n_inputs != cfp_model_n_inputs(m)) {
            rc = cli_die("the model has %d input%s, %d given with -i", cfp_model_n_inputs(m),
                         cfp_model_n_inputs(m) == 1 ? "" : "s", o.n_inputs);
            goto out;
        }
        for (int i = 0; i < o.n_inputs; i++)
            if (cfp_tensor_read_pb(ctx, o.inputs[i], &in[i], NULL)) {
                rc = cli_die("%s", cfp_errmsg(ctx));
                goto out;
            }
    }
    double t1 = cli_now_ms();
    t.decode = t1 - t0;
    if (cfp_model_run(m, n_inputs, inputs)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t2 = cli_now_ms();
    t.forward = t2 - t1;

    /* which classes */
    const float *logits;
    int64_t nc;
    if (cfp_model_logits(m, &logits, &nc)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    lab.n = lab.l ? cfp_labels_count(lab.l) : 0;
    if (lab.n && lab.n != nc) {
        rc = cli_die("%d labels for a model with %" PRId64 " classes", lab.n, nc);
        goto out;
    }
    int classes[1000], n_cls = 0;
    if (o.class_arg) {
        char *end;
        long c = strtol(o.class_arg, &end, 10);
        if (*end || end == o.class_arg) {
            c = -1;
            for (int i = 0; i < lab.n; i++)
                if (!strcmp(cfp_labels_get(lab.l, i), o.class_arg)) c = i;
            if (c < 0) {
                rc = cli_die("--class '%s' is neither a class index nor a label%s", o.class_arg,
                             lab.n ? "" : " (no labels given: --labels FILE)");
                goto out;
            }
        }
        if (c < 0 || c >= nc) {
            rc = cli_die("--class %ld is out of range: the model has %" PRId64 " classes", c, nc);
            goto out;
        }
        classes[n_cls++] = (int)c;
    } else {
        int k = o.topk < nc ? o.topk : (int)nc;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int64_t c = 0; c < nc; c++) {
                int used = 0;
                for (int j = 0; j < n_cls; j++) used |= classes[j] == c;
                if (!used && (best < 0 || logits[c] > logits[best])) best = (int)c;
            }
            classes[n_cls++] = best;
        }
    }
    pyr = calloc((size_t)n_cls, sizeof *pyr);
    if (!pyr) {
        rc = cli_die("out of memory");
        goto out;
    }
    double t3 = cli_now_ms();
    for (int i = 0; i < n_cls; i++) {
        cfp_pyramid_params pp = o.params;
        pp.class_index = classes[i];
        if (cfp_pyramid_build(m, &pp, &pyr[i])) {
            rc = cli_die("%s", cfp_errmsg(ctx));
            goto out;
        }
        n_pyr++;
    }
    double t4 = cli_now_ms();
    t.backstep = t4 - t3;

    /* pictures of the first (best) class's pyramid */
    render_input rin = {0};
    render_result rr = {0};
    report_extras xr = {0};
    uint8_t *path_frames[RENDER_MAX_PATHS] = {0};
    if (!o.no_render) {
        /* the frames of every input (a two-pathway model has two), so each map
         * is drawn over the pathway it belongs to; inputs that are no clip are
         * not drawn on */
        int n_in = cfp_model_n_inputs(m);
        rin.clip = vin.clip;
        for (int i = 0; i < n_in && i < RENDER_MAX_PATHS; i++) {
            render_path *rp = &rin.paths[i];
            if (vin.clip ? cfp_render_model_frames(ctx, vin.clip, vin.clip_tensor[i], &path_frames[i], &rp->T, &rp->H, &rp->W)
                         : cfp_render_tensor_frames(ctx, &inputs[i], &path_frames[i], &rp->T, &rp->H, &rp->W)) {
                if (i > 0) break;
                rc = cli_die("%s", cfp_errmsg(ctx));
                goto out_render;
            }
            rp->frames = path_frames[i];
            rp->clip_tensor = vin.clip ? vin.clip_tensor[i] : 0;
            rp->name = cfp_value_name(cfp_model_input(m, i));
            rin.n_paths = i + 1;
        }
        o.render.threads = cfp_ctx_threads(ctx);
        if ((rc = cli_render_report(ctx, pyr[0], &rin, &o.render, &rr))) goto out_render;
        t.render = rr.maps_ms + rr.encode_ms;
        xr = (report_extras){&rr, &rin, &o.render, logits, nc};
    }
    t4 = cli_now_ms();
    for (int i = 0; i < n_pyr; i++) {
        char name[64];
        if (i == 0) snprintf(name, sizeof name, "pyramid.json");
        else snprintf(name, sizeof name, "pyramid-top%d.json", i + 1);
        FILE *f = cli_outdir_open(name);
        if (!f) {
            rc = cli_die("cannot write %s/%s", o.out, name);
            goto out;
        }
        t.write = cli_now_ms() - t4; /* the write time of the files before this one */
        write_json(f, &o, m, pyr[i], &lab, &t, NULL);
        if (fclose(f) != 0) {
            rc = cli_die("cannot write %s/%s", o.out, name);
            goto out;
        }
        if (o.tree) {
            snprintf(name, sizeof name, i ? "tree-top%d.json" : "tree.json", i + 1);
            if (!(f = cli_outdir_open(name))) {
                rc = cli_die("cannot write %s/%s", o.out, name);
                goto out;
            }
            write_tree(f, pyr[i], &lab);
            if (fclose(f) != 0) {
                rc = cli_die("cannot write %s/%s", o.out, name);
                goto out;
            }
        }
    }
    if (!o.no_render) {
        FILE *f = cli_outdir_open("data.js");
        if (!f) {
            rc = cli_die("cannot write %s/data.js", o.out);
            goto out_render;
        }
        write_json(f, &o, m, pyr[0], &lab, &t, &xr);
        if (fclose(f) != 0 || (rc = cli_report_assets())) {
            rc = rc ? rc : cli_die("cannot write %s/data.js", o.out);
            goto out_render;
        }
    }
    if ((rc = cli_outdir_commit(o.out))) goto out_render;
    t.write = cli_now_ms() - t4;
    for (int i = 0; i < n_pyr; i++) print_summary(pyr[i], &lab, i);
    printf("\ntiming: decode %.1f ms, forward %.1f ms, back-step %.3f ms, render %.1f ms (maps %.1f, encode %.1f), write %.1f ms\n",
           t.decode, t.forward, t.backstep, t.render, rr.maps_ms, rr.encode_ms, t.write);
    if (o.no_render) printf("wrote %s/pyramid.json\n", o.out);
    else printf("wrote %s/index.html (%d of %d kernels with pictures)\n", o.out, rr.n_rendered, cfp_pyramid_n_nodes(pyr[0]));
out_render:
    cli_render_result_free(&rr);
    for (int i = 0; i < RENDER_MAX_PATHS; i++) free(path_frames[i]);
out:
    if (rc) cli_outdir_abort();
    for (int i = 0; i < n_pyr; i++) cfp_pyramid_free(pyr[i]);
    free(pyr);
    cfp_labels_free(lab.l);
    cli_video_input_free(&vin);
    cli_video_opts_free(&o.vo);
    for (int i = 0; i < MAX_IO; i++) cfp_tensor_free(&in[i]);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_explain = {
    "explain", "explain a prediction: the Class Feature Pyramid, as pyramid.json",
    "cfp explain MODEL.onnx (VIDEO | -i IN0.pb [-i IN1.pb]) --out DIR [--class C | --topk K]\n"
    "            [--theta 0.6] [--depth 3] [--max-children K] [--labels FILE] [--tree] [--no-render]\n"
    "            [--render-nodes 40] [--colormap jet|turbo|viridis|inferno] [--alpha 0.5] [--fps 8]\n"
    "            [--trilinear] [--per-frame] [--frames-png] [--save-volumes] [--no-mp4] [--force] [--quiet]\n"
    "  Runs the model, then walks back from the class through the graph: the kernels of\n"
    "  the last layer that carry the class, the kernels of the layer before that feed\n"
    "  those, and so on for --depth back-steps. A kernel's input channel is kept when its\n"
    "  pooled weight × pooled activation, min-max scaled over the kernel's inputs, is at\n"
    "  least --theta. Writes DIR/pyramid.json (and DIR/tree.json with --tree); with\n"
    "  --topk K also pyramid-top2.json ... for the next classes. Unless --no-render, it also\n"
    "  writes the report: DIR/index.html with saliency tubes (GIF and MP4) of the class,\n"
    "  each level and layer, the best --render-nodes kernels (-1: all), the Saliency Tubes\n"
    "  baseline and the pyramid figure (pyramid.gif/png). DIR appears whole or not at all;\n"
    "  a folder cfp did not write is replaced only with --force.\n",
    cmd_explain};
