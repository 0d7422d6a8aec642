// Resampling (resample.c): the kernels behind MedVoxTransforms' Resample.swift, bit-identical to
// its Swift definitions (same operations in the same order and precision, no FMA contraction).
#ifndef MVX_RESAMPLE_H
#define MVX_RESAMPLE_H

#include "mvx_isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Sampling of `src` [nz][ny][nx] at map · (i, j, k) (+ displacement) for every output voxel.
typedef struct {
    const float *src;
    int nx, ny, nz;            ///< source size; nx*ny*nz < 2^31
    float *out;                ///< [oz][oy][ox]
    int ox, oy, oz;
    double m[12];              ///< output index -> source index, row-major 3x4
    const float *dx, *dy, *dz; ///< displacement in source voxels per output voxel, or all NULL
    int interp;                ///< 0 nearest, 1 linear
    int constant;              ///< 1: positions beyond the extent take `fill`; 0: edge clamp
    float fill;
} mvx_warp;

/// Computes the output box [x0, x1) x [y0, y1) x [z0, z1), row by row.
void mvx_warp_box(const mvx_warp *p, int isa, int x0, int x1, int y0, int y1, int z0, int z1);

/// Axis-aligned resampling from per-axis tap tables (k taps per output index, k <= 4):
/// out = z pass of the y pass of the x pass, with the y and z passes skipping zero weights.
typedef struct {
    const float *src;
    int nx, ny, nz;
    float *out;
    int ox, oy, oz;
    int k;
    const int *xi; const float *xw;   ///< [ox*k]
    const int *yi; const float *yw;   ///< [oy*k]
    const int *zi; const float *zw;   ///< [oz*k]
} mvx_separable;

/// Floats of scratch one mvx_separable_slices call needs.
long mvx_separable_scratch(const mvx_separable *p);
/// Computes output slices [z0, z1) (x passes of the source slices they need are cached in scratch).
void mvx_separable_slices(const mvx_separable *p, int isa, int z0, int z1, float *scratch);

#ifdef __cplusplus
}
#endif
#endif
