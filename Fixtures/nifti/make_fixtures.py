#!/usr/bin/env python3
"""Generates the NIfTI test fixtures in Fixtures/nifti/ and the example volume in Fixtures/example/.

Run from the repository root:  .venv/bin/python3 Fixtures/nifti/make_fixtures.py
Needs numpy and nibabel (Tools/requirements-dev.txt). Output is deterministic (fixed seeds, no
timestamps: gzip members are written with mtime 0), so re-running reproduces the committed files.
"""
import gzip
import io
import os
import struct

import nibabel as nib
import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(ROOT), "example")

DTYPES = ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
SHAPE = (5, 4, 3)


def oblique_affine():
    """A rotated (oblique), anisotropic affine with a negative determinant (LAS-like)."""
    a, b = np.deg2rad(12), np.deg2rad(-7)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    lin = rz @ rx @ np.diag([-1.5, 2.0, 2.5])
    aff = np.eye(4)
    aff[:3, :3] = lin
    aff[:3, 3] = [60.0, -80.0, -40.5]
    return aff


def values(dtype, shape=SHAPE):
    """Deterministic values spanning a good part of each type's range, extremes included."""
    n = int(np.prod(shape))
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = np.linspace(-1000.5, 1000.25, n).astype(dt)
        v[1] = np.finfo(np.float32).max if dt == np.float32 else 1e300
        v[2] = np.finfo(np.float32).tiny
    else:
        info = np.iinfo(dt)
        lo, hi = max(info.min, -(2**20)), min(info.max, 2**20)
        v = np.linspace(lo, hi, n).round().astype(dt)
        v[0], v[1] = info.min, info.max
    return v.reshape(shape, order="F")


def gz_bytes(raw, members=1):
    """gzip with mtime 0 (reproducible); `members` > 1 concatenates that many gzip members."""
    out = io.BytesIO()
    cuts = np.linspace(0, len(raw), members + 1).astype(int)
    for a, b in zip(cuts[:-1], cuts[1:]):
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6, filename="") as g:
            g.write(raw[a:b])
    return out.getvalue()


def save(img, name):
    """Saves through nibabel into memory, then writes (gzip reproducibly for .gz names)."""
    path = os.path.join(ROOT, name)
    if name.endswith(".nii.gz"):
        raw = img.to_bytes() if hasattr(img, "to_bytes") else None
        with open(path, "wb") as f:
            f.write(gz_bytes(raw))
    else:
        nib.save(img, path)
    return path


def header_bytes(name):
    with open(os.path.join(ROOT, name), "rb") as f:
        return bytearray(f.read())


def put(name, data):
    with open(os.path.join(ROOT, name), "wb") as f:
        f.write(bytes(data))


def main():
    os.makedirs(ROOT, exist_ok=True)
    aff = oblique_affine()

    # Every datatype, both byte orders.
    for dt in DTYPES:
        for order, tag in (("<", "le"), (">", "be")):
            hdr = nib.Nifti1Header(endianness=order)
            img = nib.Nifti1Image(values(dt), aff, header=hdr)
            img.set_data_dtype(np.dtype(dt).newbyteorder(order))
            img.header.set_slope_inter(1, 0)
            save(img, f"dtype_{dt}_{tag}.nii")

    # RGB24 (read only).
    rgb = np.zeros(SHAPE, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    idx = np.arange(np.prod(SHAPE)).reshape(SHAPE, order="F")
    rgb["R"], rgb["G"], rgb["B"] = idx % 256, (idx * 7) % 256, 255 - idx
    save(nib.Nifti1Image(rgb, aff), "rgb24.nii")

    # Containers: .nii, .nii.gz, .hdr/.img pair, a two-member .nii.gz.
    base = values("int16")
    img = nib.Nifti1Image(base, aff)
    img.header.set_slope_inter(1, 0)
    save(img, "int16.nii")
    save(img, "int16.nii.gz")
    nib.save(nib.Nifti1Pair(base, aff), os.path.join(ROOT, "pair.hdr"))
    put("multimember.nii.gz", gz_bytes(img.to_bytes(), members=3))

    # Transform codes: qform only, sform only, neither, both (different: sform wins), µm units.
    q = nib.Nifti1Image(base, None)
    q.header.set_qform(aff, code=1)
    q.header.set_sform(None, code=0)
    save(q, "qform_only.nii")
    s = nib.Nifti1Image(base, None)
    s.header.set_sform(aff, code=4)
    s.header.set_qform(None, code=0)
    save(s, "sform_only.nii")
    n = nib.Nifti1Image(base, None)
    n.header.set_sform(None, code=0)
    n.header.set_qform(None, code=0)
    n.header.set_zooms((2.0, 3.0, 4.0))
    save(n, "no_xform.nii")
    b = nib.Nifti1Image(base, aff)
    other = np.diag([1.0, 1.0, 1.0, 1.0])
    other[:3, 3] = [1, 2, 3]
    b.header.set_qform(other, code=1)
    b.header.set_sform(aff, code=2)
    save(b, "both_xforms.nii")
    u = nib.Nifti1Image(base, np.diag([1500.0, 2000.0, 2500.0, 1.0]))
    u.header.set_xyzt_units(xyz="micron")
    save(u, "units_micron.nii")

    # Scaled int16 (scl_slope 0.5, scl_inter -10); slope 0 means unscaled.
    sc = nib.Nifti1Image(base, aff)
    sc.header.set_slope_inter(0.5, -10)
    save(sc, "scaled.nii")
    z = header_bytes("int16.nii")
    z[112:120] = struct.pack("<ff", 0.0, 7.0)
    put("slope_zero.nii", z)

    # 4D with TR 2 s; an extension; NIfTI-2.
    four = np.stack([values("float32") + t for t in range(6)], axis=-1)
    f4 = nib.Nifti1Image(four, aff)
    f4.header.set_xyzt_units(xyz="mm", t="sec")
    f4.header["pixdim"][4] = 2.0
    save(f4, "fourd.nii.gz")
    ext = nib.Nifti1Image(base, aff)
    ext.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"MedVox fixture comment extension"))
    save(ext, "extension.nii")
    n2 = nib.Nifti2Image(values("float64"), aff)
    save(n2, "nifti2.nii")
    save(n2, "nifti2.nii.gz")

    # Malformed files: each must give exit 1 and a clear message.
    good = header_bytes("int16.nii")
    bad = {}
    bad["bad_truncated.nii"] = good[: len(good) - 17]
    bad["bad_short_header.nii"] = good[:200]
    gzgood = open(os.path.join(ROOT, "int16.nii.gz"), "rb").read()
    bad["bad_truncated.nii.gz"] = gzgood[: len(gzgood) * 2 // 3]
    corrupt = bytearray(gzgood)
    for i in range(20, 40):
        corrupt[i] ^= 0x5A
    bad["bad_corrupt.nii.gz"] = corrupt
    h = bytearray(good)
    h[40:42] = struct.pack("<h", 9)
    bad["bad_dim0.nii"] = h
    h = bytearray(good)
    h[44:46] = struct.pack("<h", -4)
    bad["bad_negative_dim.nii"] = h
    h = bytearray(good)
    h[40:50] = struct.pack("<hhhhh", 4, 32767, 32767, 32767, 32767)
    bad["bad_huge_dims.nii"] = h
    h = bytearray(good)
    h[108:112] = struct.pack("<f", 1e9)
    bad["bad_vox_offset.nii"] = h
    h = bytearray(good)
    h[70:74] = struct.pack("<hh", 32, 64)
    bad["bad_complex.nii"] = h
    h = bytearray(good)
    h[344:348] = b"xyz\0"
    bad["bad_magic.nii"] = h
    bad["bad_not_nifti.nii"] = b"This is a text file, not an image.\n" * 12
    h = bytearray(gz_bytes(bytes(good)))
    h += b"garbage!"
    put("trailing_garbage.nii.gz", h)
    h = bytearray(good)
    h[40:48] = struct.pack("<hhhh", 3, 2000, 2000, 2000)
    bad["bad_huge_dims.nii.gz"] = gz_bytes(bytes(h))
    for name, data in bad.items():
        put(name, data)

    make_example()


def example_phantom():
    """The example head phantom: (int16 voxels, LAS affine, its tissue masks). The masks are the
    phantom's truth, by construction: "csf" (the ventricles), "gm" (the outer brain shell) and "wm"
    (the inner brain), each without the lesion (and the brain without the ventricles), and "lesion"."""
    rng = np.random.default_rng(20261129)
    nx, ny, nz = 96, 112, 72
    sp = np.array([1.0, 1.0, 1.5])
    x, y, z = np.meshgrid(
        (np.arange(nx) - nx / 2 + 0.5) * sp[0], (np.arange(ny) - ny / 2 + 0.5) * sp[1],
        (np.arange(nz) - nz / 2 + 0.5) * sp[2], indexing="ij")
    # x runs right-to-left in a LAS grid: the lesion sits in the patient's right hemisphere.
    r_head = np.sqrt((x / 44) ** 2 + (y / 54) ** 2 + (z / 48) ** 2)
    r_brain = np.sqrt((x / 38) ** 2 + ((y + 2) / 48) ** 2 + ((z + 2) / 42) ** 2)
    vent = (np.sqrt(((np.abs(x) - 6) / 4.5) ** 2 + ((y + 2) / 16) ** 2 + ((z - 4) / 9) ** 2) < 1)
    lesion = np.sqrt((x + 16) ** 2 + (y - 3) ** 2 + (z - 3) ** 2) < 8
    img = np.zeros((nx, ny, nz), np.float32)
    img[r_head < 1] = 300          # scalp
    img[(r_head < 0.93) & (r_brain >= 1)] = 60   # skull
    gyri = 1 + 0.12 * np.sin(x / 3.0) * np.sin(y / 3.5) * np.sin(z / 3.2)
    brain = r_brain < 1
    img[brain] = (650 * gyri)[brain]                    # grey/white mix
    img[brain & (r_brain < 0.75)] = 820                 # white matter
    img[vent] = 180                                     # CSF
    img[lesion] = 1100
    img += rng.normal(0, 6, img.shape).astype(np.float32) * (img > 0)
    data = np.round(img).astype(np.int16)
    aff = np.diag([-sp[0], sp[1], sp[2], 1.0])
    aff[:3, 3] = [(nx - 1) / 2 * sp[0], -(ny - 1) / 2 * sp[1], -(nz - 1) / 2 * sp[2]]
    other = vent | lesion
    tissues = {"csf": vent & ~lesion, "gm": brain & (r_brain >= 0.75) & ~other, "wm": brain & (r_brain < 0.75) & ~other,
               "lesion": lesion}
    return data, aff, tissues


def make_example():
    """A synthetic head-like phantom (int16, 1×1×1.5 mm, LAS like most scanners' NIfTI output)
    and a label map of it (1 ventricles, 2 a 'lesion'), for the README's first command."""
    os.makedirs(EXAMPLE, exist_ok=True)
    data, aff, tissues = example_phantom()
    t1 = nib.Nifti1Image(data, aff)
    t1.header.set_xyzt_units(xyz="mm")
    t1.header["descrip"] = b"MedVox synthetic head phantom"
    raw = t1.to_bytes()
    with open(os.path.join(EXAMPLE, "head.nii.gz"), "wb") as f:
        f.write(gzip.compress(raw, compresslevel=9, mtime=0))
    labels = np.zeros(data.shape, np.uint8)
    labels[tissues["csf"]] = 1
    labels[tissues["lesion"]] = 2
    lab = nib.Nifti1Image(labels, aff)
    lab.header.set_xyzt_units(xyz="mm")
    with open(os.path.join(EXAMPLE, "head_labels.nii.gz"), "wb") as f:
        f.write(gzip.compress(lab.to_bytes(), compresslevel=9, mtime=0))


if __name__ == "__main__":
    main()
