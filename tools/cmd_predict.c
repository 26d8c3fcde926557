/* cfp predict: a video in, the model's top classes out. */
#include "video_input.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *cmd = "predict";

typedef struct {
    const char *model, *video, *labels, *dump;
    int topk, json, threads;
    cli_video_opts vo;
} popts;

static int parse(int argc, char **argv, popts *o) {
    cli_video_opts_init(&o->vo);
    o->topk = 5;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int used, r = cli_video_flag(cmd, &o->vo, a, val, &used);
        if (r == 2) return 2;
        if (r == 1) {
            i += used;
            continue;
        }
#define NEED_VAL() \
    if (!val) return cli_usage(cmd, "%s needs a value", a); \
    i++
        if (strcmp(a, "--labels") == 0) {
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
    return cli_video_check(cmd, &o->vo);
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
        cli_video_opts_free(&o.vo);
        return rc;
    }
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    scored *sc = NULL;
    cli_video_input vin = {0};
    cfp_labels *labels = NULL;
    if (cli_ctx_new(&ctx, o.threads)) {
        rc = cli_die("out of memory");
        goto out;
    }
    if (o.labels && cfp_labels_load(ctx, o.labels, &o.vo.flags.labels)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t0 = cli_now_ms();
    if (cfp_model_load(ctx, o.model, &m)) {
        rc = cli_die("%s", cfp_errmsg(ctx));
        goto out;
    }
    double t_load = cli_now_ms() - t0;
    if ((rc = cli_video_prepare(ctx, m, o.model, o.video, &o.vo, &vin))) goto out;
    cfp_clip *clip = vin.clip;
    cfp_tensor *in = vin.in;
    const int n_need = vin.n_in, T = cfp_clip_n_frames(clip);
    const cfp_preprocess pre = vin.pre;
    const cfp_video_info *vi = cfp_video_get_info(vin.v);
    double t_decode = vin.decode_ms, t_pre = vin.preprocess_ms;
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
    labels = vin.settings.labels;
    vin.settings.labels = NULL;
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
               cfp_clip_frame_index(clip, T - 1), o.vo.samp.uniform ? ", spread over the video" : "");
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
    cli_video_input_free(&vin);
    cli_video_opts_free(&o.vo);
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
    "  --keyframe        start at the last keyframe at or before --start: only the window is\n"
    "                    decoded (fast in the middle of a long video)\n"
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
