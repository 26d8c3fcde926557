/* Puts the report page into the output folder: the files of assets/report/,
 * embedded into the binary at build time (tools/embed.c ->
 * build/gen/report_assets.c), so the report works from any install. */
#include "report.h"

#include "cli.h"
#include "report_assets.h"

int cli_report_assets(void) {
    for (size_t i = 0; i < cli_report_n_files; i++) {
        const struct cli_report_file *a = &cli_report_files[i];
        FILE *f = cli_outdir_open(a->name);
        if (!f) return cli_die("cannot create %s in the output folder", a->name);
        int bad = fwrite(a->data, 1, a->len, f) != a->len;
        if (fclose(f) != 0 || bad) return cli_die("cannot write %s in the output folder", a->name);
    }
    return 0;
}
