/* Animated GIF writer (giflib): one global palette per file from Wu's colour
 * quantiser refined by k-means, exact nearest-colour mapping with optional
 * ordered dither, frame differencing with a transparent index, NETSCAPE2.0
 * looping. */
#include "out_internal.h"

#include <errno.h>
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Wu's colour quantiser (X. Wu, Graphics Gems II, 1991) ------------------
 * A 33^3 table of cumulative colour moments over 5-bit cells (index 0 is the
 * zero border); boxes are split where the variance drops most. */

#define WU_SIDE 33
#define WU_IDX(r, g, b) (((r) * WU_SIDE + (g)) * WU_SIDE + (b))
#define WU_CELLS (WU_SIDE * WU_SIDE * WU_SIDE)

typedef struct {
    int64_t *wt, *mr, *mg, *mb;
    double *m2;
} wu_moments;

typedef struct {
    int r0, r1, g0, g1, b0, b1; /* (r0, r1] etc. */
    int vol;
} wu_box;

enum { WU_RED, WU_GREEN, WU_BLUE };

static int64_t wu_vol(const wu_box *c, const int64_t *m) {
    return m[WU_IDX(c->r1, c->g1, c->b1)] - m[WU_IDX(c->r1, c->g1, c->b0)] - m[WU_IDX(c->r1, c->g0, c->b1)] +
           m[WU_IDX(c->r1, c->g0, c->b0)] - m[WU_IDX(c->r0, c->g1, c->b1)] + m[WU_IDX(c->r0, c->g1, c->b0)] +
           m[WU_IDX(c->r0, c->g0, c->b1)] - m[WU_IDX(c->r0, c->g0, c->b0)];
}

static double wu_vol_d(const wu_box *c, const double *m) {
    return m[WU_IDX(c->r1, c->g1, c->b1)] - m[WU_IDX(c->r1, c->g1, c->b0)] - m[WU_IDX(c->r1, c->g0, c->b1)] +
           m[WU_IDX(c->r1, c->g0, c->b0)] - m[WU_IDX(c->r0, c->g1, c->b1)] + m[WU_IDX(c->r0, c->g1, c->b0)] +
           m[WU_IDX(c->r0, c->g0, c->b1)] - m[WU_IDX(c->r0, c->g0, c->b0)];
}

/* The part of wu_vol that does not depend on the box's upper bound in dir. */
static int64_t wu_bottom(const wu_box *c, int dir, const int64_t *m) {
    switch (dir) {
    case WU_RED:
        return -m[WU_IDX(c->r0, c->g1, c->b1)] + m[WU_IDX(c->r0, c->g1, c->b0)] + m[WU_IDX(c->r0, c->g0, c->b1)] -
               m[WU_IDX(c->r0, c->g0, c->b0)];
    case WU_GREEN:
        return -m[WU_IDX(c->r1, c->g0, c->b1)] + m[WU_IDX(c->r1, c->g0, c->b0)] + m[WU_IDX(c->r0, c->g0, c->b1)] -
               m[WU_IDX(c->r0, c->g0, c->b0)];
    default:
        return -m[WU_IDX(c->r1, c->g1, c->b0)] + m[WU_IDX(c->r1, c->g0, c->b0)] + m[WU_IDX(c->r0, c->g1, c->b0)] -
               m[WU_IDX(c->r0, c->g0, c->b0)];
    }
}

/* The rest of wu_vol with the upper bound in dir replaced by pos. */
static int64_t wu_top(const wu_box *c, int dir, int pos, const int64_t *m) {
    switch (dir) {
    case WU_RED:
        return m[WU_IDX(pos, c->g1, c->b1)] - m[WU_IDX(pos, c->g1, c->b0)] - m[WU_IDX(pos, c->g0, c->b1)] +
               m[WU_IDX(pos, c->g0, c->b0)];
    case WU_GREEN:
        return m[WU_IDX(c->r1, pos, c->b1)] - m[WU_IDX(c->r1, pos, c->b0)] - m[WU_IDX(c->r0, pos, c->b1)] +
               m[WU_IDX(c->r0, pos, c->b0)];
    default:
        return m[WU_IDX(c->r1, c->g1, pos)] - m[WU_IDX(c->r1, c->g0, pos)] - m[WU_IDX(c->r0, c->g1, pos)] +
               m[WU_IDX(c->r0, c->g0, pos)];
    }
}

static double wu_var(const wu_moments *M, const wu_box *c) {
    double dr = (double)wu_vol(c, M->mr), dg = (double)wu_vol(c, M->mg), db = (double)wu_vol(c, M->mb);
    double w = (double)wu_vol(c, M->wt);
    if (w <= 0) return 0;
    return wu_vol_d(c, M->m2) - (dr * dr + dg * dg + db * db) / w;
}

static double wu_maximize(const wu_moments *M, const wu_box *c, int dir, int first, int last, int *cut,
                          int64_t whole_r, int64_t whole_g, int64_t whole_b, int64_t whole_w) {
    int64_t base_r = wu_bottom(c, dir, M->mr), base_g = wu_bottom(c, dir, M->mg);
    int64_t base_b = wu_bottom(c, dir, M->mb), base_w = wu_bottom(c, dir, M->wt);
    double best = 0;
    *cut = -1;
    for (int i = first; i < last; i++) {
        int64_t hr = base_r + wu_top(c, dir, i, M->mr), hg = base_g + wu_top(c, dir, i, M->mg);
        int64_t hb = base_b + wu_top(c, dir, i, M->mb), hw = base_w + wu_top(c, dir, i, M->wt);
        if (hw == 0) continue;
        double t = ((double)hr * hr + (double)hg * hg + (double)hb * hb) / (double)hw;
        hr = whole_r - hr, hg = whole_g - hg, hb = whole_b - hb, hw = whole_w - hw;
        if (hw == 0) continue;
        t += ((double)hr * hr + (double)hg * hg + (double)hb * hb) / (double)hw;
        if (t > best) best = t, *cut = i;
    }
    return best;
}

static int wu_cut(const wu_moments *M, wu_box *s1, wu_box *s2) {
    int64_t wr = wu_vol(s1, M->mr), wg = wu_vol(s1, M->mg), wb = wu_vol(s1, M->mb), ww = wu_vol(s1, M->wt);
    int cr, cg, cb;
    double maxr = wu_maximize(M, s1, WU_RED, s1->r0 + 1, s1->r1, &cr, wr, wg, wb, ww);
    double maxg = wu_maximize(M, s1, WU_GREEN, s1->g0 + 1, s1->g1, &cg, wr, wg, wb, ww);
    double maxb = wu_maximize(M, s1, WU_BLUE, s1->b0 + 1, s1->b1, &cb, wr, wg, wb, ww);
    int dir;
    if (maxr >= maxg && maxr >= maxb) {
        dir = WU_RED;
        if (cr < 0) return 0; /* the box cannot be split */
    } else if (maxg >= maxr && maxg >= maxb)
        dir = WU_GREEN;
    else
        dir = WU_BLUE;
    s2->r1 = s1->r1, s2->g1 = s1->g1, s2->b1 = s1->b1;
    switch (dir) {
    case WU_RED:
        s2->r0 = s1->r1 = cr, s2->g0 = s1->g0, s2->b0 = s1->b0;
        break;
    case WU_GREEN:
        s2->g0 = s1->g1 = cg, s2->r0 = s1->r0, s2->b0 = s1->b0;
        break;
    default:
        s2->b0 = s1->b1 = cb, s2->r0 = s1->r0, s2->g0 = s1->g0;
        break;
    }
    s1->vol = (s1->r1 - s1->r0) * (s1->g1 - s1->g0) * (s1->b1 - s1->b0);
    s2->vol = (s2->r1 - s2->r0) * (s2->g1 - s2->g0) * (s2->b1 - s2->b0);
    return 1;
}

/* Up to k colours for the pixels; returns how many (>= 1), or -1 (no memory). */
static int wu_quantize(const uint8_t *px, size_t n_px, int k, uint8_t pal[][3]) {
    wu_moments M;
    M.wt = calloc(WU_CELLS, sizeof *M.wt);
    M.mr = calloc(WU_CELLS, sizeof *M.mr);
    M.mg = calloc(WU_CELLS, sizeof *M.mg);
    M.mb = calloc(WU_CELLS, sizeof *M.mb);
    M.m2 = calloc(WU_CELLS, sizeof *M.m2);
    wu_box *box = malloc((size_t)k * sizeof *box);
    double *vv = malloc((size_t)k * sizeof *vv);
    int got = -1;
    if (!M.wt || !M.mr || !M.mg || !M.mb || !M.m2 || !box || !vv) goto done;
    /* histogram (sums of squares are exact in doubles below 2^53) */
    for (size_t i = 0; i < n_px; i++) {
        int r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2];
        size_t c = WU_IDX((r >> 3) + 1, (g >> 3) + 1, (b >> 3) + 1);
        M.wt[c]++, M.mr[c] += r, M.mg[c] += g, M.mb[c] += b;
        M.m2[c] += (double)(r * r + g * g + b * b);
    }
    /* cumulative moments */
    {
        int64_t area[WU_SIDE], area_r[WU_SIDE], area_g[WU_SIDE], area_b[WU_SIDE];
        double area2[WU_SIDE];
        for (int r = 1; r < WU_SIDE; r++) {
            for (int i = 0; i < WU_SIDE; i++) area[i] = area_r[i] = area_g[i] = area_b[i] = 0, area2[i] = 0;
            for (int g = 1; g < WU_SIDE; g++) {
                int64_t line = 0, line_r = 0, line_g = 0, line_b = 0;
                double line2 = 0;
                for (int b = 1; b < WU_SIDE; b++) {
                    size_t i1 = WU_IDX(r, g, b), i2 = WU_IDX(r - 1, g, b);
                    line += M.wt[i1], line_r += M.mr[i1], line_g += M.mg[i1], line_b += M.mb[i1];
                    line2 += M.m2[i1];
                    area[b] += line, area_r[b] += line_r, area_g[b] += line_g, area_b[b] += line_b;
                    area2[b] += line2;
                    M.wt[i1] = M.wt[i2] + area[b], M.mr[i1] = M.mr[i2] + area_r[b];
                    M.mg[i1] = M.mg[i2] + area_g[b], M.mb[i1] = M.mb[i2] + area_b[b];
                    M.m2[i1] = M.m2[i2] + area2[b];
                }
            }
        }
    }
    box[0].r0 = box[0].g0 = box[0].b0 = 0;
    box[0].r1 = box[0].g1 = box[0].b1 = WU_SIDE - 1;
    box[0].vol = (WU_SIDE - 1) * (WU_SIDE - 1) * (WU_SIDE - 1);
    int nb = k, next = 0;
    for (int i = 1; i < k; i++) {
        if (wu_cut(&M, &box[next], &box[i])) {
            vv[next] = box[next].vol > 1 ? wu_var(&M, &box[next]) : 0;
            vv[i] = box[i].vol > 1 ? wu_var(&M, &box[i]) : 0;
        } else {
            vv[next] = 0;
            i--;
        }
        next = 0;
        double t = vv[0];
        for (int j = 1; j <= i; j++)
            if (vv[j] > t) t = vv[j], next = j;
        if (t <= 0) {
            nb = i + 1;
            break;
        }
    }
    got = 0;
    for (int i = 0; i < nb; i++) {
        int64_t w = wu_vol(&box[i], M.wt);
        if (w <= 0) continue;
        pal[got][0] = (uint8_t)((wu_vol(&box[i], M.mr) + w / 2) / w);
        pal[got][1] = (uint8_t)((wu_vol(&box[i], M.mg) + w / 2) / w);
        pal[got][2] = (uint8_t)((wu_vol(&box[i], M.mb) + w / 2) / w);
        got++;
    }
    if (got == 0) pal[0][0] = pal[0][1] = pal[0][2] = 0, got = 1;
done:
    free(M.wt), free(M.mr), free(M.mg), free(M.mb), free(M.m2), free(box), free(vv);
    return got;
}

/* ---- nearest palette colour -------------------------------------------------
 * Exact (squared Euclidean RGB, ties to the lower palette index): the palette
 * sorted by green, searched outward from the query's green until the green
 * distance alone exceeds the best; a direct-mapped cache of recent colours. */

#define CACHE_BITS 16

typedef struct {
    int n;
    uint8_t col[256][3]; /* sorted by green */
    uint8_t idx[256];    /* palette index of col[i] */
    int g_start[257];    /* first sorted entry with green >= v (v = 0..256) */
    uint32_t *cache;     /* (rgb << 8 | index) + 1; 0 = empty */
} nearest;

static int nearest_init(nearest *s, const uint8_t pal[][3], int n) {
    s->n = n;
    int order[256];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort by green, then index */
        int v = order[i], j = i;
        while (j > 0 && pal[order[j - 1]][1] > pal[v][1]) order[j] = order[j - 1], j--;
        order[j] = v;
    }
    for (int i = 0; i < n; i++) {
        memcpy(s->col[i], pal[order[i]], 3);
        s->idx[i] = (uint8_t)order[i];
    }
    int j = 0;
    for (int v = 0; v <= 256; v++) {
        while (j < n && s->col[j][1] < v) j++;
        s->g_start[v] = j;
    }
    s->cache = calloc((size_t)1 << CACHE_BITS, sizeof *s->cache);
    return s->cache ? 0 : -1;
}

static int nearest_search(const nearest *s, int r, int g, int b) {
    int best = INT32_MAX, bi = 0, bidx = 256;
    int mid = s->g_start[g];
    int lo = mid - 1, hi = mid;
    while (lo >= 0 || hi < s->n) {
        if (hi < s->n) {
            int dg = s->col[hi][1] - g;
            if (dg * dg > best)
                hi = s->n;
            else {
                int dr = s->col[hi][0] - r, db = s->col[hi][2] - b;
                int d = dr * dr + dg * dg + db * db;
                if (d < best || (d == best && s->idx[hi] < bidx)) best = d, bi = hi, bidx = s->idx[hi];
                hi++;
            }
        }
        if (lo >= 0) {
            int dg = g - s->col[lo][1];
            if (dg * dg > best)
                lo = -1;
            else {
                int dr = s->col[lo][0] - r, db = s->col[lo][2] - b;
                int d = dr * dr + dg * dg + db * db;
                if (d < best || (d == best && s->idx[lo] < bidx)) best = d, bi = lo, bidx = s->idx[lo];
                lo--;
            }
        }
    }
    return s->idx[bi];
}

static inline int nearest_find(nearest *s, int r, int g, int b) {
    uint32_t key = (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
    uint32_t h = (key * 2654435761u) >> (32 - CACHE_BITS);
    uint32_t e = s->cache[h];
    if (e && ((e - 1) >> 8) == key) return (int)((e - 1) & 0xff);
    int i = nearest_search(s, r, g, b);
    s->cache[h] = ((key << 8) | (uint32_t)i) + 1;
    return i;
}

/* ---- k-means refinement --------------------------------------------------------
 * Lloyd iterations over a 6-bit-per-channel histogram (cell counts and colour
 * sums): each palette colour moves to the mean of the cells nearest to it. */

typedef struct {
    uint32_t count;
    uint32_t sum[3];
} kcell;

static int kmeans_refine(const uint8_t *px, size_t n_px, uint8_t pal[][3], int n, int iters) {
    const size_t side = 64, cells = side * side * side;
    /* 64-bit sums would be needed past 2^24 pixels per cell; scale counts by
     * sampling every `step`-th pixel so that sums stay below 2^32 */
    size_t step = n_px / ((size_t)1 << 23) + 1;
    kcell *h = calloc(cells, sizeof *h);
    if (!h) return -1;
    for (size_t i = 0; i < n_px; i += step) {
        const uint8_t *p = px + 3 * i;
        kcell *c = &h[((size_t)(p[0] >> 2) * side + (p[1] >> 2)) * side + (p[2] >> 2)];
        c->count++, c->sum[0] += p[0], c->sum[1] += p[1], c->sum[2] += p[2];
    }
    size_t n_occ = 0;
    for (size_t c = 0; c < cells; c++)
        if (h[c].count) h[n_occ++] = h[c];
    for (int it = 0; it < iters; it++) {
        nearest s;
        if (nearest_init(&s, pal, n)) {
            free(h);
            return -1;
        }
        double acc[256][4];
        memset(acc, 0, sizeof acc);
        for (size_t c = 0; c < n_occ; c++) {
            const kcell *k = &h[c];
            double w = k->count;
            int r = (int)((k->sum[0] + k->count / 2) / k->count), g = (int)((k->sum[1] + k->count / 2) / k->count),
                b = (int)((k->sum[2] + k->count / 2) / k->count);
            int j = nearest_search(&s, r, g, b);
            acc[j][0] += k->sum[0], acc[j][1] += k->sum[1], acc[j][2] += k->sum[2], acc[j][3] += w;
        }
        free(s.cache);
        int moved = 0;
        for (int j = 0; j < n; j++) {
            if (acc[j][3] <= 0) continue;
            for (int ch = 0; ch < 3; ch++) {
                int v = (int)lrint(acc[j][ch] / acc[j][3]);
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                if (v != pal[j][ch]) moved = 1;
                pal[j][ch] = (uint8_t)v;
            }
        }
        if (!moved) break;
    }
    free(h);
    return 0;
}

/* The distinct colours, in order of appearance, when there are at most k
 * (k < 256); -1 when there are more. */
static int exact_palette(const uint8_t *px, size_t n_px, int k, uint8_t pal[][3]) {
    uint32_t tab[1024] = {0}; /* rgb + 1; 0 = empty */
    int cnt = 0;
    for (size_t i = 0; i < n_px; i++) {
        const uint8_t *p = px + 3 * i;
        uint32_t key = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        uint32_t h = (key * 2654435761u) >> 22;
        while (tab[h] && tab[h] != key + 1) h = (h + 1) & 1023;
        if (tab[h]) continue;
        if (cnt == k) return -1;
        tab[h] = key + 1;
        memcpy(pal[cnt++], p, 3);
    }
    return cnt;
}

/* ---- writing --------------------------------------------------------------------- */

static const uint8_t bayer8[8][8] = {
    {0, 32, 8, 40, 2, 34, 10, 42},  {48, 16, 56, 24, 50, 18, 58, 26}, {12, 44, 4, 36, 14, 46, 6, 38},
    {60, 28, 52, 20, 62, 30, 54, 22}, {3, 35, 11, 43, 1, 33, 9, 41},  {51, 19, 59, 27, 49, 17, 57, 25},
    {15, 47, 7, 39, 13, 45, 5, 37},  {63, 31, 55, 23, 61, 29, 53, 21},
};

/* Dither amplitude in 8-bit levels (offsets span about +-DITHER_AMP/2). */
#define DITHER_AMP 12

typedef struct {
    FILE *fp;
    int failed, err; /* a write failed; its errno */
} gif_sink;

static int sink_write(GifFileType *gif, const GifByteType *buf, int len) {
    gif_sink *s = gif->UserData;
    if (len <= 0) return len;
    if (fwrite(buf, 1, (size_t)len, s->fp) != (size_t)len) {
        s->failed = 1, s->err = errno;
        return 0;
    }
    return len;
}

static int clamp255(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

int cfp_write_gif(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h, double fps) {
    return cfp_write_gif_opts(ctx, path, frames, n, w, h, fps, NULL);
}

int cfp_write_gif_opts(cfp_ctx *ctx, const char *path, const uint8_t *frames, int n, int w, int h,
                       double fps, const cfp_gif_opts *opts) {
    int rc = cfp_out_check(ctx, "gif", path, frames, n, w, h, fps, 1);
    if (rc) return rc;
    int colors = opts && opts->colors ? opts->colors : 256;
    int dither = opts ? opts->dither : 0;
    if (colors < 2 || colors > 256)
        return cfp_seterr(ctx, CFP_E_ARG, "%s: palette size %d not in 2..256", path, colors);
    if (dither != 0 && dither != 1) return cfp_seterr(ctx, CFP_E_ARG, "%s: unknown dither mode %d", path, dither);

    const size_t plane = (size_t)w * h, n_px = plane * (size_t)n;
    uint8_t pal[256][3];
    memset(pal, 0, sizeof pal);
    uint8_t *idx = malloc(n_px);
    uint8_t *line = malloc((size_t)w);
    nearest near;
    near.cache = NULL;
    if (!idx || !line) goto nomem;
    int k = exact_palette(frames, n_px, colors - 1, pal);
    if (k > 0)
        dither = 0; /* every colour is in the palette: the frames are kept exactly */
    else if ((k = wu_quantize(frames, n_px, colors - 1, pal)) < 0 || kmeans_refine(frames, n_px, pal, k, 3))
        goto nomem;
    if (nearest_init(&near, pal, k)) goto nomem;
    const int transparent = k; /* the entry after the colours */

    /* map every pixel */
    for (int f = 0; f < n; f++) {
        const uint8_t *src = frames + (size_t)f * plane * 3;
        uint8_t *dst = idx + (size_t)f * plane;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                const uint8_t *p = src + ((size_t)y * w + x) * 3;
                int r = p[0], g = p[1], b = p[2];
                if (dither) {
                    int o = ((int)bayer8[y & 7][x & 7] * 2 - 63) * DITHER_AMP / 128;
                    r = clamp255(r + o), g = clamp255(g + o), b = clamp255(b + o);
                }
                dst[(size_t)y * w + x] = (uint8_t)nearest_find(&near, r, g, b);
            }
        }
    }
    free(near.cache);
    near.cache = NULL;

    /* the colour table: a power of two of at least k + 1 entries */
    int bits = 1;
    while ((1 << bits) < k + 1) bits++;
    GifColorType table[256];
    memset(table, 0, sizeof table);
    for (int i = 0; i < k; i++) table[i].Red = pal[i][0], table[i].Green = pal[i][1], table[i].Blue = pal[i][2];
    ColorMapObject *cmap = GifMakeMapObject(1 << bits, table);
    if (!cmap) goto nomem;

    char tmp[4096];
    int fd;
    if ((rc = cfp_out_tmp_create(ctx, path, tmp, sizeof tmp, &fd))) {
        GifFreeMapObject(cmap);
        free(idx), free(line);
        return rc;
    }
    gif_sink sink = {fdopen(fd, "wb"), 0, 0};
    if (!sink.fp) {
        close(fd);
        unlink(tmp);
        GifFreeMapObject(cmap);
        goto nomem;
    }
    int gerr = 0;
    const char *what = NULL;
    GifFileType *gif = EGifOpen(&sink, sink_write, &gerr);
    if (!gif) {
        what = GifErrorString(gerr);
        goto fail;
    }
    EGifSetGifVersion(gif, true);
    if (EGifPutScreenDesc(gif, w, h, bits, 0, cmap) == GIF_ERROR) goto gif_fail;
    /* loop forever: NETSCAPE2.0, sub-block 1, loop count 0 */
    static const GifByteType app[11] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
    static const GifByteType loop[3] = {1, 0, 0};
    if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, sizeof app, app) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, sizeof loop, loop) == GIF_ERROR || EGifPutExtensionTrailer(gif) == GIF_ERROR)
        goto gif_fail;

    for (int f = 0; f < n; f++) {
        const uint8_t *cur = idx + (size_t)f * plane, *prev = f ? cur - plane : NULL;
        int x0 = 0, y0 = 0, x1 = w - 1, y1 = h - 1; /* inclusive box */
        if (prev) {
            x0 = w, y0 = h, x1 = -1, y1 = -1;
            for (int y = 0; y < h; y++) {
                const uint8_t *a = cur + (size_t)y * w, *b = prev + (size_t)y * w;
                if (!memcmp(a, b, (size_t)w)) continue;
                if (y < y0) y0 = y;
                y1 = y;
                int l = 0, r = w - 1;
                while (a[l] == b[l]) l++;
                while (a[r] == b[r]) r--;
                if (l < x0) x0 = l;
                if (r > x1) x1 = r;
            }
            if (y1 < 0) x0 = y0 = x1 = y1 = 0; /* no change: one transparent pixel */
        }
        int64_t t0 = llround(100.0 * f / fps), t1 = llround(100.0 * (f + 1) / fps);
        int64_t delay = t1 - t0;
        if (delay < 2) delay = 2;
        if (delay > 65535) delay = 65535;
        GraphicsControlBlock gcb = {DISPOSE_DO_NOT, false, (int)delay, prev ? transparent : NO_TRANSPARENT_COLOR};
        GifByteType ext[4];
        EGifGCBToExtension(&gcb, ext);
        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR) goto gif_fail;
        int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
        if (EGifPutImageDesc(gif, x0, y0, bw, bh, false, NULL) == GIF_ERROR) goto gif_fail;
        for (int y = y0; y <= y1; y++) {
            const uint8_t *a = cur + (size_t)y * w;
            const uint8_t *b = prev ? prev + (size_t)y * w : NULL;
            for (int x = x0; x <= x1; x++) line[x - x0] = (b && a[x] == b[x]) ? (uint8_t)transparent : a[x];
            if (EGifPutLine(gif, line, bw) == GIF_ERROR) goto gif_fail;
        }
    }
    if (EGifCloseFile(gif, &gerr) == GIF_ERROR) {
        gif = NULL;
        what = sink.failed ? strerror(sink.err) : GifErrorString(gerr);
        goto fail;
    }
    gif = NULL;
    if (sink.failed || fflush(sink.fp) != 0 || ferror(sink.fp)) {
        what = strerror(sink.failed ? sink.err : errno);
        goto fail;
    }
    if (fclose(sink.fp) != 0) {
        sink.fp = NULL;
        what = strerror(errno);
        goto fail;
    }
    sink.fp = NULL;
    GifFreeMapObject(cmap);
    free(idx), free(line);
    return cfp_out_commit(ctx, tmp, path);

gif_fail:
    what = sink.failed ? strerror(sink.err) : GifErrorString(gif->Error);
    EGifCloseFile(gif, &gerr);
fail:
    if (sink.fp) fclose(sink.fp);
    unlink(tmp);
    GifFreeMapObject(cmap);
    free(idx), free(line);
    return cfp_seterr(ctx, CFP_E_IO, "%s: %s", path, what ? what : "gif encoder failed");

nomem:
    free(near.cache);
    free(idx), free(line);
    return cfp_seterr(ctx, CFP_E_NOMEM, "%s: out of memory", path);
}
