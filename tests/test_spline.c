/* cfp_zoom against scipy.ndimage.zoom (tests/fixtures_spline, written by
 * scripts/make_spline_refs.py) and cfp_normalize. */
#include "cfp_render.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZOOM_TOL 1e-4

static int is_f32(const cfp_tensor *t, int64_t a, int64_t b, int64_t c) {
    return t->dtype == CFP_F32 && t->ndim == 3 && t->dims[0] == a && t->dims[1] == b &&
           t->dims[2] == c;
}

/* One case: zoom the input to (T, H, W) and compare out[::st, ::sh, ::sw]. */
static int run_case(cfp_ctx *ctx, const char *dir, const char *name, int order, const int64_t din[3],
                    const int64_t dout[3], const int64_t step[3], char *why, size_t wlen,
                    double *max_err) {
    char path[1400];
    cfp_tensor in = {0}, ref = {0};
    float *out = NULL;
    int ok = 0;
    snprintf(path, sizeof path, "%s/%s_in.pb", dir, name);
    if (cfp_tensor_read_pb(ctx, path, &in, NULL) != 0) {
        snprintf(why, wlen, "%s", cfp_errmsg(ctx));
        goto done;
    }
    snprintf(path, sizeof path, "%s/%s_o%d.pb", dir, name, order);
    if (cfp_tensor_read_pb(ctx, path, &ref, NULL) != 0) {
        snprintf(why, wlen, "%s", cfp_errmsg(ctx));
        goto done;
    }
    int64_t sub[3];
    for (int a = 0; a < 3; a++) sub[a] = (dout[a] - 1) / step[a] + 1;
    if (!is_f32(&in, din[0], din[1], din[2]) || !is_f32(&ref, sub[0], sub[1], sub[2])) {
        snprintf(why, wlen, "fixture shapes do not match index.txt");
        goto done;
    }
    int64_t n = dout[0] * dout[1] * dout[2];
    out = malloc((size_t)n * sizeof *out);
    if (!out || cfp_zoom(ctx, in.data, din, out, dout, order) != 0) {
        snprintf(why, wlen, "cfp_zoom: %s", out ? cfp_errmsg(ctx) : "no memory");
        goto done;
    }
    const float *r = ref.data;
    double worst = 0;
    int64_t wi[3] = {0, 0, 0};
    for (int64_t i = 0; i < sub[0]; i++)
        for (int64_t j = 0; j < sub[1]; j++)
            for (int64_t k = 0; k < sub[2]; k++) {
                double a = out[((i * step[0]) * dout[1] + j * step[1]) * dout[2] + k * step[2]];
                double b = r[(i * sub[1] + j) * sub[2] + k];
                double e = fabs(a - b);
                if (!(e <= worst)) {
                    worst = isnan(e) ? INFINITY : e;
                    wi[0] = i * step[0], wi[1] = j * step[1], wi[2] = k * step[2];
                }
            }
    *max_err = worst;
    ok = worst < ZOOM_TOL;
    if (!ok)
        snprintf(why, wlen, "max abs error %.3g at (%lld,%lld,%lld)", worst, (long long)wi[0],
                 (long long)wi[1], (long long)wi[2]);
done:
    free(out);
    cfp_tensor_free(&in);
    cfp_tensor_free(&ref);
    return ok;
}

SUITE(spline_reference) {
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/tests/fixtures_spline", cfp_test_root());
    snprintf(path, sizeof path, "%s/index.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (cfp_test_wanted("spline_reference")) cfp_test_result("spline_reference", 0, "tests/fixtures_spline/index.txt is missing");
        return;
    }
    cfp_ctx *ctx = NULL;
    if (cfp_ctx_new(&ctx, 1) != 0) {
        fclose(f);
        cfp_test_result("spline_reference", 0, "no context");
        return;
    }
    char line[512];
    int cases = 0;
    double worst[4] = {0, 0, 0, 0};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[128];
        int order;
        long long v[9];
        if (sscanf(line, "%127s %d %lld %lld %lld %lld %lld %lld %lld %lld %lld", name, &order, &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 11) {
            cfp_test_result("spline_reference_index", 0, "malformed line in index.txt");
            continue;
        }
        char cname[200], why[512] = "";
        snprintf(cname, sizeof cname, "spline_ref_%s_o%d", name, order);
        cases++;
        if (!cfp_test_wanted(cname)) continue;
        int64_t din[3] = {v[0], v[1], v[2]}, dout[3] = {v[3], v[4], v[5]}, step[3] = {v[6], v[7], v[8]};
        double err = 0;
        int ok = run_case(ctx, dir, name, order, din, dout, step, why, sizeof why, &err);
        if (order == 1 || order == 3)
            if (err > worst[order]) worst[order] = err;
        cfp_test_result(cname, ok, why);
    }
    fclose(f);
    if (cases == 0) cfp_test_result("spline_reference", 0, "index.txt lists no case");
    if (getenv("CFP_SPLINE_VERBOSE"))
        fprintf(stderr, "spline_reference: %d cases, max abs error order 1 %.3g, order 3 %.3g\n", cases,
                worst[1], worst[3]);
    cfp_ctx_free(ctx);
}

/* SciPy's quirk: 8 -> 26 puts sample 25 at 7.000000000000001, past the edge:
 * cval. The fixture checks it against SciPy; this states it. */
TEST(spline_edge_quirk) {
    float in[8], out[26];
    for (int i = 0; i < 8; i++) in[i] = 1.0f + (float)i;
    int64_t di[3] = {1, 1, 8}, dout[3] = {1, 1, 26};
    CHECK_EQ(cfp_zoom(NULL, in, di, out, dout, 3), 0);
    CHECK_NEAR(out[0], 1.0, 1e-6);
    CHECK(out[24] > 7.0f && out[24] < 8.0f);
    CHECK_EQ(out[25], 0);
    /* 8 -> 25 lands exactly on 7: the last sample is the last input */
    float out2[25];
    int64_t dout2[3] = {1, 1, 25};
    CHECK_EQ(cfp_zoom(NULL, in, di, out2, dout2, 3), 0);
    CHECK_NEAR(out2[24], 8.0, 1e-6);
}

TEST(spline_interpolates) {
    /* order 3 with the pre-filter interpolates: integer positions give the
     * input back (4 -> 7 hits 0, 1, 2, 3 at outputs 0, 2, 4, 6) */
    float in[4] = {0.25f, 0.9f, 0.1f, 0.6f}, out[7];
    int64_t di[3] = {1, 4, 1}, dout[3] = {1, 7, 1};
    for (int order = 1; order <= 3; order += 2) {
        CHECK_EQ(cfp_zoom(NULL, in, di, out, dout, order), 0);
        for (int i = 0; i < 4; i++) CHECK_NEAR(out[2 * i], in[i], 1e-6);
    }
    CHECK_NEAR(out[1], 0.5 * (0.25 + 0.9), 0.2); /* cubic: near the midpoint */
    CHECK_EQ(cfp_zoom(NULL, in, di, out, dout, 1), 0);
    CHECK_NEAR(out[1], 0.5 * (0.25 + 0.9), 1e-6); /* linear: the midpoint */
    /* a constant stays constant (weights sum to 1, gain × filter is 1) */
    float c[2 * 7 * 7], o[16 * 112 * 112];
    for (int i = 0; i < 2 * 7 * 7; i++) c[i] = 0.3f;
    int64_t dc[3] = {2, 7, 7}, doo[3] = {16, 112, 112};
    CHECK_EQ(cfp_zoom(NULL, c, dc, o, doo, 3), 0);
    double lo = 1, hi = 0;
    for (int i = 0; i < 16 * 112 * 112; i++) {
        lo = o[i] < lo ? o[i] : lo;
        hi = o[i] > hi ? o[i] : hi;
    }
    CHECK_NEAR(lo, 0.3, 1e-6);
    CHECK_NEAR(hi, 0.3, 1e-6);
    cfp_normalize(o, doo, 0);
    int bad = 0;
    for (int i = 0; i < 16 * 112 * 112; i++) bad += o[i] != 0.0f;
    CHECK_EQ(bad, 0);
}

TEST(spline_errors) {
    cfp_ctx *ctx = NULL;
    CHECK_EQ(cfp_ctx_new(&ctx, 1), 0);
    float in[8] = {0}, out[8];
    int64_t d[3] = {2, 2, 2}, z[3] = {2, 0, 2}, big[3] = {INT64_MAX / 2, 4, 4};
    CHECK_EQ(cfp_zoom(ctx, in, d, out, d, 2), CFP_E_ARG);
    CHECK(strstr(cfp_errmsg(ctx), "order") != NULL);
    CHECK_EQ(cfp_zoom(ctx, in, d, out, d, 0), CFP_E_ARG);
    CHECK_EQ(cfp_zoom(ctx, in, z, out, d, 3), CFP_E_ARG);
    CHECK_EQ(cfp_zoom(ctx, in, d, out, z, 3), CFP_E_ARG);
    CHECK_EQ(cfp_zoom(ctx, NULL, d, out, d, 3), CFP_E_ARG);
    CHECK_EQ(cfp_zoom(ctx, in, d, NULL, d, 3), CFP_E_ARG);
    CHECK_EQ(cfp_zoom(ctx, in, d, out, big, 3), CFP_E_LIMIT);
    CHECK_EQ(cfp_zoom(ctx, in, big, out, d, 1), CFP_E_LIMIT);
    CHECK_EQ(cfp_zoom(NULL, in, d, out, d, 5), CFP_E_ARG);
    CHECK_EQ(cfp_zoom(ctx, in, d, out, d, 3), 0);
    cfp_ctx_free(ctx);
}

TEST(spline_nonfinite_input) {
    /* NaN or inf do not crash; with order 1 they stay local */
    float in[2 * 3 * 4], out[3 * 5 * 7];
    for (int i = 0; i < 24; i++) in[i] = (float)i / 24;
    in[5] = NAN;
    in[17] = INFINITY;
    int64_t di[3] = {2, 3, 4}, dout[3] = {3, 5, 7};
    CHECK_EQ(cfp_zoom(NULL, in, di, out, dout, 3), 0);
    CHECK_EQ(cfp_zoom(NULL, in, di, out, dout, 1), 0);
    CHECK(out[3 * 5 * 7 - 1] == out[3 * 5 * 7 - 1]); /* far corner: finite for order 1 */
    cfp_normalize(out, dout, 0);
    int nan = 0, out_of_range = 0;
    for (int i = 0; i < 3 * 5 * 7; i++) {
        nan += isnan(out[i]);
        out_of_range += !(out[i] >= 0.0f && out[i] <= 1.0f);
    }
    CHECK_EQ(nan, 0);
    CHECK_EQ(out_of_range, 0);
}

TEST(spline_normalize) {
    /* whole volume */
    float v[2 * 2 * 2] = {1, 2, 3, 5, 5, 5, 5, 5};
    int64_t d[3] = {2, 2, 2};
    cfp_normalize(v, d, 0);
    CHECK_NEAR(v[0], 0, 0);
    CHECK_NEAR(v[1], 0.25, 1e-7);
    CHECK_NEAR(v[2], 0.5, 1e-7);
    CHECK_NEAR(v[3], 1, 0);
    CHECK_NEAR(v[7], 1, 0);
    /* per frame: the second frame is constant -> zeros */
    float w[2 * 2 * 2] = {1, 2, 3, 5, 5, 5, 5, 5};
    cfp_normalize(w, d, 1);
    CHECK_NEAR(w[1], 0.25, 1e-7);
    for (int i = 4; i < 8; i++) CHECK_EQ(w[i], 0);
    /* constant volume, all zeros, rounding noise only -> zeros, never NaN */
    float c[8] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
    cfp_normalize(c, d, 0);
    for (int i = 0; i < 8; i++) CHECK_EQ(c[i], 0);
    float zz[8] = {0};
    cfp_normalize(zz, d, 1);
    for (int i = 0; i < 8; i++) CHECK_EQ(zz[i], 0);
    float noise[8] = {1000.0f, 1000.0f, 1000.00006f, 1000.0f, 1000.0f, 1000.0f, 1000.0f, 1000.0f};
    cfp_normalize(noise, d, 0);
    for (int i = 0; i < 8; i++) CHECK_EQ(noise[i], 0);
    /* small but real range is kept */
    float tiny[8] = {0, 1e-9f, 2e-9f, 4e-9f, 0, 0, 0, 0};
    cfp_normalize(tiny, d, 0);
    CHECK_NEAR(tiny[2], 0.5, 1e-6);
    CHECK_NEAR(tiny[3], 1, 0);
    /* non-finite values: ignored for min/max; NaN, -inf -> 0, +inf -> 1 */
    float nf[8] = {NAN, 1, 3, INFINITY, -INFINITY, 2, NAN, 3};
    cfp_normalize(nf, d, 0);
    CHECK_EQ(nf[0], 0);
    CHECK_EQ(nf[1], 0);
    CHECK_NEAR(nf[5], 0.5, 1e-7);
    CHECK_EQ(nf[2], 1);
    CHECK_EQ(nf[3], 1);
    CHECK_EQ(nf[4], 0);
    CHECK_EQ(nf[6], 0);
    float allnan[8] = {NAN, NAN, INFINITY, NAN, NAN, NAN, NAN, -INFINITY};
    cfp_normalize(allnan, d, 1);
    for (int i = 0; i < 8; i++) CHECK_EQ(allnan[i], 0);
    /* bad dims: nothing happens */
    float keep[2] = {7, 9};
    int64_t bad[3] = {1, 0, 2};
    cfp_normalize(keep, bad, 0);
    cfp_normalize(NULL, d, 0);
    CHECK_EQ(keep[0], 7);
    CHECK_EQ(keep[1], 9);
}
