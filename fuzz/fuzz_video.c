/* libFuzzer target: the video path (src/video.c over FFmpeg, then sampling
 * and preprocessing) fed from memory with cfp_video_open_mem. */
#include "cfp.h"
#include "cfp_video.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cfp_ctx *ctx;
    if (!ctx && cfp_ctx_new(&ctx, 1)) abort();
    cfp_video *v = NULL;
    if (cfp_video_open_mem(ctx, data, size, "fuzz.video", &v)) {
        if (!cfp_errmsg(ctx)[0]) abort();
        return 0;
    }
    const cfp_video_info *info = cfp_video_get_info(v);
    cfp_sampling s;
    cfp_sampling_init(&s);
    s.frames = 4;
    s.stride = 2;
    /* the last byte picks the window: start, a frame number, or uniform */
    uint8_t sel = size ? data[size - 1] : 0;
    if (sel % 3 == 1) s.start_frame = sel / 3 % 8;
    else if (sel % 3 == 2) s.uniform = 1;
    else s.start = (sel / 3 % 4) * 0.25;
    cfp_clip *c = NULL;
    if (info && (int64_t)info->width * info->height <= 4096 * 4096 && cfp_video_sample(v, &s, &c) == 0) {
        int w, h;
        for (int i = 0; i < cfp_clip_n_frames(c); i++) {
            const uint8_t *px = cfp_clip_frame(c, i, &w, &h);
            if (px && w > 0 && h > 0) {
                volatile uint8_t sink = px[(size_t)w * h * 3 - 1];
                (void)sink;
            }
        }
        /* a small preprocessing of every kind (presets resize to 256 and
         * would spend the run in the pixel loops): resize or short side,
         * crop, both layouts, RGB/BGR, one or two pathways */
        cfp_preprocess p = {.name = "fuzz", .scale = 1 / 255.0f, .mean = {0.4f, 0.5f, 0.6f}, .std = {0.2f, 0.3f, 0.4f}};
        if (sel & 8) p.short_side = 12;
        else p.resize_h = 10, p.resize_w = 14;
        p.crop_h = 8, p.crop_w = sel & 16 ? 8 : 6;
        p.layout = sel & 32 ? CFP_LAYOUT_NTHWC : CFP_LAYOUT_NCTHW;
        p.bgr = (sel >> 6) & 1;
        p.alpha = sel & 128 ? 2 : 0;
        cfp_clip_preprocess(ctx, c, &p);
        cfp_clip_free(c);
    }
    cfp_video_close(v);
    return 0;
}
