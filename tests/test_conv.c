/* Conv kernels without a graph: the fast paths (im2col + sgemm, depth-wise,
 * pointwise; oneDNN) against the direct reference over random shapes. */
#include "test.h"

#include "ops/conv_kernels.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }
/* uniform in [-1, 1): rnd() has 31 bits (it had [-1, 0) before, where every
 * product of an input and a weight was positive) */
static float rfloat(void) { return (float)((double)rnd() / 1073741824.0 - 1.0); }

static void fill(float *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) p[i] = rfloat();
}

static void describe(const cfp_conv_params *p, int bias, char *buf, size_t len) {
    int o = 3 - p->nsp;
    size_t u = (size_t)snprintf(buf, len, "N=%lld C=%lld M=%lld group=%lld bias=%d",
                                (long long)p->N, (long long)p->C, (long long)p->M,
                                (long long)p->group, bias);
#define ARR(name, a)                                                                   \
    do {                                                                               \
        u += (size_t)snprintf(buf + u, len - u, " " name "=");                         \
        for (int i = o; i < 3; i++)                                                    \
            u += (size_t)snprintf(buf + u, len - u, i > o ? "x%lld" : "%lld", (long long)(a)[i]); \
    } while (0)
    ARR("in", p->in);
    ARR("k", p->k);
    ARR("stride", p->stride);
    ARR("dil", p->dil);
    ARR("pad_b", p->pad_b);
    ARR("pad_e", p->pad_e);
    ARR("out", p->out);
#undef ARR
}

/* Which kernel compare_one checks: ours (cfp_conv_fast), or what the Conv
 * operator runs: oneDNN where it has a fast kernel, else ours. */
static int use_dnnl;
static int dnnl_cases, dnnl_used;

/* Returns the relative max error of fast vs reference (and prints on failure). */
static double compare_one(cfp_pool *pool, const cfp_conv_params *p, int bias, const char *tag) {
    int64_t Cpg = p->C / p->group;
    int64_t xn = p->N * p->C * p->in[0] * p->in[1] * p->in[2];
    int64_t wn = p->M * Cpg * p->k[0] * p->k[1] * p->k[2];
    int64_t yn = p->N * p->M * p->out[0] * p->out[1] * p->out[2];
    float *x = malloc((size_t)xn * 4), *w = malloc((size_t)wn * 4), *b = malloc((size_t)p->M * 4);
    float *y0 = malloc((size_t)yn * 4), *y1 = malloc((size_t)yn * 4);
    fill(x, xn);
    fill(w, wn);
    fill(b, p->M);
    for (int64_t i = 0; i < yn; i++) y1[i] = 1e30f; /* every output must be written */
    cfp_conv_ref(p, x, w, bias ? b : NULL, y0);
    cfp_dnnl_conv *dn = use_dnnl ? cfp_dnnl_conv_new(p, w, bias ? b : NULL, cfp_pool_threads(pool)) : NULL;
    dnnl_cases += use_dnnl;
    dnnl_used += dn != NULL;
    /* oneDNN's way out: every other case also with the fused Relu and the
     * per-channel means of batch item 0 (what the Conv operator asks for) */
    static int alt;
    int fused = dn && (alt++ % 2 == 0);
    float *yr = fused ? malloc((size_t)yn * 4) : NULL, *py = fused ? malloc((size_t)p->M * 4) : NULL,
          *pr = fused ? malloc((size_t)p->M * 4) : NULL;
    for (int64_t i = 0; fused && i < yn; i++) yr[i] = 1e30f;
    int rc = dn ? cfp_dnnl_conv_run(dn, pool, x, y1, yr, py, pr)
                : cfp_conv_fast(pool, p, x, w, bias ? b : NULL, y1);
    cfp_dnnl_conv_free(dn);
    if (fused && rc == CFP_OK) {
        int64_t S = p->out[0] * p->out[1] * p->out[2];
        int bad = 0;
        for (int64_t i = 0; i < yn && !bad; i++)
            if (yr[i] != (y1[i] > 0 ? y1[i] : 0.0f)) bad = 1;
        for (int64_t c = 0; c < p->M && !bad; c++) {
            double s0 = 0, s1 = 0, mag0 = 1;
            for (int64_t q = 0; q < S; q++) {
                double v = y0[c * S + q];
                s0 += v, s1 += v > 0 ? v : 0;
                if (fabs(v) > mag0) mag0 = fabs(v);
            }
            if (fabs(py[c] - s0 / (double)S) > 1e-4 * mag0 || fabs(pr[c] - s1 / (double)S) > 1e-4 * mag0) bad = 2;
        }
        if (bad) {
            char buf[512];
            describe(p, bias, buf, sizeof buf);
            cfp_test_fail_here(__FILE__, __LINE__, "%s (oneDNN, fused Relu and means): %s wrong: %s", tag,
                               bad == 1 ? "Relu output" : "a mean", buf);
        }
    }
    free(yr), free(py), free(pr);
    double maxerr = 0, mag = 1;
    for (int64_t i = 0; i < yn; i++) {
        double e = fabs((double)y0[i] - y1[i]);
        if (!(e <= maxerr)) maxerr = e; /* catches NaN */
        if (fabs(y0[i]) > mag) mag = fabs(y0[i]);
    }
    double rel = maxerr / mag;
    if (rc != CFP_OK || !(rel < 1e-4)) {
        char buf[512];
        describe(p, bias, buf, sizeof buf);
        cfp_test_fail_here(__FILE__, __LINE__, "%s%s: rc=%d rel err %.3g: %s", tag,
                           dn ? " (oneDNN)" : "", rc, rel, buf);
    }
    free(x), free(w), free(b), free(y0), free(y1);
    return rel;
}

/* A random valid problem; returns 0 if the drawn geometry has no output. */
static int random_params(cfp_conv_params *p, int *bias) {
    int nsp = (int)rint_in(1, 3);
    int64_t N = rint_in(1, 2);
    int64_t group, Cpg, Mpg;
    switch (rnd() % 4) {
    case 0: /* depth-wise, sometimes with a channel multiplier */
        group = rint_in(1, 6);
        Cpg = 1;
        Mpg = rnd() % 3 == 0 ? rint_in(2, 3) : 1;
        break;
    case 1: /* grouped */
        group = rint_in(2, 4);
        Cpg = rint_in(1, 4);
        Mpg = rint_in(1, 4);
        break;
    default:
        group = 1;
        Cpg = rint_in(1, 9);
        Mpg = rint_in(1, 9);
    }
    int64_t in[3], k[3], s[3], d[3], pads[6];
    int64_t maxin = nsp == 1 ? 40 : nsp == 2 ? 14 : 8;
    for (int i = 0; i < nsp; i++) {
        in[i] = rint_in(1, maxin);
        k[i] = rint_in(1, nsp == 1 ? 5 : 3);
        s[i] = rnd() % 2 ? 1 : rint_in(2, 3);
        d[i] = rnd() % 3 ? 1 : 2;
        pads[i] = rnd() % 2 ? 0 : rint_in(0, 2);
        pads[nsp + i] = rnd() % 2 ? 0 : rint_in(0, 2);
    }
    int ap = rnd() % 6;
    ap = ap == 1 ? CFP_PAD_SAME_UPPER : ap == 2 ? CFP_PAD_SAME_LOWER : ap == 3 ? CFP_PAD_VALID
                                                                           : CFP_PAD_NOTSET;
    *bias = rnd() % 2;
    return cfp_conv_setup(p, nsp, N, Cpg * group, Mpg * group, group, in, k, s, d, pads, ap) ==
           CFP_OK;
}

static void random_suite(int threads, uint64_t seed, int cases) {
    cfp_pool *pool = cfp_pool_new(threads);
    rng_state = seed;
    int done = 0;
    double worst = 0;
    while (done < cases) {
        cfp_conv_params p;
        int bias;
        if (!random_params(&p, &bias)) continue;
        /* small im2col budgets force panels that cut across rows and planes */
        size_t budgets[3] = {0, 64 * 4 * 16, 4096};
        cfp_conv_tune(budgets[done % 3], 1);
        double e = compare_one(pool, &p, bias, "random");
        if (e > worst) worst = e;
        done++;
    }
    cfp_conv_tune(0, 1);
    cfp_pool_free(pool);
    if (getenv("CFP_TEST_VERBOSE"))
        printf("conv random: %d cases, %d threads, worst rel err %.3g\n", cases, threads, worst);
}

TEST(conv_fast_vs_ref_random_1thread) { random_suite(1, 12345, 150); }
TEST(conv_fast_vs_ref_random_2threads) { random_suite(2, 777, 150); }

/* The same random shapes through oneDNN, where it takes them. */
static void dnnl_suite(int threads, uint64_t seed, int cases) {
    use_dnnl = 1;
    dnnl_cases = dnnl_used = 0;
    random_suite(threads, seed, cases);
    use_dnnl = 0;
    if (getenv("CFP_TEST_VERBOSE"))
        printf("conv oneDNN: %d of %d cases ran in oneDNN\n", dnnl_used, dnnl_cases);
    const char *e = getenv("CFP_CONV");
    if (!e || strcmp(e, "gemm")) CHECK(dnnl_used > dnnl_cases / 4); /* the suite tests oneDNN */
}
TEST(conv_dnnl_vs_ref_random_1thread) { dnnl_suite(1, 4242, 200); }
TEST(conv_dnnl_vs_ref_random_2threads) { dnnl_suite(2, 31337, 200); }
/* tiny slabs: every output plane a oneDNN primitive of its own */
TEST(conv_dnnl_vs_ref_random_slabs) {
    cfp_dnnl_tune(256);
    dnnl_suite(2, 2718, 150);
    cfp_dnnl_tune(0);
}

/* Shapes of the kind real video nets have: larger channels, many panels,
 * the pointwise path, stride-2 1x1x1 downsampling, channel-last-free 3-D. */
TEST(conv_fast_vs_ref_video_shapes) {
    cfp_pool *pool = cfp_pool_new(2);
    rng_state = 99;
    struct {
        int64_t N, C, M, G, in[3], k[3], s[3], pads[6];
    } cases[] = {
        {1, 3, 8, 1, {4, 20, 20}, {3, 7, 7}, {1, 2, 2}, {1, 3, 3, 1, 3, 3}},  /* r3d stem */
        {1, 16, 16, 1, {4, 9, 9}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}},
        {2, 16, 32, 1, {4, 9, 9}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}},  /* pointwise */
        {1, 16, 32, 1, {4, 9, 9}, {1, 1, 1}, {2, 2, 2}, {0, 0, 0, 0, 0, 0}},  /* downsample */
        {1, 24, 24, 24, {4, 9, 9}, {3, 3, 3}, {1, 2, 2}, {1, 1, 1, 1, 1, 1}}, /* depth-wise */
        {1, 12, 12, 1, {3, 8, 8}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1, 0, 1, 1}},  /* (2+1)D spatial */
        {1, 12, 12, 1, {6, 8, 8}, {3, 1, 1}, {1, 1, 1}, {1, 0, 0, 1, 0, 0}},  /* (2+1)D temporal */
        {1, 64, 64, 1, {2, 7, 7}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}},
        /* temporal kd x 1 x 1: GEMMs on the planes (stride, padding, all-padding planes, batch 2) */
        {1, 16, 24, 1, {8, 6, 5}, {3, 1, 1}, {1, 1, 1}, {1, 0, 0, 1, 0, 0}},
        {2, 12, 20, 1, {9, 4, 7}, {7, 1, 1}, {2, 1, 1}, {3, 0, 0, 3, 0, 0}},
        {1, 5, 7, 1, {2, 3, 3}, {3, 1, 1}, {1, 1, 1}, {3, 0, 0, 3, 0, 0}},
        /* ... and as one GEMM over the input unfolded in time (M >= T_out HW) */
        {1, 24, 64, 1, {4, 3, 3}, {3, 1, 1}, {2, 1, 1}, {1, 0, 0, 1, 0, 0}},
        {2, 13, 45, 1, {3, 2, 3}, {3, 1, 1}, {1, 1, 1}, {3, 0, 0, 3, 0, 0}},
        /* oneDNN's way out in whole 16x16 tiles, and with ragged edges */
        {1, 16, 48, 1, {4, 12, 12}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1, 0, 1, 1}},
        {2, 16, 48, 1, {4, 12, 12}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1, 0, 1, 1}},
        {1, 8, 19, 1, {3, 7, 9}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}},
        {1, 8, 300, 1, {2, 5, 5}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1, 0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfp_conv_params p;
        int rc = cfp_conv_setup(&p, 3, cases[i].N, cases[i].C, cases[i].M, cases[i].G, cases[i].in,
                                cases[i].k, cases[i].s, NULL, cases[i].pads, CFP_PAD_NOTSET);
        CHECK_EQ(rc, CFP_OK);
        if (rc) continue;
        compare_one(pool, &p, (int)(i % 2), "video");
        use_dnnl = 1;
        compare_one(pool, &p, (int)(i % 2), "video"); /* twice: with and without the fused Relu */
        compare_one(pool, &p, (int)(i % 2), "video");
        cfp_dnnl_tune(1024); /* as many slabs as output planes (up to 16) */
        compare_one(pool, &p, (int)(i % 2), "video slabs");
        compare_one(pool, &p, (int)(i % 2), "video slabs");
        cfp_dnnl_tune(0);
        use_dnnl = 0;
        cfp_conv_tune(8192, 1); /* many panels */
        compare_one(pool, &p, 1, "video small panels");
        cfp_conv_tune(0, 0); /* serial panels, OpenBLAS threads */
        compare_one(pool, &p, 1, "video blas threads");
        cfp_conv_tune(0, 1);
    }
    /* temporal with dilation 2 in time */
    {
        cfp_conv_params p;
        int64_t in[3] = {9, 4, 5}, k[3] = {3, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {2, 1, 1}, pads[6] = {2, 0, 0, 1, 0, 0};
        CHECK_EQ(cfp_conv_setup(&p, 3, 1, 6, 10, 1, in, k, st, dl, pads, CFP_PAD_NOTSET), CFP_OK);
        CHECK(cfp_conv_is_temporal(&p));
        compare_one(pool, &p, 1, "video temporal dilated");
        int64_t in2[3] = {5, 2, 2};
        CHECK_EQ(cfp_conv_setup(&p, 3, 1, 6, 24, 1, in2, k, st, dl, pads, CFP_PAD_NOTSET), CFP_OK);
        CHECK(cfp_conv_is_temporal(&p) && p.M >= p.out[0] * p.out[1] * p.out[2]);
        compare_one(pool, &p, 0, "video temporal dilated, unfolded");
    }
    cfp_pool_free(pool);
}

/* ONNX's basic conv example: 5x5 ramp, 3x3 ones, pad 1. */
TEST(conv_known_values) {
    float x[25], w[9], y[25];
    for (int i = 0; i < 25; i++) x[i] = (float)i;
    for (int i = 0; i < 9; i++) w[i] = 1.0f;
    cfp_conv_params p;
    int64_t in[2] = {5, 5}, k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
    CHECK_EQ(cfp_conv_setup(&p, 2, 1, 1, 1, 1, in, k, NULL, NULL, pads, CFP_PAD_NOTSET), CFP_OK);
    CHECK_EQ(p.out[1], 5);
    CHECK_EQ(p.out[2], 5);
    static const float expect[25] = {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108,
                                     117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
    CHECK_EQ(cfp_conv_fast(NULL, &p, x, w, NULL, y), CFP_OK);
    for (int i = 0; i < 25; i++) CHECK_NEAR(y[i], expect[i], 1e-4);
    /* without padding, stride 2 */
    int64_t s[2] = {2, 2};
    CHECK_EQ(cfp_conv_setup(&p, 2, 1, 1, 1, 1, in, k, s, NULL, NULL, CFP_PAD_NOTSET), CFP_OK);
    CHECK_EQ(p.out[1], 2);
    CHECK_EQ(cfp_conv_fast(NULL, &p, x, w, NULL, y), CFP_OK);
    CHECK_NEAR(y[0], 54, 1e-4);
    CHECK_NEAR(y[1], 72, 1e-4);
    CHECK_NEAR(y[2], 144, 1e-4);
    CHECK_NEAR(y[3], 162, 1e-4);
}

TEST(conv_window_geometry) {
    int64_t pb, pe;
    /* SAME_UPPER puts the extra pad at the end, SAME_LOWER at the start */
    pb = pe = 0;
    CHECK_EQ(cfp_window_out(CFP_PAD_SAME_UPPER, 0, 5, 4, 1, 1, &pb, &pe), 5);
    CHECK_EQ(pb, 1);
    CHECK_EQ(pe, 2);
    CHECK_EQ(cfp_window_out(CFP_PAD_SAME_LOWER, 0, 5, 4, 1, 1, &pb, &pe), 5);
    CHECK_EQ(pb, 2);
    CHECK_EQ(pe, 1);
    CHECK_EQ(cfp_window_out(CFP_PAD_SAME_UPPER, 0, 7, 3, 2, 1, &pb, &pe), 4);
    CHECK_EQ(pb + pe, 2);
    /* VALID ignores explicit pads */
    pb = pe = 3;
    CHECK_EQ(cfp_window_out(CFP_PAD_VALID, 0, 7, 3, 2, 1, &pb, &pe), 3);
    CHECK_EQ(pb, 0);
    /* ceil mode: 4 + 0 with k 3 s 2 -> 2; a window starting in the right pad is dropped */
    pb = pe = 0;
    CHECK_EQ(cfp_window_out(CFP_PAD_NOTSET, 1, 4, 3, 2, 1, &pb, &pe), 2);
    pb = pe = 1;
    CHECK_EQ(cfp_window_out(CFP_PAD_NOTSET, 1, 5, 2, 2, 1, &pb, &pe), 3);
    pb = 0, pe = 1;
    CHECK_EQ(cfp_window_out(CFP_PAD_NOTSET, 1, 4, 2, 2, 1, &pb, &pe), 2);
    /* kernel bigger than the padded input */
    pb = pe = 0;
    CHECK(cfp_window_out(CFP_PAD_NOTSET, 0, 2, 3, 1, 1, &pb, &pe) < 1);
    /* dilation */
    pb = pe = 0;
    CHECK_EQ(cfp_window_out(CFP_PAD_NOTSET, 0, 10, 3, 1, 2, &pb, &pe), 6);
}
