#!/usr/bin/env python3
"""Times MedVox beside nibabel and zcat on the same NIfTI files, in one run.

    .venv/bin/python3 Tools/bench/nibabel_io.py [--medvox .build/release/medvox] [--size 256] [--repeat 5] [--dir DIR]

1. nibabel writes a head-like 256³ int16 volume (numpy, seeded, ±8 noise) as nibabel.nii and
   nibabel.nii.gz (timed: nibabel's write speed, its default gzip level).
2. `medvox bench io --dir DIR` reads those two files, writes medvox.nii / medvox.nii.gz and reads
   them back (its own medians).
3. nibabel reads all four files; `zcat` decompresses both .nii.gz files to /dev/null.
Prints MB/s of uncompressed voxel data for each, and the ratios. Check that the machine is idle
first: the script prints the CPU idle share measured over one second before it starts.
"""
import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

import nibabel as nib
import numpy as np


def idle_share(seconds=1.0):
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = snap()
    time.sleep(seconds)
    i1, t1 = snap()
    return (i1 - i0) / max(1, t1 - t0)


def cpu_now():
    """CPU seconds of this process and of finished children (zcat)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def median_time(fn, repeat):
    """Medians of (wall seconds, CPU seconds)."""
    wall, cpu = [], []
    for _ in range(repeat):
        c, t = cpu_now(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(cpu_now() - c)
    return float(np.median(wall)), float(np.median(cpu))


def volume(n):
    rng = np.random.default_rng(2026)
    c = (n - 1) / 2
    i, j, k = np.meshgrid(*(np.arange(n, dtype=np.float32),) * 3, indexing="ij")
    x, y, z = (i - c) / (0.42 * n), (j - c) / (0.48 * n), (k - c) / (0.45 * n)
    r = np.sqrt(x * x + y * y + z * z)
    v = np.select([r > 1, r > 0.93, r > 0.86, r > 0.6], [0, 300, 60, 650], 820).astype(np.int16)
    v[(r < 0.3) & (np.abs(x) > 0.08) & (np.abs(x) < 0.2)] = 180
    noise = rng.integers(-8, 9, v.shape, dtype=np.int16)
    return np.where(v > 0, v + noise, 0).astype(np.int16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    d = a.dir or tempfile.mkdtemp(prefix="medvox-bench-io-")
    os.makedirs(d, exist_ok=True)
    print(f"CPU idle over 1 s before the run: {100 * idle_share():.0f}% ({os.cpu_count()} cores); files in {d}")

    data = volume(a.size)
    mb = data.nbytes / 1e6
    img = nib.Nifti1Image(data, np.diag([-1.0, 1, 1, 1]))
    nib_rows = {}
    nib_rows["write .nii"] = median_time(lambda: nib.save(img, f"{d}/nibabel.nii"), a.repeat)
    nib_rows["write .nii.gz"] = median_time(lambda: nib.save(img, f"{d}/nibabel.nii.gz"), a.repeat)

    out = subprocess.run([a.medvox, "bench", "io", "--dir", d, "--repeat", str(a.repeat), "--json"],
                         check=True, capture_output=True, text=True).stdout
    mv = {r["name"]: r for r in map(json.loads, out.splitlines())}

    def nib_read(p):
        # mmap=False: really read the voxels (a memory map would defer the work).
        return lambda: np.asanyarray(nib.load(p, mmap=False).dataobj)
    for name in ["nibabel.nii", "nibabel.nii.gz", "medvox.nii", "medvox.nii.gz"]:
        nib_rows[f"read {name}"] = median_time(nib_read(f"{d}/{name}"), a.repeat)
    zc = {}
    for name in ["nibabel.nii.gz", "medvox.nii.gz"]:
        zc[name] = median_time(lambda: subprocess.run(["zcat", f"{d}/{name}"], stdout=subprocess.DEVNULL, check=True), a.repeat)

    def find(prefix):
        return next(v for k, v in mv.items() if k.startswith(prefix))
    rows = [
        ("read .nii.gz written by nibabel (1 member)", find("read .nii.gz (nibabel"), nib_rows["read nibabel.nii.gz"], zc["nibabel.nii.gz"]),
        ("read .nii.gz written by MedVox", find("read .nii.gz (MedVox"), nib_rows["read medvox.nii.gz"], zc["medvox.nii.gz"]),
        ("read .nii written by nibabel", find("read .nii (nibabel"), nib_rows["read nibabel.nii"], None),
        ("read .nii written by MedVox", mv["read .nii"], nib_rows["read medvox.nii"], None),
        ("write .nii", mv["write .nii"], nib_rows["write .nii"], None),
        ("write .nii.gz", find("write .nii.gz"), nib_rows["write .nii.gz"], None),
    ]
    print(f"\n{a.size}^3 int16 = {mb:.1f} MB of voxels; MB/s of uncompressed data, medians of {a.repeat}")
    print("wall: elapsed time; cpu: CPU time of all threads (steadier on a shared machine)")
    print(f"{'':44} {'MedVox':>15} {'nibabel':>15} {'ratio':>11} {'zcat':>15} {'MedVox/zcat':>11}")
    print(f"{'':44} {'wall':>7} {'cpu':>7} {'wall':>7} {'cpu':>7} {'wall':>5} {'cpu':>5} {'wall':>7} {'cpu':>7} {'wall':>5} {'cpu':>5}")
    for label, m, (nw, nc), z in rows:
        mw, mc = m["mb_per_s"], mb / m["cpu_seconds"]
        line = f"{label:44} {mw:7.1f} {mc:7.1f} {mb / nw:7.1f} {mb / nc:7.1f} {mw / (mb / nw):5.2f} {mc / (mb / nc):5.2f}"
        if z:
            zw, zcpu = mb / z[0], mb / z[1]
            line += f" {zw:7.1f} {zcpu:7.1f} {mw / zw:5.2f} {mc / zcpu:5.2f}"
        print(line)
    sizes = {n: os.path.getsize(f"{d}/{n}") / 1e6 for n in ["nibabel.nii.gz", "medvox.nii.gz"]}
    print(f"file sizes: nibabel.nii.gz {sizes['nibabel.nii.gz']:.2f} MB (nibabel's default level), "
          f"medvox.nii.gz {sizes['medvox.nii.gz']:.2f} MB ({find('write .nii.gz')['name']})")
    print(f"CPU idle over 1 s after the run: {100 * idle_share():.0f}%")


if __name__ == "__main__":
    main()
