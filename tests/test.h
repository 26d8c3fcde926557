/* Minimal test harness: tests register themselves; the runner prints every
 * failure with both values and ends with "N passed, N failed". */
#ifndef CFP_TEST_H
#define CFP_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*cfp_test_fn)(void);
void cfp_test_register(const char *name, cfp_test_fn fn, int is_suite);
/* The command-line filter (substring of test names), or NULL. Suites apply
 * it to their own case names. */
const char *cfp_test_filter(void);
int cfp_test_wanted(const char *case_name);
/* For data-driven suites: record one case's outcome directly. */
void cfp_test_result(const char *name, int passed, const char *why);
void cfp_test_skip(const char *name, const char *why);
void cfp_test_fail_here(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Folder of the source tree (tests/..), for fixtures. */
const char *cfp_test_root(void);

/* ---- files and commands ------------------------------------------------ */

/* This run's temporary folder (/tmp/cfp-test-XXXXXX), made on first use and
 * removed at exit unless CFP_TEST_KEEP=1. */
const char *cfp_test_tmpdir(void);
/* cfp_test_tmpdir()/sub, made on first use; the string lives for the run.
 * Each test file keeps its files in a folder of its own. */
const char *cfp_test_tmpsub(const char *sub);
/* cfp_test_tmpsub(sub)/name, in one of 8 rotating buffers. */
const char *cfp_test_tmp(const char *sub, const char *name);
/* Runs a shell command (printf-formatted); its exit status, or 128 + the
 * signal that ended it. */
int cfp_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cfp_test_sh(cmd) with stdout and stderr captured into out and err
 * (NUL-terminated, cut to outlen - 1 and errlen - 1 bytes; either may be NULL). */
int cfp_test_run(const char *cmd, char *out, size_t outlen, char *err, size_t errlen);
/* The cfp binary under test ($CFP_BIN, else build/cfp) run from the source
 * tree with the (printf-formatted) shell fragment appended; the result is
 * overwritten by the next call. */
typedef struct {
    int rc;
    char out[32768], err[4096];
} cfp_test_cli_out;
cfp_test_cli_out *cfp_test_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A file's bytes into buf, NUL-terminated and cut to cap - 1 bytes; returns
 * the bytes read ("" and 0 when the file cannot be opened). */
size_t cfp_test_slurp(const char *path, char *buf, size_t cap);
/* A whole file, malloc'd with a NUL after the end; *len its size. NULL (and
 * *len 0) when it cannot be read. */
void *cfp_test_slurp_alloc(const char *path, size_t *len);
/* Whether the (printf-formatted) path exists. */
int cfp_test_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Number of '\n' in s. */
int cfp_test_lines(const char *s);

#define TEST(fn)                                                                  \
    static void fn(void);                                                         \
    __attribute__((constructor)) static void cfp_test_reg_##fn(void) {            \
        cfp_test_register(#fn, fn, 0);                                            \
    }                                                                             \
    static void fn(void)

/* A data-driven suite: always runs, reports each case with cfp_test_result. */
#define SUITE(fn)                                                                 \
    static void fn(void);                                                         \
    __attribute__((constructor)) static void cfp_test_reg_##fn(void) {            \
        cfp_test_register(#fn, fn, 1);                                            \
    }                                                                             \
    static void fn(void)

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) cfp_test_fail_here(__FILE__, __LINE__, "CHECK(%s)", #cond);  \
    } while (0)

#define CHECK_EQ(a, b)                                                            \
    do {                                                                          \
        long long cfp_a_ = (long long)(a), cfp_b_ = (long long)(b);               \
        if (cfp_a_ != cfp_b_)                                                     \
            cfp_test_fail_here(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, \
                               cfp_a_, cfp_b_);                                   \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                     \
    do {                                                                          \
        double cfp_a_ = (double)(a), cfp_b_ = (double)(b);                        \
        if (!(fabs(cfp_a_ - cfp_b_) <= (tol)))                                    \
            cfp_test_fail_here(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, \
                               #b, cfp_a_, cfp_b_, (double)(tol));                \
    } while (0)

#endif
