/* The pictures of cfp explain: maps → GIF/MP4 files in the output folder. */
#ifndef CFP_EXPLAIN_RENDER_H
#define CFP_EXPLAIN_RENDER_H

#include "../src/render.h"
#include "cli.h"

typedef struct {
    const uint8_t *frames; /* the frames the model saw: T × H × W × RGB */
    int T, H, W;
    const cfp_clip *clip;  /* the video, when the input was one: the class map is also drawn on it */
    int clip_tensor;
} render_input;

typedef struct {
    cfp_render_opts ro;
    double fps;
    int max_nodes;    /* nodes that get pictures (best per level); -1: all */
    int mp4;          /* also MP4 next to each GIF */
    int frames_png;   /* also every frame as PNG */
    int save_volumes; /* every map before and after zoom as .pb */
    int quiet;        /* no progress line */
    int threads;
} render_cfg;

typedef struct {
    char *node_rendered; /* per pyramid node: has pictures */
    double *score;       /* per node: best incoming score (1 for the class) */
    int n_rendered;
    int n_levels;
    const cfp_node ***level_layers; /* per level: its layers, in order */
    int *n_level_layers;
    double maps_ms, encode_ms;
    int source; /* maps/class_source.{mp4,png} were written */
} render_result;

/* Files: clip.{gif,mp4}, maps/node<ID>_{kernel,own}.{gif,mp4},
 * maps/level<D>.{gif,mp4}, maps/level<D>_layer<K>.{gif,mp4},
 * maps/saliency_tubes.{gif,mp4}, pyramid.{gif,png}, and for a video input the
 * class map over the frames as recorded, maps/class_source.{mp4,png}. Returns 0, or 1 after
 * printing the error. */
int cli_render_report(cfp_ctx *ctx, cfp_pyramid *p, const render_input *in, const render_cfg *cfg, render_result *res);
void cli_render_result_free(render_result *r);

#endif
