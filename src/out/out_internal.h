/* Shared by the output writers (src/out/): argument checks and the
 * temporary-file-then-rename protocol. */
#ifndef CFP_OUT_INTERNAL_H
#define CFP_OUT_INTERNAL_H

#include "cfp_internal.h"
#include "cfp_out.h"

#include <stddef.h>

/* Checks path, frames, n, w, h (and fps when check_fps) as documented in
 * cfp_out.h; `what` names the writer in messages ("png", "gif", "mp4"). */
int cfp_out_check(cfp_ctx *ctx, const char *what, const char *path, const void *frames, int n,
                  int w, int h, double fps, int check_fps);

/* Creates a new temporary file next to `path` (O_EXCL, mode 0666 & ~umask)
 * and returns its descriptor in *fd and its name in tmp. CFP_E_IO on error. */
int cfp_out_tmp_create(cfp_ctx *ctx, const char *path, char *tmp, size_t tmp_len, int *fd);

/* Renames tmp over path; on failure removes tmp and sets CFP_E_IO. */
int cfp_out_commit(cfp_ctx *ctx, const char *tmp, const char *path);

#endif
