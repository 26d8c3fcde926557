/* cfp predict: a video in, the model's top classes out. */
#include "cfp_video.h"
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *cmd = "predict";

static int parse_hxw(const char *flag, const char *s, int *h, int *w) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (!errno && end != s && (*end == 'x' || *end == 'X')) {
        const char *b0 = end + 1;
        long b = strtol(b0, &end, 10);
        if (!errno && end != b0 && !*end && a >= 1 && b >= 1 && a <= 16384 && b <= 16384) {
            *h = (int)a, *w = (int)b;
            return 0;
        }
    }
    return cli_usage(cmd, "%s expects HxW like 128x171, got '%s'", flag, s);
}

static int parse_three(const char *flag, const char *s, float *out) {
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || fabs(v) > 1e30 || (i < 2 ? *end != ',' : *end != 0))
            return cli_usage(cmd, "%s expects three numbers like 0.45,0.45,0.45, got '%s'", flag, s);
        out[i] = (float)v;
        p = end + 1;
    }
    return 0;
}

typedef struct {
    const char *model, *video, *labels, *dump;
    int topk, json, threads;
    cfp_sampling samp;
    int have_start;
    cfp_video_settings flags;
} popts;

static int parse(int argc, char **argv, popts *o) {
    cfp_sampling_init(&o->samp);
    cfp_settings_init(&o->flags);
    o->topk = 5;
    cfp_video_settings *f = &o->flags;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL() \
    if (!val) return cli_usage(cmd, "%s needs a value", a); \
    i++
        if (strcmp(a, "--preset") == 0) {
            NEED_VAL();
            cfp_ctx *ctx;
            cfp_preprocess p;
            if (cfp_ctx_new(&ctx, 1)) return cli_die("out of memory");
            int bad = cfp_preset(ctx, val, &p);
            if (bad) cli_usage(cmd, "%s", cfp_errmsg(ctx));
            cfp_ctx_free(ctx);
            if (bad) return 2;
            snprintf(f->preset, sizeof f->preset, "%s", val);
        } else if (strcmp(a, "--start") == 0) {
            NEED_VAL();
            char *end;
            errno = 0;
            if (val[0] == '#') {
                long long n = strtoll(val + 1, &end, 10);
                if (errno || end == val + 1 || *end || n < 0 || n > 1000000000)
                    return cli_usage(cmd, "--start #N expects a frame number, got '%s'", val);
                o->samp.start_frame = n;
            } else {
                double t = strtod(val, &end);
                if (errno || end == val || *end || !(t >= 0 && t < 1e9))
                    return cli_usage(cmd, "--start expects seconds (like 2.5) or #N for frame N, got '%s'", val);
                o->samp.start = t;
            }
            o->have_start = 1;
        } else if (strcmp(a, "--frames") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 100000, &f->frames)) return 2;
        } else if (strcmp(a, "--stride") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 100000, &f->stride)) return 2;
        } else if (strcmp(a, "--uniform") == 0) {
            o->samp.uniform = 1;
        } else if (strcmp(a, "--resize") == 0) {
            NEED_VAL();
            if (parse_hxw(a, val, &f->resize_h, &f->resize_w)) return 2;
            f->short_side = 0;
        } else if (strcmp(a, "--short-side") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 16384, &f->short_side)) return 2;
            f->resize_h = f->resize_w = 0;
        } else if (strcmp(a, "--crop") == 0) {
            NEED_VAL();
            if (parse_hxw(a, val, &f->crop_h, &f->crop_w)) return 2;
        } else if (strcmp(a, "--mean") == 0) {
            NEED_VAL();
            if (parse_three(a, val, f->mean)) return 2;
            f->has_mean = 1;
        } else if (strcmp(a, "--std") == 0) {
            NEED_VAL();
            if (parse_three(a, val, f->std)) return 2;
            if (f->std[0] == 0 || f->std[1] == 0 || f->std[2] == 0) return cli_usage(cmd, "--std may not be 0");
            f->has_std = 1;
        } else if (strcmp(a, "--scale") == 0) {
            NEED_VAL();
            double v;
            if (cli_parse_float(cmd, a, val, -1e30, 1e30, &v)) return 2;
            if (v == 0) return cli_usage(cmd, "--scale may not be 0");
            f->scale = (float)v, f->has_scale = 1;
        } else if (strcmp(a, "--bgr") == 0) {
            f->bgr = 1;
        } else if (strcmp(a, "--layout") == 0) {
            NEED_VAL();
            if (strcmp(val, "ncthw") == 0) f->layout = CFP_LAYOUT_NCTHW;
            else if (strcmp(val, "nthwc") == 0) f->layout = CFP_LAYOUT_NTHWC;
            else return cli_usage(cmd, "--layout is ncthw or nthwc, got '%s'", val);
        } else if (strcmp(a, "--labels") == 0) {
            NEED_VAL();
            o->labels = val;
        } else if (strcmp(a, "--topk") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 1000000, &o->topk)) return 2;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--dump-input") == 0) {
            NEED_VAL();
            o->dump = val;
        } else if (strcmp(a, "--threads") == 0) {
            NEED_VAL();
            if (cli_parse_int(cmd, a, val, 1, 256, &o->threads)) return 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(cmd, "unknown option '%s'", a);
        } else if (!o->model) {
            o->model = a;
        } else if (!o->video) {
            o->video = a;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", a);
        }
#undef NEED_VAL
    }
    if (!o->model || !o->video) return cli_usage(cmd, "needs a model and a video");
    if (o->samp.uniform && (o->have_start || f->stride)) return cli_usage(cmd, "--uniform takes no --start or --stride");
    return 0;
}

/* "in.pb" -> "in.1.pb" for the second pathway */
static void second_name(const char *path, char *buf, size_t len) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) snprintf(buf, len, "%s.1", path);
    else snprintf(buf, len, "%.*s.1%s", (int)(dot - path), path, dot);
}

typedef struct {
    int index;
    double logit, prob;
} scored;

static int by_logit(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->index - y->index;
}

static int run(int argc, char **argv) {
    popts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) {
        cfp_settings_free(&o.flags);
        return rc;
    }
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    cfp_video *v = NULL;
    cfp_clip *clip = NULL;
    scored *sc = NULL;
    cfp_video_settings s;
    cfp_settings_init(&s);
    cfp_labels *labels = NULL;
    if (cfp_ctx_new(&ctx, o.threads)) {
        rc = cli_die("out of memory");
        goto out;
    }
    if (o.labels && cfp_labels_load(ctx, o.labels, &o.flags.labels)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t0 = cli_now_ms();
    if (cfp_model_load(ctx, o.model, &m) || cfp_settings_from_model(ctx, m, &s)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t_load = cli_now_ms() - t0;
    cfp_settings_merge(&s, &o.flags);
    cfp_preprocess pre;
    if (cfp_settings_resolve(ctx, &s, m, &pre, &o.samp.frames, &o.samp.stride)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    const int n_need = pre.alpha > 0 ? 2 : 1;
    if (cfp_model_n_inputs(m) != n_need) {
        rc = cli_die("%s has %d inputs, preprocessing '%s' makes %d%s", o.model, cfp_model_n_inputs(m), pre.name, n_need,
                     cfp_model_n_inputs(m) == 2 ? " (a two-pathway model wants --preset slowfast)" : "");
        goto out;
    }

    t0 = cli_now_ms();
    if (cfp_video_open(ctx, o.video, &v) || cfp_video_sample(v, &o.samp, &clip)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t_decode = cli_now_ms() - t0;
    t0 = cli_now_ms();
    if (cfp_clip_preprocess(ctx, clip, &pre)) {
        rc = cli_die("%s: %s", o.video, cfp_errmsg(ctx));
        goto out;
    }
    double t_pre = cli_now_ms() - t0;
    const cfp_video_info *vi = cfp_video_get_info(v);
    const int T = cfp_clip_n_frames(clip);
    if (cfp_clip_n_repeated(clip))
        fprintf(stderr, "cfp: note: %s ends before the clip does: its last frame (%.3f s) is repeated %d time%s\n", o.video,
                cfp_clip_frame_time(clip, T - 1), cfp_clip_n_repeated(clip), cfp_clip_n_repeated(clip) == 1 ? "" : "s");

    /* bind tensors to inputs: two pathways go to the inputs by their length */
    cfp_tensor in[2];
    for (int i = 0; i < n_need; i++) in[i] = *cfp_clip_tensor(clip, i);
    const int tax = pre.layout == CFP_LAYOUT_NCTHW ? 2 : 1;
    if (n_need == 2) {
        int64_t d0[CFP_MAX_DIMS], d1[CFP_MAX_DIMS];
        int dt;
        if (cfp_value_declared(cfp_model_input(m, 0), &dt, d0, NULL) == 5 &&
            cfp_value_declared(cfp_model_input(m, 1), &dt, d1, NULL) == 5 && d0[tax] > 0 && d1[tax] > 0 &&
            d0[tax] > d1[tax]) {
            cfp_tensor tmp = in[0];
            in[0] = in[1], in[1] = tmp;
        }
    }
    for (int i = 0; i < n_need; i++) {
        in[i].owned = 0;
        int64_t d[CFP_MAX_DIMS];
        int dt;
        cfp_value *iv = cfp_model_input(m, i);
        int nd = cfp_value_declared(iv, &dt, d, NULL);
        int ok = nd < 0 || nd == in[i].ndim;
        for (int k = 0; ok && nd > 0 && k < nd; k++) ok = d[k] < 0 || d[k] == in[i].dims[k];
        if (!ok) {
            char want[128] = "", got[128];
            size_t n = 0;
            for (int k = 0; k < nd && n < sizeof want; k++)
                n += (size_t)(d[k] >= 0 ? snprintf(want + n, sizeof want - n, k ? "x%" PRId64 : "%" PRId64, d[k])
                                        : snprintf(want + n, sizeof want - n, k ? "x?" : "?"));
            cli_shape_str(&in[i], got, sizeof got);
            rc = cli_die("%s: input '%s' is %s, but preprocessing '%s' gives %s (set --crop/--frames/--layout or another "
                         "--preset)",
                         o.model, cfp_value_name(iv), want, pre.name, got);
            goto out;
        }
    }
    if (o.dump) {
        for (int i = 0; i < n_need; i++) {
            char name2[4096];
            second_name(o.dump, name2, sizeof name2);
            if (cfp_tensor_write_pb(ctx, i ? name2 : o.dump, &in[i], cfp_value_name(cfp_model_input(m, i)))) {
                rc = cli_die("%s", cfp_errmsg(ctx));
                goto out;
            }
        }
    }
    t0 = cli_now_ms();
    if (cfp_model_run(m, n_need, in)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t_fwd = cli_now_ms() - t0;
    const cfp_tensor *ot = cfp_value_tensor(cfp_model_output(m, 0));
    int64_t C = ot->ndim ? ot->dims[ot->ndim - 1] : 1;
    if (ot->dtype != CFP_F32 || C < 1 || cfp_tensor_numel(ot) != C) {
        char buf[128];
        cli_shape_str(ot, buf, sizeof buf);
        rc = cli_die("%s: output '%s' is %s %s, not one row of class scores", o.model,
                     cfp_value_name(cfp_model_output(m, 0)), cfp_dtype_name(ot->dtype), buf);
        goto out;
    }
    labels = s.labels;
    s.labels = NULL;
    if (!labels && C == 400 && cfp_labels_load(ctx, "kinetics400", &labels)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    if (labels && cfp_labels_count(labels) != C) {
        rc = cli_die("%d labels for a model with %" PRId64 " classes (output '%s')", cfp_labels_count(labels), C,
                     cfp_value_name(cfp_model_output(m, 0)));
        goto out;
    }
    const float *x = ot->data;
    if (!(sc = malloc((size_t)C * sizeof *sc))) {
        rc = cli_die("out of memory");
        goto out;
    }
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < C; i++) mx = x[i] > mx ? x[i] : mx;
    for (int64_t i = 0; i < C; i++) sum += exp(x[i] - mx);
    for (int64_t i = 0; i < C; i++) sc[i] = (scored){(int)i, x[i], exp(x[i] - mx) / sum};
    qsort(sc, (size_t)C, sizeof *sc, by_logit);
    int K = o.topk < C ? o.topk : (int)C;

    const cfp_geometry *g = cfp_clip_geometry(clip);
    if (o.json) {
        printf("{\"top\":[");
        for (int i = 0; i < K; i++) {
            printf("%s{\"index\":%d,\"label\":", i ? "," : "", sc[i].index);
            char idx[32];
            snprintf(idx, sizeof idx, "%d", sc[i].index);
            cli_json_str(stdout, labels ? cfp_labels_get(labels, sc[i].index) : idx);
            printf(",\"prob\":%.9g,\"logit\":%.9g}", sc[i].prob, sc[i].logit);
        }
        printf("],\"timing_ms\":{\"load\":%.3f,\"decode\":%.3f,\"preprocess\":%.3f,\"forward\":%.3f},", t_load, t_decode,
               t_pre, t_fwd);
        printf("\"preset\":");
        cli_json_str(stdout, pre.name);
        printf(",\"frames\":[");
        for (int i = 0; i < T; i++) printf("%s%" PRId64, i ? "," : "", cfp_clip_frame_index(clip, i));
        printf("],\"times\":[");
        for (int i = 0; i < T; i++) printf("%s%.6f", i ? "," : "", cfp_clip_frame_time(clip, i));
        printf("],\"repeated\":%d,\"geometry\":{\"src\":[%d,%d],\"resize\":[%d,%d],\"crop\":[%d,%d,%d,%d]}}\n",
               cfp_clip_n_repeated(clip), g->src_h, g->src_w, g->resize_h, g->resize_w, g->crop_y, g->crop_x, g->crop_h,
               g->crop_w);
    } else {
        printf("video    %s: %s %dx%d%s, %.3g fps, %.2f s\n", o.video, vi->codec, vi->width, vi->height,
               vi->rotation ? " (rotated)" : "", vi->fps, vi->duration);
        printf("clip     %d frames, %.3f s (frame %" PRId64 ") to %.3f s (frame %" PRId64 ")%s\n", T,
               cfp_clip_frame_time(clip, 0), cfp_clip_frame_index(clip, 0), cfp_clip_frame_time(clip, T - 1),
               cfp_clip_frame_index(clip, T - 1), o.samp.uniform ? ", spread over the video" : "");
        char shp[128];
        cli_shape_str(&in[0], shp, sizeof shp);
        printf("input    %s: %dx%d -> resize %dx%d -> crop %dx%d at (%d, %d) -> %s%s\n", pre.name, g->src_h, g->src_w,
               g->resize_h, g->resize_w, g->crop_h, g->crop_w, g->crop_y, g->crop_x, shp, n_need == 2 ? " + fast" : "");
        printf("top %d\n", K);
        for (int i = 0; i < K; i++) {
            const char *lab = labels ? cfp_labels_get(labels, sc[i].index) : NULL;
            printf("  %2d  %.4f  %10.4f  %s%s(%d)\n", i + 1, sc[i].prob, sc[i].logit, lab ? lab : "", lab ? " " : "",
                   sc[i].index);
        }
        printf("time     decode %.1f ms, preprocess %.1f ms, forward %.1f ms\n", t_decode, t_pre, t_fwd);
    }
out:
    free(sc);
    cfp_labels_free(labels);
    cfp_settings_free(&s);
    cfp_settings_free(&o.flags);
    cfp_clip_free(clip);
    cfp_video_close(v);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

const cli_command cli_cmd_predict = {
    "predict",
    "classify a video: decode, sample, preprocess, run, top-K",
    "cfp predict MODEL.onnx VIDEO [options]\n"
    "  VIDEO             a video file, a folder of images, or a pattern like frames/%05d.jpg\n"
    "sampling\n"
    "  --start S | #N    start at S seconds, or at frame N (default 0)\n"
    "  --frames T        clip length (default: the model's input T, else the preset's, else 16)\n"
    "  --stride S        take every S-th frame (default: the preset's, else 1)\n"
    "  --uniform         T frames spread evenly over the whole video\n"
    "preprocessing (default: the model's sidecar MODEL.onnx.json or metadata, else kinetics-r3d)\n"
    "  --preset NAME     kinetics-r3d, kinetics-s3d, i3d, hara-resnet, hara-resnet-2017, mfnet,\n"
    "                    x3d (= x3d-m), x3d-xs, x3d-s, x3d-m, slowfast\n"
    "  --resize HxW | --short-side N    --crop HxW\n"
    "  --mean R,G,B  --std R,G,B  --scale F   x = (pixel*scale - mean)/std, pixel 0..255\n"
    "  --bgr             channels in BGR order      --layout ncthw|nthwc\n"
    "output\n"
    "  --labels FILE     one class name per line, or 'kinetics400' (used by default for 400 classes)\n"
    "  --topk K          (default 5)   --json\n"
    "  --dump-input IN.pb  write the model input as a TensorProto (a second pathway to IN.1.pb)\n"
    "  --threads N\n",
    run,
};
