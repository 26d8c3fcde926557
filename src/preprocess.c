/* Preprocessing: the named presets, the settings a model carries (sidecar
 * JSON, ONNX metadata), and clip -> tensor (resize, center crop, normalise,
 * layout, SlowFast pathways). Where each preset's numbers come from is in
 * the README ("Preprocessing presets"). */
#include "json.h"
#include "video_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KINETICS_MEAN {0.43216f, 0.394666f, 0.37645f}
#define KINETICS_STD {0.22803f, 0.22145f, 0.216989f}
#define PTV_MEAN {0.45f, 0.45f, 0.45f}
#define PTV_STD {0.225f, 0.225f, 0.225f}
#define U8 (1.0f / 255.0f)

/* name, resize_h, resize_w, short_side, crop_h, crop_w, scale, mean, std, bgr, layout, frames, stride, alpha */
static const cfp_preprocess presets[] = {
    {"kinetics-r3d", 128, 171, 0, 112, 112, U8, KINETICS_MEAN, KINETICS_STD, 0, 0, 16, 0, 0},
    {"kinetics-s3d", 256, 256, 0, 224, 224, U8, KINETICS_MEAN, KINETICS_STD, 0, 0, 0, 0, 0},
    {"i3d", 0, 0, 256, 224, 224, U8, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0, 0, 0, 0, 0},
    {"hara-resnet", 0, 0, 112, 112, 112, U8, {0.4345f, 0.4051f, 0.3775f}, {0.2768f, 0.2713f, 0.2737f}, 0, 0, 16, 0, 0},
    {"hara-resnet-2017", 0, 0, 112, 112, 112, 1.0f, {114.7748f, 107.7354f, 99.4750f}, {1, 1, 1}, 0, 0, 16, 0, 0},
    {"mfnet", 256, 256, 0, 224, 224, U8, {124 / 255.0f, 117 / 255.0f, 104 / 255.0f},
     {1 / (0.0167f * 255), 1 / (0.0167f * 255), 1 / (0.0167f * 255)}, 0, 0, 16, 2, 0},
    {"x3d", 0, 0, 256, 256, 256, U8, PTV_MEAN, PTV_STD, 0, 0, 16, 5, 0},
    {"x3d-xs", 0, 0, 182, 182, 182, U8, PTV_MEAN, PTV_STD, 0, 0, 4, 12, 0},
    {"x3d-s", 0, 0, 182, 182, 182, U8, PTV_MEAN, PTV_STD, 0, 0, 13, 6, 0},
    {"x3d-m", 0, 0, 256, 256, 256, U8, PTV_MEAN, PTV_STD, 0, 0, 16, 5, 0},
    {"slowfast", 0, 0, 256, 256, 256, U8, PTV_MEAN, PTV_STD, 0, 0, 32, 2, 4},
};
#define N_PRESETS (int)(sizeof presets / sizeof *presets)

const char *cfp_preset_name(int i) { return i >= 0 && i < N_PRESETS ? presets[i].name : NULL; }

int cfp_preset(cfp_ctx *ctx, const char *name, cfp_preprocess *out) {
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0) {
            *out = presets[i];
            return 0;
        }
    char list[512] = "";
    size_t k = 0;
    for (int i = 0; i < N_PRESETS && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", presets[i].name);
    return cfp_seterr(ctx, CFP_E_ARG, "unknown preset '%s' (known: %s)", name, list);
}

/* ---- clip -> tensors -------------------------------------------------------------- */

static int check_pre(cfp_ctx *ctx, const cfp_preprocess *p) {
    if (p->resize_h < 0 || p->resize_w < 0 || p->resize_h > 16384 || p->resize_w > 16384 || p->short_side < 0 ||
        p->short_side > 16384 || p->crop_h < 0 || p->crop_w < 0 || p->crop_h > 16384 || p->crop_w > 16384 ||
        (p->resize_h > 0) != (p->resize_w > 0) || (p->crop_h > 0) != (p->crop_w > 0))
        return cfp_seterr(ctx, CFP_E_ARG, "invalid resize or crop size");
    if (!isfinite(p->scale) || p->scale == 0) return cfp_seterr(ctx, CFP_E_ARG, "scale must be a non-zero number");
    for (int c = 0; c < 3; c++)
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || p->std[c] == 0)
            return cfp_seterr(ctx, CFP_E_ARG, "mean and std must be numbers, std non-zero");
    if (p->layout != CFP_LAYOUT_NCTHW && p->layout != CFP_LAYOUT_NTHWC)
        return cfp_seterr(ctx, CFP_E_ARG, "unknown layout %d", p->layout);
    if (p->alpha < 0 || p->alpha > 1000) return cfp_seterr(ctx, CFP_E_ARG, "SlowFast alpha %d is not in 1..1000", p->alpha);
    return 0;
}

static int make_tensor(cfp_ctx *ctx, cfp_tensor *t, int layout, int T, int h, int w) {
    int64_t dims[5] = {1, 3, T, h, w};
    if (layout == CFP_LAYOUT_NTHWC) dims[1] = T, dims[2] = h, dims[3] = w, dims[4] = 3;
    memset(t, 0, sizeof *t);
    if (cfp_tensor_shape(t, CFP_F32, 5, dims) || cfp_tensor_alloc_uninit(t))
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory for a 1x3x%dx%dx%d input", T, h, w);
    return 0;
}

int cfp_clip_preprocess(cfp_ctx *ctx, cfp_clip *c, const cfp_preprocess *p) {
    int rc = check_pre(ctx, p);
    if (rc) return rc;
    for (int i = 0; i < 2; i++) {
        cfp_tensor_free(&c->tensors[i]);
        free(c->tensor_frames[i]);
        c->tensor_frames[i] = NULL;
    }
    c->n_tensors = 0;
    const int W = c->width, H = c->height;
    int rw = W, rh = H;
    if (p->resize_h) rw = p->resize_w, rh = p->resize_h;
    else if (p->short_side) {
        /* torchvision's resize(int) / PyTorchVideo's ShortSideScale: floor(N * long / short) */
        if (W <= H) rw = p->short_side, rh = (int)((double)p->short_side * H / W);
        else rh = p->short_side, rw = (int)((double)p->short_side * W / H);
        if (rw < 1) rw = 1;
        if (rh < 1) rh = 1;
    }
    int cw = p->crop_w ? p->crop_w : rw, ch = p->crop_h ? p->crop_h : rh;
    if (cw > rw || ch > rh)
        return cfp_seterr(ctx, CFP_E_ARG, "crop %dx%d is larger than the resized frame %dx%d (HxW)", ch, cw, rh, rw);
    cfp_geometry *g = &c->geom;
    g->src_w = W, g->src_h = H, g->resize_w = rw, g->resize_h = rh;
    g->crop_w = cw, g->crop_h = ch;
    g->crop_x = (int)nearbyint((rw - cw) / 2.0); /* Python's round(): ties to even */
    g->crop_y = (int)nearbyint((rh - ch) / 2.0);

    const int T = c->n;
    int Ts = p->alpha > 0 ? T / p->alpha : 0;
    if (p->alpha > 0 && Ts < 1)
        return cfp_seterr(ctx, CFP_E_ARG, "a SlowFast clip needs at least alpha = %d frames, got %d", p->alpha, T);
    int n_t = p->alpha > 0 ? 2 : 1;
    int lens[2] = {p->alpha > 0 ? Ts : T, T};
    for (int k = 0; k < n_t; k++) {
        if ((rc = make_tensor(ctx, &c->tensors[k], p->layout, lens[k], ch, cw))) goto fail;
        if (!(c->tensor_frames[k] = malloc((size_t)lens[k] * sizeof(int)))) {
            rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
            goto fail;
        }
        for (int t = 0; t < lens[k]; t++)
            c->tensor_frames[k][t] = (p->alpha > 0 && k == 0)
                                         ? (Ts == 1 ? 0 : (int)((int64_t)t * (T - 1) / (Ts - 1))) /* linspace(0, T-1, Ts).long() */
                                         : t;
    }
    c->n_tensors = n_t;

    /* per output channel: value of each byte */
    float lut[3][256];
    for (int k = 0; k < 3; k++)
        for (int v = 0; v < 256; v++) lut[k][v] = (float)(((double)v * p->scale - p->mean[k]) / p->std[k]);

    uint8_t *resized = NULL;
    if (rw != W || rh != H) {
        if (!(resized = malloc((size_t)rw * rh * 3))) {
            rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    const size_t plane = (size_t)ch * cw;
    for (int u = 0; u < c->n_uniq; u++) {
        const uint8_t *img = NULL;
        if (!resized) {
            int t0 = 0;
            while (c->map[t0] != u) t0++;
            if (!(img = cfp_clip_frame(c, t0, NULL, NULL))) {
                rc = -1;
                break;
            }
        } else {
            if ((rc = cfp_frame_to_rgb(ctx, &c->scaler, c->uniq[u], rw, rh, resized))) break;
            img = resized;
        }
        for (int k = 0; k < n_t; k++) {
            float *dst = c->tensors[k].data;
            const int Tk = lens[k];
            for (int t = 0; t < Tk; t++) {
                if (c->map[c->tensor_frames[k][t]] != u) continue;
                for (int y = 0; y < ch; y++) {
                    const uint8_t *row = img + ((size_t)(y + g->crop_y) * rw + g->crop_x) * 3;
                    for (int oc = 0; oc < 3; oc++) {
                        const int sc = p->bgr ? 2 - oc : oc;
                        const float *l = lut[oc];
                        if (p->layout == CFP_LAYOUT_NCTHW) {
                            float *o = dst + ((size_t)oc * Tk + t) * plane + (size_t)y * cw;
                            for (int x = 0; x < cw; x++) o[x] = l[row[3 * x + sc]];
                        } else {
                            float *o = dst + (((size_t)t * ch + y) * cw) * 3 + oc;
                            for (int x = 0; x < cw; x++) o[3 * x] = l[row[3 * x + sc]];
                        }
                    }
                }
            }
        }
    }
    free(resized);
    if (!rc) return 0;
    if (rc == -1) rc = CFP_E_NOMEM;
fail:
    for (int i = 0; i < 2; i++) {
        cfp_tensor_free(&c->tensors[i]);
        free(c->tensor_frames[i]);
        c->tensor_frames[i] = NULL;
    }
    c->n_tensors = 0;
    return rc;
}

int cfp_clip_n_tensors(const cfp_clip *c) { return c->n_tensors; }
const cfp_tensor *cfp_clip_tensor(const cfp_clip *c, int i) { return i >= 0 && i < c->n_tensors ? &c->tensors[i] : NULL; }
int cfp_clip_tensor_frame(const cfp_clip *c, int i, int t) {
    if (i < 0 || i >= c->n_tensors) return -1;
    int len = (int)(c->tensors[i].dims[1] == 3 && c->tensors[i].dims[4] != 3 ? c->tensors[i].dims[2] : c->tensors[i].dims[1]);
    return t >= 0 && t < len ? c->tensor_frames[i][t] : -1;
}
const cfp_geometry *cfp_clip_geometry(const cfp_clip *c) { return &c->geom; }

void cfp_geometry_to_source(const cfp_geometry *g, double u, double v, double *x, double *y) {
    *x = (u + g->crop_x + 0.5) * g->src_w / g->resize_w - 0.5;
    *y = (v + g->crop_y + 0.5) * g->src_h / g->resize_h - 0.5;
}

/* ---- settings ------------------------------------------------------------------------ */

void cfp_settings_init(cfp_video_settings *s) {
    memset(s, 0, sizeof *s);
    s->bgr = s->layout = -1;
}

void cfp_settings_free(cfp_video_settings *s) {
    cfp_labels_free(s->labels);
    s->labels = NULL;
}

void cfp_settings_merge(cfp_video_settings *dst, cfp_video_settings *src) {
    if (src->preset[0]) {
        memcpy(dst->preset, src->preset, sizeof dst->preset);
        dst->resize_h = dst->resize_w = dst->short_side = dst->crop_h = dst->crop_w = 0;
        dst->has_scale = dst->has_mean = dst->has_std = 0;
        dst->bgr = -1;
        dst->alpha = 0;
    }
    if (src->resize_h) dst->resize_h = src->resize_h, dst->resize_w = src->resize_w, dst->short_side = 0;
    if (src->short_side) dst->short_side = src->short_side, dst->resize_h = dst->resize_w = 0;
    if (src->crop_h) dst->crop_h = src->crop_h, dst->crop_w = src->crop_w;
    if (src->has_scale) dst->has_scale = 1, dst->scale = src->scale;
    if (src->has_mean) dst->has_mean = 1, memcpy(dst->mean, src->mean, sizeof dst->mean);
    if (src->has_std) dst->has_std = 1, memcpy(dst->std, src->std, sizeof dst->std);
    if (src->bgr >= 0) dst->bgr = src->bgr;
    if (src->layout >= 0) dst->layout = src->layout;
    if (src->frames) dst->frames = src->frames;
    if (src->stride) dst->stride = src->stride;
    if (src->alpha) dst->alpha = src->alpha;
    if (src->labels) {
        cfp_labels_free(dst->labels);
        dst->labels = src->labels;
        src->labels = NULL;
    }
}

typedef struct {
    cfp_ctx *ctx;
    const char *what;
} jctx;

__attribute__((format(printf, 3, 4))) static int jfail(const jctx *j, const cfp_json *at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cfp_seterr(j->ctx, CFP_E_PARSE, "%s:%d:%d: %s", j->what, at->line, at->col, msg);
}

static int j_int(const jctx *j, const cfp_json *v, int lo, int hi, int *out) {
    if (v->type != CFP_JSON_NUMBER || v->num != floor(v->num) || v->num < lo || v->num > hi)
        return jfail(j, v, "\"%s\" must be a whole number from %d to %d", v->key, lo, hi);
    *out = (int)v->num;
    return 0;
}

static int j_floats(const jctx *j, const cfp_json *v, float *out, int n) {
    if (v->type != CFP_JSON_ARRAY || (int)v->len != n) return jfail(j, v, "\"%s\" must be an array of %d numbers", v->key, n);
    int i = 0;
    for (const cfp_json *e = v->child; e; e = e->next, i++) {
        if (e->type != CFP_JSON_NUMBER || !isfinite(e->num) || fabs(e->num) > 1e30)
            return jfail(j, e, "\"%s\" must hold numbers", v->key);
        out[i] = (float)e->num;
    }
    return 0;
}

static int j_size(const jctx *j, const cfp_json *v, int *h, int *w) {
    if (v->type != CFP_JSON_ARRAY || v->len != 2) return jfail(j, v, "\"%s\" must be [height, width]", v->key);
    const cfp_json *a = v->child, *b = a->next;
    if (a->type != CFP_JSON_NUMBER || b->type != CFP_JSON_NUMBER || a->num != floor(a->num) || b->num != floor(b->num) ||
        a->num < 1 || b->num < 1 || a->num > 16384 || b->num > 16384)
        return jfail(j, v, "\"%s\" must be [height, width], whole numbers from 1 to 16384", v->key);
    *h = (int)a->num, *w = (int)b->num;
    return 0;
}

static char *dir_join(const char *dir, const char *name) {
    if (name[0] == '/' || !dir || !*dir) return cfp_strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

/* A sidecar comes with the model and is as untrusted as the model: the
 * labels file it names must lie in the model's folder, as external data
 * must (no absolute path, no "..", no symbolic link out of the folder). */
static bool inside_folder(const char *dir, const char *name, const char *path) {
    if (name[0] == '/') return false;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n + (p[n] == '/');
    }
    char rdir[PATH_MAX], rfile[PATH_MAX];
    if (!realpath(dir && *dir ? dir : ".", rdir) || !realpath(path, rfile))
        return true; /* a file that is not there fails when it is opened */
    size_t dl = strlen(rdir);
    return strncmp(rdir, rfile, dl) == 0 && (rfile[dl] == '/' || dl == 1);
}

int cfp_settings_parse_json(cfp_ctx *ctx, const char *text, size_t len, const char *what, const char *dir,
                            cfp_video_settings *s) {
    char err[256];
    cfp_json_doc *doc;
    if (cfp_json_parse(text, len, &doc, err, sizeof err)) return cfp_seterr(ctx, CFP_E_PARSE, "%s:%s", what, err);
    const cfp_json *root = cfp_json_root(doc);
    jctx j = {ctx, what};
    int rc = 0;
    cfp_video_settings n;
    cfp_settings_init(&n);
    if (root->type != CFP_JSON_OBJECT) {
        rc = jfail(&j, root, "expected an object, found %s", cfp_json_type_name(root->type));
        goto out;
    }
    const cfp_json *labels_file = NULL, *classes = NULL;
    for (const cfp_json *v = root->child; v && !rc; v = v->next) {
        const char *k = v->key;
        if (strcmp(k, "preset") == 0) {
            cfp_preprocess tmp;
            if (v->type != CFP_JSON_STRING) rc = jfail(&j, v, "\"preset\" must be a string");
            else if (cfp_preset(ctx, v->str, &tmp)) rc = jfail(&j, v, "%s", cfp_errmsg(ctx));
            else snprintf(n.preset, sizeof n.preset, "%s", v->str);
        } else if (strcmp(k, "resize") == 0) rc = j_size(&j, v, &n.resize_h, &n.resize_w);
        else if (strcmp(k, "short_side") == 0) rc = j_int(&j, v, 1, 16384, &n.short_side);
        else if (strcmp(k, "crop") == 0) rc = j_size(&j, v, &n.crop_h, &n.crop_w);
        else if (strcmp(k, "mean") == 0) rc = j_floats(&j, v, n.mean, 3), n.has_mean = 1;
        else if (strcmp(k, "std") == 0) {
            rc = j_floats(&j, v, n.std, 3), n.has_std = 1;
            for (int c = 0; c < 3 && !rc; c++)
                if (n.std[c] == 0) rc = jfail(&j, v, "\"std\" may not be 0");
        } else if (strcmp(k, "scale") == 0) {
            if (v->type != CFP_JSON_NUMBER || v->num == 0 || !isfinite(v->num) || fabs(v->num) > 1e30)
                rc = jfail(&j, v, "\"scale\" must be a non-zero number");
            else n.scale = (float)v->num, n.has_scale = 1;
        } else if (strcmp(k, "bgr") == 0) {
            if (v->type != CFP_JSON_TRUE && v->type != CFP_JSON_FALSE) rc = jfail(&j, v, "\"bgr\" must be true or false");
            else n.bgr = v->type == CFP_JSON_TRUE;
        } else if (strcmp(k, "layout") == 0) {
            if (v->type == CFP_JSON_STRING && strcmp(v->str, "ncthw") == 0) n.layout = CFP_LAYOUT_NCTHW;
            else if (v->type == CFP_JSON_STRING && strcmp(v->str, "nthwc") == 0) n.layout = CFP_LAYOUT_NTHWC;
            else rc = jfail(&j, v, "\"layout\" must be \"ncthw\" or \"nthwc\"");
        } else if (strcmp(k, "frames") == 0) rc = j_int(&j, v, 1, 100000, &n.frames);
        else if (strcmp(k, "stride") == 0) rc = j_int(&j, v, 1, 100000, &n.stride);
        else if (strcmp(k, "alpha") == 0) rc = j_int(&j, v, 1, 1000, &n.alpha);
        else if (strcmp(k, "labels") == 0) {
            if (v->type != CFP_JSON_STRING || !v->len) rc = jfail(&j, v, "\"labels\" must be a file name");
            labels_file = v;
        } else if (strcmp(k, "classes") == 0) {
            if (v->type != CFP_JSON_ARRAY || !v->len) rc = jfail(&j, v, "\"classes\" must be an array of strings");
            for (const cfp_json *e = v->child; e && !rc; e = e->next)
                if (e->type != CFP_JSON_STRING) rc = jfail(&j, e, "\"classes\" must be an array of strings");
            classes = v;
        } else
            rc = jfail(&j, v, "unknown key \"%s\" (known: preset, resize, short_side, crop, mean, std, scale, bgr, "
                              "layout, frames, stride, alpha, labels, classes)",
                       k);
    }
    if (!rc && labels_file && classes) rc = jfail(&j, classes, "give \"labels\" or \"classes\", not both");
    if (!rc && n.resize_h && n.short_side) rc = jfail(&j, root, "give \"resize\" or \"short_side\", not both");
    if (!rc && labels_file) {
        const char *name = labels_file->str;
        char *path = strcmp(name, "kinetics400") == 0 ? cfp_strdup(name) : dir_join(dir, name);
        if (!path) rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        else if (strcmp(name, "kinetics400") != 0 && !inside_folder(dir, name, path)) {
            rc = jfail(&j, labels_file, "\"labels\": '%s' must name a file in the model's folder", name);
            free(path);
        } else {
            char msg[1024];
            if (cfp_labels_load(ctx, path, &n.labels)) {
                snprintf(msg, sizeof msg, "%s", cfp_errmsg(ctx));
                rc = jfail(&j, labels_file, "\"labels\": %s", msg);
            }
            free(path);
        }
    }
    if (!rc && classes) {
        const char **names = malloc(classes->len * sizeof *names);
        if (!names) rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        else {
            int i = 0;
            for (const cfp_json *e = classes->child; e; e = e->next) names[i++] = e->str;
            rc = cfp_labels_from_strings(ctx, names, i, &n.labels);
            free(names);
        }
    }
    if (!rc) cfp_settings_merge(s, &n);
out:
    cfp_settings_free(&n);
    cfp_json_free(doc);
    return rc;
}

static char *model_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return cfp_strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 2);
    if (!d) return NULL;
    memcpy(d, path, n ? n : 1);
    d[n ? n : 1] = 0;
    return d;
}

int cfp_settings_from_model(cfp_ctx *ctx, const cfp_model *m, cfp_video_settings *s) {
    const char *path = cfp_model_path(m);
    char *dir = model_dir(path);
    char *side = malloc(strlen(path) + 6);
    char *text = NULL;
    int rc = 0;
    if (!dir || !side) {
        rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        goto out;
    }
    const char *mp = cfp_model_metadata(m, "cfp.preset");
    if (mp) {
        cfp_preprocess tmp;
        if (cfp_preset(ctx, mp, &tmp)) {
            char msg[900];
            snprintf(msg, sizeof msg, "%s", cfp_errmsg(ctx));
            rc = cfp_seterr(ctx, CFP_E_PARSE, "%s: metadata 'cfp.preset': %s", path, msg);
            goto out;
        }
        cfp_video_settings n;
        cfp_settings_init(&n);
        snprintf(n.preset, sizeof n.preset, "%s", mp);
        cfp_settings_merge(s, &n);
    }
    const char *mj = cfp_model_metadata(m, "cfp");
    if (mj) {
        char what[1100];
        snprintf(what, sizeof what, "%s: metadata 'cfp'", path);
        if ((rc = cfp_settings_parse_json(ctx, mj, strlen(mj), what, dir, s))) goto out;
    }
    sprintf(side, "%s.json", path);
    FILE *f = fopen(side, "rb");
    if (!f) {
        if (errno != ENOENT) rc = cfp_seterr(ctx, CFP_E_IO, "%s: %s", side, strerror(errno));
        goto out;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > CFP_JSON_MAX_BYTES) {
        fclose(f);
        rc = cfp_seterr(ctx, CFP_E_IO, "%s: not a regular file of at most %u bytes", side, CFP_JSON_MAX_BYTES);
        goto out;
    }
    size_t len = (size_t)sb.st_size;
    text = malloc(len + 1);
    if (!text || fread(text, 1, len, f) != len) {
        fclose(f);
        rc = cfp_seterr(ctx, text ? CFP_E_IO : CFP_E_NOMEM, "%s: cannot read", side);
        goto out;
    }
    fclose(f);
    rc = cfp_settings_parse_json(ctx, text, len, side, dir, s);
out:
    free(text);
    free(side);
    free(dir);
    return rc;
}

/* The model's first input as declared: rank 5 with static dims, or -1. */
static int declared_input(const cfp_model *m, int i, int64_t *dims) {
    if (!m || i >= cfp_model_n_inputs(m)) return -1;
    int dtype;
    int nd = cfp_value_declared(cfp_model_input(m, i), &dtype, dims, NULL);
    return nd == 5 ? 0 : -1;
}

int cfp_settings_resolve(cfp_ctx *ctx, const cfp_video_settings *s, const cfp_model *m, cfp_preprocess *pre,
                         int *frames, int *stride) {
    int rc;
    int64_t d[CFP_MAX_DIMS];
    int have = declared_input(m, 0, d) == 0;
    int layout = s->layout;
    if (layout < 0) layout = have && d[4] == 3 && d[1] != 3 ? CFP_LAYOUT_NTHWC : CFP_LAYOUT_NCTHW;
    int64_t mh = -1, mw = -1, mt = -1;
    if (have) {
        if (layout == CFP_LAYOUT_NCTHW) mt = d[2], mh = d[3], mw = d[4];
        else mt = d[1], mh = d[2], mw = d[3];
        int64_t d1[CFP_MAX_DIMS];
        if (declared_input(m, 1, d1) == 0) { /* two pathways: the fast one is the longer */
            int64_t t1 = layout == CFP_LAYOUT_NCTHW ? d1[2] : d1[1];
            if (t1 > mt) mt = t1;
        }
    }
    if (s->preset[0]) {
        if ((rc = cfp_preset(ctx, s->preset, pre))) return rc;
    } else {
        cfp_preset(ctx, "kinetics-r3d", pre);
        if (!s->crop_h && mh > 0 && mw > 0 && mh <= 16384 && mw <= 16384 && (mh != 112 || mw != 112)) {
            /* no preset anywhere: kinetics-r3d scaled to the model's input size */
            pre->crop_h = (int)mh, pre->crop_w = (int)mw;
            pre->resize_h = (int)lround(128.0 * mh / 112), pre->resize_w = (int)lround(171.0 * mw / 112);
            snprintf(pre->name, sizeof pre->name, "kinetics-r3d@%dx%d", (int)mh, (int)mw);
        }
    }
    if (s->resize_h) pre->resize_h = s->resize_h, pre->resize_w = s->resize_w, pre->short_side = 0;
    if (s->short_side) pre->short_side = s->short_side, pre->resize_h = pre->resize_w = 0;
    if (s->crop_h) pre->crop_h = s->crop_h, pre->crop_w = s->crop_w;
    if (s->has_scale) pre->scale = s->scale;
    if (s->has_mean) memcpy(pre->mean, s->mean, sizeof pre->mean);
    if (s->has_std) memcpy(pre->std, s->std, sizeof pre->std);
    if (s->bgr >= 0) pre->bgr = s->bgr;
    if (s->alpha) pre->alpha = s->alpha;
    pre->layout = layout;
    if (s->resize_h || s->short_side || s->crop_h || s->has_scale || s->has_mean || s->has_std || s->bgr >= 0 || s->alpha) {
        size_t l = strlen(pre->name);
        if (l + 1 < sizeof pre->name && !strchr(pre->name, '+')) pre->name[l] = '+', pre->name[l + 1] = 0;
    }
    *frames = s->frames ? s->frames : mt > 0 && mt <= 100000 ? (int)mt : pre->frames ? pre->frames : 16;
    *stride = s->stride ? s->stride : pre->stride ? pre->stride : 1;
    return check_pre(ctx, pre);
}
