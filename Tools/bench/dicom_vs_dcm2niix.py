#!/usr/bin/env python3
"""MedVox vs dcm2niix: DICOM series -> NIfTI, wall time and peak memory, side by side.

Usage: .venv/bin/python3 Tools/bench/dicom_vs_dcm2niix.py [--size 512] [--slices 300] [--repeat 3]
                                                 [--medvox .build/release/medvox] [--dir /tmp]

Makes a synthetic CT series (size x size x slices, uint16, one explicit-VR-LE file per slice) with
Fixtures/dicom/make_dicom_fixtures.py --bench into a temporary folder (deleted afterwards, never
committed), then converts it with `medvox convert` and Debian's dcm2niix to .nii and to .nii.gz,
alternating the tools, each run under /usr/bin/time -v. Prints the median wall time, CPU time
(user + system, steadier than wall time on a loaded machine), the median peak RSS, the ratios, and the CPU idleness measured from /proc/stat before the runs.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_idle(seconds=1.0):
    def read():
        f = open("/proc/stat").readline().split()[1:]
        v = list(map(int, f))
        return v[3] + v[4], sum(v)
    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return (i1 - i0) / max(1, t1 - t0)


def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", r.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) * 1024
    cpu = float(re.search(r"User time \(seconds\): (\S+)", r.stderr).group(1)) + \
        float(re.search(r"System time \(seconds\): (\S+)", r.stderr).group(1))
    return secs, rss, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--medvox", default=os.path.join(REPO, ".build/release/medvox"))
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="medvox-dicom-bench-", dir=a.dir)
    try:
        series = os.path.join(work, "series")
        subprocess.run([sys.executable, os.path.join(REPO, "Fixtures/dicom/make_dicom_fixtures.py"), "--bench", series,
                        "--size", str(a.size), "--slices", str(a.slices)], check=True)
        file_bytes = os.path.getsize(os.path.join(series, sorted(os.listdir(series))[0]))
        out_bytes = a.size * a.size * a.slices * 2
        idle = cpu_idle()
        print(f"series: {a.size}x{a.size}x{a.slices} uint16, {a.slices} files of {file_bytes} bytes; "
              f"output volume {out_bytes / 1e6:.1f} MB; CPU idle before runs {idle * 100:.0f}% "
              f"({os.cpu_count()} cores); load {open('/proc/loadavg').read().split()[:3]}")
        for ext, z in (("nii", "n"), ("nii.gz", "y")):
            res = {"medvox": [], "dcm2niix": []}
            for _ in range(a.repeat):
                out = os.path.join(work, "mv." + ext)
                res["medvox"].append(timed([a.medvox, "convert", series, out, "--quiet"]))
                res["dcm2niix"].append(timed(["dcm2niix", "-z", z, "-b", "n", "-f", "ref", "-o", work, series]))
            med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in res.items()}
            limit = 1.3 * out_bytes + file_bytes
            print(f".{ext}: medvox {med['medvox'][0]:.3f} s wall, {med['medvox'][2]:.3f} s CPU, {med['medvox'][1] / 1e6:.0f} MB peak | "
                  f"dcm2niix -z {z} {med['dcm2niix'][0]:.3f} s wall, {med['dcm2niix'][2]:.3f} s CPU, {med['dcm2niix'][1] / 1e6:.0f} MB peak | "
                  f"wall ratio dcm2niix/medvox {med['dcm2niix'][0] / med['medvox'][0]:.2f}x, "
                  f"CPU ratio {med['dcm2niix'][2] / med['medvox'][2]:.2f}x, "
                  f"memory ratio medvox/dcm2niix {med['medvox'][1] / med['dcm2niix'][1]:.2f}; "
                  f"medvox peak / (1.3 x output + one file) = {med['medvox'][1] / limit:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
