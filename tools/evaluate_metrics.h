/* The metrics of cfp evaluate (tools/cmd_evaluate.c) as small pure functions,
 * header-only so that tests/test_evaluate.c checks them directly. */
#ifndef CFP_EVALUATE_METRICS_H
#define CFP_EVALUATE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Pointing game: the arg-max of a w×h map (the first in raster order on a
 * tie) is a hit when a mask pixel lies within `tol` pixels of it (Euclidean
 * distance to the nearest mask pixel <= tol). Returns 1 (hit), 0 (miss), or
 * -1 when the mask is empty (the frame does not count). */
static inline int eval_pointing_hit(const float *map, const uint8_t *mask, int w, int h, int tol) {
    size_t n = (size_t)w * (size_t)h, best = 0;
    int any = 0;
    for (size_t i = 0; i < n && !any; i++) any = mask[i] != 0;
    if (!any) return -1;
    for (size_t i = 1; i < n; i++)
        if (map[i] > map[best]) best = i;
    int bx = (int)(best % (size_t)w), by = (int)(best / (size_t)w);
    for (int dy = -tol; dy <= tol; dy++) {
        int y = by + dy;
        if (y < 0 || y >= h) continue;
        for (int dx = -tol; dx <= tol; dx++) {
            int x = bx + dx;
            if (x < 0 || x >= w || dx * dx + dy * dy > tol * tol) continue;
            if (mask[(size_t)y * (size_t)w + (size_t)x]) return 1;
        }
    }
    return 0;
}

/* Energy share: adds Σ map over mask pixels to *in and Σ map to *total
 * (the share is *in / *total once every frame is added). */
static inline void eval_energy_add(const float *map, const uint8_t *mask, size_t n, double *in, double *total) {
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        b += map[i];
        if (mask[i]) a += map[i];
    }
    *in += a;
    *total += b;
}

/* Area under the curve p[0..steps] sampled at k = 0, 1/steps, ..., 1
 * (trapezoid rule). */
static inline double eval_auc(const double *p, int steps) {
    if (steps < 1) return p[0];
    double s = 0;
    for (int k = 0; k < steps; k++) s += 0.5 * (p[k] + p[k + 1]);
    return s / steps;
}

/* Voxels in decreasing saliency; equal values in raster order. */
typedef struct {
    float v;
    int32_t i;
} eval_ranked;

static inline int eval_by_saliency(const void *a, const void *b) {
    const eval_ranked *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* order[0..n) = voxel indices of map by decreasing value. */
static inline void eval_order(const float *map, size_t n, eval_ranked *order) {
    for (size_t i = 0; i < n; i++) order[i] = (eval_ranked){map[i], (int32_t)i};
    qsort(order, n, sizeof *order, eval_by_saliency);
}

/* The number of voxels changed at step k of `steps`: round(k/steps · n). */
static inline size_t eval_count(size_t n, int k, int steps) {
    return (size_t)(((double)n * k) / steps + 0.5);
}

#endif
