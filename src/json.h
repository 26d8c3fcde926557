/* A small, strict JSON reader (RFC 8259) for untrusted files such as a
 * model's sidecar MODEL.onnx.json.
 *
 * Strict: no comments, no trailing commas, no NaN/Infinity, no leading zeros,
 * no control characters or invalid UTF-8 in strings, no duplicate keys, no
 * NUL bytes, nothing after the top-level value. Bounded: nesting depth at most
 * CFP_JSON_MAX_DEPTH (the parser recurses once per level, so the stack is
 * bounded too), input size at most CFP_JSON_MAX_BYTES, members per object at
 * most CFP_JSON_MAX_MEMBERS (arrays are unbounded). Errors say where:
 * "3:14: expected ',' or '}' after an object member". */
#ifndef CFP_JSON_H
#define CFP_JSON_H

#include <stddef.h>

#define CFP_JSON_MAX_DEPTH 64
#define CFP_JSON_MAX_BYTES (16u << 20)
/* members of one object (duplicate keys are checked pairwise) */
#define CFP_JSON_MAX_MEMBERS 256

enum cfp_json_type {
    CFP_JSON_NULL,
    CFP_JSON_FALSE,
    CFP_JSON_TRUE,
    CFP_JSON_NUMBER,
    CFP_JSON_STRING,
    CFP_JSON_ARRAY,
    CFP_JSON_OBJECT,
};

typedef struct cfp_json cfp_json;
struct cfp_json {
    int type;     /* enum cfp_json_type */
    int line, col; /* where the value starts (1-based), for error messages */
    double num;   /* NUMBER */
    char *str;    /* STRING: UTF-8, NUL-terminated (may contain no NUL: \u0000 is refused) */
    size_t len;   /* STRING: bytes; ARRAY/OBJECT: number of children */
    char *key;    /* member name when the parent is an OBJECT */
    cfp_json *child, *next; /* first child; next sibling */
};

typedef struct cfp_json_doc cfp_json_doc;

/* Parse len bytes. On error returns -1 and writes "LINE:COL: problem" into err. */
int cfp_json_parse(const char *text, size_t len, cfp_json_doc **out, char *err, size_t errlen);
const cfp_json *cfp_json_root(const cfp_json_doc *d);
void cfp_json_free(cfp_json_doc *d);

/* The member `key` of an object, or NULL. */
const cfp_json *cfp_json_get(const cfp_json *obj, const char *key);
const char *cfp_json_type_name(int type);

#endif
