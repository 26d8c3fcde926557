/* Video input shared by cfp predict and cfp explain: the sampling and
 * preprocessing flags, and the pipeline from a video file to the model's
 * input tensors (model settings → decode → preprocess → bind to inputs). */
#ifndef CFP_CLI_VIDEO_INPUT_H
#define CFP_CLI_VIDEO_INPUT_H

#include "cfp_video.h"
#include "cli.h"

typedef struct {
    cfp_sampling samp;
    int have_start;
    cfp_video_settings flags; /* from the command line; override the model's */
} cli_video_opts;

typedef struct {
    cfp_video *v;
    cfp_clip *clip;
    cfp_tensor in[2]; /* views into the clip, bound to the model's inputs in order */
    int n_in;
    int clip_tensor[2]; /* which clip tensor each input is */
    cfp_preprocess pre;
    cfp_video_settings settings; /* resolved: model + flags (labels moved out below) */
    double decode_ms, preprocess_ms;
} cli_video_input;

void cli_video_opts_init(cli_video_opts *o);
void cli_video_opts_free(cli_video_opts *o);
/* One command-line flag: returns 1 when `a` was a video flag (and *used_val
 * when it took `val`), 0 when it is not one, 2 after a usage error. */
int cli_video_flag(const char *cmd, cli_video_opts *o, const char *a, const char *val, int *used_val);
/* Checks that need all flags; 2 after a usage error. */
int cli_video_check(const char *cmd, const cli_video_opts *o);
/* Decode, sample and preprocess `video` for `m`. Returns 0, or 1 after
 * printing one error line. */
int cli_video_prepare(cfp_ctx *ctx, cfp_model *m, const char *model_path, const char *video, cli_video_opts *o,
                      cli_video_input *vi);
void cli_video_input_free(cli_video_input *vi);

#endif
