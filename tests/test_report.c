/* The HTML report (assets/report/, embedded into the binary) opened in headless
 * Chromium: no console errors, every image loads, clicking a node opens its
 * panel (the page's own self-test, index.html#selftest), and a screenshot is
 * saved as BUILD/test-output/report.png. Chromium is a dependency
 * (scripts/install-deps.sh): without it this test fails. */
#include "report_assets.h"
#include "test.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX "tests/fixtures/r3d_18_bn"
#define P 1024 /* path buffers */

static const char *cfp_bin(void) {
    const char *b = getenv("CFP_BIN");
    return b && *b ? b : "build/cfp";
}

/* BUILD/test-output (next to the cfp binary under test), as an absolute path
 * (file:// URLs need one); cap >= P */
static void output_dir(char *buf, size_t cap) {
    const char *bin = cfp_bin();
    const char *slash = strrchr(bin, '/');
    char cwd[P / 2] = ".", rel[P / 2];
    if (slash) snprintf(rel, sizeof rel, "%.*s/test-output", (int)(slash - bin), bin);
    else snprintf(rel, sizeof rel, "%.200s/build/test-output", cfp_test_root());
    if (rel[0] != '/' && !getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    if (rel[0] == '/') snprintf(buf, cap, "%s", rel);
    else snprintf(buf, cap, "%s/%s", cwd, rel);
    mkdir(buf, 0755);
}

/* The report folder under test is what `cfp explain` writes.
 * Builds the report folder `dir`; returns 0 or prints why not. */
static int make_report(const char *dir, const char *log) {
    char cmd[8 * P];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cd '%s' && '%s' explain " FX "/model.onnx -i " FX
             "/test_data_set_0/input_0.pb --topk 5 --out '%s' >'%s' 2>&1",
             dir, cfp_test_root(), cfp_bin(), dir, log);
    if (cfp_test_sh("%s", cmd) != 0) return fprintf(stderr, "report: cfp explain failed, see %s\n", log), 1;
    return 0;
}

static int find_chromium(char *buf, size_t cap) { /* cap >= 4200 */
    const char *env = getenv("CFP_CHROMIUM");
    if (env && *env) return snprintf(buf, cap, "%s", env), access(buf, X_OK) == 0;
    const char *path = getenv("PATH");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s:/usr/bin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(tmp, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, cap, "%s/chromium", d);
        if (access(buf, X_OK) == 0) return 1;
    }
    return 0;
}

/* Headless Chromium with no network and a fresh profile; `what` is e.g.
 * "--dump-dom" or "--screenshot=PATH --window-size=1400,1000". */
static int chromium(const char *bin, const char *what, const char *url, const char *out, const char *log) {
    char prof[] = "/tmp/cfp-chromium-XXXXXX", cmd[8 * P];
    if (!mkdtemp(prof)) return -1;
    snprintf(cmd, sizeof cmd,
             "timeout 120 '%s' --headless --no-sandbox --disable-gpu --disable-background-networking "
             "--disable-component-update --disable-sync --no-first-run --disable-quic "
             "--disable-default-apps --disable-extensions --mute-audio --user-data-dir='%s' "
             "--virtual-time-budget=10000 %s '%s' >'%s' 2>>'%s'",
             bin, prof, what, url, out, log);
    int rc = cfp_test_sh("%s", cmd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", prof);
    cfp_test_sh("%s", cmd);
    return rc;
}

static char *slurp(const char *path) {
    size_t len;
    return cfp_test_slurp_alloc(path, &len);
}

static const struct cli_report_file *embedded(const char *name) {
    for (size_t i = 0; i < cli_report_n_files; i++)
        if (!strcmp(cli_report_files[i].name, name)) return &cli_report_files[i];
    return NULL;
}

TEST(report_assets_embedded) {
    const char *names[] = {"index.html", "report.js", "report.css"};
    for (int i = 0; i < 3; i++) {
        const struct cli_report_file *a = embedded(names[i]);
        CHECK(a != NULL);
        if (!a) continue;
        char p[2 * P];
        snprintf(p, sizeof p, "%s/assets/report/%s", cfp_test_root(), names[i]);
        char *src = slurp(p);
        CHECK(src != NULL);
        if (src) {
            CHECK_EQ(strlen(src), a->len);
            CHECK(memcmp(src, a->data, a->len) == 0); /* the binary carries the current page */
            /* self-contained: nothing fetched from the network */
            const char *banned[] = {"src=\"http", "href=\"http", "url(http", "url(\"http", "@import",
                                    "fetch(", "XMLHttpRequest", "//cdn", "fonts.googleapis"};
            for (size_t b = 0; b < sizeof banned / sizeof *banned; b++)
                if (strstr(src, banned[b])) cfp_test_fail_here(__FILE__, __LINE__, "%s contains '%s'", names[i], banned[b]);
            free(src);
        }
    }
    const struct cli_report_file *h = embedded("index.html");
    if (h) {
        const char *s = (const char *)h->data;
        CHECK(strstr(s, "<script src=\"data.js\"></script>") != NULL);
        CHECK(strstr(s, "<script src=\"report.js\"></script>") != NULL);
        CHECK(strstr(s, "href=\"report.css\"") != NULL);
        /* the error hooks come before any other script */
        const char *hook = strstr(s, "CFP_SELFTEST"), *data = strstr(s, "src=\"data.js\"");
        CHECK(hook && data && hook < data);
    }
}

TEST(report_page_in_chromium) {
    char chrome[5 * P];
    if (!find_chromium(chrome, sizeof chrome)) {
        cfp_test_fail_here(__FILE__, __LINE__,
                           "chromium is not installed: the report's browser test needs it "
                           "(scripts/install-deps.sh installs it; or apt-get install chromium)");
        return;
    }
    char out[P], dir[2 * P], log[2 * P], dom[2 * P], png[2 * P], url[3 * P];
    output_dir(out, sizeof out);
    snprintf(dir, sizeof dir, "%s/report", out);
    snprintf(log, sizeof log, "%s/report.log", out);
    snprintf(dom, sizeof dom, "%s/report-dom.html", out);
    snprintf(png, sizeof png, "%s/report.png", out);
    unlink(png);
    if (make_report(dir, log) != 0) {
        CHECK(!"the report folder could not be made");
        return;
    }

    /* 1. the self-test: console errors, images, the panel of a clicked node */
    snprintf(url, sizeof url, "file://%s/index.html#selftest", dir);
    int rc = chromium(chrome, "--dump-dom", url, dom, log);
    if (rc != 0) cfp_test_fail_here(__FILE__, __LINE__, "chromium --dump-dom exited %d, see %s", rc, log);
    char *html = slurp(dom);
    const char *open = html ? strstr(html, "<pre id=\"selftest\">") : NULL;
    const char *close = open ? strstr(open, "</pre>") : NULL;
    if (!open || !close) {
        cfp_test_fail_here(__FILE__, __LINE__, "no <pre id=\"selftest\"> in the page (%s): did report.js run?", dom);
    } else {
        open += strlen("<pre id=\"selftest\">");
        char res[4096];
        snprintf(res, sizeof res, "%.*s", (int)(close - open), open);
        if (!strstr(res, "\"ok\":true")) cfp_test_fail_here(__FILE__, __LINE__, "self-test failed: %s", res);
        CHECK(strstr(res, "\"panel\":true") != NULL);
        CHECK(strstr(res, "\"errors\":[]") != NULL);
        CHECK(strstr(res, "\"broken\":[]") != NULL);
        const char *im = strstr(res, "\"images\":");
        CHECK(im && atoi(im + 9) >= 10); /* clip, baseline, level tubes, node thumbnails, panel */
    }
    free(html);

    /* 2. a screenshot for people (the self-test opens a node's panel) */
    char shot[3 * P];
    snprintf(shot, sizeof shot, "--screenshot='%s' --window-size=1400,1000", png);
    rc = chromium(chrome, shot, url, "/dev/null", log);
    struct stat st;
    if (rc != 0 || stat(png, &st) != 0 || st.st_size < 10000)
        cfp_test_fail_here(__FILE__, __LINE__, "no screenshot at %s (chromium exited %d, see %s)", png, rc, log);
}
