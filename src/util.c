/* Errors, attributes and tensor helpers shared by every part of the library. */
#include "cfp_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const char *cfp_status_str(int status) {
    switch (status) {
#define CFP_X_CASE(name, value, desc) \
    case value:                       \
        return desc;
        CFP_STATUS_TABLE(CFP_X_CASE)
#undef CFP_X_CASE
    }
    return "unknown error";
}

int cfp_seterr(cfp_ctx *ctx, int code, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
        va_end(ap);
    }
    return code;
}

int cfp_node_fail(cfp_model *m, const cfp_node *n, int code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cfp_seterr(m->ctx, code, "node '%s' (%s): %s", n->name, n->op_type, msg);
}

const cfp_attr *cfp_attr_get(const cfp_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t cfp_attr_i(const cfp_node *n, const char *name, int64_t dflt) {
    const cfp_attr *a = cfp_attr_get(n, name);
    return (a && a->type == CFP_ATTR_INT) ? a->i : dflt;
}

float cfp_attr_f(const cfp_node *n, const char *name, float dflt) {
    const cfp_attr *a = cfp_attr_get(n, name);
    if (!a) return dflt;
    if (a->type == CFP_ATTR_FLOAT) return a->f;
    if (a->type == CFP_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *cfp_attr_s(const cfp_node *n, const char *name, const char *dflt) {
    const cfp_attr *a = cfp_attr_get(n, name);
    return (a && a->type == CFP_ATTR_STRING) ? a->s : dflt;
}

int cfp_attr_ints(const cfp_node *n, const char *name, int64_t *out, int max) {
    const cfp_attr *a = cfp_attr_get(n, name);
    if (!a || a->type != CFP_ATTR_INTS) return -1;
    if (a->n > max) return -2;
    if (a->n) memcpy(out, a->ints, (size_t)a->n * sizeof *out);
    return a->n;
}

/* public wrappers */
const char *cfp_node_name(const cfp_node *n) { return n->name; }
const char *cfp_node_op(const cfp_node *n) { return n->op_type; }
const char *cfp_node_layer_name(const cfp_node *n) {
    if (n->unnamed && n->n_out > 0 && n->out[0] >= 0) return n->model->values[n->out[0]].name;
    return n->name;
}
int cfp_node_n_inputs(const cfp_node *n) { return n->n_in; }
int cfp_node_n_outputs(const cfp_node *n) { return n->n_out; }
int cfp_node_attr_int(const cfp_node *n, const char *name, int64_t *out) {
    const cfp_attr *a = cfp_attr_get(n, name);
    if (!a || a->type != CFP_ATTR_INT) return -1;
    *out = a->i;
    return 0;
}
int cfp_node_attr_float(const cfp_node *n, const char *name, float *out) {
    const cfp_attr *a = cfp_attr_get(n, name);
    if (!a || a->type != CFP_ATTR_FLOAT) return -1;
    *out = a->f;
    return 0;
}
int cfp_node_attr_ints(const cfp_node *n, const char *name, int64_t *out, int max) {
    const cfp_attr *a = cfp_attr_get(n, name);
    if (!a || a->type != CFP_ATTR_INTS) return -1;
    int k = a->n < max ? a->n : max;
    if (k > 0) memcpy(out, a->ints, (size_t)k * sizeof *out);
    return a->n;
}

size_t cfp_dtype_size(int dtype) {
    switch (dtype) {
    case CFP_F32: case CFP_I32: case CFP_U32: return 4;
    case CFP_I64: case CFP_U64: case CFP_F64: return 8;
    case CFP_U8: case CFP_I8: case CFP_BOOL: return 1;
    case CFP_U16: case CFP_I16: case CFP_F16: return 2;
    default: return 0;
    }
}

const char *cfp_dtype_name(int dtype) {
    static const char *names[] = {"undefined", "float32", "uint8",  "int8",    "uint16",
                                  "int16",     "int32",   "int64",  "string",  "bool",
                                  "float16",   "float64", "uint32", "uint64"};
    if (dtype >= 0 && dtype < (int)(sizeof names / sizeof *names)) return names[dtype];
    return "unknown";
}

int64_t cfp_tensor_numel(const cfp_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

int cfp_tensor_shape(cfp_tensor *t, int dtype, int ndim, const int64_t *dims) {
    if (ndim < 0 || ndim > CFP_MAX_DIMS) return CFP_E_UNSUPPORTED;
    size_t es = cfp_dtype_size(dtype);
    if (!es) return CFP_E_UNSUPPORTED;
    /* The bound applies to the product of the non-zero dims too: an empty
     * tensor of 0 x 2^62 x 2^62 would overflow every stride computed from
     * its dims. */
    uint64_t n = 1, nz = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return CFP_E_SHAPE;
        if (!dims[i]) {
            n = 0;
            continue;
        }
        if (nz > (UINT64_MAX / 2) / (uint64_t)dims[i]) return CFP_E_LIMIT;
        nz *= (uint64_t)dims[i];
        n *= (uint64_t)dims[i];
    }
    if (nz > (uint64_t)(INT64_MAX / 16) / es) return CFP_E_LIMIT;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    for (int i = ndim; i < CFP_MAX_DIMS; i++) t->dims[i] = 0;
    t->nbytes = (size_t)(n * es);
    return CFP_OK;
}

void *cfp_aligned_alloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

/* Big blocks come straight from mmap, 2 MB-aligned and advised to use huge
 * pages: a 28 MB block of reordered weights otherwise costs ~7000 page
 * faults (and a memset) at its first use, ~100 ms here. Zeroed (by the
 * kernel). */
#define BIG_MIN ((size_t)1 << 20)
#define HUGE_SZ ((size_t)2 << 20)
void *cfp_big_alloc(size_t bytes) {
    if (bytes < BIG_MIN) return cfp_aligned_alloc(bytes);
    /* whole 4 KB pages: the tail after the last whole 2 MB stays on small pages */
    size_t len = (bytes + 4095) & ~(size_t)4095;
    uint8_t *p = mmap(NULL, len + HUGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (a + len < p + len + HUGE_SZ) munmap(a + len, (size_t)(p + len + HUGE_SZ - (a + len)));
    madvise(a, len, MADV_HUGEPAGE);
    return a;
}

void cfp_big_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < BIG_MIN) {
        free(p);
        return;
    }
    munmap(p, (bytes + 4095) & ~(size_t)4095);
}

void *cfp_aligned_alloc_uninit(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
    return p;
}

int cfp_tensor_alloc_uninit(cfp_tensor *t) {
    cfp_tensor_release(t);
    t->data = cfp_aligned_alloc_uninit(t->nbytes);
    if (!t->data) return CFP_E_NOMEM;
    t->owned = 1;
    return CFP_OK;
}

int cfp_tensor_alloc(cfp_tensor *t) {
    cfp_tensor_release(t);
    t->data = cfp_aligned_alloc(t->nbytes);
    if (!t->data) return CFP_E_NOMEM;
    t->owned = 1;
    return CFP_OK;
}

void cfp_tensor_release(cfp_tensor *t) {
    if (t->owned) free(t->data);
    t->data = NULL;
    t->owned = 0;
}

void cfp_tensor_free(cfp_tensor *t) {
    if (!t) return;
    cfp_tensor_release(t);
    memset(t, 0, sizeof *t);
}

bool cfp_same_shape(const cfp_tensor *a, const cfp_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

const char *cfp_shape_str(const cfp_tensor *t, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    if (t->ndim == 0) {
        snprintf(buf, len, "scalar");
        return buf;
    }
    for (int i = 0; i < t->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? "x%" PRId64 : "%" PRId64, t->dims[i]);
    return buf;
}

int64_t cfp_tensor_get_i64(const cfp_tensor *t, int64_t i) {
    switch (t->dtype) {
    case CFP_I64: return ((const int64_t *)t->data)[i];
    case CFP_I32: return ((const int32_t *)t->data)[i];
    case CFP_U64: return (int64_t)((const uint64_t *)t->data)[i];
    case CFP_U32: return ((const uint32_t *)t->data)[i];
    case CFP_I16: return ((const int16_t *)t->data)[i];
    case CFP_U16: return ((const uint16_t *)t->data)[i];
    case CFP_I8: return ((const int8_t *)t->data)[i];
    case CFP_U8: case CFP_BOOL: return ((const uint8_t *)t->data)[i];
    case CFP_F32: return (int64_t)((const float *)t->data)[i];
    case CFP_F64: return (int64_t)((const double *)t->data)[i];
    default: return 0;
    }
}

double cfp_tensor_get_f64(const cfp_tensor *t, int64_t i) {
    switch (t->dtype) {
    case CFP_F32: return ((const float *)t->data)[i];
    case CFP_F64: return ((const double *)t->data)[i];
    default: return (double)cfp_tensor_get_i64(t, i);
    }
}

void cfp_tensor_set_i64(cfp_tensor *t, int64_t i, int64_t v) {
    void *data = t->data;
    switch (t->dtype) {
    case CFP_I64: ((int64_t *)data)[i] = v; break;
    case CFP_U64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case CFP_I32: ((int32_t *)data)[i] = (int32_t)v; break;
    case CFP_U32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case CFP_I16: ((int16_t *)data)[i] = (int16_t)v; break;
    case CFP_U16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case CFP_I8: ((int8_t *)data)[i] = (int8_t)v; break;
    case CFP_U8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case CFP_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case CFP_F32: ((float *)data)[i] = (float)v; break;
    case CFP_F64: ((double *)data)[i] = (double)v; break;
    default: break;
    }
}

void cfp_tensor_set_f64(cfp_tensor *t, int64_t i, double v) {
    switch (t->dtype) {
    case CFP_F32: ((float *)t->data)[i] = (float)v; break;
    case CFP_F64: ((double *)t->data)[i] = v; break;
    case CFP_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default: {
        /* out-of-range float to int conversion is undefined in C: saturate */
        int64_t x;
        if (v != v) x = 0;
        else if (v >= 9223372036854775807.0) x = INT64_MAX;
        else if (v <= -9223372036854775808.0) x = INT64_MIN;
        else x = (int64_t)v;
        cfp_tensor_set_i64(t, i, x);
    }
    }
}

char *cfp_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
