/* Plan and run: shapes are resolved for the actual input, constant
 * subgraphs (exporters' Shape → Gather → Concat → Reshape chains) are folded
 * once, every value gets its own buffer (the method needs them all), and each
 * feature map's per-channel mean is computed right after its node runs. */
#include "cfp_internal.h"

#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- context ---------------------------------------------------------- */

int cfp_ctx_new(cfp_ctx **out, int threads) {
    *out = NULL;
    cfp_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return CFP_E_NOMEM;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > 256) threads = 256;
    ctx->threads = threads;
    const char *poison = getenv("CFP_POISON");
    ctx->poison = poison && *poison && strcmp(poison, "0") != 0;
    ctx->pool = cfp_pool_new(threads);
    if (!ctx->pool) {
        free(ctx);
        return CFP_E_NOMEM;
    }
    ctx->threads = cfp_pool_threads(ctx->pool);
    *out = ctx;
    return CFP_OK;
}

void cfp_ctx_free(cfp_ctx *ctx) {
    if (!ctx) return;
    cfp_pool_free(ctx->pool);
    free(ctx);
}

const char *cfp_errmsg(const cfp_ctx *ctx) { return ctx ? ctx->err : "no context"; }
void cfp_ctx_set_max_memory(cfp_ctx *ctx, uint64_t bytes) { ctx->max_memory = bytes; }
int cfp_ctx_threads(const cfp_ctx *ctx) { return ctx->threads; }

static uint64_t max_memory(const cfp_ctx *ctx) {
    if (ctx->max_memory) return ctx->max_memory;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : UINT64_MAX;
}

/* ---- per-channel means ------------------------------------------------ */

__attribute__((target_clones("avx512f", "avx2", "default")))
double cfp_sum_f32(const float *x, int64_t n) {
    double total = 0;
    for (int64_t b = 0; b < n; b += 4096) {
        int64_t e = b + 4096 < n ? b + 4096 : n, i = b;
        float acc[16] = {0};
        for (; i + 16 <= e; i += 16)
            for (int j = 0; j < 16; j++) acc[j] += x[i + j];
        float s = 0;
        for (int j = 0; j < 16; j++) s += acc[j];
        for (; i < e; i++) s += x[i];
        total += s;
    }
    return total;
}

typedef struct {
    const float *x;
    float *out;
    int64_t spatial;
} pool_job;

static void pooled_range(void *arg, int64_t b, int64_t e, int tid) {
    pool_job *j = arg;
    for (int64_t c = b; c < e; c++)
        j->out[c] = (float)(cfp_sum_f32(j->x + c * j->spatial, j->spatial) / (double)j->spatial);
}

static bool is_feature(const cfp_value *v) { return v->t.dtype == CFP_F32 && v->t.ndim >= 2; }

static void compute_pooled(cfp_model *m, cfp_value *v) {
    if (!is_feature(v) || !v->pooled || !v->t.data) return;
    int64_t c = v->t.dims[1], s = 1;
    for (int i = 2; i < v->t.ndim; i++) s *= v->t.dims[i];
    if (c == 0) return;
    if (s == 0) {
        memset(v->pooled, 0, (size_t)c * sizeof(float));
        return;
    }
    pool_job j = {v->t.data, v->pooled, s};
    cfp_parallel_for(m->ctx->pool, c, s >= 16384 ? 1 : 16384 / s + 1, pooled_range, &j);
}

/* Memory for a value: from the plan's arena when given, else its own. */
static int alloc_value(cfp_model *m, cfp_value *v, uint8_t *at) {
    if (at) {
        cfp_tensor_release(&v->t);
        v->t.data = at;
    } else if (cfp_tensor_alloc(&v->t)) {
        return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory allocating '%s' (%zu bytes)", v->name, v->t.nbytes);
    }
    free(v->pooled);
    v->pooled = NULL;
    v->n_pooled = 0;
    /* an empty value has no means; its dims[1] alone is not bounded by the
     * memory limit (0 x 2^40 holds nothing), so nothing is allocated for it */
    if (!m->keep_none && is_feature(v) && v->t.dims[1] > 0 && v->t.nbytes > 0) {
        v->pooled = calloc((size_t)v->t.dims[1], sizeof(float));
        if (!v->pooled) return cfp_seterr(m->ctx, CFP_E_NOMEM, "out of memory");
        v->n_pooled = v->t.dims[1];
    }
    return CFP_OK;
}

/* ---- placement ------------------------------------------------------------ */

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* Every computed value its own memory, in node order. Returns the size. */
static size_t place_in_order(cfp_model *m, size_t *offs) {
    size_t at = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        for (int k = 0; !n->folded && k < n->n_out; k++) {
            cfp_value *v = cfp_out(m, n, k);
            if (!v) continue;
            offs[v->id] = at;
            at += ALIGN64(v->t.nbytes);
        }
    }
    return at;
}

/* Values whose lifetimes (producer .. last consumer; graph outputs to the
 * end) overlap get disjoint memory; each value takes the lowest offset that
 * fits among those it overlaps (first fit, quadratic in the node count,
 * which is a few hundred). An output never shares memory with an input of
 * its own node, since both are alive at that node. Returns the size, or
 * SIZE_MAX when out of memory. */
static size_t place_by_liveness(cfp_model *m, size_t *offs) {
    int nv = m->n_values;
    int *def = malloc((size_t)nv * sizeof *def), *last = malloc((size_t)nv * sizeof *last);
    int *order = malloc((size_t)nv * sizeof *order), *live = malloc((size_t)nv * sizeof *live);
    size_t total = SIZE_MAX;
    if (!def || !last || !order || !live) goto out;
    int n_order = 0;
    for (int i = 0; i < nv; i++) def[i] = last[i] = -1;
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        if (n->folded) continue;
        for (int k = 0; k < n->n_in; k++) {
            cfp_value *v = cfp_in(m, n, k);
            if (v && def[v->id] >= 0) last[v->id] = i;
        }
        for (int k = 0; k < n->n_out; k++) {
            cfp_value *v = cfp_out(m, n, k);
            if (!v) continue;
            def[v->id] = last[v->id] = i;
            order[n_order++] = v->id;
        }
    }
    for (int i = 0; i < m->n_outputs; i++)
        if (def[m->outputs[i]] >= 0) last[m->outputs[i]] = m->n_nodes;
    total = 0;
    for (int a = 0; a < n_order; a++) {
        int v = order[a];
        size_t need = ALIGN64(m->values[v].t.nbytes);
        /* placed values alive at the same time, by offset */
        int nl = 0;
        for (int b = 0; b < a; b++) {
            int u = order[b];
            if (def[u] <= last[v] && def[v] <= last[u]) {
                int j = nl++;
                while (j > 0 && offs[live[j - 1]] > offs[u]) live[j] = live[j - 1], j--;
                live[j] = u;
            }
        }
        size_t at = 0;
        for (int j = 0; j < nl; j++) {
            size_t s = offs[live[j]], e = s + ALIGN64(m->values[live[j]].t.nbytes);
            if (s >= at + need) break;
            if (e > at) at = e;
        }
        offs[v] = at;
        if (at + need > total) total = at + need;
    }
out:
    free(def);
    free(last);
    free(order);
    free(live);
    return total;
}

void cfp_model_set_keep(cfp_model *m, int keep) {
    if (m->keep_none == !keep) return;
    m->keep_none = !keep;
    m->planned = false;
}

/* ---- plan --------------------------------------------------------------- */

static int check_input(cfp_model *m, const cfp_value *v, const cfp_tensor *t) {
    char want[160], got[160];
    cfp_tensor decl = {.ndim = v->decl_ndim};
    for (int i = 0; i < v->decl_ndim && i < CFP_MAX_DIMS; i++) decl.dims[i] = v->decl_dims[i];
    if (v->decl_dtype && v->decl_dtype != t->dtype)
        return cfp_seterr(m->ctx, CFP_E_SHAPE, "input '%s': expected %s data, got %s", v->name,
                          cfp_dtype_name(v->decl_dtype), cfp_dtype_name(t->dtype));
    if (!cfp_dtype_size(t->dtype))
        return cfp_seterr(m->ctx, CFP_E_UNSUPPORTED, "input '%s': %s data is not supported", v->name,
                          cfp_dtype_name(t->dtype));
    bool ok = v->decl_ndim < 0 || v->decl_ndim == t->ndim;
    for (int i = 0; ok && i < t->ndim && v->decl_ndim >= 0; i++)
        if (v->decl_dims[i] >= 0 && v->decl_dims[i] != t->dims[i] && !v->decl_params[i]) ok = false;
    if (!ok) {
        /* "?" for dynamic axes in the expected shape */
        size_t o = 0;
        want[0] = 0;
        for (int i = 0; i < decl.ndim && o < sizeof want; i++)
            o += (size_t)(v->decl_dims[i] >= 0 && !v->decl_params[i]
                              ? snprintf(want + o, sizeof want - o, i ? "x%" PRId64 : "%" PRId64, v->decl_dims[i])
                              : snprintf(want + o, sizeof want - o, i ? "x?" : "?"));
        return cfp_seterr(m->ctx, CFP_E_SHAPE, "input '%s': expected shape %s, got %s", v->name, want,
                          cfp_shape_str(t, got, sizeof got));
    }
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    if (t->nbytes != (size_t)n * cfp_dtype_size(t->dtype) || (n && !t->data))
        return cfp_seterr(m->ctx, CFP_E_ARG, "input '%s': data size does not match its shape", v->name);
    return CFP_OK;
}

static bool output_only_of_shape(const cfp_node *n) {
    return strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0;
}

static bool all_inputs_const(cfp_model *m, const cfp_node *n) {
    for (int k = 0; k < n->n_in; k++) {
        cfp_value *v = cfp_in(m, n, k);
        if (v && !v->is_const) return false;
    }
    return true;
}

static int run_node(cfp_model *m, cfp_node *n) {
    if (n->skip_run) { /* its output and means came with the node before */
        n->skip_run = false;
        return CFP_OK;
    }
    n->pooled_done = false;
    int rc = n->op->run(m, n);
    if (rc) {
        if (!m->ctx->err[0]) cfp_node_fail(m, n, rc, "failed");
        return rc;
    }
    if ((m->keep_none && !n->folded) || n->pooled_done) return CFP_OK;
    for (int k = 0; k < n->n_out; k++) {
        cfp_value *v = cfp_out(m, n, k);
        if (v) compute_pooled(m, v);
    }
    return CFP_OK;
}

static int plan(cfp_model *m, int n_inputs, const cfp_tensor *inputs, bool allocate);

void cfp_model_release_plan(cfp_model *m) {
    for (int i = 0; i < m->n_values; i++) {
        cfp_value *v = &m->values[i];
        if (v->is_init) continue;
        cfp_tensor_release(&v->t);
        v->t.data = NULL;
    }
    if (m->act_arena) munmap(m->act_arena, m->act_arena_len);
    m->act_arena = NULL;
    m->act_arena_len = 0;
    m->planned = false;
}

int cfp_model_plan(cfp_model *m, int n_inputs, const cfp_tensor *inputs) {
    return plan(m, n_inputs, inputs, true);
}

int cfp_model_infer_shapes(cfp_model *m, int n_inputs, const cfp_tensor *inputs) {
    return plan(m, n_inputs, inputs, false);
}

static int plan(cfp_model *m, int n_inputs, const cfp_tensor *inputs, bool allocate) {
    cfp_ctx *ctx = m->ctx;
    int rc;
    m->planned = false;
    ctx->err[0] = 0;
    if (n_inputs != m->n_inputs)
        return cfp_seterr(ctx, CFP_E_ARG, "the model has %d input%s, %d given", m->n_inputs,
                          m->n_inputs == 1 ? "" : "s", n_inputs);
    for (int i = 0; i < n_inputs; i++)
        if ((rc = check_input(m, &m->values[m->inputs[i]], &inputs[i]))) return rc;

    cfp_model_release_plan(m);
    for (int i = 0; i < m->n_values; i++) {
        cfp_value *v = &m->values[i];
        if (v->is_init) continue;
        cfp_tensor_release(&v->t);
        v->is_const = false;
        free(v->pooled);
        v->pooled = NULL;
        v->n_pooled = 0;
    }
    uint64_t total = 0, limit = max_memory(ctx);
    for (int i = 0; i < n_inputs; i++) {
        cfp_value *v = &m->values[m->inputs[i]];
        if ((rc = cfp_tensor_shape(&v->t, inputs[i].dtype, inputs[i].ndim, inputs[i].dims)))
            return cfp_seterr(ctx, rc, "input '%s': invalid shape", v->name);
        total += v->t.nbytes;
        if (total > limit) break;
        if ((rc = alloc_value(m, v, NULL))) return rc;
        if (v->t.nbytes) memcpy(v->t.data, inputs[i].data, v->t.nbytes);
    }

    /* pass 1: shapes everywhere; fold what is constant */
    for (int i = 0; i < m->n_nodes && total <= limit; i++) {
        cfp_node *n = &m->nodes[i];
        n->folded = false;
        if ((rc = n->op->reshape(m, n))) {
            if (!ctx->err[0]) cfp_node_fail(m, n, rc, "cannot infer output shapes");
            return rc;
        }
        n->folded = output_only_of_shape(n) || all_inputs_const(m, n);
        for (int k = 0; k < n->n_out; k++) {
            cfp_value *v = cfp_out(m, n, k);
            if (!v) continue;
            if (!cfp_dtype_size(v->t.dtype))
                return cfp_node_fail(m, n, CFP_E_UNSUPPORTED, "output '%s' has unsupported type %s", v->name,
                                     cfp_dtype_name(v->t.dtype));
            if (v->t.nbytes > limit - total) {
                total = limit + 1;
                break;
            }
            total += v->t.nbytes;
            if (n->folded && (rc = alloc_value(m, v, NULL))) return rc;
        }
        if (total > limit) break;
        if (n->folded) {
            if ((rc = run_node(m, n))) return rc;
            for (int k = 0; k < n->n_out; k++)
                if (cfp_out(m, n, k)) cfp_out(m, n, k)->is_const = true;
        }
    }
    if (total > limit) {
        char shp[160];
        return cfp_seterr(ctx, CFP_E_LIMIT,
                          "the model needs more than %" PRIu64 " MB for its values at input shape %s (limit %" PRIu64
                          " MB; see --max-memory)",
                          limit >> 20, n_inputs ? cfp_shape_str(&inputs[0], shp, sizeof shp) : "-", limit >> 20);
    }
    m->activation_bytes = total;
    if (!allocate) return CFP_OK;
    /* pass 2: one region for every value the run computes. Fresh anonymous
     * pages come zeroed from the kernel, huge pages keep first-touch faults
     * few, and nothing is memset: ops write every output element (the test
     * suite runs with CFP_POISON=1 to prove it). Kept values sit one after
     * the other; without keeping, values share memory by liveness. */
    size_t *offs = calloc((size_t)m->n_values + 1, sizeof *offs);
    if (!offs) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    size_t arena = m->keep_none ? place_by_liveness(m, offs) : place_in_order(m, offs);
    if (arena == SIZE_MAX) {
        free(offs);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    if (arena) {
        void *p = mmap(NULL, arena, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            free(offs);
            return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory: the activations need %zu MB", arena >> 20);
        }
        madvise(p, arena, MADV_HUGEPAGE);
        m->act_arena = p;
        m->act_arena_len = arena;
        if (ctx->poison) memset(p, 0xff, arena); /* NaN for floats */
    }
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        if (n->folded) continue;
        for (int k = 0; k < n->n_out; k++) {
            cfp_value *v = cfp_out(m, n, k);
            if (!v) continue;
            /* no arena when every output is empty: NULL + offset is undefined */
            if ((rc = alloc_value(m, v, m->act_arena ? m->act_arena + offs[v->id] : NULL))) {
                free(offs);
                return rc;
            }
        }
    }
    free(offs);
    if (m->keep_none) m->activation_bytes = arena;
    for (int i = 0; i < n_inputs; i++) {
        m->plan_ndim[i % 8] = inputs[i].ndim;
        memcpy(m->plan_dims[i % 8], inputs[i].dims, sizeof inputs[i].dims);
    }
    m->planned = true;
    m->warmed = false;
    return CFP_OK;
}

uint64_t cfp_model_activation_bytes(const cfp_model *m) { return m->activation_bytes; }

/* A plan stays valid while the input shapes do; inputs that are not float
 * may carry shapes or indices read while planning, so they always replan. */
static bool plan_matches(const cfp_model *m, int n_inputs, const cfp_tensor *inputs) {
    if (!m->planned || n_inputs != m->n_inputs || n_inputs > 8) return false;
    for (int i = 0; i < n_inputs; i++) {
        const cfp_value *v = &m->values[m->inputs[i]];
        if (inputs[i].dtype != CFP_F32 || v->t.dtype != CFP_F32) return false;
        if (inputs[i].ndim != m->plan_ndim[i]) return false;
        if (memcmp(inputs[i].dims, m->plan_dims[i], sizeof(int64_t) * (size_t)inputs[i].ndim)) return false;
        if (inputs[i].nbytes != v->t.nbytes || (inputs[i].nbytes && !inputs[i].data)) return false;
    }
    return true;
}

int cfp_model_run(cfp_model *m, int n_inputs, const cfp_tensor *inputs) {
    int rc;
    m->ctx->err[0] = 0;
    if (!plan_matches(m, n_inputs, inputs)) {
        if ((rc = cfp_model_plan(m, n_inputs, inputs))) return rc;
    } else {
        for (int i = 0; i < n_inputs; i++) {
            cfp_value *v = &m->values[m->inputs[i]];
            if (v->t.nbytes) memcpy(v->t.data, inputs[i].data, v->t.nbytes);
        }
    }
    for (int i = 0; i < n_inputs && !m->keep_none; i++) compute_pooled(m, &m->values[m->inputs[i]]);
    for (int i = 0; i < m->n_nodes && !m->warmed; i++) {
        cfp_node *n = &m->nodes[i];
        if (!n->folded && n->op->warm && (rc = n->op->warm(m, n))) return rc;
    }
    m->warmed = true;
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i].skip_run = false;
    /* CFP_PROFILE=1: each node's time on stderr, for finding slow layers */
    static int profile = -1;
    if (profile < 0) profile = getenv("CFP_PROFILE") && atoi(getenv("CFP_PROFILE")) > 0;
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        if (n->folded) continue;
        struct timespec t0, t1;
        if (profile) clock_gettime(CLOCK_MONOTONIC, &t0);
        if ((rc = run_node(m, n))) return rc;
        if (profile) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            char shp[160];
            cfp_value *o = cfp_out(m, n, 0);
            fprintf(stderr, "profile %9.3f ms  %-18s %-48s %s\n",
                    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6, n->op_type,
                    n->name, o ? cfp_shape_str(&o->t, shp, sizeof shp) : "-");
        }
    }
    return CFP_OK;
}

/* ---- value accessors ------------------------------------------------------ */
const char *cfp_value_name(const cfp_value *v) { return v->name; }
const cfp_tensor *cfp_value_tensor(const cfp_value *v) {
    if (v->dropped && v->model) cfp_value_restore(v->model, (cfp_value *)v);
    if (v->lazy && v->model && cfp_value_materialize(v->model, (cfp_value *)v) && v->t.data)
        for (int64_t i = 0; i < cfp_tensor_numel(&v->t); i++) ((float *)v->t.data)[i] = NAN; /* not stale */
    return &v->t;
}

int cfp_value_materialize(cfp_model *m, cfp_value *v) {
    if (!v->lazy) return CFP_OK;
    cfp_node *n = v->producer >= 0 ? &m->nodes[v->producer] : NULL;
    if (!n || !n->op->materialize)
        return cfp_seterr(m->ctx, CFP_E_INVALID, "value '%s': its data was not kept", v->name);
    if (m->keep_none)
        return cfp_seterr(m->ctx, CFP_E_INVALID, "value '%s': activations are not kept (cfp_model_set_keep)", v->name);
    int rc = n->op->materialize(m, n);
    if (rc == CFP_OK) v->lazy = false;
    return rc;
}

/* ---- conv weights held by oneDNN --------------------------------------------- */

void cfp_tap_means(const float *w, int64_t rows, int64_t taps, float *out) {
    for (int64_t i = 0; i < rows; i++) {
        double s = 0;
        for (int64_t t = 0; t < taps; t++) s += w[i * taps + t];
        out[i] = taps ? (float)(s / (double)taps) : 0;
    }
}

static void drop_pages(const void *data, size_t len) {
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t s = ((uintptr_t)data + pg - 1) & ~(pg - 1), e = ((uintptr_t)data + len) & ~(pg - 1);
    if (e > s) madvise((void *)s, e - s, MADV_DONTNEED);
}

static struct cfp_arena_src *arena_src_of(cfp_model *m, const void *data) {
    if (!m->arena || (const uint8_t *)data < m->arena || (const uint8_t *)data >= m->arena + m->arena_len)
        return NULL;
    size_t at = (size_t)((const uint8_t *)data - m->arena);
    int lo = 0, hi = m->n_arena_src - 1; /* in increasing order of at */
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (m->arena_src[mid].at == at) return &m->arena_src[mid];
        if (m->arena_src[mid].at < at) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

void cfp_weight_release(cfp_model *m, cfp_value *w, int64_t taps) {
    /* with one tap the means are the weights: nothing to gain */
    if (!w->is_init || w->n_consumers != 1 || w->t.dtype != CFP_F32 || !w->t.data || taps < 2 || w->dropped)
        return;
    const uint8_t *d = w->t.data, *map = m->map;
    bool in_file = m->map_is_file && d >= map && d + w->t.nbytes <= map + m->map_len;
    struct cfp_arena_src *src = in_file ? NULL : arena_src_of(m, d);
    if (!in_file && !src) return;
    int64_t rows = cfp_tensor_numel(&w->t) / taps;
    if (!w->tap_means) {
        w->tap_means = malloc((size_t)(rows ? rows : 1) * sizeof *w->tap_means);
        if (!w->tap_means) return; /* then the pages stay: nothing is lost */
        cfp_tap_means(w->t.data, rows, taps, w->tap_means);
        w->n_tap_means = rows;
    }
    drop_pages(w->t.data, w->t.nbytes); /* a file's pages come back from it when read */
    if (src) w->dropped = true;
}

int cfp_value_restore(cfp_model *m, cfp_value *v) {
    if (!v->dropped) return CFP_OK;
    struct cfp_arena_src *src = arena_src_of(m, v->t.data);
    if (!src || !m->map) return cfp_seterr(m->ctx, CFP_E_INVALID, "weight '%s': its data is gone", v->name);
    memcpy(v->t.data, (const uint8_t *)m->map + src->file_off, src->n);
    drop_pages((const uint8_t *)m->map + src->file_off, src->n);
    v->dropped = false;
    return CFP_OK;
}
int cfp_value_is_const(const cfp_value *v) { return v->is_const; }
const float *cfp_value_pooled(const cfp_value *v, int64_t *n) {
    if (n) *n = v->pooled ? v->n_pooled : 0;
    return v->pooled;
}
cfp_node *cfp_value_producer(const cfp_value *v) {
    return v->producer >= 0 && v->model ? &v->model->nodes[v->producer] : NULL;
}
int cfp_value_n_consumers(const cfp_value *v) { return v->n_consumers; }
cfp_node *cfp_value_consumer(const cfp_value *v, int i) {
    return i >= 0 && i < v->n_consumers && v->model ? &v->model->nodes[v->consumers[i]] : NULL;
}
cfp_value *cfp_node_input(const cfp_node *n, int i) {
    return i >= 0 && i < n->n_in && n->in[i] >= 0 ? &n->model->values[n->in[i]] : NULL;
}
cfp_value *cfp_node_output(const cfp_node *n, int i) {
    return i >= 0 && i < n->n_out && n->out[i] >= 0 ? &n->model->values[n->out[i]] : NULL;
}
int cfp_value_declared(const cfp_value *v, int *dtype, int64_t *dims, const char **params) {
    if (dtype) *dtype = v->decl_dtype;
    for (int i = 0; i < v->decl_ndim && i < CFP_MAX_DIMS; i++) {
        if (dims) dims[i] = v->decl_params[i] ? -1 : v->decl_dims[i];
        if (params) params[i] = v->decl_params[i];
    }
    return v->decl_ndim;
}
