/* Whole-graph tests in the ONNX backend-test layout:
 *   DIR/model.onnx, DIR/test_data_set_0/input_K.pb, output_K.pb
 * - ONNX node tests from Debian's libonnx-testdata (rtol 1e-3, atol 1e-5),
 *   every test whose operators cfp supports; tests/node_skip.txt lists the
 *   ones skipped, each with its reason.
 * - tests/fixtures/: small video models exported from PyTorch by
 *   scripts/make_fixtures.py, compared with PyTorch's outputs (rtol 1e-4). */
#include "cfp.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NODE_DATA "/usr/share/libonnx-testdata/data"

typedef struct {
    char name[128];
    char reason[256];
} skip_entry;

static skip_entry *skips;
static int n_skips;

static void load_skips(void) {
    if (skips) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/node_skip.txt", cfp_test_root());
    FILE *fp = fopen(path, "r");
    skips = calloc(2048, sizeof *skips);
    if (!fp || !skips) {
        if (fp) fclose(fp);
        return;
    }
    char line[512];
    while (n_skips < 2048 && fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char *sp = line + strcspn(line, " \t");
        if (*sp) *sp++ = 0;
        while (*sp == ' ' || *sp == '\t') sp++;
        snprintf(skips[n_skips].name, sizeof skips[n_skips].name, "%.127s", line);
        snprintf(skips[n_skips].reason, sizeof skips[n_skips].reason, "%.255s", *sp ? sp : "(no reason given)");
        n_skips++;
    }
    fclose(fp);
}

static const char *skip_reason(const char *test) {
    for (int i = 0; i < n_skips; i++)
        if (strcmp(skips[i].name, test) == 0) return skips[i].reason;
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted subdirectory names of dir (caller frees). */
static char **list_dirs(const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    int cap = 64;
    char **names = malloc((size_t)cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            char **nn = realloc(names, (size_t)(cap *= 2) * sizeof *names);
            if (!nn) break;
            names = nn;
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (names) qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Compare one output; writes a reason on mismatch. */
static int compare(const cfp_tensor *got, const cfp_tensor *want, double rtol, double atol, char *why,
                   size_t wlen, double *max_rel) {
    if (got->dtype != want->dtype) {
        snprintf(why, wlen, "dtype %s, expected %s", cfp_dtype_name(got->dtype), cfp_dtype_name(want->dtype));
        return 0;
    }
    int same = got->ndim == want->ndim;
    for (int i = 0; same && i < got->ndim; i++) same = got->dims[i] == want->dims[i];
    if (!same) {
        char a[128] = "", b[128] = "";
        for (int i = 0, o = 0; i < got->ndim; i++) o += snprintf(a + o, sizeof a - (size_t)o, "%s%lld", i ? "x" : "", (long long)got->dims[i]);
        for (int i = 0, o = 0; i < want->ndim; i++) o += snprintf(b + o, sizeof b - (size_t)o, "%s%lld", i ? "x" : "", (long long)want->dims[i]);
        snprintf(why, wlen, "shape %s, expected %s", got->ndim ? a : "scalar", want->ndim ? b : "scalar");
        return 0;
    }
    int64_t n = cfp_tensor_numel(want);
    if (want->dtype == CFP_F32 || want->dtype == CFP_F64) {
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < n; i++) {
            double g = want->dtype == CFP_F32 ? ((const float *)got->data)[i] : ((const double *)got->data)[i];
            double w = want->dtype == CFP_F32 ? ((const float *)want->data)[i] : ((const double *)want->data)[i];
            if (isnan(w) && isnan(g)) continue;
            double err = fabs(g - w);
            if (err > worst) worst = err;
            if (fabs(w) > scale) scale = fabs(w);
            if (!(err <= atol + rtol * fabs(w))) {
                snprintf(why, wlen, "element %lld: got %.8g, expected %.8g", (long long)i, g, w);
                return 0;
            }
        }
        /* largest error relative to the output's magnitude */
        if (max_rel && scale > 0 && worst / scale > *max_rel) *max_rel = worst / scale;
        return 1;
    }
    if (got->nbytes != want->nbytes || memcmp(got->data, want->data, want->nbytes) != 0) {
        snprintf(why, wlen, "%s values differ", cfp_dtype_name(want->dtype));
        return 0;
    }
    return 1;
}

/* Runs one test folder. Returns 1 pass, 0 fail, -1 not applicable (an
 * operator cfp does not implement). */
static int run_case(const char *dir, double rtol, double atol, char *why, size_t wlen, double *max_rel) {
    char path[1200];
    cfp_ctx *ctx = NULL;
    cfp_model *m = NULL;
    cfp_tensor in[16] = {0}, want[16] = {0};
    int n_in = 0, n_want = 0, result = 0;
    if (cfp_ctx_new(&ctx, 2)) {
        snprintf(why, wlen, "no context");
        return 0;
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    int rc = cfp_model_load(ctx, path, &m);
    if (rc) {
        const char *e = cfp_errmsg(ctx);
        if (rc == CFP_E_UNSUPPORTED && strstr(e, ": operator ") && strstr(e, "is not supported")) result = -1;
        snprintf(why, wlen, "load: %s", e);
        goto done;
    }
    for (;;) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, n_in);
        if (n_in >= 16 || !file_exists(path)) break;
        if (cfp_tensor_read_pb(ctx, path, &in[n_in], NULL)) {
            snprintf(why, wlen, "input: %s", cfp_errmsg(ctx));
            goto done;
        }
        n_in++;
    }
    for (;;) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, n_want);
        if (n_want >= 16 || !file_exists(path)) break;
        if (cfp_tensor_read_pb(ctx, path, &want[n_want], NULL)) {
            snprintf(why, wlen, "output: %s", cfp_errmsg(ctx));
            goto done;
        }
        n_want++;
    }
    if (n_want == 0 || n_want > cfp_model_n_outputs(m)) {
        snprintf(why, wlen, "%d reference outputs for %d model outputs", n_want, cfp_model_n_outputs(m));
        goto done;
    }
    /* graph inputs that are initializers too are not counted by cfp: bind
     * the first n model inputs */
    if (cfp_model_run(m, n_in < cfp_model_n_inputs(m) ? n_in : cfp_model_n_inputs(m), in)) {
        snprintf(why, wlen, "run: %s", cfp_errmsg(ctx));
        goto done;
    }
    result = 1;
    for (int k = 0; k < n_want && result; k++) {
        char sub[400];
        const cfp_tensor *got = cfp_value_tensor(cfp_model_output(m, k));
        if (!compare(got, &want[k], rtol, atol, sub, sizeof sub, max_rel)) {
            snprintf(why, wlen, "output %d ('%s'): %s", k, cfp_value_name(cfp_model_output(m, k)), sub);
            result = 0;
        }
    }
done:
    for (int i = 0; i < n_in; i++) cfp_tensor_free(&in[i]);
    for (int i = 0; i < n_want; i++) cfp_tensor_free(&want[i]);
    cfp_model_free(m);
    cfp_ctx_free(ctx);
    return result;
}

SUITE(node_tests) {
    static const char *suites[] = {"node", "pytorch-converted", "pytorch-operator"};
    load_skips();
    int ran = 0, passed = 0, skipped = 0, na = 0;
    for (size_t s = 0; s < sizeof suites / sizeof *suites; s++) {
        char dir[512];
        snprintf(dir, sizeof dir, NODE_DATA "/%s", suites[s]);
        int n;
        char **names = list_dirs(dir, &n);
        if (!names) {
            cfp_test_result("node_tests", 0, "libonnx-testdata is not installed (scripts/install-deps.sh installs it)");
            return;
        }
        for (int i = 0; i < n; i++) {
            char name[600], why[1024] = "", full[1200];
            snprintf(name, sizeof name, "node_%s_%s", suites[s], names[i]);
            snprintf(full, sizeof full, "%s/%s", dir, names[i]);
            if (!cfp_test_wanted(name)) {
                free(names[i]);
                continue;
            }
            const char *reason = skip_reason(names[i]);
            if (reason) {
                cfp_test_skip(name, reason);
                skipped++;
            } else {
                int r = run_case(full, 1e-3, 1e-5, why, sizeof why, NULL);
                if (r < 0) na++;
                else {
                    ran++;
                    passed += r;
                    cfp_test_result(name, r, why);
                }
            }
            free(names[i]);
        }
        free(names);
    }
    if (ran || skipped)
        printf("ONNX node tests: %d ran, %d passed, %d skipped (tests/node_skip.txt), %d use operators cfp does not implement\n",
               ran, passed, skipped, na);
}

SUITE(fixture_tests) {
    char dir[1024];
    const char *fx = getenv("CFP_FIXTURE_DIR");
    if (fx && *fx) snprintf(dir, sizeof dir, "%s", fx);
    else snprintf(dir, sizeof dir, "%s/tests/fixtures", cfp_test_root());
    int n;
    char **names = list_dirs(dir, &n);
    for (int i = 0; names && i < n; i++) {
        char name[600], why[1024] = "", full[1700], model[1800];
        snprintf(name, sizeof name, "fixture_%s", names[i]);
        snprintf(full, sizeof full, "%s/%s", dir, names[i]);
        snprintf(model, sizeof model, "%s/model.onnx", full);
        if (cfp_test_wanted(name) && file_exists(model)) {
            double max_rel = 0;
            int r = run_case(full, 1e-4, 1e-5, why, sizeof why, &max_rel);
            cfp_test_result(name, r == 1, r < 0 ? "unsupported operator" : why);
            if (r == 1 && getenv("CFP_TEST_VERBOSE")) printf("%s: max |cfp - pytorch| / max |pytorch| = %.3g\n", name, max_rel);
        }
        free(names[i]);
    }
    free(names);
}
