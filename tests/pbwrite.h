/* A tiny ONNX writer for tests: builds ModelProto bytes by hand so a test
 * states exactly the graph (and bytes) it feeds cfp. Header-only, static. */
#ifndef CFP_TEST_PBWRITE_H
#define CFP_TEST_PBWRITE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not every includer uses every helper. */
#define PBW_FN static __attribute__((unused))

typedef struct {
    uint8_t *b;
    size_t n, cap;
} pbw;

PBW_FN void pbw_raw(pbw *o, const void *p, size_t n) {
    if (!n) return;
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 256;
        o->b = realloc(o->b, o->cap);
        if (!o->b) abort();
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
PBW_FN void pbw_varint(pbw *o, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do {
        t[k] = v & 0x7f;
        v >>= 7;
        t[k++] |= v ? 0x80 : 0;
    } while (v);
    pbw_raw(o, t, (size_t)k);
}
PBW_FN void pbw_key(pbw *o, int field, int wire) { pbw_varint(o, (uint64_t)field << 3 | (uint64_t)wire); }
PBW_FN void pbw_int(pbw *o, int field, int64_t v) {
    pbw_key(o, field, 0);
    pbw_varint(o, (uint64_t)v);
}
PBW_FN void pbw_bytes(pbw *o, int field, const void *p, size_t n) {
    pbw_key(o, field, 2);
    pbw_varint(o, n);
    pbw_raw(o, p, n);
}
PBW_FN void pbw_str(pbw *o, int field, const char *s) { pbw_bytes(o, field, s, strlen(s)); }
PBW_FN void pbw_msg(pbw *o, int field, const pbw *m) { pbw_bytes(o, field, m->b, m->n); }
PBW_FN void pbw_float(pbw *o, int field, float f) {
    pbw_key(o, field, 5);
    pbw_raw(o, &f, 4);
}
PBW_FN void pbw_free(pbw *o) {
    free(o->b);
    o->b = NULL;
    o->n = o->cap = 0;
}

/* ---- messages ---------------------------------------------------------- */

/* How a float TensorProto carries its values: raw_data (field 9), or
 * float_data (field 4) packed or as one fixed32 field per value. */
enum { PBW_F32_RAW = -1, PBW_F32_UNPACKED = 0, PBW_F32_PACKED = 1 };

/* TensorProto (dims, data_type FLOAT, name, data) appended to t */
PBW_FN void pbw_tensor_f32(pbw *t, const char *name, int ndim, const int64_t *dims, const float *data, int layout) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        pbw_int(t, 1, dims[i]);
        n *= dims[i];
    }
    pbw_int(t, 2, 1);
    pbw_str(t, 8, name);
    if (layout == PBW_F32_RAW) pbw_bytes(t, 9, data, (size_t)n * 4);
    else if (layout == PBW_F32_PACKED) pbw_bytes(t, 4, data, (size_t)n * 4);
    else
        for (int64_t i = 0; i < n; i++) pbw_float(t, 4, data[i]);
}

/* TensorProto of floats whose data lives in the file `location` (relative to
 * the model): external_data {"location": location}, data_location EXTERNAL */
PBW_FN void pbw_tensor_external(pbw *t, const char *name, int ndim, const int64_t *dims, const char *location) {
    pbw e = {0};
    for (int i = 0; i < ndim; i++) pbw_int(t, 1, dims[i]);
    pbw_int(t, 2, 1);
    pbw_str(t, 8, name);
    pbw_str(&e, 1, "location");
    pbw_str(&e, 2, location);
    pbw_msg(t, 13, &e);
    pbw_int(t, 14, 1);
    pbw_free(&e);
}

/* ValueInfoProto of a float tensor appended to vi. ndim < 0: no shape; a
 * negative dim is the symbolic dim_param "N". */
PBW_FN void pbw_value_info(pbw *vi, const char *name, int ndim, const int64_t *dims) {
    pbw type = {0}, tt = {0}, shape = {0};
    for (int i = 0; i < ndim; i++) {
        pbw d = {0};
        if (dims[i] >= 0) pbw_int(&d, 1, dims[i]);
        else pbw_str(&d, 2, "N");
        pbw_msg(&shape, 1, &d);
        pbw_free(&d);
    }
    pbw_int(&tt, 1, 1);
    if (ndim >= 0) pbw_msg(&tt, 2, &shape);
    pbw_msg(&type, 1, &tt);
    pbw_str(vi, 1, name);
    pbw_msg(vi, 2, &type);
    pbw_free(&type), pbw_free(&tt), pbw_free(&shape);
}

/* ---- graph builder ---------------------------------------------------- */

typedef struct {
    pbw g;
} gbuild;

/* TensorProto with raw float data */
PBW_FN void gb_tensor(pbw *t, const char *name, int ndim, const int64_t *dims, const float *data) {
    pbw_tensor_f32(t, name, ndim, dims, data, PBW_F32_RAW);
}

PBW_FN void gb_init(gbuild *g, const char *name, int ndim, const int64_t *dims, const float *data) {
    pbw t = {0};
    gb_tensor(&t, name, ndim, dims, data);
    pbw_msg(&g->g, 5, &t);
    pbw_free(&t);
}

PBW_FN void gb_init_i64(gbuild *g, const char *name, int n, const int64_t *vals) {
    pbw t = {0};
    pbw_int(&t, 1, n);
    pbw_int(&t, 2, 7);
    pbw_str(&t, 8, name);
    pbw_bytes(&t, 9, vals, (size_t)n * 8);
    pbw_msg(&g->g, 5, &t);
    pbw_free(&t);
}

/* field 11: graph input, 12: graph output (see pbw_value_info) */
PBW_FN void gb_value_info(gbuild *g, int field, const char *name, int ndim, const int64_t *dims) {
    pbw vi = {0};
    pbw_value_info(&vi, name, ndim, dims);
    pbw_msg(&g->g, field, &vi);
    pbw_free(&vi);
}
PBW_FN void gb_input(gbuild *g, const char *name, int ndim, const int64_t *dims) {
    gb_value_info(g, 11, name, ndim, dims);
}
PBW_FN void gb_output(gbuild *g, const char *name) { gb_value_info(g, 12, name, -1, NULL); }

/* Attributes are given as a string: "name=i:3", "name=f:0.5", "name=ints:0,2,3,4,1" */
PBW_FN void gb_attr(pbw *node, const char *spec) {
    pbw a = {0};
    char name[64];
    const char *eq = strchr(spec, '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
    pbw_str(&a, 1, name);
    const char *v = eq + 1;
    if (!strncmp(v, "i:", 2)) {
        pbw_int(&a, 3, strtoll(v + 2, NULL, 10));
        pbw_int(&a, 20, 2);
    } else if (!strncmp(v, "f:", 2)) {
        pbw_float(&a, 2, strtof(v + 2, NULL));
        pbw_int(&a, 20, 1);
    } else if (!strncmp(v, "ints:", 5)) {
        const char *p = v + 5;
        while (*p) {
            char *end;
            pbw_int(&a, 8, strtoll(p, &end, 10));
            p = *end == ',' ? end + 1 : end;
        }
        pbw_int(&a, 20, 7);
    }
    pbw_msg(node, 5, &a);
    pbw_free(&a);
}

/* gb_node(g, "Conv", "name", "in0,in1", "out0", "group=i:2", NULL) */
PBW_FN void gb_node(gbuild *g, const char *op, const char *name, const char *inputs, const char *outputs, ...) {
    pbw n = {0};
    char buf[512];
    for (int pass = 0; pass < 2; pass++) {
        snprintf(buf, sizeof buf, "%s", pass ? outputs : inputs);
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) pbw_str(&n, pass ? 2 : 1, s);
    }
    pbw_str(&n, 3, name);
    pbw_str(&n, 4, op);
    va_list ap;
    va_start(ap, outputs);
    for (const char *a; (a = va_arg(ap, const char *));) gb_attr(&n, a);
    va_end(ap);
    pbw_msg(&g->g, 1, &n);
    pbw_free(&n);
}

/* ModelProto bytes (IR 8, producer "cfp-test", the default domain at
 * `opset`, the graph) appended to m; the graph is consumed. */
PBW_FN void gb_model(gbuild *g, pbw *m, int opset) {
    pbw op = {0};
    pbw_int(m, 1, 8);
    pbw_str(m, 2, "cfp-test");
    pbw_str(&op, 1, "");
    pbw_int(&op, 2, opset);
    pbw_msg(m, 8, &op);
    pbw_msg(m, 7, &g->g);
    pbw_free(&op), pbw_free(&g->g);
}

/* ModelProto bytes written to path. */
PBW_FN int gb_write(gbuild *g, const char *path, int opset) {
    pbw m = {0};
    gb_model(g, &m, opset);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(m.b, 1, m.n, f) == m.n;
    if (f) ok = (fclose(f) == 0) && ok;
    pbw_free(&m);
    return ok ? 0 : -1;
}

#endif
