/* The command line's shared pieces. Each command lives in its own file and
 * is listed in tools/cfp.c. */
#ifndef CFP_CLI_H
#define CFP_CLI_H

#include "cfp.h"

#include <stdio.h>

typedef struct {
    const char *name, *summary, *usage;
    int (*run)(int argc, char **argv); /* argv after the command name */
} cli_command;

/* "cfp: error: ...", returns 1 */
int cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* --max-memory, a global option (tools/cfp.c takes it out of argv before the
 * command sees it): 0 means the machine's physical memory. */
extern uint64_t cli_max_memory;
int cli_parse_size(const char *s, uint64_t *out); /* "4096", "512M", "2G"; 0 on success */
/* cfp_ctx_new with --max-memory applied: contexts that plan models. */
int cli_ctx_new(cfp_ctx **ctx, int threads);
/* "cfp CMD: ... (see 'cfp help CMD')", returns 2 */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double cli_now_ms(void);
double cli_peak_rss_mb(void);
void cli_json_str(FILE *f, const char *s);
void cli_shape_str(const cfp_tensor *t, char *buf, size_t len);
/* Parse a flag's value; on error print the usage line and return 2. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, int lo, int hi, int *out);
int cli_parse_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);

/* Output folders (outdir.c): begin checks --out and opens a temporary
 * sibling; open creates a file in it; commit puts it in place of --out;
 * abort (and SIGINT/SIGTERM) removes it. */
int cli_outdir_begin(const char *dir, int force);
FILE *cli_outdir_open(const char *name);
/* The full path of `name` in the temporary folder, registered for removal
 * on abort (for writers that take a path); NULL if too long. */
const char *cli_outdir_path(const char *name, char *buf, size_t len);
int cli_outdir_mkdir(const char *name);
int cli_outdir_commit(const char *dir);
void cli_outdir_abort(void);

/* --theta, --depth, --max-children: returns 1 when `a` was one of them (and
 * *used_val when it took `val`), 0 when not, 2 after a usage error. */
int cli_pyramid_flag(const char *cmd, cfp_pyramid_params *p, const char *a, const char *val, int *used_val);

extern const cli_command cli_cmd_info, cli_cmd_run, cli_cmd_bench;
extern const cli_command cli_cmd_explain;
extern const cli_command cli_cmd_predict;
extern const cli_command cli_cmd_evaluate;

#endif
