/* Overlay rendering (render.c): a map volume over the frames the model saw,
 * or mapped back onto the frames as recorded. */
#ifndef CFP_RENDER_INTERNAL_H
#define CFP_RENDER_INTERNAL_H

#include "cfp.h"
#include "cfp_render.h"
#include "cfp_video.h"

typedef struct {
    int order;     /* 3: cubic B-spline (default), 1: trilinear */
    int cmap;      /* enum cfp_colormap */
    float alpha;   /* blend, default 0.5 */
    int per_frame; /* normalise per frame instead of over the volume */
} cfp_render_opts;

void cfp_render_opts_default(cfp_render_opts *o);
/* Zoom a (t,h,w) map to exactly T×H×W and normalise it to [0,1]; *out is
 * malloc'd. */
int cfp_render_volume(cfp_ctx *ctx, const cfp_volume *map, int T, int H, int W, const cfp_render_opts *o, float **out);
/* Colour a normalised T×H×W volume over T RGB24 frames of H×W into out. */
void cfp_render_blend(const float *vol, const uint8_t *frames, int T, int H, int W, const cfp_render_opts *o,
                      uint8_t *out);
/* The frames the model saw (its crop, at its resolution), from a clip. */
int cfp_render_model_frames(cfp_ctx *ctx, const cfp_clip *clip, int tensor, uint8_t **out, int *T, int *H, int *W);
/* The same from an input tensor (N,3,T,H,W), each channel min-max scaled. */
int cfp_render_tensor_frames(cfp_ctx *ctx, const cfp_tensor *x, uint8_t **out, int *T, int *H, int *W);
/* A normalised T×H×W volume drawn over source frame `frame` as recorded,
 * mapped back through the crop and resize; outside the crop the frame is
 * left as it was. */
int cfp_render_source(cfp_ctx *ctx, const float *vol, int T, int H, int W, const cfp_clip *clip, int tensor,
                      const cfp_render_opts *o, int frame, uint8_t **out, int *sw, int *sh);
#endif
