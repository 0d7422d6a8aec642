#!/usr/bin/env python3
"""Test oracles for MedVox's DICOM reader (called by Tests/MedVoxIOTests/DICOMTests.swift).

  dicom_oracle.py pixels FILE OUTDIR
      pydicom's decode of every frame of FILE with the modality LUT applied (per frame for
      enhanced files), MONOCHROME1 inverted to MONOCHROME2, colour as RGB planes:
      OUTDIR/pixels.f32 (float32, frames x planes x rows x cols) and OUTDIR/pixels.json (shape).
  dicom_oracle.py dcm2niix FOLDER OUTDIR
      runs Debian's dcm2niix on FOLDER, loads each NIfTI with nibabel, reorients it to the
      closest canonical (RAS) and writes NAME.f32 (float32 voxels, i fastest) and NAME.json
      (shape, affine, source file name) for each.
  dicom_oracle.py tilt FOLDER MINE.nii
      checks a tilt-corrected NIfTI against dcm2niix (grid of its _Tilt_1 output, voxels against
      trilinear samples of its uncorrected volume in world space); prints one JSON line.
  dicom_oracle.py nifti FILE OUTDIR
      nibabel's reading of FILE (reoriented to RAS): OUTDIR/nifti.f32 and OUTDIR/nifti.json.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np


def run_dcm2niix(args):
    """dcm2niix with `args`, quietly; a missing dcm2niix fails the calling test with a clear reason."""
    if shutil.which("dcm2niix") is None:
        sys.exit("dcm2niix is not installed or not on PATH; the tests need it: run Tools/setup.sh")
    subprocess.run(["dcm2niix"] + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pixels(path, out):
    import pydicom
    from pydicom.pixels import apply_modality_lut
    ds = pydicom.dcmread(path, force=True)  # force: raw data sets without the Part 10 header
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian  # what a raw data set is (PS3.5 A.1)
    arr = ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(getattr(ds, "SamplesPerPixel", 1))
    if frames == 1:
        arr = arr[None]
    result = []
    per = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    shared = getattr(ds, "SharedFunctionalGroupsSequence", None)
    for f in range(frames):
        a = arr[f].astype(np.float64)
        if spp == 3:
            result.append(np.transpose(a, (2, 0, 1)))
            continue
        if ds.PhotometricInterpretation == "MONOCHROME1":
            a = (2 ** int(ds.BitsStored) - 1) - arr[f].astype(np.float64)
        slope, inter = 1.0, 0.0
        src = None
        if per is not None and "PixelValueTransformationSequence" in per[f]:
            src = per[f].PixelValueTransformationSequence[0]
        elif shared is not None and "PixelValueTransformationSequence" in shared[0]:
            src = shared[0].PixelValueTransformationSequence[0]
        elif "RescaleSlope" in ds or "RescaleIntercept" in ds:
            src = ds
        if src is not None:
            slope = float(getattr(src, "RescaleSlope", 1) or 1)
            inter = float(getattr(src, "RescaleIntercept", 0) or 0)
        result.append((a * slope + inter)[None])
    data = np.stack(result).astype(np.float32)
    os.makedirs(out, exist_ok=True)
    data.tofile(os.path.join(out, "pixels.f32"))
    json.dump({"shape": list(data.shape)}, open(os.path.join(out, "pixels.json"), "w"))


def dcm2niix(folder, out):
    import nibabel as nib
    os.makedirs(out, exist_ok=True)
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    run_dcm2niix(["-z", "n", "-b", "n", "-f", "%s_%z", "-o", raw, folder])
    names = []
    for f in sorted(os.listdir(raw)):
        if not f.endswith(".nii"):
            continue
        img = nib.as_closest_canonical(nib.load(os.path.join(raw, f)))
        data = np.asarray(img.get_fdata(), dtype=np.float32)
        name = f[:-4]
        data.ravel(order="F").astype(np.float32).tofile(os.path.join(out, name + ".f32"))
        json.dump({"shape": list(data.shape), "affine": img.affine.tolist(), "file": f},
                  open(os.path.join(out, name + ".json"), "w"))
        names.append(name)
    print("\n".join(names))


def nifti(path, out):
    """nibabel's reading of a NIfTI (e.g. one MedVox wrote), reoriented to RAS, dumped like dcm2niix's."""
    import nibabel as nib
    os.makedirs(out, exist_ok=True)
    img = nib.as_closest_canonical(nib.load(path))
    data = np.asarray(img.get_fdata(), dtype=np.float32)
    data.ravel(order="F").tofile(os.path.join(out, "nifti.f32"))
    json.dump({"shape": list(data.shape), "affine": img.affine.tolist(), "file": path},
              open(os.path.join(out, "nifti.json"), "w"))


def tilt(folder, mine):
    """Checks a tilt-corrected NIfTI (MINE) against dcm2niix run on FOLDER: the grid must equal that
    of dcm2niix's _Tilt_1 output, and every voxel inside the acquired stack must equal scipy's
    trilinear sample of dcm2niix's uncorrected (sheared-affine) volume at the same world point.
    Prints one JSON line: shape match, affine match, voxels compared, largest difference."""
    import nibabel as nib
    from scipy.ndimage import map_coordinates
    import tempfile
    out = tempfile.mkdtemp()
    run_dcm2niix(["-z", "n", "-b", "n", "-f", "ref", "-o", out, folder])
    sheared = nib.load(os.path.join(out, "ref.nii"))
    corrected = nib.as_closest_canonical(nib.load(os.path.join(out, "ref_Tilt_1.nii")))
    m = nib.load(mine)
    mc = nib.as_closest_canonical(m)
    S = sheared.get_fdata()
    M = m.get_fdata()
    idx = np.indices(M.shape).reshape(3, -1)
    v = np.linalg.inv(sheared.affine) @ m.affine @ np.vstack([idx, np.ones(idx.shape[1])])
    inside = np.all((v[:3] >= 0) & (v[:3] <= np.array(S.shape)[:, None] - 1), axis=0)
    d = np.abs(map_coordinates(S, v[:3], order=1) - M.reshape(-1))[inside]
    shutil.rmtree(out)
    print(json.dumps({"shape": list(mc.shape) == list(corrected.shape),
                      "affine": bool(np.allclose(mc.affine, corrected.affine, atol=1e-3)),
                      "compared": int(inside.sum()), "maxdiff": float(d.max())}))


if __name__ == "__main__":
    if sys.argv[1] == "tilt":
        tilt(sys.argv[2], sys.argv[3])
        sys.exit(0)
    {"pixels": pixels, "dcm2niix": dcm2niix, "nifti": nifti}[sys.argv[1]](sys.argv[2], sys.argv[3])
