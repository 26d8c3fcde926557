/* cfp video input: decode a video (any container and codec FFmpeg decodes, or a
 * folder of frames), sample a clip, and preprocess it into exactly the tensor a
 * model was trained on.
 *
 *   cfp_video *v;   cfp_video_open(ctx, "clip.mp4", &v);
 *   cfp_sampling s; cfp_sampling_init(&s); s.start = 3.0; s.frames = 16;
 *   cfp_clip *c;    cfp_video_sample(v, &s, &c);
 *   cfp_preprocess p; cfp_preset(ctx, "kinetics-r3d", &p);
 *   cfp_clip_preprocess(ctx, c, &p);  ->  cfp_clip_tensor(c, 0): 1x3x16x112x112 float32
 *
 * Same conventions as cfp.h: int status (CFP_OK == 0), the message in
 * cfp_errmsg(ctx), opaque handles freed by their *_free/close call. Video files
 * are untrusted: the library reports bad input, it never aborts or exits.
 * FFmpeg's own log is silenced (av_log_set_level(AV_LOG_QUIET)) the first time
 * a video is opened, because errors come back through cfp_errmsg; set the
 * environment variable CFP_FFMPEG_LOG=1 to keep it. */
#ifndef CFP_VIDEO_H
#define CFP_VIDEO_H

#include "cfp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cfp_video cfp_video;
typedef struct cfp_clip cfp_clip;
typedef struct cfp_labels cfp_labels;

/* ---- decoding --------------------------------------------------------------- */

typedef struct {
    int width, height;   /* frames as shown: after rotation */
    int rotation;        /* degrees clockwise applied to decoded frames: 0, 90, 180, 270 */
    double fps;          /* nominal (average) frame rate; 25 for a folder of frames */
    double duration;     /* seconds; 0 if the container does not say */
    int64_t n_frames;    /* estimate from the container (exact for a folder); 0 if unknown */
    const char *codec;   /* "h264", "vp9", "mjpeg", ... */
    const char *format;  /* container ("mov,mp4,m4a,3gp,3g2,mj2", "avi", ...) or "frames" */
    const char *pix_fmt; /* decoder output, e.g. "yuv420p" */
} cfp_video_info;

/* path: a video file; a folder (every image in it — jpg, jpeg, png, bmp, ppm,
 * pgm, tif, tiff, webp — in natural order: 2.jpg before 10.jpg); or a printf
 * pattern with one integer field, "frames/%05d.jpg" (numbering starts at the
 * first of 0..4 that exists and runs while files exist). */
int cfp_video_open(cfp_ctx *ctx, const char *path, cfp_video **out);
/* A video file held in memory (any container FFmpeg probes); `data` must stay
 * valid until cfp_video_close. `name` is used in messages only. */
int cfp_video_open_mem(cfp_ctx *ctx, const void *data, size_t size, const char *name, cfp_video **out);
const cfp_video_info *cfp_video_get_info(const cfp_video *v);
void cfp_video_close(cfp_video *v);

/* Which frames make the clip. Frames are picked by time, not by counting
 * decoded frames, so variable-frame-rate video samples evenly: the clip's
 * frame i is the frame on screen at time t0 + i*stride/fps (the last frame
 * whose timestamp is at most half a frame after it), where t0 is `start`
 * seconds after the first frame, or start_frame/fps. A frame number N
 * therefore means the frame at N/fps: the N-th frame of a constant-rate
 * video. The decoder seeks to the window; it does not decode from the start.
 * uniform: T frames at the centres of T equal segments of the whole video
 * (frame floor((2i+1)*n/(2T)) of n), start and stride ignored. A video that
 * ends before the clip is full repeats its last frame (cfp_clip_n_repeated
 * says how often); a window that starts after the last frame is an error.
 * keyframe: the window starts at the last keyframe at or before the start
 * instead (a file, not uniform), so that only the window is decoded: a
 * window in the middle of a long group of pictures otherwise costs decoding
 * every reference frame from its keyframe on. cfp_clip_frame_index tells
 * where it started. */
typedef struct {
    double start;        /* seconds from the first frame */
    int64_t start_frame; /* >= 0: start at this frame number instead (the CLI's --start #N) */
    int frames;          /* T >= 1 */
    int stride;          /* >= 1 */
    int uniform;
    int keyframe;        /* start at the keyframe at or before the start (the CLI's --keyframe) */
} cfp_sampling;

void cfp_sampling_init(cfp_sampling *s); /* start 0, start_frame -1, 16 frames, stride 1 */
int cfp_video_sample(cfp_video *v, const cfp_sampling *s, cfp_clip **out);

/* ---- the clip ----------------------------------------------------------------- */

void cfp_clip_free(cfp_clip *c);
int cfp_clip_n_frames(const cfp_clip *c);
/* Frame i at full resolution as recorded (after rotation), packed RGB24, rows
 * of 3*width bytes, owned by the clip. Converted from the decoder's format on
 * first use (so a clip that only feeds a model never pays for it) by
 * libswscale exactly as `ffmpeg -i VIDEO -vf scale=iw:ih:flags=bilinear
 * -pix_fmt rgb24` does. NULL (message in cfp_errmsg) if out of memory. */
const uint8_t *cfp_clip_frame(const cfp_clip *c, int i, int *width, int *height);
double cfp_clip_frame_time(const cfp_clip *c, int i);    /* seconds after the first frame */
int64_t cfp_clip_frame_index(const cfp_clip *c, int i);  /* round(time*fps); the file's index in a folder */
int cfp_clip_n_repeated(const cfp_clip *c); /* trailing frames that repeat the last one: the video ended */

/* ---- preprocessing ---------------------------------------------------------- */

enum cfp_layout { CFP_LAYOUT_NCTHW = 0, CFP_LAYOUT_NTHWC = 1 };

/* Resize the whole frame, center-crop, normalise:
 *   x = (pixel * scale - mean[c]) / std[c],  pixel in 0..255,
 * channels RGB (or BGR with bgr = 1; mean/std are in the model's channel
 * order). The resize is libswscale's bilinear from the decoded frame (YUV),
 * byte for byte what `ffmpeg -vf scale=W:H:flags=bilinear -pix_fmt rgb24`
 * gives. The crop offset is round((resized - crop)/2) with ties to even
 * (torchvision's center_crop). */
typedef struct {
    char name[32];          /* the preset's name, or "custom" */
    int resize_h, resize_w; /* resize to exactly H x W, or */
    int short_side;         /* resize so the shorter side is N and the longer floor(N*long/short)
                               (torchvision / PyTorchVideo); all 0: no resize */
    int crop_h, crop_w;     /* center crop; 0: none */
    float scale;
    float mean[3], std[3];
    int bgr;
    int layout;             /* enum cfp_layout; tensors are 1xCxTxHxW or 1xTxHxWxC */
    int frames, stride;     /* the preset's clip length and frame stride (0: not part of the preset) */
    int alpha;              /* SlowFast: > 0 gives two tensors, slow then fast (see below) */
} cfp_preprocess;

/* A named preset (the README says where each one's numbers come from). */
int cfp_preset(cfp_ctx *ctx, const char *name, cfp_preprocess *out);
const char *cfp_preset_name(int i); /* i = 0, 1, ...; NULL after the last */

/* Fill the clip's tensors from its frames. With alpha > 0 (SlowFast) there
 * are two: tensor 0 the slow pathway, T/alpha frames picked like
 * PyTorchVideo's PackPathway (index floor(i*(T-1)/(T/alpha-1))), and tensor 1
 * the fast pathway, all T frames. Calling it again replaces the tensors. */
int cfp_clip_preprocess(cfp_ctx *ctx, cfp_clip *c, const cfp_preprocess *p);
int cfp_clip_n_tensors(const cfp_clip *c);
const cfp_tensor *cfp_clip_tensor(const cfp_clip *c, int i);
/* Which clip frame time step t of tensor i was made from. */
int cfp_clip_tensor_frame(const cfp_clip *c, int i, int t);

/* Where the model input came from, to draw on the frames as recorded.
 * The resize maps the whole src_w x src_h frame onto resize_w x resize_h with
 * pixel centres aligned, and the crop is [crop_x, crop_x+crop_w) x
 * [crop_y, crop_y+crop_h) of the resized frame. A model-input pixel (u, v),
 * 0 <= u < crop_w, 0 <= v < crop_h, therefore sits at
 *     x = (u + crop_x + 0.5) * src_w / resize_w - 0.5
 *     y = (v + crop_y + 0.5) * src_h / resize_h - 0.5
 * in the source frame (cfp_geometry_to_source), and the model sees the source
 * rectangle [crop_x*src_w/resize_w, (crop_x+crop_w)*src_w/resize_w) (same in y).
 * Without a resize, resize_w/h equal src_w/h. */
typedef struct {
    int src_w, src_h;
    int resize_w, resize_h;
    int crop_x, crop_y, crop_w, crop_h;
} cfp_geometry;

const cfp_geometry *cfp_clip_geometry(const cfp_clip *c); /* valid after cfp_clip_preprocess */
void cfp_geometry_to_source(const cfp_geometry *g, double u, double v, double *x, double *y);

/* ---- settings a model carries ------------------------------------------------
 * Layers, each overriding the one before: a preset; the model's ONNX
 * metadata_props ("cfp.preset": a preset name; "cfp": the sidecar's JSON);
 * the sidecar MODEL.onnx.json next to the model; the command line. Sidecar:
 *   { "preset": "kinetics-r3d",
 *     "resize": [128, 171] | "short_side": 128, "crop": [112, 112],
 *     "mean": [..3..], "std": [..3..], "scale": 0.00392156862745098,
 *     "bgr": false, "layout": "ncthw" | "nthwc",
 *     "frames": 16, "stride": 1, "alpha": 4,
 *     "labels": "classes.txt" (relative to the model's folder) | "kinetics400",
 *     "classes": ["a", "b", ...] }
 * Every key is optional; unknown keys are errors (typos should not pass
 * silently). A preset named by a later layer replaces the earlier layers'
 * preprocessing values; single values replace single values. */
typedef struct {
    char preset[32];        /* "" unset */
    int resize_h, resize_w; /* 0 unset */
    int short_side;
    int crop_h, crop_w;
    int has_scale, has_mean, has_std;
    float scale, mean[3], std[3];
    int bgr, layout;        /* -1 unset */
    int frames, stride, alpha; /* 0 unset */
    cfp_labels *labels;     /* owned; NULL unset */
} cfp_video_settings;

void cfp_settings_init(cfp_video_settings *s);
void cfp_settings_free(cfp_video_settings *s);
/* Parse sidecar JSON; `what` names the source in errors ("m.onnx.json:3:9: ..."),
 * `dir` is the folder label files are relative to. Fields found are set in s. */
int cfp_settings_parse_json(cfp_ctx *ctx, const char *text, size_t len, const char *what, const char *dir,
                            cfp_video_settings *s);
/* The model's metadata props, then its sidecar (if there is one), over s. */
int cfp_settings_from_model(cfp_ctx *ctx, const cfp_model *m, cfp_video_settings *s);
/* Apply src over dst; src's labels move to dst. */
void cfp_settings_merge(cfp_video_settings *dst, cfp_video_settings *src);
/* The preprocessing and clip length to use. m (may be NULL) supplies the
 * defaults its declared input shape implies: T (else the preset's, else 16),
 * the crop size when no preset is named anywhere (the kinetics-r3d values,
 * resize scaled by crop/112), and NTHWC when the input is 1xTxHxWx3. */
int cfp_settings_resolve(cfp_ctx *ctx, const cfp_video_settings *s, const cfp_model *m, cfp_preprocess *pre,
                         int *frames, int *stride);

/* ---- labels --------------------------------------------------------------------- */

/* One class name per line (UTF-8; trailing CR and blank last line ignored).
 * "kinetics400" is built in: torchvision's Kinetics-400 order. */
int cfp_labels_load(cfp_ctx *ctx, const char *path, cfp_labels **out);
int cfp_labels_from_strings(cfp_ctx *ctx, const char *const *names, int n, cfp_labels **out);
int cfp_labels_count(const cfp_labels *l);
const char *cfp_labels_get(const cfp_labels *l, int i); /* NULL out of range */
void cfp_labels_free(cfp_labels *l);

#ifdef __cplusplus
}
#endif
#endif
