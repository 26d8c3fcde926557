/* PNG writer (libpng): 8-bit RGB, deterministic bytes. */
#include "out_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    jmp_buf jmp;
    char msg[256];
} png_err;

static void on_error(png_structp png, png_const_charp msg) {
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "libpng error");
    longjmp(e->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* Everything that may fail inside libpng, kept apart from the locals of the
 * caller so that setjmp does not clobber them. Returns 0 or -1 (e->msg). */
static int encode(FILE *fp, const uint8_t *rgb, int w, int h, png_err *e) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, on_error, on_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return -1;
    }
    if (setjmp(e->jmp)) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_user_limits(png, CFP_OUT_MAX_DIM, CFP_OUT_MAX_DIM);
    png_init_io(png, fp);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int cfp_write_png(cfp_ctx *ctx, const char *path, const uint8_t *rgb, int w, int h) {
    int rc = cfp_out_check(ctx, "png", path, rgb, 1, w, h, 0, 0);
    if (rc) return rc;
    char tmp[4096];
    int fd;
    if ((rc = cfp_out_tmp_create(ctx, path, tmp, sizeof tmp, &fd))) return rc;
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
        unlink(tmp);
        return cfp_seterr(ctx, CFP_E_NOMEM, "%s: out of memory", path);
    }
    png_err e;
    memset(&e, 0, sizeof e);
    int bad = encode(fp, rgb, w, h, &e);
    int werr = ferror(fp);
    if (fclose(fp) != 0) werr = 1;
    if (bad || werr) {
        unlink(tmp);
        return cfp_seterr(ctx, CFP_E_IO, "%s: %s", path, bad ? e.msg : "write failed");
    }
    return cfp_out_commit(ctx, tmp, path);
}
