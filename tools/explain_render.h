/* The pictures of cfp explain: maps → GIF/MP4 files in the output folder. */
#ifndef CFP_EXPLAIN_RENDER_H
#define CFP_EXPLAIN_RENDER_H

#include "../src/render.h"
#include "cli.h"

/* One model input (a pathway of a two-pathway model): the frames it saw. */
typedef struct {
    const uint8_t *frames; /* T × H × W × RGB */
    int T, H, W;
    int clip_tensor;       /* its tensor of the clip, when the input was a video */
    const char *name;      /* the graph input's name */
} render_path;

#define RENDER_MAX_PATHS 4
typedef struct {
    const cfp_clip *clip; /* the video, when the input was one: the class map is also drawn on it */
    /* the frames of every video input (a two-pathway model has two); a map is
     * drawn over the one whose number of frames fits its time axis best.
     * paths[0] is the model's first input; n_paths >= 1. */
    int n_paths;
    render_path paths[RENDER_MAX_PATHS];
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
    int **level_layer_path;          /* per level and layer: the pathway it is drawn over */
    int *level_paths;                /* per level: bit p set when maps/level<D>[_path<p>] exists */
    int *level_main_path;            /* per level: the pathway of maps/level<D> */
    int st_paths, st_main_path;      /* the same for maps/saliency_tubes */
    double maps_ms, encode_ms;
    int source; /* maps/class_source.{mp4,png} were written */
} render_result;

/* Files: clip.{gif,mp4}, maps/node<ID>_{kernel,own}.{gif,mp4},
 * maps/level<D>.{gif,mp4}, maps/level<D>_layer<K>.{gif,mp4},
 * maps/saliency_tubes.{gif,mp4}, pyramid.{gif,png}; with several pathways,
 * maps/level<D>_path<P> and maps/saliency_tubes_path<P> for the pathways other
 * than the main one of the level; and for a video input the
 * class map over the frames as recorded, maps/class_source.{mp4,png}. Returns 0, or 1 after
 * printing the error. */
int cli_render_report(cfp_ctx *ctx, cfp_pyramid *p, const render_input *in, const render_cfg *cfg, render_result *res);
void cli_render_result_free(render_result *r);

#endif
