/* cfp rendering building blocks: bring a (t, h, w) map to clip resolution,
 * normalise it and colour it over the frames (spec §6).
 *
 *   cfp_zoom(ctx, map, (int64_t[3]){2, 7, 7}, vol, (int64_t[3]){16, 112, 112}, 3);
 *   cfp_normalize(vol, (int64_t[3]){16, 112, 112}, 0);
 *   cfp_overlay(vol + i * 112 * 112, frame, out, 112, 112, CFP_CMAP_JET, 0.5f);
 *
 * Same conventions as cfp.h: calls that can fail return an int status
 * (CFP_OK == 0) with the message in cfp_errmsg(ctx). */
#ifndef CFP_RENDER_H
#define CFP_RENDER_H

#include "cfp.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- resizing ------------------------------------------------------------ */

/* Resize the volume `in` (in_dims = t, h, w; row-major float32) to exactly
 * out_dims = (T, H, W) into `out` (T*H*W floats, caller-allocated, must not
 * overlap `in`). order 3: cubic B-spline with the spline pre-filter; order 1:
 * trilinear. The result is what
 *     scipy.ndimage.zoom(in, (T/t, H/h, W/w), order=order)
 * returns with SciPy's defaults (mode='constant', cval=0, prefilter=True,
 * grid_mode=False; SciPy 1.6 to 1.10 at least), to rounding: output sample k of
 * an axis sits at input coordinate k*(n_in-1)/(n_out-1) (0 when n_out == 1),
 * so the corner samples coincide; the spline is extended by mirror symmetry;
 * a coordinate that rounding puts past n_in-1 gives 0, as in SciPy (e.g. the
 * last sample of 8 -> 26 or 62 -> 112). Computed in double precision,
 * separably; NaN or inf in the input spreads along the spline's support (the
 * pre-filter is recursive: a whole line for order 3) and is not an error.
 * ctx may be NULL (then errors have no message). Errors: CFP_E_ARG (order not
 * 1 or 3, a dim < 1, NULL buffers), CFP_E_LIMIT (sizes overflow),
 * CFP_E_NOMEM. */
int cfp_zoom(cfp_ctx *ctx, const float *in, const int64_t in_dims[3], float *out,
             const int64_t out_dims[3], int order);

/* Min-max normalise a (t, h, w) volume in place to [0, 1]: one min and max
 * over the whole volume, or over each t slice when per_frame is non-zero.
 * Min and max are taken over finite values only. A constant volume (frame),
 * one whose range is at most 1e-6 of its largest magnitude (float rounding
 * noise, e.g. a zoomed constant), or one without finite values becomes all 0.
 * Otherwise NaN and -inf become 0, +inf becomes 1. Never produces NaN. Dims
 * < 1 or a NULL volume: nothing is done. */
void cfp_normalize(float *vol, const int64_t dims[3], int per_frame);

/* ---- colour maps ------------------------------------------------------------ */

/* 256-entry tables, byte-for-byte matplotlib 3.6's `cmap(v, bytes=True)`
 * (Debian 12's python3-matplotlib): jet (the classic MATLAB jet, matplotlib's
 * segment data sampled at 256 points), turbo (Google's table as matplotlib
 * ships it), viridis, inferno. */
enum cfp_colormap {
    CFP_CMAP_JET = 0,
    CFP_CMAP_TURBO = 1,
    CFP_CMAP_VIRIDIS = 2,
    CFP_CMAP_INFERNO = 3,
    CFP_CMAP_COUNT
};

/* By name, case-insensitive ("jet", "turbo", "viridis", "inferno"); -1 if
 * unknown. */
int cfp_colormap_find(const char *name);
/* The name of a map, or NULL for an unknown index. */
const char *cfp_colormap_name(int cmap);

/* The colour of v in [0, 1], as matplotlib picks it: entry
 * min(floor(v*256), 255); v < 0 gives entry 0, v > 1 entry 255 (matplotlib's
 * default under/over colours); NaN gives black (matplotlib: transparent). An
 * unknown cmap uses jet. */
void cfp_colormap_rgb(int cmap, float v, uint8_t rgb[3]);

/* Blend a colour-mapped float map (h rows of w values in [0, 1]) over a packed
 * RGB24 frame of the same size (rows of 3*w bytes):
 *     out = round((1 - alpha) * frame + alpha * colour)
 * per channel. Map values are clamped to [0, 1] as in cfp_colormap_rgb; where
 * the map is NaN the frame pixel is copied unchanged. alpha is clamped to
 * [0, 1]; NaN alpha means 0.5 (the spec's default). rgb_out may be rgb_in
 * (in place). An unknown cmap uses jet; w or h < 1 does nothing. */
void cfp_overlay(const float *map, const uint8_t *rgb_in, uint8_t *rgb_out, int w, int h,
                 int cmap, float alpha);

#ifdef __cplusplus
}
#endif
#endif
