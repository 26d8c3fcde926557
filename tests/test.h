/* Minimal test harness: tests register themselves; the runner prints every
 * failure with both values and ends with "N passed, N failed". */
#ifndef CFP_TEST_H
#define CFP_TEST_H

#include <math.h>
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
