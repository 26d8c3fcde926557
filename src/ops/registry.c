/* The operator table. Each family file (conv.c, eltwise.c, ...) exports a
 * zero-terminated array; an op missing here fails at load, naming op and node. */
#include "../cfp_internal.h"

#include <string.h>

extern const cfp_op cfp_ops_conv[], cfp_ops_gemm[], cfp_ops_pool[], cfp_ops_norm[],
    cfp_ops_eltwise[], cfp_ops_reduce[], cfp_ops_shape[];

static const cfp_op *const families[] = {cfp_ops_conv,    cfp_ops_gemm,   cfp_ops_pool,
                                         cfp_ops_norm,    cfp_ops_eltwise, cfp_ops_reduce,
                                         cfp_ops_shape};
#define N_FAMILIES (int)(sizeof families / sizeof *families)

const cfp_op *cfp_op_find(const char *name) {
    for (int f = 0; f < N_FAMILIES; f++)
        for (const cfp_op *op = families[f]; op->name; op++)
            if (strcmp(op->name, name) == 0) return op;
    return NULL;
}

int cfp_op_count(void) {
    int n = 0;
    for (int f = 0; f < N_FAMILIES; f++)
        for (const cfp_op *op = families[f]; op->name; op++) n++;
    return n;
}

const cfp_op *cfp_op_at(int i) {
    for (int f = 0; f < N_FAMILIES; f++)
        for (const cfp_op *op = families[f]; op->name; op++)
            if (i-- == 0) return op;
    return NULL;
}
