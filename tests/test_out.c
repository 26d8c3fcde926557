/* Output writers (include/cfp_out.h): PNG, GIF and MP4 files of synthetic
 * frames, read back with independent decoders (the ffmpeg / ffprobe CLI, and
 * giflib's reader for the GIF structure). */
#include "cfp_out.h"
#include "test.h"

#include <dirent.h>
#include <gif_lib.h>
#include <png.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_path(const char *name) { return cfp_test_tmp("out", name); }

static int have_ffmpeg(void) {
    static int state; /* 0 unknown, 1 yes, -1 no */
    if (!state) state = cfp_test_sh("command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null") == 0 ? 1 : -1;
    if (state < 0) cfp_test_fail_here(__FILE__, __LINE__, "ffmpeg/ffprobe CLI missing (scripts/install-deps.sh installs it)");
    return state > 0;
}

/* Every frame of a file decoded by the ffmpeg CLI as rgb24; *n frames. */
static uint8_t *ffmpeg_decode(const char *file, int w, int h, int *n) {
    const char *out = tmp_path("decoded.rgb");
    *n = 0;
    if (cfp_test_sh("ffmpeg -nostdin -v error -y -i '%s' -fps_mode passthrough -f rawvideo -pix_fmt rgb24 '%s'", file,
                    out))
        return NULL;
    size_t len;
    uint8_t *b = cfp_test_slurp_alloc(out, &len);
    if (b) *n = (int)(len / ((size_t)w * h * 3));
    return b;
}

/* ffprobe's stream entries "key=value\n..." for the first video stream. */
static char *ffprobe(const char *file) {
    const char *out = tmp_path("probe.txt");
    if (cfp_test_sh("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
           "stream=codec_name,profile,pix_fmt,width,height,nb_read_frames,avg_frame_rate,color_space "
           "-of default=nw=1 '%s' > '%s'",
           file, out))
        return NULL;
    size_t len;
    return (char *)cfp_test_slurp_alloc(out, &len);
}

static const char *probe_get(const char *probe, const char *key, char *buf, size_t len) {
    buf[0] = 0;
    if (!probe) return buf;
    size_t kl = strlen(key);
    for (const char *p = probe; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            size_t i = 0;
            p += kl + 1;
            while (p[i] && p[i] != '\n' && i + 1 < len) buf[i] = p[i], i++;
            buf[i] = 0;
            break;
        }
    }
    return buf;
}

/* Synthetic clips. kind 0, "gradients": a red-green gradient, a blue
 * sinusoid moving over time and a moving light square: about 190,000
 * distinct colours in 16 frames of 112x112, filling a 3-D block of the RGB
 * cube (the hard case for a 256-colour palette). kind 1, "overlay": what cfp
 * writes, a video-like frame (a tinted, smoothly textured scene and a moving
 * red square) with a jet-coloured Gaussian blob blended 50% over it. */
static float jet_ch(float v) {
    float c = 1.5f - fabsf(v);
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

static uint8_t *make_frames(int n, int w, int h, int kind) {
    uint8_t *f = malloc((size_t)n * w * h * 3);
    if (!f) abort();
    int sq = w / 7 > 2 ? w / 7 : 2;
    for (int t = 0; t < n; t++) {
        int sx = (t * 5) % (w > sq ? w - sq : 1), sy = h / 3;
        float cx = w * (0.3f + 0.4f * t / (n > 1 ? n - 1 : 1)), cy = h * 0.55f, rad = w * 0.25f;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = f + (((size_t)t * h + y) * w + x) * 3;
                float r, g, b;
                int in_sq = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
                if (kind == 0) {
                    r = 255.f * x / (w > 1 ? w - 1 : 1), g = 255.f * y / (h > 1 ? h - 1 : 1);
                    b = 128 + 100 * sinf(0.05f * (x + y) + 0.4f * t);
                    if (in_sq) r = 250, g = 245, b = 235;
                } else {
                    float l = 40 + 150 * (0.5f + 0.5f * sinf(x / 9.f) * cosf(y / 13.f + 0.2f * t));
                    r = l, g = 0.95f * l + 5, b = 0.85f * l;
                    if (in_sq) r = 200, g = 60, b = 40;
                    float dx = (x - cx) / rad, dy = (y - cy) / rad, v = expf(-(dx * dx + dy * dy));
                    r = 0.5f * r + 0.5f * 255 * jet_ch(4 * v - 3);
                    g = 0.5f * g + 0.5f * 255 * jet_ch(4 * v - 2);
                    b = 0.5f * b + 0.5f * 255 * jet_ch(4 * v - 1);
                }
                p[0] = (uint8_t)lrintf(r), p[1] = (uint8_t)lrintf(g), p[2] = (uint8_t)lrintf(b);
            }
    }
    return f;
}

/* Mean absolute error per channel (in 1/255) over the top-left w x h of
 * decoded frames dw wide, and the PSNR (dB). */
static void compare(const uint8_t *ref, const uint8_t *dec, int n, int w, int h, int dw, int dh, double *mae,
                    double *psnr, double *worst_frame_psnr) {
    double sum = 0, sq = 0, worst = INFINITY;
    for (int t = 0; t < n; t++) {
        double fsq = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w * 3; x++) {
                double d = (double)ref[((size_t)t * h + y) * w * 3 + x] - dec[((size_t)t * dh + y) * dw * 3 + x];
                sum += fabs(d), fsq += d * d;
            }
        sq += fsq;
        double fp = 10 * log10(255.0 * 255.0 / (fsq / ((double)w * h * 3) + 1e-12));
        if (fp < worst) worst = fp;
    }
    double cnt = (double)n * w * h * 3;
    *mae = sum / cnt;
    *psnr = 10 * log10(255.0 * 255.0 / (sq / cnt + 1e-12));
    if (worst_frame_psnr) *worst_frame_psnr = worst;
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* No "*.cfp-tmp-*" file is left in the temporary folder. */
static int tmp_leftovers(void) {
    DIR *d = opendir(cfp_test_tmpsub("out"));
    int k = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".cfp-tmp-")) k++;
    if (d) closedir(d);
    return k;
}

/* ---- PNG ------------------------------------------------------------------- */

/* Decoded by libpng's reader (simplified API) as 8-bit RGB. */
static uint8_t *png_decode(const char *p, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, p)) return NULL;
    int rgb8 = img.format == PNG_FORMAT_RGB; /* the file's own format: RGB, 8 bits, no alpha */
    img.format = PNG_FORMAT_RGB;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!rgb8 || !buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        png_image_free(&img);
        free(buf);
        return NULL;
    }
    *w = (int)img.width, *h = (int)img.height;
    return buf;
}

TEST(out_png_roundtrip) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    static const int sizes[][2] = {{112, 112}, {37, 23}, {1, 1}, {640, 360}};
    for (int s = 0; s < 4; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        uint8_t *f = make_frames(1, w, h, s & 1);
        const char *p = tmp_path("a.png");
        CHECK_EQ(cfp_write_png(ctx, p, f, w, h), CFP_OK);
        int dw = 0, dh = 0;
        uint8_t *d = png_decode(p, &dw, &dh);
        CHECK(d != NULL);
        CHECK_EQ(dw, w);
        CHECK_EQ(dh, h);
        if (d && dw == w && dh == h) CHECK(memcmp(d, f, (size_t)w * h * 3) == 0);
        free(d);
        /* and by the ffmpeg CLI, once */
        if (s == 1 && have_ffmpeg()) {
            int n;
            d = ffmpeg_decode(p, w, h, &n);
            CHECK_EQ(n, 1);
            if (d && n == 1) CHECK(memcmp(d, f, (size_t)w * h * 3) == 0);
            free(d);
        }
        /* deterministic: the same pixels give the same bytes */
        size_t l1, l2;
        uint8_t *b1 = cfp_test_slurp_alloc(p, &l1);
        CHECK_EQ(cfp_write_png(ctx, tmp_path("b.png"), f, w, h), CFP_OK);
        uint8_t *b2 = cfp_test_slurp_alloc(tmp_path("b.png"), &l2);
        CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
        CHECK(b1 && l1 > 8 && !memcmp(b1, "\x89PNG\r\n\x1a\n", 8));
        free(b1), free(b2), free(f);
    }
    CHECK_EQ(tmp_leftovers(), 0);
    cfp_ctx_free(ctx);
}

/* ---- GIF ------------------------------------------------------------------- */

typedef struct {
    int w, h, frames, loop_ext, loop_count, ok;
    int delays[64];
} gif_info;

/* Reads a GIF with giflib and composes its frames as a browser shows them
 * (transparent pixels keep the canvas; disposal 0/1 keep it, 2 clears the
 * box). Returns frames*h*w*3 bytes, or NULL; gi gets the structure. */
static uint8_t *gif_decode(const char *p, gif_info *gi) {
    memset(gi, 0, sizeof *gi);
    gi->loop_count = -1;
    int err;
    GifFileType *g = DGifOpenFileName(p, &err);
    if (!g) return NULL;
    if (DGifSlurp(g) != GIF_OK || !g->SColorMap || g->ImageCount < 1) {
        DGifCloseFile(g, &err);
        return NULL;
    }
    int w = g->SWidth, h = g->SHeight;
    gi->w = w, gi->h = h, gi->frames = g->ImageCount, gi->ok = 1;
    size_t plane = (size_t)w * h * 3;
    uint8_t *out = malloc(plane * (size_t)g->ImageCount), *canvas = calloc(plane, 1);
    const GifColorType *bg = &g->SColorMap->Colors[g->SBackGroundColor % g->SColorMap->ColorCount];
    for (size_t i = 0; i < plane; i += 3) canvas[i] = bg->Red, canvas[i + 1] = bg->Green, canvas[i + 2] = bg->Blue;
    for (int i = 0; i < g->ImageCount; i++) {
        const SavedImage *im = &g->SavedImages[i];
        for (int e = 0; e < im->ExtensionBlockCount; e++) {
            const ExtensionBlock *b = &im->ExtensionBlocks[e];
            if (b->Function == APPLICATION_EXT_FUNC_CODE && b->ByteCount == 11 &&
                !memcmp(b->Bytes, "NETSCAPE2.0", 11) && e + 1 < im->ExtensionBlockCount) {
                const ExtensionBlock *c = &im->ExtensionBlocks[e + 1];
                if (c->Function == CONTINUE_EXT_FUNC_CODE && c->ByteCount == 3 && c->Bytes[0] == 1)
                    gi->loop_ext++, gi->loop_count = c->Bytes[1] | c->Bytes[2] << 8;
            }
        }
        GraphicsControlBlock gcb = {0, false, 0, NO_TRANSPARENT_COLOR};
        DGifSavedExtensionToGCB(g, i, &gcb);
        if (i < 64) gi->delays[i] = gcb.DelayTime;
        const GifImageDesc *d = &im->ImageDesc;
        const ColorMapObject *cm = d->ColorMap ? d->ColorMap : g->SColorMap;
        if (d->Interlace || d->Left < 0 || d->Top < 0 || d->Left + d->Width > w || d->Top + d->Height > h ||
            gcb.DisposalMode == DISPOSE_PREVIOUS)
            gi->ok = 0;
        else
            for (int y = 0; y < d->Height; y++)
                for (int x = 0; x < d->Width; x++) {
                    int k = im->RasterBits[(size_t)y * d->Width + x];
                    if (k == gcb.TransparentColor) continue;
                    if (k >= cm->ColorCount) {
                        gi->ok = 0;
                        continue;
                    }
                    uint8_t *px = canvas + ((size_t)(d->Top + y) * w + d->Left + x) * 3;
                    px[0] = cm->Colors[k].Red, px[1] = cm->Colors[k].Green, px[2] = cm->Colors[k].Blue;
                }
        memcpy(out + plane * i, canvas, plane);
        if (gi->ok && gcb.DisposalMode == DISPOSE_BACKGROUND)
            for (int y = 0; y < d->Height; y++)
                for (int x = 0; x < d->Width; x++) {
                    uint8_t *px = canvas + ((size_t)(d->Top + y) * w + d->Left + x) * 3;
                    px[0] = bg->Red, px[1] = bg->Green, px[2] = bg->Blue;
                }
    }
    DGifCloseFile(g, &err);
    free(canvas);
    return out;
}

/* Writes a clip, checks the structure and returns the decoded frames' mean
 * absolute error. With ffmpeg_too, ffmpeg's GIF decoder must show exactly
 * the same frames as the giflib composition. */
static void gif_case(cfp_ctx *ctx, int n, int w, int h, double fps, int kind, const cfp_gif_opts *o,
                     double mae_max, int ffmpeg_too, long *size_out) {
    uint8_t *f = make_frames(n, w, h, kind);
    const char *p = tmp_path("clip.gif");
    CHECK_EQ(cfp_write_gif_opts(ctx, p, f, n, w, h, fps, o), CFP_OK);
    gif_info gi;
    uint8_t *d = gif_decode(p, &gi);
    CHECK(d != NULL);
    CHECK(gi.ok);
    CHECK_EQ(gi.w, w);
    CHECK_EQ(gi.h, h);
    CHECK_EQ(gi.frames, n);
    CHECK_EQ(gi.loop_ext, 1);
    CHECK_EQ(gi.loop_count, 0);
    /* delays: cumulative rounding, total n/fps to 1/100 s */
    int total = 0;
    for (int i = 0; i < n && i < 64; i++) {
        CHECK(gi.delays[i] >= 2);
        total += gi.delays[i];
    }
    if (fps <= 50 && n <= 64) CHECK_EQ(total, llround(100.0 * n / fps));
    /* raw bytes: GIF89a and the looping extension, independently of giflib */
    size_t len;
    uint8_t *raw = cfp_test_slurp_alloc(p, &len);
    CHECK(raw && len > 13 && !memcmp(raw, "GIF89a", 6));
    int found = 0;
    for (size_t i = 0; raw && i + 19 <= len; i++)
        if (!memcmp(raw + i, "\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00", 19)) found = 1;
    CHECK(found);
    free(raw);
    double mae = 1e9, psnr = 0;
    if (d && gi.frames == n && gi.w == w && gi.h == h) compare(f, d, n, w, h, w, h, &mae, &psnr, NULL);
    if (!(mae <= mae_max))
        cfp_test_fail_here(__FILE__, __LINE__, "gif %dx%dx%d kind %d dither %d: mean abs error %.3f (max %.3f), PSNR %.2f dB",
                           w, h, n, kind, o ? o->dither : 0, mae, mae_max, psnr);
    if (getenv("CFP_TEST_OUT_VERBOSE"))
        fprintf(stderr, "info: gif %dx%dx%d kind %d dither %d: mean abs error %.3f (max %.3f), PSNR %.2f dB, %ld bytes\n",
                w, h, n, kind, o ? o->dither : 0, mae, mae_max, psnr, file_size(p));
    if (ffmpeg_too && have_ffmpeg()) {
        int nd;
        uint8_t *fd = ffmpeg_decode(p, w, h, &nd);
        CHECK_EQ(nd, n);
        if (fd && d && nd == n) CHECK(memcmp(fd, d, (size_t)n * w * h * 3) == 0);
        free(fd);
    }
    if (size_out) *size_out = file_size(p);
    free(d), free(f);
}

/* Bounds: mean absolute error per channel, in 1/255, measured on these
 * 16-frame 112x112 clips (Debian 12: giflib 5.2.1; run with
 * CFP_TEST_OUT_VERBOSE=1 to print them). The overlay clip decodes with an
 * error of 2.26 without dither and 3.3 with the ordered dither (which trades
 * error for less banding); ffmpeg 5.1's palettegen (stats_mode=full) +
 * paletteuse gives 2.47 (none) and 4.50 (bayer). The gradients clip (190,000
 * distinct colours filling a 3-D block of the cube: the worst case for 255
 * colours) gives about 9.0, ffmpeg 9.07. Bounds: 3.0, 4.0 and 10.0, which
 * still fail a uniform palette (a 6x7x6 cube gives 12.1 on the
 * overlay). */
TEST(out_gif_quality) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    long size;
    gif_case(ctx, 16, 112, 112, 25, 1, NULL, 3.0, 1, &size);
    CHECK(size > 0 && size < 300 * 1024);
    cfp_gif_opts o = {0, 1};
    gif_case(ctx, 16, 112, 112, 25, 1, &o, 4.0, 0, &size);
    CHECK(size > 0 && size < 300 * 1024);
    gif_case(ctx, 16, 112, 112, 25, 0, NULL, 10.0, 0, &size);
    CHECK(size > 0 && size < 300 * 1024);
    CHECK_EQ(tmp_leftovers(), 0);
    cfp_ctx_free(ctx);
}

TEST(out_gif_sizes_and_delays) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    gif_case(ctx, 7, 37, 23, 30, 1, NULL, 3.0, 0, NULL); /* odd size, 30 fps */
    gif_case(ctx, 1, 1, 1, 10, 0, NULL, 0.0, 0, NULL);   /* one pixel, one frame: exact */
    gif_case(ctx, 3, 16, 8, 12.5, 1, NULL, 3.0, 0, NULL);
    cfp_gif_opts few = {4, 0};
    gif_case(ctx, 2, 8, 8, 5, 0, &few, 60, 0, NULL);
    gif_info gi;
    uint8_t *f = make_frames(6, 16, 16, 0), *d;
    /* 30 fps: 3,4,3 repeated; 100 fps plays at 50 (delay 2) */
    CHECK_EQ(cfp_write_gif(ctx, tmp_path("d.gif"), f, 6, 16, 16, 30), CFP_OK);
    free(gif_decode(tmp_path("d.gif"), &gi));
    static const int want[6] = {3, 4, 3, 3, 4, 3};
    for (int i = 0; i < 6; i++) CHECK_EQ(gi.delays[i], want[i]);
    CHECK_EQ(cfp_write_gif(ctx, tmp_path("d.gif"), f, 6, 16, 16, 100), CFP_OK);
    free(gif_decode(tmp_path("d.gif"), &gi));
    for (int i = 0; i < 6; i++) CHECK_EQ(gi.delays[i], 2);
    /* identical frames: the later ones are one transparent pixel, shown as
     * the same picture; few colours: exact */
    memcpy(f + 16 * 16 * 3, f, 16 * 16 * 3);
    CHECK_EQ(cfp_write_gif(ctx, tmp_path("s.gif"), f, 2, 16, 16, 10), CFP_OK);
    d = gif_decode(tmp_path("s.gif"), &gi);
    CHECK(d && gi.ok && gi.frames == 2);
    if (d && gi.frames == 2) CHECK(memcmp(d, d + 16 * 16 * 3, 16 * 16 * 3) == 0);
    free(d);
    for (int i = 0; i < 2 * 16 * 16 * 3; i++) f[i] = (uint8_t)((i / 3 % 7) * 40 + (i % 3) * 10);
    CHECK_EQ(cfp_write_gif(ctx, tmp_path("s.gif"), f, 2, 16, 16, 10), CFP_OK);
    d = gif_decode(tmp_path("s.gif"), &gi);
    CHECK(d && gi.ok && gi.frames == 2);
    if (d && gi.frames == 2) CHECK(memcmp(d, f, 2 * 16 * 16 * 3) == 0);
    free(d);
    /* 255 distinct colours, neighbours in the cube: still exact (the
     * frames' own palette), also with dither asked for */
    for (int i = 0; i < 2 * 16 * 16; i++)
        f[3 * i] = (uint8_t)(i % 255), f[3 * i + 1] = (uint8_t)(i % 255 / 2), f[3 * i + 2] = (uint8_t)(i % 3);
    cfp_gif_opts dith = {0, 1};
    CHECK_EQ(cfp_write_gif_opts(ctx, tmp_path("s.gif"), f, 2, 16, 16, 10, &dith), CFP_OK);
    d = gif_decode(tmp_path("s.gif"), &gi);
    CHECK(d && gi.ok && gi.frames == 2);
    if (d && gi.frames == 2) CHECK(memcmp(d, f, 2 * 16 * 16 * 3) == 0);
    free(d), free(f);
    cfp_ctx_free(ctx);
}

/* ---- MP4 ------------------------------------------------------------------- */

/* Top-level boxes: moov must come before mdat (+faststart). */
static int moov_before_mdat(const char *p) {
    size_t len;
    uint8_t *b = cfp_test_slurp_alloc(p, &len);
    int moov = -1, mdat = -1, k = 0;
    for (size_t off = 0; b && off + 8 <= len; k++) {
        uint64_t sz = (uint64_t)b[off] << 24 | b[off + 1] << 16 | b[off + 2] << 8 | b[off + 3];
        if (!memcmp(b + off + 4, "moov", 4) && moov < 0) moov = k;
        if (!memcmp(b + off + 4, "mdat", 4) && mdat < 0) mdat = k;
        if (sz == 1 && off + 16 <= len) {
            sz = 0;
            for (int i = 0; i < 8; i++) sz = sz << 8 | b[off + 8 + i];
        }
        if (sz < 8) break;
        off += sz;
    }
    free(b);
    return moov >= 0 && mdat >= 0 && moov < mdat;
}

/* PSNR floors. On 112x112 and larger clips the codecs keep well above 30 dB
 * (measured: libx264 ~40, mpeg4 ~36). On tiny clips chroma subsampling
 * alone bounds the result: the overlay frames at 38x24 go through
 * rgb24 -> yuv420p -> rgb24 (no codec) at 28.2 dB, so small clips get 25 dB. */
static void mp4_case(cfp_ctx *ctx, const char *enc, int n, int w, int h, double fps, const char *want_rate,
                     double psnr_min) {
    uint8_t *f = make_frames(n, w, h, 1);
    const char *p = tmp_path("clip.mp4");
    CHECK_EQ(cfp_write_mp4_encoder(ctx, p, f, n, w, h, fps, enc), CFP_OK);
    const char *used = enc ? enc : cfp_mp4_encoder_name();
    int W = (w + 1) & ~1, H = (h + 1) & ~1;
    char *probe = ffprobe(p);
    CHECK(probe != NULL);
    char v[64];
    int x264 = !strcmp(used, "libx264");
    if (strcmp(probe_get(probe, "codec_name", v, sizeof v), x264 ? "h264" : "mpeg4"))
        cfp_test_fail_here(__FILE__, __LINE__, "codec_name '%s' (encoder %s)", v, used);
    if (x264 && strcmp(probe_get(probe, "profile", v, sizeof v), "High"))
        cfp_test_fail_here(__FILE__, __LINE__, "profile '%s'", v);
    if (strcmp(probe_get(probe, "pix_fmt", v, sizeof v), "yuv420p"))
        cfp_test_fail_here(__FILE__, __LINE__, "pix_fmt '%s'", v);
    CHECK_EQ(atoi(probe_get(probe, "width", v, sizeof v)), W);
    CHECK_EQ(atoi(probe_get(probe, "height", v, sizeof v)), H);
    CHECK_EQ(atoi(probe_get(probe, "nb_read_frames", v, sizeof v)), n);
    if (strcmp(probe_get(probe, "avg_frame_rate", v, sizeof v), want_rate))
        cfp_test_fail_here(__FILE__, __LINE__, "avg_frame_rate '%s', want '%s'", v, want_rate);
    if (strcmp(probe_get(probe, "color_space", v, sizeof v), "bt709"))
        cfp_test_fail_here(__FILE__, __LINE__, "color_space '%s'", v);
    free(probe);
    CHECK(moov_before_mdat(p));
    int nd;
    uint8_t *d = ffmpeg_decode(p, W, H, &nd);
    CHECK_EQ(nd, n);
    double mae = 1e9, psnr = 0, worst = 0;
    if (d && nd == n) {
        compare(f, d, n, w, h, W, H, &mae, &psnr, &worst);
        /* padding repeats the last column / row */
        double pad = 0;
        int cnt = 0;
        for (int t = 0; t < n; t++) {
            const uint8_t *fr = d + (size_t)t * W * H * 3;
            if (W != w)
                for (int y = 0; y < h; y++, cnt += 3)
                    for (int c = 0; c < 3; c++)
                        pad += abs(fr[((size_t)y * W + w) * 3 + c] - fr[((size_t)y * W + w - 1) * 3 + c]);
            if (H != h)
                for (int x = 0; x < w; x++, cnt += 3)
                    for (int c = 0; c < 3; c++)
                        pad += abs(fr[((size_t)h * W + x) * 3 + c] - fr[((size_t)(h - 1) * W + x) * 3 + c]);
        }
        if (cnt && pad / cnt > 8)
            cfp_test_fail_here(__FILE__, __LINE__, "padding differs from the edge by %.2f on average", pad / cnt);
    }
    if (!(psnr > psnr_min && worst > psnr_min - 2))
        cfp_test_fail_here(__FILE__, __LINE__, "%s %dx%dx%d: PSNR %.2f dB (worst frame %.2f, floor %.1f), mean abs error %.2f",
                           used, w, h, n, psnr, worst, psnr_min, mae);
    if (getenv("CFP_TEST_OUT_VERBOSE"))
        fprintf(stderr, "info: %s %dx%dx%d: PSNR %.2f dB (worst frame %.2f, floor %.1f), mean abs error %.2f, %ld bytes\n",
                used, w, h, n, psnr, worst, psnr_min, mae, file_size(p));
    free(d), free(f);
}

TEST(out_mp4_default) {
    if (!have_ffmpeg()) return;
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 2), CFP_OK);
    const char *e = cfp_mp4_encoder_name();
    CHECK(e != NULL);
    if (!e) return;
    mp4_case(ctx, NULL, 16, 112, 112, 25, "25/1", 30);
    mp4_case(ctx, NULL, 16, 640, 360, 30, "30/1", 30);
    mp4_case(ctx, NULL, 5, 37, 23, 29.97, "2997/100", 25); /* odd size: padded to 38x24 */
    CHECK_EQ(tmp_leftovers(), 0);
    cfp_ctx_free(ctx);
}

TEST(out_mp4_mpeg4) {
    if (!have_ffmpeg()) return;
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    mp4_case(ctx, "mpeg4", 16, 112, 112, 25, "25/1", 30);
    mp4_case(ctx, "mpeg4", 4, 33, 17, 12, "12/1", 25);
    cfp_ctx_free(ctx);
}

/* The smallest video: one 2x2 frame of one colour. */
TEST(out_mp4_tiny) {
    if (!have_ffmpeg()) return;
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    uint8_t px[12];
    for (int i = 0; i < 12; i += 3) px[i] = 200, px[i + 1] = 120, px[i + 2] = 40;
    const char *p = tmp_path("tiny.mp4");
    CHECK_EQ(cfp_write_mp4(ctx, p, px, 1, 1, 1, 8), CFP_OK); /* 1x1: padded to 2x2 */
    int n;
    uint8_t *d = ffmpeg_decode(p, 2, 2, &n);
    CHECK_EQ(n, 1);
    for (int i = 0; d && n == 1 && i < 12; i++) CHECK_NEAR(d[i], px[i], 4);
    free(d);
    cfp_ctx_free(ctx);
}

/* ---- errors ---------------------------------------------------------------- */

TEST(out_bad_arguments) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    uint8_t px[4 * 4 * 3 * 2] = {0};
    const char *p = tmp_path("bad.out");
    for (int k = 0; k < 3; k++) {
#define W(path, fr, n, w, h, fps)                                                                     \
    (k == 0   ? cfp_write_png(ctx, path, fr, w, h)                                                  \
     : k == 1 ? cfp_write_gif(ctx, path, fr, n, w, h, fps)                                           \
              : cfp_write_mp4(ctx, path, fr, n, w, h, fps))
        CHECK_EQ(W(NULL, px, 1, 4, 4, 25), CFP_E_ARG);
        CHECK_EQ(W("", px, 1, 4, 4, 25), CFP_E_ARG);
        CHECK_EQ(W(p, NULL, 1, 4, 4, 25), CFP_E_ARG);
        CHECK_EQ(W(p, px, 1, 0, 4, 25), CFP_E_ARG);
        CHECK_EQ(W(p, px, 1, 4, -3, 25), CFP_E_ARG);
        CHECK(strstr(cfp_errmsg(ctx), "invalid size 4x-3") != NULL);
        CHECK_EQ(W(p, px, 1, 1 << 30, 4, 25), CFP_E_LIMIT);
        CHECK_EQ(W(p, px, 1, 4, CFP_OUT_MAX_DIM + 1, 25), CFP_E_LIMIT);
        if (k) {
            CHECK_EQ(W(p, px, 0, 4, 4, 25), CFP_E_ARG);
            CHECK_EQ(W(p, px, -1, 4, 4, 25), CFP_E_ARG);
            CHECK_EQ(W(p, px, CFP_OUT_MAX_FRAMES + 1, 4, 4, 25), CFP_E_LIMIT);
            CHECK_EQ(W(p, px, 2, 4, 4, 0), CFP_E_ARG);
            CHECK_EQ(W(p, px, 2, 4, 4, -5), CFP_E_ARG);
            CHECK_EQ(W(p, px, 2, 4, 4, NAN), CFP_E_ARG);
            CHECK_EQ(W(p, px, 2, 4, 4, INFINITY), CFP_E_ARG);
        }
        /* a folder that does not exist: CFP_E_IO naming the path */
        CHECK_EQ(W("/nonexistent-cfp-dir/x.out", px, 2, 4, 4, 25), CFP_E_IO);
        CHECK(strstr(cfp_errmsg(ctx), "/nonexistent-cfp-dir/x.out") != NULL);
        /* the target is a folder: the rename fails, the temporary file goes */
        const char *dir = tmp_path("a-folder");
        mkdir(dir, 0755);
        CHECK_EQ(W(dir, px, 2, 4, 4, 25), CFP_E_IO);
        CHECK(strstr(cfp_errmsg(ctx), "a-folder") != NULL);
        /* ctx NULL: the status alone */
        CHECK_EQ(k == 0 ? cfp_write_png(NULL, p, px, 0, 1) : k == 1 ? cfp_write_gif(NULL, p, px, 1, 0, 1, 25)
                                                                    : cfp_write_mp4(NULL, p, px, 1, 0, 1, 25),
                 CFP_E_ARG);
#undef W
    }
    CHECK_EQ(access(p, F_OK), -1); /* nothing was written */
    cfp_gif_opts o = {1, 0};
    CHECK_EQ(cfp_write_gif_opts(ctx, p, px, 1, 4, 4, 25, &o), CFP_E_ARG);
    o.colors = 257;
    CHECK_EQ(cfp_write_gif_opts(ctx, p, px, 1, 4, 4, 25, &o), CFP_E_ARG);
    o.colors = 0, o.dither = 7;
    CHECK_EQ(cfp_write_gif_opts(ctx, p, px, 1, 4, 4, 25, &o), CFP_E_ARG);
    CHECK_EQ(cfp_write_mp4_encoder(ctx, p, px, 1, 4, 4, 25, "vp9"), CFP_E_ARG);
    CHECK(strstr(cfp_errmsg(ctx), "vp9") != NULL);
    CHECK_EQ(tmp_leftovers(), 0);
    cfp_ctx_free(ctx);
}

/* A failed write leaves an existing file as it was. */
TEST(out_keeps_old_file_on_error) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), CFP_OK);
    uint8_t px[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const char *p = tmp_path("keep.png");
    CHECK_EQ(cfp_write_png(ctx, p, px, 2, 2), CFP_OK);
    size_t l1, l2;
    uint8_t *b1 = cfp_test_slurp_alloc(p, &l1);
    CHECK_EQ(cfp_write_png(ctx, p, px, 2, 0), CFP_E_ARG);
    CHECK_EQ(cfp_write_gif(ctx, p, px, 1, 2, 2, -1), CFP_E_ARG);
    uint8_t *b2 = cfp_test_slurp_alloc(p, &l2);
    CHECK(b1 && b2 && l1 == l2 && !memcmp(b1, b2, l1));
    free(b1), free(b2);
    /* overwriting an existing file works */
    px[0] = 200;
    CHECK_EQ(cfp_write_png(ctx, p, px, 2, 2), CFP_OK);
    b2 = cfp_test_slurp_alloc(p, &l2);
    CHECK(b2 && l2 > 8);
    free(b2);
    cfp_ctx_free(ctx);
}
