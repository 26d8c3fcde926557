/* Video input: decoded and resized frames against the ffmpeg CLI, preset
 * tensors against a NumPy reference (tests/video/preset_ref.py), sampling,
 * the sidecar JSON reader, labels, and bad videos through `cfp predict`. */
#include "cfp_video.h"
#include "json.h"
#include "test.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The synthetic clips, made once per run into a temporary folder. */
static const char *clips(void) {
    static int state; /* 0 not yet, 1 ok, -1 failed */
    if (!state) {
        int rc = cfp_test_sh("'%s/tests/video/make_clips.sh' '%s/clips'", cfp_test_root(), cfp_test_tmpsub("video"));
        state = rc == 0 ? 1 : -1;
        if (state < 0) fprintf(stderr, "test_video: tests/video/make_clips.sh failed (is ffmpeg installed?)\n");
    }
    static char dir[128];
    snprintf(dir, sizeof dir, "%s/clips", cfp_test_tmpsub("video"));
    return state > 0 ? dir : NULL;
}

/* A new context and `name` from the generated clips opened in it, its path
 * in path[512] unless path is NULL; false (after a failed check) when the
 * clips or the file are missing. */
static bool open_clip(const char *name, char path[512], cfp_ctx **ctx, cfp_video **v) {
    const char *d = clips();
    CHECK(d != NULL);
    if (!d) return false;
    char own[512];
    if (!path) path = own;
    snprintf(path, 512, "%s/%s", d, name);
    cfp_ctx_new(ctx, 1);
    CHECK_EQ(cfp_video_open(*ctx, path, v), 0);
    if (*v) return true;
    cfp_ctx_free(*ctx);
    return false;
}

/* Every frame of `video` from the ffmpeg CLI, scaled to w x h, as rgb24. */
static uint8_t *ffmpeg_rgb(const char *video, const char *input_opts, const char *filters, int w, int h, int *n) {
    char out[256];
    snprintf(out, sizeof out, "%s/ref.rgb", cfp_test_tmpsub("video"));
    if (cfp_test_sh("ffmpeg -nostdin -v error -y %s -i '%s' -vf '%s%sscale=%d:%d:flags=bilinear' -pix_fmt rgb24 "
                    "-fps_mode passthrough -f rawvideo '%s'",
                    input_opts, video, filters, *filters ? "," : "", w, h, out))
        return NULL;
    size_t len;
    uint8_t *b = cfp_test_slurp_alloc(out, &len);
    *n = b ? (int)(len / ((size_t)w * h * 3)) : 0;
    return b;
}

typedef struct {
    long n_diff;
    int max_diff;
} cmp;

static void cmp_bytes(cmp *c, const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) c->n_diff++;
        if (d > c->max_diff) c->max_diff = d;
    }
}

static void cmp_floats(cmp *c, const float *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - (float)b[i];
        if (d < 0) d = -d;
        if (d != 0) c->n_diff++;
        if (d > c->max_diff) c->max_diff = (int)(d + 0.999f);
    }
}

typedef struct {
    const char *name, *file, *ref; /* ref: what ffmpeg reads, when not file (a folder) */
    const char *input_opts;
    int w, h, rot;
    int vfr; /* timestamps with gaps: frame numbers are not counts */
} clip_case;

/* A clip of T frames from frame `start`, every `stride`, at full size and
 * resized to rw x rh, against the ffmpeg CLI (its fps filter for files: the
 * frame on screen at each time, which is how cfp samples). */
static void check_against_ffmpeg(const char *name, const char *dir, const clip_case *cc, int start, int T, int stride,
                                 int rw, int rh) {
    char path[512], refpath[512];
    snprintf(path, sizeof path, "%s/%s", dir, cc->file);
    snprintf(refpath, sizeof refpath, "%s/%s", dir, cc->ref ? cc->ref : cc->file);
    const char *input_opts = cc->input_opts;
    const int want_w = cc->w, want_h = cc->h, want_rot = cc->rot;
    cfp_ctx *ctx;
    cfp_video *v = NULL;
    cfp_clip *c = NULL;
    uint8_t *full = NULL, *small = NULL;
    char why[512] = "";
    if (cfp_ctx_new(&ctx, 1)) abort();
    if (cfp_video_open(ctx, path, &v)) {
        snprintf(why, sizeof why, "open: %s", cfp_errmsg(ctx));
        goto out;
    }
    const cfp_video_info *vi = cfp_video_get_info(v);
    if (vi->width != want_w || vi->height != want_h || vi->rotation != want_rot) {
        snprintf(why, sizeof why, "info %dx%d rot %d, want %dx%d rot %d", vi->width, vi->height, vi->rotation, want_w,
                 want_h, want_rot);
        goto out;
    }
    cfp_sampling s;
    cfp_sampling_init(&s);
    s.start_frame = start, s.frames = T, s.stride = stride;
    if (cfp_video_sample(v, &s, &c)) {
        snprintf(why, sizeof why, "sample: %s", cfp_errmsg(ctx));
        goto out;
    }
    int nf, ns;
    char filt[64] = "";
    if (!cc->ref) snprintf(filt, sizeof filt, "fps=%.17g", vi->fps);
    full = ffmpeg_rgb(refpath, input_opts, filt, want_w, want_h, &nf);
    small = ffmpeg_rgb(refpath, input_opts, filt, rw, rh, &ns);
    if (!full || !small || nf != ns || nf < start + (T - 1) * stride + 1) {
        snprintf(why, sizeof why, "ffmpeg reference: %d and %d frames", nf, ns);
        goto out;
    }
    cfp_preprocess p = {.name = "test", .resize_h = rh, .resize_w = rw, .scale = 1, .std = {1, 1, 1},
                        .layout = CFP_LAYOUT_NTHWC};
    if (cfp_clip_preprocess(ctx, c, &p)) {
        snprintf(why, sizeof why, "preprocess: %s", cfp_errmsg(ctx));
        goto out;
    }
    cmp cf = {0}, cs = {0};
    const float *x = cfp_clip_tensor(c, 0)->data;
    for (int i = 0; i < T; i++) {
        int64_t k = start + i * stride;
        if (!cc->vfr && cfp_clip_frame_index(c, i) != k) {
            snprintf(why, sizeof why, "clip frame %d is frame %lld, want %lld", i, (long long)cfp_clip_frame_index(c, i),
                     (long long)k);
            goto out;
        }
        int w, h;
        const uint8_t *f = cfp_clip_frame(c, i, &w, &h);
        cmp_bytes(&cf, f, full + (size_t)k * w * h * 3, (size_t)w * h * 3);
        cmp_floats(&cs, x + (size_t)i * rw * rh * 3, small + (size_t)k * rw * rh * 3, (size_t)rw * rh * 3);
    }
    if (cf.n_diff || cs.n_diff)
        snprintf(why, sizeof why, "differs from ffmpeg: full size %ld bytes (max %d), resized %ld (max %d)", cf.n_diff,
                 cf.max_diff, cs.n_diff, cs.max_diff);
out:
    cfp_test_result(name, !why[0], why);
    free(full);
    free(small);
    cfp_clip_free(c);
    cfp_video_close(v);
    cfp_ctx_free(ctx);
}

SUITE(video_matches_ffmpeg) {
    static const clip_case cases[] = {
        {"h264", "h264.mp4", NULL, "", 96, 72, 0, 0},
        {"mpeg4", "mpeg4.avi", NULL, "", 98, 74, 0, 0},
        {"vp9", "vp9.webm", NULL, "", 90, 66, 0, 0},
        {"mjpeg_odd_yuvj420p", "mjpeg.avi", NULL, "", 97, 71, 0, 0},
        {"ffv1_odd_yuv444p", "ffv1.mkv", NULL, "", 97, 71, 0, 0},
        {"theora_dropped_frames", "theora.ogv", NULL, "", 80, 48, 0, 1},
        {"h264_full_range", "h264j.mp4", NULL, "", 96, 64, 0, 0},
        {"h264_rotate90_tag", "rot90.mp4", NULL, "", 72, 96, 270, 0},
        {"h264_rotate270_tag", "rot270.mp4", NULL, "", 72, 96, 90, 0},
        {"frames_pattern", "frames/%05d.jpg", "frames/%05d.jpg", "", 97, 71, 0, 0},
        {"frames_folder", "frames", "frames/%05d.jpg", "", 97, 71, 0, 0},
        /* 1.png .. 12.png: only natural order (not 1, 10, 11, 12, 2, ...) matches */
        {"png_folder_natural_order", "png", "png/%d.png", "-start_number 1", 64, 48, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[128];
        snprintf(name, sizeof name, "video_ffmpeg_%s", cases[i].name);
        if (!cfp_test_wanted(name)) continue;
        const char *d = clips();
        if (!d) {
            cfp_test_result(name, 0, "no test clips");
            continue;
        }
        int folder = cases[i].ref != NULL;
        /* downscale (model sizes) and an upscale */
        check_against_ffmpeg(name, d, &cases[i], folder ? 1 : 3, folder ? 4 : 8, 2, 43, 32);
        if (i == 0 || i == 3 || i == 4 || i == 7 || i == 10) { /* upscale: a few formats are enough */
            snprintf(name, sizeof name, "video_ffmpeg_%s_upscale", cases[i].name);
            check_against_ffmpeg(name, d, &cases[i], 0, 3, 1, 171, 128);
        }
    }
}

/* Variable frame rate: sampling by time must equal ffmpeg's fps filter. */
TEST(video_vfr_by_timestamps) {
    cfp_ctx *ctx;
    cfp_video *v = NULL;
    cfp_clip *c;
    char path[512];
    if (!open_clip("vfr.mkv", path, &ctx, &v)) return;
    const double fps = cfp_video_get_info(v)->fps;
    CHECK_NEAR(fps, 25, 1e-9);
    cfp_sampling s;
    cfp_sampling_init(&s);
    s.frames = 20;
    CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
    int n;
    char filt[64];
    snprintf(filt, sizeof filt, "fps=%g", fps);
    uint8_t *ref = ffmpeg_rgb(path, "", filt, 64, 48, &n);
    CHECK(ref && n >= 20);
    cmp cf = {0};
    for (int i = 0; ref && i < 20; i++) cmp_bytes(&cf, cfp_clip_frame(c, i, NULL, NULL), ref + (size_t)i * 64 * 48 * 3, 64 * 48 * 3);
    CHECK_EQ(cf.n_diff, 0);
    /* frame 1 is at 0.07 s: the target 0.04 s still shows frame 0 */
    CHECK_NEAR(cfp_clip_frame_time(c, 1), 0.0, 1e-9);
    CHECK_NEAR(cfp_clip_frame_time(c, 2), 0.08, 1e-9);
    free(ref);
    cfp_clip_free(c);
    cfp_video_close(v);
    cfp_ctx_free(ctx);
}

TEST(video_sampling_seek_and_repeat) {
    cfp_ctx *ctx;
    cfp_video *v = NULL;
    cfp_clip *c;
    if (!open_clip("h264.mp4", NULL, &ctx, &v)) return;
    CHECK_EQ(cfp_video_get_info(v)->n_frames, 30);
    cfp_sampling s;
    cfp_sampling_init(&s);
    /* seconds: 0.6 s at 25 fps is frame 15 */
    s.start = 0.6, s.frames = 4, s.stride = 3;
    CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
    CHECK_EQ(cfp_clip_frame_index(c, 0), 15);
    CHECK_EQ(cfp_clip_frame_index(c, 3), 24);
    CHECK_EQ(cfp_clip_n_repeated(c), 0);
    cfp_clip_free(c);
    /* the last 5 frames of a 30-frame video, then 3 repeats of the last one; a
     * second call on the same handle seeks back */
    cfp_sampling_init(&s);
    s.start_frame = 25, s.frames = 8;
    CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
    CHECK_EQ(cfp_clip_n_repeated(c), 3);
    CHECK_EQ(cfp_clip_frame_index(c, 4), 29);
    CHECK_EQ(cfp_clip_frame_index(c, 7), 29);
    CHECK(cfp_clip_frame(c, 7, NULL, NULL) == cfp_clip_frame(c, 4, NULL, NULL));
    cfp_clip_free(c);
    /* uniform: centres of 5 segments of 30 frames */
    cfp_sampling_init(&s);
    s.uniform = 1, s.frames = 5;
    CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
    static const int want[5] = {3, 9, 15, 21, 27};
    for (int i = 0; i < 5; i++) CHECK_EQ(cfp_clip_frame_index(c, i), want[i]);
    cfp_clip_free(c);
    /* past the end: an error naming the file */
    cfp_sampling_init(&s);
    s.start = 100;
    CHECK(cfp_video_sample(v, &s, &c) != 0);
    CHECK(strstr(cfp_errmsg(ctx), "h264.mp4") && strstr(cfp_errmsg(ctx), "after the last frame"));
    cfp_video_close(v);
    cfp_ctx_free(ctx);
}

/* --keyframe: the window moves back to the keyframe at or before the start
 * (keyframes at 0, 10, 20 of 30 frames at 25 fps, B-frames in between), and
 * its frames are those a plain window from there gives. */
TEST(video_sampling_keyframe) {
    cfp_ctx *ctx;
    cfp_video *v = NULL;
    cfp_clip *c, *ref;
    if (!open_clip("h264_g10.mp4", NULL, &ctx, &v)) return;
    static const struct { double start; int want; } cases[] = {{0.6, 10}, {0.4, 10}, {0.36, 0}, {0.84, 20}, {0.0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfp_sampling s;
        cfp_sampling_init(&s);
        s.start = cases[i].start, s.frames = 6, s.keyframe = 1;
        CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
        cfp_sampling_init(&s);
        s.start_frame = cases[i].want, s.frames = 6;
        CHECK_EQ(cfp_video_sample(v, &s, &ref), 0);
        if (!c || !ref) continue;
        CHECK_EQ(cfp_clip_frame_index(c, 0), cases[i].want);
        for (int k = 0; k < 6; k++) {
            int w, h, w2, h2;
            const uint8_t *a = cfp_clip_frame(c, k, &w, &h), *b = cfp_clip_frame(ref, k, &w2, &h2);
            CHECK(a && b && w == w2 && h == h2 && memcmp(a, b, (size_t)w * h * 3) == 0);
            CHECK_EQ(cfp_clip_frame_index(c, k), cases[i].want + k);
        }
        cfp_clip_free(c);
        cfp_clip_free(ref);
    }
    cfp_video_close(v);
    cfp_ctx_free(ctx);
}

/* A video held in memory decodes to the same frames as the file, for every
 * container the suite makes (seeking included: a window mid-clip). */
TEST(video_open_from_memory) {
    const char *d = clips();
    CHECK(d != NULL);
    if (!d) return;
    static const char *names[] = {"h264.mp4", "mpeg4.avi", "vp9.webm", "mjpeg.avi", "ffv1.mkv", "theora.ogv", "rot90.mp4"};
    cfp_ctx *ctx;
    cfp_ctx_new(&ctx, 1);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", d, names[k]);
        size_t len = 0;
        uint8_t *data = cfp_test_slurp_alloc(path, &len);
        CHECK(data && len > 0);
        if (!data) continue;
        cfp_video *vf = NULL, *vm = NULL;
        cfp_clip *cf = NULL, *cm = NULL;
        cfp_sampling s;
        cfp_sampling_init(&s);
        s.start = 0.4, s.frames = 5, s.stride = 2;
        CHECK_EQ(cfp_video_open(ctx, path, &vf), 0);
        CHECK_EQ(cfp_video_open_mem(ctx, data, len, names[k], &vm), 0);
        if (vf && vm) {
            CHECK_EQ(cfp_video_get_info(vm)->n_frames, cfp_video_get_info(vf)->n_frames);
            CHECK_EQ(cfp_video_get_info(vm)->width, cfp_video_get_info(vf)->width);
            CHECK_EQ(cfp_video_get_info(vm)->rotation, cfp_video_get_info(vf)->rotation);
            CHECK_EQ(cfp_video_sample(vf, &s, &cf), 0);
            CHECK_EQ(cfp_video_sample(vm, &s, &cm), 0);
        }
        for (int i = 0; cf && cm && i < 5; i++) {
            int wf, hf, wm, hm;
            const uint8_t *a = cfp_clip_frame(cf, i, &wf, &hf), *b = cfp_clip_frame(cm, i, &wm, &hm);
            CHECK(wf == wm && hf == hm && a && b && memcmp(a, b, (size_t)wf * hf * 3) == 0);
            CHECK_EQ(cfp_clip_frame_index(cm, i), cfp_clip_frame_index(cf, i));
        }
        cfp_clip_free(cf);
        cfp_clip_free(cm);
        cfp_video_close(vf);
        cfp_video_close(vm);
        /* a truncated copy in memory fails or decodes what is there, never crashes */
        cfp_video *vt = NULL;
        if (cfp_video_open_mem(ctx, data, len / 3, names[k], &vt) == 0) {
            cfp_clip *ct = NULL;
            cfp_sampling_init(&s);
            s.frames = 4;
            if (cfp_video_sample(vt, &s, &ct) == 0) CHECK_EQ(cfp_clip_n_frames(ct), 4);
            cfp_clip_free(ct);
        } else {
            CHECK(strstr(cfp_errmsg(ctx), names[k]) != NULL);
        }
        cfp_video_close(vt);
        free(data);
    }
    cfp_video *ve = NULL;
    CHECK(cfp_video_open_mem(ctx, "", 0, "nothing", &ve) != 0 && ve == NULL);
    CHECK(strstr(cfp_errmsg(ctx), "nothing: empty video") != NULL);
    CHECK(cfp_video_open_mem(ctx, "not a video at all", 18, "text", &ve) != 0 && ve == NULL);
    cfp_ctx_free(ctx);
}

TEST(video_presets_geometry_slowfast) {
    cfp_ctx *ctx;
    cfp_ctx_new(&ctx, 1);
    cfp_preprocess p;
    CHECK_EQ(cfp_preset(ctx, "kinetics-r3d", &p), 0);
    CHECK_EQ(p.resize_h, 128);
    CHECK_EQ(p.resize_w, 171);
    CHECK_EQ(p.crop_h, 112);
    CHECK_NEAR(p.mean[0], 0.43216, 1e-7);
    CHECK_NEAR(p.std[2], 0.216989, 1e-7);
    CHECK(cfp_preset(ctx, "nope", &p) != 0);
    CHECK(strstr(cfp_errmsg(ctx), "unknown preset 'nope'") && strstr(cfp_errmsg(ctx), "slowfast"));
    const char *d = clips();
    CHECK(d != NULL);
    if (!d) {
        cfp_ctx_free(ctx);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/h264.mp4", d);
    cfp_video *v;
    cfp_clip *c;
    CHECK_EQ(cfp_video_open(ctx, path, &v), 0);
    cfp_sampling s;
    cfp_sampling_init(&s);
    s.frames = 16;
    CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
    /* kinetics-r3d on 96x72: resize 128x171, crop 112 at round(59/2) = 30 (ties to even), 8 */
    cfp_preset(ctx, "kinetics-r3d", &p);
    CHECK_EQ(cfp_clip_preprocess(ctx, c, &p), 0);
    const cfp_geometry *g = cfp_clip_geometry(c);
    CHECK_EQ(g->crop_x, 30);
    CHECK_EQ(g->crop_y, 8);
    const cfp_tensor *t = cfp_clip_tensor(c, 0);
    CHECK(t->ndim == 5 && t->dims[1] == 3 && t->dims[2] == 16 && t->dims[3] == 112 && t->dims[4] == 112);
    double x, y;
    cfp_geometry_to_source(g, 0, 0, &x, &y); /* model pixel (0,0) in the 96x72 frame */
    CHECK_NEAR(x, (30 + 0.5) * 96 / 171 - 0.5, 1e-12);
    CHECK_NEAR(y, (8 + 0.5) * 72 / 128.0 - 0.5, 1e-12);
    /* slowfast: T=32, alpha 4 -> slow frames linspace(0, 31, 8).long() */
    cfp_clip_free(c);
    s.frames = 32;
    CHECK_EQ(cfp_video_sample(v, &s, &c), 0);
    cfp_preset(ctx, "slowfast", &p);
    p.short_side = 64, p.crop_h = p.crop_w = 64;
    CHECK_EQ(cfp_clip_preprocess(ctx, c, &p), 0);
    CHECK_EQ(cfp_clip_n_tensors(c), 2);
    CHECK_EQ(cfp_clip_tensor(c, 0)->dims[2], 8);
    CHECK_EQ(cfp_clip_tensor(c, 1)->dims[2], 32);
    static const int slow[8] = {0, 4, 8, 13, 17, 22, 26, 31};
    for (int i = 0; i < 8; i++) CHECK_EQ(cfp_clip_tensor_frame(c, 0, i), slow[i]);
    /* a crop larger than the frame is an error, not a crash */
    p.crop_h = p.crop_w = 500;
    CHECK(cfp_clip_preprocess(ctx, c, &p) != 0);
    CHECK(strstr(cfp_errmsg(ctx), "larger than the resized frame") != NULL);
    cfp_clip_free(c);
    cfp_video_close(v);
    cfp_ctx_free(ctx);
}

/* Real clips from Debian packages against the NumPy reference of each preset. */
SUITE(video_presets_match_numpy) {
    static const struct {
        const char *video, *preset;
        int start, T, stride;
    } cases[] = {
        {"vtest.avi", "kinetics-r3d", 40, 16, 1},     {"vtest.avi", "i3d", 0, 8, 3},
        {"vtest.avi", "hara-resnet-2017", 5, 16, 1}, {"vtest.avi", "x3d-s", 10, 13, 6},
        /* frame 100 is after an I-frame (3.8 s) that is no random-access point: cfp must seek back further */
        {"cockatoo.mp4", "kinetics-s3d", 100, 4, 2}, {"cockatoo.mp4", "slowfast", 30, 16, 2},
        {"cockatoo.mp4", "mfnet", 0, 8, 2},          {"cockatoo.mp4", "hara-resnet", 272, 12, 1}, /* runs past the end */
    };
    if (!cfp_test_wanted("video_numpy")) return;
    char samples[512];
    snprintf(samples, sizeof samples, "%s/build/samples", cfp_test_root());
    int fetched = cfp_test_sh("'%s/scripts/fetch-sample-videos.sh' '%s'", cfp_test_root(), samples) == 0;
    if (!clips()) fetched = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[128], why[512] = "", path[1024], out[256];
        snprintf(name, sizeof name, "video_numpy_%s_%s", cases[i].preset, cases[i].video);
        if (!fetched) {
            cfp_test_result(name, 0, "the sample videos could not be fetched: see scripts/fetch-sample-videos.sh");
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", samples, cases[i].video);
        snprintf(out, sizeof out, "%s/ref", cfp_test_tmpsub("video"));
        if (cfp_test_sh("/usr/bin/python3 '%s/tests/video/preset_ref.py' '%s' %s %d %d %d '%s'", cfp_test_root(),
                        path, cases[i].preset, cases[i].start, cases[i].T, cases[i].stride, out)) {
            cfp_test_result(name, 0, "tests/video/preset_ref.py failed (python3-numpy installed?)");
            continue;
        }
        cfp_ctx *ctx;
        cfp_video *v = NULL;
        cfp_clip *c = NULL;
        cfp_ctx_new(&ctx, 1);
        cfp_sampling s;
        cfp_sampling_init(&s);
        s.start_frame = cases[i].start, s.frames = cases[i].T, s.stride = cases[i].stride;
        cfp_preprocess p;
        if (cfp_video_open(ctx, path, &v) || cfp_video_sample(v, &s, &c) || cfp_preset(ctx, cases[i].preset, &p) ||
            cfp_clip_preprocess(ctx, c, &p)) {
            snprintf(why, sizeof why, "%s", cfp_errmsg(ctx));
        } else {
            for (int k = 0; k < cfp_clip_n_tensors(c) && !why[0]; k++) {
                char f[300];
                snprintf(f, sizeof f, "%s.%d.f32", out, k);
                size_t len;
                float *ref = (float *)cfp_test_slurp_alloc(f, &len);
                const cfp_tensor *t = cfp_clip_tensor(c, k);
                if (!ref || len != t->nbytes) {
                    snprintf(why, sizeof why, "tensor %d: %zu bytes, reference %zu", k, t->nbytes, ref ? len : 0);
                } else {
                    double md = 0, mx = 1;
                    for (int64_t j = 0; j < cfp_tensor_numel(t); j++) {
                        double dd = fabs((double)((float *)t->data)[j] - ref[j]);
                        if (dd > md) md = dd;
                        if (fabs(ref[j]) > mx) mx = fabs(ref[j]);
                    }
                    /* relative 1e-5: float32 rounding of the constants (1/255 as a float) */
                    if (md > 1e-5 * mx) snprintf(why, sizeof why, "tensor %d: max difference %g", k, md);
                }
                free(ref);
            }
        }
        cfp_test_result(name, !why[0], why);
        cfp_clip_free(c);
        cfp_video_close(v);
        cfp_ctx_free(ctx);
    }
}

/* ---- JSON reader ---------------------------------------------------------------- */

static void json_err(const char *text, const char *want) {
    cfp_json_doc *d;
    char err[256];
    int rc = cfp_json_parse(text, strlen(text), &d, err, sizeof err);
    if (rc == 0 || !strstr(err, want))
        cfp_test_fail_here(__FILE__, __LINE__, "json %s: got rc %d '%s', want '%s'", text, rc, rc ? err : "", want);
    if (!rc) cfp_json_free(d);
}

TEST(json_reader) {
    const char *ok = "{\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"o\": {}}";
    cfp_json_doc *d;
    char err[256];
    CHECK_EQ(cfp_json_parse(ok, strlen(ok), &d, err, sizeof err), 0);
    const cfp_json *r = cfp_json_root(d);
    CHECK_EQ(r->type, CFP_JSON_OBJECT);
    const cfp_json *a = cfp_json_get(r, "a");
    CHECK(a && a->len == 5 && a->child->next->num == -2500);
    const cfp_json *s = cfp_json_get(r, "s");
    CHECK(s && strcmp(s->str, "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    CHECK(cfp_json_get(r, "o")->type == CFP_JSON_OBJECT);
    CHECK(a->line == 1 && a->col == 7);
    cfp_json_free(d);
    json_err("{\"a\": 1,}", "1:9: trailing comma");
    json_err("[1 2]", "1:4: expected ',' or ']'");
    json_err("{\"a\": 1,\n \"a\": 2}", "2:2: duplicate key \"a\"");
    json_err("[01]", "leading zeros");
    json_err("[1.]", "digit must follow");
    json_err("\"\\x\"", "invalid escape");
    json_err("\"a\tb\"", "control character");
    json_err("\"\xff\"", "invalid UTF-8");
    json_err("\"\\ud800\"", "unpaired high surrogate");
    json_err("[1] x", "after the top-level value");
    json_err("", "1:1: expected a value");
    json_err("tru", "unexpected");
    json_err("[NaN]", "expected a value");
    json_err("/* c */ {}", "expected a value");
    json_err("{\"a\":1}\n\n  }", "3:3:");
    /* depth: 64 levels are fine, 65 are not; a million brackets neither crash nor recurse deeply */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    CHECK_EQ(cfp_json_parse(deep, 128, &d, err, sizeof err), 0);
    cfp_json_free(d);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    json_err(deep, "nested deeper than 64");
    size_t n = 1000000;
    char *big = malloc(n + 1);
    memset(big, '[', n);
    big[n] = 0;
    CHECK(cfp_json_parse(big, n, &d, err, sizeof err) != 0);
    free(big);
    const char nul[] = "[1,\0 2]";
    CHECK(cfp_json_parse(nul, sizeof nul - 1, &d, err, sizeof err) != 0 && strstr(err, "NUL"));
}

TEST(video_labels_builtin_match_file) {
    cfp_ctx *ctx;
    cfp_ctx_new(&ctx, 1);
    cfp_labels *a, *b;
    char path[512];
    snprintf(path, sizeof path, "%s/models/labels/kinetics400.txt", cfp_test_root());
    CHECK_EQ(cfp_labels_load(ctx, "kinetics400", &a), 0);
    CHECK_EQ(cfp_labels_load(ctx, path, &b), 0);
    CHECK_EQ(cfp_labels_count(a), 400);
    CHECK_EQ(cfp_labels_count(b), 400);
    for (int i = 0; i < 400; i++) CHECK(strcmp(cfp_labels_get(a, i), cfp_labels_get(b, i)) == 0);
    CHECK(strcmp(cfp_labels_get(a, 0), "abseiling") == 0 && strcmp(cfp_labels_get(a, 399), "zumba") == 0);
    CHECK(cfp_labels_get(a, 400) == NULL);
    cfp_labels_free(a);
    cfp_labels_free(b);
    CHECK(cfp_labels_load(ctx, "/no/such/labels.txt", &a) != 0);
    cfp_ctx_free(ctx);
}

/* ---- the command line ---------------------------------------------------------------- */

#define FXM "tests/fixtures/r3d_18_bn/model.onnx"

TEST(cli_predict) {
    const char *d = clips();
    CHECK(d != NULL);
    if (!d) return;
    cfp_test_cli_out *r = cfp_test_cli("predict " FXM " %s/h264.mp4 --topk 3", d);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "kinetics-r3d@28x28") && strstr(r->out, "1x3x10x28x28") && strstr(r->out, "top 3"));
    r = cfp_test_cli("predict " FXM " %s/h264.mp4 --json --start 0.4 --stride 2 --topk 2 --dump-input %s/in.pb", d,
            cfp_test_tmpsub("video"));
    CHECK_EQ(r->rc, 0);
    CHECK(strncmp(r->out, "{\"top\":[{\"index\":", 17) == 0);
    CHECK(strstr(r->out, "\"prob\":") && strstr(r->out, "\"logit\":") && strstr(r->out, "\"timing_ms\":{"));
    CHECK(strstr(r->out, "\"frames\":[10,12,14,16,18,20,22,24,26,28]") != NULL);
    /* the dumped input runs to the same logits */
    char first[64] = "";
    const char *lg = strstr(r->out, "\"logit\":");
    if (lg) snprintf(first, sizeof first, "%.12s", lg + 8);
    r = cfp_test_cli("run " FXM " -i %s/in.pb", cfp_test_tmpsub("video"));
    CHECK_EQ(r->rc, 0);
    /* a short video: the last frame repeats, with a note */
    r = cfp_test_cli("predict " FXM " %s/h264.mp4 --start '#25'", d);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->err, "repeated 5 times") != NULL);
    /* flags: preset and overrides; a model-size mismatch is one clear line */
    r = cfp_test_cli("predict " FXM " %s/h264.mp4 --preset kinetics-s3d", d);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "is 1x3x10x28x28, but preprocessing 'kinetics-s3d' gives 1x3x10x224x224") != NULL);
    r = cfp_test_cli("predict " FXM " %s/h264.mp4 --preset kinetics-s3d --crop 28x28 --resize 32x32 --mean 0.5,0.5,0.5 "
                     "--bgr",
                     d);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "kinetics-s3d+") != NULL);
    r = cfp_test_cli("predict " FXM " %s/frames --frames 4", d);
    CHECK_EQ(r->rc, 1); /* T is the model's (10); 4 frames do not fit */
    r = cfp_test_cli("predict " FXM " %s/png --json", d);
    CHECK_EQ(r->rc, 0);
    r = cfp_test_cli("predict " FXM " %s/h264.mp4 --preset bogus", d);
    CHECK_EQ(r->rc, 2);
    r = cfp_test_cli("predict " FXM " %s/h264.mp4 --resize 12", d);
    CHECK_EQ(r->rc, 2);
}

TEST(cli_predict_bad_videos) {
    const char *d = clips();
    CHECK(d != NULL);
    if (!d) return;
    static const struct {
        const char *video, *args, *want;
    } cases[] = {
        {"missing.mp4", "", "missing.mp4: No such file"},
        {"text.mp4", "", "text.mp4: "},
        {"truncated.mp4", "", "truncated.mp4: "},
        {"empty.mp4", "", "empty.mp4: "},
        {"h264.mp4", "--start 100", "h264.mp4: the clip starts at 100.000 s, after the last frame"},
        {"h264.mp4", "--start '#30'", "after the last frame"},
        {"nothere/%05d.jpg", "", "no file matches"},
        {"frames/%s.jpg", "", "exactly one %d"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfp_test_cli_out *r = cfp_test_cli("predict " FXM " %s/%s %s", d, cases[i].video, cases[i].args);
        if (r->rc != 1 || cfp_test_lines(r->err) != 1 || !strstr(r->err, cases[i].want))
            cfp_test_fail_here(__FILE__, __LINE__, "%s %s: rc %d, stderr '%s'", cases[i].video, cases[i].args, r->rc,
                               r->err);
    }
    /* a folder that is not a video and not images */
    cfp_test_cli_out *r = cfp_test_cli("predict " FXM " tests/video");
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "no images") != NULL);
}

TEST(cli_predict_model_settings) {
    const char *d = clips();
    CHECK(d != NULL);
    if (!d) return;
    char model[256];
    snprintf(model, sizeof model, "%s/m.onnx", cfp_test_tmpsub("video"));
    CHECK_EQ(cfp_test_sh("cp '%s/" FXM "' '%s'", cfp_test_root(), model), 0);
    /* sidecar: preset + explicit values + inline class names */
    FILE *f = fopen("/dev/null", "r");
    if (f) fclose(f);
    char side[300];
    snprintf(side, sizeof side, "%s.json", model);
    f = fopen(side, "w");
    fprintf(f, "{\"preset\": \"i3d\", \"short_side\": 40, \"crop\": [28, 28],\n"
               " \"classes\": [\"c0\",\"c1\",\"c2\",\"c3\",\"c4\",\"c5\",\"c6\",\"c7\",\"c8\",\"c9\"]}\n");
    fclose(f);
    cfp_test_cli_out *r = cfp_test_cli("predict %s %s/h264.mp4 --json", model, d);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "\"preset\":\"i3d+\"") && strstr(r->out, "\"label\":\"c"));
    CHECK(strstr(r->out, "\"resize\":[40,53]") != NULL);
    /* flags override the sidecar */
    r = cfp_test_cli("predict %s %s/h264.mp4 --json --short-side 30", model, d);
    CHECK(strstr(r->out, "\"resize\":[30,40]") != NULL);
    /* a bad sidecar: where and what */
    f = fopen(side, "w");
    fprintf(f, "{\"preset\": \"i3d\",\n  \"crop\": [28, 28], \"mena\": [1,2,3]}\n");
    fclose(f);
    r = cfp_test_cli("predict %s %s/h264.mp4", model, d);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "m.onnx.json:2:29: unknown key \"mena\"") != NULL);
    f = fopen(side, "w");
    fprintf(f, "{\"crop\": [28, 28],}");
    fclose(f);
    r = cfp_test_cli("predict %s %s/h264.mp4", model, d);
    CHECK(strstr(r->err, "m.onnx.json:1:19: trailing comma") != NULL);
    remove(side);
    /* ONNX metadata_props (ModelProto field 14): {"cfp.preset": "i3d"} appended to the model */
    f = fopen(model, "ab");
    static const char entry[] = "\x0a\x0a"
                                "cfp.preset"
                                "\x12\x03"
                                "i3d";
    fputc(0x72, f);
    fputc((int)sizeof entry - 1, f);
    fwrite(entry, 1, sizeof entry - 1, f);
    fclose(f);
    r = cfp_test_cli("predict %s %s/h264.mp4", model, d);
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "preprocessing 'i3d' gives 1x3x10x224x224") != NULL);
    r = cfp_test_cli("predict %s %s/h264.mp4 --crop 28x28 --json", model, d);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "\"preset\":\"i3d+\"") != NULL);
}

/* The bundled demo model on its own sample clips: cfp predict (decoding,
 * preprocessing from the sidecar, the model) gives the logits PyTorch gave
 * when scripts/train_demo.py wrote them (models/demo/samples/expected.json,
 * the clips decoded by the ffmpeg CLI there). */
TEST(demo_model_matches_pytorch_on_its_samples) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/demo/samples/expected.json", cfp_test_root());
    size_t len;
    char *text = cfp_test_slurp_alloc(path, &len);
    CHECK(text != NULL);
    if (!text) return;
    cfp_json_doc *d;
    char err[256];
    CHECK_EQ(cfp_json_parse(text, len, &d, err, sizeof err), 0);
    free(text);
    const cfp_json *samples = cfp_json_get(cfp_json_root(d), "samples");
    CHECK(samples && samples->len >= 3);
    int n = 0;
    for (const cfp_json *s = samples ? samples->child : NULL; s; s = s->next, n++) {
        const cfp_json *file = cfp_json_get(s, "file"), *logits = cfp_json_get(s, "logits");
        if (!file || !logits) {
            CHECK(file && logits);
            continue;
        }
        cfp_test_cli_out *r = cfp_test_cli("predict models/demo/model.onnx 'models/demo/samples/%s' --json --topk %d",
                                           file->str, (int)logits->len);
        CHECK_EQ(r->rc, 0);
        int seen = 0;
        for (const char *p = strstr(r->out, "\"index\":"); p; p = strstr(p + 1, "\"index\":")) {
            int idx = atoi(p + 8);
            const char *l = strstr(p, "\"logit\":");
            if (!l || idx < 0 || idx >= (int)logits->len) break;
            const cfp_json *e = logits->child;
            for (int k = 0; k < idx; k++) e = e->next;
            double got = atof(l + 8);
            if (!(fabs(got - e->num) <= 1e-3 * (1 + fabs(e->num))))
                cfp_test_fail_here(__FILE__, __LINE__, "%s: logit %d is %.6f, PyTorch gave %.6f", file->str, idx, got,
                                   e->num);
            seen++;
        }
        CHECK_EQ(seen, (int)logits->len);
    }
    CHECK(n >= 3);
    cfp_json_free(d);
}
