/* Test runner: runs every registered test (or those whose name contains
 * argv[1]) and ends with one line "N passed, N failed". */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 4096
static struct {
    const char *name;
    cfp_test_fn fn;
    int suite;
} tests[MAX_TESTS];
static int n_tests, cur_failed, n_passed, n_failed, n_skipped;
static const char *cur_name;
static int verbose;

static const char *filter;

void cfp_test_register(const char *name, cfp_test_fn fn, int is_suite) {
    if (n_tests < MAX_TESTS) tests[n_tests].name = name, tests[n_tests].suite = is_suite, tests[n_tests++].fn = fn;
}

const char *cfp_test_filter(void) { return filter; }
int cfp_test_wanted(const char *name) { return !filter || strstr(name, filter) != NULL; }

void cfp_test_fail_here(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (cur_failed < 5) {
        fprintf(stderr, "FAIL %s: %s:%d: ", cur_name, file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    cur_failed++;
}

void cfp_test_result(const char *name, int passed, const char *why) {
    if (passed) {
        n_passed++;
        if (verbose) printf("ok   %s\n", name);
    } else {
        n_failed++;
        fprintf(stderr, "FAIL %s: %s\n", name, why ? why : "");
    }
}

void cfp_test_skip(const char *name, const char *why) {
    n_skipped++;
    if (verbose) printf("skip %s: %s\n", name, why);
}

const char *cfp_test_root(void) {
    const char *r = getenv("CFP_SOURCE_DIR");
    return r && *r ? r : ".";
}

/* ---- files and commands ------------------------------------------------ */

static char tmp_root[64];

static void tmp_remove(void) {
    const char *keep = getenv("CFP_TEST_KEEP");
    if (!tmp_root[0]) return;
    if (keep && !strcmp(keep, "1")) {
        fprintf(stderr, "kept %s (CFP_TEST_KEEP=1)\n", tmp_root);
        return;
    }
    cfp_test_sh("rm -rf '%s'", tmp_root);
}

const char *cfp_test_tmpdir(void) {
    if (!tmp_root[0]) {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/cfp-test-XXXXXX");
        if (!mkdtemp(tmp_root)) abort();
        atexit(tmp_remove);
    }
    return tmp_root;
}

const char *cfp_test_tmpsub(const char *sub) {
    static struct {
        char name[32], path[128];
    } subs[32];
    for (int i = 0; i < 32; i++) {
        if (subs[i].name[0] && !strcmp(subs[i].name, sub)) return subs[i].path;
        if (!subs[i].name[0]) {
            snprintf(subs[i].name, sizeof subs[i].name, "%s", sub);
            snprintf(subs[i].path, sizeof subs[i].path, "%s/%s", cfp_test_tmpdir(), sub);
            if (mkdir(subs[i].path, 0755) != 0) abort();
            return subs[i].path;
        }
    }
    abort();
}

const char *cfp_test_tmp(const char *sub, const char *name) {
    static char p[8][512];
    static int k;
    char *s = p[k++ & 7];
    snprintf(s, sizeof p[0], "%s/%s", cfp_test_tmpsub(sub), name);
    return s;
}

static int sh_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0); }

int cfp_test_sh(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *cmd = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!cmd) abort();
    va_start(ap, fmt);
    vsnprintf(cmd, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    free(cmd);
    return sh_status(st);
}

int cfp_test_run(const char *cmd, char *out, size_t outlen, char *err, size_t errlen) {
    char o[256], e[256];
    snprintf(o, sizeof o, "%s/stdout", cfp_test_tmpsub("run"));
    snprintf(e, sizeof e, "%s/stderr", cfp_test_tmpsub("run"));
    int rc = cfp_test_sh("(\n%s\n) >'%s' 2>'%s'", cmd, o, e);
    if (out && outlen) cfp_test_slurp(o, out, outlen);
    if (err && errlen) cfp_test_slurp(e, err, errlen);
    return rc;
}

cfp_test_cli_out *cfp_test_cli(const char *fmt, ...) {
    static cfp_test_cli_out r;
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *bin = getenv("CFP_BIN");
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", cfp_test_root(), bin ? bin : "build/cfp", args);
    r.rc = cfp_test_run(cmd, r.out, sizeof r.out, r.err, sizeof r.err);
    return &r;
}

size_t cfp_test_slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f && cap ? fread(buf, 1, cap - 1, f) : 0;
    if (cap) buf[n] = 0;
    if (f) fclose(f);
    return n;
}

void *cfp_test_slurp_alloc(const char *path, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 1 << 16;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    if (b && ferror(f)) free(b), b = NULL;
    fclose(f);
    if (!b) return NULL;
    b[n] = 0;
    *len = n;
    return b;
}

int cfp_test_exists(const char *fmt, ...) {
    char p[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    return access(p, F_OK) == 0;
}

int cfp_test_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) verbose = 1;
        else filter = argv[i];
    }
    for (int i = 0; i < n_tests; i++) {
        cur_name = tests[i].name;
        cur_failed = 0;
        if (tests[i].suite) {
            tests[i].fn();
            if (cur_failed) n_failed++; /* a suite that could not run at all */
            continue;
        }
        if (!cfp_test_wanted(tests[i].name)) continue;
        tests[i].fn();
        if (cur_failed) n_failed++;
        else {
            n_passed++;
            if (verbose) printf("ok   %s\n", cur_name);
        }
    }
    if (n_skipped) printf("%d skipped (see the skip list for reasons)\n", n_skipped);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
