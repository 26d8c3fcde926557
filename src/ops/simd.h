/* SIMD helpers for the operators' hot loops.
 *
 * The shipped build targets baseline x86-64 (SSE2 only), so a hot loop gets
 * AVX-512 / AVX2 / baseline clones and the dynamic loader picks one at run
 * time for the CPU it runs on. GCC 12's -O2 vectorises with the "very-cheap"
 * cost model, which leaves loops with run-time trip counts scalar: the
 * macros below give it that help, either by asking for the dynamic cost
 * model (CFP_HOT) or by shaping the loop into fixed-size blocks (VLOOP). */
#ifndef CFP_OPS_SIMD_H
#define CFP_OPS_SIMD_H

#include <stdint.h>

/* Run-time dispatched clones only (loops written with VLOOP). */
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

/* Clones plus loop vectorisation with the dynamic cost model. */
#define CFP_HOT                                                                     \
    __attribute__((target_clones("avx512f", "avx2", "default"),                    \
                   optimize("tree-vectorize", "vect-cost-model=dynamic")))

/* Block length of VLOOP (16 floats: one AVX-512 register). */
#define BLK 16

/* A loop the vectoriser handles at -O2: fixed-size blocks plus a tail. The
 * body sees the element index as `int64_t i`. */
#define VLOOP(n, ...)                                                         \
    do {                                                                      \
        int64_t i_ = 0;                                                       \
        for (; i_ + BLK <= (n); i_ += BLK)                                    \
            for (int j_ = 0; j_ < BLK; j_++) {                                \
                int64_t i = i_ + j_;                                          \
                __VA_ARGS__;                                                  \
            }                                                                 \
        for (int64_t i = i_; i < (n); i++) { __VA_ARGS__; }                   \
    } while (0)

#endif
