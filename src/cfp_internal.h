/* Internal structures shared by the loader, the engine and the operators. */
#ifndef CFP_INTERNAL_H
#define CFP_INTERNAL_H

#include "cfp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cfp_pool cfp_pool;

struct cfp_ctx {
    bool poison; /* fill new activations with NaN (CFP_POISON=1): catches ops that leave outputs unwritten */
    int threads;
    cfp_pool *pool;
    uint64_t max_memory;
    char err[1024];
};

/* ONNX AttributeProto.AttributeType */
enum {
    CFP_ATTR_FLOAT = 1,
    CFP_ATTR_INT = 2,
    CFP_ATTR_STRING = 3,
    CFP_ATTR_TENSOR = 4,
    CFP_ATTR_GRAPH = 5,
    CFP_ATTR_FLOATS = 6,
    CFP_ATTR_INTS = 7,
    CFP_ATTR_STRINGS = 8,
};

typedef struct cfp_attr {
    char *name;
    int type;
    float f;
    int64_t i;
    char *s; /* NUL-terminated copy */
    size_t slen;
    float *floats;
    int64_t *ints;
    int n; /* count of floats / ints */
    cfp_tensor t;
} cfp_attr;

struct cfp_value {
    cfp_model *model; /* set when the graph is finalised */
    char *name;
    int id;
    cfp_tensor t;    /* dtype + dims always; data after plan (const) or run */
    bool is_const;   /* initializer, Constant output or folded at plan time */
    bool is_init;    /* graph initializer (weights: view into the model file) */
    bool is_input;   /* graph input that is not an initializer */
    bool is_output;  /* graph output */
    int producer;    /* node index, -1 for inputs and initializers */
    int *consumers;  /* node indices */
    int n_consumers;
    /* declared type from ValueInfoProto (inputs/outputs); -1 = dynamic dim */
    int decl_dtype;
    int decl_ndim; /* -1: unknown rank */
    int64_t decl_dims[CFP_MAX_DIMS];
    char *decl_params[CFP_MAX_DIMS]; /* dim_param names or NULL */
    /* per-channel mean of batch 0 over all axes > 1 (see cfp_value_pooled) */
    float *pooled;
    int64_t n_pooled;
    /* A conv weight that oneDNN holds reordered (cfp_weight_release): the
     * mean over the kernel taps of each (output, input) slot, what the
     * pyramid needs of it, or NULL; and whether t.data's pages (a copy in
     * the model's arena) were given back, to be copied again from the file
     * by cfp_value_restore before anything reads them. */
    /* Data not written by the last run: a conv output whose only reader, a
     * Relu fused into the conv, got max(y, 0) directly. cfp_value_materialize
     * computes it when something asks (a map, cfp_value_tensor). */
    bool lazy;
    float *tap_means; /* float: a 3x3x3 conv's means are 7 % of its weights' bytes, not 15 % */
    int64_t n_tap_means;
    bool dropped;
};

typedef struct cfp_op cfp_op;

struct cfp_node {
    cfp_model *model; /* set when the graph is finalised */
    char *name; /* never NULL: exporters' name, or "<op>_<index>" */
    bool unnamed; /* the model gave no name (name was made up) */
    char *op_type;
    char *domain;
    int index; /* position in m->nodes (topological order after load) */
    int *in;   /* value ids; -1 for an omitted optional input */
    int n_in;
    int *out;
    int n_out;
    cfp_attr *attrs;
    int n_attrs;
    const cfp_op *op;
    int opset;   /* opset version of the node's domain */
    void *state; /* op-private, created by prepare, freed by release */
    bool folded; /* computed at plan time: all inputs constant */
    bool skip_run;    /* this run, the node before computed it (a Relu fused into a Conv) */
    bool pooled_done; /* this run, the op computed its outputs' pooled activations */
};

struct cfp_model {
    cfp_ctx *ctx;
    char *path;
    char *dir; /* folder of the model file, for external data */
    /* the mapped model file; initializer data points into it */
    void *map;
    size_t map_len;
    bool map_is_file; /* a read-only file mapping (not cfp_model_load_mem's copy):
                       * its pages can be dropped and come back from the file */
    /* external data files mapped for initializers */
    void **ext_maps;
    size_t *ext_lens;
    int n_ext;
    /* copies of initializers whose data is misaligned in the file: one
     * region, reserved at the file's size, backed by huge pages */
    uint8_t *arena;
    size_t arena_len, arena_used;
    struct cfp_arena_src { size_t at, n, file_off; } *arena_src; /* where each copy came from */
    int n_arena_src, cap_arena_src;
    int fd; /* the model file while loading, else -1 */
    int64_t ir_version;
    int64_t opset; /* default ("" / "ai.onnx") domain */
    char *producer;
    char *graph_name;
    /* ModelProto.metadata_props */
    char **meta_keys, **meta_values;
    int n_meta;
    cfp_value *values;
    int n_values;
    cfp_node *nodes;
    int n_nodes;
    int *inputs; /* value ids of non-initializer graph inputs */
    int n_inputs;
    int *outputs;
    int n_outputs;
    /* name -> value id, open addressing */
    int *hash;
    int hash_cap;
    /* plan */
    bool planned;
    bool warmed; /* the nodes' warm hooks have run for this plan */
    int64_t plan_dims[8][CFP_MAX_DIMS]; /* input dims the plan was made for */
    int plan_ndim[8];
    uint64_t activation_bytes;
    /* per-layer data of the pyramid (pooled weights), built on first use */
    void *layer_cache;
    void (*layer_cache_free)(void *);
    /* one region for every value the run computes (the allocation plan) */
    uint8_t *act_arena;
    size_t act_arena_len;
    /* cfp_model_set_keep(m, 0): values share arena memory by liveness and no
     * per-channel means are computed (plain inference, for benchmarks) */
    bool keep_none;
};

/* Per-op lifecycle, chosen at load by op name and opset.
 * prepare: at load; read and validate attributes, create node->state.
 * reshape: at plan; set every output's dtype and dims from the inputs'
 *          (constant inputs have data). Must validate shapes fully: run may
 *          assume they are consistent.
 * run:     compute outputs; the engine has allocated output data.
 * release: free node->state. */
struct cfp_op {
    const char *name;
    int since; /* lowest opset supported */
    int (*prepare)(cfp_model *m, cfp_node *n);
    int (*reshape)(cfp_model *m, cfp_node *n);
    int (*run)(cfp_model *m, cfp_node *n);
    void (*release)(cfp_node *n);
    /* optional: once per plan, before the first run of any node (conv:
     * weights reordered for oneDNN and given back while the activations are
     * not resident yet, so the two copies never add to the peak) */
    int (*warm)(cfp_model *m, cfp_node *n);
    /* optional: compute the outputs this node left lazy in the last run */
    int (*materialize)(cfp_model *m, cfp_node *n);
};

/* engine.c: the data of a lazy value, computed again from the kept inputs
 * of its producer (CFP_OK at once for any other value) */
int cfp_value_materialize(cfp_model *m, cfp_value *v);

/* engine.c: drop the activations of the current plan */
void cfp_model_release_plan(cfp_model *m);

/* ops/shape.c: effective start and step of a Slice node along `axis` */
int cfp_slice_axis(cfp_model *m, cfp_node *n, int axis, int64_t *start, int64_t *step);

/* ops/registry.c */
const cfp_op *cfp_op_find(const char *name);
int cfp_op_count(void);
const cfp_op *cfp_op_at(int i);

/* ---- means and released weights (engine.c) ----------------------------- */
/* Sum of x[0..n) in blocks of 4096 (16 float lanes each, the blocks added in
 * double): how every per-channel mean (cfp_value_pooled) is summed. */
double cfp_sum_f32(const float *x, int64_t n);
/* ops/eltwise.c: y = max(y, 0) over N x C rows of S, with the per-channel
 * means of batch item 0 before (pooled_pre) and after (pooled_post) */
void cfp_relu_inplace_means(cfp_pool *pool, float *y, int64_t N, int64_t C, int64_t S, float *pooled_pre,
                            float *pooled_post);
/* out[i] = mean of w[i * taps .. i * taps + taps) in double (pooled weights) */
void cfp_tap_means(const float *w, int64_t rows, int64_t taps, float *out);
/* A conv weight that oneDNN has reordered: keep its tap means, give its
 * pages back (only an initializer with this one consumer; see cfp_value). */
void cfp_weight_release(cfp_model *m, cfp_value *w, int64_t taps);
/* Copy a released weight back from the model file (no-op if not released). */
int cfp_value_restore(cfp_model *m, cfp_value *v);

/* ---- errors (util.c) -------------------------------------------------- */
int cfp_seterr(cfp_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "node 'NAME' (OP): ..." */
int cfp_node_fail(cfp_model *m, const cfp_node *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- attributes (util.c) ---------------------------------------------- */
const cfp_attr *cfp_attr_get(const cfp_node *n, const char *name);
int64_t cfp_attr_i(const cfp_node *n, const char *name, int64_t dflt);
float cfp_attr_f(const cfp_node *n, const char *name, float dflt);
const char *cfp_attr_s(const cfp_node *n, const char *name, const char *dflt);
/* Returns count (0..max) or -1 if absent. More than max: -2. */
int cfp_attr_ints(const cfp_node *n, const char *name, int64_t *out, int max);

/* ---- values of a node --------------------------------------------------- */
static inline cfp_value *cfp_in(cfp_model *m, const cfp_node *n, int i) {
    return (i < n->n_in && n->in[i] >= 0) ? &m->values[n->in[i]] : NULL;
}
static inline cfp_value *cfp_out(cfp_model *m, const cfp_node *n, int i) {
    return (i < n->n_out && n->out[i] >= 0) ? &m->values[n->out[i]] : NULL;
}

/* ---- tensors (util.c) ------------------------------------------------- */
/* Set dtype and dims, checking the element count and byte size for
 * overflow; does not allocate. */
int cfp_tensor_shape(cfp_tensor *t, int dtype, int ndim, const int64_t *dims);
int cfp_tensor_alloc(cfp_tensor *t); /* zeroed, 64-byte aligned, owned */
int cfp_tensor_alloc_uninit(cfp_tensor *t); /* the same, not zeroed */
void *cfp_aligned_alloc_uninit(size_t bytes);
void cfp_tensor_release(cfp_tensor *t); /* frees data if owned, keeps shape */
bool cfp_same_shape(const cfp_tensor *a, const cfp_tensor *b);
/* "1x3x16x112x112" into buf */
const char *cfp_shape_str(const cfp_tensor *t, char *buf, size_t len);
/* Read element i of an integer or float tensor as int64 / double. */
int64_t cfp_tensor_get_i64(const cfp_tensor *t, int64_t i);
double cfp_tensor_get_f64(const cfp_tensor *t, int64_t i);
/* Write element i of a tensor of any numeric dtype, converted as by a C
 * cast; bool stores v != 0. set_f64 into an integer dtype truncates toward
 * zero and saturates at the int64 range (NaN gives 0). */
void cfp_tensor_set_i64(cfp_tensor *t, int64_t i, int64_t v);
void cfp_tensor_set_f64(cfp_tensor *t, int64_t i, double v);

void *cfp_aligned_alloc(size_t bytes); /* 64-byte aligned, zeroed; free() */
/* Zeroed, on huge pages when >= 1 MB (2 MB-aligned mmap); cfp_big_free with
 * the same size */
void *cfp_big_alloc(size_t bytes);
void cfp_big_free(void *p, size_t bytes);
char *cfp_strdup(const char *s);

/* ---- threads (pool.c) ------------------------------------------------- */
/* fn is called with disjoint [begin, end) ranges covering [0, n), and the
 * index of the worker (0..threads-1) for per-thread scratch. */
typedef void (*cfp_range_fn)(void *arg, int64_t begin, int64_t end, int tid);
cfp_pool *cfp_pool_new(int threads);
void cfp_pool_free(cfp_pool *p);
int cfp_pool_threads(const cfp_pool *p);
/* grain: minimum items per chunk. Runs inline when n <= grain or 1 thread. */
void cfp_parallel_for(cfp_pool *p, int64_t n, int64_t grain, cfp_range_fn fn, void *arg);

/* ---- TensorProto (onnx.c) --------------------------------------------- */
/* Decode a TensorProto from buf. If `view` is true, raw_data that is
 * suitably aligned is referenced in place (owned = 0) instead of copied.
 * `dir`, if non-NULL, allows external data relative to that folder; mapped
 * external files are recorded in m (if non-NULL). */
int cfp_tensor_decode(cfp_ctx *ctx, cfp_model *m, const uint8_t *buf, size_t len, bool view,
                      cfp_tensor *t, char **name, const char *what);
/* Encode as TensorProto with raw_data; caller frees *out. */
int cfp_tensor_encode(cfp_ctx *ctx, const cfp_tensor *t, const char *name, uint8_t **out,
                      size_t *len);

/* Whether a value's data can be read while planning (in an op's reshape):
 * constants (initializers, Constant outputs, folded values) and the graph
 * inputs bound for this plan. Other values only have shapes at plan time. */
static inline bool cfp_has_data(const cfp_value *v) {
    return v && v->t.data && (v->is_const || v->is_input);
}

#endif
