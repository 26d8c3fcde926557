/* Cubic B-spline and trilinear zoom of a (t, h, w) volume, matching
 * scipy.ndimage.zoom(vol, (T/t, H/h, W/w), order=3 or 1) with SciPy's defaults
 * (mode='constant', cval=0, prefilter=True, grid_mode=False), and min-max
 * normalisation. See include/cfp_render.h.
 *
 * What SciPy does (scipy/ndimage/_interpolation.py `zoom`, src/ni_splines.c,
 * src/ni_interpolation.c `NI_ZoomShift`, 1.6 to 1.10):
 *  - order > 1: spline_filter(input, order, output=float64, mode='constant')
 *    with no pre-padding (only 'nearest' and 'grid-constant' pre-pad). The
 *    1-D filter runs along axes 0, 1, 2 in turn, skipping axes of length 1;
 *    for mode 'constant' the recursive filter is initialised with the exact
 *    mirror-symmetric boundary (_init_causal_mirror / _init_anticausal_mirror),
 *    after scaling by the gain (1-z)(1-1/z), z = sqrt(3)-2.
 *  - per axis: zoom = (n_in-1)/(n_out-1) in double (1 when n_out == 1);
 *    output sample k is at cc = k*zoom. map_coordinate(cc, n_in, CONSTANT)
 *    turns cc < 0 or cc > n_in-1 into -1, which means "cval": so a sample
 *    that rounding puts an ulp past n_in-1 is 0 in SciPy, and here too.
 *  - start = floor(cc) - order/2; the order+1 taps start+j that fall outside
 *    [0, n_in) are mapped by mirror symmetry (the spline boundary mode for
 *    'constant' is mirror), every tap to 0 when n_in == 1; the weights come
 *    from get_spline_interpolation_weights (reproduced below, last weight =
 *    1 - the others).
 *  - the result is accumulated in double and stored as float32.
 * The tensor-product sum is evaluated one axis at a time (w, then h, then t)
 * with the per-axis taps and weights precomputed; only the summation order
 * differs from SciPy's 64-term loop (rounding at the 1e-16 level). */
#include "cfp_render.h"
#include "cfp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAPS 4

typedef struct {
    int64_t n_in, n_out;
    int taps;             /* order + 1 */
    int64_t *idx;         /* n_out * taps input indices, in range */
    double *w;            /* n_out * taps weights */
    unsigned char *zero;  /* n_out: the sample is cval (outside [0, n_in-1]) */
} axis_plan;

/* scipy/ndimage/src/ni_splines.c get_spline_interpolation_weights, orders 1, 3 */
static void spline_weights(double x, int order, double *w) {
    x -= floor(x); /* odd orders */
    if (order == 3) {
        double y = x, z = 1.0 - x;
        w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
        w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
        w[0] = z * z * z / 6.0;
    } else {
        w[0] = 1.0 - x;
    }
    w[order] = 1.0;
    for (int i = 0; i < order; ++i) w[order] -= w[i];
}

/* map_coordinate(i, len, NI_EXTEND_MIRROR) for an integer tap index */
static int64_t mirror_index(int64_t i, int64_t len) {
    if (len <= 1) return 0;
    int64_t s2 = 2 * len - 2;
    if (i < 0) {
        i = s2 * (-i / s2) + i;
        i = i <= 1 - len ? i + s2 : -i;
    } else if (i >= len) {
        i -= s2 * (i / s2);
        if (i >= len) i = s2 - i;
    }
    return i;
}

static void plan_free(axis_plan *p) {
    free(p->idx);
    free(p->w);
    free(p->zero);
    memset(p, 0, sizeof *p);
}

static int plan_axis(axis_plan *p, int64_t n_in, int64_t n_out, int order) {
    p->n_in = n_in;
    p->n_out = n_out;
    p->taps = order + 1;
    p->idx = malloc((size_t)n_out * (size_t)p->taps * sizeof *p->idx);
    p->w = malloc((size_t)n_out * (size_t)p->taps * sizeof *p->w);
    p->zero = malloc((size_t)n_out);
    if (!p->idx || !p->w || !p->zero) return CFP_E_NOMEM;
    /* numpy.divide(in-1, out-1, where=out-1 != 0, out=ones) */
    double zoom = n_out > 1 ? (double)(n_in - 1) / (double)(n_out - 1) : 1.0;
    for (int64_t k = 0; k < n_out; k++) {
        double cc = (double)k * zoom;
        int64_t *ix = p->idx + k * p->taps;
        double *w = p->w + k * p->taps;
        p->zero[k] = (cc < 0 || cc > (double)(n_in - 1));
        if (p->zero[k]) cc = (double)(n_in - 1); /* taps unused; keep them in range */
        int64_t start = (int64_t)floor(cc) - order / 2;
        for (int j = 0; j < p->taps; j++) ix[j] = mirror_index(start + j, n_in);
        spline_weights(cc, order, w);
    }
    return CFP_OK;
}

/* ni_splines.c apply_filter for order 3, mirror boundary, one line of n > 1
 * values with stride s. */
static void prefilter_line(double *c, int64_t n, int64_t s, double *buf) {
    const double z = -0.267949192431122706472553658494127633; /* sqrt(3) - 2 */
    const double gain = (1.0 - z) * (1.0 - 1.0 / z);
    for (int64_t i = 0; i < n; i++) buf[i] = c[i * s] * gain;
    /* _init_causal_mirror */
    double z_i = z;
    const double z_n_1 = pow(z, (double)(n - 1));
    buf[0] = buf[0] + z_n_1 * buf[n - 1];
    for (int64_t i = 1; i < n - 1; ++i) {
        buf[0] += z_i * (buf[i] + z_n_1 * buf[n - 1 - i]);
        z_i *= z;
    }
    buf[0] /= 1 - z_n_1 * z_n_1;
    for (int64_t i = 1; i < n; ++i) buf[i] += z * buf[i - 1];
    /* _init_anticausal_mirror */
    buf[n - 1] = (z * buf[n - 2] + buf[n - 1]) * z / (z * z - 1);
    for (int64_t i = n - 2; i >= 0; --i) buf[i] = z * (buf[i + 1] - buf[i]);
    for (int64_t i = 0; i < n; i++) c[i * s] = buf[i];
}

static void prefilter(double *c, const int64_t d[3], double *buf) {
    for (int a = 0; a < 3; a++) {
        int64_t n = d[a];
        if (n <= 1) continue;
        int64_t outer = 1, inner = 1;
        for (int b = 0; b < a; b++) outer *= d[b];
        for (int b = a + 1; b < 3; b++) inner *= d[b];
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) prefilter_line(c + o * n * inner + i, n, inner, buf);
    }
}

int cfp_zoom(cfp_ctx *ctx, const float *in, const int64_t in_dims[3], float *out,
             const int64_t out_dims[3], int order) {
    if (order != 1 && order != 3)
        return cfp_seterr(ctx, CFP_E_ARG, "zoom: spline order %d is not supported (1 or 3)", order);
    if (!in || !out || !in_dims || !out_dims)
        return cfp_seterr(ctx, CFP_E_ARG, "zoom: NULL argument");
    const int64_t *di = in_dims, *dout = out_dims;
    int64_t n_in = 1, n_out = 1, n_a1 = 1, n_a2 = 1;
    for (int a = 0; a < 3; a++) {
        if (di[a] < 1 || dout[a] < 1)
            return cfp_seterr(ctx, CFP_E_ARG,
                              "zoom: bad size %lldx%lldx%lld -> %lldx%lldx%lld", (long long)di[0],
                              (long long)di[1], (long long)di[2], (long long)dout[0],
                              (long long)dout[1], (long long)dout[2]);
    }
    /* sizes: the input, t*h*W and t*H*W intermediates, the output; in doubles */
    const int64_t lim = (int64_t)(SIZE_MAX / 16 < INT64_MAX / 16 ? SIZE_MAX / 16 : INT64_MAX / 16);
    bool ovf = __builtin_mul_overflow(di[0], di[1], &n_in) ||
               __builtin_mul_overflow(n_in, di[2], &n_in) ||
               __builtin_mul_overflow(dout[0], dout[1], &n_out) ||
               __builtin_mul_overflow(n_out, dout[2], &n_out) ||
               __builtin_mul_overflow(di[0], di[1], &n_a1) ||
               __builtin_mul_overflow(n_a1, dout[2], &n_a1) ||
               __builtin_mul_overflow(di[0], dout[1], &n_a2) ||
               __builtin_mul_overflow(n_a2, dout[2], &n_a2);
    if (ovf || n_in > lim || n_out > lim || n_a1 > lim || n_a2 > lim)
        return cfp_seterr(ctx, CFP_E_LIMIT, "zoom: volume too large");

    int rc = CFP_OK;
    axis_plan pl[3];
    memset(pl, 0, sizeof pl);
    int64_t maxd = 1;
    for (int a = 0; a < 3; a++) maxd = di[a] > maxd ? di[a] : maxd;
    double *c = malloc((size_t)n_in * sizeof *c);
    double *a1 = malloc((size_t)n_a1 * sizeof *a1);
    double *a2 = malloc((size_t)n_a2 * sizeof *a2);
    double *buf = malloc((size_t)maxd * sizeof *buf);
    if (!c || !a1 || !a2 || !buf) {
        rc = CFP_E_NOMEM;
        goto done;
    }
    for (int a = 0; a < 3; a++)
        if ((rc = plan_axis(&pl[a], di[a], dout[a], order)) != CFP_OK) goto done;

    for (int64_t i = 0; i < n_in; i++) c[i] = in[i];
    if (order == 3) prefilter(c, di, buf);

    const int taps = order + 1;
    const int64_t t = di[0], h = di[1], w = di[2];
    const int64_t T = dout[0], H = dout[1], W = dout[2];
    /* along w: c (t, h, w) -> a1 (t, h, W) */
    for (int64_t r = 0; r < t * h; r++) {
        const double *src = c + r * w;
        double *dst = a1 + r * W;
        for (int64_t k = 0; k < W; k++) {
            const int64_t *ix = pl[2].idx + k * taps;
            const double *wt = pl[2].w + k * taps;
            double s = 0;
            for (int j = 0; j < taps; j++) s += wt[j] * src[ix[j]];
            dst[k] = s;
        }
    }
    /* along h: a1 (t, h, W) -> a2 (t, H, W) */
    for (int64_t f = 0; f < t; f++) {
        for (int64_t k = 0; k < H; k++) {
            const int64_t *ix = pl[1].idx + k * taps;
            const double *wt = pl[1].w + k * taps;
            double *dst = a2 + (f * H + k) * W;
            const double *s0 = a1 + (f * h + ix[0]) * W;
            const double *s1 = a1 + (f * h + ix[1]) * W;
            if (taps == 4) {
                const double *s2 = a1 + (f * h + ix[2]) * W;
                const double *s3 = a1 + (f * h + ix[3]) * W;
                for (int64_t x = 0; x < W; x++)
                    dst[x] = wt[0] * s0[x] + wt[1] * s1[x] + wt[2] * s2[x] + wt[3] * s3[x];
            } else {
                for (int64_t x = 0; x < W; x++) dst[x] = wt[0] * s0[x] + wt[1] * s1[x];
            }
        }
    }
    /* along t: a2 (t, H, W) -> out (T, H, W), float32 */
    const int64_t plane = H * W;
    for (int64_t k = 0; k < T; k++) {
        const int64_t *ix = pl[0].idx + k * taps;
        const double *wt = pl[0].w + k * taps;
        float *dst = out + k * plane;
        const double *s0 = a2 + ix[0] * plane;
        const double *s1 = a2 + ix[1] * plane;
        if (taps == 4) {
            const double *s2 = a2 + ix[2] * plane;
            const double *s3 = a2 + ix[3] * plane;
            for (int64_t x = 0; x < plane; x++)
                dst[x] = (float)(wt[0] * s0[x] + wt[1] * s1[x] + wt[2] * s2[x] + wt[3] * s3[x]);
        } else {
            for (int64_t x = 0; x < plane; x++) dst[x] = (float)(wt[0] * s0[x] + wt[1] * s1[x]);
        }
    }
    /* samples outside [0, n_in-1] on any axis are cval = 0 */
    for (int64_t k = 0; k < T; k++) {
        float *fr = out + k * plane;
        if (pl[0].zero[k]) {
            memset(fr, 0, (size_t)plane * sizeof *fr);
            continue;
        }
        for (int64_t y = 0; y < H; y++) {
            float *row = fr + y * W;
            if (pl[1].zero[y]) {
                memset(row, 0, (size_t)W * sizeof *row);
                continue;
            }
            for (int64_t x = 0; x < W; x++)
                if (pl[2].zero[x]) row[x] = 0.0f;
        }
    }

done:
    for (int a = 0; a < 3; a++) plan_free(&pl[a]);
    free(c);
    free(a1);
    free(a2);
    free(buf);
    if (rc == CFP_E_NOMEM) return cfp_seterr(ctx, rc, "zoom: out of memory");
    return rc;
}

/* ---- normalisation ------------------------------------------------------- */

static void normalize_span(float *v, int64_t n) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        if (!isfinite(x)) continue;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
    }
    double range = hi - lo; /* -inf when no finite value */
    double mag = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
    if (!(range > 1e-6 * mag) || !isfinite(range)) {
        /* constant, rounding noise only, or nothing finite */
        for (int64_t i = 0; i < n; i++) v[i] = 0.0f;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        double y;
        if (isnan(x))
            y = 0.0;
        else if (isinf(x))
            y = x > 0 ? 1.0 : 0.0;
        else {
            y = (x - lo) / range;
            y = y < 0.0 ? 0.0 : (y > 1.0 ? 1.0 : y);
        }
        v[i] = (float)y;
    }
}

void cfp_normalize(float *vol, const int64_t dims[3], int per_frame) {
    if (!vol || !dims) return;
    int64_t plane;
    if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1) return;
    if (__builtin_mul_overflow(dims[1], dims[2], &plane)) return;
    int64_t n;
    if (__builtin_mul_overflow(plane, dims[0], &n)) return;
    if (per_frame) {
        for (int64_t f = 0; f < dims[0]; f++) normalize_span(vol + f * plane, plane);
    } else {
        normalize_span(vol, n);
    }
}
