/* libFuzzer target: the TensorProto (.pb) reader, the path of `cfp run -i`.
 * A tensor that decodes must survive an encode/decode round trip unchanged. */
#include "../src/cfp_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cfp_ctx *ctx;
    if (!ctx && cfp_ctx_new(&ctx, 1)) abort();
    cfp_tensor t;
    char *name = NULL;
    if (cfp_tensor_decode(ctx, NULL, data, size, false, &t, &name, "fuzz.pb")) {
        if (!cfp_errmsg(ctx)[0]) abort();
        return 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cfp_tensor_encode(ctx, &t, name, &buf, &len) == 0) {
        cfp_tensor u;
        char *name2 = NULL;
        if (cfp_tensor_decode(ctx, NULL, buf, len, false, &u, &name2, "round trip")) abort();
        if (u.dtype != t.dtype || !cfp_same_shape(&t, &u) || u.nbytes != t.nbytes || strcmp(name, name2) ||
            (t.nbytes && memcmp(t.data, u.data, t.nbytes)))
            abort();
        cfp_tensor_free(&u);
        free(name2);
        free(buf);
    }
    cfp_tensor_free(&t);
    free(name);
    return 0;
}
