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
  dicom_oracle.py nifti FILE OUTDIR
      nibabel's reading of FILE (reoriented to RAS): OUTDIR/nifti.f32 and OUTDIR/nifti.json.
"""
import json
import os
import subprocess
import sys

import numpy as np


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
    subprocess.run(["dcm2niix", "-z", "n", "-b", "n", "-f", "%s_%z", "-o", raw, folder], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


if __name__ == "__main__":
    {"pixels": pixels, "dcm2niix": dcm2niix, "nifti": nifti}[sys.argv[1]](sys.argv[2], sys.argv[3])
