/* A tiny ONNX writer for tests: builds ModelProto bytes by hand so a test
 * states exactly the graph (and bytes) it feeds cfp. Header-only, static. */
#ifndef CFP_TEST_PBWRITE_H
#define CFP_TEST_PBWRITE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *b;
    size_t n, cap;
} pbw;

static void pbw_raw(pbw *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 256;
        o->b = realloc(o->b, o->cap);
        if (!o->b) abort();
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void pbw_varint(pbw *o, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do {
        t[k] = v & 0x7f;
        v >>= 7;
        t[k++] |= v ? 0x80 : 0;
    } while (v);
    pbw_raw(o, t, (size_t)k);
}
static void pbw_key(pbw *o, int field, int wire) { pbw_varint(o, (uint64_t)field << 3 | (uint64_t)wire); }
static void pbw_int(pbw *o, int field, int64_t v) {
    pbw_key(o, field, 0);
    pbw_varint(o, (uint64_t)v);
}
static void pbw_bytes(pbw *o, int field, const void *p, size_t n) {
    pbw_key(o, field, 2);
    pbw_varint(o, n);
    pbw_raw(o, p, n);
}
static void pbw_str(pbw *o, int field, const char *s) { pbw_bytes(o, field, s, strlen(s)); }
static void pbw_msg(pbw *o, int field, const pbw *m) { pbw_bytes(o, field, m->b, m->n); }
static void pbw_float(pbw *o, int field, float f) {
    pbw_key(o, field, 5);
    pbw_raw(o, &f, 4);
}
static void pbw_free(pbw *o) {
    free(o->b);
    o->b = NULL;
    o->n = o->cap = 0;
}

/* ---- graph builder ---------------------------------------------------- */

typedef struct {
    pbw g;
} gbuild;

/* TensorProto with raw float data */
static void gb_tensor(pbw *t, const char *name, int ndim, const int64_t *dims, const float *data) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        pbw_int(t, 1, dims[i]);
        n *= dims[i];
    }
    pbw_int(t, 2, 1);
    pbw_str(t, 8, name);
    pbw_bytes(t, 9, data, (size_t)n * 4);
}

static void gb_init(gbuild *g, const char *name, int ndim, const int64_t *dims, const float *data) {
    pbw t = {0};
    gb_tensor(&t, name, ndim, dims, data);
    pbw_msg(&g->g, 5, &t);
    pbw_free(&t);
}

static void gb_init_i64(gbuild *g, const char *name, int n, const int64_t *vals) {
    pbw t = {0};
    pbw_int(&t, 1, n);
    pbw_int(&t, 2, 7);
    pbw_str(&t, 8, name);
    pbw_bytes(&t, 9, vals, (size_t)n * 8);
    pbw_msg(&g->g, 5, &t);
    pbw_free(&t);
}

static void gb_value_info(gbuild *g, int field, const char *name, int ndim, const int64_t *dims) {
    pbw vi = {0}, type = {0}, tt = {0}, shape = {0};
    for (int i = 0; i < ndim; i++) {
        pbw d = {0};
        pbw_int(&d, 1, dims[i]);
        pbw_msg(&shape, 1, &d);
        pbw_free(&d);
    }
    pbw_int(&tt, 1, 1);
    if (ndim >= 0) pbw_msg(&tt, 2, &shape);
    pbw_msg(&type, 1, &tt);
    pbw_str(&vi, 1, name);
    pbw_msg(&vi, 2, &type);
    pbw_msg(&g->g, field, &vi);
    pbw_free(&vi), pbw_free(&type), pbw_free(&tt), pbw_free(&shape);
}
static void gb_input(gbuild *g, const char *name, int ndim, const int64_t *dims) { gb_value_info(g, 11, name, ndim, dims); }
static void gb_output(gbuild *g, const char *name) { gb_value_info(g, 12, name, -1, NULL); }

/* Attributes are given as a string: "name=i:3", "name=f:0.5", "name=ints:0,2,3,4,1" */
static void gb_attr(pbw *node, const char *spec) {
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
static void gb_node(gbuild *g, const char *op, const char *name, const char *inputs, const char *outputs, ...) {
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

/* ModelProto bytes written to path. */
static int gb_write(gbuild *g, const char *path, int opset) {
    pbw m = {0}, op = {0};
    pbw_int(&m, 1, 8);
    pbw_str(&m, 2, "cfp-test");
    pbw_str(&op, 1, "");
    pbw_int(&op, 2, opset);
    pbw_msg(&m, 8, &op);
    pbw_msg(&m, 7, &g->g);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(m.b, 1, m.n, f) == m.n;
    if (f) ok = (fclose(f) == 0) && ok;
    pbw_free(&m), pbw_free(&op), pbw_free(&g->g);
    return ok ? 0 : -1;
}

#endif
