/* cfp — Class Feature Pyramids for 3D-CNN video models.
 *
 * Public API. Every call that can fail returns an int status (CFP_OK == 0,
 * negative on error); the message of the last error on a context is
 * cfp_errmsg(ctx). Handles are opaque; the caller owns what it creates and
 * frees it with the matching *_free call. Model and tensor files are untrusted:
 * the library validates them and never aborts or exits on bad input.
 */
#ifndef CFP_H
#define CFP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CFP_VERSION "0.1.0"
#define CFP_MAX_DIMS 8

/* Status codes: X(name, value, description). */
#define CFP_STATUS_TABLE(X)                                  \
    X(CFP_OK, 0, "ok")                                       \
    X(CFP_E_NOMEM, -1, "out of memory")                      \
    X(CFP_E_IO, -2, "i/o error")                             \
    X(CFP_E_PARSE, -3, "malformed file")                     \
    X(CFP_E_INVALID, -4, "invalid model")                    \
    X(CFP_E_UNSUPPORTED, -5, "unsupported")                  \
    X(CFP_E_SHAPE, -6, "shape mismatch")                     \
    X(CFP_E_ARG, -7, "invalid argument")                     \
    X(CFP_E_LIMIT, -8, "resource limit exceeded")

enum cfp_status {
#define CFP_X_ENUM(name, value, desc) name = value,
    CFP_STATUS_TABLE(CFP_X_ENUM)
#undef CFP_X_ENUM
};

/* Element types use ONNX TensorProto.DataType codes. */
enum cfp_dtype {
    CFP_UNDEFINED = 0,
    CFP_F32 = 1,
    CFP_U8 = 2,
    CFP_I8 = 3,
    CFP_U16 = 4,
    CFP_I16 = 5,
    CFP_I32 = 6,
    CFP_I64 = 7,
    CFP_STRING = 8,
    CFP_BOOL = 9,
    CFP_F16 = 10,
    CFP_F64 = 11,
    CFP_U32 = 12,
    CFP_U64 = 13,
};

/* A dense tensor. `data` is owned by whoever filled it: tensors handed out by
 * the library stay valid until the next run or until the model is freed;
 * tensors created with cfp_tensor_read_pb are freed with cfp_tensor_free. */
typedef struct cfp_tensor {
    int dtype; /* enum cfp_dtype */
    int ndim;
    int64_t dims[CFP_MAX_DIMS];
    void *data;
    size_t nbytes;
    int owned; /* data was malloc'd for this tensor */
} cfp_tensor;

typedef struct cfp_ctx cfp_ctx;
typedef struct cfp_model cfp_model;
typedef struct cfp_value cfp_value;
typedef struct cfp_node cfp_node;

/* ---- context ---------------------------------------------------------- */

/* threads <= 0: one per online core. */
int cfp_ctx_new(cfp_ctx **out, int threads);
void cfp_ctx_free(cfp_ctx *ctx);
const char *cfp_errmsg(const cfp_ctx *ctx);
const char *cfp_status_str(int status);
/* Refuse plans whose tensors would need more than this many bytes (0: the
 * machine's physical memory). */
void cfp_ctx_set_max_memory(cfp_ctx *ctx, uint64_t bytes);
int cfp_ctx_threads(const cfp_ctx *ctx);

/* ---- model ------------------------------------------------------------ */

int cfp_model_load(cfp_ctx *ctx, const char *path, cfp_model **out);
/* The same from bytes in memory (copied; the buffer may be freed after).
 * `name` (may be NULL) stands for the file in messages and cfp_model_path.
 * External data is refused: there is no model folder to resolve it in. */
int cfp_model_load_mem(cfp_ctx *ctx, const void *data, size_t len, const char *name, cfp_model **out);
void cfp_model_free(cfp_model *m);

/* Graph inputs that are not initializers, and graph outputs. */
int cfp_model_n_inputs(const cfp_model *m);
cfp_value *cfp_model_input(const cfp_model *m, int i);
int cfp_model_n_outputs(const cfp_model *m);
cfp_value *cfp_model_output(const cfp_model *m, int i);

int cfp_model_n_values(const cfp_model *m);
cfp_value *cfp_model_value(const cfp_model *m, int i);
cfp_value *cfp_model_find(const cfp_model *m, const char *name);

/* Nodes in topological order. */
int cfp_model_n_nodes(const cfp_model *m);
cfp_node *cfp_model_node(const cfp_model *m, int i);
int64_t cfp_model_opset(const cfp_model *m);
int64_t cfp_model_ir_version(const cfp_model *m);
const char *cfp_model_producer(const cfp_model *m); /* producer_name + version */
/* ModelProto metadata_props: the value for key, or NULL. */
const char *cfp_model_metadata(const cfp_model *m, const char *key);
/* The model file's path as given to cfp_model_load. */
const char *cfp_model_path(const cfp_model *m);

/* Resolve shapes for the given input dims (dynamic axes), fold constant
 * subgraphs and allocate every value. Called by cfp_model_run when needed. */
int cfp_model_plan(cfp_model *m, int n_inputs, const cfp_tensor *inputs);
/* The same without allocating: every value gets its dtype and dims (for
 * `cfp info`, MAC counts). The model must be planned again before a run. */
int cfp_model_infer_shapes(cfp_model *m, int n_inputs, const cfp_tensor *inputs);
/* Bytes held by activations of the current plan. */
uint64_t cfp_model_activation_bytes(const cfp_model *m);

/* Run the graph. Inputs bind to cfp_model_input(m, i) in order. Every
 * intermediate value is kept and its per-channel mean computed. */
int cfp_model_run(cfp_model *m, int n_inputs, const cfp_tensor *inputs);
/* keep = 0: plain inference, as other runtimes do it: intermediate values
 * share memory once their last consumer has run and no per-channel means are
 * computed, so only the graph outputs are valid after a run (cfp_pyramid_build
 * refuses).
 * keep = 1 (the default) restores the behaviour above. Takes effect at the
 * next plan. */
void cfp_model_set_keep(cfp_model *m, int keep);

/* ---- values ----------------------------------------------------------- */

const char *cfp_value_name(const cfp_value *v);
/* Data and shape after a plan or run. Initializers always have data. */
const cfp_tensor *cfp_value_tensor(const cfp_value *v);
int cfp_value_is_const(const cfp_value *v);
/* Per-channel spatio-temporal mean of batch element 0 (axis 1 is the channel
 * axis); for a (N, C) value the vector itself. NULL when not a feature map. */
const float *cfp_value_pooled(const cfp_value *v, int64_t *n_channels);
cfp_node *cfp_value_producer(const cfp_value *v);
/* Type and shape declared in the model (graph inputs/outputs): returns the
 * rank (-1 unknown); dims[i] = -1 for a dynamic axis, named by params[i]. */
int cfp_value_declared(const cfp_value *v, int *dtype, int64_t *dims, const char **params);
int cfp_value_n_consumers(const cfp_value *v);
cfp_node *cfp_value_consumer(const cfp_value *v, int i);

/* ---- nodes ------------------------------------------------------------ */

const char *cfp_node_name(const cfp_node *n);
const char *cfp_node_op(const cfp_node *n);
/* The name the method reports: the node's name, or its first output's name
 * when the model gave the node none. */
const char *cfp_node_layer_name(const cfp_node *n);
int cfp_node_n_inputs(const cfp_node *n);
cfp_value *cfp_node_input(const cfp_node *n, int i); /* NULL if omitted */
int cfp_node_n_outputs(const cfp_node *n);
cfp_value *cfp_node_output(const cfp_node *n, int i);
/* Attribute lookups; return 0 if present, -1 if absent or of another type. */
int cfp_node_attr_int(const cfp_node *n, const char *name, int64_t *out);
int cfp_node_attr_float(const cfp_node *n, const char *name, float *out);
/* Copies up to max ints; returns the count, or -1 if absent. */
int cfp_node_attr_ints(const cfp_node *n, const char *name, int64_t *out, int max);

/* ---- Class Feature Pyramids (../shared/spec/cfp-method.md, docs/method.md) -- */

typedef struct cfp_pyramid cfp_pyramid;

typedef struct {
    double theta;     /* children need a min-max score >= theta (default 0.6) */
    int depth;        /* number of back-steps (default 3) */
    int max_children; /* keep the best K children of each kernel; 0: all */
    int class_index;  /* -1: the arg-max of the logits */
} cfp_pyramid_params;

/* A kernel (layer, channel) in the pyramid. */
typedef struct {
    int id;
    int level;              /* 0: the class node */
    const cfp_node *layer;  /* Conv, Gemm or MatMul */
    int64_t channel;        /* output channel; the class index at level 0 */
    double pooled_activation;
    int n_parents;          /* its number of connections */
} cfp_pyramid_node;

typedef struct {
    int parent, child;      /* node ids */
    double score;           /* min-max score of the child channel, in [theta, 1] */
    double contribution;    /* pooled weight × pooled activation (× BatchNorm factor) */
    int64_t via_channel;    /* the parent layer's input channel the edge came through */
} cfp_pyramid_edge;

void cfp_pyramid_params_default(cfp_pyramid_params *p);
/* The class scores of the last run: the first output, or the input of a
 * trailing Softmax. */
int cfp_model_logits(cfp_model *m, const float **logits, int64_t *n_classes);
/* Build the pyramid of the last cfp_model_run. Warnings (a walk stopped at
 * an op that mixes channels in an undefined way) are kept with the pyramid. */
int cfp_pyramid_build(cfp_model *m, const cfp_pyramid_params *params, cfp_pyramid **out);
void cfp_pyramid_free(cfp_pyramid *p);
int cfp_pyramid_class(const cfp_pyramid *p);
double cfp_pyramid_class_prob(const cfp_pyramid *p);
double cfp_pyramid_class_logit(const cfp_pyramid *p);
const cfp_pyramid_params *cfp_pyramid_get_params(const cfp_pyramid *p);
/* Nodes in order of level, then discovery; edges grouped by parent. */
int cfp_pyramid_n_nodes(const cfp_pyramid *p);
const cfp_pyramid_node *cfp_pyramid_node_at(const cfp_pyramid *p, int i);
int cfp_pyramid_n_edges(const cfp_pyramid *p);
const cfp_pyramid_edge *cfp_pyramid_edge_at(const cfp_pyramid *p, int i);
int cfp_pyramid_n_warnings(const cfp_pyramid *p);
const char *cfp_pyramid_warning(const cfp_pyramid *p, int i);

/* Maps of spec §5 as (t, h, w) volumes at the resolution of the feature map
 * they come from (free with cfp_volume_free). The pyramid's model must still
 * hold the run's activations. */
typedef struct {
    float *data;
    int64_t dims[3]; /* t, h, w */
} cfp_volume;
/* Mean of the activation maps of the node's children (its selected input
 * channels); for the class node, an unweighted thresholded CAM. */
int cfp_map_kernelwise(cfp_pyramid *p, int node, cfp_volume *out);
/* The kernel's own output channel (the CAM for a classifier's class node). */
int cfp_map_own(cfp_pyramid *p, int node, cfp_volume *out);
/* Σ over the layer's kernels at `level` of their own maps × their number of
 * connections. */
int cfp_map_layerwise(cfp_pyramid *p, const cfp_node *layer, int level, cfp_volume *out);
/* Saliency Tubes: Σ_c w_class[c] · A[c] over the feature map feeding the
 * classifier. */
int cfp_map_saliency_tubes(cfp_pyramid *p, cfp_volume *out);
void cfp_volume_free(cfp_volume *v);
/* A map whose channels live on feature maps of different shapes — a
 * two-pathway (SlowFast) head, where the classifier reads the pooled slow and
 * fast features side by side — comes in parts, one per feature map, in the
 * order of their channels; the functions above return the first part. Free
 * with cfp_volumes_free. */
int cfp_map_kernelwise_parts(cfp_pyramid *p, int node, cfp_volume **parts, int *n_parts);
int cfp_map_saliency_tubes_parts(cfp_pyramid *p, cfp_volume **parts, int *n_parts);
void cfp_volumes_free(cfp_volume *parts, int n_parts);

/* ---- tensors ---------------------------------------------------------- */

size_t cfp_dtype_size(int dtype);
const char *cfp_dtype_name(int dtype);
int64_t cfp_tensor_numel(const cfp_tensor *t);
/* Read/write one TensorProto (.pb, the ONNX test-data format). *name, if
 * non-NULL, receives a malloc'd copy of the tensor name (may be ""). */
int cfp_tensor_read_pb(cfp_ctx *ctx, const char *path, cfp_tensor *t, char **name);
int cfp_tensor_write_pb(cfp_ctx *ctx, const char *path, const cfp_tensor *t, const char *name);
void cfp_tensor_free(cfp_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
