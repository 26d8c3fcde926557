/* The pictures of cfp explain (spec §5–6): every map of the report is a job
 * (volumes computed from the pyramid, then zoomed, coloured over the frames
 * and encoded as GIF and MP4 by two worker threads); the pyramid figure is
 * composed from the level tubes at the end. */
#include "explain_render.h"

#include "cfp_out.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char base[96];     /* file name without extension, under the output folder */
    cfp_volume *parts; /* one map, or the layer maps of a level (averaged) */
    int n_parts;
    int keep;          /* keep the coloured frames (level tubes, for the figure) */
    uint8_t *frames;   /* result when kept */
    int path;          /* the pathway it is drawn over */
    int done, failed;
    char err[256];
} job;

typedef struct {
    const render_input *in;
    const render_cfg *cfg;
    job *jobs;
    int n_jobs, next;
    pthread_mutex_t mu;
    int progress_shown;
    double t0;
    char out_dir_err[256];
} queue;

/* The input whose frames fit a map with t time steps best (|log T/t| least;
 * the first on a tie). */
static int pick_path(const render_input *in, int64_t t) {
    int best = 0;
    double bd = 1e300;
    for (int p = 0; p < in->n_paths; p++) {
        double d = fabs(log((double)in->paths[p].T / (double)(t > 0 ? t : 1)));
        if (d < bd - 1e-9) bd = d, best = p;
    }
    return best;
}


static int job_add(job **jobs, int *n, int *cap, const char *base, cfp_volume *parts, int n_parts, int keep, int path) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 32;
        job *j = realloc(*jobs, (size_t)c * sizeof *j);
        if (!j) return -1;
        *jobs = j;
        *cap = c;
    }
    job *j = &(*jobs)[(*n)++];
    memset(j, 0, sizeof *j);
    snprintf(j->base, sizeof j->base, "%s", base);
    j->parts = parts;
    j->n_parts = n_parts;
    j->keep = keep;
    j->path = path;
    return 0;
}

/* ---- one job ------------------------------------------------------------- */

static int write_volume_pb(cfp_ctx *ctx, const char *name, const float *data, const int64_t dims[3]) {
    char path[4096];
    if (!cli_outdir_path(name, path, sizeof path)) return -1;
    cfp_tensor t = {.dtype = CFP_F32, .ndim = 3, .dims = {dims[0], dims[1], dims[2]}, .data = (void *)data,
                    .nbytes = (size_t)(dims[0] * dims[1] * dims[2]) * sizeof(float)};
    return cfp_tensor_write_pb(ctx, path, &t, name);
}

static int run_job(cfp_ctx *ctx, const queue *q, job *j) {
    const render_input *in = q->in;
    const render_cfg *cfg = q->cfg;
    const render_path *rp = &in->paths[j->path];
    const uint8_t *in_frames = rp->frames;
    int T = rp->T, H = rp->H, W = rp->W;
    size_t plane = (size_t)H * W, n = (size_t)T * plane;
    float *vol = NULL, *acc = NULL;
    uint8_t *frames = NULL;
    int rc = 0;
    char name[160], path[4096];
    for (int k = 0; k < j->n_parts && !rc; k++) {
        if ((rc = cfp_render_volume(ctx, &j->parts[k], T, H, W, &cfg->ro, &vol))) break;
        if (cfg->save_volumes) {
            snprintf(name, sizeof name, "%s%s%d.pb", j->base, j->n_parts > 1 ? "_part" : "", j->n_parts > 1 ? k : 0);
            if (j->n_parts == 1) snprintf(name, sizeof name, "%s_map.pb", j->base);
            if ((rc = write_volume_pb(ctx, name, j->parts[k].data, j->parts[k].dims))) break;
        }
        if (j->n_parts == 1) break;
        if (!acc && !(acc = calloc(n, sizeof *acc))) rc = CFP_E_NOMEM;
        for (size_t i = 0; !rc && i < n; i++) acc[i] += vol[i] / (float)j->n_parts;
        free(vol);
        vol = NULL;
    }
    if (!rc && acc) {
        vol = acc;
        acc = NULL;
        cfp_normalize(vol, (int64_t[3]){T, H, W}, cfg->ro.per_frame);
    }
    if (!rc && cfg->save_volumes) {
        snprintf(name, sizeof name, "%s_zoomed.pb", j->base);
        rc = write_volume_pb(ctx, name, vol, (int64_t[3]){T, H, W});
    }
    if (!rc && !(frames = malloc(n * 3))) rc = CFP_E_NOMEM;
    if (!rc) {
        cfp_render_blend(vol, in_frames, T, H, W, &cfg->ro, frames);
        snprintf(name, sizeof name, "%s.gif", j->base);
        rc = cli_outdir_path(name, path, sizeof path) ? cfp_write_gif(ctx, path, frames, T, W, H, cfg->fps) : CFP_E_IO;
    }
    if (!rc && cfg->mp4) {
        snprintf(name, sizeof name, "%s.mp4", j->base);
        rc = cli_outdir_path(name, path, sizeof path) ? cfp_write_mp4(ctx, path, frames, T, W, H, cfg->fps) : CFP_E_IO;
    }
    if (!rc && cfg->frames_png) {
        for (int t = 0; t < T && !rc; t++) {
            snprintf(name, sizeof name, "%s_%03d.png", j->base, t);
            rc = cli_outdir_path(name, path, sizeof path) ? cfp_write_png(ctx, path, frames + (size_t)t * plane * 3, W, H)
                                                           : CFP_E_IO;
        }
    }
    free(vol);
    free(acc);
    if (!rc && j->keep) j->frames = frames;
    else free(frames);
    if (rc) snprintf(j->err, sizeof j->err, "%s: %s", j->base, ctx ? cfp_errmsg(ctx) : "failed");
    return rc;
}

static void *worker(void *arg) {
    queue *q = arg;
    cfp_ctx *ctx = NULL;
    if (cfp_ctx_new(&ctx, 1)) return NULL;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        int i = q->next < q->n_jobs ? q->next++ : -1;
        int done = 0;
        for (int k = 0; k < q->n_jobs; k++) done += q->jobs[k].done;
        if (!q->cfg->quiet && cli_now_ms() - q->t0 > 1000) {
            fprintf(stderr, "\rcfp: rendering %d/%d maps", done, q->n_jobs);
            q->progress_shown = 1;
        }
        pthread_mutex_unlock(&q->mu);
        if (i < 0) break;
        int rc = run_job(ctx, q, &q->jobs[i]);
        pthread_mutex_lock(&q->mu);
        q->jobs[i].done = 1;
        q->jobs[i].failed = rc != 0;
        pthread_mutex_unlock(&q->mu);
    }
    cfp_ctx_free(ctx);
    return NULL;
}

/* ---- the pyramid figure (the paper's Figure 1) --------------------------------- */

/* Rows: the class tube at the top, each level's tube below, widening like a
 * pyramid; each row is the level's frames scaled to the row width. */
static int write_figure(cfp_ctx *ctx, const render_input *in, const render_cfg *cfg, uint8_t **rows, int n_rows,
                        int fig_path) {
    int T = in->paths[fig_path].T, H = in->paths[fig_path].H, W = in->paths[fig_path].W;
    int gap = 6, maxw = (int)(W * (1 + 0.5 * (n_rows - 1))), maxh = 0;
    int *rw = calloc((size_t)n_rows, sizeof *rw), *rh = calloc((size_t)n_rows, sizeof *rh);
    if (!rw || !rh) {
        free(rw), free(rh);
        return CFP_E_NOMEM;
    }
    for (int r = 0; r < n_rows; r++) {
        rw[r] = (int)(W * (1 + 0.5 * r)) & ~1;
        rh[r] = (int)((double)H * rw[r] / W) & ~1;
        maxh += rh[r] + gap;
    }
    maxw = (maxw + 1) & ~1;
    maxh = (maxh + 1) & ~1;
    size_t fsz = (size_t)maxw * maxh * 3;
    uint8_t *canvas = malloc(fsz * (size_t)T);
    if (!canvas) {
        free(rw), free(rh);
        return CFP_E_NOMEM;
    }
    memset(canvas, 255, fsz * (size_t)T);
    for (int t = 0; t < T; t++) {
        uint8_t *c = canvas + fsz * (size_t)t;
        int y0 = 0;
        for (int r = 0; r < n_rows; r++) {
            int x0 = (maxw - rw[r]) / 2;
            const uint8_t *src = rows[r] + (size_t)t * H * W * 3;
            for (int y = 0; y < rh[r]; y++) {
                int sy = (int)((y + 0.5) * H / rh[r]);
                for (int x = 0; x < rw[r]; x++) {
                    int sx = (int)((x + 0.5) * W / rw[r]);
                    memcpy(c + ((size_t)(y0 + y) * maxw + x0 + x) * 3, src + ((size_t)sy * W + sx) * 3, 3);
                }
            }
            y0 += rh[r] + gap;
        }
    }
    char path[4096];
    int rc = cli_outdir_path("pyramid.gif", path, sizeof path) ? cfp_write_gif(ctx, path, canvas, T, maxw, maxh, cfg->fps)
                                                                : CFP_E_IO;
    if (!rc)
        rc = cli_outdir_path("pyramid.png", path, sizeof path)
                 ? cfp_write_png(ctx, path, canvas + fsz * (size_t)(T / 2), maxw, maxh)
                 : CFP_E_IO;
    free(canvas), free(rw), free(rh);
    return rc;
}

/* The class node's kernel-wise map over the frames as recorded, mapped back
 * through the crop and resize (spec §6). */
static int write_source(cfp_ctx *ctx, cfp_pyramid *p, const render_input *in, const render_cfg *cfg) {
    cfp_volume v;
    float *vol = NULL;
    uint8_t *all = NULL;
    int rc = cfp_map_kernelwise(p, 0, &v);
    /* the first part's pathway (the first of a two-pathway head's inputs) */
    int pi = rc ? 0 : pick_path(in, v.dims[0]);
    const render_path *rp = &in->paths[pi];
    int T = rp->T, H = rp->H, W = rp->W, tensor = rp->clip_tensor;
    if (!rc) rc = cfp_render_volume(ctx, &v, T, H, W, &cfg->ro, &vol);
    int sw = 0, sh = 0;
    size_t fsz = 0;
    for (int t = 0; !rc && t < T; t++) {
        uint8_t *img;
        if ((rc = cfp_render_source(ctx, vol, T, H, W, in->clip, tensor, &cfg->ro, t, &img, &sw, &sh))) break;
        if (!all) {
            fsz = (size_t)sw * sh * 3;
            if (!(all = malloc(fsz * (size_t)T))) rc = CFP_E_NOMEM;
        }
        if (all) memcpy(all + fsz * (size_t)t, img, fsz);
        free(img);
    }
    char path[4096];
    if (!rc) rc = cli_outdir_path("maps/class_source.mp4", path, sizeof path) ? cfp_write_mp4(ctx, path, all, T, sw, sh, cfg->fps) : CFP_E_IO;
    if (!rc) rc = cli_outdir_path("maps/class_source.png", path, sizeof path) ? cfp_write_png(ctx, path, all + fsz * (size_t)(T / 2), sw, sh) : CFP_E_IO;
    free(all);
    free(vol);
    cfp_volume_free(&v);
    return rc;
}

/* ---- choosing what to draw ------------------------------------------------------- */

typedef struct {
    int id;
    double score;
} ranked;

static int by_score(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id - y->id;
}

int cli_render_report(cfp_ctx *ctx, cfp_pyramid *p, const render_input *in, const render_cfg *cfg, render_result *res) {
    memset(res, 0, sizeof *res);
    int n = cfp_pyramid_n_nodes(p), max_level = 0, rc = 0;
    double t0 = cli_now_ms();
    job *jobs = NULL;
    int n_jobs = 0, cap = 0;
    res->node_rendered = calloc((size_t)n + 1, 1);
    res->score = calloc((size_t)n + 1, sizeof *res->score);
    ranked *rk = calloc((size_t)n + 1, sizeof *rk);
    if (!res->node_rendered || !res->score || !rk) {
        free(rk);
        return cli_die("out of memory");
    }
    for (int e = 0; e < cfp_pyramid_n_edges(p); e++) {
        const cfp_pyramid_edge *ed = cfp_pyramid_edge_at(p, e);
        if (ed->score > res->score[ed->child]) res->score[ed->child] = ed->score;
    }
    for (int i = 0; i < n; i++) {
        const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
        if (nd->level == 0) res->score[i] = 1.0;
        if (nd->level > max_level) max_level = nd->level;
    }
    res->n_levels = max_level + 1;
    if (cli_outdir_mkdir("maps")) {
        free(rk);
        return cli_die("cannot create the maps folder");
    }
    /* nodes: the class node(s), then the best of each level, in turn */
    int budget = cfg->max_nodes < 0 ? n : cfg->max_nodes;
    for (int level = 0; level <= max_level; level++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (cfp_pyramid_node_at(p, i)->level == level) rk[k++] = (ranked){i, res->score[i]};
        qsort(rk, (size_t)k, sizeof *rk, by_score);
        int per_level = level == 0 ? k : (budget + max_level - 1) / (max_level ? max_level : 1);
        for (int r = 0; r < k && r < per_level && (level == 0 || res->n_rendered < budget); r++)
            res->node_rendered[rk[r].id] = 1, res->n_rendered++;
    }
    free(rk);
    for (int i = 0; i < n && !rc; i++) {
        if (!res->node_rendered[i]) continue;
        cfp_volume *kv = calloc(1, sizeof *kv), *ov = calloc(1, sizeof *ov);
        char base[96];
        if (!kv || !ov || cfp_map_kernelwise(p, i, kv) || cfp_map_own(p, i, ov)) {
            rc = kv && ov ? cli_die("%s", cfp_errmsg(ctx)) : cli_die("out of memory");
            if (kv) cfp_volume_free(kv);
            if (ov) cfp_volume_free(ov);
            free(kv), free(ov);
            break;
        }
        snprintf(base, sizeof base, "maps/node%d_kernel", i);
        job_add(&jobs, &n_jobs, &cap, base, kv, 1, 0, pick_path(in, kv->dims[0]));
        snprintf(base, sizeof base, "maps/node%d_own", i);
        job_add(&jobs, &n_jobs, &cap, base, ov, 1, 0, pick_path(in, ov->dims[0]));
    }
    /* layers and levels */
    res->level_layers = calloc((size_t)res->n_levels + 1, sizeof *res->level_layers);
    res->n_level_layers = calloc((size_t)res->n_levels + 1, sizeof *res->n_level_layers);
    res->level_layer_path = calloc((size_t)res->n_levels + 1, sizeof *res->level_layer_path);
    res->level_paths = calloc((size_t)res->n_levels + 1, sizeof *res->level_paths);
    res->level_main_path = calloc((size_t)res->n_levels + 1, sizeof *res->level_main_path);
    int *level_job = calloc((size_t)res->n_levels + 1, sizeof *level_job);
    if (!res->level_layers || !res->n_level_layers || !res->level_layer_path || !res->level_paths ||
        !res->level_main_path || !level_job)
        rc = cli_die("out of memory");
    for (int level = 0; level <= max_level && !rc; level++) {
        const cfp_node *layers[512];
        int nl = 0;
        for (int i = 0; i < n && nl < 512; i++) {
            const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
            if (nd->level != level) continue;
            int known = 0;
            for (int k = 0; k < nl && !known; k++) known = layers[k] == nd->layer;
            if (!known) layers[nl++] = nd->layer;
        }
        cfp_volume *parts = NULL;
        int np = 0;
        res->level_layers[level] = calloc((size_t)nl + 1, sizeof *res->level_layers[level]);
        res->level_layer_path[level] = calloc((size_t)nl + 1, sizeof *res->level_layer_path[level]);
        if (!res->level_layers[level] || !res->level_layer_path[level]) {
            rc = cli_die("out of memory");
            break;
        }
        res->n_level_layers[level] = nl;
        for (int k = 0; k < nl; k++) res->level_layers[level][k] = layers[k];
        if (level == 0) {
            /* the class node's map: one part per pathway of a two-pathway head */
            if (cfp_map_kernelwise_parts(p, 0, &parts, &np)) rc = cli_die("%s", cfp_errmsg(ctx));
        } else if (!(parts = calloc((size_t)nl + 1, sizeof *parts))) {
            rc = cli_die("out of memory");
        } else {
            np = nl;
            for (int k = 0; k < nl && !rc; k++)
                if (cfp_map_layerwise(p, layers[k], level, &parts[k])) rc = cli_die("%s", cfp_errmsg(ctx));
        }
        if (rc) {
            cfp_volumes_free(parts, np);
            break;
        }
        int part_path[512], count[RENDER_MAX_PATHS] = {0}, main_path = 0;
        for (int k = 0; k < np && k < 512; k++) count[part_path[k] = pick_path(in, parts[k].dims[0])]++;
        for (int q = 1; q < RENDER_MAX_PATHS; q++)
            if (count[q] > count[main_path]) main_path = q;
        res->level_main_path[level] = main_path;
        for (int k = 0; k < nl; k++) res->level_layer_path[level][k] = level == 0 ? (np ? part_path[0] : 0) : part_path[k];
        char base[96];
        for (int k = 0; k < nl && level > 0 && !rc; k++) {
            cfp_volume *one = malloc(sizeof *one);
            size_t sz = (size_t)(parts[k].dims[0] * parts[k].dims[1] * parts[k].dims[2]);
            if (!one || !(one->data = malloc(sz * sizeof(float) + 1))) {
                free(one);
                rc = cli_die("out of memory");
                break;
            }
            /* the level jobs own `parts`; layer jobs get their own copies */
            memcpy(one->dims, parts[k].dims, sizeof one->dims);
            memcpy(one->data, parts[k].data, sz * sizeof(float));
            snprintf(base, sizeof base, "maps/level%d_layer%d", level, k);
            job_add(&jobs, &n_jobs, &cap, base, one, 1, 0, part_path[k]);
        }
        /* one level map per pathway: the parts drawn over it, averaged */
        for (int q = 0; q < RENDER_MAX_PATHS && !rc; q++) {
            if (!count[q]) continue;
            cfp_volume *mine = calloc((size_t)count[q], sizeof *mine);
            if (!mine) {
                rc = cli_die("out of memory");
                break;
            }
            int m = 0;
            for (int k = 0; k < np; k++)
                if (part_path[k] == q) mine[m++] = parts[k], parts[k].data = NULL;
            if (q == main_path) snprintf(base, sizeof base, "maps/level%d", level);
            else snprintf(base, sizeof base, "maps/level%d_path%d", level, q);
            if (q == main_path) level_job[level] = n_jobs;
            job_add(&jobs, &n_jobs, &cap, base, mine, m, q == main_path, q);
            res->level_paths[level] |= 1 << q;
        }
        cfp_volumes_free(parts, np);
    }
    /* the Saliency Tubes baseline, one map per pathway */
    if (!rc) {
        cfp_volume *st = NULL;
        int ns = 0;
        if (cfp_map_saliency_tubes_parts(p, &st, &ns)) {
            rc = cli_die("%s", cfp_errmsg(ctx));
        } else {
            for (int k = 0; k < ns && !rc; k++) {
                cfp_volume *one = malloc(sizeof *one);
                if (!one) {
                    rc = cli_die("out of memory");
                    break;
                }
                *one = st[k];
                st[k].data = NULL;
                int q = pick_path(in, one->dims[0]);
                char base[96];
                if (k == 0) res->st_main_path = q, snprintf(base, sizeof base, "maps/saliency_tubes");
                else snprintf(base, sizeof base, "maps/saliency_tubes_path%d", q);
                if (k > 0 && q == res->st_main_path) { /* same pathway twice: keep the first */
                    cfp_volume_free(one);
                    free(one);
                    continue;
                }
                res->st_paths |= 1 << q;
                job_add(&jobs, &n_jobs, &cap, base, one, 1, 0, q);
            }
            cfp_volumes_free(st, ns);
        }
    }
    res->maps_ms = cli_now_ms() - t0;
    if (!rc) {
        char path[4096];
        double t1 = cli_now_ms();
        const render_path *clip = &in->paths[0]; /* the clip as the model's first input saw it */
        if (!cli_outdir_path("clip.gif", path, sizeof path) || cfp_write_gif(ctx, path, clip->frames, clip->T, clip->W, clip->H, cfg->fps) ||
            (cfg->mp4 && (!cli_outdir_path("clip.mp4", path, sizeof path) ||
                          cfp_write_mp4(ctx, path, clip->frames, clip->T, clip->W, clip->H, cfg->fps))))
            rc = cli_die("%s", cfp_errmsg(ctx));
        queue q = {.in = in, .cfg = cfg, .jobs = jobs, .n_jobs = n_jobs, .t0 = t0};
        pthread_mutex_init(&q.mu, NULL);
        int nt = cfg->threads > 1 ? cfg->threads : 1;
        pthread_t th[16];
        int started = 0;
        for (int i = 1; i < nt && i < 16 && !rc; i++)
            if (pthread_create(&th[started], NULL, worker, &q) == 0) started++;
        if (!rc) worker(&q);
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
        pthread_mutex_destroy(&q.mu);
        if (q.progress_shown) fprintf(stderr, "\rcfp: rendered %d maps%20s\n", n_jobs, "");
        for (int i = 0; i < n_jobs && !rc; i++)
            if (jobs[i].failed || !jobs[i].done) rc = cli_die("rendering %s", jobs[i].err[0] ? jobs[i].err : jobs[i].base);
        if (!rc) {
            uint8_t **rows = calloc((size_t)res->n_levels, sizeof *rows);
            int nr = 0;
            int fig_path = res->level_main_path[0];
            for (int level = 0; rows && level < res->n_levels; level++)
                if (jobs[level_job[level]].frames && jobs[level_job[level]].path == fig_path)
                    rows[nr++] = jobs[level_job[level]].frames;
            if (!rows || write_figure(ctx, in, cfg, rows, nr, fig_path)) rc = cli_die("cannot write the pyramid figure: %s", cfp_errmsg(ctx));
            free(rows);
        }
        if (!rc && in->clip) {
            if (write_source(ctx, p, in, cfg)) rc = cli_die("cannot draw on the source frames: %s", cfp_errmsg(ctx));
            else res->source = 1;
        }
        res->encode_ms = cli_now_ms() - t1;
    }
    for (int i = 0; i < n_jobs; i++) {
        for (int k = 0; k < jobs[i].n_parts; k++) cfp_volume_free(&jobs[i].parts[k]);
        free(jobs[i].parts); /* every job owns its array of volumes */
        free(jobs[i].frames);
    }
    free(jobs);
    free(level_job);
    return rc;
}

void cli_render_result_free(render_result *r) {
    free(r->node_rendered);
    free(r->score);
    for (int l = 0; r->level_layer_path && l < r->n_levels; l++) free(r->level_layer_path[l]);
    free(r->level_layer_path);
    free(r->level_paths);
    free(r->level_main_path);
    for (int l = 0; r->level_layers && l < r->n_levels; l++) free(r->level_layers[l]);
    free(r->level_layers);
    free(r->n_level_layers);
    memset(r, 0, sizeof *r);
}
