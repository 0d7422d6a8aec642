#!/usr/bin/env python3
"""Decode speed of MedVox's pixel decoders beside dcmtk's and GDCM's decompressors.

Makes a synthetic CT-like multi-frame image (512×512, 16-bit allocated, 12 bits stored, a disc
phantom with noise), compresses it with each codec's tool, writes the frames into DIR in the
manifest format of Fixtures/dicom/codecs, runs `medvox bench codecs --dir DIR --json`, and times
each toolkit's decompressor on the same multi-frame file (wall time, median of 3; it includes
process start-up and writing the output, so `dcmconv` of the uncompressed file is timed too as
the toolkit's fixed cost).

Usage: .venv/bin/python3 Tools/bench/codecs_vs_dcmtk.py [--medvox .build/release/medvox] [--frames 20] [--size 512]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../Fixtures/dicom/codecs"))
import make_codec_fixtures as fx  # noqa: E402
import pydicom  # noqa: E402
from pydicom.encaps import generate_frames  # noqa: E402

CODECS = [
    ("rle", ["dcmcrle"], ["dcmdrle"]),
    ("jpeg_lossless_sv1", ["dcmcjpeg", "+e1"], ["dcmdjpeg"]),
    ("jpeg_extended12", ["dcmcjpeg", "+ee", "+q", "90"], ["dcmdjpeg"]),
    ("jpegls_lossless", ["dcmcjpls", "+el"], ["dcmdjpls"]),
    ("jpegls_near2", ["dcmcjpls", "+en", "+md", "2"], ["dcmdjpls"]),
    ("j2k_lossless", ["gdcmconv", "--j2k"], ["gdcmconv", "--raw"]),
    ("j2k_lossy", ["gdcmconv", "--j2k", "--lossy", "-q", "40"], ["gdcmconv", "--raw"]),
]

def phantom(size, frames, seed=7):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] - size / 2
    r = np.hypot(x, y)
    out = []
    for f in range(frames):
        v = np.where(r < size * 0.42, 1024 + 40, 0).astype(np.float64)          # body (HU+1024)
        v += np.where(np.hypot(x - size * 0.1, y + f) < size * 0.08, 400, 0)     # a dense insert
        v += np.where(r < size * 0.42, rng.normal(0, 12, (size, size)), 0)       # CT noise
        out.append(np.clip(np.round(v), 0, 4095).astype(np.int64)[..., None])
    return np.stack(out)

def wall(cmd, repeats=3):
    """Median wall time and median CPU time (user + system of the child) of a command."""
    times, cpus = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        times.append(time.perf_counter() - t)
        cpus.append(ru.ru_utime + ru.ru_stime)
        assert status == 0, cmd
    return statistics.median(times), statistics.median(cpus)

def idle_percent():
    def read():
        v = list(map(int, open("/proc/stat").readline().split()[1:]))
        return v[3] + v[4], sum(v)
    i0, t0 = read(); time.sleep(1); i1, t1 = read()
    return 100.0 * (i1 - i0) / max(1, t1 - t0)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--keep", help="write the frames and manifest into this folder and keep them")
    a = ap.parse_args()
    print(f"machine idle before the run: {idle_percent():.0f}% of 2 cores")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src.dcm")
        fx.write_uncompressed(src, phantom(a.size, a.frames), 16, 12, False, "MONOCHROME2")
        bench = a.keep or os.path.join(tmp, "bench")
        os.makedirs(bench, exist_ok=True)
        cases, peers = [], {}
        for name, enc, dec in CODECS:
            comp = os.path.join(tmp, name + ".dcm")
            subprocess.run(enc + [src, comp], check=True, stdout=subprocess.DEVNULL)
            ds = pydicom.dcmread(comp)
            frames = list(generate_frames(ds.PixelData, number_of_frames=a.frames))
            for k, f in enumerate(frames):
                open(os.path.join(bench, f"{name}.f{k}.bin"), "wb").write(f)
            cases.append({"name": name, "transferSyntaxUID": str(ds.file_meta.TransferSyntaxUID),
                          "frames": a.frames, "lossless": True, "encoder": " ".join(enc),
                          "referenceDecoder": " ".join(dec),
                          "info": {"rows": a.size, "columns": a.size, "samplesPerPixel": 1, "bitsAllocated": 16,
                                   "bitsStored": int(ds.BitsStored), "isSigned": False, "planarConfiguration": 0,
                                   "photometricInterpretation": str(ds.PhotometricInterpretation)},
                          "decodedPhotometricInterpretation": "MONOCHROME2"})
            peers[name] = (dec, wall(dec + [comp, os.path.join(tmp, "out.dcm")]))
        json.dump({"generatedBy": "Tools/bench/codecs_vs_dcmtk.py", "cases": cases},
                  open(os.path.join(bench, "manifest.json"), "w"))
        fixed = {"dcmtk": wall(["dcmconv", src, os.path.join(tmp, "copy.dcm")]),
                 "gdcm": wall(["gdcmconv", "--raw", src, os.path.join(tmp, "copy.dcm")])}
        out = subprocess.run([a.medvox, "bench", "codecs", "--dir", bench, "--json", "--repeat", "5"],
                             check=True, capture_output=True, text=True).stdout
        mine = {r["name"]: r for r in map(json.loads, out.splitlines())}
        ms = lambda v: v / a.frames * 1000
        print(f"{a.frames} frames of {a.size}x{a.size} 12-bit CT; ms per frame, wall / CPU. Toolkit times include "
              f"start-up and I/O: their fixed cost (dcmconv copy, gdcmconv --raw of the uncompressed file) is "
              f"{ms(fixed['dcmtk'][1]):.2f} / {ms(fixed['gdcm'][1]):.2f} ms CPU per frame and is subtracted in 'net'")
        print(f"{'codec':20s} {'medvox wall':>11s} {'medvox CPU':>10s} {'peer wall':>9s} {'peer CPU':>8s} {'peer net CPU':>12s} {'CPU ratio':>9s}  peer")
        for name, (dec, (t, cpu)) in peers.items():
            mw, mc = mine[name]["secondsPerFrame"] * 1000, mine[name]["cpuSecondsPerFrame"] * 1000
            net = ms(cpu - fixed["gdcm" if dec[0] == "gdcmconv" else "dcmtk"][1])
            print(f"{name:20s} {mw:11.2f} {mc:10.2f} {ms(t):9.2f} {ms(cpu):8.2f} {net:12.2f} {net / mc:8.2f}x  {' '.join(dec)}")
    print(f"machine idle after the run: {idle_percent():.0f}% of 2 cores")

if __name__ == "__main__":
    main()
