#!/usr/bin/env python3
"""Makes the DICOM test fixtures in Fixtures/dicom/ (tiny series: few slices, small matrices).

Usage:
  .venv/bin/python3 Fixtures/dicom/make_dicom_fixtures.py            # (re)writes the committed fixtures
  .venv/bin/python3 Fixtures/dicom/make_dicom_fixtures.py --bench DIR [--size 512 --slices 300]
                                                           # a big synthetic CT series for benchmarks (not committed)

Needs pydicom and numpy (Tools/requirements-dev.txt) and dcmtk's dcmconv (Tools/apt-packages.txt) for
the big-endian and deflated copies. Everything is synthetic: no patient data, fixed UIDs, fixed pixel
values from formulas, so rerunning gives the same bytes.
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

ROOT = os.path.dirname(os.path.abspath(__file__))
UIDROOT = "1.2.826.0.1.3680043.10.1407."  # synthetic UIDs for MedVox fixtures
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
ENH_MR = "1.2.840.10008.5.1.4.1.1.4.1"
SC = "1.2.840.10008.5.1.4.1.1.7"
OWN_FOLDERS = ["bad", "bigendian", "ct", "deflated", "duplicates", "enhanced", "gapped", "irregular", "localizer",
               "monochrome1", "mosaic", "mr", "multiecho", "multiframe", "oblique", "raw", "rgb_planar0", "rgb_planar1",
               "signed12", "tilted", "timeseries", "ybr_full"]


def uid(*parts):
    return UIDROOT + ".".join(str(p) for p in parts)


def base(sop_class, series, instance, modality="CT", charset=None):
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid(series, instance)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid(0)
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid(1)
    ds.SeriesInstanceUID = uid(series)
    ds.FrameOfReferenceUID = uid(2)
    ds.Modality = modality
    ds.PatientName = "Fixture^Synthetic"
    ds.PatientID = "MEDVOX-FIXTURE"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = "20240101"
    ds.Manufacturer = "MedVox"
    ds.SeriesNumber = series
    ds.InstanceNumber = instance + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    return ds


def set_pixels(ds, arr, bits_stored=None, signed=None, photometric="MONOCHROME2"):
    arr = np.ascontiguousarray(arr)
    ds.Rows, ds.Columns = arr.shape[-2], arr.shape[-1] if arr.ndim == 2 or photometric.startswith("MONO") else arr.shape[-2]
    if photometric.startswith("MONO"):
        ds.Rows, ds.Columns = arr.shape[-2], arr.shape[-1]
        ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ba = arr.dtype.itemsize * 8
    ds.BitsAllocated = ba
    ds.BitsStored = bits_stored or ba
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if (signed if signed is not None else arr.dtype.kind == "i") else 0
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def geometry(ds, pos, row=(1, 0, 0), col=(0, 1, 0), spacing=(0.8, 0.6), thickness=2.0):
    ds.ImagePositionPatient = [f"{v:.6g}" for v in pos]
    ds.ImageOrientationPatient = [f"{v:.8g}" for v in list(row) + list(col)]
    ds.PixelSpacing = [f"{v:.6g}" for v in spacing]
    ds.SliceThickness = thickness


def save(ds, path, implicit=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)


def ramp(shape, k, scale=1, offset=0, dtype=np.int16):
    z = np.indices(shape)
    return (offset + scale * (z[0] * 7 + z[1] * 3 + k * 11) % 4000).astype(dtype)


def ct_series(folder, series, positions, rows=12, cols=16, row=(1, 0, 0), col=(0, 1, 0), desc="CT fixture",
              extra=None, dtype=np.uint16, slope=1.0, intercept=-1024.0, implicit=False, name="IM{:04d}.dcm"):
    for k, pos in enumerate(positions):
        ds = base(CT, series, k)
        ds.SeriesDescription = desc
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.KVP = "120"
        geometry(ds, pos, row, col)
        set_pixels(ds, ramp((rows, cols), k, offset=900, dtype=dtype), bits_stored=12 if dtype == np.uint16 else None)
        if extra:
            extra(ds, k)
        save(ds, os.path.join(ROOT, folder, name.format(k + 1)), implicit=implicit)


def axial(n, step=2.0, z0=-10.0, x0=-6.0, y0=-4.0):
    return [(x0, y0, z0 + step * k) for k in range(n)]


def with_sequences_and_private(ds, k):
    # Nested sequences (undefined-length items when pydicom writes SQ with undefined length),
    # a private creator with private elements, and an element written as UN.
    inner = Dataset()
    inner.CodeValue = "T-D1100"
    inner.CodingSchemeDesignator = "SRT"
    inner.CodeMeaning = "Head"
    item = Dataset()
    item.AnatomicRegionSequence = Sequence([inner])
    item.ReferencedSOPInstanceUID = uid(99, k)
    ds.ReferencedImageSequence = Sequence([item])
    block = ds.private_block(0x0029, "MEDVOX TEST", create=True)
    block.add_new(0x10, "LO", "private text")
    block.add_new(0x11, "DS", "3.25")
    block.add_new(0x12, "OB", b"\x01\x02\x03\x04")
    ds.SAR = "42"  # rewritten as UN by patch_un() below


def patch_un(path):
    """Rewrites SAR (0018,1316) as an explicit UN element and inserts a private UN element of
    undefined length holding a sequence in implicit VR (PS3.5 6.2.2), as converters that did not
    know the attributes write them. pydicom never writes these, so the bytes are patched."""
    b = open(path, "rb").read()
    sar = b"\x18\x00\x16\x13DS\x02\x0042"
    assert b.count(sar) == 1
    b = b.replace(sar, b"\x18\x00\x16\x13UN\x00\x00\x02\x00\x00\x0042")
    le = lambda v, n: v.to_bytes(n, "little")
    item = le(0x0008, 2) + le(0x0100, 2) + le(4, 4) + b"ABCD"  # CodeValue, implicit VR
    item += le(0x0008, 2) + le(0x0104, 2) + le(6, 4) + b"inner "  # CodeMeaning
    un = le(0x0029, 2) + le(0x1020, 2) + b"UN\x00\x00" + le(0xFFFFFFFF, 4)
    un += le(0xFFFE, 2) + le(0xE000, 2) + le(0xFFFFFFFF, 4) + item + le(0xFFFE, 2) + le(0xE00D, 2) + le(0, 4)
    un += le(0xFFFE, 2) + le(0xE0DD, 2) + le(0, 4)
    pix = b"\xe0\x7f\x10\x00OW"
    assert b.count(pix) == 1
    b = b.replace(pix, un + pix)
    open(path, "wb").write(b)


def write_series():
    for d in OWN_FOLDERS:  # only the folders this script makes (codecs/ belongs to make_codec_fixtures.py)
        shutil.rmtree(os.path.join(ROOT, d), ignore_errors=True)
    # 1. CT with rescale (uint16 stored 12 bit, intercept -1024), axial, explicit VR LE, with sequences,
    #    private tags and an UN element.
    ct_series("ct", 3, axial(5), desc="CT head/rescale", extra=with_sequences_and_private)
    for f in sorted(os.listdir(os.path.join(ROOT, "ct"))):
        patch_un(os.path.join(ROOT, "ct", f))
    # 2. MR, implicit VR LE, sagittal, with acquisition parameters, Latin-1 description.
    def mr_extra(ds, k):
        ds.Modality = "MR"
        ds.SOPClassUID = MR
        ds.file_meta.MediaStorageSOPClassUID = MR
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SeriesDescription = "T1 sagittal é"
        ds.RepetitionTime = "450"
        ds.EchoTime = "12.5"
        ds.FlipAngle = "90"
        ds.MagneticFieldStrength = "3"
        ds.InstitutionName = "Hôpital Fixture"
        ds.RescaleSlope = "1"
        ds.RescaleIntercept = "0"
    ct_series("mr", 4, [(-5.0 + 1.5 * k, -30, 40) for k in range(4)], rows=10, cols=14, row=(0, 1, 0), col=(0, 0, -1),
              desc="mr", extra=mr_extra, implicit=True)
    # 3. Oblique (rotated about two axes), explicit LE, UTF-8 description.
    a, b = np.deg2rad(20), np.deg2rad(-12)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rot = ry @ rx
    r, c = rot[:, 0], rot[:, 1]
    n = np.cross(r, c)
    origin = np.array([-10.0, 5.0, 20.0])

    def utf8(ds, k):
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.SeriesDescription = "oblique ü 日本"
    ct_series("oblique", 5, [tuple(origin + 2.5 * k * n) for k in range(4)], row=r, col=c, desc="", extra=utf8)
    # 4. Gantry tilt: positions step along z and y (15° tilt about x).
    t = np.deg2rad(15)
    def tilt(ds, k):
        ds.GantryDetectorTilt = "15"
    ct_series("tilted", 6, [(-6.0, -4.0 + 3.0 * k * np.tan(t), -10 + 3.0 * k) for k in range(5)], desc="tilted", extra=tilt)
    # 5. Gap (slice 3 of 6 missing) and 6. irregular steps.
    ct_series("gapped", 7, [p for i, p in enumerate(axial(6)) if i != 2], desc="gapped")
    ct_series("irregular", 8, [(-6, -4, z) for z in (0.0, 2.0, 4.0, 7.0, 9.0)], desc="irregular")
    # 7. Duplicate: a second copy of one file under another name (same SOPInstanceUID).
    ct_series("duplicates", 9, axial(4), desc="dups")
    shutil.copy(os.path.join(ROOT, "duplicates", "IM0002.dcm"), os.path.join(ROOT, "duplicates", "IM0002_copy.dcm"))
    # 8. A localizer inside the series (different orientation, ImageType LOCALIZER) and a non-DICOM file.
    ct_series("localizer", 10, axial(4), desc="with scout")

    def scout(ds, k):
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ct_series("localizer", 10, [(-6, 0, -30)], row=(1, 0, 0), col=(0, 0, -1), desc="with scout", extra=scout,
              name="SCOUT{:02d}.dcm")
    with open(os.path.join(ROOT, "localizer", "README.txt"), "w") as f:
        f.write("not a DICOM file: skipped with a note\n")
    # 9. Signed 12-bit (int16 cells, BitsStored 12) with garbage in the unused high bits,
    #    and 10. MONOCHROME1 (8 bit).
    for k, pos in enumerate(axial(3)):
        ds = base(CT, 11, k)
        ds.SeriesDescription = "signed12"
        geometry(ds, pos)
        v = (ramp((8, 10), k, dtype=np.int32) % 4096) - 2048  # -2048..2047
        cells = (v & 0x0FFF) | 0x5000  # high nibble garbage
        set_pixels(ds, cells.astype(np.uint16), bits_stored=12, signed=True)
        ds.RescaleSlope = "1"
        ds.RescaleIntercept = "0"
        save(ds, os.path.join(ROOT, "signed12", f"IM{k + 1:04d}.dcm"))
    for k, pos in enumerate(axial(3)):
        ds = base(CT, 12, k)
        ds.Modality = "CR"
        ds.SeriesDescription = "mono1"
        geometry(ds, pos)
        set_pixels(ds, ramp((8, 10), k, dtype=np.uint8), photometric="MONOCHROME1")
        save(ds, os.path.join(ROOT, "monochrome1", f"IM{k + 1:04d}.dcm"))
    # 11. Colour: RGB planar 0 and 1, YBR_FULL (8 bit, secondary capture with geometry).
    rgb = np.zeros((6, 8, 3), np.uint8)
    z = np.indices((6, 8))
    rgb[..., 0] = z[0] * 40
    rgb[..., 1] = z[1] * 30
    rgb[..., 2] = 255 - z[0] * 20 - z[1] * 10
    for name, planar, photo in (("rgb_planar0", 0, "RGB"), ("rgb_planar1", 1, "RGB"), ("ybr_full", 0, "YBR_FULL")):
        ds = base(SC, 13 + planar + (2 if photo == "YBR_FULL" else 0), 0, modality="OT")
        ds.SeriesDescription = name
        geometry(ds, (0, 0, 0), spacing=(1, 1))
        ds.Rows, ds.Columns = 6, 8
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = planar
        ds.PhotometricInterpretation = photo
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        data = rgb.astype(np.float64)
        if photo == "YBR_FULL":
            R, G, B = data[..., 0], data[..., 1], data[..., 2]
            Y = 0.299 * R + 0.587 * G + 0.114 * B
            Cb = -0.168736 * R - 0.331264 * G + 0.5 * B + 128
            Cr = 0.5 * R - 0.418688 * G - 0.081312 * B + 128
            data = np.clip(np.round(np.stack([Y, Cb, Cr], -1)), 0, 255)
        arr = data.astype(np.uint8)
        if planar == 1:
            arr = np.transpose(arr, (2, 0, 1))
        ds.PixelData = arr.tobytes()
        save(ds, os.path.join(ROOT, name, "IM0001.dcm"))
    # 12. Classic multi-frame (NumberOfFrames 4, SpacingBetweenSlices).
    ds = base(CT, 16, 0, modality="NM")
    ds.SeriesDescription = "multiframe"
    geometry(ds, (-5, -5, 0), spacing=(2, 2))
    frames = np.stack([ramp((6, 7), k, dtype=np.uint16) for k in range(4)])
    set_pixels(ds, frames)
    ds.NumberOfFrames = 4
    ds.SpacingBetweenSlices = "3"
    save(ds, os.path.join(ROOT, "multiframe", "MF0001.dcm"))
    # 13. Enhanced MR multi-frame: per-frame positions and pixel value transformation, shared
    #     orientation and pixel measures, frames stored in reverse spatial order.
    ds = base(ENH_MR, 17, 0, modality="MR")
    ds.SeriesDescription = "enhanced"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    nfr = 4
    shared = Dataset()
    po = Dataset()
    po.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]
    pm = Dataset()
    pm.PixelSpacing = ["1.25", "0.75"]
    pm.SliceThickness = "3"
    shared.PlaneOrientationSequence = Sequence([po])
    shared.PixelMeasuresSequence = Sequence([pm])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for f in range(nfr):
        g = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [f"{12.0 - 3.0 * f:g}", "-20", "30"]
        g.PlanePositionSequence = Sequence([pp])
        pv = Dataset()
        pv.RescaleSlope = f"{0.5 + 0.25 * f:g}"
        pv.RescaleIntercept = f"{-10 * f:g}"
        pv.RescaleType = "US"
        g.PixelValueTransformationSequence = Sequence([pv])
        fc = Dataset()
        fc.InStackPositionNumber = nfr - f
        g.FrameContentSequence = Sequence([fc])
        per.append(g)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    set_pixels(ds, np.stack([ramp((6, 9), f, dtype=np.uint16) for f in range(nfr)]))
    ds.NumberOfFrames = nfr
    save(ds, os.path.join(ROOT, "enhanced", "ENH0001.dcm"))
    # 14. MR with two echoes at the same positions (split into two volumes), and a 4D series
    #     (two time points at each position, told apart by AcquisitionNumber).
    for name, series, what in (("multiecho", 18, "echo"), ("timeseries", 19, "time")):
        n = 0
        for t in range(2):
            for k, pos in enumerate(axial(3, step=3.0)):
                ds = base(MR, series, n, modality="MR")
                ds.SeriesDescription = name
                ds.RepetitionTime = "2000"
                geometry(ds, pos)
                if what == "echo":
                    ds.EchoNumbers = t + 1
                    ds.EchoTime = f"{10 + 20 * t}"
                else:
                    ds.EchoTime = "30"
                    ds.AcquisitionNumber = t + 1
                    ds.TemporalPositionIdentifier = t + 1
                set_pixels(ds, ramp((6, 8), k, offset=100 * (t + 1), dtype=np.uint16))
                save(ds, os.path.join(ROOT, name, f"IM{n + 1:04d}.dcm"))
                n += 1
    # 15. Siemens mosaic: 2 time points, 6 slices of 6x8 tiled 3x3 into 18x24, oblique, with a CSA
    #     image header (NumberOfImagesInMosaic, SliceNormalVector opposite to row x column).
    a = np.deg2rad(10)
    r, c = np.array([1.0, 0, 0]), np.array([0, np.cos(a), -np.sin(a)])
    normal = -np.cross(r, c)
    for t in range(2):
        ds = base(MR, 20, t, modality="MR")
        ds.Manufacturer = "SIEMENS"
        ds.SeriesDescription = "mosaic"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
        ds.RepetitionTime = "2000"
        ds.AcquisitionNumber = t + 1
        ds.SpacingBetweenSlices = "3"
        geometry(ds, (-20.0, -30.0, 15.0), row=r, col=c, spacing=(2.0, 2.5), thickness=2.5)
        tiles = np.zeros((18, 24), np.uint16)
        for k in range(6):
            tr, tc = divmod(k, 3)
            tiles[tr * 6:(tr + 1) * 6, tc * 8:(tc + 1) * 8] = ramp((6, 8), k, offset=100 * (k + 1) + 7 * t, dtype=np.uint16)
        set_pixels(ds, tiles)
        block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
        block.add_new(0x10, "OB", csa2({"NumberOfImagesInMosaic": ("US", ["6"]),
                                         "SliceNormalVector": ("FD", [f"{v:.8f}" for v in normal])}))
        save(ds, os.path.join(ROOT, "mosaic", f"MOS{t + 1:04d}.dcm"))
    # 16. Big endian and deflated copies of the CT series (dcmtk), and a raw data set without the
    #     Part 10 header (preamble + meta stripped).
    for name, flag in (("bigendian", "+tb"), ("deflated", "+td")):
        os.makedirs(os.path.join(ROOT, name))
        for f in sorted(os.listdir(os.path.join(ROOT, "ct"))):
            subprocess.run(["dcmconv", "-q", flag, os.path.join(ROOT, "ct", f), os.path.join(ROOT, name, f)], check=True)
    os.makedirs(os.path.join(ROOT, "raw"))
    whole = open(os.path.join(ROOT, "mr", "IM0001.dcm"), "rb").read()
    assert whole[128:132] == b"DICM" and whole[132:136] == b"\x02\x00\x00\x00"
    meta_end = 132 + 12 + int.from_bytes(whole[140:144], "little")  # after (0002,0000) UL group length
    with open(os.path.join(ROOT, "raw", "IM0001"), "wb") as f:
        f.write(whole[meta_end:])  # the implicit VR LE body only: no preamble, no meta
    bad_inputs()


def csa2(tags):
    """A Siemens CSA2 ("SV10") header: per tag a 64-byte name, VM, VR, SyngoDT, item count, 77;
    per item four int32 (x1 = length) and the NUL-terminated text padded to 4 bytes."""
    import struct
    out = b"SV10" + b"\x04\x03\x02\x01" + struct.pack("<2I", len(tags), 77)
    for name, (vr, items) in tags.items():
        out += struct.pack("<64si4s3i", name.encode(), len(items), vr.encode(), 3, len(items), 77)
        for it in items:
            data = it.encode() + b"\x00"
            out += struct.pack("<4i", len(data), len(data), 77, len(data)) + data + b"\x00" * ((4 - len(data) % 4) % 4)
    return out


def bad_inputs():
    """Broken files: each must give one clear error line, exit 1, no output."""
    bad = os.path.join(ROOT, "bad")
    os.makedirs(bad)
    good = open(os.path.join(ROOT, "ct", "IM0001.dcm"), "rb").read()
    # Truncated in the middle of the pixel data, and in the middle of the header.
    open(os.path.join(bad, "truncated_pixels.dcm"), "wb").write(good[: len(good) - 100])
    open(os.path.join(bad, "truncated_header.dcm"), "wb").write(good[:300])
    # An element whose length runs past the end: SeriesDescription (0008,103E) length set to 0x7F00.
    i = good.find(b"\x08\x00\x3e\x10LO")
    b = bytearray(good)
    b[i + 6: i + 8] = (0x7F00).to_bytes(2, "little")
    open(os.path.join(bad, "length_past_end.dcm"), "wb").write(bytes(b))
    # Odd pixel data length (native pixel data must have even length).
    i = good.find(b"\xe0\x7f\x10\x00OW\x00\x00")
    n = int.from_bytes(good[i + 8: i + 12], "little")
    b = good[: i + 8] + (n + 1).to_bytes(4, "little") + good[i + 12:] + b"\x00"
    open(os.path.join(bad, "odd_length.dcm"), "wb").write(b)
    # Absurd size: Rows/Columns 65535 and 1e6 frames.
    ds = pydicom.dcmread(os.path.join(ROOT, "ct", "IM0001.dcm"))
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 1000000
    ds.save_as(os.path.join(bad, "absurd_size.dcm"))
    # Sequences nested 40 deep.
    ds = pydicom.dcmread(os.path.join(ROOT, "ct", "IM0001.dcm"))
    leaf = Dataset()
    leaf.CodeValue = "X"
    for _ in range(40):
        it = Dataset()
        it.ReferencedImageSequence = Sequence([leaf])
        leaf = it
    ds.ReferencedImageSequence = Sequence([leaf])
    ds.save_as(os.path.join(bad, "deep_nesting.dcm"))
    # No pixel data.
    ds = pydicom.dcmread(os.path.join(ROOT, "ct", "IM0001.dcm"))
    del ds.PixelData
    ds.save_as(os.path.join(bad, "no_pixels.dcm"))
    # Unsupported transfer syntax: MPEG2 Main Profile (video; no decoder).
    ds = pydicom.dcmread(os.path.join(ROOT, "ct", "IM0001.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
    ds.PixelData = pydicom.encaps.encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    ds.save_as(os.path.join(bad, "unsupported_ts.dcm"))
    # Not DICOM at all.
    open(os.path.join(bad, "not_dicom.dcm"), "wb").write(b"hello, this is plain text and not a DICOM file\n" * 4)


def bench(folder, size, slices):
    """A 512x512xN CT series, explicit VR LE, one file per slice (for Tools/bench/dicom_vs_dcm2niix.py)."""
    os.makedirs(folder, exist_ok=True)
    z = np.indices((size, size))
    r2 = (z[0] - size / 2) ** 2 + (z[1] - size / 2) ** 2
    for k in range(slices):
        ds = base(CT, 100, k)
        ds.SeriesDescription = "bench CT"
        ds.RescaleSlope = "1"
        ds.RescaleIntercept = "-1024"
        geometry(ds, (-size * 0.35, -size * 0.35, -150 + 1.0 * k), spacing=(0.7, 0.7), thickness=1.0)
        img = np.where(r2 < (size * 0.4) ** 2, 1024 + 40 + (z[0] + 3 * k) % 50, 0).astype(np.uint16)
        set_pixels(img, img) if False else set_pixels(ds, img, bits_stored=12)
        ds.save_as(os.path.join(folder, f"CT{k + 1:04d}.dcm"), enforce_file_format=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", metavar="DIR")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=300)
    a = ap.parse_args()
    if a.bench:
        bench(a.bench, a.size, a.slices)
    else:
        write_series()
