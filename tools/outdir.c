/* Output folders that appear whole or not at all. Files are written into a
 * temporary sibling folder that replaces --out only when everything is
 * written; a folder cfp did not write is never replaced; SIGINT/SIGTERM
 * remove the temporary folder. */
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER ".cfp-output"
#define MAX_FILES 4096

static char tmp_dir[PATH_MAX];
/* everything created inside it, in order: files and subfolders */
static char files[MAX_FILES][PATH_MAX];
static volatile sig_atomic_t n_files;

static void remove_tmp(void) {
    /* newest first, so subfolders are empty when their turn comes; unlink,
     * rmdir and remove-by-name are async-signal-safe */
    for (int i = n_files - 1; i >= 0; i--)
        if (unlink(files[i]) != 0) rmdir(files[i]);
    if (tmp_dir[0]) rmdir(tmp_dir);
}

static void on_signal(int sig) {
    remove_tmp(); /* unlink and rmdir are async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

int cli_outdir_begin(const char *dir, int force) {
    char marker[PATH_MAX];
    if (!dir || !*dir) return cli_die("no output folder given (--out DIR)");
    if (exists(dir)) {
        if (!is_dir(dir)) return cli_die("%s exists and is not a folder", dir);
        snprintf(marker, sizeof marker, "%s/" MARKER, dir);
        if (!exists(marker) && !force)
            return cli_die("%s exists and was not written by cfp; choose another --out, remove it, or use --force", dir);
    }
    if ((size_t)snprintf(tmp_dir, sizeof tmp_dir, "%s.cfp-tmp-%d", dir, (int)getpid()) >= sizeof tmp_dir)
        return cli_die("%s: path too long", dir);
    if (mkdir(tmp_dir, 0755) != 0) {
        int e = errno;
        tmp_dir[0] = 0;
        return cli_die("cannot create the output folder next to %s: %s", dir, strerror(e));
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

const char *cli_outdir_path(const char *name, char *buf, size_t len) {
    if (!tmp_dir[0] || n_files >= MAX_FILES) return NULL;
    if ((size_t)snprintf(buf, len, "%s/%s", tmp_dir, name) >= len || strlen(buf) >= PATH_MAX) return NULL;
    memcpy(files[n_files], buf, strlen(buf) + 1);
    n_files++;
    return buf;
}

int cli_outdir_mkdir(const char *name) {
    char path[PATH_MAX];
    if (!cli_outdir_path(name, path, sizeof path)) return -1;
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

FILE *cli_outdir_open(const char *name) {
    if (!tmp_dir[0] || n_files >= MAX_FILES) return NULL;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", tmp_dir, name) >= sizeof path) return NULL;
    /* registered before it exists, so a signal never leaves it behind */
    memcpy(files[n_files], path, sizeof path);
    n_files++;
    return fopen(path, "w");
}

int cli_outdir_commit(const char *dir) {
    FILE *f = cli_outdir_open(MARKER);
    if (!f || fprintf(f, "written by cfp %s\n", CFP_VERSION) < 0 || fclose(f) != 0) {
        cli_outdir_abort();
        return cli_die("cannot write into the output folder next to %s", dir);
    }
    char old[PATH_MAX] = "";
    if (exists(dir)) {
        snprintf(old, sizeof old, "%s.cfp-old-%d", dir, (int)getpid());
        if (rename(dir, old) != 0) {
            int e = errno;
            cli_outdir_abort();
            return cli_die("cannot replace %s: %s", dir, strerror(e));
        }
    }
    if (rename(tmp_dir, dir) != 0) {
        int e = errno;
        if (old[0]) rename(old, dir);
        cli_outdir_abort();
        return cli_die("cannot create %s: %s", dir, strerror(e));
    }
    tmp_dir[0] = 0;
    n_files = 0;
    if (old[0] && nftw(old, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cfp: warning: could not remove the previous output %s\n", old);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    return 0;
}

void cli_outdir_abort(void) {
    remove_tmp();
    tmp_dir[0] = 0;
    n_files = 0;
}
