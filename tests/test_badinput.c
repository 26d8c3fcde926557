/* Bad inputs through the command line, one table: every row is a command on
 * a broken model, input, video or output folder, the exit code it must give
 * and a piece of the one-line message. Rows that write a report (explain
 * --out) also prove that no output folder and no temporary folder is left.
 * Models are built here with pbwrite.h so a row states exactly what is wrong;
 * videos with Debian's ffmpeg. */
#include "cfp.h"
#include "pbwrite.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX "tests/fixtures/r3d_18_bn"
#define FX_IN FX "/test_data_set_0/input_0.pb"
/* the fixture's input is 1x3x10x28x28: how a video becomes that */
#define FX_VIDEO_ARGS "--resize 36x48 --crop 28x28 --frames 10"

static const char *dir(void) { return cfp_test_tmpsub("badinput"); }
static const char *path(const char *name) { return cfp_test_tmp("badinput", name); }

static int write_bytes(const char *name, const void *p, size_t n) {
    FILE *f = fopen(path(name), "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f) ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

/* x (1, 3) -> Add w (1, 3) -> Relu -> y; `mutate` swaps in one defect */
enum { GOOD, NEG_DIM, OVERFLOW_DIMS, SHORT_RAW, NO_INIT, CYCLE, UNKNOWN_OP, EVIL_NAME, BAD_ATTR, INT_INPUT, EXTERNAL_OUT };

static void tensor_dims(pbw *t, const char *name, int n, const int64_t *dims, int dtype, size_t raw_bytes) {
    for (int i = 0; i < n; i++) pbw_int(t, 1, dims[i]);
    pbw_int(t, 2, dtype);
    pbw_str(t, 8, name);
    float zero[64] = {0};
    pbw_bytes(t, 9, zero, raw_bytes);
}

static void build(pbw *model, int mutate) {
    gbuild g = {0};
    float w[3] = {1, -2, 0.5f};
    int64_t wd[2] = {1, 3}, xd[2] = {1, 3};
    pbw t = {0};
    switch (mutate) {
    case NEG_DIM:
        tensor_dims(&t, "w", 2, (int64_t[]){1, -3}, CFP_F32, 12);
        pbw_msg(&g.g, 5, &t);
        break;
    case OVERFLOW_DIMS:
        tensor_dims(&t, "w", 4, (int64_t[]){1LL << 40, 1LL << 40, 1LL << 40, 1LL << 40}, CFP_F32, 12);
        pbw_msg(&g.g, 5, &t);
        break;
    case SHORT_RAW:
        tensor_dims(&t, "w", 2, wd, CFP_F32, 8); /* 12 bytes needed */
        pbw_msg(&g.g, 5, &t);
        break;
    case NO_INIT:
        break;
    case EXTERNAL_OUT:
        pbw_tensor_external(&t, "w", 2, wd, "../outside.bin");
        pbw_msg(&g.g, 5, &t);
        break;
    default:
        gb_init(&g, "w", 2, wd, w);
    }
    pbw_free(&t);
    if (mutate == CYCLE) {
        gb_node(&g, "Add", "add0", "x,s", "z", NULL);
        gb_node(&g, "Relu", "act0", "z", "s", NULL);
        gb_node(&g, "Relu", "act1", "s", "y", NULL);
    } else {
        gb_node(&g, "Add", "add0", "x,w", "s", NULL);
        if (mutate == BAD_ATTR) {
            /* LeakyRelu alpha is a float; auto_pad-like strings are checked by
             * Conv: give MaxPool a mode it does not have */
            pbw n = {0}, a = {0};
            pbw_str(&n, 1, "s");
            pbw_str(&n, 2, "y");
            pbw_str(&n, 3, "pool0");
            pbw_str(&n, 4, "MaxPool");
            pbw_str(&a, 1, "auto_pad");
            pbw_str(&a, 4, "SIDEWAYS");
            pbw_int(&a, 20, 3);
            pbw_msg(&n, 5, &a);
            pbw_free(&a);
            a.n = 0;
            pbw_str(&a, 1, "kernel_shape");
            pbw_int(&a, 8, 1);
            pbw_int(&a, 20, 7);
            pbw_msg(&n, 5, &a);
            pbw_msg(&g.g, 1, &n);
            pbw_free(&a), pbw_free(&n);
        } else {
            gb_node(&g, mutate == UNKNOWN_OP || mutate == EVIL_NAME ? "FrobnicateND" : "Relu",
                    mutate == EVIL_NAME ? "act0\n\033[2Jcfp: ok" : "act0", "s", "y", NULL);
        }
    }
    if (mutate == INT_INPUT) {
        /* graph input x declared int64 */
        pbw vi = {0}, type = {0}, tt = {0}, shape = {0}, d = {0};
        for (int i = 0; i < 2; i++) {
            d.n = 0;
            pbw_int(&d, 1, xd[i]);
            pbw_msg(&shape, 1, &d);
        }
        pbw_int(&tt, 1, CFP_I64);
        pbw_msg(&tt, 2, &shape);
        pbw_msg(&type, 1, &tt);
        pbw_str(&vi, 1, "x");
        pbw_msg(&vi, 2, &type);
        pbw_msg(&g.g, 11, &vi);
        pbw_free(&vi), pbw_free(&type), pbw_free(&tt), pbw_free(&shape), pbw_free(&d);
    } else {
        gb_input(&g, "x", 2, xd);
    }
    gb_value_info(&g, 12, "y", 2, xd);
    model->n = 0;
    gb_model(&g, model, 13);
}

static int write_model(const char *name, int mutate) {
    pbw m = {0};
    build(&m, mutate);
    int rc = write_bytes(name, m.b, m.n);
    pbw_free(&m);
    return rc;
}

/* Everything the rows read, made once. 0 on success. */
static int make_files(void) {
    static int made = -1;
    if (made >= 0) return made;
    made = 1;
    static const struct {
        const char *name;
        int mutate;
    } models[] = {{"good.onnx", GOOD},         {"negdim.onnx", NEG_DIM},       {"overflow.onnx", OVERFLOW_DIMS},
                  {"shortraw.onnx", SHORT_RAW}, {"noinit.onnx", NO_INIT},       {"cycle.onnx", CYCLE},
                  {"unknownop.onnx", UNKNOWN_OP}, {"evilname.onnx", EVIL_NAME}, {"badattr.onnx", BAD_ATTR},   {"intinput.onnx", INT_INPUT},
                  {"sub/external.onnx", EXTERNAL_OUT}, {"side/good.onnx", GOOD}};
    mkdir(path("sub"), 0755);
    mkdir(path("side"), 0755);
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        if (write_model(models[i].name, models[i].mutate)) return made;
    float w[3] = {1, 2, 3};
    if (write_bytes("outside.bin", w, sizeof w) || write_bytes("empty.onnx", "", 0)) return made;
    static const char side[] = "{\"labels\": \"../secret.txt\"}";
    if (write_bytes("secret.txt", "root\n", 5) || write_bytes("side/good.onnx.json", side, sizeof side - 1)) return made;
    /* a (1, 4) input for the (1, 3) model, and a (1, 3) one that fits */
    cfp_ctx *ctx;
    if (cfp_ctx_new(&ctx, 1)) return made;
    float x[4] = {1, 2, 3, 4};
    cfp_tensor t = {.dtype = CFP_F32, .ndim = 2, .dims = {1, 4}, .data = x, .nbytes = sizeof x};
    int rc = cfp_tensor_write_pb(ctx, path("x14.pb"), &t, "x");
    t.dims[1] = 3, t.nbytes = 12;
    rc = rc || cfp_tensor_write_pb(ctx, path("x13.pb"), &t, "x");
    cfp_ctx_free(ctx);
    if (rc) return made;
    /* videos: a good one, and the bad ones tests/video/make_clips.sh makes */
    if (cfp_test_sh("cd '%s' && ff() { ffmpeg -nostdin -v error -y \"$@\"; } && "
                    "ff -f lavfi -i testsrc2=size=96x72:rate=25:duration=1 -c:v libx264 -pix_fmt yuv420p clip.mp4 && "
                    "printf 'this is not a video\\n' > text.mp4 && head -c 3000 clip.mp4 > truncated.mp4 && "
                    "ff -i clip.mp4 -c copy -frames:v 0 empty.mp4 && : > zero.mp4 && "
                    "echo file > afile && mkdir -p mine && echo keep > mine/notes.txt",
                    dir()))
        return made;
    made = 0;
    return made;
}

typedef struct {
    const char *what;  /* the bad input, as the issue names it */
    const char *args;  /* cfp arguments; "@" stands for this file's temporary folder */
    int rc;            /* expected exit status */
    const char *msg;   /* expected in the one line on stderr */
    const char *out;   /* the --out folder (under "@"), which must not exist afterwards; NULL: none */
} bad_row;

/* The report rows write into @/o (each command's folder); the model rows go
 * through `explain` too, so each of them also proves that a failure after
 * the output folder was begun leaves nothing behind. */
static const bad_row rows[] = {
    {"empty model file", "explain @/empty.onnx -i " FX_IN " --out @/o", 1, "empty.onnx: empty file, not an ONNX model", "@/o"},
    {"dims whose product overflows", "explain @/overflow.onnx -i " FX_IN " --out @/o", 1,
     "overflow.onnx: initializer 'w': dims overflow the element count", "@/o"},
    {"negative dims", "explain @/negdim.onnx -i " FX_IN " --out @/o", 1, "negdim.onnx: initializer 'w': negative dim -3", "@/o"},
    {"raw data shorter than the dims", "explain @/shortraw.onnx -i " FX_IN " --out @/o", 1,
     "shortraw.onnx: initializer 'w': raw data has 8 bytes but dims 1x3 need 12", "@/o"},
    {"missing initializer", "explain @/noinit.onnx -i " FX_IN " --out @/o", 1,
     "noinit.onnx: node 'add0' (Add): input 'w' is not produced by any node, initializer or graph input", "@/o"},
    {"graph with a cycle", "explain @/cycle.onnx -i " FX_IN " --out @/o", 1,
     "cycle.onnx: the graph has a cycle through node 'add0' (Add)", "@/o"},
    {"unknown operator", "explain @/unknownop.onnx -i " FX_IN " --out @/o", 1,
     "unknownop.onnx: node 'act0': operator FrobnicateND (opset 13) is not supported", "@/o"},
    {"node name with a newline and a terminal escape", "explain @/evilname.onnx -i " FX_IN " --out @/o", 1,
     "evilname.onnx: node 'act0??[2Jcfp: ok': operator FrobnicateND (opset 13) is not supported", "@/o"},
    {"unsupported attribute value", "explain @/badattr.onnx -i " FX_IN " --out @/o", 1,
     "badattr.onnx: node 'pool0' (MaxPool): auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got 'SIDEWAYS'",
     "@/o"},
    {"input shape that does not fit", "explain @/good.onnx -i @/x14.pb --out @/o", 1,
     "input 'x': expected shape 1x3, got 1x4", "@/o"},
    {"input shape that does not fit (cfp run)", "run @/good.onnx -i @/x14.pb", 1, "input 'x': expected shape 1x3, got 1x4",
     NULL},
    {"model with no float input", "explain @/intinput.onnx -i @/x13.pb --out @/o", 1,
     "input 'x': expected int64 data, got float32", "@/o"},
    {"model with no float input, from a video", "explain @/intinput.onnx @/clip.mp4 --out @/o", 1,
     "intinput.onnx: input 'x' takes int64 data, but a video gives float32", "@/o"},
    {"external data outside the model's folder", "explain @/sub/external.onnx -i " FX_IN " --out @/o", 1,
     "external.onnx: external data path '../outside.bin' points outside the model's folder", "@/o"},
    {"sidecar labels file outside the model's folder", "explain @/side/good.onnx @/clip.mp4 --out @/o", 1,
     "good.onnx.json:1:12: \"labels\": '../secret.txt' must name a file in the model's folder", "@/o"},
    {"model that needs more memory than --max-memory", "explain " FX "/model.onnx -i " FX_IN " --max-memory 1M --out @/o",
     1, "the model needs more than 1 MB for its values at input shape 1x3x10x28x28 (limit 1 MB; see --max-memory)",
     "@/o"},
    {"--max-memory that is not a size", "run " FX "/model.onnx -i " FX_IN " --max-memory lots", 2,
     "--max-memory needs a size", NULL},
    {"missing video", "explain " FX "/model.onnx @/no-such-video.mp4 " FX_VIDEO_ARGS " --out @/o", 1, "no-such-video.mp4",
     "@/o"},
    {"file that is not a video", "explain " FX "/model.onnx @/text.mp4 " FX_VIDEO_ARGS " --out @/o", 1, "text.mp4", "@/o"},
    {"empty video file", "explain " FX "/model.onnx @/zero.mp4 " FX_VIDEO_ARGS " --out @/o", 1, "zero.mp4", "@/o"},
    {"truncated video", "explain " FX "/model.onnx @/truncated.mp4 " FX_VIDEO_ARGS " --out @/o", 1, "truncated.mp4", "@/o"},
    {"video with zero frames", "explain " FX "/model.onnx @/empty.mp4 " FX_VIDEO_ARGS " --out @/o", 1, "empty.mp4", "@/o"},
    {"window past the end", "explain " FX "/model.onnx @/clip.mp4 " FX_VIDEO_ARGS " --start 30 --out @/o", 1,
     "clip.mp4", "@/o"},
    {"window past the end (frame number)", "predict " FX "/model.onnx @/clip.mp4 " FX_VIDEO_ARGS " --start '#500'", 1,
     "clip.mp4", NULL},
    {"output folder that cannot be written", "explain " FX "/model.onnx -i " FX_IN " --out @/afile/o", 1,
     "cannot create the output folder next to", "@/afile/o"},
    {"existing folder cfp did not write", "explain " FX "/model.onnx -i " FX_IN " --out @/mine", 1,
     "@/mine exists and was not written by cfp", NULL},
};

/* s with every "@" replaced by the temporary folder */
static void expand(const char *s, char *out, size_t cap) {
    size_t o = 0;
    const char *d = dir();
    for (; *s && o + 1 < cap; s++) {
        if (*s == '@') o += (size_t)snprintf(out + o, cap - o, "%s", d);
        else out[o++] = *s;
        if (o >= cap) o = cap - 1;
    }
    out[o] = 0;
}

/* Runs one row; NULL if it behaved, else what went wrong (static buffer). */
static const char *run_row(const char *args, int want_rc, const char *want_msg, const char *out) {
    static char why[8192];
    char cmd[2048], msg[1024], outp[1024];
    expand(args, cmd, sizeof cmd);
    expand(want_msg, msg, sizeof msg);
    cfp_test_cli_out *r = cfp_test_cli("%s", cmd);
    if (getenv("CFP_BADINPUT_SHOW")) /* the table for docs/robustness.md */
        printf("| `%s` | %d | %.*s |\n", args, r->rc, (int)strcspn(r->err, "\n"), r->err);
    if (r->rc != want_rc) {
        snprintf(why, sizeof why, "exit %d, expected %d; stderr: %s", r->rc, want_rc, r->err);
        return why;
    }
    /* errors in the input say "cfp: error: ...", usage errors (exit 2) "cfp COMMAND: ..." */
    const char *prefix = want_rc == 2 ? "cfp " : "cfp: error: ";
    if (cfp_test_lines(r->err) != 1 || strncmp(r->err, prefix, strlen(prefix)) != 0) {
        snprintf(why, sizeof why, "expected one line '%s...' on stderr, got: %s", prefix, r->err);
        return why;
    }
    if (!strstr(r->err, msg)) {
        snprintf(why, sizeof why, "stderr lacks '%s': %s", msg, r->err);
        return why;
    }
    if (out) {
        expand(out, outp, sizeof outp);
        if (cfp_test_exists("%s", outp)) {
            snprintf(why, sizeof why, "left the output folder %s", outp);
            return why;
        }
    }
    if (cfp_test_sh("find '%s' -name '*.cfp-tmp-*' -o -name '*.cfp-old-*' | grep -q .", dir()) == 0) {
        snprintf(why, sizeof why, "left a temporary folder in %s", dir());
        cfp_test_sh("find '%s' -name '*.cfp-tmp-*' -o -name '*.cfp-old-*' | xargs rm -rf", dir());
        return why;
    }
    return NULL;
}

SUITE(badinput_table) {
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char name[256];
        snprintf(name, sizeof name, "badinput: %s", rows[i].what);
        if (!cfp_test_wanted(name)) continue;
        if (make_files()) {
            cfp_test_result("badinput: making the bad files", 0, "could not write the models or make the videos (ffmpeg)");
            return;
        }
        const char *why = run_row(rows[i].args, rows[i].rc, rows[i].msg, rows[i].out);
        cfp_test_result(name, why == NULL, why);
    }
    if (!cfp_test_wanted("badinput: model truncated at")) return;
    /* a model truncated at many offsets: every cut of the generated model
     * (its graph is the last field, so no cut leaves a valid prefix) */
    pbw m = {0};
    build(&m, GOOD);
    int n_cuts = 0, n_bad = 0;
    char first_bad[4096] = "";
    for (size_t cut = 1; cut < m.n; cut += cut < 16 ? 1 : 7) {
        if (write_bytes("trunc.onnx", m.b, cut)) break;
        const char *why =
            run_row("explain @/trunc.onnx -i " FX_IN " --out @/o", 1, "trunc.onnx: not an ONNX model: ", "@/o");
        n_cuts++;
        if (why && !n_bad++) snprintf(first_bad, sizeof first_bad, "cut at %zu of %zu bytes: %s", cut, m.n, why);
    }
    pbw_free(&m);
    char name[128];
    snprintf(name, sizeof name, "badinput: model truncated at %d offsets", n_cuts);
    cfp_test_result(name, n_cuts > 20 && n_bad == 0, first_bad);
}

/* SIGINT and SIGTERM while `cfp explain` writes its report: the process ends
 * by the signal and neither the output folder nor its temporary sibling is
 * left. The signal is sent once the temporary folder holds files, then again
 * later in other runs, so it lands while render threads are writing (the
 * report with every kernel takes seconds). */
TEST(badinput_signal_leaves_no_folder) {
    if (make_files()) {
        CHECK(!"could not make the test files");
        return;
    }
    static const struct {
        const char *name;
        int sig;
        const char *delay;
    } runs[] = {{"INT", 2, "0"}, {"INT", 2, "0.1"}, {"INT", 2, "0.4"}, {"TERM", 15, "0"}, {"TERM", 15, "0.3"}};
    const char *bin = getenv("CFP_BIN");
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char out[512], res[64] = "", cmd[4096];
        snprintf(out, sizeof out, "%s/sig%zu", dir(), i);
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && { '%s' explain " FX "/model.onnx '%s/clip.mp4' " FX_VIDEO_ARGS
                 " --render-nodes -1 --quiet --out '%s' >/dev/null 2>&1 & pid=$!; i=0; "
                 "while [ $i -lt 3000 ] && [ -z \"$(ls -A '%s'.cfp-tmp-* 2>/dev/null)\" ]; do sleep 0.005; i=$((i+1)); done; "
                 "sleep %s; kill -%s $pid; wait $pid; echo $?; }",
                 cfp_test_root(), bin ? bin : "build/cfp", dir(), out, out, runs[i].delay, runs[i].name);
        CHECK_EQ(cfp_test_run(cmd, res, sizeof res, NULL, 0), 0);
        int status = atoi(res);
        if (status != 128 + runs[i].sig)
            cfp_test_fail_here(__FILE__, __LINE__, "SIG%s after %s s: exit status %d, expected %d (killed by the signal)",
                               runs[i].name, runs[i].delay, status, 128 + runs[i].sig);
        if (cfp_test_exists("%s", out))
            cfp_test_fail_here(__FILE__, __LINE__, "SIG%s after %s s left %s", runs[i].name, runs[i].delay, out);
        if (cfp_test_sh("ls -d '%s'.cfp-tmp-* >/dev/null 2>&1", out) == 0)
            cfp_test_fail_here(__FILE__, __LINE__, "SIG%s after %s s left %s.cfp-tmp-*", runs[i].name, runs[i].delay,
                               out);
    }
}
