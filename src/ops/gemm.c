#include "../cfp_internal.h"

const cfp_op cfp_ops_gemm[] = {
    {0},
};
