/* Decode + preprocess time for one clip: open, sample T frames from START
 * seconds, preprocess with PRESET; repeated, median and min reported.
 * usage: video_decode VIDEO START T PRESET [REPEAT] */
#include "cfp_video.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s VIDEO START T PRESET [REPEAT [keyframe]]\n", argv[0]);
        return 2;
    }
    int reps = argc > 5 ? atoi(argv[5]) : 7;
    if (reps < 1 || reps > 1000) reps = 7;
    double ms[1000], dec[1000];
    cfp_ctx *ctx;
    if (cfp_ctx_new(&ctx, 0)) return 1;
    for (int r = 0; r < reps; r++) {
        cfp_video *v;
        cfp_clip *c;
        cfp_sampling s;
        cfp_preprocess p;
        cfp_sampling_init(&s);
        s.start = atof(argv[2]);
        s.frames = atoi(argv[3]);
        s.keyframe = argc > 6 && strcmp(argv[6], "keyframe") == 0;
        double t0 = now_ms();
        if (cfp_video_open(ctx, argv[1], &v) || cfp_video_sample(v, &s, &c)) {
            fprintf(stderr, "%s\n", cfp_errmsg(ctx));
            return 1;
        }
        double t1 = now_ms();
        if (cfp_preset(ctx, argv[4], &p) || cfp_clip_preprocess(ctx, c, &p)) {
            fprintf(stderr, "%s\n", cfp_errmsg(ctx));
            return 1;
        }
        ms[r] = now_ms() - t0;
        dec[r] = t1 - t0;
        if (r == 0)
            printf("clip: frames %lld..%lld (%.3f..%.3f s) of %s\n", (long long)cfp_clip_frame_index(c, 0),
                   (long long)cfp_clip_frame_index(c, s.frames - 1), cfp_clip_frame_time(c, 0),
                   cfp_clip_frame_time(c, s.frames - 1), argv[1]);
        cfp_clip_free(c);
        cfp_video_close(v);
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp);
    qsort(dec, (size_t)reps, sizeof *dec, cmp);
    printf("decode+preprocess (%s, %s frames from %s s): median %.1f ms, min %.1f ms (decode alone: median %.1f ms), %d runs\n",
           argv[4], argv[3], argv[2], ms[reps / 2], ms[0], dec[reps / 2], reps);
    cfp_ctx_free(ctx);
    return 0;
}
