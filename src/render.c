/* From a map volume to overlay frames (spec §6): zoom to the model's input
 * resolution, normalise, colour and blend over the frames the model saw, or
 * map back through the crop and resize onto the frames as recorded. */
#include "cfp_internal.h"
#include "render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cfp_render_opts_default(cfp_render_opts *o) {
    memset(o, 0, sizeof *o);
    o->order = 3;
    o->cmap = CFP_CMAP_JET;
    o->alpha = 0.5f;
    o->per_frame = 0;
}

int cfp_render_volume(cfp_ctx *ctx, const cfp_volume *map, int T, int H, int W, const cfp_render_opts *o, float **out) {
    *out = NULL;
    if (T < 1 || H < 1 || W < 1) return cfp_seterr(ctx, CFP_E_ARG, "render size %dx%dx%d", T, H, W);
    float *vol = malloc((size_t)T * (size_t)H * (size_t)W * sizeof *vol);
    if (!vol) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    int64_t od[3] = {T, H, W};
    int rc = cfp_zoom(ctx, map->data, map->dims, vol, od, o->order);
    if (rc) {
        free(vol);
        return rc;
    }
    cfp_normalize(vol, od, o->per_frame);
    *out = vol;
    return CFP_OK;
}

void cfp_render_blend(const float *vol, const uint8_t *frames, int T, int H, int W, const cfp_render_opts *o,
                      uint8_t *out) {
    size_t plane = (size_t)H * (size_t)W;
    for (int t = 0; t < T; t++)
        cfp_overlay(vol + plane * (size_t)t, frames + plane * 3 * (size_t)t, out + plane * 3 * (size_t)t, W, H, o->cmap,
                    o->alpha);
}

/* Bilinear sample of an RGB24 image at (x, y), edges clamped. */
static void sample_rgb(const uint8_t *img, int w, int h, double x, double y, uint8_t px[3]) {
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > w - 1) x = w - 1;
    if (y > h - 1) y = h - 1;
    int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double fx = x - x0, fy = y - y0;
    for (int c = 0; c < 3; c++) {
        double a = img[((size_t)y0 * w + x0) * 3 + c] * (1 - fx) + img[((size_t)y0 * w + x1) * 3 + c] * fx;
        double b = img[((size_t)y1 * w + x0) * 3 + c] * (1 - fx) + img[((size_t)y1 * w + x1) * 3 + c] * fx;
        px[c] = (uint8_t)lrint(a * (1 - fy) + b * fy);
    }
}

int cfp_render_model_frames(cfp_ctx *ctx, const cfp_clip *clip, int tensor, uint8_t **out, int *T, int *H, int *W) {
    *out = NULL;
    const cfp_tensor *x = cfp_clip_tensor(clip, tensor);
    const cfp_geometry *g = cfp_clip_geometry(clip);
    if (!x || !g) return cfp_seterr(ctx, CFP_E_ARG, "the clip has not been preprocessed");
    /* T from the tensor: (1,3,T,H,W) or (1,T,H,W,3) */
    int t = x->ndim == 5 ? (int)(x->dims[1] == 3 ? x->dims[2] : x->dims[1]) : 1;
    int h = g->crop_h, w = g->crop_w;
    uint8_t *f = malloc((size_t)t * (size_t)h * (size_t)w * 3 + 1);
    if (!f) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    for (int k = 0; k < t; k++) {
        int sw, sh, fi = cfp_clip_tensor_frame(clip, tensor, k);
        const uint8_t *src = cfp_clip_frame(clip, fi, &sw, &sh);
        uint8_t *dst = f + (size_t)k * h * w * 3;
        for (int v = 0; v < h; v++)
            for (int u = 0; u < w; u++) {
                double sx, sy;
                cfp_geometry_to_source(g, u, v, &sx, &sy);
                if (src) sample_rgb(src, sw, sh, sx, sy, dst + ((size_t)v * w + u) * 3);
                else memset(dst + ((size_t)v * w + u) * 3, 0, 3);
            }
    }
    *out = f;
    *T = t;
    *H = h;
    *W = w;
    return CFP_OK;
}

int cfp_render_tensor_frames(cfp_ctx *ctx, const cfp_tensor *x, uint8_t **out, int *T, int *H, int *W) {
    *out = NULL;
    if (x->dtype != CFP_F32 || x->ndim < 4)
        return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "the input is not a float video tensor (N,C,T,H,W)");
    int c = (int)x->dims[1];
    int t = x->ndim == 5 ? (int)x->dims[2] : 1, h = (int)x->dims[x->ndim - 2], w = (int)x->dims[x->ndim - 1];
    size_t plane = (size_t)h * (size_t)w;
    uint8_t *f = malloc((size_t)t * plane * 3 + 1);
    if (!f) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    const float *d = x->data;
    /* the preprocessing is unknown: show each channel min-max scaled */
    for (int ch = 0; ch < 3; ch++) {
        int sc = c >= 3 ? ch : 0;
        const float *src = d + (size_t)sc * t * plane;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < (size_t)t * plane; i++) {
            if (src[i] < lo) lo = src[i];
            if (src[i] > hi) hi = src[i];
        }
        float s = hi > lo ? 255.0f / (hi - lo) : 0;
        for (size_t i = 0; i < (size_t)t * plane; i++) f[i * 3 + (size_t)ch] = (uint8_t)lrintf((src[i] - lo) * s);
    }
    *out = f;
    *T = t;
    *H = h;
    *W = w;
    return CFP_OK;
}

int cfp_render_source(cfp_ctx *ctx, const float *vol, int T, int H, int W, const cfp_clip *clip, int tensor,
                      const cfp_render_opts *o, int frame, uint8_t **out, int *sw, int *sh) {
    *out = NULL;
    const cfp_geometry *g = cfp_clip_geometry(clip);
    int k = frame < T ? frame : T - 1;
    const uint8_t *src = cfp_clip_frame(clip, cfp_clip_tensor_frame(clip, tensor, k), sw, sh);
    if (!g || !src) return cfp_seterr(ctx, CFP_E_ARG, "no source frame %d", frame);
    uint8_t *img = malloc((size_t)*sw * (size_t)*sh * 3 + 1);
    float *row = malloc((size_t)*sw * sizeof *row);
    if (!img || !row) {
        free(img), free(row);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    const float *plane = vol + (size_t)k * H * W;
    for (int y = 0; y < *sh; y++) {
        /* source pixel -> model-input pixel: the inverse of cfp_geometry_to_source */
        double v = (y + 0.5) * g->resize_h / g->src_h - 0.5 - g->crop_y;
        for (int x = 0; x < *sw; x++) {
            double u = (x + 0.5) * g->resize_w / g->src_w - 0.5 - g->crop_x;
            if (u < -0.5 || v < -0.5 || u > W - 0.5 || v > H - 0.5) {
                row[x] = NAN; /* outside what the model saw: the frame as recorded */
                continue;
            }
            double uc = u < 0 ? 0 : u > W - 1 ? W - 1 : u, vc = v < 0 ? 0 : v > H - 1 ? H - 1 : v;
            int u0 = (int)uc, v0 = (int)vc, u1 = u0 + 1 < W ? u0 + 1 : u0, v1 = v0 + 1 < H ? v0 + 1 : v0;
            double fu = uc - u0, fv = vc - v0;
            row[x] = (float)((plane[v0 * W + u0] * (1 - fu) + plane[v0 * W + u1] * fu) * (1 - fv) +
                             (plane[v1 * W + u0] * (1 - fu) + plane[v1 * W + u1] * fu) * fv);
        }
        cfp_overlay(row, src + (size_t)y * *sw * 3, img + (size_t)y * *sw * 3, *sw, 1, o->cmap, o->alpha);
    }
    free(row);
    *out = img;
    return CFP_OK;
}
