/* A stand-in for libhwy.so.1 (Highway, loaded by FFmpeg through libjxl) for
 * `make test-valgrind` only. The real library's constructor executes RDTSCP
 * without asking CPUID; on a CPU (or VM) that does not advertise RDTSCP,
 * valgrind 3.19 treats it as an illegal instruction and every run dies at
 * load. cfp never decodes JPEG XL, so libjxl never calls these; if it did,
 * the run would abort loudly rather than pass. Built with the version script
 * hwy_stub.map (libjxl links against version HWY_0). */
#include <stdlib.h>

void _ZN3hwy14AlignedDeleter18DeleteAlignedArrayEPvPFvS1_S1_ES1_PFvS1_mE(void) { abort(); }
void _ZN3hwy15GetChosenTargetEv(void) { abort(); }
void _ZN3hwy16FreeAlignedBytesEPKvPFvPvS2_ES2_(void) { abort(); }
void _ZN3hwy16SupportedTargetsEv(void) { abort(); }
void _ZN3hwy20AllocateAlignedBytesEmPFPvS0_mES0_(void) { abort(); }
