#!/usr/bin/env python3
"""Prepares the training data MedVox's brain models are made from.

Source: the MNI ICBM152 2009a nonlinear symmetric template (T1, and grey/white matter
probability maps), as shipped inside the nilearn wheel on PyPI. The wheel is fetched with
`pip download` (nothing is downloaded at MedVox's run time) and the three files extracted.

Writes to OUT (default: Data/mni, which git ignores):
  t1.nii.gz       the skull-stripped T1 template, 197x233x189 at 1 mm, uint8
  labels.nii.gz   0 background, 1 CSF, 2 grey matter, 3 white matter (uint8): the most probable
                  class, with CSF = inside the brain (T1 > 0) and neither GM nor WM
  gm.nii.gz, wm.nii.gz  the probability maps as shipped
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

import nibabel as nib
import numpy as np

NAMES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "Data", "mni")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "nilearn==0.14.1"], check=True)
        wheel = glob.glob(os.path.join(tmp, "nilearn-*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            for key, name in NAMES.items():
                with z.open(f"nilearn/datasets/data/{name}") as src, open(os.path.join(out, f"{key}.nii.gz"), "wb") as dst:
                    dst.write(src.read())
    t1 = nib.load(os.path.join(out, "t1.nii.gz"))
    gm = np.asarray(nib.load(os.path.join(out, "gm.nii.gz")).dataobj, dtype=np.float32) / 255
    wm = np.asarray(nib.load(os.path.join(out, "wm.nii.gz")).dataobj, dtype=np.float32) / 255
    brain = np.asarray(t1.dataobj) > 0
    csf = np.where(brain, np.clip(1 - gm - wm, 0, 1), 0)
    bg = (~brain).astype(np.float32)
    labels = np.argmax(np.stack([bg, csf, gm, wm]), axis=0).astype(np.uint8)
    labels[~brain] = 0
    img = nib.Nifti1Image(labels, t1.affine)
    img.set_qform(t1.affine, 1)
    img.set_sform(t1.affine, 1)
    nib.save(img, os.path.join(out, "labels.nii.gz"))
    counts = np.bincount(labels.ravel(), minlength=4)
    print(f"wrote {out}: labels voxels bg/csf/gm/wm = {counts.tolist()}")


if __name__ == "__main__":
    main()
