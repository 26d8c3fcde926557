/* Maps of spec §5: kernel-wise, own and layer-wise maps of a pyramid, and
 * the Saliency Tubes CAM, as (t, h, w) volumes at the resolution of the
 * feature map they come from. Zooming to the clip is spline.c's job. */
#include "cfp_internal.h"

#include <stdlib.h>
#include <string.h>

/* pyramid.c */
int cfp_pyramid_child_channels(cfp_pyramid *p, int node, int64_t **channels, int *n, int *value, int *axis);
int cfp_pyramid_class_weights(cfp_pyramid *p, int node, const double **w, int64_t *n, int *value, int *axis);
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

/* Mean of the given channels of (value, axis), traced back to a feature map. */
static int mean_of_channels(cfp_model *m, int value, int axis, const int64_t *ch, int n, const double *w,
                            cfp_volume *out) {
    trace_feature_map(m, &value, &axis);
    cfp_value *v = &m->values[value];
    int64_t dims[3], stride;
    if (volume_dims(v, axis, dims, &stride))
        return cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "value '%s' has no maps to show", v->name);
    int rc = new_volume(m->ctx, out, dims);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        if (ch[i] >= 0 && ch[i] < v->t.dims[axis]) add_channel(v, axis, ch[i], stride, w ? w[i] : 1.0 / n, out->data);
    return CFP_OK;
}

int cfp_map_kernelwise(cfp_pyramid *p, int node, cfp_volume *out) {
    int64_t *ch;
    int n, value, axis;
    int rc = cfp_pyramid_child_channels(p, node, &ch, &n, &value, &axis);
    if (rc) return rc;
    rc = mean_of_channels(cfp_pyramid_model(p), value, axis, ch, n, NULL, out);
    free(ch);
    return rc;
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
    int rc = new_volume(m->ctx, out, dims);
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

int cfp_map_saliency_tubes(cfp_pyramid *p, cfp_volume *out) {
    cfp_model *m = cfp_pyramid_model(p);
    int cls_node = -1;
    for (int i = 0; i < cfp_pyramid_n_nodes(p) && cls_node < 0; i++)
        if (cfp_pyramid_node_at(p, i)->level == 0) cls_node = i;
    if (cls_node < 0) return cfp_seterr(m->ctx, CFP_E_ARG, "the pyramid has no class node");
    const double *w;
    int64_t n;
    int value, axis;
    int rc = cfp_pyramid_class_weights(p, cls_node, &w, &n, &value, &axis);
    if (rc) return rc;
    int64_t *ch = malloc(((size_t)n + 1) * sizeof *ch);
    if (!ch) return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) ch[i] = i;
    rc = mean_of_channels(m, value, axis, ch, (int)n, w, out);
    free(ch);
    return rc;
}
