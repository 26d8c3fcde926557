/* Helpers shared by the commands: errors, timing, JSON, option values. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *prog = "cfp";

int cli_die(const char *fmt, ...) {
    /* Messages quote names from untrusted files: a control character (a
     * newline, a terminal escape) would break the one line or reach the
     * terminal, so each is shown as '?'. */
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
    fprintf(stderr, "%s: error: %s\n", prog, msg);
    return 1;
}

uint64_t cli_max_memory;

int cli_parse_size(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!s || !(*s >= '0' && *s <= '9')) return -1;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    }
    if (errno || *end || v == 0 || v > (UINT64_MAX >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int cli_ctx_new(cfp_ctx **ctx, int threads) {
    int rc = cfp_ctx_new(ctx, threads);
    if (!rc && cli_max_memory) cfp_ctx_set_max_memory(*ctx, cli_max_memory);
    return rc;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s %s: ", prog, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s help %s')\n", prog, cmd);
    return 2;
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double cli_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

void cli_shape_str(const cfp_tensor *t, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    if (t->ndim == 0) snprintf(buf, len, "scalar");
    for (int i = 0; i < t->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? "x%" PRId64 : "%" PRId64, t->dims[i]);
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}


int cli_parse_int(const char *cmd, const char *flag, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return cli_usage(cmd, "%s expects a whole number from %d to %d, got '%s'", flag, lo, hi, s);
    *out = (int)v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi))
        return cli_usage(cmd, "%s expects a number from %g to %g, got '%s'", flag, lo, hi, s);
    *out = v;
    return 0;
}

int cli_pyramid_flag(const char *cmd, cfp_pyramid_params *p, const char *a, const char *val, int *used_val) {
    double d;
    *used_val = 0;
    if (strcmp(a, "--theta") && strcmp(a, "--depth") && strcmp(a, "--max-children")) return 0;
    if (!val) return cli_usage(cmd, "%s needs a value", a);
    *used_val = 1;
    if (!strcmp(a, "--theta")) {
        if (cli_parse_float(cmd, a, val, 0, 1, &d)) return 2;
        p->theta = d;
    } else if (!strcmp(a, "--depth")) {
        if (cli_parse_int(cmd, a, val, 0, 100000, &p->depth)) return 2;
    } else if (cli_parse_int(cmd, a, val, 0, 1 << 30, &p->max_children)) {
        return 2;
    }
    return 1;
}
