#!/usr/bin/env python3
"""Runs onnxruntime on every network of Fixtures/onnx/networks/manifest.json (written by
export_networks.py) and checks the stored outputs, so that a stale or hand-edited fixture is
caught:

    python3 Fixtures/onnx/check_networks.py [MANIFEST]           # check; exit 1 on a mismatch
    python3 Fixtures/onnx/check_networks.py --write MANIFEST     # store outputs and their scale

For each entry it also checks the file with onnx.checker.check_model(full_check=True), that the
declared opset and external data files are what the file holds, and that the input .npy has the
declared shape. onnxruntime runs on one thread with graph optimisations off, so the outputs are
reproducible; a stored output must match within 1e-5 of its scale. Prints one line per network.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def run(path, feeds):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    return s.run(None, feeds), [v.name for v in s.get_outputs()]


def check_entry(folder, e, write):
    path = os.path.join(folder, e["file"])
    onnx.checker.check_model(path, full_check=True)
    m = onnx.load(path, load_external_data=False)
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    problems = []
    if opset != e["opset"]:
        problems.append(f"opset {opset}, manifest says {e['opset']}")
    locations = sorted({kv.value for t in m.graph.initializer for kv in t.external_data if kv.key == "location"})
    if locations != sorted(e["external_data"]):
        problems.append(f"external data {locations}, manifest says {e['external_data']}")
    x = np.load(os.path.join(folder, e["input"]))
    if list(x.shape) != e["input_shape"] or x.dtype != np.float32:
        problems.append(f"input {x.dtype}{list(x.shape)}, manifest says float32{e['input_shape']}")
    outputs, names = run(path, {e["input_name"]: x})
    if names != [o["name"] for o in e["outputs"]]:
        problems.append(f"outputs {names}, manifest says {[o['name'] for o in e['outputs']]}")
    for y, o in zip(outputs, e["outputs"]):
        y = np.asarray(y, dtype=np.float32)
        if not np.all(np.isfinite(y)):
            problems.append(f"{o['name']}: onnxruntime's output is not finite")
            continue
        scale = float(np.max(np.abs(y)))
        if write:
            np.save(os.path.join(folder, o["file"]), y)
            o["shape"] = list(y.shape)
            o["scale"] = scale
            continue
        stored = np.load(os.path.join(folder, o["file"]))
        if list(stored.shape) != list(y.shape) or o.get("shape") != list(y.shape):
            problems.append(f"{o['name']}: stored shape {list(stored.shape)}, onnxruntime gives {list(y.shape)}")
            continue
        err = float(np.max(np.abs(stored.astype(np.float64) - y)))
        if not err <= 1e-5 * max(scale, 1e-12):
            problems.append(f"{o['name']}: stored output differs from onnxruntime's by {err:.3g} (scale {scale:.3g})")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", nargs="?", default=os.path.join(HERE, "networks", "manifest.json"))
    ap.add_argument("--write", action="store_true", help="store onnxruntime's outputs instead of checking them")
    args = ap.parse_args()
    with open(args.manifest) as f:
        manifest = json.load(f)
    folder = os.path.dirname(os.path.abspath(args.manifest))
    failed = 0
    for e in manifest["networks"]:
        problems = check_entry(folder, e, args.write)
        failed += bool(problems)
        print(f"{e['file']}: " + ("; ".join(problems) if problems else ("written" if args.write else "ok")))
    if args.write:
        manifest["versions"]["onnxruntime"] = ort.__version__
        with open(args.manifest, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")
    if failed:
        print(f"{failed} of {len(manifest['networks'])} network fixtures are stale or broken", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
