/* Values, nodes, name lookup and topological order. Every value knows its
 * producer and consumers: the back-step of the method walks this. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int hash_insert(int *tab, int cap, const cfp_value *values, int id) {
    uint64_t h = hash_str(values[id].name) & (uint64_t)(cap - 1);
    while (tab[h] >= 0) h = (h + 1) & (uint64_t)(cap - 1);
    tab[h] = id;
    return 0;
}

int cfp_graph_find(const cfp_model *m, const char *name) {
    if (!m->hash_cap) return -1;
    uint64_t h = hash_str(name) & (uint64_t)(m->hash_cap - 1);
    while (m->hash[h] >= 0) {
        if (strcmp(m->values[m->hash[h]].name, name) == 0) return m->hash[h];
        h = (h + 1) & (uint64_t)(m->hash_cap - 1);
    }
    return -1;
}

int cfp_graph_value(cfp_model *m, const char *name) {
    int id = cfp_graph_find(m, name);
    if (id >= 0) return id;
    /* grow values (capacity doubles; tracked by hash_cap/2) */
    if (m->n_values * 2 >= m->hash_cap) {
        int cap = m->hash_cap ? m->hash_cap * 2 : 64;
        int *tab = malloc((size_t)cap * sizeof *tab);
        cfp_value *vals = realloc(m->values, (size_t)(cap / 2) * sizeof *vals);
        if (!tab || !vals) {
            free(tab);
            if (vals) m->values = vals;
            return -2;
        }
        m->values = vals;
        memset(tab, 0xff, (size_t)cap * sizeof *tab);
        for (int i = 0; i < m->n_values; i++) hash_insert(tab, cap, m->values, i);
        free(m->hash);
        m->hash = tab;
        m->hash_cap = cap;
    }
    cfp_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    if (!(v->name = cfp_strdup(name))) return -2;
    v->id = m->n_values;
    v->producer = -1;
    v->decl_ndim = -1;
    hash_insert(m->hash, m->hash_cap, m->values, m->n_values);
    return m->n_values++;
}

int cfp_graph_finalize(cfp_model *m) {
    cfp_ctx *ctx = m->ctx;
    /* producers: every value is defined once (SSA) */
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            cfp_value *v = &m->values[n->out[k]];
            if (v->producer >= 0 || v->is_init || v->is_input)
                return cfp_seterr(ctx, CFP_E_INVALID, "node '%s' (%s): output '%s' is already defined%s", n->name,
                                  n->op_type, v->name,
                                  v->producer >= 0 ? " by another node" : v->is_init ? " as an initializer" : " as a graph input");
            v->producer = i;
        }
    }
    /* every input is defined; count consumers */
    int *n_cons = calloc((size_t)m->n_values + 1, sizeof *n_cons);
    if (!n_cons) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            cfp_value *v = &m->values[n->in[k]];
            if (v->producer < 0 && !v->is_init && !v->is_input) {
                free(n_cons);
                return cfp_seterr(ctx, CFP_E_INVALID,
                                  "node '%s' (%s): input '%s' is not produced by any node, initializer or graph input",
                                  n->name, n->op_type, v->name);
            }
            n_cons[v->id]++;
        }
    }
    for (int i = 0; i < m->n_outputs; i++) {
        cfp_value *v = &m->values[m->outputs[i]];
        if (v->producer < 0 && !v->is_init && !v->is_input) {
            free(n_cons);
            return cfp_seterr(ctx, CFP_E_INVALID, "graph output '%s' is not produced by any node", v->name);
        }
    }
    /* Kahn's algorithm over nodes; pending[i] = inputs not yet available */
    int *pending = calloc((size_t)m->n_nodes + 1, sizeof *pending);
    int *order = calloc((size_t)m->n_nodes + 1, sizeof *order);
    int *queue = calloc((size_t)m->n_nodes + 1, sizeof *queue);
    bool cons_ok = true;
    for (int v = 0; v < m->n_values; v++) {
        m->values[v].consumers = calloc((size_t)n_cons[v] + 1, sizeof(int));
        if (!m->values[v].consumers) cons_ok = false;
    }
    if (!cons_ok || !pending || !order || !queue) {
        free(pending), free(order), free(queue), free(n_cons);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            cfp_value *v = &m->values[n->in[k]];
            /* a node that reads one value twice is still one consumer edge each */
            v->consumers[v->n_consumers++] = i;
            if (v->producer >= 0) pending[i]++;
        }
    }
    int qh = 0, qt = 0, no = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (!pending[i]) queue[qt++] = i;
    while (qh < qt) {
        int i = queue[qh++];
        order[no++] = i;
        cfp_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            cfp_value *v = &m->values[n->out[k]];
            for (int c = 0; c < v->n_consumers; c++)
                if (--pending[v->consumers[c]] == 0) queue[qt++] = v->consumers[c];
        }
    }
    int rc = CFP_OK;
    if (no != m->n_nodes) {
        int bad = 0;
        while (bad < m->n_nodes && !pending[bad]) bad++;
        rc = cfp_seterr(ctx, CFP_E_INVALID, "the graph has a cycle through node '%s' (%s)", m->nodes[bad].name,
                        m->nodes[bad].op_type);
    }
    free(pending), free(queue), free(n_cons);
    if (rc) {
        free(order);
        return rc;
    }
    /* reorder nodes; remap indices in producers and consumers */
    cfp_node *sorted = malloc(((size_t)m->n_nodes + 1) * sizeof *sorted);
    int *newpos = malloc(((size_t)m->n_nodes + 1) * sizeof *newpos);
    if (!sorted || !newpos) {
        free(sorted), free(newpos), free(order);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < m->n_nodes; i++) {
        sorted[i] = m->nodes[order[i]];
        sorted[i].index = i;
        newpos[order[i]] = i;
    }
    free(m->nodes);
    m->nodes = sorted;
    for (int v = 0; v < m->n_values; v++) {
        cfp_value *val = &m->values[v];
        if (val->producer >= 0) val->producer = newpos[val->producer];
        for (int c = 0; c < val->n_consumers; c++) val->consumers[c] = newpos[val->consumers[c]];
    }
    free(newpos), free(order);

    for (int i = 0; i < m->n_values; i++) m->values[i].model = m;
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i].model = m;

    /* ops: chosen at load; unsupported ops fail here, naming op and node */
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
            return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "node '%s': operator %s of domain '%s' is not supported", n->name,
                              n->op_type, n->domain);
        n->opset = (int)m->opset;
        n->op = cfp_op_find(n->op_type);
        if (!n->op)
            return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "node '%s': operator %s (opset %d) is not supported", n->name,
                              n->op_type, n->opset);
        if (n->opset < n->op->since)
            return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "node '%s': operator %s is supported from opset %d, model has %d",
                              n->name, n->op_type, n->op->since, n->opset);
        if (n->op->prepare && (rc = n->op->prepare(m, n))) return rc;
    }
    return CFP_OK;
}

void cfp_model_free(cfp_model *m) {
    if (!m) return;
    cfp_model_release_plan(m);
    if (m->layer_cache_free) m->layer_cache_free(m->layer_cache);
    for (int i = 0; i < m->n_nodes; i++) {
        cfp_node *n = &m->nodes[i];
        if (n->op && n->op->release) n->op->release(n);
        free(n->name), free(n->op_type), free(n->domain), free(n->in), free(n->out);
        for (int a = 0; a < n->n_attrs; a++) {
            cfp_attr *at = &n->attrs[a];
            free(at->name), free(at->s), free(at->floats), free(at->ints);
            cfp_tensor_free(&at->t);
        }
        free(n->attrs);
    }
    free(m->nodes);
    for (int i = 0; i < m->n_values; i++) {
        cfp_value *v = &m->values[i];
        free(v->name);
        cfp_tensor_release(&v->t);
        free(v->consumers);
        free(v->pooled);
        free(v->tap_means);
        for (int d = 0; d < CFP_MAX_DIMS; d++) free(v->decl_params[d]);
    }
    free(m->values);
    free(m->hash);
    free(m->inputs), free(m->outputs);
    for (int i = 0; i < m->n_ext; i++)
        if (m->ext_maps[i]) munmap(m->ext_maps[i], m->ext_lens[i]);
    free(m->ext_maps), free(m->ext_lens);
    if (m->map) munmap(m->map, m->map_len);
    if (m->arena) munmap(m->arena, m->arena_len);
    free(m->arena_src);
    for (int i = 0; i < m->n_meta; i++) free(m->meta_keys[i]), free(m->meta_values[i]);
    free(m->meta_keys), free(m->meta_values);
    free(m->path), free(m->dir), free(m->producer), free(m->graph_name);
    free(m);
}

/* ---- public accessors ----------------------------------------------------- */
int cfp_model_n_inputs(const cfp_model *m) { return m->n_inputs; }
cfp_value *cfp_model_input(const cfp_model *m, int i) {
    return i >= 0 && i < m->n_inputs ? &m->values[m->inputs[i]] : NULL;
}
int cfp_model_n_outputs(const cfp_model *m) { return m->n_outputs; }
cfp_value *cfp_model_output(const cfp_model *m, int i) {
    return i >= 0 && i < m->n_outputs ? &m->values[m->outputs[i]] : NULL;
}
int cfp_model_n_values(const cfp_model *m) { return m->n_values; }
cfp_value *cfp_model_value(const cfp_model *m, int i) {
    return i >= 0 && i < m->n_values ? &m->values[i] : NULL;
}
cfp_value *cfp_model_find(const cfp_model *m, const char *name) {
    int id = cfp_graph_find(m, name);
    return id >= 0 ? &m->values[id] : NULL;
}
int cfp_model_n_nodes(const cfp_model *m) { return m->n_nodes; }
cfp_node *cfp_model_node(const cfp_model *m, int i) {
    return i >= 0 && i < m->n_nodes ? &m->nodes[i] : NULL;
}
int64_t cfp_model_opset(const cfp_model *m) { return m->opset; }
int64_t cfp_model_ir_version(const cfp_model *m) { return m->ir_version; }
const char *cfp_model_producer(const cfp_model *m) { return m->producer ? m->producer : ""; }
const char *cfp_model_metadata(const cfp_model *m, const char *key) {
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0) return m->meta_values[i];
    return NULL;
}
const char *cfp_model_path(const cfp_model *m) { return m->path; }
