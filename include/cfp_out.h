/* cfp output writers: saliency overlays as a PNG image, an animated GIF or an
 * MP4 video.
 *
 *   cfp_write_png(ctx, "frame.png", rgb, 112, 112);
 *   cfp_write_gif(ctx, "clip.gif", frames, 16, 112, 112, 25.0);
 *   cfp_write_mp4(ctx, "clip.mp4", frames, 16, 112, 112, 25.0);
 *
 * Frames are RGB24: rows of 3*w bytes, tightly packed, row-major; `n` frames of
 * w x h follow each other in `frames` (n*h*3*w bytes).
 *
 * Same conventions as cfp.h: int status (CFP_OK == 0), the message in
 * cfp_errmsg(ctx) (ctx may be NULL: then errors carry no message). Every writer
 * writes a temporary file next to the target ("PATH.cfp-tmp-PID-N", created
 * exclusively, mode 0666 minus the umask) and renames it over PATH only when
 * the file is complete: PATH is never left half-written, and a failed write
 * leaves no temporary file behind.
 *
 * Errors: CFP_E_ARG (NULL pointers, w, h or n < 1, fps not finite or not in
 * (0, 1000]), CFP_E_LIMIT (w or h > CFP_OUT_MAX_DIM, n > CFP_OUT_MAX_FRAMES, or
 * n*w*h*3 bytes not addressable), CFP_E_IO ("PATH: what": cannot create,
 * write or rename the file, or the encoder failed), CFP_E_NOMEM,
 * CFP_E_UNSUPPORTED (no usable MP4 encoder in this FFmpeg). */
#ifndef CFP_OUT_H
#define CFP_OUT_H

#include "cfp.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CFP_OUT_MAX_DIM 16384       /* width and height */
#define CFP_OUT_MAX_FRAMES 1000000  /* frames per GIF / MP4 */

/* ---- PNG ---------------------------------------------------------------------
 * 8-bit RGB, non-interlaced, zlib level 6 with libpng's adaptive filters, and
 * no time or text chunks: the same pixels give the same bytes (with the same
 * libpng and zlib). Decodes back to exactly `rgb`. */
int cfp_write_png(cfp_ctx *ctx, const char *path, const uint8_t *rgb, int w, int h);

/* ---- GIF ---------------------------------------------------------------------
 * An animated GIF89a that loops forever (NETSCAPE2.0 application extension,
 * loop count 0). One global palette per file, 255 colours + 1 transparent
 * index: the frames' own colours when there are at most 255 (then the GIF is
 * lossless and never dithered); otherwise Wu's variance-minimising colour
 * quantiser over the colour histogram of all frames, refined by k-means
 * (8 Lloyd iterations on a 6-bit-per-channel histogram). Each pixel takes the
 * exactly nearest palette colour (Euclidean RGB), after an optional 8x8
 * ordered (Bayer) dither. Frames after the first are stored as the bounding
 * box of the pixels whose palette index changed, with unchanged pixels
 * transparent (disposal "do not dispose"): what a decoder shows is the full
 * quantised frame, and static backgrounds cost almost nothing.
 * Delays: GIF counts in 1/100 s; frame k lasts
 *     round(100*(k+1)/fps) - round(100*k/fps)
 * hundredths, so the total duration is n/fps to 1/100 s (30 fps: 3,4,3,3,4,3,...).
 * Browsers treat delays under 2/100 s as 10/100 s, so every delay is at least
 * 2: rates above 50 fps play at 50 fps. */
typedef struct {
    int colors; /* palette size including the transparent entry, 2..256; 0: 256 */
    int dither; /* 0: none (default); 1: 8x8 ordered dither */
} cfp_gif_opts;

int cfp_write_gif(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h,
                  double fps);
/* opts NULL: the defaults. */
int cfp_write_gif_opts(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h,
                       double fps, const cfp_gif_opts *opts);

/* ---- MP4 ---------------------------------------------------------------------
 * MP4 (ISO BMFF) with the moov box first (movflags +faststart: browsers start
 * playing before the whole file is loaded); constant frame rate fps (taken as
 * a rational with denominator up to 100000: 29.97 -> 2997/100); pts = frame
 * index; the encoder is drained, so the file holds exactly n frames.
 * Encoder: libx264 when this FFmpeg has it (H.264 High profile, yuv420p,
 * preset medium, CRF 18, keyframe every 2 s), otherwise FFmpeg's MPEG-4 Part 2
 * encoder (yuv420p, qscale 3; most browsers do not play MPEG-4 Part 2).
 * RGB -> YUV: BT.709 matrix, limited range, with full-resolution chroma
 * filtered down to 4:2:0; tagged BT.709 (matrix, primaries, transfer) in the
 * stream (H.264 VUI) and in a colr box.
 * yuv420p needs even sizes: an odd w or h is padded by one column / row that
 * repeats the last one, so the video is (w+1)&~1 x (h+1)&~1 and its top-left
 * w x h are the frames. Uses cfp_ctx_threads(ctx) encoder threads (auto if
 * ctx is NULL). FFmpeg's own log is silenced (as in cfp_video.h) unless
 * CFP_FFMPEG_LOG=1. */
int cfp_write_mp4(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h,
                  double fps);
/* The same with a chosen encoder: "libx264", "mpeg4", or NULL for the default
 * above. An encoder this FFmpeg lacks: CFP_E_UNSUPPORTED. */
int cfp_write_mp4_encoder(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w,
                          int h, double fps, const char *encoder);
/* The encoder cfp_write_mp4 uses: "libx264" or "mpeg4"; NULL if neither exists. */
const char *cfp_mp4_encoder_name(void);

#ifdef __cplusplus
}
#endif
#endif
