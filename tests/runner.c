/* Test runner: runs every registered test (or those whose name contains
 * argv[1]) and ends with one line "N passed, N failed". */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
