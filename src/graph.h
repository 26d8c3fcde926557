/* Graph construction used by the loader. */
#ifndef CFP_GRAPH_H
#define CFP_GRAPH_H
#include "cfp_internal.h"

/* Id of the value called `name`, created if new; -2 when out of memory. */
int cfp_graph_value(cfp_model *m, const char *name);
/* Id of the value called `name`, or -1. */
int cfp_graph_find(const cfp_model *m, const char *name);
/* Link producers and consumers, check every reference, sort the nodes
 * topologically (rejecting cycles), bind each node to its op and prepare it. */
int cfp_graph_finalize(cfp_model *m);
#endif
