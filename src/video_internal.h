/* Shared by video.c (decode, sample) and preprocess.c (resize, crop, normalise). */
#ifndef CFP_VIDEO_INTERNAL_H
#define CFP_VIDEO_INTERNAL_H

#include "cfp_internal.h"
#include "cfp_video.h"

#include <libavutil/frame.h>

struct SwsContext;

/* One cached libswscale context, configured like ffmpeg's scale filter. */
typedef struct {
    struct SwsContext *sws;
    int key[8];
    AVFrame *out; /* padded rgb24 rows */
} cfp_scaler;

struct cfp_clip {
    cfp_ctx *ctx;   /* for errors of the lazy RGB conversion */
    int n;          /* T */
    int n_uniq;     /* distinct frames (a repeated frame is stored once) */
    AVFrame **uniq; /* decoded frames, rotated as shown; kept for the resize */
    uint8_t **rgb;  /* full-resolution RGB24 of each distinct frame, made on first use */
    int *map;       /* clip frame -> distinct frame */
    double *time;
    int64_t *index;
    int width, height;
    int n_repeated;
    cfp_geometry geom;
    int n_tensors;
    cfp_tensor tensors[2];
    int *tensor_frames[2];
    cfp_scaler scaler;
};

/* Convert (and resize) f to packed RGB24 dw x dh, as
 * `ffmpeg -vf scale=dw:dh:flags=bilinear -pix_fmt rgb24` does. */
int cfp_frame_to_rgb(cfp_ctx *ctx, cfp_scaler *sc, const AVFrame *f, int dw, int dh, uint8_t *dst);
void cfp_scaler_free(cfp_scaler *sc);

#endif
