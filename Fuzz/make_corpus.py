#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the project's own fixtures (Fixtures/, Models/)
and Fuzz/seeds/. Usage: make_corpus.py OUT_DIR. Writes OUT_DIR/<Target>/<name>.

Decoder targets take 4 descriptor bytes before the frame (see FuzzSupport/FuzzFrame.swift):
rows-1, columns-1, flags (bits 0-1: 8/12/16 bits, 2: three samples, 3: MONOCHROME1, 4: signed,
5: planar 1), photometric index. Frames come from the codecs fixtures' .f0.bin files."""
import glob, os, sys
import pydicom

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
out = sys.argv[1]
decoders = {
    "1.2.840.10008.1.2.5": "FuzzRLE",
    "1.2.840.10008.1.2.4.57": "FuzzJPEGLossless", "1.2.840.10008.1.2.4.70": "FuzzJPEGLossless",
    "1.2.840.10008.1.2.4.50": "FuzzJPEG", "1.2.840.10008.1.2.4.51": "FuzzJPEG",
    "1.2.840.10008.1.2.4.80": "FuzzJPEGLS", "1.2.840.10008.1.2.4.81": "FuzzJPEGLS",
    "1.2.840.10008.1.2.4.90": "FuzzJPEG2000", "1.2.840.10008.1.2.4.91": "FuzzJPEG2000",
    "1.2.840.10008.1.2.4.201": "FuzzJPEG2000", "1.2.840.10008.1.2.4.202": "FuzzJPEG2000",
    "1.2.840.10008.1.2.4.203": "FuzzJPEG2000",
}
colour = ["RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"]


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for path in sorted(glob.glob(os.path.join(root, "Fixtures/dicom/**/*"), recursive=True)):
    if not os.path.isfile(path) or os.path.getsize(path) > 256 * 1024 or path.endswith((".md", ".py", ".raw", ".bin", ".json")):
        continue
    name = os.path.relpath(path, root).replace("/", "_")
    with open(path, "rb") as f:
        data = f.read()
    put("FuzzDICOM", name, data)
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        target = decoders.get(str(ds.file_meta.TransferSyntaxUID))
    except Exception:
        continue
    if target is None or ds.Rows > 256 or ds.Columns > 256:
        continue
    bits = {8: 0, 12: 1, 16: 2}.get(int(ds.BitsStored), 2)
    spp = int(ds.SamplesPerPixel)
    pi = str(ds.PhotometricInterpretation)
    flags = bits | (4 if spp == 3 else 0) | (8 if pi == "MONOCHROME1" else 0)
    flags |= 16 if int(ds.get("PixelRepresentation", 0)) else 0
    flags |= 32 if int(ds.get("PlanarConfiguration", 0)) else 0
    head = bytes([ds.Rows - 1, ds.Columns - 1, flags, colour.index(pi) if pi in colour else 0])
    for frame in sorted(glob.glob(path[:-4] + ".f*.bin")):
        with open(frame, "rb") as f:
            put(target, os.path.basename(frame), head + f.read())
    if not glob.glob(path[:-4] + ".f*.bin"):
        ds = pydicom.dcmread(path)
        from pydicom.encaps import generate_frames
        for i, fr in enumerate(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1)))):
            put(target, f"{name}.f{i}", head + fr)
            if i >= 1:
                break

for path in sorted(glob.glob(os.path.join(root, "Fixtures/nifti/*.nii*")) + glob.glob(os.path.join(root, "Fixtures/example/*.nii.gz"))):
    if os.path.getsize(path) <= 1 << 20:
        put("FuzzNIfTI", os.path.basename(path), open(path, "rb").read())

for path in sorted(glob.glob(os.path.join(root, "Fixtures/**/*.safetensors"), recursive=True) + glob.glob(os.path.join(root, "Models/*.safetensors"))):
    put("FuzzSafetensors", os.path.basename(path), open(path, "rb").read())
# A tiny checkpoint in each dtype the reader accepts, plus the shipped model.
import json, struct
for dtype, size in [("F32", 4), ("F16", 2), ("BF16", 2), ("F64", 8)]:
    header = json.dumps({"__metadata__": {"k": "v"}, "w": {"dtype": dtype, "shape": [2, 3], "data_offsets": [0, 6 * size]},
                         "b": {"dtype": dtype, "shape": [2], "data_offsets": [6 * size, 8 * size]}}).encode()
    header += b" " * (-len(header) % 8)
    put("FuzzSafetensors", f"tiny_{dtype}.safetensors", struct.pack("<Q", len(header)) + header + bytes(range(8 * size)))
for path in sorted(glob.glob(os.path.join(root, "Models/*.json")) + glob.glob(os.path.join(root, "Fixtures/**/*.json"), recursive=True)):
    put("FuzzModelCard", os.path.basename(path), open(path, "rb").read())
for path in sorted(glob.glob(os.path.join(here, "seeds/configs/*"))):
    put("FuzzConfigs", os.path.basename(path), open(path, "rb").read())
# The ONNX reader's test models, made by the fixture script with the onnx package (the external
# data file's name matches the one FuzzONNX puts in its model folder).
import subprocess, tempfile
with tempfile.TemporaryDirectory() as d:
    subprocess.run([sys.executable, os.path.join(root, "Fixtures/onnx/make_onnx_fixtures.py"), d], check=True, stdout=subprocess.DEVNULL)
    for path in sorted(glob.glob(os.path.join(d, "*.onnx"))):
        put("FuzzONNX", os.path.basename(path), open(path, "rb").read())
for t in sorted(os.listdir(out)):
    print(t, len(os.listdir(os.path.join(out, t))), "seeds")
