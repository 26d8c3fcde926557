/* Output folders that appear whole or not at all. Files are written into a
 * temporary sibling folder that replaces --out only when everything is
 * written; a folder cfp did not write is never replaced; SIGINT/SIGTERM/
 * SIGHUP remove the temporary folder with everything in it, including what
 * render threads are writing at that moment. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MARKER ".cfp-output"

static char tmp_dir[PATH_MAX];
/* set when the temporary folder is being removed: no new files in it */
static volatile sig_atomic_t aborting;

/* Removes everything below the open folder fd, then the folder itself (name
 * in parent). Only system calls, so a signal handler may call it: the
 * writers' own temporary files ("x.mp4.cfp-tmp-PID-N") and files that
 * render threads are creating right now are found by reading the folder,
 * not from a list. */
static void remove_tree_at(int parent, const char *name, int depth) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (void *)(buf + off);
            off += e->reclen;
            if (e->name[0] == '.' && (!e->name[1] || (e->name[1] == '.' && !e->name[2]))) continue;
            if (unlinkat(fd, e->name, 0) != 0 && depth < 8) remove_tree_at(fd, e->name, depth + 1);
        }
    }
    close(fd);
    unlinkat(parent, name, AT_REMOVEDIR);
}

static void remove_tmp(void) {
    aborting = 1;
    if (!tmp_dir[0]) return;
    /* render threads may still be finishing a file: sweep until the folder
     * is gone (then nothing can be created in it), for at most ~0.5 s */
    for (int i = 0; i < 100; i++) {
        remove_tree_at(AT_FDCWD, tmp_dir, 0);
        if (access(tmp_dir, F_OK) != 0) break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void on_signal(int sig) {
    remove_tmp(); /* system calls only: async-signal-safe */
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
    if ((size_t)snprintf(tmp_dir, sizeof tmp_dir, "%s.cfp-tmp-%d", dir, (int)getpid()) >= sizeof tmp_dir) {
        tmp_dir[0] = 0;
        return cli_die("%s: path too long", dir);
    }
    /* handlers first: a signal right after the mkdir must not leave it */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    aborting = 0;
    if (mkdir(tmp_dir, 0755) != 0) {
        int e = errno;
        tmp_dir[0] = 0;
        return cli_die("cannot create the output folder next to %s: %s", dir, strerror(e));
    }
    return 0;
}

const char *cli_outdir_path(const char *name, char *buf, size_t len) {
    if (!tmp_dir[0] || aborting) return NULL;
    if ((size_t)snprintf(buf, len, "%s/%s", tmp_dir, name) >= len) return NULL;
    return buf;
}

int cli_outdir_mkdir(const char *name) {
    char path[PATH_MAX];
    if (!cli_outdir_path(name, path, sizeof path)) return -1;
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

FILE *cli_outdir_open(const char *name) {
    char path[PATH_MAX];
    if (!cli_outdir_path(name, path, sizeof path)) return NULL;
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
    aborting = 0;
}
