/* The HTML report page (assets/report/, embedded into the binary at build
 * time by tools/embed.c; see the Makefile). */
#ifndef CFP_CLI_REPORT_H
#define CFP_CLI_REPORT_H

/* Write index.html, report.js and report.css into the output folder opened
 * by cli_outdir_begin. The page reads DIR/data.js (window.CFP_REPORT = {...},
 * the contract is in assets/report/report.js) and the GIF/MP4 files it names.
 * Returns 0, or 1 after printing the error. */
int cli_report_assets(void);

#endif
