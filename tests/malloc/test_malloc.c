/* Malloc-failure mode (`make test-malloc`): the Nth allocation fails, for
 * N = 1, 2, ... until a pass makes no more allocations than N, over
 *   - the loader: cfp_model_load of a fixture, and the same bytes from memory;
 *   - a full run: context, load, reading the input .pb, plan, run, the Class
 *     Feature Pyramid and its maps, every handle freed.
 * Every pass must end in success or in an error status with a message, never
 * a crash, and must leave no allocation behind (a leak is named by the N
 * that caused it).
 *
 * malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign and free
 * are replaced here (glibc routes its own internal allocations — strdup,
 * fopen — through them too) and call glibc's __libc_* functions; anonymous
 * mmap, which the weight copies and the activation arena use, fails the same
 * way. A separate binary: the sanitizers of `make test-asan` replace malloc
 * themselves. Runs single-threaded (OPENBLAS_NUM_THREADS=1, a 1-thread
 * context). Ends with "N passed, N failed" like the main suite. */
#include "cfp.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* ---- the counting allocator --------------------------------------------- */

static int enabled;         /* count (and maybe fail) allocations */
static long n_allocs;       /* allocations seen since the pass began */
static long fail_at;        /* 1-based allocation to fail; 0: none */
static int failed_one;      /* this pass failed an allocation */
static void *failed_caller; /* who asked for it */

/* live blocks made while enabled: open addressing on the pointer */
#define TAB_BITS 20
#define TAB_SIZE (1u << TAB_BITS)
static struct {
    void *p;
    size_t len; /* mmap length; 0 for heap blocks */
    void *caller; /* who allocated it, for the report of a leak */
} tab[TAB_SIZE];
static long n_live;
static void *const TOMB = (void *)1;

static size_t slot_of(void *p) { return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - TAB_BITS); }

static void *caller;
static void track(void *p, size_t len) {
    if (!p) return;
    for (size_t i = slot_of(p), k = 0; k < TAB_SIZE; i = (i + 1) & (TAB_SIZE - 1), k++)
        if (!tab[i].p || tab[i].p == TOMB) {
            tab[i].p = p, tab[i].len = len, tab[i].caller = caller;
            n_live++;
            return;
        }
    fprintf(stderr, "test_malloc: allocation table full\n");
    abort();
}

static int untrack(void *p) {
    if (!p || !n_live) return 0;
    for (size_t i = slot_of(p), k = 0; k < TAB_SIZE && tab[i].p; i = (i + 1) & (TAB_SIZE - 1), k++)
        if (tab[i].p == p) {
            tab[i].p = TOMB;
            n_live--;
            return 1;
        }
    return 0;
}

/* the callers of the blocks still live (addr2line -e BINARY turns them into lines) */
static void show_live(void) {
    int shown = 0;
    for (size_t i = 0; i < TAB_SIZE && shown < 8; i++)
        if (tab[i].p && tab[i].p != TOMB) {
            Dl_info di;
            if (dladdr(tab[i].caller, &di) && di.dli_fname)
                fprintf(stderr, "  leaked block from %s in %s+%#lx\n", di.dli_sname ? di.dli_sname : "?", di.dli_fname,
                        (unsigned long)((char *)tab[i].caller - (char *)di.dli_fbase));
            else
                fprintf(stderr, "  leaked block from %p\n", tab[i].caller);
            shown++;
        }
}

static void forget_all(void) {
    memset(tab, 0, sizeof tab);
    n_live = 0;
}

/* Calls into oneDNN (Debian's libdnnl 2.6) are not failed: oneDNN does not
 * check all of its own allocations (a failed one inside
 * dnnl_primitive_desc_create dereferences NULL), and it keeps caches for the
 * life of the process. The test binary is linked with --wrap for every dnnl_*
 * function cfp calls (see DNNL_WRAP in the Makefile); allocations made on a
 * thread while it is inside one are neither counted, failed nor tracked, so
 * every allocation of cfp's own code around oneDNN still fails in turn. */
static __thread int in_dnnl;
static int active(void) { return enabled && !in_dnnl; }

/* whether this allocation is the one to fail */
static int should_fail(void) {
    if (!active()) return 0;
    n_allocs++;
    if (fail_at && n_allocs == fail_at) {
        failed_one = 1;
        failed_caller = caller;
        return 1;
    }
    return 0;
}

void *malloc(size_t n) {
    caller = __builtin_return_address(0);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_malloc(n);
    if (active()) track(p, 0);
    return p;
}

void *calloc(size_t a, size_t b) {
    caller = __builtin_return_address(0);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_calloc(a, b);
    if (active()) track(p, 0);
    return p;
}

void *realloc(void *old, size_t n) {
    caller = __builtin_return_address(0);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL; /* old stays valid, as after a real failure */
    }
    int was = active() && untrack(old);
    void *p = __libc_realloc(old, n);
    if (!p && n) {
        if (was) track(old, 0);
    } else if (active()) {
        track(p, 0);
    }
    return p;
}

void free(void *p) {
    if (active()) untrack(p);
    __libc_free(p);
}

void *memalign(size_t align, size_t n) {
    caller = __builtin_return_address(0);
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_memalign(align, n);
    if (active()) track(p, 0);
    return p;
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n) {
    void *p = memalign(align, n);
    if (p && active()) untrack(p), caller = __builtin_return_address(0), track(p, 0);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    caller = __builtin_return_address(0);
    if (!real_mmap) real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    if ((flags & MAP_ANONYMOUS) && should_fail()) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = real_mmap(addr, len, prot, flags, fd, off);
    if (active() && p != MAP_FAILED) track(p, len);
    return p;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

int munmap(void *addr, size_t len) {
    if (!real_munmap) real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    if (active()) untrack(addr);
    return real_munmap(addr, len);
}

/* ---- the oneDNN entry points cfp uses, wrapped ---------------------------- */
#include <dnnl.h>

#define WRAP(ret, name, params, args)                                                                        \
    ret __real_##name params;                                                                                \
    ret __wrap_##name params;                                                                                \
    ret __wrap_##name params {                                                                               \
        in_dnnl++;                                                                                           \
        ret r_ = __real_##name args;                                                                         \
        in_dnnl--;                                                                                           \
        return r_;                                                                                           \
    }
WRAP(dnnl_status_t, dnnl_engine_create, (dnnl_engine_t * e, dnnl_engine_kind_t k, size_t i), (e, k, i))
WRAP(dnnl_status_t, dnnl_dilated_convolution_forward_desc_init,
     (dnnl_convolution_desc_t * cd, dnnl_prop_kind_t pk, dnnl_alg_kind_t ak, const dnnl_memory_desc_t *x,
      const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *y, const dnnl_dims_t s,
      const dnnl_dims_t d, const dnnl_dims_t pl, const dnnl_dims_t pr),
     (cd, pk, ak, x, w, b, y, s, d, pl, pr))
WRAP(dnnl_status_t, dnnl_memory_create,
     (dnnl_memory_t * m, const dnnl_memory_desc_t *md, dnnl_engine_t e, void *h), (m, md, e, h))
WRAP(int, dnnl_memory_desc_equal, (const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b), (a, b))
WRAP(size_t, dnnl_memory_desc_get_size, (const dnnl_memory_desc_t *md), (md))
WRAP(dnnl_status_t, dnnl_memory_desc_init_by_tag,
     (dnnl_memory_desc_t * md, int n, const dnnl_dims_t d, dnnl_data_type_t t, dnnl_format_tag_t tag),
     (md, n, d, t, tag))
WRAP(dnnl_status_t, dnnl_memory_destroy, (dnnl_memory_t m), (m))
WRAP(dnnl_status_t, dnnl_memory_get_memory_desc, (const_dnnl_memory_t m, const dnnl_memory_desc_t **md), (m, md))
WRAP(dnnl_status_t, dnnl_memory_set_data_handle, (dnnl_memory_t m, void *h), (m, h))
WRAP(dnnl_status_t, dnnl_primitive_create, (dnnl_primitive_t * p, const_dnnl_primitive_desc_t pd), (p, pd))
WRAP(dnnl_status_t, dnnl_primitive_desc_create,
     (dnnl_primitive_desc_t * pd, const_dnnl_op_desc_t od, const_dnnl_primitive_attr_t a, dnnl_engine_t e,
      const_dnnl_primitive_desc_t h),
     (pd, od, a, e, h))
WRAP(dnnl_status_t, dnnl_primitive_desc_destroy, (dnnl_primitive_desc_t pd), (pd))
WRAP(dnnl_status_t, dnnl_primitive_desc_query,
     (const_dnnl_primitive_desc_t pd, dnnl_query_t q, int i, void *r), (pd, q, i, r))
WRAP(const dnnl_memory_desc_t *, dnnl_primitive_desc_query_md,
     (const_dnnl_primitive_desc_t pd, dnnl_query_t q, int i), (pd, q, i))
WRAP(dnnl_status_t, dnnl_primitive_destroy, (dnnl_primitive_t p), (p))
WRAP(dnnl_status_t, dnnl_primitive_execute,
     (const_dnnl_primitive_t p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *a), (p, s, n, a))
WRAP(dnnl_status_t, dnnl_reorder_primitive_desc_create,
     (dnnl_primitive_desc_t * pd, const dnnl_memory_desc_t *x, dnnl_engine_t xe, const dnnl_memory_desc_t *y,
      dnnl_engine_t ye, const_dnnl_primitive_attr_t a),
     (pd, x, xe, y, ye, a))
WRAP(dnnl_status_t, dnnl_stream_create, (dnnl_stream_t * s, dnnl_engine_t e, unsigned f), (s, e, f))
WRAP(dnnl_status_t, dnnl_stream_destroy, (dnnl_stream_t s), (s))
WRAP(dnnl_status_t, dnnl_stream_wait, (dnnl_stream_t s), (s))
WRAP(dnnl_status_t, dnnl_sgemm,
     (char ta, char tb, dnnl_dim_t M, dnnl_dim_t N, dnnl_dim_t K, float alpha, const float *A, dnnl_dim_t lda,
      const float *B, dnnl_dim_t ldb, float beta, float *C, dnnl_dim_t ldc),
     (ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))

/* ---- scenarios ------------------------------------------------------------ */

static const char *root = ".";
static char model_path[1024], input_path[1024];
static void *model_bytes;
static size_t model_len;

/* 0: success; < 0: a status with a message; 1: a status without a message */
static int judge_at(cfp_ctx *ctx, int rc, int line) {
    if (!rc) return 0;
    if (getenv("TEST_MALLOC_VERBOSE"))
        fprintf(stderr, "  allocation %ld: line %d: status %d: %s\n", fail_at, line, rc, cfp_errmsg(ctx));
    return cfp_errmsg(ctx)[0] ? rc : 1;
}
#define judge(ctx, rc) judge_at(ctx, rc, __LINE__)

static int scenario_load(void) {
    cfp_ctx *ctx;
    if (cfp_ctx_new(&ctx, 1)) return CFP_E_NOMEM; /* no context: no message to give */
    cfp_model *m = NULL;
    int rc = judge(ctx, cfp_model_load(ctx, model_path, &m));
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

static int scenario_load_mem(void) {
    cfp_ctx *ctx;
    if (cfp_ctx_new(&ctx, 1)) return CFP_E_NOMEM;
    cfp_model *m = NULL;
    int rc = judge(ctx, cfp_model_load_mem(ctx, model_bytes, model_len, "model.onnx", &m));
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

static int scenario_full(void) {
    cfp_ctx *ctx;
    if (cfp_ctx_new(&ctx, 1)) return CFP_E_NOMEM;
    cfp_model *m = NULL;
    cfp_tensor in;
    memset(&in, 0, sizeof in);
    char *name = NULL;
    cfp_pyramid *p = NULL;
    int rc = judge(ctx, cfp_model_load(ctx, model_path, &m));
    if (!rc) rc = judge(ctx, cfp_tensor_read_pb(ctx, input_path, &in, &name));
    if (!rc) rc = judge(ctx, cfp_model_run(m, 1, &in));
    if (!rc) {
        cfp_pyramid_params prm;
        cfp_pyramid_params_default(&prm);
        rc = judge(ctx, cfp_pyramid_build(m, &prm, &p));
    }
    if (!rc) {
        cfp_volume v;
        for (int i = 0; !rc && i < cfp_pyramid_n_nodes(p) && i < 3; i++) {
            if (!(rc = judge(ctx, cfp_map_kernelwise(p, i, &v)))) cfp_volume_free(&v);
            if (!rc && !(rc = judge(ctx, cfp_map_own(p, i, &v)))) cfp_volume_free(&v);
        }
        if (!rc && !(rc = judge(ctx, cfp_map_saliency_tubes(p, &v)))) cfp_volume_free(&v);
    }
    cfp_pyramid_free(p);
    free(name);
    cfp_tensor_free(&in);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return rc;
}

/* Fails allocation 1, 2, ... of the scenario; returns the number of failures. */
static int sweep(const char *what, int (*fn)(void), long max_n) {
    int bad = 0;
    long n, total = 0, errors = 0, ok_despite = 0;
    /* a clean pass first: it must succeed, and it counts the allocations */
    forget_all();
    n_allocs = 0, fail_at = 0, failed_one = 0, enabled = 1;
    int rc = fn();
    enabled = 0;
    total = n_allocs;
    if (rc) {
        fprintf(stderr, "FAIL %s: the pass without failures returned %d\n", what, rc);
        return 1;
    }
    if (n_live) {
        fprintf(stderr, "FAIL %s: %ld allocations left after the pass without failures\n", what, n_live);
        show_live();
        bad++;
    }
    for (n = 1; n <= total && n <= max_n; n++) {
        forget_all();
        n_allocs = 0, fail_at = n, failed_one = 0, enabled = 1;
        rc = fn();
        enabled = 0;
        if (rc == 1) {
            if (bad++ < 5) fprintf(stderr, "FAIL %s: allocation %ld failed: error without a message\n", what, n);
        }
        if (rc < 0) errors++;
        else if (rc == 0 && failed_one) {
            ok_despite++;
            if (getenv("TEST_MALLOC_VERBOSE")) {
                Dl_info di;
                if (dladdr(failed_caller, &di) && di.dli_fname)
                    fprintf(stderr, "  allocation %ld tolerated: from %s in %s+%#lx\n", n,
                            di.dli_sname ? di.dli_sname : "?", di.dli_fname,
                            (unsigned long)((char *)failed_caller - (char *)di.dli_fbase));
            }
        }
        if (n_live) {
            if (bad++ < 5) {
                fprintf(stderr, "FAIL %s: allocation %ld failed: %ld blocks leaked\n", what, n, n_live);
                show_live();
            }
        }
    }
    printf("%-24s %ld allocations, each failed once: %ld reported an error, %ld still succeeded (the failure was "
           "tolerated), %d problems\n",
           what, total, errors, ok_despite, bad);
    return bad;
}

int main(int argc, char **argv) {
    const char *r = getenv("CFP_SOURCE_DIR");
    if (r && *r) root = r;
    const char *fx = argc > 1 ? argv[1] : "tests/fixtures/dynamic_shapes";
    snprintf(model_path, sizeof model_path, "%s/%s/model.onnx", root, fx);
    snprintf(input_path, sizeof input_path, "%s/%s/test_data_set_0/input_0.pb", root, fx);
    FILE *f = fopen(model_path, "rb");
    if (!f) {
        fprintf(stderr, "test_malloc: cannot open %s\n", model_path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    model_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    model_bytes = malloc(model_len);
    if (!model_bytes || fread(model_bytes, 1, model_len, f) != model_len) return 1;
    fclose(f);
    /* one run first, uncounted: OpenBLAS and the C library make their
     * one-time allocations (kept for the process) here */
    if (scenario_full()) {
        fprintf(stderr, "test_malloc: the full run fails without failing allocations\n");
        return 1;
    }
    int passed = 0, failed = 0;
    const struct {
        const char *name;
        int (*fn)(void);
    } sc[] = {{"load", scenario_load}, {"load from memory", scenario_load_mem}, {"full run", scenario_full}};
    for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
        if (sweep(sc[i].name, sc[i].fn, 1000000)) failed++;
        else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
