#!/usr/bin/env python3
"""Imported ONNX 3D networks: MedVox (`medvox import` + `medvox bench model`) against onnxruntime
and OpenVINO fp32 on the same ONNX files, side by side in one run.

The networks (`--networks`, default all three), exported from PyTorch at opset 17 with static
shapes 1x1xS^3 (S = --size, default 128) by this script in the export venv (--export-python,
default .venv-export/bin/python3: Tools/setup-export.sh), or given as files with --onnx NAME=FILE:

    basicunet   MONAI BasicUNet, default features (32, 32, 64, 128, 256, 32), 2 classes
    dynunet     MONAI DynUNet in nnU-Net's layout: 5 levels, filters 32-64-128-256-320, kernel 3,
                strides 1-2-2-2-2, instance norm, leaky ReLU, 3 classes
    unetr       MONAI UNETR, its defaults (hidden 768, 12 layers, 12 heads, patch 16, features 16), 2 classes

Weights are seeded (torch.manual_seed(0), PyTorch's default initialisation); exports are cached
in --work (default .bench/onnx_peers). Every engine runs in its own child process with --threads
threads (default 2): onnxruntime (all graph optimisations, sequential), OpenVINO CPU
(INFERENCE_PRECISION_HINT f32, latency, one stream) and `medvox bench model CARD --json` on the
card `medvox import` wrote. Rounds are interleaved (each round runs every engine once per network,
in rotating order); each child warms up once and times --repeat forwards (median). The report
gives the median per engine over rounds, the median of the per-round ratios peer / MedVox
(> 1: MedVox faster), peak resident memory, onnxruntime's and OpenVINO's outputs against each
other, and the CPU model.

`medvox import` and `medvox bench model` must be in the binary given as --medvox; when they are
not, the script says so and stops, unless --peers-only (time onnxruntime and OpenVINO alone).

    .venv/bin/python3 Tools/bench/onnx_peers.py --medvox .build/release/medvox [--size 128] [--rounds 3]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETWORKS = ("basicunet", "dynunet", "unetr")
LABELS = {"basicunet": "background,fg", "dynunet": "background,a,b", "unetr": "background,fg"}


def build_network(name, size):
    """Export-venv side: the PyTorch network `name` (seeded), in eval mode."""
    import torch
    from monai.networks import nets
    torch.manual_seed(0)
    if name == "basicunet":
        m = nets.BasicUNet(spatial_dims=3, in_channels=1, out_channels=2)
    elif name == "dynunet":
        m = nets.DynUNet(spatial_dims=3, in_channels=1, out_channels=3, kernel_size=[3] * 5, strides=[1, 2, 2, 2, 2],
                         upsample_kernel_size=[2] * 4, filters=[32, 64, 128, 256, 320], norm_name="instance",
                         act_name=("leakyrelu", {"negative_slope": 0.01, "inplace": True}), res_block=False)
    elif name == "unetr":
        m = nets.UNETR(in_channels=1, out_channels=2, img_size=size, norm_name="instance")
    else:
        raise SystemExit(f"unknown network {name}; choose from {', '.join(NETWORKS)}")
    return m.eval()


def export_child(name, size, out):
    import torch
    m = build_network(name, size)
    x = torch.zeros(1, 1, size, size, size)
    with torch.no_grad():
        torch.onnx.export(m, (x,), out + ".tmp", input_names=["input"], output_names=["output"], opset_version=17,
                          dynamo=False)
    os.replace(out + ".tmp", out)


def timed_child(engine, path, size, threads, repeat, out_npy):
    """One engine on one ONNX file: warm-up, `repeat` timed forwards; prints one JSON line."""
    import numpy as np
    x = np.random.default_rng(0).standard_normal((1, 1, size, size, size)).astype(np.float32)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peer_runtimes import forward_function
    fn = forward_function(engine, path, x, threads)
    y = fn()
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        y = fn()
        ms.append((time.perf_counter() - t) * 1e3)
    if out_npy:
        np.save(out_npy, np.asarray(y, dtype=np.float32))
    print(json.dumps(dict(forward_ms=statistics.median(ms), peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def run(cmd, what):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"onnx_peers.py: {what} failed (exit {r.returncode}):\n{r.stderr.strip()[-2000:]}")
    return r.stdout


def check_medvox(binary):
    """Exits with a clear message unless `binary` has the import and bench model subcommands."""
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"onnx_peers.py: no medvox binary at {binary} (swift build -c release)")
    for args, what in ((["help", "import"], "'medvox import'"), (["bench", "--help"], "'medvox bench model'")):
        r = subprocess.run([binary] + args, capture_output=True, text=True)
        if r.returncode != 0 or (what == "'medvox bench model'" and " model" not in r.stdout):
            raise SystemExit(f"onnx_peers.py: {binary} has no {what} subcommand (the ONNX importer is not in this build); "
                             "run with --peers-only to time onnxruntime and OpenVINO alone")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--medvox", default=os.path.join(ROOT, ".build/release/medvox"))
    ap.add_argument("--export-python", default=os.path.join(ROOT, ".venv-export/bin/python3"))
    ap.add_argument("--networks", default=",".join(NETWORKS))
    ap.add_argument("--onnx", action="append", default=[], metavar="NAME=FILE", help="use FILE instead of exporting NAME")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=os.path.join(ROOT, ".bench/onnx_peers"))
    ap.add_argument("--peers-only", action="store_true", help="time onnxruntime and OpenVINO without MedVox")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--export-child", nargs=2, metavar=("NAME", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--timed-child", nargs=3, metavar=("ENGINE", "ONNX", "OUT_NPY"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.export_child:
        return export_child(a.export_child[0], a.size, a.export_child[1])
    if a.timed_child:
        return timed_child(a.timed_child[0], a.timed_child[1], a.size, a.threads, a.repeat, a.timed_child[2])

    if not a.peers_only:
        check_medvox(a.medvox)
    import numpy as np
    os.makedirs(a.work, exist_ok=True)
    given = dict(s.split("=", 1) for s in a.onnx)
    names = [n for n in a.networks.split(",") if n]
    files = {}
    for n in names:
        if n in given:
            files[n] = given[n]
            continue
        if n not in NETWORKS:
            raise SystemExit(f"onnx_peers.py: unknown network {n}; choose from {', '.join(NETWORKS)} or give --onnx {n}=FILE")
        files[n] = os.path.join(a.work, f"{n}_{a.size}.onnx")
        if not os.path.exists(files[n]):
            if not os.access(a.export_python, os.X_OK):
                raise SystemExit(f"onnx_peers.py: no export venv at {a.export_python} (Tools/setup-export.sh), "
                                 f"and no --onnx {n}=FILE")
            print(f"exporting {n} at {a.size}^3 ...", file=sys.stderr)
            run([a.export_python, __file__, "--size", str(a.size), "--export-child", n, files[n]], f"exporting {n}")
    cards = {}
    if not a.peers_only:
        for n in names:
            card = os.path.join(a.work, f"{n}_{a.size}")
            run([a.medvox, "import", files[n], "-o", card, "--task", "segmentation", "--labels", LABELS.get(n, "background,fg"),
                 "--patch", f"{a.size},{a.size},{a.size}", "--normalize", "none"], f"medvox import {files[n]}")
            cards[n] = card + ".json"

    engines = ["onnxruntime", "openvino"] + ([] if a.peers_only else ["medvox"])
    times = {n: {e: [] for e in engines} for n in names}
    peaks = {n: {e: 0.0 for e in engines} for n in names}
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.rounds):
            for n in names:
                order = engines[r % len(engines):] + engines[:r % len(engines)]
                for e in order:
                    if e == "medvox":
                        out = run([a.medvox, "bench", "model", cards[n], "--size", str(a.size), "--repeat", str(a.repeat),
                                   "--threads", str(a.threads), "--json"], f"medvox bench model {cards[n]}")
                    else:
                        npy = os.path.join(d, f"{n}_{e}.npy") if r == 0 else ""
                        out = run([sys.executable, __file__, "--size", str(a.size), "--threads", str(a.threads),
                                   "--repeat", str(a.repeat), "--timed-child", e, files[n], npy], f"{e} on {files[n]}")
                    j = json.loads(out.strip().splitlines()[-1])
                    times[n][e].append(j["forward_ms"])
                    peaks[n][e] = max(peaks[n][e], j["peak_mib"])
                    print(f"round {r + 1}/{a.rounds} {n:<10} {e:<12} {j['forward_ms']:10.1f} ms", file=sys.stderr)
        diffs = {}
        for n in names:
            y0, y1 = (np.load(os.path.join(d, f"{n}_{e}.npy")).astype(np.float64) for e in ("onnxruntime", "openvino"))
            diffs[n] = dict(max_abs=float(np.abs(y0 - y1).max()), scale=float(np.abs(y0).max()))
    result = dict(cpu=cpu_model(), size=a.size, threads=a.threads, rounds=a.rounds, repeat=a.repeat,
                  date=time.strftime("%Y-%m-%d", time.gmtime()), networks={})
    for n in names:
        row = {e: dict(forward_ms=statistics.median(times[n][e]), peak_mib=round(peaks[n][e])) for e in engines}
        if "medvox" in engines:
            for e in ("onnxruntime", "openvino"):
                row[e]["medvox_speedup"] = statistics.median(p / m for p, m in zip(times[n][e], times[n]["medvox"]))
        row["onnxruntime_vs_openvino"] = diffs[n]
        result["networks"][n] = row
    if a.json:
        print(json.dumps(result))
        return
    print(f"{result['cpu']}, {a.size}^3, {a.threads} threads, median of {a.rounds} interleaved rounds ({a.repeat} forward(s) each)")
    for n, row in result["networks"].items():
        print(f"  {n}")
        for e in engines:
            r = row[e]
            extra = f"  MedVox x{r['medvox_speedup']:.2f}" if "medvox_speedup" in r else ""
            print(f"    {e:<12} {r['forward_ms']:10.1f} ms  peak {r['peak_mib']:6d} MiB{extra}")
        dd = row["onnxruntime_vs_openvino"]
        print(f"    onnxruntime vs OpenVINO: max |diff| {dd['max_abs']:.1e} (output scale {dd['scale']:.3g})")


if __name__ == "__main__":
    main()
