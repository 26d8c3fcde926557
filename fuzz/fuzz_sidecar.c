/* libFuzzer target: the model sidecar MODEL.onnx.json (src/json.c, then
 * src/preprocess.c's settings), resolved into a preprocessing; and the same
 * bytes as a labels file (src/labels.c). "labels" in a sidecar names files
 * in fuzz/data/ (run from the source tree; FUZZ_DATA_DIR overrides). */
#include "cfp.h"
#include "cfp_video.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cfp_ctx *ctx;
    static const char *dir;
    static int fd = -1;
    if (!ctx) {
        if (cfp_ctx_new(&ctx, 1)) abort();
        dir = getenv("FUZZ_DATA_DIR");
        if (!dir) dir = "fuzz/data";
        fd = memfd_create("labels", 0);
        if (fd < 0) abort();
    }
    cfp_video_settings s;
    cfp_settings_init(&s);
    if (cfp_settings_parse_json(ctx, (const char *)data, size, "fuzz.json", dir, &s) == 0) {
        cfp_preprocess pre;
        int frames = 0, stride = 0;
        cfp_settings_resolve(ctx, &s, NULL, &pre, &frames, &stride);
        for (int i = 0; i < cfp_labels_count(s.labels); i++)
            if (!cfp_labels_get(s.labels, i)) abort();
    } else if (!cfp_errmsg(ctx)[0]) {
        abort();
    }
    cfp_settings_free(&s);
    /* the same bytes as a labels file */
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    cfp_labels *l = NULL;
    if (cfp_labels_load(ctx, path, &l) == 0) {
        for (int i = 0; i < cfp_labels_count(l); i++)
            if (!cfp_labels_get(l, i)) abort();
        cfp_labels_free(l);
    }
    return 0;
}
