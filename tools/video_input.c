/* Video input shared by cfp predict and cfp explain (see video_input.h). */
#include "video_input.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *cmd = "video";

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

void cli_video_opts_init(cli_video_opts *o) {
    memset(o, 0, sizeof *o);
    cfp_sampling_init(&o->samp);
    cfp_settings_init(&o->flags);
}

void cli_video_opts_free(cli_video_opts *o) { cfp_settings_free(&o->flags); }

int cli_video_flag(const char *command, cli_video_opts *o, const char *a, const char *val, int *used_val) {
    cfp_video_settings *f = &o->flags;
    cmd = command;
    *used_val = 0;
#define NEED_VAL() \
    if (!val) return cli_usage(cmd, "%s needs a value", a); \
    *used_val = 1
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
        } else if (strcmp(a, "--keyframe") == 0) {
            o->samp.keyframe = 1;
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
    } else {
        return 0;
    }
#undef NEED_VAL
    return 1;
}

int cli_video_check(const char *command, const cli_video_opts *o) {
    if (o->samp.uniform && (o->have_start || o->flags.stride))
        return cli_usage(command, "--uniform takes no --start or --stride");
    if (o->samp.uniform && o->samp.keyframe) return cli_usage(command, "--uniform takes no --keyframe");
    return 0;
}

void cli_video_input_free(cli_video_input *vi) {
    cfp_clip_free(vi->clip);
    cfp_video_close(vi->v);
    cfp_settings_free(&vi->settings);
    memset(vi, 0, sizeof *vi);
}

int cli_video_prepare(cfp_ctx *ctx, cfp_model *m, const char *model_path, const char *video, cli_video_opts *opt,
                      cli_video_input *vi) {
    memset(vi, 0, sizeof *vi);
    cfp_settings_init(&vi->settings);
    cfp_video_settings *s = &vi->settings;
    if (cfp_settings_from_model(ctx, m, s)) return cli_die("%s", cfp_errmsg(ctx));
    cfp_settings_merge(s, &opt->flags);
    cfp_preprocess pre;
    if (cfp_settings_resolve(ctx, s, m, &pre, &opt->samp.frames, &opt->samp.stride)) return cli_die("%s", cfp_errmsg(ctx));
    vi->pre = pre;
    const int n_need = pre.alpha > 0 ? 2 : 1;
    if (cfp_model_n_inputs(m) != n_need) {
        return cli_die("%s has %d inputs, preprocessing '%s' makes %d%s", model_path, cfp_model_n_inputs(m), pre.name, n_need,
                     cfp_model_n_inputs(m) == 2 ? " (a two-pathway model wants --preset slowfast)" : "");
    }

    double t0 = cli_now_ms();
    if (cfp_video_open(ctx, video, &vi->v) || cfp_video_sample(vi->v, &opt->samp, &vi->clip)) {
        return cli_die("%s", cfp_errmsg(ctx));
    }
    vi->decode_ms = cli_now_ms() - t0;
    t0 = cli_now_ms();
    if (cfp_clip_preprocess(ctx, vi->clip, &pre)) {
        return cli_die("%s: %s", video, cfp_errmsg(ctx));
    }
    vi->preprocess_ms = cli_now_ms() - t0;
    const int T = cfp_clip_n_frames(vi->clip);
    if (opt->samp.keyframe)
        fprintf(stderr, "cfp: note: --keyframe: the clip starts at the keyframe at %.3f s (frame %lld)\n",
                cfp_clip_frame_time(vi->clip, 0), (long long)cfp_clip_frame_index(vi->clip, 0));
    if (cfp_clip_n_repeated(vi->clip))
        fprintf(stderr, "cfp: note: %s ends before the clip does: its last frame (%.3f s) is repeated %d time%s\n", video,
                cfp_clip_frame_time(vi->clip, T - 1), cfp_clip_n_repeated(vi->clip), cfp_clip_n_repeated(vi->clip) == 1 ? "" : "s");

    /* bind tensors to inputs: two pathways go to the inputs by their length */
    cfp_tensor *in = vi->in;
    for (int i = 0; i < n_need; i++) in[i] = *cfp_clip_tensor(vi->clip, i), vi->clip_tensor[i] = i;
    const int tax = pre.layout == CFP_LAYOUT_NCTHW ? 2 : 1;
    if (n_need == 2) {
        int64_t d0[CFP_MAX_DIMS], d1[CFP_MAX_DIMS];
        int dt;
        if (cfp_value_declared(cfp_model_input(m, 0), &dt, d0, NULL) == 5 &&
            cfp_value_declared(cfp_model_input(m, 1), &dt, d1, NULL) == 5 && d0[tax] > 0 && d1[tax] > 0 &&
            d0[tax] > d1[tax]) {
            cfp_tensor tmp = in[0];
            in[0] = in[1], in[1] = tmp;
            vi->clip_tensor[0] = 1, vi->clip_tensor[1] = 0;
        }
    }
    for (int i = 0; i < n_need; i++) {
        in[i].owned = 0;
        int64_t d[CFP_MAX_DIMS];
        int dt;
        cfp_value *iv = cfp_model_input(m, i);
        int nd = cfp_value_declared(iv, &dt, d, NULL);
        if (dt && dt != in[i].dtype)
            return cli_die("%s: input '%s' takes %s data, but a video gives %s: a video needs a model with a float input",
                           model_path, cfp_value_name(iv), cfp_dtype_name(dt), cfp_dtype_name(in[i].dtype));
        int ok = nd < 0 || nd == in[i].ndim;
        for (int k = 0; ok && nd > 0 && k < nd; k++) ok = d[k] < 0 || d[k] == in[i].dims[k];
        if (!ok) {
            char want[128] = "", got[128];
            size_t n = 0;
            for (int k = 0; k < nd && n < sizeof want; k++)
                n += (size_t)(d[k] >= 0 ? snprintf(want + n, sizeof want - n, k ? "x%" PRId64 : "%" PRId64, d[k])
                                        : snprintf(want + n, sizeof want - n, k ? "x?" : "?"));
            cli_shape_str(&in[i], got, sizeof got);
            return cli_die("%s: input '%s' is %s, but preprocessing '%s' gives %s (set --crop/--frames/--layout or another "
                         "--preset)",
                         model_path, cfp_value_name(iv), want, pre.name, got);
        }
    }
    vi->n_in = n_need;
    return 0;
}
