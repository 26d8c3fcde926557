/* Every input the fuzzers (fuzz/) found a bug with, kept in fuzz/regress/ and
 * named by target ("onnx-...", "tensor-...", "sidecar-...", "video-..."), runs
 * here through the very code of its fuzz target (the target files are
 * included, their entry points renamed). Under `make test-asan` this is what
 * catches the bug coming back; the plain suite checks the targeted behaviour
 * of each fix below as well. */
#include "../src/cfp_internal.h"
#include "cfp_video.h"
#include "pbwrite.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_onnx_one
#include "../fuzz/fuzz_onnx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tensor_one
#include "../fuzz/fuzz_tensor.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_sidecar_one
#include "../fuzz/fuzz_sidecar.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_video_one
#include "../fuzz/fuzz_video.c"
#undef LLVMFuzzerTestOneInput

SUITE(fuzz_regress_inputs) {
    char dirpath[1024];
    snprintf(dirpath, sizeof dirpath, "%s/fuzz/regress", cfp_test_root());
    char data_dir[1024];
    snprintf(data_dir, sizeof data_dir, "%s/fuzz/data", cfp_test_root());
    setenv("FUZZ_DATA_DIR", data_dir, 0);
    DIR *d = opendir(dirpath);
    if (!d && cfp_test_wanted("fuzz_regress: fuzz/regress")) {
        cfp_test_result("fuzz_regress: fuzz/regress", 0, "cannot open the folder");
        return;
    }
    if (!d) return;
    static const struct {
        const char *prefix;
        int (*fn)(const uint8_t *, size_t);
    } targets[] = {{"onnx-", fuzz_onnx_one},
                   {"tensor-", fuzz_tensor_one},
                   {"sidecar-", fuzz_sidecar_one},
                   {"video-", fuzz_video_one}};
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char name[512], path[1400];
        snprintf(name, sizeof name, "fuzz_regress: %s", e->d_name);
        if (!cfp_test_wanted(name)) continue;
        snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
        size_t len;
        uint8_t *buf = cfp_test_slurp_alloc(path, &len);
        int found = 0;
        for (size_t t = 0; buf && t < sizeof targets / sizeof *targets; t++)
            if (strncmp(e->d_name, targets[t].prefix, strlen(targets[t].prefix)) == 0) {
                found = 1;
                /* a crash ends the runner; a sanitizer report fails `make test-asan` */
                cfp_test_result(name, targets[t].fn(buf, len) == 0, "the target returned non-zero");
            }
        if (!found) cfp_test_result(name, 0, buf ? "no target has this prefix" : "cannot read the file");
        free(buf);
        n++;
    }
    closedir(d);
    if (cfp_test_wanted("fuzz_regress: fuzz/regress holds inputs"))
        cfp_test_result("fuzz_regress: fuzz/regress holds inputs", n > 0, "no inputs found");
}

/* The model g describes (opset 13), loaded from memory; NULL, and a failed
 * check, when it does not load. */
static cfp_model *load_built(cfp_ctx *ctx, gbuild *g) {
    pbw m = {0};
    gb_model(g, &m, 13);
    cfp_model *model = NULL;
    if (cfp_model_load_mem(ctx, m.b, m.n, "tile.onnx", &model))
        cfp_test_fail_here(__FILE__, __LINE__, "the model does not load: %s", cfp_errmsg(ctx));
    pbw_free(&m);
    return model;
}

/* onnx-tile-empty-arena.onnx: a plan whose computed values are all empty has
 * no activation arena; placing values at NULL + offset was undefined. The
 * output must be there, empty, after a run. */
TEST(fuzz_regress_all_values_empty) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    gbuild g = {0};
    gb_node(&g, "Tile", "tile0", "x,r", "y", NULL);
    gb_input(&g, "x", 2, (int64_t[]){2, 2});
    /* repeats as a graph input: the Tile is not folded at plan time */
    pbw vi = {0}, type = {0}, tt = {0}, shape = {0}, dim = {0};
    pbw_int(&dim, 1, 2);
    pbw_msg(&shape, 1, &dim);
    pbw_int(&tt, 1, CFP_I64);
    pbw_msg(&tt, 2, &shape);
    pbw_msg(&type, 1, &tt);
    pbw_str(&vi, 1, "r");
    pbw_msg(&vi, 2, &type);
    pbw_msg(&g.g, 11, &vi);
    gb_output(&g, "y");
    cfp_model *model = load_built(ctx, &g);
    if (model) {
        float x[4] = {1, 2, 3, 4};
        int64_t r[2] = {0, 3};
        cfp_tensor in[2] = {{.dtype = CFP_F32, .ndim = 2, .dims = {2, 2}, .data = x, .nbytes = sizeof x},
                            {.dtype = CFP_I64, .ndim = 1, .dims = {2}, .data = r, .nbytes = sizeof r}};
        CHECK_EQ(cfp_model_run(model, 2, in), 0);
        const cfp_tensor *y = cfp_value_tensor(cfp_model_output(model, 0));
        CHECK_EQ(y->ndim, 2);
        CHECK_EQ(y->dims[0], 0);
        CHECK_EQ(y->dims[1], 6);
        CHECK_EQ(y->nbytes, 0);
        cfp_model_free(model);
    }
    pbw_free(&vi), pbw_free(&type), pbw_free(&tt), pbw_free(&shape), pbw_free(&dim);
    cfp_ctx_free(ctx);
}

/* onnx-tile-empty-input-huge-repeats.onnx: an empty tensor may not carry
 * dims whose non-zero product overflows (its strides would), and Tile of an
 * empty input copies nothing whatever the repeats. */
TEST(fuzz_regress_empty_tensor_dims_bounded) {
    cfp_tensor t;
    memset(&t, 0, sizeof t);
    CHECK_EQ(cfp_tensor_shape(&t, CFP_F32, 3, (int64_t[]){0, 1LL << 40, 1LL << 40}), CFP_E_LIMIT);
    CHECK_EQ(cfp_tensor_shape(&t, CFP_F32, 3, (int64_t[]){0, 1LL << 20, 1LL << 20}), CFP_OK);
    CHECK_EQ(t.nbytes, 0);
    CHECK_EQ(cfp_tensor_shape(&t, CFP_F32, 2, (int64_t[]){1LL << 20, 1LL << 20}), CFP_OK);
    CHECK_EQ(t.nbytes, (size_t)4 << 40);
    /* a Tile of a 0x3 constant by (2^62, 1): the output is 0x3, nothing to copy */
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    gbuild g = {0};
    pbw t0 = {0};
    pbw_int(&t0, 1, 0);
    pbw_int(&t0, 1, 3);
    pbw_int(&t0, 2, CFP_F32);
    pbw_str(&t0, 8, "e");
    pbw_bytes(&t0, 9, "", 0);
    pbw_msg(&g.g, 5, &t0);
    gb_init_i64(&g, "r", 2, (int64_t[]){1LL << 62, 1});
    gb_node(&g, "Tile", "tile0", "e,r", "t", NULL);
    gb_node(&g, "Add", "add0", "t,x", "y", NULL);
    gb_input(&g, "x", 2, (int64_t[]){1, 3});
    gb_output(&g, "y");
    cfp_model *model = load_built(ctx, &g);
    if (model) {
        float x[3] = {1, 2, 3};
        cfp_tensor in = {.dtype = CFP_F32, .ndim = 2, .dims = {1, 3}, .data = x, .nbytes = sizeof x};
        CHECK_EQ(cfp_model_run(model, 1, &in), 0);
        const cfp_tensor *y = cfp_value_tensor(cfp_model_output(model, 0));
        CHECK(y->ndim == 2 && y->dims[0] == 0 && y->dims[1] == 3);
        cfp_model_free(model);
    }
    pbw_free(&t0);
    cfp_ctx_free(ctx);
}

/* onnx-empty-value-huge-channels.onnx: an empty value of dims 1 x 2^40 x 0 x 4
 * holds nothing, so the memory limit lets it through; its per-channel means
 * were still allocated, 2^40 floats. An empty value now has no means. */
TEST(fuzz_regress_empty_value_has_no_means) {
    cfp_ctx *ctx;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    cfp_ctx_set_max_memory(ctx, 64 << 20);
    gbuild g = {0};
    gb_init_i64(&g, "r", 4, (int64_t[]){1, 1LL << 40, 0, 4});
    gb_node(&g, "Tile", "tile0", "x,r", "y", NULL);
    gb_input(&g, "x", 4, (int64_t[]){1, 1, 3, 1});
    gb_output(&g, "y");
    cfp_model *model = load_built(ctx, &g);
    if (model) {
        float x[3] = {1, 2, 3};
        cfp_tensor in = {.dtype = CFP_F32, .ndim = 4, .dims = {1, 1, 3, 1}, .data = x, .nbytes = sizeof x};
        int rc = cfp_model_run(model, 1, &in);
        CHECK_EQ(rc, 0);
        if (rc) fprintf(stderr, "%s\n", cfp_errmsg(ctx));
        const cfp_value *y = cfp_model_output(model, 0);
        const cfp_tensor *t = cfp_value_tensor(y);
        CHECK(t->ndim == 4 && t->dims[1] == 1LL << 40 && t->dims[2] == 0 && t->nbytes == 0);
        int64_t nc = -1;
        CHECK(cfp_value_pooled(y, &nc) == NULL);
        CHECK_EQ(nc, 0);
        /* the input still has its means */
        CHECK(cfp_value_pooled(cfp_model_input(model, 0), &nc) != NULL && nc == 1);
        cfp_model_free(model);
    }
    cfp_ctx_free(ctx);
}

/* The malloc-failure mode (tests/malloc/test_malloc.c, `make test-malloc`)
 * as part of the suite: `make test` builds it and names it in
 * CFP_MALLOC_TEST; sanitizer builds leave it out (they replace malloc).
 * Twice: with oneDNN's convolutions (its own allocations are not failed, see
 * the test) and with cfp's GEMM convolutions (CFP_CONV=gemm). */
TEST(malloc_failure_mode) {
    const char *bin = getenv("CFP_MALLOC_TEST");
    if (!bin || !*bin) {
        cfp_test_skip("malloc_failure_mode", "CFP_MALLOC_TEST not set (a sanitizer build)");
        return;
    }
    static const char *const modes[] = {"CFP_CONV=dnnl", "CFP_CONV=gemm"};
    for (int i = 0; i < 2; i++) {
        char out[8192], err[8192], cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && %s OPENBLAS_NUM_THREADS=1 CFP_SOURCE_DIR='%s' '%s'",
                 cfp_test_root(), modes[i], cfp_test_root(), bin);
        int rc = cfp_test_run(cmd, out, sizeof out, err, sizeof err);
        if (rc != 0 || !strstr(out, "3 passed, 0 failed"))
            cfp_test_fail_here(__FILE__, __LINE__, "test_malloc (%s) exit %d:\n%s%s", modes[i], rc, out, err);
    }
}
