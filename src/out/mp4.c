/* MP4 writer (libavformat / libavcodec / libswscale): H.264 through libx264,
 * or MPEG-4 Part 2 when this FFmpeg has no libx264; +faststart. */
#include "out_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

/* As in video.c: errors come back through cfp_errmsg, so FFmpeg's log (and
 * libx264's statistics) stay quiet unless CFP_FFMPEG_LOG=1. */
static void quiet_log(void) {
    const char *e = getenv("CFP_FFMPEG_LOG");
    if (!e || !*e || strcmp(e, "0") == 0) av_log_set_level(AV_LOG_QUIET);
}

static const AVCodec *find_mpeg4(void) {
    const AVCodec *c = avcodec_find_encoder_by_name("mpeg4");
    return c ? c : avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

const char *cfp_mp4_encoder_name(void) {
    if (avcodec_find_encoder_by_name("libx264")) return "libx264";
    if (find_mpeg4()) return "mpeg4";
    return NULL;
}

typedef struct {
    cfp_ctx *ctx;
    const char *path;
    AVFormatContext *oc;
    AVStream *st;
    AVCodecContext *c;
    AVPacket *pkt;
} enc_state;

static int av_fail(enc_state *s, const char *what, int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, buf, sizeof buf);
    return cfp_seterr(s->ctx, CFP_E_IO, "%s: %s: %s", s->path, what, buf);
}

/* Sends frame (NULL: drain) and writes every packet the encoder returns. */
static int encode(enc_state *s, AVFrame *frame) {
    int ret = avcodec_send_frame(s->c, frame);
    if (ret < 0) return av_fail(s, "encoding failed", ret);
    for (;;) {
        ret = avcodec_receive_packet(s->c, s->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return CFP_OK;
        if (ret < 0) return av_fail(s, "encoding failed", ret);
        if (s->pkt->duration <= 0) s->pkt->duration = 1;
        av_packet_rescale_ts(s->pkt, s->c->time_base, s->st->time_base);
        s->pkt->stream_index = s->st->index;
        ret = av_interleaved_write_frame(s->oc, s->pkt); /* takes the packet's data */
        if (ret < 0) return av_fail(s, "writing failed", ret);
    }
}

int cfp_write_mp4(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h, double fps) {
    return cfp_write_mp4_encoder(ctx, path, frames, n, w, h, fps, NULL);
}

int cfp_write_mp4_encoder(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h,
                          double fps, const char *encoder) {
    int rc = cfp_out_check(ctx, "mp4", path, frames, n, w, h, fps, 1);
    if (rc) return rc;
    pthread_once(&log_once, quiet_log);

    const AVCodec *codec;
    if (!encoder)
        codec = avcodec_find_encoder_by_name("libx264"), codec = codec ? codec : find_mpeg4();
    else if (!strcmp(encoder, "libx264"))
        codec = avcodec_find_encoder_by_name("libx264");
    else if (!strcmp(encoder, "mpeg4"))
        codec = find_mpeg4();
    else
        return cfp_seterr(ctx, CFP_E_ARG, "%s: unknown encoder '%s' (libx264 or mpeg4)", path, encoder);
    if (!codec)
        return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "%s: this FFmpeg has no %s encoder", path,
                          encoder ? encoder : "H.264 (libx264) or MPEG-4");
    const bool x264 = !strcmp(codec->name, "libx264");

    /* yuv420p: even sizes; odd ones get the last column / row repeated */
    const int W = (w + 1) & ~1, H = (h + 1) & ~1;
    const AVRational rate = av_d2q(fps, x264 ? 100000 : 65535); /* MPEG-4 Part 2: 16-bit time base */
    if (rate.num <= 0 || rate.den <= 0)
        return cfp_seterr(ctx, CFP_E_ARG, "%s: invalid frame rate %g", path, fps);

    char tmp[4096];
    int fd;
    if ((rc = cfp_out_tmp_create(ctx, path, tmp, sizeof tmp, &fd))) return rc;
    close(fd); /* reopened (and truncated) by avio_open below */

    enc_state s = {ctx, path, NULL, NULL, NULL, NULL};
    AVFrame *frame = NULL;
    struct SwsContext *sws = NULL;
    uint8_t *pad = NULL;
    AVDictionary *mux_opts = NULL;
    int ret;

    if ((ret = avformat_alloc_output_context2(&s.oc, NULL, "mp4", tmp)) < 0 || !s.oc) {
        rc = av_fail(&s, "cannot create the MP4 muxer", ret < 0 ? ret : AVERROR(ENOMEM));
        goto out;
    }
    s.st = avformat_new_stream(s.oc, NULL);
    s.c = avcodec_alloc_context3(codec);
    s.pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (!s.st || !s.c || !s.pkt || !frame) goto nomem;

    AVCodecContext *c = s.c;
    c->width = W;
    c->height = H;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = av_inv_q(rate);
    c->framerate = rate;
    c->sample_aspect_ratio = (AVRational){1, 1};
    c->gop_size = (int)fmin(fmax(lrint(2 * fps), 1), 600);
    /* BT.709 throughout, as swscale converts below; all three tags set so
     * that the MP4 muxer also writes a colr box (MPEG-4 Part 2 has no VUI) */
    c->colorspace = AVCOL_SPC_BT709;
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->color_range = AVCOL_RANGE_MPEG;
    int threads = ctx ? cfp_ctx_threads(ctx) : 0;
    c->thread_count = threads > 16 ? 16 : threads < 0 ? 0 : threads;
    if (x264) {
        av_opt_set(c->priv_data, "preset", "veryfast", 0); /* short clips: speed over a few bytes */
        av_opt_set(c->priv_data, "crf", "18", 0);
        av_opt_set(c->priv_data, "profile", "high", 0);
    } else {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * 3;
        c->max_b_frames = 0;
    }
    if (s.oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(c, codec, NULL)) < 0) {
        char what[64];
        snprintf(what, sizeof what, "cannot open the %s encoder", codec->name);
        rc = av_fail(&s, what, ret);
        goto out;
    }
    if ((ret = avcodec_parameters_from_context(s.st->codecpar, c)) < 0) {
        rc = av_fail(&s, "encoder parameters", ret);
        goto out;
    }
    s.st->time_base = c->time_base;
    s.st->avg_frame_rate = rate;
    s.st->sample_aspect_ratio = c->sample_aspect_ratio;

    if ((ret = avio_open(&s.oc->pb, tmp, AVIO_FLAG_WRITE)) < 0) {
        rc = av_fail(&s, "cannot open", ret);
        goto out;
    }
    av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(s.oc, &mux_opts);
    if (ret < 0) {
        rc = av_fail(&s, "cannot write the MP4 header", ret);
        goto out;
    }

    frame->format = c->pix_fmt;
    frame->width = W;
    frame->height = H;
    if (av_frame_get_buffer(frame, 0) < 0) goto nomem;
    sws = sws_getContext(W, H, AV_PIX_FMT_RGB24, W, H, AV_PIX_FMT_YUV420P,
                         SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (!sws) goto nomem;
    {
        const int *coef = sws_getCoefficients(SWS_CS_ITU709);
        sws_setColorspaceDetails(sws, coef, 1, coef, 0, 0, 1 << 16, 1 << 16);
    }
    /* libswscale's SIMD loads read up to 16 bytes past the last pixel of the
     * source (valgrind saw it): every frame goes through a buffer with room
     * to spare, which also pads odd sizes to even ones */
    pad = calloc((size_t)W * H * 3 + 64, 1);
    if (!pad) goto nomem;
    const size_t row = (size_t)w * 3, fbytes = row * (size_t)h;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = frames + (size_t)i * fbytes;
        if (W != w || H != h) {
            for (int y = 0; y < H; y++) {
                uint8_t *d = pad + (size_t)y * W * 3;
                memcpy(d, src + (size_t)(y < h ? y : h - 1) * row, row);
                if (W != w) memcpy(d + row, d + row - 3, 3);
            }
        } else {
            memcpy(pad, src, fbytes);
        }
        src = pad;
        if ((ret = av_frame_make_writable(frame)) < 0) {
            rc = av_fail(&s, "frame buffer", ret);
            goto out;
        }
        const uint8_t *planes[1] = {src};
        const int strides[1] = {W * 3};
        sws_scale(sws, planes, strides, 0, H, frame->data, frame->linesize);
        frame->pts = i;
        if ((rc = encode(&s, frame))) goto out;
    }
    if ((rc = encode(&s, NULL))) goto out;
    if ((ret = av_write_trailer(s.oc)) < 0) {
        rc = av_fail(&s, "cannot finish the MP4 file", ret);
        goto out;
    }
    ret = s.oc->pb->error;
    int cret = avio_closep(&s.oc->pb);
    if (ret < 0 || cret < 0) {
        rc = av_fail(&s, "write failed", ret < 0 ? ret : cret);
        goto out;
    }
    rc = CFP_OK;
    goto out;

nomem:
    rc = cfp_seterr(ctx, CFP_E_NOMEM, "%s: out of memory", path);
out:
    av_dict_free(&mux_opts);
    free(pad);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&s.pkt);
    avcodec_free_context(&s.c);
    if (s.oc) {
        if (s.oc->pb) avio_closep(&s.oc->pb);
        avformat_free_context(s.oc);
    }
    if (rc == CFP_OK) return cfp_out_commit(ctx, tmp, path);
    unlink(tmp);
    return rc;
}
