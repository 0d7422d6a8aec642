#!/usr/bin/env python3
"""Whole 3D U-Net forward: MedVox against onnxruntime and OpenVINO, same weights, same run.

Runs `medvox bench unet --dir D`, which times the U-Net of issue 4 (features 16-32-64-128-256,
two conv-instance-norm-leaky-ReLU stages per level, max-pool down, stride-2 transposed conv up,
4 classes, softmax) on a seeded 1x1xS^3 input and writes its weights (unet.safetensors, PyTorch
names), input and softmax output. This script builds the same network as an ONNX graph from those
weights, runs it in onnxruntime and OpenVINO (2 threads, fp32, all graph optimisations; OpenVINO
with INFERENCE_PRECISION_HINT=f32), checks that both outputs agree with MedVox's (max |a-b| <=
1e-4; the outputs are probabilities), and prints median wall and CPU times (CPU time of all the
process's threads: the fairer comparison when other work shares the cores), peak memory and ratios. Each peer
runs in its own child process so its peak resident memory (ru_maxrss, Python and the runtime
library included) is its own; MedVox's peak is the VmHWM of the medvox process.

Development only (numpy, safetensors, onnx, onnxruntime, openvino: Tools/requirements-dev.txt).

    swift build -c release && .venv/bin/python3 Tools/bench/unet_peers.py [--size 128] [--repeat 3]
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

import numpy as np
from safetensors.numpy import load_file


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])


def idle_since(start):
    i0, t0 = start
    i1, t1 = cpu_times()
    return 100.0 * (i1 - i0) / max(1, t1 - t0)


def unet_model(w, x_shape, classes=4, features=(16, 32, 64, 128, 256)):
    """The MedVox UNet (Sources/MedVoxNN/Models/UNet.swift) as ONNX, weights by MedVox's names."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    used = set()

    def init(name):
        used.add(name)
        inits.append(numpy_helper.from_array(w[name].astype(np.float32), name))
        return name

    def conv(x, prefix, k, out):
        nodes.append(helper.make_node("Conv", [x, init(prefix + ".weight"), init(prefix + ".bias")], [out],
                                      kernel_shape=[k] * 3, pads=[k // 2] * 6, strides=[1] * 3))
        return out

    def block(x, prefix):
        h = x
        for s in ("1", "2"):
            h = conv(h, f"{prefix}.conv{s}", 3, f"{prefix}.c{s}")
            nodes.append(helper.make_node("InstanceNormalization", [h, init(f"{prefix}.norm{s}.weight"),
                                                                    init(f"{prefix}.norm{s}.bias")],
                                          [f"{prefix}.n{s}"], epsilon=1e-5))
            nodes.append(helper.make_node("LeakyRelu", [f"{prefix}.n{s}"], [f"{prefix}.a{s}"], alpha=0.01))
            h = f"{prefix}.a{s}"
        return h

    skips, h = [], "x"
    for level in range(len(features)):
        if level > 0:
            nodes.append(helper.make_node("MaxPool", [h], [f"pool{level}"], kernel_shape=[2] * 3, strides=[2] * 3))
            h = f"pool{level}"
        h = block(h, f"encoders.{level}")
        skips.append(h)
    for k in range(len(features) - 1):
        skip = skips[len(features) - 2 - k]
        nodes.append(helper.make_node("ConvTranspose", [h, init(f"ups.{k}.weight"), init(f"ups.{k}.bias")], [f"up{k}"],
                                      kernel_shape=[2] * 3, strides=[2] * 3))
        nodes.append(helper.make_node("Concat", [skip, f"up{k}"], [f"cat{k}"], axis=1))
        h = block(f"cat{k}", f"decoders.{k}")
    nodes.append(helper.make_node("Conv", [h, init("head.weight"), init("head.bias")], ["logits"], kernel_shape=[1] * 3))
    nodes.append(helper.make_node("Softmax", ["logits"], ["y"], axis=1))
    missing = set(w) - used
    if missing:
        raise SystemExit(f"weights not used by the ONNX graph: {sorted(missing)}")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [x_shape[0], classes] + list(x_shape[2:]))
    graph = helper.make_graph(nodes, "unet3d", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def run_peer(peer, d, repeat, threads):
    """Child-process mode: one peer on the dumped network; prints one JSON line."""
    w = load_file(os.path.join(d, "unet.safetensors"))
    x = load_file(os.path.join(d, "unet_input.safetensors"))["input"]
    ref = load_file(os.path.join(d, "unet_output.safetensors"))["output"]
    model = unet_model(w, x.shape)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peer_runtimes import forward_function
    fn = forward_function(peer, model, x, threads)
    y = fn()  # warm-up
    ms, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        y = fn()
        ms.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    err = float(np.abs(y - ref).max())
    np.save(os.path.join(d, f"{peer}_output.npy"), np.asarray(y, dtype=np.float32))
    print(json.dumps(dict(peer=peer, forward_ms=statistics.median(ms), forward_cpu_ms=statistics.median(cpu), max_abs_err=err,
                          peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


def float64_reference(d):
    """Softmax of a float64 PyTorch forward pass on MedVox's weights and input, or None without torch/monai."""
    try:
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from segment_vs_monai import monai_net
    except ImportError:
        return None
    weights = {k: np.asarray(v) for k, v in load_file(os.path.join(d, "unet.safetensors")).items()}
    x = load_file(os.path.join(d, "unet_input.safetensors"))["input"]
    with torch.no_grad():
        logits = monai_net(weights).double()(torch.from_numpy(x).double())[0].numpy()
    e = np.exp(logits - logits.max(axis=0))
    return (e / e.sum(axis=0))[None]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer:
        return run_peer(a.peer, a.dir, a.repeat, a.threads)
    with tempfile.TemporaryDirectory() as d:
        start = cpu_times()
        mv = json.loads(subprocess.run([a.medvox, "bench", "unet", "--json", "--size", str(a.size), "--dir", d,
                                        "--repeat", str(a.repeat), "--threads", str(a.threads)],
                                       check=True, capture_output=True, text=True).stdout)
        rows = {"medvox": dict(forward_ms=mv["forward_ms"], forward_cpu_ms=mv["forward_cpu_ms"], peak_mib=mv["peak_mib"], max_abs_err=0.0,
                               idle_percent=round(idle_since(start), 1))}
        for peer in ("onnxruntime", "openvino"):
            start = cpu_times()
            out = subprocess.run([sys.executable, __file__, "--peer", peer, "--dir", d, "--repeat", str(a.repeat),
                                  "--threads", str(a.threads)], check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            r["idle_percent"] = round(idle_since(start), 1)
            rows[peer] = r
        # Which side is off: every engine against a float64 forward of the same weights (PyTorch
        # + MONAI building blocks, when installed; the same network as segment_vs_monai.py).
        reference = float64_reference(d)
        if reference is not None:
            outputs = {"medvox": load_file(os.path.join(d, "unet_output.safetensors"))["output"]}
            outputs.update({p: np.load(os.path.join(d, f"{p}_output.npy")) for p in ("onnxruntime", "openvino")})
            for p, y in outputs.items():
                rows[p]["max_abs_err_float64"] = float(np.abs(y.astype(np.float64) - reference).max())
    ok = all(rows[p]["max_abs_err"] <= 1e-4 for p in ("onnxruntime", "openvino"))
    for p in ("onnxruntime", "openvino"):
        rows[p]["medvox_speedup"] = rows[p]["forward_ms"] / rows["medvox"]["forward_ms"]
        rows[p]["medvox_cpu_ratio"] = rows[p]["forward_cpu_ms"] / rows["medvox"]["forward_cpu_ms"]
    if a.json:
        print(json.dumps(dict(size=a.size, threads=a.threads, repeat=a.repeat, agree=ok, **rows)))
    else:
        print(f"3D U-Net 16-32-64-128-256 @{a.size}^3, {a.threads} threads, median of {a.repeat}")
        for p, r in rows.items():
            extra = "" if p == "medvox" else (f"  MedVox x{r['medvox_speedup']:.2f} (cpu x{r['medvox_cpu_ratio']:.2f})"
                                              f"  max|diff| {r['max_abs_err']:.1e}")
            if "max_abs_err_float64" in r:
                extra += f"  vs float64 {r['max_abs_err_float64']:.1e}"
            print(f"  {p:<12} {r['forward_ms']:9.1f} ms (cpu {r['forward_cpu_ms']:9.1f} ms)  peak {r['peak_mib']:7.0f} MiB  idle {r['idle_percent']:3.0f}%{extra}")
        print("  outputs agree within 1e-4" if ok else "  OUTPUTS DISAGREE beyond 1e-4")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
