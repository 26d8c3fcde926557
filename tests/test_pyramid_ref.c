/* cfp's pyramids against the independent reference (tests/reference/
 * pyramid_ref.py: NumPy, float64, on intermediate values from its own ONNX
 * evaluator), stored as tests/fixtures/NAME/pyramid/THETA_DEPTH.tsv.
 *
 * Node and edge sets must be identical, scores within 1e-5, except where the
 * reference marks a decision as numerically fragile: an edge with near = 1,
 * a node listed as `fragile`, or an extra cfp edge whose (parent, via
 * channel) the reference lists as a near miss. */
#include "cfp.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char parent[160], child[160];
    int64_t pc, cc, via;
    double score, contribution;
    int near, seen;
} ref_edge;

typedef struct {
    char layer[160];
    int64_t channel;
    int level, seen, fragile;
} ref_node;

typedef struct {
    int cls, depth, max_children;
    double theta;
    ref_node *nodes;
    int n_nodes;
    ref_edge *edges;
    int n_edges;
    struct {
        char parent[160];
        int64_t pc, via;
    } * miss;
    int n_miss;
} ref_pyramid;

static void ref_free(ref_pyramid *r) {
    free(r->nodes);
    free(r->edges);
    free(r->miss);
    memset(r, 0, sizeof *r);
}

#define GROW(arr, n)                                                   \
    do {                                                               \
        if (((n) & ((n) - 1)) == 0) {                                  \
            void *g_ = realloc(arr, (size_t)((n) ? (n) * 2 : 16) * sizeof *(arr)); \
            if (!g_) return -1;                                        \
            arr = g_;                                                  \
        }                                                              \
    } while (0)

static int parse_ref(const char *path, ref_pyramid *r) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fld[12];
        int nf = 0;
        for (char *s = line; nf < 12;) {
            fld[nf++] = s;
            char *t = strchr(s, '\t');
            if (!t) break;
            *t = 0;
            s = t + 1;
        }
        if (!strcmp(fld[0], "class") && nf >= 2) r->cls = atoi(fld[1]);
        else if (!strcmp(fld[0], "param") && nf >= 3) {
            if (!strcmp(fld[1], "theta")) r->theta = atof(fld[2]);
            else if (!strcmp(fld[1], "depth")) r->depth = atoi(fld[2]);
            else if (!strcmp(fld[1], "max_children")) r->max_children = atoi(fld[2]);
        } else if (!strcmp(fld[0], "node") && nf >= 4) {
            GROW(r->nodes, r->n_nodes);
            ref_node *n = &r->nodes[r->n_nodes++];
            memset(n, 0, sizeof *n);
            n->level = atoi(fld[1]);
            snprintf(n->layer, sizeof n->layer, "%s", fld[2]);
            n->channel = atoll(fld[3]);
        } else if (!strcmp(fld[0], "edge") && nf >= 9) {
            GROW(r->edges, r->n_edges);
            ref_edge *e = &r->edges[r->n_edges++];
            memset(e, 0, sizeof *e);
            snprintf(e->parent, sizeof e->parent, "%s", fld[1]);
            e->pc = atoll(fld[2]);
            snprintf(e->child, sizeof e->child, "%s", fld[3]);
            e->cc = atoll(fld[4]);
            e->score = atof(fld[5]);
            e->contribution = atof(fld[6]);
            e->via = atoll(fld[7]);
            e->near = atoi(fld[8]);
        } else if (!strcmp(fld[0], "nearmiss") && nf >= 4) {
            GROW(r->miss, r->n_miss);
            snprintf(r->miss[r->n_miss].parent, sizeof r->miss[0].parent, "%s", fld[1]);
            r->miss[r->n_miss].pc = atoll(fld[2]);
            r->miss[r->n_miss++].via = atoll(fld[3]);
        } else if (!strcmp(fld[0], "fragile") && nf >= 4) {
            for (int i = 0; i < r->n_nodes; i++)
                if (!strcmp(r->nodes[i].layer, fld[2]) && r->nodes[i].channel == atoll(fld[3])) r->nodes[i].fragile = 1;
            /* a fragile node the reference does not hold: record it as one */
            int known = 0;
            for (int i = 0; i < r->n_nodes; i++) known |= !strcmp(r->nodes[i].layer, fld[2]) && r->nodes[i].channel == atoll(fld[3]);
            if (!known) {
                GROW(r->nodes, r->n_nodes);
                ref_node *n = &r->nodes[r->n_nodes++];
                memset(n, 0, sizeof *n);
                snprintf(n->layer, sizeof n->layer, "%s", fld[2]);
                n->channel = atoll(fld[3]);
                n->level = -1; /* absent from the reference; tolerated either way */
                n->fragile = 1;
            }
        }
    }
    fclose(f);
    return rc;
}

static ref_node *find_node(ref_pyramid *r, const char *layer, int64_t ch) {
    for (int i = 0; i < r->n_nodes; i++)
        if (r->nodes[i].channel == ch && !strcmp(r->nodes[i].layer, layer)) return &r->nodes[i];
    return NULL;
}

static int is_fragile(ref_pyramid *r, const char *layer, int64_t ch) {
    ref_node *n = find_node(r, layer, ch);
    return n && n->fragile;
}

/* Compare; returns the number of intolerable differences, describing the
 * first in why. */
static int compare_pyramid(const cfp_pyramid *p, ref_pyramid *r, char *why, size_t wlen) {
    int bad = 0;
#define DIFF(...)                                      \
    do {                                               \
        if (!bad++) snprintf(why, wlen, __VA_ARGS__); \
    } while (0)
    if (cfp_pyramid_class(p) != r->cls) DIFF("class %d, reference %d", cfp_pyramid_class(p), r->cls);
    for (int i = 0; i < cfp_pyramid_n_nodes(p); i++) {
        const cfp_pyramid_node *n = cfp_pyramid_node_at(p, i);
        const char *name = cfp_node_layer_name(n->layer);
        ref_node *rn = find_node(r, name, n->channel);
        if (!rn) {
            DIFF("cfp has node %s:%lld (level %d), the reference does not", name, (long long)n->channel, n->level);
            continue;
        }
        rn->seen = 1;
        if (rn->level != n->level && !rn->fragile)
            DIFF("node %s:%lld at level %d, reference %d", name, (long long)n->channel, n->level, rn->level);
    }
    for (int i = 0; i < r->n_nodes; i++)
        if (!r->nodes[i].seen && !r->nodes[i].fragile && r->nodes[i].level >= 0)
            DIFF("reference has node %s:%lld (level %d), cfp does not", r->nodes[i].layer, (long long)r->nodes[i].channel,
                 r->nodes[i].level);
    for (int i = 0; i < cfp_pyramid_n_edges(p); i++) {
        const cfp_pyramid_edge *e = cfp_pyramid_edge_at(p, i);
        const cfp_pyramid_node *pn = cfp_pyramid_node_at(p, e->parent), *cn = cfp_pyramid_node_at(p, e->child);
        const char *pl = cfp_node_layer_name(pn->layer), *cl = cfp_node_layer_name(cn->layer);
        ref_edge *re = NULL;
        for (int k = 0; k < r->n_edges && !re; k++)
            if (r->edges[k].pc == pn->channel && r->edges[k].cc == cn->channel && !strcmp(r->edges[k].parent, pl) &&
                !strcmp(r->edges[k].child, cl))
                re = &r->edges[k];
        if (!re) {
            int tolerated = is_fragile(r, pl, pn->channel) || is_fragile(r, cl, cn->channel);
            for (int k = 0; k < r->n_miss && !tolerated; k++)
                tolerated = r->miss[k].pc == pn->channel && r->miss[k].via == e->via_channel && !strcmp(r->miss[k].parent, pl);
            if (!tolerated)
                DIFF("cfp has edge %s:%lld -> %s:%lld (score %.6g), the reference does not", pl, (long long)pn->channel, cl,
                     (long long)cn->channel, e->score);
            continue;
        }
        re->seen = 1;
        if (re->near) continue;
        if (re->via != e->via_channel || fabs(re->score - e->score) > 1e-5 ||
            fabs(re->contribution - e->contribution) > 1e-5 * (1 + fabs(re->contribution)))
            DIFF("edge %s:%lld -> %s:%lld: cfp via %lld score %.7g contribution %.7g, reference via %lld score %.7g "
                 "contribution %.7g",
                 pl, (long long)pn->channel, cl, (long long)cn->channel, (long long)e->via_channel, e->score,
                 e->contribution, (long long)re->via, re->score, re->contribution);
    }
    for (int k = 0; k < r->n_edges; k++) {
        ref_edge *re = &r->edges[k];
        if (re->seen || re->near || is_fragile(r, re->parent, re->pc) || is_fragile(r, re->child, re->cc)) continue;
        DIFF("reference has edge %s:%lld -> %s:%lld (score %.6g), cfp does not", re->parent, (long long)re->pc, re->child,
             (long long)re->cc, re->score);
    }
#undef DIFF
    return bad;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

SUITE(pyramid_reference) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fixtures", cfp_test_root());
    DIR *d = opendir(dir);
    if (!d) {
        cfp_test_result("pyramid_reference", 0, "tests/fixtures is missing");
        return;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    int files = 0;
    for (int i = 0; i < n; i++) {
        char pdir[1400], model[1400], input[1400];
        cfp_tensor in[4] = {{0}};
        int n_in = 0;
        snprintf(pdir, sizeof pdir, "%s/%s/pyramid", dir, names[i]);
        snprintf(model, sizeof model, "%s/%s/model.onnx", dir, names[i]);
        DIR *pd = opendir(pdir);
        if (!pd) {
            free(names[i]);
            continue;
        }
        char *tsv[64];
        int nt = 0;
        while ((e = readdir(pd)) && nt < 64)
            if (strstr(e->d_name, ".tsv")) tsv[nt++] = strdup(e->d_name);
        closedir(pd);
        qsort(tsv, (size_t)nt, sizeof *tsv, cmp_name);
        cfp_ctx *ctx = NULL;
        cfp_model *m = NULL;
        int ready = 0;
        for (int t = 0; t < nt; t++) {
            char name[512], path[1800], why[1024] = "";
            snprintf(name, sizeof name, "pyramid_ref_%s_%.*s", names[i], (int)(strlen(tsv[t]) - 4), tsv[t]);
            if (!cfp_test_wanted(name)) {
                free(tsv[t]);
                continue;
            }
            if (!ready) {
                /* every input_K.pb (SlowFast has two) */
                ready = cfp_ctx_new(&ctx, 2) == 0 && cfp_model_load(ctx, model, &m) == 0;
                for (; ready && n_in < 4; n_in++) {
                    snprintf(input, sizeof input, "%s/%s/test_data_set_0/input_%d.pb", dir, names[i], n_in);
                    FILE *fp = fopen(input, "rb");
                    if (!fp) break;
                    fclose(fp);
                    if (cfp_tensor_read_pb(ctx, input, &in[n_in], NULL)) ready = 0;
                }
                ready = ready && n_in > 0 && cfp_model_run(m, n_in, in) == 0;
                if (!ready) {
                    snprintf(why, sizeof why, "%s", ctx ? cfp_errmsg(ctx) : "no context");
                    cfp_test_result(name, 0, why);
                    free(tsv[t]);
                    ready = -1;
                    continue;
                }
            }
            if (ready < 0) {
                free(tsv[t]);
                continue;
            }
            snprintf(path, sizeof path, "%s/%s", pdir, tsv[t]);
            ref_pyramid r;
            cfp_pyramid *p = NULL;
            if (parse_ref(path, &r)) {
                cfp_test_result(name, 0, "cannot read the reference file");
            } else {
                cfp_pyramid_params pp;
                cfp_pyramid_params_default(&pp);
                pp.theta = r.theta;
                pp.depth = r.depth;
                pp.max_children = r.max_children;
                if (cfp_pyramid_build(m, &pp, &p)) {
                    cfp_test_result(name, 0, cfp_errmsg(ctx));
                } else {
                    int bad = compare_pyramid(p, &r, why, sizeof why);
                    if (bad) {
                        char full[1200];
                        snprintf(full, sizeof full, "%d difference%s; first: %.1000s", bad, bad == 1 ? "" : "s", why);
                        cfp_test_result(name, 0, full);
                    } else {
                        cfp_test_result(name, 1, NULL);
                    }
                    files++;
                }
            }
            cfp_pyramid_free(p);
            ref_free(&r);
            free(tsv[t]);
        }
        for (int k = 0; k < n_in; k++) cfp_tensor_free(&in[k]);
        cfp_model_free(m);
        cfp_ctx_free(ctx);
        free(names[i]);
    }
    if (files && getenv("CFP_TEST_VERBOSE")) printf("pyramid reference: %d files compared\n", files);
}
