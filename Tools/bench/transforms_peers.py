#!/usr/bin/env python3
"""Times MedVox's transforms against scipy.ndimage, SimpleITK (and TorchIO when installed) on the
same inputs in the same run, and prints the ratio fastest-peer / medvox for each case.

    .venv/bin/python3 Tools/bench/transforms_peers.py [--medvox .build/release/medvox] [--size 256] [--repeat 3]

The phantom is the one `medvox bench transforms` builds (MedVoxBench/TransformBenchmark.swift).
Peers run with 2 threads where they are threaded (SimpleITK, torch); scipy.ndimage is single-threaded.
"""
import argparse, json, os, subprocess, sys, time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")


def phantom(n):
    c, s = (n - 1) / 2, 0.3 * n
    i = np.arange(n, dtype=np.float64)
    dx = ((i - c) / s)[:, None, None]
    dy = ((i - c) / s)[None, :, None]
    dz = ((i - c) / s)[None, None, :]
    v = 1000 * np.exp(-(dx**2 + dy**2 + dz**2) / 2) + 50 * np.sin(0.3 * i)[:, None, None] * np.cos(0.2 * i)[None, :, None] + (np.arange(n) % 7)[None, None, :]
    return v.astype(np.float32)  # axes (x, y, z) as MedVox's (i, j, k)


def median_time(fn, repeat):
    """Median wall and process-CPU seconds (all threads) of `repeat` runs after a warm-up."""
    fn()
    ts, cs = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        ts.append(time.perf_counter() - t); cs.append(time.process_time() - c)
    return sorted(ts)[len(ts) // 2], sorted(cs)[len(cs) // 2]


def cpu_idle(fn):
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = read(); out = fn(); i1, t1 = read()
    return out, (i1 - i0) / max(t1 - t0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-torchio", action="store_true")
    ap.add_argument("--cases", help="comma-separated cases to run (default: all)")
    a = ap.parse_args()
    R, A = a.size, a.size * 5 // 8
    rin = R * 3 // 4

    def medvox():
        only = ["--case", a.cases] if a.cases else []
        p = subprocess.run([a.medvox, "bench", "transforms", "--json", "--size", str(R), "--repeat", str(a.repeat)] + only, capture_output=True, text=True, check=True)
        rows = list(map(json.loads, p.stdout.splitlines()))
        feed.extend(r for r in rows if r["case"] == "training_feed")
        return {r["case"]: (r["seconds"], r["cpu_seconds"]) for r in rows if r["case"] != "training_feed"}
    feed = []
    ours, idle_ours = cpu_idle(medvox)

    from scipy import ndimage
    import SimpleITK as sitk
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    src, img = phantom(rin), phantom(A)
    rng = np.random.default_rng(1)
    peers = {}  # case -> {peer: seconds}

    def add(case, peer, fn):
        if a.cases and case not in a.cases.split(","):
            return
        try:
            peers.setdefault(case, {})[peer] = median_time(fn, a.repeat)
        except Exception as e:  # a peer that cannot do a case is reported, not fatal
            print(f"  {peer} {case}: failed: {e}", file=sys.stderr)

    def run_peers():
        # Resampling 1 mm -> 0.75 mm (field of view kept: scipy grid_mode / ITK origin shift).
        z = R / rin
        add("resample_linear", "scipy.zoom", lambda: ndimage.zoom(src, z, order=1, mode="nearest", grid_mode=True))
        add("resample_bspline", "scipy.zoom", lambda: ndimage.zoom(src, z, order=3, mode="mirror", grid_mode=True))
        simg = sitk.GetImageFromArray(src.transpose(2, 1, 0).copy())
        ref = sitk.Image(R, R, R, sitk.sitkFloat32)
        ref.SetSpacing((0.75,) * 3); ref.SetOrigin((-0.125,) * 3)
        add("resample_linear", "SimpleITK", lambda: sitk.Resample(simg, ref, sitk.Transform(), sitk.sitkLinear, 0.0))
        add("resample_bspline", "SimpleITK", lambda: sitk.Resample(simg, ref, sitk.Transform(), sitk.sitkBSpline, 0.0))

        # Augmentation on A^3.
        sa = sitk.GetImageFromArray(img.transpose(2, 1, 0).copy())
        ctr = (A - 1) / 2

        def scipy_elastic():
            cp = rng.uniform(-7.5, 7.5, (3, 7, 7, 7)).astype(np.float32)
            grid = np.meshgrid(*[np.arange(A, dtype=np.float32)] * 3, indexing="ij")
            coords = [g + ndimage.zoom(c, A / 7, order=3) for g, c in zip(grid, cp)]
            return ndimage.map_coordinates(img, coords, order=1)
        add("elastic", "scipy", scipy_elastic)

        def sitk_elastic():
            t = sitk.BSplineTransformInitializer(sa, [4, 4, 4])  # 4 mesh cells + 3 = 7 control points
            t.SetParameters(rng.uniform(-7.5, 7.5, len(t.GetParameters())).tolist())
            return sitk.Resample(sa, sa, t, sitk.sitkLinear, 0.0)
        add("elastic", "SimpleITK", sitk_elastic)

        def rot(deg):
            r = np.deg2rad(deg)
            c, s = np.cos(r), np.sin(r)
            return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

        def scipy_affine(m):
            return ndimage.affine_transform(img, m, offset=ctr - m @ np.full(3, ctr) + 2, order=1)
        add("affine", "scipy", lambda: scipy_affine(rot(7) * 1.05))

        def sitk_affine():
            t = sitk.AffineTransform(3); t.SetMatrix((rot(7) * 1.05).ravel().tolist()); t.SetCenter((ctr,) * 3); t.SetTranslation((2, 2, 2))
            return sitk.Resample(sa, sa, t, sitk.sitkLinear, 0.0)
        add("affine", "SimpleITK", sitk_affine)

        def numpy_motion():
            k = np.fft.fftn(img)
            for m, (lo, hi) in enumerate([(0.4, 0.6), (0.6, 1.0)]):
                moved = scipy_affine(rot(5 * (m + 1)))
                km = np.fft.fftn(moved)
                sl = slice(int(lo * A), int(hi * A))
                k[:, :, sl] = km[:, :, sl]
            return np.abs(np.fft.ifftn(k))
        add("motion", "numpy+scipy", numpy_motion)

        def numpy_ghosting():
            k = np.fft.fftshift(np.fft.fftn(img)); c = k[:, :, A // 2].copy(); k[:, :, ::6] *= 0.3; k[:, :, A // 2] = c
            return np.abs(np.fft.ifftn(np.fft.ifftshift(k)))
        add("ghosting", "numpy", numpy_ghosting)

        def numpy_spike():
            k = np.fft.fftn(img); k[3, 5, 7] += 2 * np.abs(k).max()
            return np.abs(np.fft.ifftn(k))
        add("spike", "numpy", numpy_spike)

        def numpy_bias():
            x = np.linspace(-1, 1, A, dtype=np.float32)
            X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
            f = np.zeros_like(img)
            for i in range(4):
                for j in range(4 - i):
                    for kk in range(4 - i - j):
                        f += rng.uniform(-0.5, 0.5) * X**i * Y**j * Z**kk
            return img * np.exp(f)
        add("bias_field", "numpy", numpy_bias)
        add("blur", "scipy", lambda: ndimage.gaussian_filter(img, (1.0, 1.0, 1.0)))
        add("blur", "SimpleITK", lambda: sitk.SmoothingRecursiveGaussian(sa, 1.0))
        add("noise", "numpy", lambda: img + rng.normal(0, 0.1, img.shape).astype(np.float32))
        add("anisotropy", "scipy", lambda: ndimage.zoom(ndimage.zoom(img, (1, 1, 1 / 3), order=0), (1, 1, A / (A // 3)), order=1))

        if not a.no_torchio:
            try:
                import torch, torchio as tio
                torch.set_num_threads(2)
                subj = tio.Subject(t1=tio.ScalarImage(tensor=torch.from_numpy(img[None].copy())))
                rs = tio.Subject(t1=tio.ScalarImage(tensor=torch.from_numpy(src[None].copy())))
                add("resample_linear", "TorchIO", lambda: tio.Resample(0.75)(rs))
                add("resample_bspline", "TorchIO", lambda: tio.Resample(0.75, image_interpolation="bspline")(rs))
                for case, t in [("elastic", tio.RandomElasticDeformation()), ("motion", tio.RandomMotion()), ("affine", tio.RandomAffine()),
                                ("bias_field", tio.RandomBiasField()), ("ghosting", tio.RandomGhosting()), ("spike", tio.RandomSpike()),
                                ("anisotropy", tio.RandomAnisotropy()), ("blur", tio.RandomBlur()), ("noise", tio.RandomNoise())]:
                    add(case, "TorchIO", lambda t=t: t(subj))
            except ImportError:
                print("TorchIO not installed: skipped (pip install torchio with CPU torch)", file=sys.stderr)
    _, idle_peers = cpu_idle(run_peers)

    print(f"transforms vs peers: resample {rin}^3 -> {R}^3, augmentation {A}^3, median of {a.repeat}; "
          f"cpu idle while timing: medvox {idle_ours:.0%}, peers {idle_peers:.0%} (of 2 cores; 50% = one core busy)")
    print(f"{'case':18} {'medvox s':>9} {'cpu s':>7}  {'fastest peer':>14} {'peer s':>8} {'cpu s':>7}  {'wall ratio':>10} {'cpu ratio':>9}   all peers (wall s)")
    for case, (t, c) in ours.items():
        p = peers.get(case, {})
        if not p:
            print(f"{case:18} {t:9.4f} {c:7.3f}  {'-':>14}"); continue
        best = min(p, key=lambda k: p[k][0])
        pw, pc = p[best]
        print(f"{case:18} {t:9.4f} {c:7.3f}  {best:>14} {pw:8.4f} {pc:7.3f}  {pw / t:9.2f}x {pc / max(c, 1e-9):8.2f}x   "
              + ", ".join(f"{k} {v[0]:.3f}" for k, v in sorted(p.items())))
    print("ratio = fastest peer time / medvox time (>1: medvox faster). cpu = process CPU seconds, all threads.")
    for f in feed:
        need = f["batch"] / f["step_seconds"]
        print(f"training feed: augmentation {f['samples_per_second']:.1f} samples/s on 1 thread vs training step {f['step_seconds']:.3f} s "
              f"(network, batch {f['batch']}, {f['threads']} threads) needing {need:.1f} samples/s: one thread covers it "
              f"{f['samples_per_second'] / need:.1f}x ({f['detail']})")


if __name__ == "__main__":
    main()
