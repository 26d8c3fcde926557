/* Strict JSON reader: see json.h. Everything a document holds lives in one
 * arena of blocks, so freeing never walks the tree. */
#include "json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

struct cfp_json_doc {
    block *blocks;
    cfp_json *root;
};

typedef struct {
    const char *s, *end, *p;
    cfp_json_doc *doc;
    const char *mark; /* line/col cache: positions only move forward while parsing */
    int mark_line, mark_col;
    char *err;
    size_t errlen;
    int failed;
} parser;

static void *arena_alloc(cfp_json_doc *d, size_t n) {
    n = (n + 15) & ~(size_t)15;
    block *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = d->blocks;
        d->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

/* 1-based line and column (in bytes) of position p */
static void where(parser *ps, const char *p, int *line, int *col) {
    if (!ps->mark || p < ps->mark) ps->mark = ps->s, ps->mark_line = 1, ps->mark_col = 1;
    int l = ps->mark_line, c = ps->mark_col;
    for (const char *q = ps->mark; q < p && q < ps->end; q++) {
        if (*q == '\n') l++, c = 1;
        else c++;
    }
    ps->mark = p, ps->mark_line = l, ps->mark_col = c;
    *line = l;
    *col = c;
}

__attribute__((format(printf, 3, 4))) static int fail_at(parser *ps, const char *p, const char *fmt, ...) {
    if (ps->failed) return -1;
    ps->failed = 1;
    int line, col;
    where(ps, p, &line, &col);
    int k = snprintf(ps->err, ps->errlen, "%d:%d: ", line, col);
    if (k < 0 || (size_t)k >= ps->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static const char *describe(parser *ps) {
    if (ps->p >= ps->end) return "the end of the file";
    unsigned char c = (unsigned char)*ps->p;
    static _Thread_local char buf[32];
    if (c >= 0x20 && c < 0x7f) snprintf(buf, sizeof buf, "'%c'", c);
    else snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
}

static cfp_json *new_node(parser *ps, int type, const char *at) {
    cfp_json *n = arena_alloc(ps->doc, sizeof *n);
    if (!n) {
        fail_at(ps, at, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->type = type;
    where(ps, at, &n->line, &n->col);
    return n;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    int n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000;
    else return 0;
    if (end - p < n) return 0;
    unsigned cp = c & (0x3f >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at ps->p (which is '"'); the decoded bytes go to the arena. */
static int parse_string(parser *ps, char **out, size_t *outlen) {
    const char *start = ps->p++;
    /* the decoded form is never longer than the source */
    const char *q = ps->p;
    while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end) return fail_at(ps, start, "unterminated string");
    char *buf = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1);
    if (!buf) return fail_at(ps, start, "out of memory");
    size_t n = 0;
    while (*ps->p != '"') {
        const unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) return fail_at(ps, ps->p, "control character (byte 0x%02x) in a string", c);
        if (c == '\\') {
            const char *esc = ps->p++;
            char e = *ps->p++;
            switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (ps->end - ps->p < 4 || hex4(ps->p, &cp)) return fail_at(ps, esc, "\\u needs four hex digits");
                ps->p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) return fail_at(ps, esc, "unpaired low surrogate \\u%04x", cp);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return fail_at(ps, esc, "unpaired high surrogate \\u%04x", cp);
                    ps->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) return fail_at(ps, esc, "\\u0000 is not allowed in a string");
                n += put_utf8(buf + n, cp);
                break;
            }
            default: return fail_at(ps, esc, "invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            }
            continue;
        }
        int k = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
        if (!k) return fail_at(ps, ps->p, "invalid UTF-8 in a string");
        memcpy(buf + n, ps->p, (size_t)k);
        n += (size_t)k;
        ps->p += k;
    }
    ps->p++; /* closing quote */
    buf[n] = 0;
    *out = buf;
    *outlen = n;
    return 0;
}

static int parse_number(parser *ps, double *out) {
    const char *s = ps->p, *p = s;
    if (p < ps->end && *p == '-') p++;
    if (p >= ps->end || *p < '0' || *p > '9') return fail_at(ps, s, "invalid number");
    if (*p == '0') {
        p++;
        if (p < ps->end && *p >= '0' && *p <= '9') return fail_at(ps, s, "numbers may not have leading zeros");
    } else
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    if (p < ps->end && *p == '.') {
        p++;
        if (p >= ps->end || *p < '0' || *p > '9') return fail_at(ps, s, "a digit must follow the decimal point");
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < ps->end && (*p == '+' || *p == '-')) p++;
        if (p >= ps->end || *p < '0' || *p > '9') return fail_at(ps, s, "a digit must follow the exponent");
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    char tmp[64];
    size_t n = (size_t)(p - s);
    if (n >= sizeof tmp) return fail_at(ps, s, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL); /* the grammar above is a subset of strtod's in the C locale */
    ps->p = p;
    return 0;
}

static int parse_value(parser *ps, cfp_json **out, int depth);

static int parse_container(parser *ps, cfp_json *node, int depth) {
    const int is_obj = node->type == CFP_JSON_OBJECT;
    const char close = is_obj ? '}' : ']';
    const char *open = ps->p++;
    if (depth >= CFP_JSON_MAX_DEPTH) return fail_at(ps, open, "nested deeper than %d levels", CFP_JSON_MAX_DEPTH);
    cfp_json **tail = &node->child;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t klen = 0;
        skip_ws(ps);
        if (is_obj) {
            const char *kp = ps->p;
            if (ps->p >= ps->end || *ps->p != '"')
                return fail_at(ps, ps->p, "expected a member name in quotes, found %s", describe(ps));
            if (parse_string(ps, &key, &klen)) return -1;
            if (strlen(key) != klen) return fail_at(ps, kp, "member name contains NUL");
            if (node->len >= CFP_JSON_MAX_MEMBERS)
                return fail_at(ps, kp, "object has more than %d members", CFP_JSON_MAX_MEMBERS);
            for (cfp_json *c = node->child; c; c = c->next)
                if (strcmp(c->key, key) == 0) return fail_at(ps, kp, "duplicate key \"%s\"", key);
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail_at(ps, ps->p, "expected ':' after the member name, found %s", describe(ps));
            ps->p++;
            skip_ws(ps);
        }
        cfp_json *child;
        if (parse_value(ps, &child, depth + 1)) return -1;
        child->key = key;
        *tail = child;
        tail = &child->next;
        node->len++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == close) return fail_at(ps, ps->p, "trailing comma");
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 0;
        }
        return fail_at(ps, ps->p, "expected ',' or '%c' after %s, found %s", close,
                       is_obj ? "an object member" : "an array element", describe(ps));
    }
}

static int parse_value(parser *ps, cfp_json **out, int depth) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail_at(ps, ps->p, "expected a value, found the end of the file");
    const char *at = ps->p;
    cfp_json *n;
    switch (*ps->p) {
    case '{':
    case '[':
        if (!(n = new_node(ps, *ps->p == '{' ? CFP_JSON_OBJECT : CFP_JSON_ARRAY, at))) return -1;
        if (parse_container(ps, n, depth)) return -1;
        break;
    case '"':
        if (!(n = new_node(ps, CFP_JSON_STRING, at))) return -1;
        if (parse_string(ps, &n->str, &n->len)) return -1;
        break;
    case 't':
    case 'f':
    case 'n': {
        static const struct {
            const char *word;
            int type;
        } words[] = {{"true", CFP_JSON_TRUE}, {"false", CFP_JSON_FALSE}, {"null", CFP_JSON_NULL}};
        for (int i = 0; i < 3; i++) {
            size_t l = strlen(words[i].word);
            if ((size_t)(ps->end - ps->p) >= l && memcmp(ps->p, words[i].word, l) == 0) {
                if (!(n = new_node(ps, words[i].type, at))) return -1;
                ps->p += l;
                goto done;
            }
        }
        return fail_at(ps, at, "unexpected %s", describe(ps));
    }
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
            if (!(n = new_node(ps, CFP_JSON_NUMBER, at))) return -1;
            if (parse_number(ps, &n->num)) return -1;
            break;
        }
        return fail_at(ps, at, "expected a value, found %s", describe(ps));
    }
done:
    /* a literal or number must end at a delimiter: "truex", "12abc" */
    if (ps->p < ps->end && n->type != CFP_JSON_STRING && n->type != CFP_JSON_ARRAY && n->type != CFP_JSON_OBJECT) {
        char c = *ps->p;
        if (!(c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            return fail_at(ps, ps->p, "unexpected %s after a value", describe(ps));
    }
    *out = n;
    return 0;
}

int cfp_json_parse(const char *text, size_t len, cfp_json_doc **out, char *err, size_t errlen) {
    char dummy[8];
    if (!err || !errlen) err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    *out = NULL;
    if (len > CFP_JSON_MAX_BYTES) {
        snprintf(err, errlen, "1:1: file larger than %u bytes", CFP_JSON_MAX_BYTES);
        return -1;
    }
    cfp_json_doc *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "1:1: out of memory");
        return -1;
    }
    parser ps = {.s = text, .end = text + len, .p = text, .doc = d, .err = err, .errlen = errlen};
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        fail_at(&ps, text, "byte-order mark is not allowed");
        goto bad;
    }
    const void *nul = memchr(text, 0, len);
    if (nul) {
        fail_at(&ps, nul, "NUL byte in the file");
        goto bad;
    }
    if (parse_value(&ps, &d->root, 0)) goto bad;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail_at(&ps, ps.p, "unexpected %s after the top-level value", describe(&ps));
        goto bad;
    }
    *out = d;
    return 0;
bad:
    cfp_json_free(d);
    return -1;
}

const cfp_json *cfp_json_root(const cfp_json_doc *d) { return d ? d->root : NULL; }

void cfp_json_free(cfp_json_doc *d) {
    if (!d) return;
    for (block *b = d->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(d);
}

const cfp_json *cfp_json_get(const cfp_json *obj, const char *key) {
    if (!obj || obj->type != CFP_JSON_OBJECT) return NULL;
    for (const cfp_json *c = obj->child; c; c = c->next)
        if (strcmp(c->key, key) == 0) return c;
    return NULL;
}

const char *cfp_json_type_name(int type) {
    static const char *names[] = {"null", "false", "true", "a number", "a string", "an array", "an object"};
    return type >= 0 && type <= CFP_JSON_OBJECT ? names[type] : "?";
}
