/* Two-pathway models (SlowFast): maps come in one part per pathway, and
 * cfp explain draws each map over the frames of its own pathway.
 *
 * The fixture tests/fixtures/slowfast_r50_bn (scripts/export_arch.py) has two
 * graph inputs, slow 1x3x4x16x16 and fast 1x3x16x16x16, pooled separately and
 * concatenated in front of the classifier. */
#include "test.h"

#include "cfp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cfp_ctx *ctx;
    cfp_model *m;
    cfp_pyramid *p;
    cfp_tensor in[2];
} sf_run;

static int sf_open(sf_run *r, const char *fixture) {
    memset(r, 0, sizeof *r);
    char path[512];
    if (cfp_ctx_new(&r->ctx, 1)) return -1;
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/model.onnx", cfp_test_root(), fixture);
    if (cfp_model_load(r->ctx, path, &r->m)) return -1;
    int n = cfp_model_n_inputs(r->m);
    for (int i = 0; i < n && i < 2; i++) {
        snprintf(path, sizeof path, "%s/tests/fixtures/%s/test_data_set_0/input_%d.pb", cfp_test_root(), fixture, i);
        if (cfp_tensor_read_pb(r->ctx, path, &r->in[i], NULL)) return -1;
    }
    if (cfp_model_run(r->m, n, r->in)) return -1;
    cfp_pyramid_params pp;
    cfp_pyramid_params_default(&pp);
    return cfp_pyramid_build(r->m, &pp, &r->p);
}

static void sf_close(sf_run *r) {
    cfp_pyramid_free(r->p);
    for (int i = 0; i < 2; i++) cfp_tensor_free(&r->in[i]);
    cfp_model_free(r->m);
    cfp_ctx_free(r->ctx);
}

static double vol_mean(const cfp_volume *v) {
    int64_t n = v->dims[0] * v->dims[1] * v->dims[2];
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v->data[i];
    return n ? s / (double)n : NAN;
}

static const float *initializer(cfp_model *m, const char *name, int64_t *len) {
    for (int i = 0; i < cfp_model_n_values(m); i++) {
        const cfp_value *v = cfp_model_value(m, i);
        if (strcmp(cfp_value_name(v), name)) continue;
        const cfp_tensor *t = cfp_value_tensor(v);
        *len = (int64_t)(t->nbytes / sizeof(float));
        return t->data;
    }
    return NULL;
}

/* Saliency Tubes per pathway: the mean of each part over its voxels is
 * Σ_c w[class, c] · pooled_c over that pathway's channels, so the parts'
 * means plus the classifier's bias give the class logit (the head is
 * GlobalAveragePool per pathway → Concat → MatMul + bias). */
TEST(pathways_saliency_tubes_parts) {
    sf_run r;
    if (sf_open(&r, "slowfast_r50_bn")) {
        cfp_test_fail_here(__FILE__, __LINE__, "slowfast fixture: %s", r.ctx ? cfp_errmsg(r.ctx) : "no context");
        sf_close(&r);
        return;
    }
    cfp_volume *parts = NULL;
    int np = 0;
    CHECK_EQ(cfp_map_saliency_tubes_parts(r.p, &parts, &np), 0);
    CHECK_EQ(np, 2);
    if (np == 2) {
        CHECK_EQ(parts[0].dims[0], 4);  /* slow: 4 frames */
        CHECK_EQ(parts[1].dims[0], 16); /* fast: 16 frames */
        const float *lg;
        int64_t nc, nb = 0;
        CHECK_EQ(cfp_model_logits(r.m, &lg, &nc), 0);
        const float *bias = initializer(r.m, "head.proj.bias", &nb);
        CHECK(bias && nb == nc);
        int cls = cfp_pyramid_class(r.p);
        if (bias && cls >= 0 && cls < nc) {
            double got = vol_mean(&parts[0]) + vol_mean(&parts[1]) + bias[cls];
            CHECK_NEAR(got, lg[cls], 1e-4 * (1 + fabs(lg[cls])));
        }
    }
    /* the single-volume call gives the first part */
    cfp_volume one;
    CHECK_EQ(cfp_map_saliency_tubes(r.p, &one), 0);
    if (np >= 1 && one.data) {
        CHECK(one.dims[0] == parts[0].dims[0] && one.dims[1] == parts[0].dims[1] && one.dims[2] == parts[0].dims[2]);
        CHECK(memcmp(one.data, parts[0].data, (size_t)(one.dims[0] * one.dims[1] * one.dims[2]) * sizeof(float)) == 0);
    }
    cfp_volume_free(&one);
    cfp_volumes_free(parts, np);

    /* the class node's kernel-wise map: a part per pathway its children are on */
    CHECK_EQ(cfp_map_kernelwise_parts(r.p, 0, &parts, &np), 0);
    CHECK(np >= 1 && np <= 2);
    for (int k = 0; k < np; k++) CHECK(parts[k].dims[0] == 4 || parts[k].dims[0] == 16);
    cfp_volumes_free(parts, np);
    sf_close(&r);
}

/* A one-pathway model: one part, the same as the single-volume maps. */
TEST(pathways_single_pathway_one_part) {
    sf_run r;
    if (sf_open(&r, "r3d_18_bn")) {
        cfp_test_fail_here(__FILE__, __LINE__, "r3d_18_bn fixture: %s", r.ctx ? cfp_errmsg(r.ctx) : "no context");
        sf_close(&r);
        return;
    }
    cfp_volume *parts = NULL, one;
    int np = 0;
    CHECK_EQ(cfp_map_kernelwise_parts(r.p, 0, &parts, &np), 0);
    CHECK_EQ(np, 1);
    CHECK_EQ(cfp_map_kernelwise(r.p, 0, &one), 0);
    if (np == 1 && one.data)
        CHECK(memcmp(one.data, parts[0].data, (size_t)(one.dims[0] * one.dims[1] * one.dims[2]) * sizeof(float)) == 0);
    cfp_volume_free(&one);
    cfp_volumes_free(parts, np);
    sf_close(&r);
}

/* cfp explain on a video: both pathways fed from one clip, every map drawn
 * over its own pathway, the report data naming both. */
TEST(pathways_cli_explain) {
    char clip[512], out[512];
    snprintf(clip, sizeof clip, "%s/clip.mp4", cfp_test_tmpsub("pathways"));
    snprintf(out, sizeof out, "%s/out", cfp_test_tmpsub("pathways"));
    if (cfp_test_sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=64x48:rate=25:duration=1.4 -c:v libx264 "
                    "-pix_fmt yuv420p '%s'",
                    clip)) {
        cfp_test_fail_here(__FILE__, __LINE__, "ffmpeg could not make the test clip");
        return;
    }
    cfp_test_cli_out *r = cfp_test_cli("explain tests/fixtures/slowfast_r50_bn/model.onnx %s --preset slowfast "
                                       "--resize 18x18 --crop 16x16 -o %s --quiet",
                                       clip, out);
    CHECK_EQ(r->rc, 0);
    if (r->rc) {
        fprintf(stderr, "%s", r->err);
        return;
    }
    CHECK(cfp_test_exists("%s/maps/level0.gif", out));
    CHECK(cfp_test_exists("%s/maps/saliency_tubes.gif", out));
    CHECK(cfp_test_exists("%s/maps/saliency_tubes_path1.gif", out));
    CHECK(cfp_test_exists("%s/maps/class_source.png", out));
    char path[600];
    snprintf(path, sizeof path, "%s/data.js", out);
    size_t len = 0;
    char *js = cfp_test_slurp_alloc(path, &len);
    CHECK(js != NULL);
    if (!js) return;
    CHECK(strstr(js, "\"pathways\": [{\"index\": 0, \"input\": \"slow\", \"frames\": 4") != NULL);
    CHECK(strstr(js, "{\"index\": 1, \"input\": \"fast\", \"frames\": 16") != NULL);
    CHECK(strstr(js, "\"baseline_pathways\": [{\"path\": 1") != NULL);
    /* every level lists its pathway, and every file it names exists */
    int n_levels = 0;
    for (const char *q = js; (q = strstr(q, "{\"level\": ")); q++) {
        n_levels++;
        CHECK(strstr(q, "\"path\": ") != NULL);
    }
    CHECK(n_levels >= 2);
    for (const char *q = js; (q = strstr(q, "\"maps/level")); q++) {
        char name[128];
        const char *e = strchr(q + 1, '"');
        if (!e || e - q - 1 >= (long)sizeof name) break;
        memcpy(name, q + 1, (size_t)(e - q - 1));
        name[e - q - 1] = 0;
        if (!cfp_test_exists("%s/%s", out, name)) cfp_test_fail_here(__FILE__, __LINE__, "data.js names %s, not written", name);
    }
    free(js);
}
