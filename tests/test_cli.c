/* End-to-end tests of the command line: exit codes, the one-line errors,
 * and outputs compared with PyTorch's. */
#include "cfp.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX "tests/fixtures/r3d_18_bn"

TEST(cli_version_and_help) {
    cfp_test_cli_out *r = cfp_test_cli("--version");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "cfp " CFP_VERSION) != NULL);
    r = cfp_test_cli("help");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "info") && strstr(r->out, "bench"));
    r = cfp_test_cli("help run");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "-o OUT0.pb") != NULL);
    r = cfp_test_cli("frobnicate");
    CHECK_EQ(r->rc, 2);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    r = cfp_test_cli("run " FX "/model.onnx --bogus");
    CHECK_EQ(r->rc, 2);
    CHECK(strstr(r->err, "unknown option '--bogus'") != NULL);
}

TEST(cli_info) {
    cfp_test_cli_out *r = cfp_test_cli("info " FX "/model.onnx");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "BatchNormalization×20") != NULL);
    CHECK(strstr(r->out, "Conv") && strstr(r->out, "parameters"));
    CHECK(strstr(r->out, "MACs ") != NULL);
    r = cfp_test_cli("info --json " FX "/model.onnx");
    CHECK_EQ(r->rc, 0);
    CHECK(r->out[0] == '{');
    CHECK(strstr(r->out, "\"layers\": [{") != NULL);
    CHECK(strstr(r->out, "\"opset\": 13") != NULL);
    CHECK(strstr(r->out, "1x8x10x14x14") != NULL); /* stem output shape */
    /* a shape the model cannot take is explained, not guessed */
    r = cfp_test_cli("info " FX "/model.onnx --input-shape 1x3x10x56x56");
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
    snprintf(out, sizeof out, "%s/out.pb", cfp_test_tmpsub("cli"));
    cfp_test_cli_out *r =
        cfp_test_cli("run " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb -o %s --threads 2", out);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "arg-max") != NULL);
    char want[512];
    snprintf(want, sizeof want, "%s/" FX "/test_data_set_0/output_0.pb", cfp_test_root());
    CHECK(compare_pb(out, want, 1e-4));
}

TEST(cli_bench_json) {
    cfp_test_cli_out *r =
        cfp_test_cli("bench " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --repeat 3 --warmup 1 --json");
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "\"forward_ms_median\"") && strstr(r->out, "\"load_ms\"") &&
          strstr(r->out, "\"peak_rss_mb\"") && strstr(r->out, "\"forward_ms_min\""));
    /* the first pass is timed too, and is a real time */
    const char *f = strstr(r->out, "\"first_ms\": ");
    CHECK(f != NULL);
    if (f) CHECK(atof(f + 12) > 0);
}

TEST(cli_bad_input_one_line) {
    char bad[256];
    /* missing model */
    cfp_test_cli_out *r = cfp_test_cli("info no/such/model.onnx");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "no/such/model.onnx: No such file") != NULL);
    /* a model truncated in the middle */
    snprintf(bad, sizeof bad, "%s/trunc.onnx", cfp_test_tmpsub("cli"));
    CHECK_EQ(cfp_test_sh("head -c 20000 '%s/" FX "/model.onnx' > %s", cfp_test_root(), bad), 0);
    r = cfp_test_cli("info %s", bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "trunc.onnx: ") != NULL);
    /* a text file */
    r = cfp_test_cli("info README.md");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    /* input of the wrong shape: another fixture's input */
    r = cfp_test_cli("run " FX "/model.onnx -i tests/fixtures/s3d_bn/test_data_set_0/input_0.pb");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "expected shape 1x3x10x28x28, got 1x3x13x49x49") != NULL);
    /* wrong number of inputs */
    r = cfp_test_cli("run " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb -i " FX "/test_data_set_0/input_0.pb");
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "has 1 input, 2 given") != NULL);
    /* output folder that does not exist: nothing half-written, one line */
    r = cfp_test_cli("run " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb -o /nonexistent/dir/out.pb");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
}

TEST(cli_explain_writes_pyramid_json) {
    char out[256];
    snprintf(out, sizeof out, "%s/explain", cfp_test_tmpsub("cli"));
    cfp_test_cli_out *r =
        cfp_test_cli("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s --tree --depth 2", out);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "level 0: 1 kernel in 1 layer; /fc/Gemm:") != NULL);
    CHECK(strstr(r->out, "back-step") != NULL);
    char json[1 << 16];
    char path[512];
    snprintf(path, sizeof path, "%s/pyramid.json", out);
    cfp_test_slurp(path, json, sizeof json);
    static const char *keys[] = {"\"model\"", "\"input\"", "\"class\": {\"index\"", "\"label\"", "\"prob\"",
                                            "\"params\": {\"theta\": 0.6, \"depth\": 2, \"max_children\": 0}",
                                            "\"timing_ms\": {\"decode\"", "\"backstep\"", "\"render\"", "\"write\"",
                                            "\"layers\": [", "\"kernel_shape\"", "\"group\"", "\"in_channels\"",
                                            "\"out_channels\"", "\"output_shape\"", "\"nodes\": [", "\"pooled_activation\"",
                                            "\"parents\"", "\"edges\": [", "\"score\"", "\"contribution\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strstr(json, keys[i])) cfp_test_fail_here(__FILE__, __LINE__, "pyramid.json lacks %s", keys[i]);
    CHECK(cfp_test_exists("%s/tree.json", out));
    /* a second run replaces the folder cfp wrote */
    r = cfp_test_cli("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s --topk 2", out);
    CHECK_EQ(r->rc, 0);
    CHECK(cfp_test_exists("%s/pyramid-top2.json", out));
    CHECK(!cfp_test_exists("%s/tree.json", out));
}

TEST(cli_explain_never_leaves_half_a_folder) {
    char out[256];
    /* a folder cfp did not write is refused, and left as it was */
    snprintf(out, sizeof out, "%s/mine", cfp_test_tmpsub("cli"));
    CHECK_EQ(mkdir(out, 0755), 0);
    cfp_test_cli_out *r = cfp_test_cli("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s", out);
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "was not written by cfp") != NULL);
    CHECK(!cfp_test_exists("%s/pyramid.json", out));
    /* bad input: non-zero exit, one line, no output folder, no temporary */
    snprintf(out, sizeof out, "%s/bad", cfp_test_tmpsub("cli"));
    r = cfp_test_cli("explain " FX "/model.onnx -i tests/fixtures/s3d_bn/test_data_set_0/input_0.pb --out %s", out);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(!cfp_test_exists("%s", out));
    CHECK(cfp_test_sh("ls %s | grep -q cfp-tmp", cfp_test_tmpsub("cli")) != 0);
    /* an out-of-range class is refused */
    r = cfp_test_cli("explain " FX "/model.onnx -i " FX "/test_data_set_0/input_0.pb --out %s --class 99", out);
    CHECK_EQ(r->rc, 1);
    CHECK(strstr(r->err, "out of range") != NULL);
    CHECK(!cfp_test_exists("%s", out));
}

/* A video in, a whole report out: the class map is also drawn on the frames
 * as recorded (mapped back through crop and resize). */
TEST(cli_explain_video_report) {
    char clip[256], out[256];
    snprintf(clip, sizeof clip, "%s/clip.mp4", cfp_test_tmpsub("cli"));
    snprintf(out, sizeof out, "%s/video-report", cfp_test_tmpsub("cli"));
    CHECK_EQ(cfp_test_sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=25 -t 1 "
                         "-pix_fmt yuv420p '%s'",
                         clip),
             0);
    cfp_test_cli_out *r = cfp_test_cli(
        "explain " FX "/model.onnx %s --resize 36x48 --crop 28x28 --frames 10 --render-nodes 4 --out %s --quiet", clip,
        out);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "wrote ") && strstr(r->out, "index.html"));
    static const char *files[] = {"index.html", "report.js", "report.css", "data.js", "pyramid.json", "clip.gif",
                                  "clip.mp4", "pyramid.gif", "pyramid.png", "maps/saliency_tubes.gif",
                                  "maps/level1.mp4", "maps/node0_kernel.gif", "maps/node0_own.mp4",
                                  "maps/class_source.mp4", "maps/class_source.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!cfp_test_exists("%s/%s", out, files[i]))
            cfp_test_fail_here(__FILE__, __LINE__, "report lacks %s", files[i]);
    char js[1 << 16], path[512];
    snprintf(path, sizeof path, "%s/data.js", out);
    cfp_test_slurp(path, js, sizeof js);
    CHECK(strncmp(js, "window.CFP_REPORT = {", 21) == 0);
    CHECK(strstr(js, "\"rendered_nodes\": ") && strstr(js, "\"source\": {\"mp4\": \"maps/class_source.mp4\""));
}
