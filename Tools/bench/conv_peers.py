#!/usr/bin/env python3
"""Convolution layers: MedVox against onnxruntime and OpenVINO, same weights, same run.

For each layer of `medvox bench conv` (issue 4's shapes) this script runs MedVox with --dir, which
times the layer and writes its seeded input, weights, bias and forward output as raw float32 files;
then builds the same convolution as a one-node ONNX graph with those weights, checks that
onnxruntime's and OpenVINO's outputs agree with MedVox's (max |a-b| / max |b| <= 1e-4), times both
(2 threads, fp32, all graph optimisations; OpenVINO with INFERENCE_PRECISION_HINT=f32, since its
default on AVX-512 BF16 CPUs is bf16) and prints GFLOP/s and MedVox's ratio to each.

Development only (onnx, onnxruntime, openvino from PyPI: Tools/requirements-dev.txt).

    swift build -c release && python3 Tools/bench/conv_peers.py [--repeat 5] [--sizes 128,64]

With --unet SIZE it instead compares issue 4's whole 3D U-Net (`medvox bench unet`, weights
written as safetensors) at SIZE³: MedVox and each peer run in their own process, so each reports
its own peak resident memory; probabilities must agree within 1e-4 (max absolute difference).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import resource

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
import openvino as ov


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])  # idle + iowait, total


def idle_since(start):
    i0, t0 = start
    i1, t1 = cpu_times()
    return 100.0 * (i1 - i0) / max(1, t1 - t0)


def timed(fn, repeat):
    fn()  # warm-up
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


def conv_model(op, cin, cout, size, weight, bias):
    rank = 3 if op == "conv3d" else 2
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin] + [size] * rank)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout] + [size] * rank)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3] * rank, pads=[1] * (2 * rank),
                            strides=[1] * rank, dilations=[1] * rank)
    graph = helper.make_graph([node], "conv", [x], [y],
                              initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def unet_model(t, size):
    """Issue 4's U-Net as ONNX, from MedVox's parameter names (UNet in MedVoxNN)."""
    nodes, inits = [], []

    def param(name):
        inits.append(numpy_helper.from_array(t[name], name))
        return name

    def op(kind, inputs, out, **attrs):
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def block(x, prefix):
        for i in (1, 2):
            x = op("Conv", [x, param(f"{prefix}.conv{i}.weight"), param(f"{prefix}.conv{i}.bias")], f"{prefix}.c{i}",
                   kernel_shape=[3, 3, 3], pads=[1] * 6)
            x = op("InstanceNormalization", [x, param(f"{prefix}.norm{i}.weight"), param(f"{prefix}.norm{i}.bias")],
                   f"{prefix}.n{i}", epsilon=1e-5)
            x = op("LeakyRelu", [x], f"{prefix}.a{i}", alpha=0.01)
        return x

    levels = 1 + max(int(k.split(".")[1]) for k in t if k.startswith("encoders."))
    h, skips = "x", []
    for level in range(levels):
        if level > 0:
            h = op("MaxPool", [h], f"pool{level}", kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        h = block(h, f"encoders.{level}")
        skips.append(h)
    for k in range(levels - 1):
        up = op("ConvTranspose", [h, param(f"ups.{k}.weight"), param(f"ups.{k}.bias")], f"up{k}",
                kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        h = op("Concat", [skips[levels - 2 - k], up], f"cat{k}", axis=1)
        h = block(h, f"decoders.{k}")
    h = op("Conv", [h, param("head.weight"), param("head.bias")], "logits", kernel_shape=[1, 1, 1])
    op("Softmax", [h], "y", axis=1)
    classes = t["head.weight"].shape[0]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, size, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes, size, size, size])
    model = helper.make_model(helper.make_graph(nodes, "unet3d", [x], [y], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def unet_peer(kind, d, size, repeat, threads):
    """Runs in a child process: one peer on the U-Net; prints one JSON line."""
    from safetensors.numpy import load_file
    t = load_file(os.path.join(d, f"unet3d_{size}.safetensors"))
    x = np.fromfile(os.path.join(d, f"unet3d_{size}.input.f32"), dtype="<f4").reshape(1, 1, size, size, size)
    ref = np.fromfile(os.path.join(d, f"unet3d_{size}.output.f32"), dtype="<f4").reshape(1, -1, size, size, size)
    model = unet_model(t, size)
    del t
    if kind == "onnxruntime":
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        del model
        run = lambda: sess.run(None, {"x": x})[0]
    else:
        core = ov.Core()
        compiled = core.compile_model(core.read_model(model=model, weights=b""), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
        del model
        req = compiled.create_infer_request()
        run = lambda: np.array(req.infer({0: x})[0])
    y = run()
    ms = timed(run, repeat)
    err = float(np.abs(y - ref).max())
    print(json.dumps(dict(peer=kind, forward_ms=ms, max_abs_err=err,
                          peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


def unet_compare(a):
    with tempfile.TemporaryDirectory() as d:
        start = cpu_times()
        mv = json.loads(subprocess.run([a.medvox, "bench", "unet", "--size", str(a.unet), "--dir", d, "--repeat",
                                        str(a.repeat), "--threads", str(a.threads)],
                                       check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        rows = [mv]
        for kind in ("onnxruntime", "openvino"):
            out = subprocess.run([sys.executable, __file__, "--peer", kind, "--dir", d, "--unet", str(a.unet),
                                  "--repeat", str(a.repeat), "--threads", str(a.threads)],
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.splitlines()[-1]))
        idle = idle_since(start)
    ok = all(r["max_abs_err"] <= 1e-4 for r in rows[1:])
    print(f"unet3d @{a.unet}: MedVox {mv['forward_ms'] / 1e3:.2f} s, {mv['peak_rss_mib']:.0f} MiB")
    for r in rows[1:]:
        print(f"  {r['peer']:<12} {r['forward_ms'] / 1e3:.2f} s, {r['peak_rss_mib']:.0f} MiB  "
              f"(MedVox x{r['forward_ms'] / mv['forward_ms']:.2f} faster, memory x{mv['peak_rss_mib'] / r['peak_rss_mib']:.2f}) "
              f"max |diff| {r['max_abs_err']:.1e}")
    print(f"  {'agree' if ok else 'DISAGREE'} within 1e-4; CPU idle during the run {idle:.0f}%")
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="128,64,32,16,8,256", help="layer sizes to run (comma-separated)")
    ap.add_argument("--json", action="store_true", help="one JSON object per layer")
    ap.add_argument("--unet", type=int, help="compare the whole 3D U-Net at this size instead of single layers")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer:
        return unet_peer(a.peer, a.dir, a.unet, a.repeat, a.threads)
    if a.unet:
        return unet_compare(a)
    core = ov.Core()
    failures = 0
    if not a.json:
        print(f"threads {a.threads}, repeat {a.repeat} (medians); GFLOP/s with padding taps; "
              "ratio = MedVox time / peer time inverted (>1: MedVox faster); idle = % of CPU idle during the layer", flush=True)
    for size in [int(s) for s in a.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as d:
            start = cpu_times()
            out = subprocess.run([a.medvox, "bench", "conv", "--json", "--size", str(size), "--dir", d,
                                  "--repeat", str(a.repeat), "--threads", str(a.threads)],
                                 check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                row = json.loads(line)
                op, cin, cout = row["op"], row["cin"], row["cout"]
                rank = 3 if op == "conv3d" else 2
                name = f"{op}_{cin}_{cout}_{size}"
                load = lambda s: np.fromfile(os.path.join(d, f"{name}.{s}.f32"), dtype="<f4")
                x = load("input").reshape([1, cin] + [size] * rank)
                w = load("weight").reshape([cout, cin] + [3] * rank)
                b = load("bias")
                ref = load("output").reshape([1, cout] + [size] * rank)
                flops = 2.0 * cout * cin * 3 ** rank * size ** rank
                model = conv_model(op, cin, cout, size, w, b)

                so = ort.SessionOptions()
                so.intra_op_num_threads = a.threads
                so.inter_op_num_threads = 1
                so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
                y_ort = sess.run(None, {"x": x})[0]
                ort_ms = timed(lambda: sess.run(None, {"x": x}), a.repeat)

                compiled = core.compile_model(core.read_model(model=model, weights=b""), "CPU", {
                    "INFERENCE_NUM_THREADS": a.threads, "INFERENCE_PRECISION_HINT": "f32",
                    "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
                req = compiled.create_infer_request()
                y_ov = np.array(req.infer({0: x})[0])
                ov_ms = timed(lambda: req.infer({0: x}), a.repeat)

                scale = float(np.abs(ref).max())
                err_ort = float(np.abs(y_ort - ref).max()) / scale
                err_ov = float(np.abs(y_ov - ref).max()) / scale
                ok = err_ort <= 1e-4 and err_ov <= 1e-4
                failures += 0 if ok else 1
                mv_ms = row["forward_ms"]
                res = dict(op=op, cin=cin, cout=cout, size=size, medvox_ms=mv_ms, onnxruntime_ms=ort_ms, openvino_ms=ov_ms,
                           medvox_gflops=flops / mv_ms / 1e6, onnxruntime_gflops=flops / ort_ms / 1e6,
                           openvino_gflops=flops / ov_ms / 1e6, ratio_vs_onnxruntime=ort_ms / mv_ms,
                           ratio_vs_openvino=ov_ms / mv_ms, max_rel_err_onnxruntime=err_ort, max_rel_err_openvino=err_ov,
                           agree=ok, medvox_backward_ms=row["backward_ms"], peak_gflops=row["peak_gflops"],
                           idle_percent=round(idle_since(start), 1))
                if a.json:
                    print(json.dumps(res))
                else:
                    print(f"{op} {cin:>3}->{cout:<3} @{size:<3}  MedVox {res['medvox_gflops']:6.1f}  "
                          f"ORT {res['onnxruntime_gflops']:6.1f} (x{res['ratio_vs_onnxruntime']:.2f})  "
                          f"OpenVINO {res['openvino_gflops']:6.1f} (x{res['ratio_vs_openvino']:.2f}) GFLOP/s  "
                          f"peak {row['peak_gflops']:.0f}  err {max(err_ort, err_ov):.1e} {'ok' if ok else 'DISAGREE'}  "
                          f"idle {res['idle_percent']:.0f}%", flush=True)
                start = cpu_times()
    if failures:
        print(f"{failures} layer(s) disagree beyond 1e-4", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
