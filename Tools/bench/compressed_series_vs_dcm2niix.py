#!/usr/bin/env python3
"""A compressed CT series -> NIfTI: MedVox beside dcm2niix, wall time, CPU time and peak memory.

Usage: .venv/bin/python3 Tools/bench/compressed_series_vs_dcm2niix.py [--codec jpll|rle|jls|j2k|jpeg12]
           [--size 512] [--slices 300] [--repeat 3] [--medvox .build/release/medvox] [--dir /tmp]

Makes the synthetic CT series of Fixtures/dicom/make_dicom_fixtures.py --bench in a temporary
folder (deleted afterwards), compresses every file with dcmtk or GDCM (jpll: dcmcjpeg +e1, JPEG
lossless SV1; rle: dcmcrle; jls: dcmcjpls; j2k: gdcmconv --j2k; jpeg12: dcmcjpeg +ee), then
converts the folder to .nii with `medvox convert` and Debian's dcm2niix, alternating, each under
/usr/bin/time -v. Prints medians and the load of the machine.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dicom_vs_dcm2niix import REPO, cpu_idle  # noqa: E402
import re  # noqa: E402

COMPRESS = {"jpll": ["dcmcjpeg", "+e1"], "rle": ["dcmcrle"], "jls": ["dcmcjpls"],
            "j2k": ["gdcmconv", "--j2k"], "jpeg12": ["dcmcjpeg", "+ee"]}

def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    g = lambda k: re.search(k + r": (\S+)", r.stderr).group(1)
    parts = [float(p) for p in g(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\)").split(":")]
    wall = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    cpu = float(g("User time \\(seconds\\)")) + float(g("System time \\(seconds\\)"))
    return wall, cpu, int(g(r"Maximum resident set size \(kbytes\)")) * 1024

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", choices=sorted(COMPRESS), default="jpll")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--medvox", default=os.path.join(REPO, ".build/release/medvox"))
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="medvox-codec-series-", dir=a.dir)
    try:
        plain, series = os.path.join(work, "plain"), os.path.join(work, "series")
        os.mkdir(series)
        subprocess.run([sys.executable, os.path.join(REPO, "Fixtures/dicom/make_dicom_fixtures.py"), "--bench", plain,
                        "--size", str(a.size), "--slices", str(a.slices)], check=True)
        for f in sorted(os.listdir(plain)):
            subprocess.run(COMPRESS[a.codec] + [os.path.join(plain, f), os.path.join(series, f)], check=True)
        shutil.rmtree(plain)
        total = sum(os.path.getsize(os.path.join(series, f)) for f in os.listdir(series))
        print(f"series: {a.size}x{a.size}x{a.slices}, {a.codec} ({' '.join(COMPRESS[a.codec])}), {total / 1e6:.1f} MB "
              f"on disk; CPU idle before runs {cpu_idle() * 100:.0f}% of {os.cpu_count()} cores; "
              f"load {open('/proc/loadavg').read().split()[:3]}")
        res = {"medvox": [], "dcm2niix": []}
        for _ in range(a.repeat):
            res["medvox"].append(timed([a.medvox, "convert", series, os.path.join(work, "mv.nii"), "--quiet"]))
            res["dcm2niix"].append(timed(["dcm2niix", "-z", "n", "-b", "n", "-f", "ref", "-o", work, series]))
        med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in res.items()}
        for k, (w, c, m) in med.items():
            print(f"{k:9s} wall {w:7.3f} s  CPU {c:7.3f} s  peak {m / 1e6:6.0f} MB")
        print(f"dcm2niix/medvox: wall {med['dcm2niix'][0] / med['medvox'][0]:.2f}x, "
              f"CPU {med['dcm2niix'][1] / med['medvox'][1]:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
