#!/usr/bin/env python3
"""An imported 3D U-Net against the same network built natively and against onnxruntime/OpenVINO.

Dumps the native benchmark U-Net (`medvox bench unet --dir D`: features 16-32-64-128-256,
conv-instance-norm-leaky-ReLU, 4 classes), writes it as ONNX with dynamic spatial axes
(unet_peers.unet_model), imports it (`medvox import`), then in each round times, side by side:
`medvox bench model` on the imported card, `medvox bench unet` (native), and the ONNX file in
onnxruntime and OpenVINO (unet_peers.run_peer, each in its own process, 2 threads, fp32). Prints
per-round and median ratios of forward time and peak memory.

Development only (numpy, safetensors, onnx, onnxruntime, openvino: Tools/requirements-dev.txt).

    swift build -c release && .venv/bin/python3 Tools/bench/imported_unet_peers.py [--size 128] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unet_peers  # noqa: E402


def last_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    from safetensors.numpy import load_file
    with tempfile.TemporaryDirectory() as d:
        t = str(a.threads)
        subprocess.run([a.medvox, "bench", "unet", "--size", str(a.size), "--repeat", "1", "--dir", d, "--threads", t], check=True,
                       capture_output=True)
        w = load_file(os.path.join(d, "unet.safetensors"))
        with open(os.path.join(d, "unet.onnx"), "wb") as f:
            f.write(unet_peers.unet_model(w, [1, 1, "D", "H", "W"]))
        subprocess.run([a.medvox, "import", os.path.join(d, "unet.onnx"), "-o", os.path.join(d, "imported"), "--softmax", "yes"],
                       check=True, capture_output=True)
        rows = {k: [] for k in ("imported", "native", "onnxruntime", "openvino")}
        for r in range(a.rounds):
            rows["imported"].append(last_json([a.medvox, "bench", "model", os.path.join(d, "imported.json"), "--size", str(a.size),
                                               "--repeat", "1", "--json", "--threads", t]))
            rows["native"].append(last_json([a.medvox, "bench", "unet", "--size", str(a.size), "--repeat", "1", "--json", "--threads", t]))
            for peer in ("onnxruntime", "openvino"):
                rows[peer].append(last_json([sys.executable, unet_peers.__file__, "--peer", peer, "--dir", d, "--repeat", "1",
                                             "--threads", t]))
            line = {k: round(v[-1]["forward_ms"]) for k, v in rows.items()}
            print(f"round {r + 1}: forward ms {line}", flush=True)
        med = {k: statistics.median(x["forward_ms"] for x in v) for k, v in rows.items()}
        peak = {k: statistics.median(x["peak_mib"] for x in v) for k, v in rows.items()}
        best = min(med["onnxruntime"], med["openvino"])
        print(json.dumps({"size": a.size, "threads": a.threads, "median_forward_ms": med, "peak_mib": peak,
                          "imported_over_native": med["imported"] / med["native"],
                          "imported_over_best_peer": med["imported"] / best,
                          "imported_peak_over_onnxruntime_peak": peak["imported"] / peak["onnxruntime"]}, indent=1))


if __name__ == "__main__":
    main()
