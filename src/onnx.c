/* ONNX protobuf → model graph. The model file is mapped read-only and
 * initializers whose raw data is suitably aligned are views into the map.
 * Everything read from the file is validated before it is used. */
#include "cfp_internal.h"
#include "graph.h"
#include "pb.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- field numbers (onnx.proto) ------------------------------------------ */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3,
       MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14, MODEL_FUNCTIONS = 25 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11,
       GRAPH_OUTPUT = 12, GRAPH_SPARSE_INITIALIZER = 15 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
       NODE_DOMAIN = 7 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_T = 5, ATTR_G = 6,
       ATTR_FLOATS = 7, ATTR_INTS = 8, ATTR_STRINGS = 9, ATTR_TENSORS = 10, ATTR_GRAPHS = 11,
       ATTR_TYPE = 20 };
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_SEGMENT = 3, TENSOR_FLOAT_DATA = 4,
       TENSOR_INT32_DATA = 5, TENSOR_STRING_DATA = 6, TENSOR_INT64_DATA = 7, TENSOR_NAME = 8,
       TENSOR_RAW_DATA = 9, TENSOR_DOUBLE_DATA = 10, TENSOR_UINT64_DATA = 11,
       TENSOR_EXTERNAL_DATA = 13, TENSOR_DATA_LOCATION = 14 };
enum { VI_NAME = 1, VI_TYPE = 2 };
enum { TYPE_TENSOR = 1 };
enum { TTYPE_ELEM = 1, TTYPE_SHAPE = 2 };
enum { SHAPE_DIM = 1 };
enum { DIM_VALUE = 1, DIM_PARAM = 2 };

/* A length-delimited field as a NUL-terminated string (strings in ONNX are
 * names; an embedded NUL is rejected). */
static char *pb_strdup(const pb_field *f) {
    if (memchr(f->data, 0, f->len)) return NULL;
    char *s = malloc(f->len + 1);
    if (!s) return NULL;
    memcpy(s, f->data, f->len);
    s[f->len] = 0;
    return s;
}

/* Whether pb_strdup returned NULL for want of memory (rather than for a NUL
 * in the name): then the load fails as out of memory instead of going on
 * without the name. */
static bool str_oom(const pb_field *f, const char *s) { return !s && !memchr(f->data, 0, f->len); }

/* ---- external data ---------------------------------------------------- */

/* Resolve `location` inside `dir`, refusing anything that could leave it. */
static int external_path(cfp_ctx *ctx, const char *dir, const char *location, char *out,
                         size_t outlen) {
    if (!dir) return cfp_seterr(ctx, CFP_E_INVALID, "external data is not allowed here");
    if (location[0] == '/' || location[0] == 0)
        return cfp_seterr(ctx, CFP_E_INVALID, "external data path '%s' must be relative to the model's folder", location);
    for (const char *p = location; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return cfp_seterr(ctx, CFP_E_INVALID,
                              "external data path '%s' points outside the model's folder", location);
        p += n + (e ? 1 : 0);
    }
    if ((size_t)snprintf(out, outlen, "%s/%s", dir, location) >= outlen)
        return cfp_seterr(ctx, CFP_E_INVALID, "external data path '%s' is too long", location);
    /* symlinks may still point elsewhere */
    char rdir[PATH_MAX], rfile[PATH_MAX];
    if (!realpath(dir, rdir) || !realpath(out, rfile))
        return cfp_seterr(ctx, CFP_E_IO, "external data file '%s': %s", out, strerror(errno));
    size_t dl = strlen(rdir);
    if (strncmp(rdir, rfile, dl) != 0 || (rfile[dl] != '/' && dl != 1))
        return cfp_seterr(ctx, CFP_E_INVALID,
                          "external data path '%s' resolves outside the model's folder", location);
    return CFP_OK;
}

static int external_map(cfp_ctx *ctx, cfp_model *m, const char *path, const uint8_t **data,
                        size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cfp_seterr(ctx, CFP_E_IO, "external data file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return cfp_seterr(ctx, CFP_E_IO, "external data file '%s' is not a regular file", path);
    }
    void *p = NULL;
    if (st.st_size > 0) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return cfp_seterr(ctx, CFP_E_IO, "cannot map '%s': %s", path, strerror(errno));
        }
    }
    close(fd);
    void **maps = realloc(m->ext_maps, (size_t)(m->n_ext + 1) * sizeof *maps);
    if (maps) m->ext_maps = maps;
    size_t *lens = maps ? realloc(m->ext_lens, (size_t)(m->n_ext + 1) * sizeof *lens) : NULL;
    if (!maps || !lens) {
        if (p) munmap(p, (size_t)st.st_size);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    m->ext_lens = lens;
    m->ext_maps[m->n_ext] = p;
    m->ext_lens[m->n_ext++] = (size_t)st.st_size;
    *data = p;
    *len = (size_t)st.st_size;
    return CFP_OK;
}

/* ---- copies of misaligned weights --------------------------------------- */

/* Raw data in a protobuf lands at any byte offset; a float weight at an odd
 * address has to be copied. One reserved region at most the file's size
 * holds all such copies: huge pages keep the page faults of copying 100+ MB
 * down to a few dozen. */
static void *arena_copy(cfp_model *m, const void *src, size_t n) {
    if (!m) return NULL;
    if (!m->arena) {
        size_t len = (m->map_len + ((size_t)2 << 20)) & ~(((size_t)2 << 20) - 1);
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return NULL;
        madvise(p, len, MADV_HUGEPAGE);
        m->arena = p;
        m->arena_len = len;
    }
    size_t at = (m->arena_used + 63) & ~(size_t)63;
    if (at > m->arena_len || n > m->arena_len - at) return NULL;
    const uint8_t *s0 = src;
    if (m->map_is_file && s0 >= (const uint8_t *)m->map && s0 + n <= (const uint8_t *)m->map + m->map_len) {
        /* remembered, so that cfp_weight_release may give the copy's pages back */
        if (m->n_arena_src == m->cap_arena_src) {
            int cap = m->cap_arena_src ? 2 * m->cap_arena_src : 64;
            void *q = realloc(m->arena_src, (size_t)cap * sizeof *m->arena_src);
            if (!q) return NULL;
            m->arena_src = q;
            m->cap_arena_src = cap;
        }
        m->arena_src[m->n_arena_src++] = (struct cfp_arena_src){at, n, (size_t)(s0 - (const uint8_t *)m->map)};
    }
    m->arena_used = at + n;
    /* read from the file rather than the map, so the mapped pages are not
     * touched and the weight is not resident twice */
    const uint8_t *s = src;
    if (m->fd >= 0 && s >= (const uint8_t *)m->map && s + n <= (const uint8_t *)m->map + m->map_len) {
        size_t done = 0;
        off_t off = (off_t)(s - (const uint8_t *)m->map);
        while (done < n) {
            ssize_t k = pread(m->fd, m->arena + at + done, n - done, off + (off_t)done);
            if (k <= 0) break;
            done += (size_t)k;
        }
        if (done == n) return m->arena + at;
    }
    memcpy(m->arena + at, src, n);
    return m->arena + at;
}

/* ---- TensorProto -------------------------------------------------------- */

int cfp_tensor_decode(cfp_ctx *ctx, cfp_model *m, const uint8_t *buf, size_t len, bool view,
                      cfp_tensor *t, char **name_out, const char *what) {
    memset(t, 0, sizeof *t);
    if (name_out) *name_out = NULL;
    int64_t dims[CFP_MAX_DIMS];
    int ndim = 0, dtype = 0, location = 0;
    const pb_field *raw = NULL;
    pb_field raw_f;
    size_t n_typed = 0;
    int typed_field = 0;
    char *name = NULL, *ext_loc = NULL;
    uint64_t ext_off = 0, ext_len = UINT64_MAX;
    int rc = CFP_OK;

#define TFAIL(code, ...)                       \
    do {                                       \
        rc = cfp_seterr(ctx, code, __VA_ARGS__); \
        goto fail;                             \
    } while (0)

    pb_reader r = pb_init(buf, len);
    pb_field f;
    while (pb_next(&r, &f)) {
        switch (f.field) {
        case TENSOR_DIMS: {
            pb_packed it;
            uint64_t v;
            if (!pb_packed_init(&it, &f, PB_VARINT)) TFAIL(CFP_E_PARSE, "%s: bad dims field", what);
            while (pb_packed_next(&it, &v)) {
                if (ndim >= CFP_MAX_DIMS)
                    TFAIL(CFP_E_UNSUPPORTED, "%s: more than %d dims", what, CFP_MAX_DIMS);
                if ((int64_t)v < 0) TFAIL(CFP_E_INVALID, "%s: negative dim %" PRId64, what, (int64_t)v);
                dims[ndim++] = (int64_t)v;
            }
            if (it.r.err) TFAIL(CFP_E_PARSE, "%s: dims: %s", what, it.r.err);
            break;
        }
        case TENSOR_DATA_TYPE:
            if (f.wire != PB_VARINT || f.u > 64) TFAIL(CFP_E_PARSE, "%s: bad data_type", what);
            dtype = (int)f.u;
            break;
        case TENSOR_NAME:
            if (f.wire != PB_LEN) TFAIL(CFP_E_PARSE, "%s: bad name field", what);
            free(name);
            if (!(name = pb_strdup(&f))) {
                if (str_oom(&f, name)) TFAIL(CFP_E_NOMEM, "%s: out of memory", what);
                TFAIL(CFP_E_PARSE, "%s: bad name", what);
            }
            break;
        case TENSOR_RAW_DATA:
            if (f.wire != PB_LEN) TFAIL(CFP_E_PARSE, "%s: bad raw_data field", what);
            raw_f = f;
            raw = &raw_f;
            break;
        case TENSOR_FLOAT_DATA: case TENSOR_INT32_DATA: case TENSOR_INT64_DATA:
        case TENSOR_DOUBLE_DATA: case TENSOR_UINT64_DATA: {
            int ew = f.field == TENSOR_FLOAT_DATA ? PB_I32 : f.field == TENSOR_DOUBLE_DATA ? PB_I64 : PB_VARINT;
            pb_packed it;
            uint64_t v;
            if (!pb_packed_init(&it, &f, ew)) TFAIL(CFP_E_PARSE, "%s: bad typed data field", what);
            if (typed_field && typed_field != (int)f.field)
                TFAIL(CFP_E_INVALID, "%s: data in two different typed fields", what);
            typed_field = (int)f.field;
            while (pb_packed_next(&it, &v)) n_typed++;
            if (it.r.err) TFAIL(CFP_E_PARSE, "%s: typed data: %s", what, it.r.err);
            break;
        }
        case TENSOR_STRING_DATA:
            TFAIL(CFP_E_UNSUPPORTED, "%s: string tensors are not supported", what);
        case TENSOR_SEGMENT:
            TFAIL(CFP_E_UNSUPPORTED, "%s: segmented tensors are not supported", what);
        case TENSOR_DATA_LOCATION:
            if (f.wire != PB_VARINT || f.u > 1) TFAIL(CFP_E_PARSE, "%s: bad data_location", what);
            location = (int)f.u;
            break;
        case TENSOR_EXTERNAL_DATA: {
            if (f.wire != PB_LEN) TFAIL(CFP_E_PARSE, "%s: bad external_data field", what);
            pb_reader er = pb_init(f.data, f.len);
            pb_field ef;
            char *key = NULL, *val = NULL;
            bool oom = false;
            while (pb_next(&er, &ef)) {
                if (ef.wire != PB_LEN) continue;
                if (ef.field == 1) free(key), key = pb_strdup(&ef), oom |= str_oom(&ef, key);
                else if (ef.field == 2) free(val), val = pb_strdup(&ef), oom |= str_oom(&ef, val);
            }
            if (oom) {
                free(key), free(val);
                TFAIL(CFP_E_NOMEM, "%s: out of memory", what);
            }
            if (er.err || !key || !val) {
                free(key), free(val);
                TFAIL(CFP_E_PARSE, "%s: bad external_data entry", what);
            }
            char *endp = NULL;
            if (strcmp(key, "location") == 0) {
                free(ext_loc);
                ext_loc = val, val = NULL;
            } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
                errno = 0;
                unsigned long long x = strtoull(val, &endp, 10);
                if (errno || *endp || val[0] == '-' || !val[0]) {
                    bool is_off = key[0] == 'o';
                    free(key), free(val);
                    TFAIL(CFP_E_INVALID, "%s: external data %s is not a number", what, is_off ? "offset" : "length");
                }
                if (key[0] == 'o') ext_off = x;
                else ext_len = x;
            }
            free(key), free(val);
            break;
        }
        default:
            break; /* unknown fields are skipped */
        }
    }
    if (r.err) TFAIL(CFP_E_PARSE, "%s: %s", what, r.err);

    if (!cfp_dtype_size(dtype))
        TFAIL(CFP_E_UNSUPPORTED, "%s: data type %d (%s) is not supported", what, dtype, cfp_dtype_name(dtype));
    rc = cfp_tensor_shape(t, dtype, ndim, dims);
    if (rc == CFP_E_LIMIT) TFAIL(rc, "%s: dims overflow the element count", what);
    if (rc) TFAIL(rc, "%s: invalid dims", what);
    size_t es = cfp_dtype_size(dtype);
    int64_t numel = cfp_tensor_numel(t);

    if (location == 1) {
        if (!ext_loc) TFAIL(CFP_E_INVALID, "%s: external data without a location", what);
        char path[PATH_MAX];
        const uint8_t *data = NULL;
        size_t flen = 0;
        if ((rc = external_path(ctx, m ? m->dir : NULL, ext_loc, path, sizeof path))) goto fail_keep;
        if (!m) TFAIL(CFP_E_INVALID, "%s: external data is only allowed inside a model", what);
        if ((rc = external_map(ctx, m, path, &data, &flen))) goto fail_keep;
        uint64_t need = t->nbytes;
        if (ext_len != UINT64_MAX && ext_len != need)
            TFAIL(CFP_E_INVALID, "%s: external data length %" PRIu64 " but dims need %" PRIu64 " bytes", what, ext_len, need);
        if (ext_off > flen || need > flen - ext_off)
            TFAIL(CFP_E_INVALID, "%s: external data (offset %" PRIu64 ", %" PRIu64 " bytes) runs past the end of '%s' (%zu bytes)", what, ext_off, need, ext_loc, flen);
        const uint8_t *src = data + ext_off;
        if (((uintptr_t)src % es) == 0) t->data = (void *)src;
        else {
            if ((rc = cfp_tensor_alloc_uninit(t))) TFAIL(rc, "%s: out of memory", what);
            memcpy(t->data, src, t->nbytes);
        }
    } else if (raw) {
        if (typed_field) TFAIL(CFP_E_INVALID, "%s: both raw_data and typed data", what);
        if (raw->len != t->nbytes)
            TFAIL(CFP_E_INVALID, "%s: raw data has %zu bytes but dims %s need %zu", what, raw->len,
                  cfp_shape_str(t, (char[128]){0}, 128), t->nbytes);
        if (view && ((uintptr_t)raw->data % es) == 0) t->data = (void *)raw->data;
        else if (view && t->nbytes && (t->data = arena_copy(m, raw->data, t->nbytes))) {
            /* owned by the model's arena */
        } else {
            if ((rc = cfp_tensor_alloc_uninit(t))) TFAIL(rc, "%s: out of memory", what);
            if (t->nbytes) memcpy(t->data, raw->data, t->nbytes);
        }
    } else if (typed_field) {
        if ((int64_t)n_typed != numel)
            TFAIL(CFP_E_INVALID, "%s: %zu values but dims %s need %" PRId64, what, n_typed,
                  cfp_shape_str(t, (char[128]){0}, 128), numel);
        bool ok = (typed_field == TENSOR_FLOAT_DATA && dtype == CFP_F32) ||
                  (typed_field == TENSOR_DOUBLE_DATA && dtype == CFP_F64) ||
                  (typed_field == TENSOR_INT64_DATA && dtype == CFP_I64) ||
                  (typed_field == TENSOR_UINT64_DATA && (dtype == CFP_U64 || dtype == CFP_U32)) ||
                  (typed_field == TENSOR_INT32_DATA &&
                   (dtype == CFP_I32 || dtype == CFP_I16 || dtype == CFP_I8 || dtype == CFP_U16 ||
                    dtype == CFP_U8 || dtype == CFP_BOOL || dtype == CFP_F16));
        if (!ok) TFAIL(CFP_E_INVALID, "%s: typed data field does not match data type %s", what, cfp_dtype_name(dtype));
        if ((rc = cfp_tensor_alloc(t))) TFAIL(rc, "%s: out of memory", what);
        /* second pass: fill */
        pb_reader r2 = pb_init(buf, len);
        int64_t k = 0;
        while (pb_next(&r2, &f)) {
            if ((int)f.field != typed_field) continue;
            int ew = f.field == TENSOR_FLOAT_DATA ? PB_I32 : f.field == TENSOR_DOUBLE_DATA ? PB_I64 : PB_VARINT;
            pb_packed it;
            uint64_t v;
            pb_packed_init(&it, &f, ew);
            while (k < numel && pb_packed_next(&it, &v)) {
                uint8_t *d = (uint8_t *)t->data;
                switch (dtype) {
                case CFP_F32: { uint32_t x = (uint32_t)v; memcpy(d + 4 * k, &x, 4); break; }
                case CFP_F64: case CFP_I64: case CFP_U64: memcpy(d + 8 * k, &v, 8); break;
                case CFP_I32: case CFP_U32: { uint32_t x = (uint32_t)v; memcpy(d + 4 * k, &x, 4); break; }
                case CFP_I16: case CFP_U16: case CFP_F16: { uint16_t x = (uint16_t)v; memcpy(d + 2 * k, &x, 2); break; }
                default: d[k] = (uint8_t)v; break;
                }
                k++;
            }
        }
    } else if (numel != 0) {
        TFAIL(CFP_E_INVALID, "%s: no data for dims %s", what, cfp_shape_str(t, (char[128]){0}, 128));
    }
    free(ext_loc);
    if (name_out) *name_out = name ? name : cfp_strdup("");
    else free(name);
    if (name_out && !*name_out) {
        cfp_tensor_free(t);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    return CFP_OK;
#undef TFAIL
fail:
fail_keep:
    free(name);
    free(ext_loc);
    cfp_tensor_free(t);
    return rc;
}

/* ---- writing a TensorProto ---------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} pb_writer;

static void w_bytes(pb_writer *w, const void *src, size_t n) {
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) cap *= 2;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return;
        }
        w->p = p, w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}
static void w_varint(pb_writer *w, uint64_t v) {
    uint8_t b[10];
    int n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    w_bytes(w, b, (size_t)n);
}
static void w_key(pb_writer *w, uint32_t field, int wire) { w_varint(w, (uint64_t)field << 3 | (uint64_t)wire); }

int cfp_tensor_encode(cfp_ctx *ctx, const cfp_tensor *t, const char *name, uint8_t **out,
                      size_t *len) {
    pb_writer w = {0};
    for (int i = 0; i < t->ndim; i++) {
        w_key(&w, TENSOR_DIMS, PB_VARINT);
        w_varint(&w, (uint64_t)t->dims[i]);
    }
    w_key(&w, TENSOR_DATA_TYPE, PB_VARINT);
    w_varint(&w, (uint64_t)t->dtype);
    if (name && *name) {
        w_key(&w, TENSOR_NAME, PB_LEN);
        w_varint(&w, strlen(name));
        w_bytes(&w, name, strlen(name));
    }
    w_key(&w, TENSOR_RAW_DATA, PB_LEN);
    w_varint(&w, t->nbytes);
    if (t->nbytes) w_bytes(&w, t->data, t->nbytes);
    if (w.oom) {
        free(w.p);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory encoding tensor");
    }
    *out = w.p;
    *len = w.len;
    return CFP_OK;
}

/* ---- files ---------------------------------------------------------------- */

static int read_file(cfp_ctx *ctx, const char *path, uint8_t **buf, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return cfp_seterr(ctx, CFP_E_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return cfp_seterr(ctx, CFP_E_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        fclose(fp);
        return cfp_seterr(ctx, CFP_E_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(p, 1, n, fp) != n) {
        free(p);
        fclose(fp);
        return cfp_seterr(ctx, CFP_E_IO, "%s: read error", path);
    }
    fclose(fp);
    *buf = p;
    *len = n;
    return CFP_OK;
}

int cfp_tensor_read_pb(cfp_ctx *ctx, const char *path, cfp_tensor *t, char **name) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(ctx, path, &buf, &len);
    if (rc) return rc;
    if (len == 0) {
        free(buf);
        return cfp_seterr(ctx, CFP_E_PARSE, "%s: empty file", path);
    }
    char what[512];
    snprintf(what, sizeof what, "%s", path);
    rc = cfp_tensor_decode(ctx, NULL, buf, len, false, t, name, what);
    free(buf);
    return rc;
}

int cfp_tensor_write_pb(cfp_ctx *ctx, const char *path, const cfp_tensor *t, const char *name) {
    uint8_t *buf;
    size_t len;
    int rc = cfp_tensor_encode(ctx, t, name, &buf, &len);
    if (rc) return rc;
    /* write to a temporary name, then rename: never a half-written file */
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= sizeof tmp) {
        free(buf);
        return cfp_seterr(ctx, CFP_E_ARG, "%s: path too long", path);
    }
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        free(buf);
        return cfp_seterr(ctx, CFP_E_IO, "%s: %s", path, strerror(errno));
    }
    bool ok = fwrite(buf, 1, len, fp) == len;
    ok = (fclose(fp) == 0) && ok;
    free(buf);
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cfp_seterr(ctx, CFP_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return CFP_OK;
}

/* ---- ModelProto ----------------------------------------------------------- */

static int parse_value_info(cfp_model *m, const pb_field *vf, int *id_out, bool create) {
    cfp_ctx *ctx = m->ctx;
    pb_reader r = pb_init(vf->data, vf->len);
    pb_field f;
    char *name = NULL;
    int elem = 0, ndim = -1;
    int64_t dims[CFP_MAX_DIMS];
    char *params[CFP_MAX_DIMS] = {0};
    int rc = CFP_OK;
    while (pb_next(&r, &f)) {
        if (f.field == VI_NAME && f.wire == PB_LEN) {
            free(name);
            if (!(name = pb_strdup(&f))) {
                rc = str_oom(&f, name) ? cfp_seterr(ctx, CFP_E_NOMEM, "out of memory")
                                       : cfp_seterr(ctx, CFP_E_PARSE, "graph value with an invalid name");
                goto out;
            }
        } else if (f.field == VI_TYPE && f.wire == PB_LEN) {
            pb_reader tr = pb_init(f.data, f.len);
            pb_field tf;
            while (pb_next(&tr, &tf)) {
                if (tf.field != TYPE_TENSOR || tf.wire != PB_LEN) continue;
                pb_reader ttr = pb_init(tf.data, tf.len);
                pb_field ttf;
                while (pb_next(&ttr, &ttf)) {
                    if (ttf.field == TTYPE_ELEM && ttf.wire == PB_VARINT) elem = (int)ttf.u;
                    else if (ttf.field == TTYPE_SHAPE && ttf.wire == PB_LEN) {
                        ndim = 0;
                        pb_reader sr = pb_init(ttf.data, ttf.len);
                        pb_field sf;
                        while (pb_next(&sr, &sf)) {
                            if (sf.field != SHAPE_DIM || sf.wire != PB_LEN) continue;
                            if (ndim >= CFP_MAX_DIMS) {
                                rc = cfp_seterr(ctx, CFP_E_UNSUPPORTED, "a graph value has more than %d dims", CFP_MAX_DIMS);
                                goto out;
                            }
                            int64_t dv = -1;
                            char *dp = NULL;
                            pb_reader dr = pb_init(sf.data, sf.len);
                            pb_field df;
                            while (pb_next(&dr, &df)) {
                                if (df.field == DIM_VALUE && df.wire == PB_VARINT) dv = (int64_t)df.u < 0 ? -1 : (int64_t)df.u;
                                else if (df.field == DIM_PARAM && df.wire == PB_LEN) {
                                    free(dp);
                                    dp = pb_strdup(&df);
                                    if (str_oom(&df, dp)) {
                                        rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
                                        goto out;
                                    }
                                }
                            }
                            if (dr.err) {
                                free(dp);
                                r.err = dr.err;
                                break;
                            }
                            params[ndim] = dp;
                            dims[ndim++] = dv;
                        }
                        if (sr.err) r.err = sr.err;
                    }
                }
                if (ttr.err) r.err = ttr.err;
            }
            if (tr.err) r.err = tr.err;
        }
    }
    if (r.err) {
        rc = cfp_seterr(ctx, CFP_E_PARSE, "graph input/output '%s': %s", name ? name : "?", r.err);
        goto out;
    }
    if (!name || !*name) {
        rc = cfp_seterr(ctx, CFP_E_INVALID, "graph input/output without a name");
        goto out;
    }
    int id = create ? cfp_graph_value(m, name) : cfp_graph_find(m, name);
    if (id == -2) {
        rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        goto out;
    }
    if (id >= 0) {
        cfp_value *v = &m->values[id];
        v->decl_dtype = elem;
        v->decl_ndim = ndim;
        for (int i = 0; i < ndim && i < CFP_MAX_DIMS; i++) {
            v->decl_dims[i] = dims[i];
            free(v->decl_params[i]);
            v->decl_params[i] = params[i];
            params[i] = NULL;
        }
    }
    *id_out = id;
out:
    for (int i = 0; i < CFP_MAX_DIMS; i++) free(params[i]);
    free(name);
    return rc;
}

static int parse_attribute(cfp_model *m, const pb_field *af, cfp_attr *a, const char *node) {
    cfp_ctx *ctx = m->ctx;
    memset(a, 0, sizeof *a);
    pb_reader r = pb_init(af->data, af->len);
    pb_field f;
    int inferred = 0;
    size_t n_floats = 0, n_ints = 0;
    /* pass 1: scalars and counts */
    while (pb_next(&r, &f)) {
        switch (f.field) {
        case ATTR_NAME:
            if (f.wire == PB_LEN) {
                free(a->name);
                if (str_oom(&f, a->name = pb_strdup(&f))) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
            }
            break;
        case ATTR_TYPE:
            if (f.wire == PB_VARINT) a->type = (int)f.u;
            break;
        case ATTR_F:
            if (f.wire == PB_I32) {
                uint32_t x = (uint32_t)f.u;
                memcpy(&a->f, &x, 4);
                inferred = CFP_ATTR_FLOAT;
            }
            break;
        case ATTR_I:
            if (f.wire == PB_VARINT) a->i = (int64_t)f.u, inferred = CFP_ATTR_INT;
            break;
        case ATTR_S:
            if (f.wire == PB_LEN) {
                free(a->s);
                a->s = malloc(f.len + 1);
                if (!a->s) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
                memcpy(a->s, f.data, f.len);
                a->s[f.len] = 0;
                a->slen = f.len;
                inferred = CFP_ATTR_STRING;
            }
            break;
        case ATTR_T:
            if (f.wire == PB_LEN) {
                char what[600];
                snprintf(what, sizeof what, "node '%s': attribute tensor", node);
                cfp_tensor_free(&a->t);
                int rc = cfp_tensor_decode(ctx, m, f.data, f.len, true, &a->t, NULL, what);
                if (rc) return rc;
                inferred = CFP_ATTR_TENSOR;
            }
            break;
        case ATTR_G: case ATTR_GRAPHS:
            inferred = CFP_ATTR_GRAPH;
            break;
        case ATTR_FLOATS:
            n_floats += pb_packed_max(&f, PB_I32);
            inferred = CFP_ATTR_FLOATS;
            break;
        case ATTR_INTS:
            n_ints += pb_packed_max(&f, PB_VARINT);
            inferred = CFP_ATTR_INTS;
            break;
        case ATTR_STRINGS:
            inferred = CFP_ATTR_STRINGS;
            break;
        case ATTR_TENSORS:
            inferred = CFP_ATTR_TENSOR; /* list of tensors: not used by supported ops */
            break;
        }
    }
    if (r.err) return cfp_seterr(ctx, CFP_E_PARSE, "node '%s': attribute: %s", node, r.err);
    if (!a->name) return cfp_seterr(ctx, CFP_E_INVALID, "node '%s': attribute without a name", node);
    if (!a->type) a->type = inferred; /* IR < 2 had no type field */
    if (n_floats) {
        if (!(a->floats = malloc(n_floats * sizeof *a->floats))) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    if (n_ints) {
        if (!(a->ints = malloc(n_ints * sizeof *a->ints))) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    /* pass 2: repeated values */
    if (n_floats || n_ints) {
        int nf = 0, ni = 0;
        r = pb_init(af->data, af->len);
        while (pb_next(&r, &f)) {
            pb_packed it;
            uint64_t v;
            if (f.field == ATTR_FLOATS && pb_packed_init(&it, &f, PB_I32)) {
                while (pb_packed_next(&it, &v)) {
                    uint32_t x = (uint32_t)v;
                    memcpy(&a->floats[nf++], &x, 4);
                }
                if (it.r.err) return cfp_seterr(ctx, CFP_E_PARSE, "node '%s': attribute '%s': %s", node, a->name, it.r.err);
            } else if (f.field == ATTR_INTS && pb_packed_init(&it, &f, PB_VARINT)) {
                while (pb_packed_next(&it, &v)) a->ints[ni++] = (int64_t)v;
                if (it.r.err) return cfp_seterr(ctx, CFP_E_PARSE, "node '%s': attribute '%s': %s", node, a->name, it.r.err);
            }
        }
        a->n = a->type == CFP_ATTR_FLOATS ? nf : ni;
    }
    return CFP_OK;
}

static int parse_node(cfp_model *m, const pb_field *nf, int index) {
    cfp_ctx *ctx = m->ctx;
    cfp_node *n = &m->nodes[index];
    memset(n, 0, sizeof *n);
    n->index = index;
    pb_reader r = pb_init(nf->data, nf->len);
    pb_field f;
    int n_in = 0, n_out = 0, n_attr = 0;
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN) continue;
        if (f.field == NODE_INPUT) n_in++;
        else if (f.field == NODE_OUTPUT) n_out++;
        else if (f.field == NODE_ATTRIBUTE) n_attr++;
        else if (f.field == NODE_NAME || f.field == NODE_OP_TYPE || f.field == NODE_DOMAIN) {
            char **dst = f.field == NODE_NAME ? &n->name : f.field == NODE_OP_TYPE ? &n->op_type : &n->domain;
            free(*dst);
            if (str_oom(&f, *dst = pb_strdup(&f))) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        }
    }
    if (r.err) return cfp_seterr(ctx, CFP_E_PARSE, "node %d: %s", index, r.err);
    if (!n->op_type || !*n->op_type) return cfp_seterr(ctx, CFP_E_INVALID, "node %d has no op_type", index);
    if (!n->name || !*n->name) {
        n->unnamed = true;
        free(n->name);
        char buf[96];
        snprintf(buf, sizeof buf, "%.64s_%d", n->op_type, index);
        n->name = cfp_strdup(buf);
    }
    if (!n->domain) n->domain = cfp_strdup("");
    n->in = calloc((size_t)n_in + 1, sizeof *n->in);
    n->out = calloc((size_t)n_out + 1, sizeof *n->out);
    n->attrs = calloc((size_t)n_attr + 1, sizeof *n->attrs);
    if (!n->name || !n->domain || !n->in || !n->out || !n->attrs) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    r = pb_init(nf->data, nf->len);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN) continue;
        if (f.field == NODE_INPUT || f.field == NODE_OUTPUT) {
            char *s = pb_strdup(&f);
            if (str_oom(&f, s)) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
            if (!s) return cfp_seterr(ctx, CFP_E_PARSE, "node '%s': invalid value name", n->name);
            int id = -1;
            if (*s) {
                id = f.field == NODE_OUTPUT ? cfp_graph_value(m, s) : cfp_graph_find(m, s);
                if (f.field == NODE_INPUT && id == -1) id = cfp_graph_value(m, s); /* resolved later */
            }
            free(s);
            if (id == -2) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
            if (f.field == NODE_INPUT) n->in[n->n_in++] = id;
            else n->out[n->n_out++] = id;
        } else if (f.field == NODE_ATTRIBUTE) {
            int rc = parse_attribute(m, &f, &n->attrs[n->n_attrs++], n->name);
            if (rc) return rc;
        }
    }
    for (int i = 0; i < n->n_attrs; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(n->attrs[i].name, n->attrs[j].name) == 0)
                return cfp_seterr(ctx, CFP_E_INVALID, "node '%s' (%s): attribute '%s' given twice", n->name, n->op_type, n->attrs[i].name);
    return CFP_OK;
}

/* Count fields of each kind in a message: graphs hold thousands of nodes. */
static int count_fields(const uint8_t *p, size_t len, uint32_t field) {
    pb_reader r = pb_init(p, len);
    pb_field f;
    int n = 0;
    while (pb_next(&r, &f))
        if (f.field == field && f.wire == PB_LEN) n++;
    return n;
}

/* "initializer 'NAME'" for messages about a TensorProto that may not decode;
 * "initializer #INDEX" when it has no usable name. */
static void initializer_label(const pb_field *tf, int index, char *out, size_t cap) {
    pb_reader r = pb_init(tf->data, tf->len);
    pb_field f;
    while (pb_next(&r, &f))
        if (f.field == TENSOR_NAME && f.wire == PB_LEN && f.len && !memchr(f.data, 0, f.len)) {
            snprintf(out, cap, "initializer '%.*s'", (int)(f.len < 100 ? f.len : 100), (const char *)f.data);
            return;
        }
    snprintf(out, cap, "initializer #%d", index);
}

static int parse_graph(cfp_model *m, const uint8_t *p, size_t len) {
    cfp_ctx *ctx = m->ctx;
    pb_reader r = pb_init(p, len);
    pb_field f;
    int rc;
    int n_nodes = count_fields(p, len, GRAPH_NODE);
    m->nodes = calloc((size_t)n_nodes + 1, sizeof *m->nodes);
    int n_in = count_fields(p, len, GRAPH_INPUT), n_out = count_fields(p, len, GRAPH_OUTPUT);
    m->inputs = calloc((size_t)n_in + 1, sizeof *m->inputs);
    m->outputs = calloc((size_t)n_out + 1, sizeof *m->outputs);
    if (!m->nodes || !m->inputs || !m->outputs) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");

    /* initializers first: they define values */
    while (pb_next(&r, &f)) {
        if (f.field == GRAPH_SPARSE_INITIALIZER)
            return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "sparse initializers are not supported");
        if (f.field != GRAPH_INITIALIZER || f.wire != PB_LEN) {
            if (f.field == GRAPH_NAME && f.wire == PB_LEN && !m->graph_name &&
                str_oom(&f, m->graph_name = pb_strdup(&f)))
                return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
            continue;
        }
        cfp_tensor t;
        char *name;
        char what[160];
        initializer_label(&f, m->n_values, what, sizeof what);
        if ((rc = cfp_tensor_decode(ctx, m, f.data, f.len, true, &t, &name, what))) return rc;
        if (!*name) {
            free(name);
            cfp_tensor_free(&t);
            return cfp_seterr(ctx, CFP_E_INVALID, "%s has no name", what);
        }
        if (cfp_graph_find(m, name) >= 0) {
            rc = cfp_seterr(ctx, CFP_E_INVALID, "initializer '%s' is defined twice", name);
            free(name);
            cfp_tensor_free(&t);
            return rc;
        }
        int id = cfp_graph_value(m, name);
        free(name);
        if (id < 0) {
            cfp_tensor_free(&t);
            return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        }
        cfp_value *v = &m->values[id];
        v->t = t;
        v->is_const = v->is_init = true;
    }
    if (r.err) return cfp_seterr(ctx, CFP_E_PARSE, "graph: %s", r.err);

    r = pb_init(p, len);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN) continue;
        if (f.field == GRAPH_INPUT) {
            int id;
            if ((rc = parse_value_info(m, &f, &id, true))) return rc;
            cfp_value *v = &m->values[id];
            if (!v->is_init) {
                if (v->is_input) return cfp_seterr(ctx, CFP_E_INVALID, "graph input '%s' is listed twice", v->name);
                v->is_input = true;
                m->inputs[m->n_inputs++] = id;
            }
        }
    }
    r = pb_init(p, len);
    while (pb_next(&r, &f)) {
        if (f.field == GRAPH_NODE && f.wire == PB_LEN) {
            if ((rc = parse_node(m, &f, m->n_nodes))) {
                m->n_nodes++; /* so it is freed */
                return rc;
            }
            m->n_nodes++;
        }
    }
    r = pb_init(p, len);
    while (pb_next(&r, &f)) {
        if (f.field == GRAPH_OUTPUT && f.wire == PB_LEN) {
            int id;
            if ((rc = parse_value_info(m, &f, &id, false))) return rc;
            if (id < 0) return cfp_seterr(ctx, CFP_E_INVALID, "graph output is not produced by any node");
            m->values[id].is_output = true;
            m->outputs[m->n_outputs++] = id;
        }
    }
    if (r.err) return cfp_seterr(ctx, CFP_E_PARSE, "graph: %s", r.err);
    return CFP_OK;
}

static int parse_model(cfp_model *m, const uint8_t *p, size_t len) {
    cfp_ctx *ctx = m->ctx;
    pb_reader r = pb_init(p, len);
    pb_field f, graph = {0};
    bool have_graph = false, have_opset = false;
    char *pname = NULL, *pver = NULL;
    bool oom = false;
    m->opset = 0;
    while (pb_next(&r, &f)) {
        switch (f.field) {
        case MODEL_IR_VERSION:
            if (f.wire == PB_VARINT) m->ir_version = (int64_t)f.u;
            break;
        case MODEL_PRODUCER_NAME:
            if (f.wire == PB_LEN) free(pname), pname = pb_strdup(&f), oom |= str_oom(&f, pname);
            break;
        case MODEL_PRODUCER_VERSION:
            if (f.wire == PB_LEN) free(pver), pver = pb_strdup(&f), oom |= str_oom(&f, pver);
            break;
        case MODEL_GRAPH:
            if (f.wire == PB_LEN) graph = f, have_graph = true;
            break;
        case MODEL_METADATA:
            if (f.wire == PB_LEN) {
                pb_reader mr = pb_init(f.data, f.len);
                pb_field mf;
                char *key = NULL, *val = NULL;
                while (pb_next(&mr, &mf)) {
                    if (mf.wire != PB_LEN) continue;
                    if (mf.field == 1) free(key), key = pb_strdup(&mf), oom |= str_oom(&mf, key);
                    else if (mf.field == 2) free(val), val = pb_strdup(&mf), oom |= str_oom(&mf, val);
                }
                char **k2 = key && val ? realloc(m->meta_keys, (size_t)(m->n_meta + 1) * sizeof *k2) : NULL;
                if (k2) m->meta_keys = k2;
                char **v2 = k2 ? realloc(m->meta_values, (size_t)(m->n_meta + 1) * sizeof *v2) : NULL;
                if (v2) {
                    m->meta_values = v2;
                    m->meta_keys[m->n_meta] = key;
                    m->meta_values[m->n_meta++] = val;
                } else {
                    oom |= key && val; /* the entry was fine: no memory for it */
                    free(key), free(val); /* malformed entries are ignored */
                }
            }
            break;
        case MODEL_OPSET_IMPORT:
            if (f.wire == PB_LEN) {
                pb_reader or = pb_init(f.data, f.len);
                pb_field of;
                int64_t ver = -1;
                bool default_domain = true;
                while (pb_next(&or, &of)) {
                    if (of.field == OPSET_DOMAIN && of.wire == PB_LEN)
                        default_domain = of.len == 0 || (of.len == 7 && memcmp(of.data, "ai.onnx", 7) == 0);
                    else if (of.field == OPSET_VERSION && of.wire == PB_VARINT) ver = (int64_t)of.u;
                }
                if (or.err) r.err = or.err;
                if (default_domain && ver >= 0) m->opset = ver, have_opset = true;
            }
            break;
        }
    }
    char prod[256];
    snprintf(prod, sizeof prod, "%s%s%s", pname ? pname : "", pver && *pver ? " " : "", pver ? pver : "");
    free(pname);
    free(pver);
    if (oom || !(m->producer = cfp_strdup(prod))) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    if (r.err) return cfp_seterr(ctx, CFP_E_PARSE, "not an ONNX model: %s", r.err);
    if (!have_graph) return cfp_seterr(ctx, CFP_E_PARSE, "not an ONNX model: no graph");
    if (m->ir_version < 3 || m->ir_version > 9)
        return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "IR version %" PRId64 " is not supported (3 to 9 are)", m->ir_version);
    /* Opsets 7 to 17 are what cfp is built and tested for; older models load
     * where their operators kept today's semantics (each op checks). A model
     * that imports no default-domain opset can still fail per node. */
    if (have_opset && m->opset > 17)
        return cfp_seterr(ctx, CFP_E_UNSUPPORTED, "opset %" PRId64 " is not supported (7 to 17 are)", m->opset);
    return parse_graph(m, graph.data, graph.len);
}

/* Parse the mapped bytes of m (m->map, m->map_len) into a finalised graph;
 * `path` prefixes the message on failure. Frees m on failure. */
static int load_mapped(cfp_ctx *ctx, cfp_model *m, const char *path, cfp_model **out) {
    int rc = parse_model(m, m->map, m->map_len);
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
    if (rc) goto fail_prefix;
    if ((rc = cfp_graph_finalize(m))) goto fail_prefix;
    *out = m;
    return CFP_OK;
fail_prefix: {
    /* prefix the message with the file: "model.onnx: node ..." */
    size_t pl = strlen(path) + 2, el = strlen(ctx->err), cap = sizeof ctx->err;
    if (pl < cap / 2) {
        if (pl + el + 1 > cap) el = cap - pl - 1;
        memmove(ctx->err + pl, ctx->err, el);
        ctx->err[pl + el] = 0;
        memcpy(ctx->err, path, pl - 2);
        ctx->err[pl - 2] = ':';
        ctx->err[pl - 1] = ' ';
    }
}
    cfp_model_free(m);
    return rc;
}

int cfp_model_load(cfp_ctx *ctx, const char *path, cfp_model **out) {
    *out = NULL;
    cfp_model *m = calloc(1, sizeof *m);
    if (!m) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    m->ctx = ctx;
    m->fd = -1;
    int rc = CFP_OK;
    m->path = cfp_strdup(path);
    const char *slash = strrchr(path, '/');
    m->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : cfp_strdup(".");
    if (!m->path || !m->dir) {
        rc = cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
        goto fail;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = cfp_seterr(ctx, CFP_E_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        rc = cfp_seterr(ctx, CFP_E_IO, "%s: not a regular file", path);
        goto fail;
    }
    if (st.st_size == 0) {
        close(fd);
        rc = cfp_seterr(ctx, CFP_E_PARSE, "%s: empty file, not an ONNX model", path);
        goto fail;
    }
    m->map_len = (size_t)st.st_size;
    m->map = mmap(NULL, m->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->map == MAP_FAILED) {
        close(fd);
        m->map = NULL;
        rc = cfp_seterr(ctx, CFP_E_IO, "%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    m->fd = fd;
    m->map_is_file = true;
    return load_mapped(ctx, m, path, out);
fail:
    cfp_model_free(m);
    return rc;
}

int cfp_model_load_mem(cfp_ctx *ctx, const void *data, size_t len, const char *name, cfp_model **out) {
    *out = NULL;
    if (!name) name = "<memory>";
    if (len == 0) return cfp_seterr(ctx, CFP_E_PARSE, "%s: empty buffer, not an ONNX model", name);
    cfp_model *m = calloc(1, sizeof *m);
    if (!m) return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    m->ctx = ctx;
    m->fd = -1;
    /* dir stays NULL: external data is refused, there is no folder to hold it */
    m->path = cfp_strdup(name);
    /* weights are views into the model's bytes, which must outlive the
     * caller's buffer: a private copy, freed (unmapped) with the model */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!m->path || p == MAP_FAILED) {
        if (p != MAP_FAILED) munmap(p, len);
        cfp_model_free(m);
        return cfp_seterr(ctx, CFP_E_NOMEM, "out of memory");
    }
    memcpy(p, data, len);
    mprotect(p, len, PROT_READ);
    m->map = p;
    m->map_len = len;
    return load_mapped(ctx, m, name, out);
}
