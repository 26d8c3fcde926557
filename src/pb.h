/* Protocol-buffer wire format, read side: a bounds-checked cursor over a
 * buffer. Every read validates lengths against the end of the buffer; a
 * malformed message sets `err` and the loops that use the cursor stop. */
#ifndef CFP_PB_H
#define CFP_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

typedef struct {
    const uint8_t *p, *end;
    const char *err; /* first error, static string */
} pb_reader;

typedef struct {
    uint32_t field;
    int wire;
    uint64_t u;              /* VARINT, I64, I32 */
    const uint8_t *data;     /* LEN */
    size_t len;              /* LEN */
} pb_field;

static inline pb_reader pb_init(const uint8_t *p, size_t len) {
    pb_reader r = {p, p + len, NULL};
    return r;
}

static inline bool pb_varint(pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->err = "truncated varint";
            return false;
        }
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1) {
            r->err = "varint overflows 64 bits";
            return false;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    r->err = "varint longer than 10 bytes";
    return false;
}

/* Next field; false at end of buffer or on error (check r->err). */
static inline bool pb_next(pb_reader *r, pb_field *f) {
    memset(f, 0, sizeof *f);
    if (r->err || r->p >= r->end) return false;
    uint64_t key;
    if (!pb_varint(r, &key)) return false;
    f->field = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    if (f->field == 0 || key >> 32) {
        r->err = "invalid field number";
        return false;
    }
    switch (f->wire) {
    case PB_VARINT:
        return pb_varint(r, &f->u);
    case PB_I64:
        if (r->end - r->p < 8) break;
        memcpy(&f->u, r->p, 8);
        r->p += 8;
        return true;
    case PB_I32: {
        if (r->end - r->p < 4) break;
        uint32_t v;
        memcpy(&v, r->p, 4);
        f->u = v;
        r->p += 4;
        return true;
    }
    case PB_LEN: {
        uint64_t len;
        if (!pb_varint(r, &len)) return false;
        if (len > (uint64_t)(r->end - r->p)) break;
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return true;
    }
    default:
        r->err = "unsupported wire type (groups are not used by ONNX)";
        return false;
    }
    r->err = "field runs past the end of its message";
    return false;
}

/* Repeated scalar fields arrive packed (one LEN field) or one per field.
 * These iterate either form: call with the field, get values one by one. */
typedef struct {
    pb_reader r;
    int wire; /* element wire type */
    bool single;
    uint64_t single_value;
    bool done;
} pb_packed;

static inline bool pb_packed_init(pb_packed *it, const pb_field *f, int elem_wire) {
    memset(it, 0, sizeof *it);
    it->wire = elem_wire;
    if (f->wire == PB_LEN) {
        it->r = pb_init(f->data, f->len);
        return true;
    }
    if (f->wire != elem_wire) return false;
    it->single = true;
    it->single_value = f->u;
    return true;
}

static inline bool pb_packed_next(pb_packed *it, uint64_t *v) {
    if (it->single) {
        if (it->done) return false;
        it->done = true;
        *v = it->single_value;
        return true;
    }
    pb_reader *r = &it->r;
    if (r->err || r->p >= r->end) return false;
    switch (it->wire) {
    case PB_VARINT:
        return pb_varint(r, v);
    case PB_I32: {
        if (r->end - r->p < 4) break;
        uint32_t x;
        memcpy(&x, r->p, 4);
        r->p += 4;
        *v = x;
        return true;
    }
    case PB_I64:
        if (r->end - r->p < 8) break;
        memcpy(v, r->p, 8);
        r->p += 8;
        return true;
    }
    r->err = "packed field length is not a multiple of its element size";
    return false;
}

/* Upper bound on the element count of a packed field (for allocation). */
static inline size_t pb_packed_max(const pb_field *f, int elem_wire) {
    if (f->wire != PB_LEN) return 1;
    switch (elem_wire) {
    case PB_I32: return f->len / 4;
    case PB_I64: return f->len / 8;
    default: return f->len; /* a varint takes at least one byte */
    }
}

#endif
