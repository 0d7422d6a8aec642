#!/usr/bin/env python3
"""Makes the compressed-pixel-data fixtures for Tests/MedVoxIOTests/PixelDecoderTests.swift.

For each case: a small uncompressed image is generated with pydicom (deterministic, seeded),
compressed by dcmtk or GDCM, and decompressed again by the SAME toolkit. Written per case:
  <case>.dcm          the compressed DICOM file (for end-to-end tests of the reader)
  <case>.f<i>.bin     the compressed bytes of frame i (all fragments, concatenated)
  <case>.f<i>.raw     the reference decode of frame i: little-endian samples, bitsAllocated/8 bytes
                      each, samples interleaved, masked to BitsStored (stored values, no sign extension)
and manifest.json lists the cases with their PixelFrameInfo, transfer syntax, whether the codec
is lossless, the tools used and the photometric interpretation after decoding.

Usage: python3 make_codec_fixtures.py   (needs pydicom, numpy, dcmtk, libgdcm-tools)
"""
import json, os, shutil, subprocess, sys, tempfile
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.encaps import generate_frames

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261129

def image(rows, cols, frames, spp, bits_stored, signed, seed):
    """A smooth pattern with edges and noise, so every codec has real work to do."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    lo = -(1 << (bits_stored - 1)) if signed else 0
    hi = (1 << (bits_stored - 1)) - 1 if signed else (1 << bits_stored) - 1
    out = []
    for f in range(frames):
        planes = []
        for s in range(spp):
            base = (np.sin(x / (3.0 + s + f)) + np.cos(y / (4.0 + s))) * 0.25 + 0.5
            base = base + ((x // 7 + y // 5 + f) % 2) * 0.2 + rng.normal(0, 0.03, (rows, cols))
            v = lo + np.clip(base / 1.3, 0, 1) * (hi - lo)
            v[0, 0], v[-1, -1] = lo, hi  # the extremes of the range
            planes.append(np.round(v).astype(np.int64))
        out.append(np.stack(planes, -1))
    return np.stack(out)  # frames, rows, cols, spp

def write_uncompressed(path, arr, bits_alloc, bits_stored, signed, photometric):
    frames, rows, cols, spp = arr.shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[path])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[path, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[path, "series"])
    ds.Modality = "OT"
    ds.PatientName = "Fixture^Codec"
    ds.PatientID = "CODEC"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = photometric
    if spp > 1:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    mask = (1 << bits_stored) - 1
    dtype = {8: "<u1", 16: "<u2"}[bits_alloc]
    ds.PixelData = (arr & mask).astype(dtype).tobytes()
    ds.save_as(path, enforce_file_format=True)

def raw_frames(path, bits_stored):
    """Reference samples of a decompressed file: interleaved, little-endian, masked to `bits_stored`
    (the compressed file's BitsStored: GDCM's decompressor sign-extends and raises BitsStored to 16)."""
    ds = pydicom.dcmread(path)
    assert not ds.file_meta.TransferSyntaxUID.is_compressed, path
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp, rows, cols = ds.SamplesPerPixel, ds.Rows, ds.Columns
    dtype = {8: "<u1", 16: "<u2"}[ds.BitsAllocated]
    a = np.frombuffer(ds.PixelData, dtype=dtype)[: frames * rows * cols * spp]
    if spp > 1 and int(getattr(ds, "PlanarConfiguration", 0)) == 1:
        a = a.reshape(frames, spp, rows, cols).transpose(0, 2, 3, 1)
    a = a.reshape(frames, rows * cols * spp) & ((1 << bits_stored) - 1)
    return [f.astype(dtype).tobytes() for f in a], str(ds.PhotometricInterpretation)

def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

# name, rows, cols, frames, spp, bitsAllocated, bitsStored, signed, photometric,
# compress command, decompress command, lossless
DCMTK_DRLE = ["dcmdrle"]
DCMTK_DJPEG = ["dcmdjpeg"]  # converts YCbCr to RGB, as MedVox's JPEG decoders do
CASES = [
    ("rle_mono8", 23, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcrle"], DCMTK_DRLE, True),
    ("rle_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["dcmcrle"], DCMTK_DRLE, True),
    ("rle_signed12", 20, 18, 1, 1, 16, 12, True, "MONOCHROME2", ["dcmcrle"], DCMTK_DRLE, True),
    ("rle_rgb8", 16, 13, 1, 3, 8, 8, False, "RGB", ["dcmcrle"], DCMTK_DRLE, True),
    ("rle_2frame16", 12, 11, 2, 1, 16, 16, False, "MONOCHROME2", ["dcmcrle"], DCMTK_DRLE, True),
    ("jpll_sv1_mono8", 23, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpeg", "+e1"], DCMTK_DJPEG, True),
    ("jpll_sv1_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["dcmcjpeg", "+e1"], DCMTK_DJPEG, True),
    ("jpll_sv1_signed12", 20, 18, 1, 1, 16, 12, True, "MONOCHROME2", ["dcmcjpeg", "+e1"], DCMTK_DJPEG, True),
    ("jpll_sv1_rgb8", 16, 13, 1, 3, 8, 8, False, "RGB", ["dcmcjpeg", "+e1"], DCMTK_DJPEG, True),
    ("jpll_sv1_2frame16", 12, 11, 2, 1, 16, 16, False, "MONOCHROME2", ["dcmcjpeg", "+e1"], DCMTK_DJPEG, True),
    ("jpll_bits2", 9, 10, 1, 1, 8, 2, False, "MONOCHROME2", ["dcmcjpeg", "+el", "+sv", "4"], DCMTK_DJPEG, True),
] + [
    (f"jpll57_sv{sv}_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2",
     ["dcmcjpeg", "+el", "+sv", str(sv)], DCMTK_DJPEG, True) for sv in range(1, 8)
] + [
    (f"jpll57_sv{sv}_signed12", 20, 18, 1, 1, 16, 12, True, "MONOCHROME2",
     ["dcmcjpeg", "+el", "+sv", str(sv)], DCMTK_DJPEG, True) for sv in (2, 5, 7)
] + [
    ("jpll57_sv6_rgb8", 16, 13, 1, 3, 8, 8, False, "RGB", ["dcmcjpeg", "+el", "+sv", "6"], DCMTK_DJPEG, True),
    ("jpll57_pt2_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["dcmcjpeg", "+el", "+sv", "1", "+pt", "2"], DCMTK_DJPEG, False),
    ("jpeg_baseline_mono8", 24, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpeg", "+eb", "+q", "80"], DCMTK_DJPEG, False),
    ("jpeg_baseline_rgb422", 18, 21, 1, 3, 8, 8, False, "RGB", ["dcmcjpeg", "+eb", "+q", "85"], DCMTK_DJPEG, False),
    ("jpeg_baseline_rgb444", 17, 20, 1, 3, 8, 8, False, "RGB", ["dcmcjpeg", "+eb", "+s4"], DCMTK_DJPEG, False),
    ("jpeg_baseline_2frame8", 16, 16, 2, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpeg", "+eb"], DCMTK_DJPEG, False),
    ("jpeg_extended_mono8", 24, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpeg", "+ee"], DCMTK_DJPEG, False),
    ("jpeg_extended_mono12", 21, 23, 1, 1, 16, 12, False, "MONOCHROME2", ["dcmcjpeg", "+ee", "+q", "85"], DCMTK_DJPEG, False),
    ("jls_lossless_mono8", 23, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpls", "+el"], ["dcmdjpls"], True),
    ("jls_lossless_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["dcmcjpls", "+el"], ["dcmdjpls"], True),
    ("jls_lossless_signed12", 20, 18, 1, 1, 16, 12, True, "MONOCHROME2", ["dcmcjpls", "+el"], ["dcmdjpls"], True),
    ("jls_lossless_rgb8", 16, 13, 1, 3, 8, 8, False, "RGB", ["dcmcjpls", "+el"], ["dcmdjpls"], True),
    ("jls_lossless_rgb8_sample", 16, 13, 1, 3, 8, 8, False, "RGB", ["dcmcjpls", "+el", "+is"], ["dcmdjpls"], True),
    ("jls_lossless_rgb8_none", 16, 13, 1, 3, 8, 8, False, "RGB", ["dcmcjpls", "+el", "+in"], ["dcmdjpls"], True),
    ("jls_lossless_2frame16", 12, 11, 2, 1, 16, 16, False, "MONOCHROME2", ["dcmcjpls", "+el"], ["dcmdjpls"], True),
    ("jls_near2_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["dcmcjpls", "+en", "+md", "2"], ["dcmdjpls"], False),
    ("jls_near3_mono8", 23, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpls", "+en", "+md", "3"], ["dcmdjpls"], False),
    ("j2k_lossless_mono8", 23, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["gdcmconv", "--j2k"], ["gdcmconv", "--raw"], True),
    ("j2k_lossless_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["gdcmconv", "--j2k"], ["gdcmconv", "--raw"], True),
    ("j2k_lossless_signed12", 20, 18, 1, 1, 16, 12, True, "MONOCHROME2", ["gdcmconv", "--j2k"], ["gdcmconv", "--raw"], True),
    ("j2k_lossless_rgb8", 16, 13, 1, 3, 8, 8, False, "RGB", ["gdcmconv", "--j2k"], ["gdcmconv", "--raw"], True),
    ("j2k_lossless_2frame16", 12, 11, 2, 1, 16, 16, False, "MONOCHROME2", ["gdcmconv", "--j2k"], ["gdcmconv", "--raw"], True),
    ("j2k_lossy_mono16", 21, 17, 1, 1, 16, 16, False, "MONOCHROME2", ["gdcmconv", "--j2k", "--lossy", "-q", "30"], ["gdcmconv", "--raw"], False),
    ("j2k_lossy_signed12", 20, 18, 1, 1, 16, 12, True, "MONOCHROME2", ["gdcmconv", "--j2k", "--lossy", "-q", "30"], ["gdcmconv", "--raw"], False),
    ("j2k_lossy_rgb8", 16, 13, 1, 3, 8, 8, False, "RGB", ["gdcmconv", "--j2k", "--lossy", "-q", "25"], ["gdcmconv", "--raw"], False),
]

def main():
    for tool in ("dcmcrle", "dcmdrle", "dcmcjpeg", "dcmdjpeg", "dcmcjpls", "dcmdjpls", "gdcmconv"):
        if shutil.which(tool) is None:
            sys.exit(f"missing {tool}: install dcmtk and libgdcm-tools")
    for f in os.listdir(HERE):
        if f.endswith((".bin", ".raw", ".dcm")) or f == "manifest.json":
            os.remove(os.path.join(HERE, f))
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, rows, cols, frames, spp, ba, bs, signed, pi, enc, dec, lossless) in enumerate(CASES):
            arr = image(rows, cols, frames, spp, bs, signed, SEED + i)
            src = os.path.join(tmp, name + ".src.dcm")
            comp = os.path.join(HERE, name + ".dcm")
            back = os.path.join(tmp, name + ".back.dcm")
            write_uncompressed(src, arr, ba, bs, signed, pi)
            run(*enc, src, comp)
            run(*dec, comp, back)
            ds = pydicom.dcmread(comp)
            ts = str(ds.file_meta.TransferSyntaxUID)
            assert ds.file_meta.TransferSyntaxUID.is_compressed, (name, ts)
            comp_frames = list(generate_frames(ds.PixelData, number_of_frames=frames))
            refs, decoded_pi = raw_frames(back, int(ds.BitsStored))
            assert len(comp_frames) == frames == len(refs), name
            if lossless:  # the round trip through the toolkit must give back the original
                orig, _ = raw_frames(src, bs)
                assert orig == refs, f"{name}: the toolkit's lossless round trip differs"
            for k in range(frames):
                open(os.path.join(HERE, f"{name}.f{k}.bin"), "wb").write(comp_frames[k])
                open(os.path.join(HERE, f"{name}.f{k}.raw"), "wb").write(refs[k])
            manifest.append({
                "name": name, "transferSyntaxUID": ts, "frames": frames, "lossless": lossless,
                "encoder": " ".join(enc), "referenceDecoder": " ".join(dec),
                "info": {"rows": int(ds.Rows), "columns": int(ds.Columns),
                         "samplesPerPixel": int(ds.SamplesPerPixel),
                         "bitsAllocated": int(ds.BitsAllocated), "bitsStored": int(ds.BitsStored),
                         "isSigned": int(ds.PixelRepresentation) == 1,
                         "planarConfiguration": int(getattr(ds, "PlanarConfiguration", 0)),
                         "photometricInterpretation": str(ds.PhotometricInterpretation)},
                "decodedPhotometricInterpretation": decoded_pi,
            })
            print(f"{name}: {ts} {sum(map(len, comp_frames))} bytes, decoded {decoded_pi}")
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        f.write(json.dumps({"generatedBy": "Fixtures/dicom/codecs/make_codec_fixtures.py",
                            "cases": manifest}, indent=1) + "\n")

if __name__ == "__main__":
    main()
