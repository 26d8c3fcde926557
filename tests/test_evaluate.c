/* cfp evaluate: the metric functions on known answers, and the command on a
 * small synthetic clips folder (scripts/synthetic_actions.py). */
#include "../tools/evaluate_metrics.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

TEST(evaluate_metrics_known_answers) {
    enum { W = 40, H = 30 };
    static float map[W * H];
    static uint8_t mask[W * H];
    /* a 5x4 block at x 10..14, y 8..11 */
    for (int y = 8; y < 12; y++)
        for (int x = 10; x < 15; x++) mask[y * W + x] = 1;
    /* the mask itself as the map: a hit, all the energy inside */
    for (int i = 0; i < W * H; i++) map[i] = mask[i];
    CHECK_EQ(eval_pointing_hit(map, mask, W, H, 7), 1);
    double in = 0, tot = 0;
    eval_energy_add(map, mask, W * H, &in, &tot);
    CHECK_NEAR(in / tot, 1.0, 1e-12);
    CHECK_NEAR(tot, 20.0, 1e-12);
    /* the peak 7 px right of the block's edge (x 21): a hit; 8 px (x 22): a miss */
    memset(map, 0, sizeof map);
    map[9 * W + 21] = 1;
    CHECK_EQ(eval_pointing_hit(map, mask, W, H, 7), 1);
    map[9 * W + 21] = 0, map[9 * W + 22] = 1;
    CHECK_EQ(eval_pointing_hit(map, mask, W, H, 7), 0);
    /* diagonal: (5, 5) from the corner (14, 11) is ~7.07 px: a miss */
    map[9 * W + 22] = 0, map[16 * W + 19] = 1;
    CHECK_EQ(eval_pointing_hit(map, mask, W, H, 7), 0);
    /* energy: half the mass on the mask */
    map[16 * W + 19] = 0;
    map[9 * W + 12] = 1, map[0] = 1;
    in = tot = 0;
    eval_energy_add(map, mask, W * H, &in, &tot);
    CHECK_NEAR(in / tot, 0.5, 1e-12);
    /* an empty mask: the frame does not count */
    static uint8_t empty[W * H];
    CHECK_EQ(eval_pointing_hit(map, empty, W, H, 7), -1);
    /* AUC: trapezoid over k in [0, 1] */
    double p[5] = {1, 0.5, 0.5, 0.5, 0};
    CHECK_NEAR(eval_auc(p, 4), (0.75 + 0.5 + 0.5 + 0.25) / 4, 1e-12);
    double flat[3] = {0.3, 0.3, 0.3};
    CHECK_NEAR(eval_auc(flat, 2), 0.3, 1e-12);
    /* the order: decreasing, ties in raster order; counts round k/steps·n */
    float v[6] = {0.2f, 0.9f, 0.2f, 0.5f, 0.9f, 0.0f};
    eval_ranked o[6];
    eval_order(v, 6, o);
    int want[6] = {1, 4, 3, 0, 2, 5};
    for (int i = 0; i < 6; i++) CHECK_EQ(o[i].i, want[i]);
    CHECK_EQ(eval_count(1000, 0, 10), 0);
    CHECK_EQ(eval_count(1000, 3, 10), 300);
    CHECK_EQ(eval_count(1000, 10, 10), 1000);
}

/* The clips folder (made once); NULL when Python/NumPy/SciPy/ffmpeg are missing. */
static const char *clips_dir(void) {
    static int state; /* 0 not tried, 1 ok, -1 unavailable */
    const char *dir = cfp_test_tmp("evaluate", "clips");
    if (state == 0) {
        state = -1;
        if (cfp_test_sh("/usr/bin/python3 -c 'import numpy, scipy' >/dev/null 2>&1 && command -v ffmpeg >/dev/null") == 0 &&
            cfp_test_sh("cd '%s' && /usr/bin/python3 scripts/synthetic_actions.py --out '%s' --n 4 --seed 5 --size 112 "
                        "--frames 16 >/dev/null",
                        cfp_test_root(), dir) == 0)
            state = 1;
    }
    return state == 1 ? dir : NULL;
}

/* The demo model if it is there, else a fixture with flags that fit it. */
static const char *model_args(void) {
    if (cfp_test_exists("%s/models/demo/model.onnx", cfp_test_root())) return "models/demo/model.onnx";
    return "tests/fixtures/r3d_18_bn/model.onnx --resize 32x32 --crop 28x28 --frames 10";
}

static double json_num(const char *json, const char *map, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"name\":\"%s", map);
    const char *p = strstr(json, pat);
    if (!p) return NAN;
    const char *end = strchr(p, '}');
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *k = strstr(p, pat);
    if (!k || (end && k > end)) return NAN;
    return strtod(k + strlen(pat), NULL);
}

TEST(evaluate_cli_table) {
    const char *dir = clips_dir();
    if (!dir) {
        cfp_test_skip("evaluate_cli_table", "needs /usr/bin/python3 with numpy and scipy, and ffmpeg");
        return;
    }
    char dir_s[512];
    snprintf(dir_s, sizeof dir_s, "%s", dir);
    cfp_test_cli_out *r = cfp_test_cli("evaluate %s --clips %s --steps 3 --oracle", model_args(), dir_s);
    CHECK_EQ(r->rc, 0);
    CHECK(strstr(r->out, "4 clips") != NULL);
    CHECK(strstr(r->out, "accuracy ") != NULL);
    CHECK(strstr(r->out, "| map | clips | pointing game | energy share | deletion AUC") != NULL);
    CHECK(strstr(r->out, "| class-level (kernel-wise, level 0) | 4 | ") != NULL);
    CHECK(strstr(r->out, "| level 1 (layer-wise) |") != NULL);
    CHECK(strstr(r->out, "| Saliency Tubes | 4 | ") != NULL);
    CHECK(strstr(r->out, "| baseline: random (uniform noise) | 4 | ") != NULL);
    CHECK(strstr(r->out, "| baseline: centre prior (Gaussian) | 4 | ") != NULL);
    /* the mask as its own map: every frame a hit, all of the energy on the mask */
    CHECK(strstr(r->out, "| oracle: the mask itself | 4 | 100.0 % | 1.000 | – | – |") != NULL);
    /* levels get deletion/insertion only with --auc-levels */
    CHECK(strstr(r->out, "| level 1 (layer-wise) |") && strstr(strstr(r->out, "| level 1 (layer-wise) |"), "– | – |"));

    r = cfp_test_cli("evaluate %s --clips %s --steps 1 --json", model_args(), dir_s);
    CHECK_EQ(r->rc, 0);
    CHECK(r->out[0] == '{');
    CHECK(strstr(r->out, "\"clips\":4") != NULL);
    const char *maps[] = {"baseline: random", "baseline: centre prior", "class-level", "Saliency Tubes"};
    const char *keys[] = {"pointing", "energy_share", "deletion_auc", "insertion_auc"};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++) {
            double v = json_num(r->out, maps[i], keys[k]);
            if (!(v >= 0 && v <= 1)) cfp_test_fail_here(__FILE__, __LINE__, "%s %s = %g, not in [0, 1]", maps[i], keys[k], v);
        }
    double acc = strstr(r->out, "\"accuracy\":") ? strtod(strstr(r->out, "\"accuracy\":") + 11, NULL) : -1;
    CHECK(acc >= 0 && acc <= 1);
    /* per true class: the clips add up to all clips, and the class-level hits
     * add up to the overall class-level pointing */
    const char *pc = strstr(r->out, "\"per_class\":[");
    CHECK(pc != NULL);
    int clips = 0;
    double hits = 0, frames = 0;
    for (const char *q = pc; q && (q = strstr(q, "{\"class\":")); q++) {
        const char *c = strstr(q, "\"clips\":"), *f = strstr(q, "\"frames\":"), *h = strstr(q, "\"pointing_class_level\":");
        CHECK(c && f && h);
        if (!c || !f || !h) break;
        clips += atoi(c + 8);
        double fr = strtod(f + 9, NULL);
        frames += fr;
        hits += strtod(h + 23, NULL) * fr;
    }
    CHECK_EQ(clips, 4);
    double all_frames = json_num(r->out, "class-level", "frames");
    CHECK_NEAR(frames, all_frames, 0.5);
    CHECK_NEAR(hits, json_num(r->out, "class-level", "pointing") * all_frames, 1e-3);
}

TEST(evaluate_cli_bad_input) {
    char dir_s[512];
    const char *dir = clips_dir();
    if (dir) snprintf(dir_s, sizeof dir_s, "%s", dir), dir = dir_s;
    cfp_test_cli_out *r = cfp_test_cli("evaluate tests/fixtures/r3d_18_bn/model.onnx --clips /no/such/clips");
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "/no/such/clips") != NULL);
    r = cfp_test_cli("evaluate tests/fixtures/r3d_18_bn/model.onnx");
    CHECK_EQ(r->rc, 2);
    CHECK(strstr(r->err, "--clips") != NULL);
    /* a labels.csv without its header, and one with a bad class */
    char bad[512];
    snprintf(bad, sizeof bad, "%s", cfp_test_tmp("evaluate", "bad"));
    CHECK_EQ(cfp_test_sh("mkdir -p '%s' && printf 'clip_0000.mp4,3,x\\n' > '%s/labels.csv'", bad, bad), 0);
    r = cfp_test_cli("evaluate tests/fixtures/r3d_18_bn/model.onnx --clips %s", bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "labels.csv:1: expected the header") != NULL);
    CHECK_EQ(cfp_test_sh("printf 'file,class,name\\nclip_0000.mp4,three,x\\n' > '%s/labels.csv'", bad), 0);
    r = cfp_test_cli("evaluate tests/fixtures/r3d_18_bn/model.onnx --clips %s", bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "labels.csv:2: the class must be") != NULL);
    if (!dir) {
        cfp_test_skip("evaluate_cli_bad_input (masks)", "needs /usr/bin/python3 with numpy and scipy, and ffmpeg");
        return;
    }
    /* a mask of another size (1x8x8), and a truncated one */
    CHECK_EQ(cfp_test_sh("cp '%s/clip_0000.mp4' '%s/' && printf 'file,class,name\\nclip_0000.mp4,3,x\\n' > '%s/labels.csv' && "
                         "printf 'CFPMASK1\\001\\000\\000\\000\\010\\000\\000\\000\\010\\000\\000\\000' > '%s/clip_0000.mask' && "
                         "head -c 8 /dev/zero >> '%s/clip_0000.mask'",
                         dir, bad, bad, bad, bad),
             0);
    const char *fx = "tests/fixtures/r3d_18_bn/model.onnx --resize 32x32 --crop 28x28 --frames 10";
    r = cfp_test_cli("evaluate %s --clips %s", fx, bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "mask size mismatch") != NULL);
    CHECK_EQ(cfp_test_sh("head -c 100 '%s/clip_0000.mask' > '%s/clip_0000.mask'", dir, bad), 0);
    r = cfp_test_cli("evaluate %s --clips %s", fx, bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "bytes of mask data") != NULL);
    /* a listed clip that is not there */
    CHECK_EQ(cfp_test_sh("printf 'file,class,name\\nclip_9999.mp4,3,x\\n' > '%s/labels.csv' && cp '%s/clip_0000.mask' '%s/clip_9999.mask'",
                         bad, dir, bad),
             0);
    r = cfp_test_cli("evaluate %s --clips %s", fx, bad);
    CHECK_EQ(r->rc, 1);
    CHECK_EQ(cfp_test_lines(r->err), 1);
    CHECK(strstr(r->err, "clip_9999.mp4") != NULL);
}
