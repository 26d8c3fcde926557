/* Argument checks and the temporary-file protocol shared by the writers. */
#include "out_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cfp_out_check(cfp_ctx *ctx, const char *what, const char *path, const void *frames, int n,
                  int w, int h, double fps, int check_fps) {
    if (!path || !*path) return cfp_seterr(ctx, CFP_E_ARG, "%s: no output path", what);
    if (!frames) return cfp_seterr(ctx, CFP_E_ARG, "%s: no pixels (NULL)", path);
    if (w < 1 || h < 1) return cfp_seterr(ctx, CFP_E_ARG, "%s: invalid size %dx%d", path, w, h);
    if (n < 1) return cfp_seterr(ctx, CFP_E_ARG, "%s: no frames (n = %d)", path, n);
    if (w > CFP_OUT_MAX_DIM || h > CFP_OUT_MAX_DIM)
        return cfp_seterr(ctx, CFP_E_LIMIT, "%s: size %dx%d exceeds the %d pixel limit", path, w, h,
                          CFP_OUT_MAX_DIM);
    if (n > CFP_OUT_MAX_FRAMES)
        return cfp_seterr(ctx, CFP_E_LIMIT, "%s: %d frames exceed the limit of %d", path, n,
                          CFP_OUT_MAX_FRAMES);
    /* w, h <= 2^14 and n <= 2^20: the product fits in 64 bits; check size_t */
    uint64_t bytes = (uint64_t)n * (uint64_t)w * (uint64_t)h * 3u;
    if (bytes > (uint64_t)(SIZE_MAX / 2))
        return cfp_seterr(ctx, CFP_E_LIMIT, "%s: %d frames of %dx%d are too large", path, n, w, h);
    if (check_fps && (!isfinite(fps) || fps <= 0 || fps > 1000))
        return cfp_seterr(ctx, CFP_E_ARG, "%s: invalid frame rate %g (must be in (0, 1000])", path, fps);
    return CFP_OK;
}

int cfp_out_tmp_create(cfp_ctx *ctx, const char *path, char *tmp, size_t tmp_len, int *fd) {
    static atomic_uint counter;
    *fd = -1;
    for (int tries = 0; tries < 100; tries++) {
        unsigned k = atomic_fetch_add(&counter, 1u);
        if ((size_t)snprintf(tmp, tmp_len, "%s.cfp-tmp-%d-%u", path, (int)getpid(), k) >= tmp_len)
            return cfp_seterr(ctx, CFP_E_ARG, "%s: path too long", path);
        int f = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f >= 0) {
            *fd = f;
            return CFP_OK;
        }
        if (errno != EEXIST) return cfp_seterr(ctx, CFP_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    return cfp_seterr(ctx, CFP_E_IO, "%s: cannot create a temporary file", path);
}

int cfp_out_commit(cfp_ctx *ctx, const char *tmp, const char *path) {
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cfp_seterr(ctx, CFP_E_IO, "%s: cannot rename the finished file: %s", path, strerror(e));
    }
    return CFP_OK;
}
