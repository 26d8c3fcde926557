/* cfp evaluate: how well the maps point at the acting object of clips whose
 * answer is known (scripts/synthetic_actions.py folders: clip_NNNN.mp4,
 * clip_NNNN.mask, labels.csv). For every clip: decode + preprocess as the
 * model wants, run, build the pyramid of the predicted class, bring each map
 * to the model input (B-spline zoom + min-max normalisation, as the report
 * does), map it onto the mask's grid (the frames as recorded) and score it:
 * pointing game, energy share, and deletion / insertion AUC on the model
 * input. Metric functions: evaluate_metrics.h. */
#include "evaluate_metrics.h"
#include "../src/render.h"
#include "video_input.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cmd = "evaluate";

#define POINT_TOL 7      /* pointing-game tolerance, source pixels */
#define BLUR_SIGMA 5.0   /* Gaussian blur of the deletion/insertion baseline, model-input pixels */
#define MAX_MAPS 40

typedef struct {
    const char *model, *clips;
    cfp_pyramid_params params;
    int steps, json, threads, auc_levels, oracle;
    unsigned seed;
    cli_video_opts vo;
} eopts;

static int parse(int argc, char **argv, eopts *o) {
    cli_video_opts_init(&o->vo);
    cfp_pyramid_params_default(&o->params);
    o->steps = 10;
    o->seed = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used, r = cli_video_flag(cmd, &o->vo, a, val, &used);
        if (r == 0) r = cli_pyramid_flag(cmd, &o->params, a, val, &used);
        if (r == 2) return 2;
        if (r == 1) {
            i += used;
            continue;
        }
#define NEED_VAL() \
    if (!val) return cli_usage(cmd, "%s needs a value", a); \
    i++
        int n;
        if (!strcmp(a, "--clips")) {
            NEED_VAL();
            o->clips = val;
        } else if (!strcmp(a, "--steps")) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 1000, &o->steps)) return 2;
        } else if (!strcmp(a, "--seed")) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 0, 1 << 30, &n)) return 2;
            o->seed = (unsigned)n;
        } else if (!strcmp(a, "--auc-levels")) {
            o->auc_levels = 1;
        } else if (!strcmp(a, "--oracle")) {
            o->oracle = 1; /* hidden: the mask itself as a map (a check of the metrics) */
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--threads")) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 256, &o->threads)) return 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(cmd, "unknown option '%s'", a);
        } else if (!o->model) {
            o->model = a;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", a);
        }
#undef NEED_VAL
    }
    if (o->params.depth > MAX_MAPS - 8) return cli_usage(cmd, "--depth is at most %d here", MAX_MAPS - 8);
    if (!o->model) return cli_usage(cmd, "needs a model");
    if (!o->clips) return cli_usage(cmd, "needs --clips DIR");
    return cli_video_check(cmd, &o->vo);
}

/* ---- labels.csv and masks ------------------------------------------------------- */

typedef struct {
    char *file;
    char *name; /* the third column, "" if absent */
    int cls;
} clip_row;

static int read_labels(const char *dir, clip_row **rows_out, int *n_out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return cli_die("%s: not a folder of clips", dir);
    FILE *f = fopen(path, "r");
    if (!f) return cli_die("%s: %s", path, strerror(errno));
    clip_row *rows = NULL;
    int n = 0, cap = 0, line_no = 0, rc = 0;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = cli_die("%s:%d: line too long", path, line_no);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (line_no == 1) {
            if (strncmp(line, "file,class", 10) != 0) {
                rc = cli_die("%s:1: expected the header 'file,class,name', got '%.60s'", path, line);
                break;
            }
            continue;
        }
        if (!len) continue;
        char *c1 = strchr(line, ',');
        if (!c1 || c1 == line) {
            rc = cli_die("%s:%d: expected 'file,class,name', got '%.60s'", path, line_no, line);
            break;
        }
        *c1 = 0;
        char *cs = c1 + 1, *end;
        errno = 0;
        long cls = strtol(cs, &end, 10);
        if (errno || end == cs || (*end && *end != ',') || cls < 0 || cls > 1000000) {
            rc = cli_die("%s:%d: the class must be an index >= 0, got '%.40s'", path, line_no, cs);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            clip_row *r = realloc(rows, (size_t)cap * sizeof *r);
            if (!r) {
                rc = cli_die("out of memory");
                break;
            }
            rows = r;
        }
        rows[n].file = strdup(line);
        rows[n].name = strdup(*end == ',' ? end + 1 : "");
        rows[n].cls = (int)cls;
        if (!rows[n].file || !rows[n++].name) {
            rc = cli_die("out of memory");
            break;
        }
    }
    if (!rc && ferror(f)) rc = cli_die("%s: read error", path);
    if (!rc && line_no == 0) rc = cli_die("%s: empty file", path);
    if (!rc && n == 0) rc = cli_die("%s: no clips listed", path);
    fclose(f);
    if (rc) {
        for (int i = 0; i < n; i++) free(rows[i].file), free(rows[i].name);
        free(rows);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return 0;
}

/* CFPMASK1 (scripts/README.md) → one byte per voxel. */
static int read_mask(const char *path, uint8_t **out, int dims[3]) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_die("%s: %s", path, strerror(errno));
    unsigned char hdr[20];
    int rc = 0;
    uint8_t *bits = NULL, *m = NULL;
    if (fread(hdr, 1, 20, f) != 20 || memcmp(hdr, "CFPMASK1", 8) != 0) {
        rc = cli_die("%s: not a CFPMASK1 mask file", path);
        goto done;
    }
    uint64_t d[3];
    for (int k = 0; k < 3; k++)
        d[k] = (uint64_t)hdr[8 + 4 * k] | (uint64_t)hdr[9 + 4 * k] << 8 | (uint64_t)hdr[10 + 4 * k] << 16 |
               (uint64_t)hdr[11 + 4 * k] << 24;
    if (!d[0] || !d[1] || !d[2] || d[0] > 100000 || d[1] > 16384 || d[2] > 16384 || d[0] * d[1] * d[2] > (1ull << 32)) {
        rc = cli_die("%s: mask size %" PRIu64 "x%" PRIu64 "x%" PRIu64 " is out of range", path, d[0], d[1], d[2]);
        goto done;
    }
    size_t n = (size_t)(d[0] * d[1] * d[2]), nb = (n + 7) / 8;
    bits = malloc(nb + 1);
    m = malloc(n);
    if (!bits || !m) {
        rc = cli_die("out of memory");
        goto done;
    }
    size_t got = fread(bits, 1, nb + 1, f);
    if (got != nb) {
        rc = cli_die("%s: expected %zu bytes of mask data for %" PRIu64 "x%" PRIu64 "x%" PRIu64 ", found %s%zu", path, nb,
                     d[0], d[1], d[2], got > nb ? "more than " : "", got > nb ? nb : got);
        goto done;
    }
    for (size_t i = 0; i < n; i++) m[i] = (bits[i >> 3] >> (7 - (i & 7))) & 1;
    for (int k = 0; k < 3; k++) dims[k] = (int)d[k];
    *out = m;
    m = NULL;
done:
    free(bits);
    free(m);
    fclose(f);
    return rc;
}

/* ---- maps ------------------------------------------------------------------------- */

typedef struct {
    char name[64];
    int auc;              /* deletion/insertion computed */
    int n_clips;          /* clips that had this map */
    long long hits, frames;
    double energy_sum;    /* Σ over clips of the clip's energy share */
    double del_sum, ins_sum;
    int n_auc;
} map_stats;

/* Pointing per true class, for the rows that tell most: class-level,
 * Saliency Tubes and the centre prior. */
enum { PC_CLASS, PC_ST, PC_CENTRE, PC_N };
typedef struct {
    const char *name;
    int clips, correct;
    long long hits[PC_N], frames[PC_N];
} class_stats;

typedef struct {
    int slot;   /* index into the stats */
    float *vol; /* T×H×W on the model input, in [0, 1]; NULL: the oracle */
} clip_map;

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Several normalised zoomed maps averaged and normalised again, as the report's
 * level maps (explain_render.c). */
static int zoom_avg(cfp_ctx *ctx, cfp_volume *parts, int n, int T, int H, int W, float **out) {
    cfp_render_opts ro;
    cfp_render_opts_default(&ro);
    *out = NULL;
    if (n == 1) return cfp_render_volume(ctx, &parts[0], T, H, W, &ro, out);
    size_t N = (size_t)T * H * W;
    float *acc = calloc(N, sizeof *acc);
    if (!acc) return CFP_E_NOMEM;
    for (int k = 0; k < n; k++) {
        float *v;
        int rc = cfp_render_volume(ctx, &parts[k], T, H, W, &ro, &v);
        if (rc) {
            free(acc);
            return rc;
        }
        for (size_t i = 0; i < N; i++) acc[i] += v[i] / (float)n;
        free(v);
    }
    cfp_normalize(acc, (int64_t[3]){T, H, W}, 0);
    *out = acc;
    return CFP_OK;
}

/* One model-input map onto source frame `sf`'s grid (sw×sh): bilinear, as
 * cfp_render_source draws it; 0 outside what the model saw. */
static void to_source(const float *plane, int H, int W, const cfp_geometry *g, float *dst) {
    for (int y = 0; y < g->src_h; y++) {
        double v = (y + 0.5) * g->resize_h / g->src_h - 0.5 - g->crop_y;
        for (int x = 0; x < g->src_w; x++) {
            double u = (x + 0.5) * g->resize_w / g->src_w - 0.5 - g->crop_x;
            float *o = &dst[(size_t)y * g->src_w + x];
            if (u < -0.5 || v < -0.5 || u > W - 0.5 || v > H - 0.5) {
                *o = 0;
                continue;
            }
            double uc = u < 0 ? 0 : u > W - 1 ? W - 1 : u, vc = v < 0 ? 0 : v > H - 1 ? H - 1 : v;
            int u0 = (int)uc, v0 = (int)vc, u1 = u0 + 1 < W ? u0 + 1 : u0, v1 = v0 + 1 < H ? v0 + 1 : v0;
            double fu = uc - u0, fv = vc - v0;
            *o = (float)((plane[v0 * W + u0] * (1 - fu) + plane[v0 * W + u1] * fu) * (1 - fv) +
                         (plane[v1 * W + u0] * (1 - fu) + plane[v1 * W + u1] * fu) * fv);
        }
    }
}

/* Separable Gaussian blur (σ = BLUR_SIGMA, radius 3σ, edges clamped, weights
 * normalised) of every channel of every frame over H and W. */
static int blur_input(const float *x, float *out, int C, int T, int H, int W, size_t vstride, size_t cstride) {
    int r = (int)ceil(3 * BLUR_SIGMA);
    double *k = malloc((size_t)(2 * r + 1) * sizeof *k);
    double *a = malloc((size_t)H * W * sizeof *a), *b = malloc((size_t)H * W * sizeof *b);
    if (!k || !a || !b) {
        free(k), free(a), free(b);
        return CFP_E_NOMEM;
    }
    double ks = 0;
    for (int i = -r; i <= r; i++) ks += k[i + r] = exp(-0.5 * i * i / (BLUR_SIGMA * BLUR_SIGMA));
    for (int i = 0; i <= 2 * r; i++) k[i] /= ks;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < T; t++) {
            size_t base = (size_t)t * H * W;
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) a[(size_t)y * W + xx] = x[(base + (size_t)y * W + xx) * vstride + c * cstride];
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double s = 0;
                    for (int i = -r; i <= r; i++) {
                        int q = xx + i < 0 ? 0 : xx + i >= W ? W - 1 : xx + i;
                        s += k[i + r] * a[(size_t)y * W + q];
                    }
                    b[(size_t)y * W + xx] = s;
                }
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double s = 0;
                    for (int i = -r; i <= r; i++) {
                        int q = y + i < 0 ? 0 : y + i >= H ? H - 1 : y + i;
                        s += k[i + r] * b[(size_t)q * W + xx];
                    }
                    out[(base + (size_t)y * W + xx) * vstride + c * cstride] = (float)s;
                }
        }
    free(k), free(a), free(b);
    return CFP_OK;
}

static int class_prob(cfp_model *m, int cls, double *p) {
    const float *lg;
    int64_t C;
    if (cfp_model_logits(m, &lg, &C) || cls >= C) return -1;
    double mx = -INFINITY, s = 0;
    for (int64_t i = 0; i < C; i++) mx = lg[i] > mx ? lg[i] : mx;
    for (int64_t i = 0; i < C; i++) s += exp(lg[i] - mx);
    *p = exp(lg[cls] - mx) / s;
    return 0;
}

/* Deletion (from the input towards the blurred input) or insertion (the other
 * way), the top k/steps of the voxels in the map's order, all channels. */
static int del_ins(cfp_model *m, const cfp_tensor *in, const float *x, const float *xb, float *work,
                   const eval_ranked *order, size_t N, int C, size_t vstride, size_t cstride, int steps, int cls,
                   int insertion, double *auc, double *probs) {
    size_t total = cfp_tensor_numel(in);
    memcpy(work, insertion ? xb : x, total * sizeof *work);
    const float *src = insertion ? x : xb;
    cfp_tensor t = *in;
    t.data = work;
    t.owned = 0;
    size_t done = 0;
    for (int k = 0; k <= steps; k++) {
        size_t upto = eval_count(N, k, steps);
        for (; done < upto; done++) {
            size_t v = (size_t)order[done].i * vstride;
            for (int c = 0; c < C; c++) work[v + c * cstride] = src[v + c * cstride];
        }
        if (cfp_model_run(m, 1, &t) || class_prob(m, cls, &probs[k])) return -1;
    }
    *auc = eval_auc(probs, steps);
    return 0;
}

/* ---- the command ---------------------------------------------------------------------- */

static int run(int argc, char **argv) {
    eopts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) {
        cli_video_opts_free(&o.vo);
        return rc;
    }
    double t_start = cli_now_ms();
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    clip_row *rows = NULL;
    int n_rows = 0;
    map_stats st[MAX_MAPS];
    memset(st, 0, sizeof st);

    size_t srcmap_cap = 0;
    float *srcmap = NULL, *x = NULL, *xb = NULL, *work = NULL;
    eval_ranked *order = NULL;
    double *probs = NULL;
    long long correct = 0, all_frames = 0, mask_frames = 0;
    class_stats *per_class = NULL; /* by the clip's true class */
    int n_cls = 0;
    double mask_area = 0; /* Σ over mask frames of the mask's share of the frame */
    char in_shape[128] = "";
    int T = 0, H = 0, W = 0;

    if ((rc = read_labels(o.clips, &rows, &n_rows))) goto out;
    for (int i = 0; i < n_rows; i++)
        if (rows[i].cls >= n_cls) n_cls = rows[i].cls + 1;
    if (!(per_class = calloc((size_t)n_cls, sizeof *per_class))) {
        rc = cli_die("out of memory");
        goto out;
    }
    if (cli_ctx_new(&ctx, o.threads)) {
        rc = cli_die("out of memory");
        goto out;
    }
    if (cfp_model_load(ctx, o.model, &m)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    /* fixed rows: class-level, levels, Saliency Tubes, baselines (levels added as met) */
    enum { S_CLASS, S_ST, S_RANDOM, S_CENTRE, S_ORACLE, S_LEVEL1 };
    snprintf(st[S_CLASS].name, sizeof st[0].name, "class-level (kernel-wise, level 0)");
    snprintf(st[S_ST].name, sizeof st[0].name, "Saliency Tubes");
    snprintf(st[S_RANDOM].name, sizeof st[0].name, "baseline: random (uniform noise)");
    snprintf(st[S_CENTRE].name, sizeof st[0].name, "baseline: centre prior (Gaussian)");
    snprintf(st[S_ORACLE].name, sizeof st[0].name, "oracle: the mask itself");
    st[S_CLASS].auc = st[S_ST].auc = st[S_RANDOM].auc = st[S_CENTRE].auc = 1;
    for (int d = 1; d <= o.params.depth; d++) {
        snprintf(st[S_LEVEL1 + d - 1].name, sizeof st[0].name, "level %d (layer-wise)", d);
        st[S_LEVEL1 + d - 1].auc = o.auc_levels;
    }


    const int tty = isatty(2);
    for (int ci = 0; ci < n_rows; ci++) {
        char vpath[4096], mpath[4096];
        snprintf(vpath, sizeof vpath, "%s/%s", o.clips, rows[ci].file);
        snprintf(mpath, sizeof mpath, "%s/%s", o.clips, rows[ci].file);
        char *dot = strrchr(mpath, '.'), *slash = strrchr(mpath, '/');
        if (dot && (!slash || dot > slash)) *dot = 0;
        strncat(mpath, ".mask", sizeof mpath - strlen(mpath) - 1);
        uint8_t *mask = NULL;
        int md[3] = {0, 0, 0};
        if ((rc = read_mask(mpath, &mask, md))) goto out;
        cli_video_input vin;
        if ((rc = cli_video_prepare(ctx, m, o.model, vpath, &o.vo, &vin))) {
            free(mask);
            goto out;
        }
        cfp_pyramid *p = NULL;
        clip_map maps[MAX_MAPS];
        int n_maps = 0;
        cfp_volume vols[512];
        int n_vols = 0;
#define CLIP_FAIL(...)                                               \
    do {                                                             \
        rc = cli_die(__VA_ARGS__);                                   \
        for (int k_ = 0; k_ < n_vols; k_++) cfp_volume_free(&vols[k_]); \
        for (int k_ = 0; k_ < n_maps; k_++) free(maps[k_].vol);      \
        cfp_pyramid_free(p);                                         \
        cli_video_input_free(&vin);                                  \
        free(mask);                                                  \
        goto out;                                                    \
    } while (0)
        if (vin.n_in != 1) CLIP_FAIL("%s: evaluate handles one-input models only", o.model);
        const cfp_tensor *in = &vin.in[0];
        const int nthwc = vin.pre.layout == CFP_LAYOUT_NTHWC;
        const int C = (int)in->dims[nthwc ? 4 : 1];
        if (in->ndim != 5 || in->dtype != CFP_F32) CLIP_FAIL("%s: the model input is not a 5-D float tensor", o.model);
        if (ci == 0) {
            T = (int)in->dims[nthwc ? 1 : 2], H = (int)in->dims[nthwc ? 2 : 3], W = (int)in->dims[nthwc ? 3 : 4];
            cli_shape_str(in, in_shape, sizeof in_shape);
        } else if (T != in->dims[nthwc ? 1 : 2] || H != in->dims[nthwc ? 2 : 3] || W != in->dims[nthwc ? 3 : 4]) {
            CLIP_FAIL("%s: the model input changed size from clip to clip", vpath);
        }
        const size_t N = (size_t)T * H * W, vstride = nthwc ? (size_t)C : 1, cstride = nthwc ? 1 : N;
        const cfp_geometry *g = cfp_clip_geometry(vin.clip);
        if (!g) CLIP_FAIL("%s: no clip geometry", vpath);
        if (md[1] != g->src_h || md[2] != g->src_w)
            CLIP_FAIL("%s: mask size mismatch: the mask is %dx%d (HxW), the video %dx%d", mpath, md[1], md[2], g->src_h,
                      g->src_w);
        for (int t = 0; t < T; t++) {
            int64_t fi = cfp_clip_frame_index(vin.clip, cfp_clip_tensor_frame(vin.clip, 0, t));
            if (fi < 0 || fi >= md[0])
                CLIP_FAIL("%s: mask size mismatch: the mask has %d frames, the clip uses frame %" PRId64, mpath, md[0], fi);
        }
        if (cfp_model_run(m, 1, in)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
        const float *lg;
        int64_t n_classes;
        if (cfp_model_logits(m, &lg, &n_classes)) CLIP_FAIL("%s: %s", o.model, cfp_errmsg(ctx));
        if (rows[ci].cls >= n_classes)
            CLIP_FAIL("%s/labels.csv: %s has class %d, the model has %" PRId64 " classes", o.clips, rows[ci].file,
                      rows[ci].cls, n_classes);
        int pred = 0;
        for (int64_t c = 1; c < n_classes; c++)
            if (lg[c] > lg[pred]) pred = (int)c;
        correct += pred == rows[ci].cls;
        class_stats *cs = &per_class[rows[ci].cls];
        cs->name = rows[ci].name;
        cs->clips++;
        cs->correct += pred == rows[ci].cls;
        cfp_pyramid_params pp = o.params;
        pp.class_index = pred;
        if (cfp_pyramid_build(m, &pp, &p)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));

        /* the maps, on the model input */
        float *vol;
        cfp_render_opts ro;
        cfp_render_opts_default(&ro);
        cfp_volume v1;
        if (cfp_map_kernelwise(p, 0, &v1)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
        vols[n_vols++] = v1;
        if (cfp_render_volume(ctx, &vols[n_vols - 1], T, H, W, &ro, &vol)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
        maps[n_maps++] = (clip_map){S_CLASS, vol};
        int n_nodes = cfp_pyramid_n_nodes(p);
        for (int d = 1; d <= o.params.depth; d++) {
            const cfp_node *layers[256];
            int nl = 0, first = n_vols;
            for (int i = 0; i < n_nodes && nl < 256; i++) {
                const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
                if (nd->level != d) continue;
                int known = 0;
                for (int k = 0; k < nl && !known; k++) known = layers[k] == nd->layer;
                if (!known) layers[nl++] = nd->layer;
            }
            if (!nl) continue;
            if (n_vols + nl > 512) CLIP_FAIL("%s: too many layers in level %d", vpath, d);
            for (int k = 0; k < nl; k++) {
                if (cfp_map_layerwise(p, layers[k], d, &v1)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
                vols[n_vols++] = v1;
            }
            if (zoom_avg(ctx, &vols[first], nl, T, H, W, &vol)) CLIP_FAIL("%s: cannot zoom level %d", vpath, d);
            maps[n_maps++] = (clip_map){S_LEVEL1 + d - 1, vol};
        }
        if (cfp_map_saliency_tubes(p, &v1)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
        vols[n_vols++] = v1;
        if (cfp_render_volume(ctx, &vols[n_vols - 1], T, H, W, &ro, &vol)) CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
        maps[n_maps++] = (clip_map){S_ST, vol};
        for (int k = 0; k < n_vols; k++) cfp_volume_free(&vols[k]);
        n_vols = 0;
        cfp_pyramid_free(p);
        p = NULL;
        /* baselines: uniform noise in [0,1) per model-input voxel, not smoothed
         * (seeded by --seed and the clip's number); a Gaussian centred in the
         * model input (the centre of the frame under a centre crop), σ = H/4 and
         * W/4, the same in every frame */
        if (!(vol = malloc(N * sizeof *vol))) CLIP_FAIL("out of memory");
        uint64_t s = ((uint64_t)o.seed << 32) ^ (uint64_t)ci;
        for (size_t i = 0; i < N; i++) vol[i] = (float)((splitmix(&s) >> 40) * (1.0 / 16777216.0));
        maps[n_maps++] = (clip_map){S_RANDOM, vol};
        if (!(vol = malloc(N * sizeof *vol))) CLIP_FAIL("out of memory");
        for (int t = 0; t < T; t++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double dy = (y - (H - 1) / 2.0) / (H / 4.0), dx = (xx - (W - 1) / 2.0) / (W / 4.0);
                    vol[((size_t)t * H + y) * W + xx] = (float)exp(-0.5 * (dx * dx + dy * dy));
                }
        cfp_normalize(vol, (int64_t[3]){T, H, W}, 0);
        maps[n_maps++] = (clip_map){S_CENTRE, vol};
        if (o.oracle) maps[n_maps++] = (clip_map){S_ORACLE, NULL};

        /* pointing game and energy share, on the mask's grid */
        const size_t plane = (size_t)g->src_w * g->src_h;
        if (plane > srcmap_cap) {
            free(srcmap);
            if (!(srcmap = malloc(plane * sizeof *srcmap))) CLIP_FAIL("out of memory");
            srcmap_cap = plane;
        }
        for (int t = 0; t < T; t++) {
            int64_t fi = cfp_clip_frame_index(vin.clip, cfp_clip_tensor_frame(vin.clip, 0, t));
            const uint8_t *mk = mask + (size_t)fi * plane;
            all_frames++;
            size_t area = 0;
            for (size_t i = 0; i < plane; i++) area += mk[i];
            if (area) mask_frames++, mask_area += (double)area / plane;
        }
        for (int k = 0; k < n_maps; k++) {
            map_stats *ms = &st[maps[k].slot];
            double ein = 0, etot = 0;
            for (int t = 0; t < T; t++) {
                int64_t fi = cfp_clip_frame_index(vin.clip, cfp_clip_tensor_frame(vin.clip, 0, t));
                const uint8_t *mk = mask + (size_t)fi * plane;
                if (maps[k].vol) to_source(maps[k].vol + (size_t)t * H * W, H, W, g, srcmap);
                else
                    for (size_t i = 0; i < plane; i++) srcmap[i] = mk[i];
                int hit = eval_pointing_hit(srcmap, mk, g->src_w, g->src_h, POINT_TOL);
                if (hit < 0) continue; /* no actor in this frame */
                ms->frames++;
                ms->hits += hit;
                int pc = maps[k].slot == S_CLASS ? PC_CLASS : maps[k].slot == S_ST ? PC_ST
                       : maps[k].slot == S_CENTRE ? PC_CENTRE : -1;
                if (pc >= 0) cs->frames[pc]++, cs->hits[pc] += hit;
                eval_energy_add(srcmap, mk, plane, &ein, &etot);
            }
            ms->n_clips++;
            ms->energy_sum += etot > 0 ? ein / etot : 0;
        }

        /* deletion and insertion on the model input */
        size_t total = (size_t)cfp_tensor_numel(in);
        if (!x) {
            x = malloc(total * sizeof *x), xb = malloc(total * sizeof *xb), work = malloc(total * sizeof *work);
            order = malloc(N * sizeof *order);
            probs = malloc((size_t)(o.steps + 1) * sizeof *probs);
            if (!x || !xb || !work || !order || !probs) CLIP_FAIL("out of memory");
        }
        memcpy(x, in->data, total * sizeof *x);
        if (blur_input(x, xb, C, T, H, W, vstride, cstride)) CLIP_FAIL("out of memory");
        for (int k = 0; k < n_maps; k++) {
            map_stats *ms = &st[maps[k].slot];
            if (!ms->auc || !maps[k].vol) continue;
            eval_order(maps[k].vol, N, order);
            double d, ins;
            if (del_ins(m, in, x, xb, work, order, N, C, vstride, cstride, o.steps, pred, 0, &d, probs) ||
                del_ins(m, in, x, xb, work, order, N, C, vstride, cstride, o.steps, pred, 1, &ins, probs))
                CLIP_FAIL("%s: %s", vpath, cfp_errmsg(ctx));
            ms->del_sum += d, ms->ins_sum += ins, ms->n_auc++;
        }
        for (int k = 0; k < n_maps; k++) free(maps[k].vol);
        n_maps = 0;
        cli_video_input_free(&vin);
        free(mask);
#undef CLIP_FAIL
        if (tty && !o.json) fprintf(stderr, "\rcfp: evaluated %d/%d clips", ci + 1, n_rows);
    }
    if (tty && !o.json) fprintf(stderr, "\r%40s\r", "");
    double secs = (cli_now_ms() - t_start) / 1000;

    /* the report */
    int order_rows[MAX_MAPS], nr = 0;
    order_rows[nr++] = S_CLASS;
    for (int d = 1; d <= o.params.depth; d++) order_rows[nr++] = S_LEVEL1 + d - 1;
    order_rows[nr++] = S_ST;
    order_rows[nr++] = S_RANDOM;
    order_rows[nr++] = S_CENTRE;
    if (o.oracle) order_rows[nr++] = S_ORACLE;
    const double acc = (double)correct / n_rows, area = mask_frames ? mask_area / mask_frames : 0;
    if (o.json) {
        printf("{\"model\":");
        cli_json_str(stdout, o.model);
        printf(",\"clips_dir\":");
        cli_json_str(stdout, o.clips);
        printf(",\"clips\":%d,\"frames\":%lld,\"mask_frames\":%lld,\"mask_area\":%.6f,\"correct\":%lld,\"accuracy\":%.6f,",
               n_rows, all_frames, mask_frames, area, correct, acc);
        printf("\"input\":\"%s\",\"theta\":%g,\"depth\":%d,\"steps\":%d,\"pointing_tolerance_px\":%d,"
               "\"blur\":\"gaussian sigma %g px over H and W\",\"seed\":%u,\"seconds\":%.3f,\"maps\":[",
               in_shape, o.params.theta, o.params.depth, o.steps, POINT_TOL, BLUR_SIGMA, o.seed, secs);
        for (int r = 0; r < nr; r++) {
            const map_stats *ms = &st[order_rows[r]];
            printf("%s{\"name\":", r ? "," : "");
            cli_json_str(stdout, ms->name);
            printf(",\"clips\":%d,\"frames\":%lld", ms->n_clips, ms->frames);
            if (ms->frames) printf(",\"pointing\":%.6f", (double)ms->hits / ms->frames);
            else printf(",\"pointing\":null");
            if (ms->n_clips) printf(",\"energy_share\":%.6f", ms->energy_sum / ms->n_clips);
            else printf(",\"energy_share\":null");
            if (ms->n_auc) printf(",\"deletion_auc\":%.6f,\"insertion_auc\":%.6f}", ms->del_sum / ms->n_auc, ms->ins_sum / ms->n_auc);
            else printf(",\"deletion_auc\":null,\"insertion_auc\":null}");
        }
        printf("],\"per_class\":[");
        for (int c = 0, first = 1; c < n_cls; c++) {
            const class_stats *cs = &per_class[c];
            if (!cs->clips) continue;
            printf("%s{\"class\":%d,\"name\":", first ? "" : ",", c);
            cli_json_str(stdout, cs->name ? cs->name : "");
            printf(",\"clips\":%d,\"accuracy\":%.6f,\"frames\":%lld", cs->clips, (double)cs->correct / cs->clips,
                   cs->frames[PC_CLASS]);
            static const char *keys[PC_N] = {"class_level", "saliency_tubes", "centre_prior"};
            for (int k = 0; k < PC_N; k++) {
                if (cs->frames[k]) printf(",\"pointing_%s\":%.6f", keys[k], (double)cs->hits[k] / cs->frames[k]);
                else printf(",\"pointing_%s\":null", keys[k]);
            }
            printf("}");
            first = 0;
        }
        printf("]}\n");
    } else {
        printf("model %s, clips %s: %d clips, %lld frames (%lld with the actor visible; the mask covers %.1f %% of them)\n",
               o.model, o.clips, n_rows, all_frames, mask_frames, 100 * area);
        printf("accuracy %.1f %% (%lld/%d); maps of the predicted class; input %s, theta %g, depth %d, steps %d\n\n",
               100 * acc, correct, n_rows, in_shape, o.params.theta, o.params.depth, o.steps);
        printf("| map | clips | pointing game | energy share | deletion AUC (lower is better) | insertion AUC (higher is better) |\n");
        printf("|---|---:|---:|---:|---:|---:|\n");
        for (int r = 0; r < nr; r++) {
            const map_stats *ms = &st[order_rows[r]];
            printf("| %s | %d | ", ms->name, ms->n_clips);
            if (ms->frames) printf("%.1f %% | ", 100.0 * ms->hits / ms->frames);
            else printf("– | ");
            if (ms->n_clips) printf("%.3f | ", ms->energy_sum / ms->n_clips);
            else printf("– | ");
            if (ms->n_auc) printf("%.3f | %.3f |\n", ms->del_sum / ms->n_auc, ms->ins_sum / ms->n_auc);
            else printf("– | – |\n");
        }
        printf("\n| true class | clips | accuracy | pointing: class-level | Saliency Tubes | centre prior |\n");
        printf("|---|---:|---:|---:|---:|---:|\n");
        for (int c = 0; c < n_cls; c++) {
            const class_stats *cs = &per_class[c];
            if (!cs->clips) continue;
            printf("| %d %s | %d | %.1f %% |", c, cs->name ? cs->name : "", cs->clips, 100.0 * cs->correct / cs->clips);
            for (int k = 0; k < PC_N; k++) {
                if (cs->frames[k]) printf(" %.1f %% |", 100.0 * cs->hits[k] / cs->frames[k]);
                else printf(" – |");
            }
            printf("\n");
        }
        printf("\npointing game: arg-max within %d px of the mask, over frames with the actor; deletion/insertion: "
               "voxels swapped with a Gaussian blur (sigma %g px) of the input%s\n",
               POINT_TOL, BLUR_SIGMA, o.auc_levels ? "" : " (levels: --auc-levels)");
        printf("time %.1f s\n", secs);
    }
out:
    for (int i = 0; i < n_rows; i++) free(rows[i].file), free(rows[i].name);
    free(per_class);
    free(rows);
    free(srcmap), free(x), free(xb), free(work), free(order), free(probs);
    cli_video_opts_free(&o.vo);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_evaluate = {
    "evaluate",
    "score the maps against ground-truth masks (synthetic_actions.py folders)",
    "cfp evaluate MODEL.onnx --clips DIR [options]\n"
    "  --clips DIR       clip_NNNN.mp4 + clip_NNNN.mask + labels.csv (scripts/synthetic_actions.py)\n"
    "maps (of the predicted class): class-level, levels 1..depth (layer-wise), Saliency Tubes,\n"
    "and two baselines: uniform noise, a centred Gaussian (sigma = 1/4 of the frame)\n"
    "  --theta T         (default 0.6)   --depth D (default 3)   --max-children K\n"
    "  --steps S         deletion/insertion steps: S+1 fractions 0, 1/S, ..., 1 (default 10)\n"
    "  --auc-levels      also deletion/insertion for the level maps (2(S+1) runs per level per clip)\n"
    "  --seed N          the random baseline's seed (default 1)\n"
    "  --json            machine-readable output\n"
    "  --threads N\n"
    "sampling and preprocessing: as in 'cfp help predict' (default: the model's own settings)\n",
    run,
};
