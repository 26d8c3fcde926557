/* Maps of spec §5: kernel-wise, own and layer-wise maps of a pyramid, and
 * the Saliency Tubes CAM, as (t, h, w) volumes at the resolution of the
 * feature map they come from. Zooming to the clip is spline.c's job. */
#include "cfp_internal.h"

#include <stdlib.h>
#include <string.h>

/* pyramid.c */
int cfp_pyramid_child_channels(cfp_pyramid *p, int node, int64_t **channels, int *n, int *value, int *axis);
int cfp_pyramid_class_weights(cfp_pyramid *p, int node, double **w, int64_t *n, int *value, int *axis); /* *w: a copy, to free */
int cfp_pyramid_trace_back(cfp_model *m, const cfp_node *n, int a);
cfp_model *cfp_pyramid_model(const cfp_pyramid *p);

/* From a value that is a pooled or flattened copy of a feature map (the
 * classifier's input), back to that feature map: channels keep their index
 * through these ops, only the axis moves. */
static void trace_feature_map(cfp_model *m, int *value, int *axis) {
    for (int guard = 0; guard < m->n_nodes; guard++) {
        cfp_value *v = &m->values[*value];
        if (v->producer < 0) return;
        cfp_node *n = &m->nodes[v->producer];
        int a = cfp_pyramid_trace_back(m, n, *axis);
        if (a < 0) return;
        *value = n->in[0];
        *axis = a;
    }
}

/* The (t, h, w) shape of one channel of a value: the axes other than batch
 * and channel; more than three fold into t, fewer pad with 1. */
static int volume_dims(const cfp_value *v, int axis, int64_t dims[3], int64_t *stride) {
    int64_t rest[CFP_MAX_DIMS];
    int nr = 0;
    for (int i = 1; i < v->t.ndim; i++)
        if (i != axis) rest[nr++] = v->t.dims[i];
    dims[0] = dims[1] = dims[2] = 1;
    if (nr == 1) dims[0] = rest[0]; /* a sequence: time */
    if (nr >= 2) {
        dims[1] = rest[nr - 2];
        dims[2] = rest[nr - 1];
        for (int i = 0; i < nr - 2; i++) dims[0] *= rest[i];
    }
    /* channel stride: elements between channel c and c+1 */
    int64_t s = 1;
    for (int i = axis + 1; i < v->t.ndim; i++) s *= v->t.dims[i];
    *stride = s;
    return v->t.dtype == CFP_F32 && v->t.data && axis >= 1 && axis < v->t.ndim ? CFP_OK : CFP_E_UNSUPPORTED;
}

/* acc += weight × channel c of value (batch element 0) */
static void add_channel(const cfp_value *v, int axis, int64_t c, int64_t stride, double weight, float *acc) {
    const float *x = v->t.data;
    int64_t C = v->t.dims[axis], outer = 1;
    for (int i = 1; i < axis; i++) outer *= v->t.dims[i];
    /* layout: [outer][C][stride]; the volume is [outer][stride] */
    for (int64_t o = 0; o < outer; o++) {
        const float *src = x + (o * C + c) * stride;
        float *dst = acc + o * stride;
        for (int64_t i = 0; i < stride; i++) dst[i] += (float)(weight * src[i]);
    }
}

static int new_volume(cfp_ctx *ctx, cfp_volume *out, const int64_t dims[3]) {
    memset(out, 0, sizeof *out);
    memcpy(out->dims, dims, sizeof out->dims);
    out->data = calloc((size_t)(dims[0] * dims[1] * dims[2]) + 1, sizeof(float));
    return out->data ? CFP_OK : cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
}

void cfp_volume_free(cfp_volume *v) {
    if (!v) return;
    free(v->data);
    memset(v, 0, sizeof *v);
}

/* Where channel c of (value, axis) is shown: traced back to a feature map;
 * when that is a channel Concat of pooled vectors (a two-pathway head: the
 * classifier reads the pooled slow and fast features side by side), on into
 * the input that holds the channel, and on to its feature map. */
static void source_of(cfp_model *m, int *value, int *axis, int64_t *c) {
    for (int guard = 0; guard < m->n_nodes; guard++) {
        trace_feature_map(m, value, axis);
        cfp_value *v = &m->values[*value];
        int64_t dims[3], stride;
        if (v->producer < 0 || volume_dims(v, *axis, dims, &stride) || dims[0] * dims[1] * dims[2] != 1) return;
        cfp_node *n = &m->nodes[v->producer];
        if (strcmp(n->op_type, "Concat")) return;
        int64_t ax = cfp_attr_i(n, "axis", 0);
        if (ax < 0) ax += v->t.ndim;
        if (ax != *axis) return;
        int64_t off = 0;
        int next = -1;
        for (int k = 0; k < n->n_in && next < 0; k++) {
            cfp_value *x = cfp_in(m, n, k);
            if (!x) continue;
            if (*c >= off && *c < off + x->t.dims[ax] && !x->is_const) next = x->id;
            else off += x->t.dims[ax];
        }
        if (next < 0) return;
        *value = next;
        *c -= off;
    }
}

/* Mean (or the weighted sum, with w) of the given channels of (value, axis),
 * shown on the feature maps they come from: one volume per feature map, in
 * the order of their first channel. */
static int channels_to_parts(cfp_model *m, int value, int axis, const int64_t *ch, int n, const double *w,
                             cfp_volume **parts_out, int *n_parts) {
    enum { MAX_PARTS = 8 };
    int pv[MAX_PARTS], pa[MAX_PARTS], count[MAX_PARTS], np = 0, rc = CFP_OK;
    int64_t stride[MAX_PARTS];
    *parts_out = NULL;
    *n_parts = 0;
    int *which = malloc(((size_t)n + 1) * sizeof *which);
    int64_t *local = malloc(((size_t)n + 1) * sizeof *local);
    cfp_volume *parts = calloc(MAX_PARTS, sizeof *parts);
    if (!which || !local || !parts) {
        rc = cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int v = value, a = axis;
        int64_t c = ch[i];
        source_of(m, &v, &a, &c);
        int k = 0;
        while (k < np && (pv[k] != v || pa[k] != a)) k++;
        if (k == np) {
            int64_t dims[3];
            if (np == MAX_PARTS) {
                rc = cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "channels come from more than %d feature maps", MAX_PARTS);
                goto out;
            }
            if (volume_dims(&m->values[v], a, dims, &stride[np])) {
                rc = cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "value '%s' has no maps to show", m->values[v].name);
                goto out;
            }
            if ((rc = new_volume(m->ctx, &parts[np], dims))) goto out;
            pv[np] = v, pa[np] = a, count[np] = 0;
            np++;
        }
        which[i] = k;
        local[i] = c;
        count[k]++;
    }
    if (n == 0) { /* no channels: an all-zero map of the feature map */
        int64_t dims[3];
        trace_feature_map(m, &value, &axis);
        if (volume_dims(&m->values[value], axis, dims, &stride[0])) {
            rc = cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "value '%s' has no maps to show", m->values[value].name);
            goto out;
        }
        if ((rc = new_volume(m->ctx, &parts[0], dims))) goto out;
        np = 1;
    }
    for (int k = 0; k < np && n > 0; k++) /* a conv output left lazy by a fused Relu */
        if ((rc = cfp_value_materialize(m, &m->values[pv[k]]))) goto out;
    for (int i = 0; i < n; i++) {
        int k = which[i];
        const cfp_value *v = &m->values[pv[k]];
        if (local[i] >= 0 && local[i] < v->t.dims[pa[k]])
            add_channel(v, pa[k], local[i], stride[k], w ? w[i] : 1.0 / count[k], parts[k].data);
    }
out:
    free(which);
    free(local);
    if (rc) {
        for (int k = 0; parts && k < np; k++) cfp_volume_free(&parts[k]);
        free(parts);
        return rc;
    }
    *parts_out = parts;
    *n_parts = np;
    return CFP_OK;
}

/* The first part only (the single-volume API). */
static int first_part(int rc, cfp_volume *parts, int np, cfp_volume *out) {
    memset(out, 0, sizeof *out);
    if (rc) return rc;
    *out = parts[0];
    for (int k = 1; k < np; k++) cfp_volume_free(&parts[k]);
    free(parts);
    return CFP_OK;
}

void cfp_volumes_free(cfp_volume *parts, int n) {
    for (int k = 0; parts && k < n; k++) cfp_volume_free(&parts[k]);
    free(parts);
}

int cfp_map_kernelwise_parts(cfp_pyramid *p, int node, cfp_volume **parts, int *n_parts) {
    int64_t *ch;
    int n, value, axis;
    *parts = NULL;
    *n_parts = 0;
    int rc = cfp_pyramid_child_channels(p, node, &ch, &n, &value, &axis);
    if (rc) return rc;
    rc = channels_to_parts(cfp_pyramid_model(p), value, axis, ch, n, NULL, parts, n_parts);
    free(ch);
    return rc;
}

int cfp_map_kernelwise(cfp_pyramid *p, int node, cfp_volume *out) {
    cfp_volume *parts;
    int np;
    int rc = cfp_map_kernelwise_parts(p, node, &parts, &np);
    return first_part(rc, parts, np, out);
}

int cfp_map_own(cfp_pyramid *p, int node, cfp_volume *out) {
    cfp_model *m = cfp_pyramid_model(p);
    const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, node);
    if (!nd) return cfp_seterr(m->ctx, CFP_E_ARG, "no pyramid node %d", node);
    cfp_value *y = cfp_out(m, nd->layer, 0);
    int axis = !strcmp(nd->layer->op_type, "MatMul") ? y->t.ndim - 1 : 1;
    int64_t dims[3], stride;
    if (volume_dims(y, axis, dims, &stride) || dims[0] * dims[1] * dims[2] == 1)
        return cfp_map_saliency_tubes(p, out); /* a classifier's own output is one number */
    int rc = cfp_value_materialize(m, y);
    if (!rc) rc = new_volume(m->ctx, out, dims);
    if (!rc) add_channel(y, axis, nd->channel, stride, 1.0, out->data);
    return rc;
}

int cfp_map_layerwise(cfp_pyramid *p, const cfp_node *layer, int level, cfp_volume *out) {
    cfp_model *m = cfp_pyramid_model(p);
    memset(out, 0, sizeof *out);
    int rc = CFP_OK;
    for (int i = 0; i < cfp_pyramid_n_nodes(p) && !rc; i++) {
        const cfp_pyramid_node *nd = cfp_pyramid_node_at(p, i);
        if (nd->layer != layer || nd->level != level) continue;
        cfp_volume own;
        if ((rc = cfp_map_own(p, i, &own))) break;
        if (!out->data) {
            if ((rc = new_volume(m->ctx, out, own.dims))) {
                cfp_volume_free(&own);
                break;
            }
        }
        double w = nd->n_parents > 0 ? nd->n_parents : 1;
        int64_t n = own.dims[0] * own.dims[1] * own.dims[2];
        for (int64_t k = 0; k < n; k++) out->data[k] += (float)(w * own.data[k]);
        cfp_volume_free(&own);
    }
    if (!rc && !out->data) rc = cfp_seterr(m->ctx, CFP_E_ARG, "layer '%s' has no kernels at level %d", layer->name, level);
    if (rc) cfp_volume_free(out);
    return rc;
}

int cfp_map_saliency_tubes_parts(cfp_pyramid *p, cfp_volume **parts, int *n_parts) {
    cfp_model *m = cfp_pyramid_model(p);
    *parts = NULL;
    *n_parts = 0;
    int cls_node = -1;
    for (int i = 0; i < cfp_pyramid_n_nodes(p) && cls_node < 0; i++)
        if (cfp_pyramid_node_at(p, i)->level == 0) cls_node = i;
    if (cls_node < 0) return cfp_seterr(m->ctx, CFP_E_ARG, "the pyramid has no class node");
    double *w;
    int64_t n;
    int value, axis;
    int rc = cfp_pyramid_class_weights(p, cls_node, &w, &n, &value, &axis);
    if (rc) return rc;
    int64_t *ch = malloc(((size_t)n + 1) * sizeof *ch);
    if (!ch) {
        free(w);
        return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) ch[i] = i;
    rc = channels_to_parts(m, value, axis, ch, (int)n, w, parts, n_parts);
    free(ch);
    free(w);
    return rc;
}

int cfp_map_saliency_tubes(cfp_pyramid *p, cfp_volume *out) {
    cfp_volume *parts;
    int np;
    int rc = cfp_map_saliency_tubes_parts(p, &parts, &np);
    return first_part(rc, parts, np, out);
}
