/* End-to-end tests of the command line: exit codes, the one-line errors,
 * and outputs compared with PyTorch's. */
#include "cfp.h"
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int rc;
    char out[16384], err[4096];
} result;

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

static const char *tmpd(void) {
    static char d[64];
    if (!d[0]) {
        snprintf(d, sizeof d, "/tmp/cfp-cli-XXXXXX");
        if (!mkdtemp(d)) abort();
    }
    return d;
}

/* args is a shell fragment appended to the cfp binary */
static result *cfp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static result *cfp(const char *fmt, ...) {
    static result r;
    char args[4096], cmd[8192], o[128], e[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *bin = getenv("CFP_BIN");
    snprintf(o, sizeof o, "%s/stdout", tmpd());
    snprintf(e, sizeof e, "%s/stderr", tmpd());
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >%s 2>%s", cfp_test_root(), bin ? bin : "build/cfp", args, o, e);
    int st = system(cmd);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(o, r.out, sizeof r.out);
    slurp(e, r.err, sizeof r.err);
    return &r;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

#define FX "tests/fixtures/r3d_18_bn"

TEST(cli_version_and_help) {
    result *r = cfp("--version");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "cfp " CFP_VERSION) != NULL);
    r = cfp("help");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "info") && strstr(r->out, "bench"));
    r = cfp("help run");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "-o OUT0.pb") != NULL);
    r = cfp("frobnicate");
    CHECK_EQ(r->rc, 2);
    CHECK_EQ(count_lines(r->err), 1);
    r = cfp("run " FX "/model.onnx --bogus");
    CHECK_EQ(r->rc, 2);
    CHECK(strstr(r->err, "unknown option '--bogus'") != NULL);
}

TEST(cli_info) {
    result *r = cfp("info " FX "/model.onnx");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "BatchNormalization×20") != NULL);
    CHECK(strstr(r->out, "Conv") && strstr(r->out, "parameters"));
    CHECK(strstr(r->out, "MACs ") != NULL);
    r = cfp("info --json " FX "/model.onnx");
    CHECK_EQ(r->rc, 0);
    CHECK(r->out[0] == '{');
    CHECK(strstr(r->out, "\"layers\": [{") != NULL);
    CHECK(strstr(r->out, "\"opset\": 13") != NULL);
    CHECK(strstr(r->out, "1x8x10x14x14") != NULL); /* stem output shape */
    /* a shape the model cannot take is explained, not guessed */
    r = cfp("info " FX "/model.onnx --input-shape 1x3x10x56x56");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "MACs       unknown: input 'input': expected shape 1x3x10x28x28, got 1x3x10x56x56") != NULL);
}

static int compare_pb(const char *got_path, const char *want_path, double rtol) {
    cfp_ctx *ctx;
    cfp_tensor a, b;
    int ok = 0;
    if (cfp_ctx_new(&ctx, 1)) return 0;
    if (!cfp_tensor_read_pb(ctx, got_path, &a, NULL)) {
        if (!cfp_tensor_read_pb(ctx, want_path, &b, NULL)) {
            ok = a.dtype == CFP_F32 && a.nbytes == b.nbytes;
            for (int64_t i = 0; ok && i < cfp_tensor_numel(&b); i++) {
                float x = ((float *)a.data)[i], y = ((float *)b.data)[i];
                if (!(fabsf(x - y) <= 1e-5f + rtol * fabsf(y))) ok = 0;
            }
            cfp_tensor_free(&b);
        }
        cfp_tensor_free(&a);
    }
    cfp_ctx_free(ctx);
    return ok;
}

TEST(cli_run_matches_pytorch) {
    char out[256];
    snprintf(out, sizeof out, "%s/out.pb", tmpd());
    result *r = cfp("run " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb -o %s --threads 2", out);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "arg-max") != NULL);
    char want[512];
    snprintf(want, sizeof want, "%s/" FX "/test_data_set_0/output_0.pb", cfp_test_root());
    CHECK(compare_pb(out, want, 1e-4));
}

TEST(cli_bench_json) {
    result *r = cfp("bench " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --repeat 3 --warmup 1 --json");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "\"forward_ms_median\"") && strstr(r->out, "\"load_ms\"") &&
          strstr(r->out, "\"peak_rss_mb\"") && strstr(r->out, "\"forward_ms_min\""));
}

TEST(cli_bad_input_one_line) {
    char bad[256];
    /* missing model */
    result *r = cfp("info no/such/model.onnx");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(count_lines(r->err), 1);
    CHECK(strstr(r->err, "no/such/model.onnx: No such file") != NULL);
    /* a model truncated in the middle */
    snprintf(bad, sizeof bad, "%s/trunc.onnx", tmpd());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "head -c 20000 '%s/" FX "/model.onnx' > %s", cfp_test_root(), bad);
    CHECK_EQ(system(cmd), 0);
    r = cfp("info %s", bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(count_lines(r->err), 1);
    CHECK(strstr(r->err, "trunc.onnx: ") != NULL);
    /* a text file */
    r = cfp("info README.md");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(count_lines(r->err), 1);
    /* input of the wrong shape: another fixture's input */
    r = cfp("run " FX "/model.onnx -i tests/fixtures/s3d_bn/test_data_set_0/input_0.pb");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(count_lines(r->err), 1);
    CHECK(strstr(r->err, "expected shape 1x3x10x28x28, got 1x3x13x49x49") != NULL);
    /* wrong number of inputs */
    r = cfp("run " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb -i " FX "/test_data_set_0/input_0.pb");
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "has 1 input, 2 given") != NULL);
    /* output folder that does not exist: nothing half-written, one line */
    r = cfp("run " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb -o /nonexistent/dir/out.pb");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(count_lines(r->err), 1);
}

static int path_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int path_exists(const char *fmt, ...) {
    char p[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    return access(p, F_OK) == 0;
}

TEST(cli_explain_writes_pyramid_json) {
    char out[256];
    snprintf(out, sizeof out, "%s/explain", tmpd());
    result *r = cfp("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s --tree --depth 2", out);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "level 0: 1 kernel in 1 layer; /fc/Gemm:") != NULL);
    CHECK(strstr(r->out, "back-step") != NULL);
    char json[1 << 16];
    char path[512];
    snprintf(path, sizeof path, "%s/pyramid.json", out);
    slurp(path, json, sizeof json);
    static const char *keys[] = {"\"model\"", "\"input\"", "\"class\": {\"index\"", "\"label\"", "\"prob\"",
                                            "\"params\": {\"theta\": 0.6, \"depth\": 2, \"max_children\": 0}",
                                            "\"timing_ms\": {\"decode\"", "\"backstep\"", "\"render\"", "\"write\"",
                                            "\"layers\": [", "\"kernel_shape\"", "\"group\"", "\"in_channels\"",
                                            "\"out_channels\"", "\"output_shape\"", "\"nodes\": [", "\"pooled_activation\"",
                                            "\"parents\"", "\"edges\": [", "\"score\"", "\"contribution\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strstr(json, keys[i])) cfp_test_fail_here(__FILE__, __LINE__, "pyramid.json lacks %s", keys[i]);
    CHECK(path_exists("%s/tree.json", out));
    /* a second run replaces the folder cfp wrote */
    r = cfp("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s --topk 2", out);
    CHECK_EQ(r->rc, 0);
    CHECK(path_exists("%s/pyramid-top2.json", out));
    CHECK(!path_exists("%s/tree.json", out));
}

TEST(cli_explain_never_leaves_half_a_folder) {
    char out[256];
    /* a folder cfp did not write is refused, and left as it was */
    snprintf(out, sizeof out, "%s/mine", tmpd());
    CHECK_EQ(mkdir(out, 0755), 0);
    result *r = cfp("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s", out);
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "was not written by cfp") != NULL);
    CHECK(!path_exists("%s/pyramid.json", out));
    /* bad input: non-zero exit, one line, no output folder, no temporary */
    snprintf(out, sizeof out, "%s/bad", tmpd());
    r = cfp("explain " FX "/model.onnx -i tests/fixtures/s3d_bn/test_data_set_0/input_0.pb --out %s", out);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(count_lines(r->err), 1);
    CHECK(!path_exists("%s", out));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q cfp-tmp", tmpd());
    CHECK(system(cmd) != 0);
    /* an out-of-range class is refused */
    r = cfp("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s --class 99", out);
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "out of range") != NULL);
    CHECK(!path_exists("%s", out));
}

/* A video in, a whole report out: the class map is also drawn on the frames
 * as recorded (mapped back through crop and resize). */
TEST(cli_explain_video_report) {
    char clip[256], out[256], cmd[1024];
    snprintf(clip, sizeof clip, "%s/clip.mp4", tmpd());
    snprintf(out, sizeof out, "%s/video-report", tmpd());
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=25 -t 1 -pix_fmt yuv420p '%s'", clip);
    CHECK_EQ(system(cmd), 0);
    result *r = cfp("explain " FX "/model.onnx %s --resize 36x48 --crop 28x28 --frames 10 --render-nodes 4 --out %s --quiet",
                    clip, out);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "wrote ") && strstr(r->out, "index.html"));
    static const char *files[] = {"index.html", "report.js", "report.css", "data.js", "pyramid.json", "clip.gif",
                                  "clip.mp4", "pyramid.gif", "pyramid.png", "maps/saliency_tubes.gif",
                                  "maps/level1.mp4", "maps/node0_kernel.gif", "maps/node0_own.mp4",
                                  "maps/class_source.mp4", "maps/class_source.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!path_exists("%s/%s", out, files[i])) cfp_test_fail_here(__FILE__, __LINE__, "report lacks %s", files[i]);
    char js[1 << 16], path[512];
    snprintf(path, sizeof path, "%s/data.js", out);
    slurp(path, js, sizeof js);
    CHECK(strncmp(js, "window.CFP_REPORT = {", 21) == 0);
    CHECK(strstr(js, "\"rendered_nodes\": ") && strstr(js, "\"source\": {\"mp4\": \"maps/class_source.mp4\""));
}
