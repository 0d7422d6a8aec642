// The instruction sets the MedVox C kernels are compiled for (AVX-512, AVX2+FMA, and a plain
// fallback), chosen at run time from CPUID, and each one's register-block sizes. Called from
// MedVoxCore (KernelSettings) and the kernels' Swift callers.
//
// Every function in this target's headers works on preallocated memory, never allocates, never
// fails.
#ifndef MVX_ISA_H
#define MVX_ISA_H

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets with their own kernels, in increasing order of preference.
enum { MVX_ISA_GENERIC = 0, MVX_ISA_AVX2 = 1, MVX_ISA_AVX512 = 2 };

/// Register-block sizes of one instruction set's kernels.
typedef struct {
    int isa;
    int mr;   ///< forward: output channels per micro-tile (packed weight block height)
    int nr;   ///< forward: positions per micro-tile (a multiple of the vector width)
    int mw;   ///< backward-weights: output channels per micro-tile
    int nw;   ///< backward-weights: (input channel, tap) pairs per micro-tile
} mvx_isa_info;

/// The best instruction set this CPU runs (from CPUID on x86-64; generic elsewhere).
int mvx_isa_best(void);
/// Block sizes for `isa`.
mvx_isa_info mvx_isa_info_for(int isa);
/// Block sizes of `isa`'s one-row forward kernels (mr = 1, wider nr), for passes with 1–2 output
/// channels.
mvx_isa_info mvx_isa_info_narrow(int isa);

/// Blocks of 12 output channels by 32 positions where the ISA has them (AVX-512), for Winograd
/// passes over few tiles and Winograd backward-weights; mvx_isa_info_for otherwise.
mvx_isa_info mvx_isa_info_short(int isa);

/// Measured peak: runs `iters` iterations of an independent-accumulator FMA loop; returns a sum
/// that depends on every result. FLOPs = iters * mvx_peak_flops_per_iter(isa).
float mvx_peak_loop(int isa, long iters);
double mvx_peak_flops_per_iter(int isa);

#ifdef __cplusplus
}
#endif
#endif
