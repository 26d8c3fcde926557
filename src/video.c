/* Video decoding and clip sampling with FFmpeg (libavformat, libavcodec,
 * libswscale). A file is demuxed and decoded from the keyframe before the
 * requested window (never from the start unless the window is there); a folder
 * of frames decodes only the images it needs. Frames are picked by timestamp
 * (see cfp_sampling in cfp_video.h), rotated as the container says, and kept
 * both as decoded (for the model's resize, done from YUV exactly like the
 * ffmpeg CLI) and as full-resolution RGB24. */
#include "video_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define FOLDER_FPS 25.0
#define MAX_FRAMES 100000 /* T */

struct cfp_video {
    cfp_ctx *ctx;
    char *path;
    cfp_video_info info;
    char codec[32], pix_fmt[32];
    /* a file */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVStream *st;
    AVPacket *pkt;
    AVFrame *frame;
    double tb;         /* seconds per stream time-base tick */
    int64_t start_pts; /* timestamp of time 0 */
    AVIOContext *mem_io; /* a video in memory (cfp_video_open_mem) */
    const uint8_t *mem;
    size_t mem_size, mem_pos;
    struct frame_pool *pool;
    /* a folder or pattern */
    char **files;
    int n_files;
};

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void quiet_ffmpeg(void) {
    const char *e = getenv("CFP_FFMPEG_LOG");
    if (!e || !*e || strcmp(e, "0") == 0) av_log_set_level(AV_LOG_QUIET);
}

static int av_fail(cfp_ctx *ctx, const char *path, int err, const char *what) {
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, buf, sizeof buf);
    int code = err == AVERROR(ENOMEM) ? CFP_E_NOMEM
               : err == AVERROR_INVALIDDATA || err == AVERROR_EOF ? CFP_E_PARSE
               : err == AVERROR_DECODER_NOT_FOUND || err == AVERROR_DEMUXER_NOT_FOUND ? CFP_E_UNSUPPORTED
                                                                                      : CFP_E_IO;
    if (err == AVERROR_INVALIDDATA && strcmp(what, "open") == 0)
        return cfp_seterr(ctx, CFP_E_PARSE, "%s: not a video FFmpeg can read (%s)", path, buf);
    return cfp_seterr(ctx, code, "%s: %s: %s", path, what, buf);
}

/* ---- scaling, exactly as ffmpeg's scale filter (libavfilter/vf_scale.c, 5.1) ---- */

void cfp_scaler_free(cfp_scaler *sc) {
    sws_freeContext(sc->sws);
    sc->sws = NULL;
    av_frame_free(&sc->out);
}

int cfp_frame_to_rgb(cfp_ctx *ctx, cfp_scaler *sc, const AVFrame *f, int dw, int dh, uint8_t *dst) {
    int key[8] = {f->format, f->width, f->height, dw, dh, f->colorspace, f->color_range, 1};
    if (!sc->sws || memcmp(key, sc->key, sizeof key)) {
        sws_freeContext(sc->sws);
        sc->sws = NULL;
        if (!sws_isSupportedInput(f->format))
            return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "pixel format %s cannot be converted",
                              av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?");
        struct SwsContext *s = sws_alloc_context();
        if (!s) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        av_opt_set_int(s, "srcw", f->width, 0);
        av_opt_set_int(s, "srch", f->height, 0);
        av_opt_set_int(s, "src_format", f->format, 0);
        av_opt_set_int(s, "dstw", dw, 0);
        av_opt_set_int(s, "dsth", dh, 0);
        av_opt_set_int(s, "dst_format", AV_PIX_FMT_RGB24, 0);
        av_opt_set_int(s, "sws_flags", SWS_BILINEAR, 0);
        /* vf_scale: MPEG-2 chroma siting for yuv420p (only that format in 5.1) */
        av_opt_set_int(s, "src_h_chr_pos", -513, 0);
        av_opt_set_int(s, "src_v_chr_pos", f->format == AV_PIX_FMT_YUV420P ? 128 : -513, 0);
        if (sws_init_context(s, NULL, NULL) < 0) {
            sws_freeContext(s);
            return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "cannot convert %s %dx%d to rgb24 %dx%d",
                              av_get_pix_fmt_name(f->format), f->width, f->height, dw, dh);
        }
        /* vf_scale's in_color_matrix "auto": the frame's matrix, BT.601 when unknown */
        int *inv, *table, in_full, out_full, bri, con, sat;
        sws_getColorspaceDetails(s, &inv, &in_full, &table, &out_full, &bri, &con, &sat);
        int cs = f->colorspace;
        if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
        const int *coef = sws_getCoefficients(cs);
        if (f->color_range != AVCOL_RANGE_UNSPECIFIED) in_full = f->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(s, coef, in_full, coef, out_full, bri, con, sat);
        sc->sws = s;
        memcpy(sc->key, key, sizeof key);
    }
    /* libswscale's SIMD writes whole vectors past the row end: convert into
     * padded, aligned rows (as the ffmpeg CLI does) and copy out */
    if (!sc->out || sc->out->width != dw || sc->out->height != dh) {
        av_frame_free(&sc->out);
        if (!(sc->out = av_frame_alloc())) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        sc->out->format = AV_PIX_FMT_RGB24;
        sc->out->width = dw;
        sc->out->height = dh;
        if (av_frame_get_buffer(sc->out, 0) < 0) {
            av_frame_free(&sc->out);
            return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory for a %dx%d frame", dw, dh);
        }
    }
    int h = sws_scale(sc->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, sc->out->data,
                      sc->out->linesize);
    if (h != dh) return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "libswscale failed to convert a frame");
    for (int y = 0; y < dh; y++)
        memcpy(dst + (size_t)y * dw * 3, sc->out->data[0] + (ptrdiff_t)y * sc->out->linesize[0], (size_t)dw * 3);
    return 0;
}

/* ---- rotation --------------------------------------------------------------------- */

/* Formats whose planes can be rotated element by element, like vf_transpose:
 * no palette or bitstream, same chroma subsampling in x and y. */
static int rotatable(int format) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(format);
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL))) return 0;
    if (d->log2_chroma_w != d->log2_chroma_h) return 0;
    for (int c = 0; c < d->nb_components; c++)
        for (int k = 0; k < d->nb_components; k++)
            if (d->comp[c].plane == d->comp[k].plane && d->comp[c].step != d->comp[k].step) return 0;
    return 1;
}

/* Rotate clockwise by deg (90/180/270), as ffmpeg's autorotate does
 * (transpose=clock, hflip+vflip, transpose=cclock). */
static AVFrame *rotate_frame(const AVFrame *in, int deg) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(in->format);
    AVFrame *out = av_frame_alloc();
    if (!out) return NULL;
    out->format = in->format;
    out->width = deg == 180 ? in->width : in->height;
    out->height = deg == 180 ? in->height : in->width;
    if (av_frame_get_buffer(out, 0) < 0 || av_frame_copy_props(out, in) < 0) {
        av_frame_free(&out);
        return NULL;
    }
    int n_planes = av_pix_fmt_count_planes(in->format);
    for (int p = 0; p < n_planes; p++) {
        int es = 1;
        for (int c = 0; c < d->nb_components; c++)
            if (d->comp[c].plane == p) es = d->comp[c].step;
        int sub = (p == 1 || p == 2) ? d->log2_chroma_w : 0;
        int iw = AV_CEIL_RSHIFT(in->width, sub), ih = AV_CEIL_RSHIFT(in->height, sub);
        int ow = deg == 180 ? iw : ih, oh = deg == 180 ? ih : iw;
        for (int r = 0; r < oh; r++) {
            uint8_t *o = out->data[p] + (ptrdiff_t)r * out->linesize[p];
            for (int c = 0; c < ow; c++) {
                int sr, scol;
                if (deg == 90) sr = ih - 1 - c, scol = r;
                else if (deg == 270) sr = c, scol = iw - 1 - r;
                else sr = ih - 1 - r, scol = iw - 1 - c;
                memcpy(o + (ptrdiff_t)c * es, in->data[p] + (ptrdiff_t)sr * in->linesize[p] + (ptrdiff_t)scol * es,
                       (size_t)es);
            }
        }
    }
    return out;
}

/* The frame as shown: rotated; formats that cannot be rotated in place go
 * through RGB24 first. Returns a new reference. */
static AVFrame *shown_frame(cfp_ctx *ctx, cfp_scaler *sc, const AVFrame *f, int rotation) {
    if (!rotation) return av_frame_clone(f);
    if (rotatable(f->format)) return rotate_frame(f, rotation);
    AVFrame *rgb = av_frame_alloc();
    if (!rgb) return NULL;
    rgb->format = AV_PIX_FMT_RGB24;
    rgb->width = f->width;
    rgb->height = f->height;
    AVFrame *out = NULL;
    if (av_frame_get_buffer(rgb, 1) >= 0 && rgb->linesize[0] == 3 * f->width &&
        !cfp_frame_to_rgb(ctx, sc, f, f->width, f->height, rgb->data[0]))
        out = rotate_frame(rgb, rotation);
    av_frame_free(&rgb);
    return out;
}


/* ---- decoder frame buffers ------------------------------------------------------ */

/* libavcodec's default frame pools zero every new buffer (av_buffer_allocz) on
 * fresh 4 KiB pages: for a 720p H.264 window that is ~40 % of the decode time
 * on these VMs. Frames come instead from huge-page mappings, which the kernel
 * hands out zeroed at ~1/60 of the per-byte fault cost; reused buffers hold
 * earlier pictures, never uninitialised memory. */
typedef struct frame_pool {
    pthread_mutex_t mu;
    AVBufferPool *pool;
    int w, h, fmt;
    int linesize[4];
    size_t offset[4], size;
} frame_pool;

#define HUGE_2M ((size_t)2 << 20)

static void huge_unmap(void *opaque, uint8_t *data) { munmap(data, (size_t)(uintptr_t)opaque); }

static AVBufferRef *huge_alloc(void *opaque, size_t size) {
    size_t len = (size + HUGE_2M - 1) & ~(HUGE_2M - 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (len >= HUGE_2M) madvise(p, len, MADV_HUGEPAGE);
    AVBufferRef *b = av_buffer_create(p, size, huge_unmap, (void *)(uintptr_t)len, 0);
    if (!b) munmap(p, len);
    return b;
}

/* The layout libavcodec's default get_buffer2 would choose (aligned
 * dimensions, 64-byte strides), with all planes in one buffer. */
static int pool_layout(AVCodecContext *dc, frame_pool *fp, const AVFrame *f) {
    int w = f->width, h = f->height, align[AV_NUM_DATA_POINTERS];
    avcodec_align_dimensions2(dc, &w, &h, align);
    int ls[4];
    for (int tries = 0;; tries++) {
        if (tries > 8 || av_image_fill_linesizes(ls, f->format, w) < 0) return -1;
        int unaligned = 0;
        for (int i = 0; i < 4; i++) unaligned |= ls[i] % 64;
        if (!unaligned) break;
        w += w & ~(w - 1);
    }
    ptrdiff_t lsd[4] = {ls[0], ls[1], ls[2], ls[3]};
    size_t sizes[4];
    if (av_image_fill_plane_sizes(sizes, f->format, h, lsd) < 0) return -1;
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        fp->linesize[i] = ls[i];
        fp->offset[i] = off;
        if (sizes[i]) off += (sizes[i] + 16 + 64 + 63) & ~(size_t)63;
    }
    fp->size = off;
    fp->w = f->width;
    fp->h = f->height;
    fp->fmt = f->format;
    return 0;
}

static int get_frame_buffer(AVCodecContext *dc, AVFrame *f, int flags) {
    frame_pool *fp = dc->opaque;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    if (!fp || !d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL) || f->width <= 0 || f->height <= 0)
        return avcodec_default_get_buffer2(dc, f, flags);
    pthread_mutex_lock(&fp->mu);
    if (!fp->pool || fp->w != f->width || fp->h != f->height || fp->fmt != f->format) {
        av_buffer_pool_uninit(&fp->pool); /* buffers still out are freed when released */
        if (pool_layout(dc, fp, f) == 0) fp->pool = av_buffer_pool_init2(fp->size, NULL, huge_alloc, NULL);
    }
    AVBufferRef *b = fp->pool ? av_buffer_pool_get(fp->pool) : NULL;
    int ls[4];
    size_t off[4];
    memcpy(ls, fp->linesize, sizeof ls);
    memcpy(off, fp->offset, sizeof off);
    pthread_mutex_unlock(&fp->mu);
    if (!b) return avcodec_default_get_buffer2(dc, f, flags);
    memset(f->data, 0, sizeof f->data);
    int n = av_pix_fmt_count_planes(f->format);
    for (int i = 0; i < 4; i++) {
        if (i < n || ((d->flags & AV_PIX_FMT_FLAG_PAL) && i == 1)) {
            f->data[i] = b->data + off[i];
            f->linesize[i] = ls[i];
        }
    }
    f->buf[0] = b;
    f->extended_data = f->data;
    return 0;
}

static void frame_pool_free(frame_pool *fp) {
    if (!fp) return;
    av_buffer_pool_uninit(&fp->pool);
    pthread_mutex_destroy(&fp->mu);
    free(fp);
}

/* ---- videos in memory ------------------------------------------------------------- */

static int mem_read(void *opaque, uint8_t *buf, int n) {
    cfp_video *v = opaque;
    size_t left = v->mem_size - v->mem_pos;
    if (!left) return AVERROR_EOF;
    if ((size_t)n > left) n = (int)left;
    memcpy(buf, v->mem + v->mem_pos, (size_t)n);
    v->mem_pos += (size_t)n;
    return n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    cfp_video *v = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)v->mem_size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)v->mem_pos; break;
    case SEEK_END: base = (int64_t)v->mem_size; break;
    default: return AVERROR(EINVAL);
    }
    if (off > INT64_MAX - base || base + off < 0 || (uint64_t)(base + off) > v->mem_size) return AVERROR(EINVAL);
    v->mem_pos = (size_t)(base + off);
    return base + off;
}

/* ---- opening ----------------------------------------------------------------------- */

static int is_image_name(const char *name) {
    static const char *ext[] = {"jpg", "jpeg", "png", "bmp", "ppm", "pgm", "tif", "tiff", "webp"};
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return 0;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0) return 1;
    return 0;
}

/* natural order: digit runs compare as numbers */
static int natural_cmp(const void *pa, const void *pb) {
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0' && isdigit((unsigned char)a[1])) a++;
            while (*b == '0' && isdigit((unsigned char)b[1])) b++;
            size_t la = 0, lb = 0;
            while (isdigit((unsigned char)a[la])) la++;
            while (isdigit((unsigned char)b[lb])) lb++;
            if (la != lb) return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c) return c;
            a += la, b += lb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++, b++;
        }
    }
    return *a ? 1 : *b ? -1 : strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int add_file(cfp_video *v, int *cap, char *name) {
    if (!name) return -1;
    if (v->n_files == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        char **nf = realloc(v->files, (size_t)nc * sizeof *nf);
        if (!nf) {
            free(name);
            return -1;
        }
        v->files = nf;
        *cap = nc;
    }
    v->files[v->n_files++] = name;
    return 0;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static int list_folder(cfp_video *v) {
    DIR *d = opendir(v->path);
    if (!d) return cfp_seterr(v->ctx, CFP_E_IO, "%s: %s", v->path, strerror(errno));
    int cap = 0;
    char **names = NULL;
    int n = 0, ncap = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_image_name(e->d_name)) continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 64;
            char **nn = realloc(names, (size_t)ncap * sizeof *nn);
            if (!nn) {
                rc = -1;
                break;
            }
            names = nn;
        }
        if (!(names[n] = cfp_strdup(e->d_name))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc) {
        if (n) qsort(names, (size_t)n, sizeof *names, natural_cmp);
        for (int i = 0; i < n && !rc; i++) rc = add_file(v, &cap, join(v->path, names[i]));
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc) return cfp_seterr(v->ctx, CFP_E_NOMEM, "out of memory");
    if (!v->n_files)
        return cfp_seterr(v->ctx, CFP_E_ARG, "%s: a folder with no images (jpg, png, bmp, ppm, tif, webp)", v->path);
    return 0;
}

/* "dir/%05d.jpg": exactly one %d / %0Nd field; %% allowed. */
static int pattern_ok(const char *p) {
    int fields = 0;
    for (const char *q = p; *q; q++) {
        if (*q != '%') continue;
        if (q[1] == '%') {
            q++;
            continue;
        }
        q++;
        if (*q == '0') q++;
        int digits = 0;
        while (isdigit((unsigned char)*q)) q++, digits++;
        if (digits > 2 || *q != 'd') return 0;
        fields++;
    }
    return fields == 1;
}

static int list_pattern(cfp_video *v) {
    if (!pattern_ok(v->path))
        return cfp_seterr(v->ctx, CFP_E_ARG, "%s: a frame pattern needs exactly one %%d or %%0Nd field", v->path);
    char buf[4096];
    struct stat sb;
    int first = -1;
    for (int i = 0; i <= 4 && first < 0; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, sizeof buf, v->path, i);
#pragma GCC diagnostic pop
        if (stat(buf, &sb) == 0) first = i;
    }
    if (first < 0) return cfp_seterr(v->ctx, CFP_E_IO, "%s: no file matches the pattern (tried numbers 0 to 4)", v->path);
    int cap = 0;
    for (int i = first; i < first + 10000000; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        int k = snprintf(buf, sizeof buf, v->path, i);
#pragma GCC diagnostic pop
        if (k < 0 || (size_t)k >= sizeof buf || stat(buf, &sb) != 0) break;
        if (add_file(v, &cap, cfp_strdup(buf))) return cfp_seterr(v->ctx, CFP_E_NOMEM, "out of memory");
    }
    return 0;
}

/* Decode the single image in file into a new frame. */
static int decode_image(cfp_video *v, const char *file, AVFrame **out) {
    AVFormatContext *f = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    int ret, rc = 0;
    *out = NULL;
    if (!pkt || !fr) {
        rc = cfp_seterr(v->ctx, CFP_E_NOMEM, "out of memory");
        goto done;
    }
    if ((ret = avformat_open_input(&f, file, NULL, NULL)) < 0) {
        rc = av_fail(v->ctx, file, ret, "open");
        goto done;
    }
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(f, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (si < 0 || !codec) {
        rc = cfp_seterr(v->ctx, CFP_E_PARSE, "%s: not an image FFmpeg can decode", file);
        goto done;
    }
    if (!(dec = avcodec_alloc_context3(codec)) || avcodec_parameters_to_context(dec, f->streams[si]->codecpar) < 0 ||
        avcodec_open2(dec, codec, NULL) < 0) {
        rc = cfp_seterr(v->ctx, CFP_E_UNSUPPORTED, "%s: cannot open the %s decoder", file, codec->name);
        goto done;
    }
    snprintf(v->codec, sizeof v->codec, "%s", codec->name);
    int got = 0;
    while (!got && (ret = av_read_frame(f, pkt)) >= 0) {
        if (pkt->stream_index == si && avcodec_send_packet(dec, pkt) >= 0) got = avcodec_receive_frame(dec, fr) == 0;
        av_packet_unref(pkt);
    }
    if (!got && avcodec_send_packet(dec, NULL) >= 0) got = avcodec_receive_frame(dec, fr) == 0;
    if (!got) {
        rc = cfp_seterr(v->ctx, CFP_E_PARSE, "%s: no image could be decoded", file);
        goto done;
    }
    *out = fr;
    fr = NULL;
done:
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&f);
    return rc;
}

static int open_frames(cfp_video *v, int is_dir) {
    int rc = is_dir ? list_folder(v) : list_pattern(v);
    if (rc) return rc;
    AVFrame *f;
    if ((rc = decode_image(v, v->files[0], &f))) return rc;
    v->info.width = f->width;
    v->info.height = f->height;
    snprintf(v->pix_fmt, sizeof v->pix_fmt, "%s", av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?");
    av_frame_free(&f);
    v->info.fps = FOLDER_FPS;
    v->info.n_frames = v->n_files;
    v->info.duration = v->n_files / FOLDER_FPS;
    v->info.format = "frames";
    return 0;
}

static int open_file(cfp_video *v) {
    int ret;
    const char *path = v->path;
    if (v->mem) {
        enum { IO_BUF = 1 << 16 };
        uint8_t *buf = av_malloc(IO_BUF);
        if (!buf || !(v->fmt = avformat_alloc_context()) ||
            !(v->mem_io = avio_alloc_context(buf, IO_BUF, 0, v, mem_read, NULL, mem_seek))) {
            if (!v->mem_io) av_free(buf);
            return cfp_seterr(v->ctx, CFP_E_NOMEM, "out of memory");
        }
        v->fmt->pb = v->mem_io;
        v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    if ((ret = avformat_open_input(&v->fmt, v->mem ? NULL : path, NULL, NULL)) < 0)
        return av_fail(v->ctx, path, ret, "open");
    if ((ret = avformat_find_stream_info(v->fmt, NULL)) < 0) return av_fail(v->ctx, path, ret, "reading stream info");
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (si == AVERROR_DECODER_NOT_FOUND)
        return cfp_seterr(v->ctx, CFP_E_UNSUPPORTED, "%s: no decoder for its video codec (%s)", path,
                          avcodec_get_name(v->fmt->streams[av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)]
                                               ->codecpar->codec_id));
    if (si < 0 || !codec) return cfp_seterr(v->ctx, CFP_E_PARSE, "%s: no video stream", path);
    v->st = v->fmt->streams[si];
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != si) v->fmt->streams[i]->discard = AVDISCARD_ALL;
    if (!(v->dec = avcodec_alloc_context3(codec))) return cfp_seterr(v->ctx, CFP_E_NOMEM, "out of memory");
    if ((ret = avcodec_parameters_to_context(v->dec, v->st->codecpar)) < 0) return av_fail(v->ctx, path, ret, "decoder");
    v->dec->thread_count = 0; /* one per core */
    if ((codec->capabilities & AV_CODEC_CAP_DR1) && (v->pool = calloc(1, sizeof *v->pool))) {
        pthread_mutex_init(&v->pool->mu, NULL);
        v->dec->opaque = v->pool;
        v->dec->get_buffer2 = get_frame_buffer;
    }
    /* report damaged data instead of concealing it: after a seek, damage means
     * the keyframe was no random-access point (see sample_file) */
    /* Not for the H.263 family: libavcodec 59 aborts on some damaged frames
     * there when AV_EF_EXPLODE is set (av_assert0(frame->buf[0]) in
     * decode.c; `ffmpeg -err_detect explode` does the same). The video fuzzer
     * found it: fuzz/regress/video-mpeg4-explode-abort.mkv. Damage in these
     * codecs still shows as AV_FRAME_FLAG_CORRUPT. */
    switch (codec->id) {
    case AV_CODEC_ID_MPEG4: case AV_CODEC_ID_H263: case AV_CODEC_ID_H263P: case AV_CODEC_ID_H263I:
    case AV_CODEC_ID_MSMPEG4V1: case AV_CODEC_ID_MSMPEG4V2: case AV_CODEC_ID_MSMPEG4V3:
    case AV_CODEC_ID_WMV1: case AV_CODEC_ID_WMV2: case AV_CODEC_ID_FLV1: case AV_CODEC_ID_RV10: case AV_CODEC_ID_RV20:
        break;
    default:
        v->dec->err_recognition |= AV_EF_EXPLODE;
    }
    v->dec->pkt_timebase = v->st->time_base;
    if ((ret = avcodec_open2(v->dec, codec, NULL)) < 0) return av_fail(v->ctx, path, ret, "opening the decoder");
    if (!(v->pkt = av_packet_alloc()) || !(v->frame = av_frame_alloc()))
        return cfp_seterr(v->ctx, CFP_E_NOMEM, "out of memory");
    snprintf(v->codec, sizeof v->codec, "%s", codec->name);
    const char *pf = av_get_pix_fmt_name(v->dec->pix_fmt);
    snprintf(v->pix_fmt, sizeof v->pix_fmt, "%s", pf ? pf : "?");
    v->tb = av_q2d(v->st->time_base);
    v->start_pts = v->st->start_time != AV_NOPTS_VALUE ? v->st->start_time : 0;

    AVRational fr = v->st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = v->st->r_frame_rate;
    double fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    v->info.fps = fps > 0 && fps < 1000 ? fps : 25;
    if (v->st->duration != AV_NOPTS_VALUE && v->st->duration > 0) v->info.duration = v->st->duration * v->tb;
    else if (v->fmt->duration > 0) v->info.duration = v->fmt->duration / (double)AV_TIME_BASE;
    v->info.n_frames = v->st->nb_frames > 0 ? v->st->nb_frames : (int64_t)llround(v->info.duration * v->info.fps);
    v->info.format = v->fmt->iformat->name;

    size_t sd_size = 0;
    const uint8_t *sd = av_stream_get_side_data(v->st, AV_PKT_DATA_DISPLAYMATRIX, &sd_size);
    if (sd && sd_size >= 9 * sizeof(int32_t)) {
        double theta = -round(av_display_rotation_get((const int32_t *)sd));
        if (isfinite(theta)) {
            theta -= 360 * floor(theta / 360 + 0.9 / 360);
            if (fabs(theta - 90) < 1) v->info.rotation = 90;
            else if (fabs(theta - 180) < 1) v->info.rotation = 180;
            else if (fabs(theta - 270) < 1) v->info.rotation = 270;
        }
    }
    int w = v->st->codecpar->width, h = v->st->codecpar->height;
    if (w <= 0 || h <= 0) return cfp_seterr(v->ctx, CFP_E_PARSE, "%s: the video stream has no frame size", path);
    v->info.width = v->info.rotation % 180 ? h : w;
    v->info.height = v->info.rotation % 180 ? w : h;
    return 0;
}

/* A handle named `name` (a path, or a name for messages), or NULL. */
static cfp_video *video_new(cfp_ctx *ctx, const char *name) {
    pthread_once(&log_once, quiet_ffmpeg);
    cfp_video *v = calloc(1, sizeof *v);
    if (!v || !(v->path = cfp_strdup(name))) {
        free(v);
        cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        return NULL;
    }
    v->ctx = ctx;
    return v;
}

/* After opening with status rc: hand the video out, or close it. */
static int video_finish(cfp_video *v, int rc, cfp_video **out) {
    if (rc) {
        cfp_video_close(v);
        return rc;
    }
    v->info.codec = v->codec;
    v->info.pix_fmt = v->pix_fmt;
    *out = v;
    return 0;
}

int cfp_video_open(cfp_ctx *ctx, const char *path, cfp_video **out) {
    *out = NULL;
    if (!path || !*path) return cfp_seterr(ctx, CFP_E_ARG, "no video given");
    cfp_video *v = video_new(ctx, path);
    if (!v) return CFP_E_NOMEM;
    struct stat sb;
    int rc;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) rc = open_frames(v, 1);
    else if (strchr(path, '%') && stat(path, &sb) != 0) rc = open_frames(v, 0);
    else if (stat(path, &sb) != 0) rc = cfp_seterr(ctx, CFP_E_IO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) rc = cfp_seterr(ctx, CFP_E_IO, "%s: not a regular file", path);
    else if (sb.st_size == 0) rc = cfp_seterr(ctx, CFP_E_PARSE, "%s: empty file", path);
    else rc = open_file(v);
    return video_finish(v, rc, out);
}

int cfp_video_open_mem(cfp_ctx *ctx, const void *data, size_t size, const char *name, cfp_video **out) {
    *out = NULL;
    if (!name || !*name) name = "(memory)";
    if (!data || !size) return cfp_seterr(ctx, CFP_E_PARSE, "%s: empty video", name);
    cfp_video *v = video_new(ctx, name);
    if (!v) return CFP_E_NOMEM;
    v->mem = data;
    v->mem_size = size;
    return video_finish(v, open_file(v), out);
}

const cfp_video_info *cfp_video_get_info(const cfp_video *v) { return &v->info; }

void cfp_video_close(cfp_video *v) {
    if (!v) return;
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    if (v->mem_io) av_freep(&v->mem_io->buffer);
    avio_context_free(&v->mem_io);
    frame_pool_free(v->pool);
    for (int i = 0; i < v->n_files; i++) free(v->files[i]);
    free(v->files);
    free(v->path);
    free(v);
}

/* ---- the clip ----------------------------------------------------------------------- */

void cfp_sampling_init(cfp_sampling *s) {
    memset(s, 0, sizeof *s);
    s->start_frame = -1;
    s->frames = 16;
    s->stride = 1;
}

void cfp_clip_free(cfp_clip *c) {
    if (!c) return;
    for (int i = 0; i < c->n_uniq; i++) {
        av_frame_free(&c->uniq[i]);
        free(c->rgb[i]);
    }
    for (int i = 0; i < 2; i++) {
        cfp_tensor_free(&c->tensors[i]);
        free(c->tensor_frames[i]);
    }
    cfp_scaler_free(&c->scaler);
    free(c->uniq);
    free(c->rgb);
    free(c->map);
    free(c->time);
    free(c->index);
    free(c);
}

static cfp_clip *clip_new(int n) {
    cfp_clip *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n = n;
    c->uniq = calloc((size_t)n, sizeof *c->uniq);
    c->rgb = calloc((size_t)n, sizeof *c->rgb);
    c->map = calloc((size_t)n, sizeof *c->map);
    c->time = calloc((size_t)n, sizeof *c->time);
    c->index = calloc((size_t)n, sizeof *c->index);
    if (!c->uniq || !c->rgb || !c->map || !c->time || !c->index) {
        cfp_clip_free(c);
        return NULL;
    }
    return c;
}

/* Sampling state over decoded frames in presentation order. */
typedef struct {
    cfp_video *v;
    cfp_clip *c;
    const double *targets;
    int T, cur;
    double half;      /* half a frame: a frame "shows" at a target within this */
    AVFrame *held;    /* the latest frame not yet known to be past the next target */
    double held_t;
    int held_uniq;    /* its slot in c->uniq once assigned, else -1 */
    int n_seen;
    int landed_late;  /* the first frame after a seek was already past the target */
} sampler;

static int assign(sampler *s, const AVFrame *f, double t, int *slot) {
    cfp_clip *c = s->c;
    if (*slot < 0) {
        AVFrame *shown = shown_frame(s->v->ctx, &c->scaler, f, s->v->info.rotation);
        if (!shown) return cfp_seterr(s->v->ctx, CFP_E_NOMEM, "out of memory");
        *slot = c->n_uniq;
        c->uniq[c->n_uniq++] = shown;
    }
    c->map[s->cur] = *slot;
    c->time[s->cur] = t;
    c->index[s->cur] = (int64_t)llround(t * s->v->info.fps);
    s->cur++;
    return 0;
}

/* One decoded frame at time t: every target it is past gets the held frame. */
static int on_frame(sampler *s, AVFrame *f, double t, int after_seek) {
    s->n_seen++;
    /* a frame exactly half a frame after a target belongs to the next slot
     * (ffmpeg's fps filter rounds half away from zero) */
    while (s->cur < s->T && t > s->targets[s->cur] + s->half - 1e-9) {
        if (!s->held) {
            if (after_seek) {
                s->landed_late = 1;
                return 0;
            }
            int slot = -1; /* the target is before the first frame: the first frame shows */
            if (assign(s, f, t, &slot)) return -1;
            if (!(s->held = av_frame_clone(f))) return cfp_seterr(s->v->ctx, CFP_E_NOMEM, "out of memory");
            s->held_t = t;
            s->held_uniq = slot;
            continue;
        }
        if (assign(s, s->held, s->held_t, &s->held_uniq)) return -1;
    }
    if (s->cur == s->T) return 0;
    av_frame_free(&s->held);
    if (!(s->held = av_frame_clone(f))) return cfp_seterr(s->v->ctx, CFP_E_NOMEM, "out of memory");
    s->held_t = t;
    s->held_uniq = -1;
    return 0;
}

static double frame_time(cfp_video *v, const AVFrame *f, double prev) {
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) return prev + 1.0 / v->info.fps;
    return (double)(ts - v->start_pts) * v->tb;
}

static int seek_to(cfp_video *v, double t) {
    int64_t ts = v->start_pts + (int64_t)floor(t / v->tb);
    if (t <= 0) ts = v->start_pts;
    int ret = av_seek_frame(v->fmt, v->st->index, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0 && t <= 0) ret = avformat_seek_file(v->fmt, -1, INT64_MIN, 0, 0, 0);
    avcodec_flush_buffers(v->dec);
    return ret;
}

/* Whether seeking to t skips frames: a keyframe after `now` and not after t. */
static int seek_pays(cfp_video *v, double now, double t) {
    if (t - now < 4.0 / v->info.fps + 0.25) return 0;
    if (avformat_index_get_entries_count(v->st) > 0) {
        const AVIndexEntry *e = avformat_index_get_entry_from_timestamp(
            v->st, v->start_pts + (int64_t)floor(t / v->tb), AVSEEK_FLAG_BACKWARD);
        return e && (e->timestamp - v->start_pts) * v->tb > now + 1e-6;
    }
    return t - now > 10;
}

/* The time of the last keyframe at or before t, from the first keyframe
 * packet after a backward seek to t (its pts: with B-frames, the index's
 * timestamps are decoding times); t itself when there is none. */
static double keyframe_at(cfp_video *v, double t) {
    double kt = t;
    AVPacket *pkt = av_packet_alloc();
    if (!pkt || seek_to(v, t) < 0) {
        av_packet_free(&pkt);
        return t;
    }
    for (int n = 0; n < 4096 && av_read_frame(v->fmt, pkt) >= 0; n++) {
        int mine = pkt->stream_index == v->st->index, key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        av_packet_unref(pkt);
        if (!mine || !key || ts == AV_NOPTS_VALUE) continue;
        double k = (double)(ts - v->start_pts) * v->tb;
        if (k <= t + 1e-9 && k >= 0) kt = k;
        break;
    }
    av_packet_free(&pkt);
    return kt;
}

static int sample_file(cfp_video *v, const double *targets, int T, cfp_clip *c, int at_keyframe) {
    sampler s = {.v = v, .c = c, .targets = targets, .T = T, .half = 0.5 / v->info.fps, .held_uniq = -1};
    cfp_ctx *ctx = v->ctx;
    /* B-frames can show before their keyframe's dts; a window that starts on
     * a keyframe (--keyframe) is sought exactly */
    const double margin = at_keyframe ? 0 : 3.0 / v->info.fps;
    double back = 0; /* how far before the target to seek: grows when a seek lands late */
    int rc = 0, ret, draining = 0, after_seek = 0, restarted = 0, n_bad = 0, bad_at_seek = 0, n_skips = 0;
    double last_t = -1e300;
    /* always seek: it also rewinds after a previous call */
    after_seek = targets[0] > margin;
    int sought = after_seek;
    double seek_pos = after_seek ? targets[0] - back : 0; /* where the decoder last started (0: the beginning) */
    if (seek_to(v, seek_pos) < 0 && after_seek) {
        after_seek = sought = 0;
        seek_pos = 0;
        seek_to(v, 0);
    }
again:
    while (s.cur < T) {
        if (!draining) {
            ret = av_read_frame(v->fmt, v->pkt);
            if (ret == AVERROR(EAGAIN)) continue;
            if (ret < 0) {
                if (ret != AVERROR_EOF && ret != AVERROR(EIO) && ret != AVERROR_INVALIDDATA) {
                    rc = av_fail(ctx, v->path, ret, "reading");
                    break;
                }
                draining = 1;
                avcodec_send_packet(v->dec, NULL);
            } else if (v->pkt->stream_index != v->st->index) {
                av_packet_unref(v->pkt);
                continue;
            } else {
                /* before the window, skip frames nothing refers to (about half of an H.264 GOP) */
                int64_t pts = v->pkt->pts != AV_NOPTS_VALUE ? v->pkt->pts : v->pkt->dts;
                double pt = pts != AV_NOPTS_VALUE ? (pts - v->start_pts) * v->tb : 1e300;
                v->dec->skip_frame = pt < targets[s.cur] - (0.25 + 4 * margin) ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
                ret = avcodec_send_packet(v->dec, v->pkt);
                av_packet_unref(v->pkt);
                if (ret == AVERROR_INVALIDDATA) n_bad++; /* corrupt data is skipped, as ffmpeg does */
                else if (ret < 0 && ret != AVERROR(EAGAIN)) {
                    rc = av_fail(ctx, v->path, ret, "decoding");
                    break;
                }
            }
        }
        int got_any = 0;
        while ((ret = avcodec_receive_frame(v->dec, v->frame)) == 0) {
            got_any = 1;
            double t = frame_time(v, v->frame, last_t);
            last_t = t;
            if (seek_pos > 0 && (n_bad > bad_at_seek || (v->frame->flags & AV_FRAME_FLAG_CORRUPT))) {
                /* the "keyframe" the index named is no random-access point
                 * (an I-frame whose followers refer past it): decode from
                 * further back */
                s.landed_late = 1;
                av_frame_unref(v->frame);
                break;
            }
            rc = on_frame(&s, v->frame, t, after_seek);
            av_frame_unref(v->frame);
            if (rc) break;
            if (s.landed_late) break;
            after_seek = 0;
            if (s.cur == T) break;
        }
        if (rc || s.cur == T) break;
    reseek:
        if (s.landed_late) {
            /* the keyframe found was after the target: seek further back */
            s.landed_late = 0;
            back = back * 4 + margin + 1;
            double to = targets[s.cur] - back;
            after_seek = to > 0;
            seek_pos = after_seek ? to : 0;
            seek_to(v, seek_pos);
            bad_at_seek = n_bad;
            av_frame_free(&s.held);
            draining = 0;
            continue;
        }
        if (ret == AVERROR_EOF) break;
        if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA) {
            rc = av_fail(ctx, v->path, ret, "decoding");
            break;
        }
        if (ret == AVERROR_INVALIDDATA) n_bad++;
        if (seek_pos > 0 && n_bad > bad_at_seek && !s.landed_late) s.landed_late = 1, got_any = 1;
        if (s.landed_late) goto reseek;
        if (draining && !got_any && ret != AVERROR(EAGAIN)) break;
        /* a far-away next target (uniform sampling, big strides): seek if a keyframe is in between */
        /* at most a few per target: with a lying index a seek can land back
         * before the frame held, and the next one again (the fuzzer's
         * fuzz/regress/video-avi-seek-loop.avi seeked forever) */
        if (!draining && got_any && s.held && s.cur < T && n_skips < 2 * T + 8 &&
            seek_pays(v, s.held_t, targets[s.cur] - margin) && ++n_skips) {
            if (seek_to(v, targets[s.cur] - margin) >= 0) {
                /* the held frame stays the candidate until a later one arrives */
                after_seek = 0;
                seek_pos = targets[s.cur] - margin;
                bad_at_seek = n_bad;
            }
        }
    }
    if (!rc && s.cur < T && !s.held && s.n_seen == 0 && sought && !restarted) {
        /* nothing after the seek point: is the window past the end, or is the video empty? */
        restarted = 1;
        after_seek = draining = 0;
        seek_pos = 0;
        seek_to(v, 0);
        goto again;
    }
    if (!rc && s.cur < T) {
        if (!s.held) {
            rc = s.n_seen ? cfp_seterr(ctx, CFP_E_ARG, "%s: no frame at or after %.3f s", v->path, targets[s.cur])
                          : cfp_seterr(ctx, CFP_E_PARSE, "%s: no video frame could be decoded%s", v->path,
                                       n_bad ? " (corrupt data)" : "");
        } else if (s.cur == 0 && targets[0] > s.held_t + s.half) {
            rc = cfp_seterr(ctx, CFP_E_ARG, "%s: the clip starts at %.3f s, after the last frame (%.3f s)", v->path,
                            targets[0], s.held_t);
        } else {
            while (s.cur < T) {
                if (targets[s.cur] > s.held_t + s.half) c->n_repeated++;
                if ((rc = assign(&s, s.held, s.held_t, &s.held_uniq))) break;
            }
        }
    }
    av_frame_free(&s.held);
    av_frame_unref(v->frame);
    return rc;
}

static int sample_frames(cfp_video *v, const double *targets, int T, cfp_clip *c) {
    int64_t last = -1;
    for (int i = 0; i < T; i++) {
        int64_t k = (int64_t)floor(targets[i] * FOLDER_FPS + 0.5);
        if (k < 0) k = 0;
        if (i == 0 && k >= v->n_files)
            return cfp_seterr(v->ctx, CFP_E_ARG, "%s: the clip starts at frame %lld, after the last frame (%d)", v->path,
                              (long long)k, v->n_files - 1);
        if (k >= v->n_files) {
            k = v->n_files - 1;
            c->n_repeated++;
        }
        if (k != last) {
            AVFrame *f;
            int rc = decode_image(v, v->files[k], &f);
            if (rc) return rc;
            if (c->n_uniq && (f->width != c->uniq[0]->width || f->height != c->uniq[0]->height)) {
                rc = cfp_seterr(v->ctx, CFP_E_SHAPE, "%s: %dx%d, but the first frame is %dx%d", v->files[k], f->width,
                                f->height, c->uniq[0]->width, c->uniq[0]->height);
                av_frame_free(&f);
                return rc;
            }
            c->uniq[c->n_uniq++] = f;
            last = k;
        }
        c->map[i] = c->n_uniq - 1;
        c->time[i] = k / FOLDER_FPS;
        c->index[i] = k;
    }
    return 0;
}

int cfp_video_sample(cfp_video *v, const cfp_sampling *s, cfp_clip **out) {
    cfp_ctx *ctx = v->ctx;
    *out = NULL;
    if (s->frames < 1 || s->frames > MAX_FRAMES)
        return cfp_seterr(ctx, CFP_E_ARG, "clip length %d is not in 1..%d", s->frames, MAX_FRAMES);
    if (s->stride < 1 || s->stride > 100000) return cfp_seterr(ctx, CFP_E_ARG, "frame stride %d is not in 1..100000", s->stride);
    if (!(s->start >= 0 && s->start < 1e9)) return cfp_seterr(ctx, CFP_E_ARG, "start %g s is not a valid time", s->start);
    const int T = s->frames;
    const double fps = v->info.fps;
    int at_keyframe = 0;
    double *targets = malloc((size_t)T * sizeof *targets);
    cfp_clip *c = clip_new(T);
    if (!targets || !c) {
        free(targets);
        cfp_clip_free(c);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    if (s->uniform) {
        int64_t n = v->info.n_frames > 0 ? v->info.n_frames : 1;
        for (int i = 0; i < T; i++) targets[i] = (double)((2 * (int64_t)i + 1) * n / (2 * (int64_t)T)) / fps;
    } else {
        double t0 = s->start_frame >= 0 ? s->start_frame / fps : s->start;
        if (s->keyframe && !v->files && t0 > 0) {
            double k = keyframe_at(v, t0);
            at_keyframe = k < t0 || k == t0;
            t0 = k;
        }
        for (int i = 0; i < T; i++) targets[i] = t0 + (double)i * s->stride / fps;
    }
    int rc = v->files ? sample_frames(v, targets, T, c) : sample_file(v, targets, T, c, at_keyframe);
    free(targets);
    if (!rc) {
        /* full-resolution RGB is made when asked for (cfp_clip_frame): the
         * model input is resized from the decoded frames directly */
        c->width = c->uniq[0]->width;
        c->height = c->uniq[0]->height;
        c->ctx = ctx;
    }
    if (rc) {
        cfp_clip_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int cfp_clip_n_frames(const cfp_clip *c) { return c->n; }

const uint8_t *cfp_clip_frame(const cfp_clip *cc, int i, int *width, int *height) {
    cfp_clip *c = (cfp_clip *)cc; /* the RGB cache is filled on first use; clips are always heap objects */
    if (i < 0 || i >= c->n) return NULL;
    if (width) *width = c->width;
    if (height) *height = c->height;
    const int u = c->map[i];
    if (!c->rgb[u]) {
        /* a frame whose size changed mid-stream is scaled to the clip's size */
        uint8_t *p = malloc((size_t)c->width * c->height * 3);
        if (!p) {
            cfp_seterr(c->ctx, CFP_E_NOMEM, "out of memory for a %dx%d frame", c->width, c->height);
            return NULL;
        }
        if (cfp_frame_to_rgb(c->ctx, &c->scaler, c->uniq[u], c->width, c->height, p)) {
            free(p);
            return NULL;
        }
        c->rgb[u] = p;
    }
    return c->rgb[u];
}

double cfp_clip_frame_time(const cfp_clip *c, int i) { return i >= 0 && i < c->n ? c->time[i] : 0; }
int64_t cfp_clip_frame_index(const cfp_clip *c, int i) { return i >= 0 && i < c->n ? c->index[i] : -1; }
int cfp_clip_n_repeated(const cfp_clip *c) { return c->n_repeated; }
