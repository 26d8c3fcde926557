#include "../cfp_internal.h"

const cfp_op cfp_ops_shape[] = {
    {0},
};
