#!/usr/bin/env python3
"""Convolution layers: MedVox against onnxruntime and OpenVINO, same weights, same run.

For each layer of `medvox bench conv` (issue 4's shapes) this script runs MedVox with --dir, which
times the layer and writes its seeded input, weights, bias and forward output as raw float32 files;
then builds the same convolution as a one-node ONNX graph with those weights, checks that
onnxruntime's and OpenVINO's outputs agree with MedVox's (max |a-b| / max |b| <= 1e-4), times both
(2 threads, fp32, all graph optimisations; OpenVINO with INFERENCE_PRECISION_HINT=f32, since its
default on AVX-512 BF16 CPUs is bf16) and prints GFLOP/s and MedVox's ratio to each.

Development only (onnx, onnxruntime, openvino from PyPI: Tools/requirements-dev.txt).

    swift build -c release && .venv/bin/python3 Tools/bench/conv_peers.py [--repeat 5] [--sizes 128,64]

The whole 3D U-Net comparison is Tools/bench/unet_peers.py.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--medvox", default=".build/release/medvox")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="128,64,32,16,8,256", help="layer sizes to run (comma-separated)")
    ap.add_argument("--json", action="store_true", help="one JSON object per layer")
    a = ap.parse_args()
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
