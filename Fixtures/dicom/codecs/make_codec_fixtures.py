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

Usage: ../../../.venv/bin/python3 make_codec_fixtures.py   (needs pydicom, numpy, imagecodecs, dcmtk, libgdcm-tools,
                                         libopenjp2-tools)
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
    # Appended later (new cases go last: the seed of each image is its index here).
    ("jpeg_baseline_rgb_cr", 17, 20, 1, 3, 8, 8, False, "RGB", ["dcmcjpeg", "+eb", "+cr"], DCMTK_DJPEG, False),
    ("jpeg_progressive_mono8", 24, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpeg", "+ep"], DCMTK_DJPEG, False),
    ("jpeg_spectral_mono8", 24, 19, 1, 1, 8, 8, False, "MONOCHROME2", ["dcmcjpeg", "+es"], DCMTK_DJPEG, False),
]

def jpeg_lossless_encode(arr, precision, predictor, restart_interval, separate_scans=False):
    """A minimal JPEG lossless (process 14, T.81 Annex H) encoder with restart intervals, which
    dcmcjpeg cannot make: one Huffman table (all 17 categories, 5-bit codes), H=V=1 components,
    interleaved in one scan or (separate_scans) one scan per component.
    `arr` is rows × columns × components of unsigned values."""
    rows, cols, nc = arr.shape
    out = bytearray(b"\xff\xd8")
    seg = lambda m, body: out.extend(bytes([0xFF, m]) + (len(body) + 2).to_bytes(2, "big") + bytes(body))
    seg(0xC3, [precision] + list(rows.to_bytes(2, "big")) + list(cols.to_bytes(2, "big")) + [nc]
        + sum(([c + 1, 0x11, 0] for c in range(nc)), []))
    seg(0xC4, [0x00] + [0, 0, 0, 0, 17] + [0] * 11 + list(range(17)))
    seg(0xDD, list(restart_interval.to_bytes(2, "big")))
    a = arr.astype(np.int64)
    for comps in ([[c] for c in range(nc)] if separate_scans else [list(range(nc))]):
        seg(0xDA, [len(comps)] + sum(([c + 1, 0x00] for c in comps), []) + [predictor, 0, 0])
        acc, nbits, data = 0, 0, bytearray()
        def put(v, n):
            nonlocal acc, nbits
            acc, nbits = (acc << n) | (v & ((1 << n) - 1)), nbits + n
            while nbits >= 8:
                b = (acc >> (nbits - 8)) & 0xFF
                data.append(b)
                if b == 0xFF: data.append(0)
                nbits -= 8
            acc &= (1 << nbits) - 1
        def flush():
            if nbits: put((1 << (8 - nbits)) - 1, 8 - nbits)
        mcu, first_line, reset, rst = 0, True, True, 0
        for y in range(rows):
            for x in range(cols):
                if restart_interval and mcu and mcu % restart_interval == 0:
                    flush(); data.extend([0xFF, 0xD0 + rst % 8]); rst += 1
                    first_line, reset = True, True
                mcu += 1
                for c in comps:
                    if reset: p = 1 << (precision - 1)
                    elif first_line: p = a[y, x - 1, c]
                    elif x == 0: p = a[y - 1, x, c]
                    else:
                        ra, rb, rc = a[y, x - 1, c], a[y - 1, x, c], a[y - 1, x - 1, c]
                        p = [0, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1), (ra + rb) >> 1][predictor]
                    d = (int(a[y, x, c]) - int(p)) % 65536
                    if d > 32768: d -= 65536
                    ssss = 16 if d == 32768 else abs(d).bit_length()
                    put(ssss, 5)
                    if 0 < ssss < 16: put(d if d > 0 else d - 1, ssss)
                reset = False
            first_line = False
        flush()
        out.extend(data)
    out.extend(b"\xff\xd9")
    return bytes(out)

# name, rows, cols, spp, bits stored, predictor, restart interval in lines (0: none), separate scans
RESTART_CASES = [
    ("jpll_restart_mono16_p1", 19, 17, 1, 16, 1, 1, False),
    ("jpll_restart_mono12_p7", 18, 15, 1, 12, 7, 2, False),
    ("jpll_restart_rgb8_p4", 12, 10, 3, 8, 4, 3, False),
    ("jpll_scans_rgb8_p5", 12, 11, 3, 8, 5, 0, True),
]

def restart_cases(tmp, manifest):
    """Lossless JPEG with restart markers from the encoder above; the script checks that dcmdjpeg
    decodes each to the original image, which is then the reference."""
    from pydicom.encaps import encapsulate
    for i, (name, rows, cols, spp, bs, pred, lines, separate) in enumerate(RESTART_CASES):
        arr = image(rows, cols, 1, spp, bs, False, SEED + 1000 + i)
        stream = jpeg_lossless_encode(arr[0], bs, pred, lines * cols, separate)
        src = os.path.join(tmp, name + ".src.dcm")
        pi = "RGB" if spp == 3 else "MONOCHROME2"
        ba = 8 if bs <= 8 else 16
        write_uncompressed(src, arr, ba, bs, False, pi)
        ds = pydicom.dcmread(src)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.57"
        ds.PixelData = encapsulate([stream + (b"\0" if len(stream) % 2 else b"")])
        ds["PixelData"].VR = "OB"
        comp = os.path.join(HERE, name + ".dcm")
        ds.save_as(comp, enforce_file_format=True)
        back = os.path.join(tmp, name + ".back.dcm")
        run("dcmdjpeg", comp, back)
        refs, decoded_pi = raw_frames(back, bs)
        orig, _ = raw_frames(src, bs)
        assert refs == orig, f"{name}: dcmdjpeg does not decode the hand-made stream to the original"
        open(os.path.join(HERE, f"{name}.f0.bin"), "wb").write(stream)
        open(os.path.join(HERE, f"{name}.f0.raw"), "wb").write(refs[0])
        manifest.append({
            "name": name, "transferSyntaxUID": "1.2.840.10008.1.2.4.57", "frames": 1, "lossless": True,
            "encoder": f"make_codec_fixtures.py jpeg_lossless_encode (predictor {pred}, restart every {lines} line(s)"
                       + (", one scan per component)" if separate else ")"),
            "referenceDecoder": "dcmdjpeg",
            "info": {"rows": rows, "columns": cols, "samplesPerPixel": spp, "bitsAllocated": ba, "bitsStored": bs,
                     "isSigned": False, "planarConfiguration": 0, "photometricInterpretation": pi},
            "decodedPhotometricInterpretation": decoded_pi,
        })
        print(f"{name}: restart every {lines} line(s), separate scans {separate}, {len(stream)} bytes")

# name, rows, cols, spp, bits stored, signed, lossless
HTJ2K_CASES = [
    ("htj2k_lossless_mono16", 21, 17, 1, 16, False, True),
    ("htj2k_lossless_signed12", 20, 18, 1, 12, True, True),
    ("htj2k_lossless_rgb8", 16, 13, 3, 8, False, True),
    ("htj2k_lossy_mono16", 21, 17, 1, 16, False, False),
]

def htj2k_cases(tmp, manifest):
    """High-Throughput JPEG 2000 (Part 15), which dcmtk and GDCM cannot write: encoded with
    imagecodecs' htj2k_encode (OpenJPH). Lossless: the reference is the original image, and the
    script checks that OpenJPH's decode equals it. Lossy: the reference is opj_decompress
    (OpenJPEG, the library MedVox uses)."""
    import imagecodecs
    from pydicom.encaps import encapsulate
    for i, (name, rows, cols, spp, bs, signed, lossless) in enumerate(HTJ2K_CASES):
        arr = image(rows, cols, 1, spp, bs, signed, SEED + 2000 + i)[0]
        ba = 8 if bs <= 8 else 16
        dtype = {(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[(ba, signed)]
        data = arr.astype(dtype) if spp == 3 else arr[..., 0].astype(dtype)
        stream = bytes(imagecodecs.htj2k_encode(data, reversible=lossless, level=None if lossless else 2.0,
                                                rgb=(spp == 3) or None))
        if lossless:
            assert np.array_equal(imagecodecs.htj2k_decode(stream), data), f"{name}: OpenJPH round trip"
            ref = data
        else:
            j2c, out = os.path.join(tmp, name + ".j2c"), os.path.join(tmp, name + ".rawl")
            open(j2c, "wb").write(stream)
            run("opj_decompress", "-i", j2c, "-o", out)
            ref = np.fromfile(out, dtype="<i2" if signed else "<u2").reshape(rows, cols)
        mask = (1 << bs) - 1
        raw = (ref.astype(np.int64) & mask).astype("<u1" if ba == 8 else "<u2").tobytes()
        pi = "YBR_RCT" if spp == 3 else "MONOCHROME2"
        ts = "1.2.840.10008.1.2.4.201" if lossless else "1.2.840.10008.1.2.4.203"
        src = os.path.join(tmp, name + ".src.dcm")
        write_uncompressed(src, arr[None], ba, bs, signed, "RGB" if spp == 3 else pi)
        ds = pydicom.dcmread(src)
        ds.file_meta.TransferSyntaxUID = ts
        ds.PhotometricInterpretation = pi
        ds.PixelData = encapsulate([stream + (b"\0" if len(stream) % 2 else b"")])
        ds["PixelData"].VR = "OB"
        ds.save_as(os.path.join(HERE, name + ".dcm"), enforce_file_format=True)
        open(os.path.join(HERE, f"{name}.f0.bin"), "wb").write(stream)
        open(os.path.join(HERE, f"{name}.f0.raw"), "wb").write(raw)
        manifest.append({
            "name": name, "transferSyntaxUID": ts, "frames": 1, "lossless": lossless,
            "encoder": "imagecodecs.htj2k_encode (OpenJPH)" + ("" if lossless else ", irreversible, level 2.0"),
            "referenceDecoder": "the original image (OpenJPH decode checked equal)" if lossless else "opj_decompress",
            "info": {"rows": rows, "columns": cols, "samplesPerPixel": spp, "bitsAllocated": ba, "bitsStored": bs,
                     "isSigned": signed, "planarConfiguration": 0, "photometricInterpretation": pi},
            "decodedPhotometricInterpretation": "RGB" if spp == 3 else pi,
        })
        print(f"{name}: {ts} {len(stream)} bytes")

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
        restart_cases(tmp, manifest)
        htj2k_cases(tmp, manifest)
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        f.write(json.dumps({"generatedBy": "Fixtures/dicom/codecs/make_codec_fixtures.py",
                            "cases": manifest}, indent=1) + "\n")

if __name__ == "__main__":
    main()
