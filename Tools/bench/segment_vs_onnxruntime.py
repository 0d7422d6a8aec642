#!/usr/bin/env python3
"""MedVox's U-Net forward pass against onnxruntime on the same weights and the same input.

The network is MedVox's 3D U-Net with features 16-256 and 4 classes (random weights, seeded),
written once to safetensors (Tools/bench/unet_weights.py) and read from there both by `medvox`
(through a model card) and by this script, which builds the ONNX graph with onnx.helper. The input
is the MNI template (Data/mni/t1.nii.gz, from Tools/data/prepare_mni.py) z-scored here, then either
a centred 96³ patch or the whole volume padded to a multiple of 16 (--size).

MedVox runs `medvox segment --window largest` on that preprocessed input with a card that does no
preprocessing, so it makes exactly one forward pass over the whole input; its printed "inference"
time (forward plus window gather, blending and argmax) is compared with onnxruntime's session.run
(forward only). Probabilities must agree within 1e-4. Reports medians over --repeat runs, the peak
memory of each side, and how busy the machine was (/proc/stat).

    .venv/bin/python3 Tools/bench/segment_vs_onnxruntime.py --size 96 --repeat 3
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_weights import cpu_load, random_unet, read_safetensors, write_model  # noqa: E402

FEATURES = (16, 32, 64, 128, 256)
CLASSES = 4


def unet_onnx(weights, features, classes, decomposed=True):
    """MedVox's U-Net (Sources/MedVoxNN/Models/UNet.swift) as an ONNX graph."""
    nodes, inits = [], []
    for name, a in weights.items():
        if decomposed and ".norm" in name:
            continue
        inits.append(numpy_helper.from_array(np.asarray(a, dtype=np.float32), name))
    count = [0]

    def node(op, inputs, **attrs):
        count[0] += 1
        out = f"t{count[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def instance_norm(x, prefix):
        if not decomposed:
            return node("InstanceNormalization", [x, f"{prefix}.weight", f"{prefix}.bias"], epsilon=1e-5)
        # Two-pass mean and variance with ReduceMean (to rule the fused operator out as a source
        # of error: both give the same result here).
        mean = node("ReduceMean", [x], axes=[2, 3, 4], keepdims=1)
        d = node("Sub", [x, mean])
        var = node("ReduceMean", [node("Mul", [d, d])], axes=[2, 3, 4], keepdims=1)
        y = node("Div", [d, node("Sqrt", [node("Add", [var, "eps"])])])
        return node("Add", [node("Mul", [y, f"{prefix}.weight.c111"]), f"{prefix}.bias.c111"])

    inits.append(numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps"))
    for name, a in weights.items():
        if ".norm" in name and decomposed:
            inits.append(numpy_helper.from_array(np.asarray(a, dtype=np.float32).reshape(-1, 1, 1, 1), name + ".c111"))

    def block(prefix, x):
        for i in (1, 2):
            x = node("Conv", [x, f"{prefix}.conv{i}.weight", f"{prefix}.conv{i}.bias"], kernel_shape=[3, 3, 3], pads=[1] * 6)
            x = instance_norm(x, f"{prefix}.norm{i}")
            x = node("LeakyRelu", [x], alpha=0.01)
        return x

    h = "input"
    skips = []
    for level in range(len(features)):
        if level > 0:
            h = node("MaxPool", [h], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        h = block(f"encoders.{level}", h)
        skips.append(h)
    for k in range(len(features) - 1):
        skip = skips[len(features) - 2 - k]
        up = node("ConvTranspose", [h, f"ups.{k}.weight", f"ups.{k}.bias"], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        h = block(f"decoders.{k}", node("Concat", [skip, up], axis=1))
    out = node("Conv", [h, "head.weight", "head.bias"], kernel_shape=[1, 1, 1])
    nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        nodes, "medvox_unet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, None, None, None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes, None, None, None])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def run_measured(cmd):
    """Runs cmd; returns (stdout, wall seconds, peak RSS of that process in MB)."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)  # this child's own peak RSS
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    code = p.returncode
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}): {err}")
    return out, wall, ru.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--medvox", default=os.path.join(root, ".build", "release", "medvox"))
    ap.add_argument("--template", default=os.path.join(root, "Data", "mni", "t1.nii.gz"))
    ap.add_argument("--size", default="96", help="96 (a centred 96³ patch) or full (the template padded to 208x240x192)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--instance-norm", choices=["decomposed", "native"], default="native",
                    help="ONNX InstanceNormalization (native) or ReduceMean/Sub/Div (decomposed)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ort-optimization", choices=["all", "extended", "basic", "none"], default="all",
                    help="onnxruntime graph optimisation level (its fused kernels change the rounding)")
    ap.add_argument("--out", default=os.path.join(root, ".bench", "onnx"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    weights = random_unet(FEATURES, CLASSES, seed=0)
    card = write_model(a.out, "bench-unet", weights, FEATURES, CLASSES, steps=[])
    weights = read_safetensors(os.path.join(a.out, "bench-unet.safetensors"))  # what medvox reads

    t1 = nib.load(a.template)
    img = np.asarray(t1.dataobj, dtype=np.float32)
    img = (img - img.mean()) / img.std()
    if a.size == "full":
        pad = [(-n) % 16 for n in img.shape]
        img = np.pad(img, [(0, p) for p in pad])
    else:
        n = int(a.size)
        c = [(s - n) // 2 for s in img.shape]
        img = img[c[0]:c[0] + n, c[1]:c[1] + n, c[2]:c[2] + n]
    img = np.ascontiguousarray(img)
    inp = os.path.join(a.out, f"input_{a.size}.nii.gz")
    nib.save(nib.Nifti1Image(img, t1.affine), inp)
    x = np.ascontiguousarray(img.transpose(2, 1, 0))[None, None]  # NCDHW, W = i fastest
    print(f"input {img.shape} (i, j, k), tensor {x.shape}; U-Net features {FEATURES}, {CLASSES} classes", flush=True)

    # onnxruntime
    model = unet_onnx(weights, FEATURES, CLASSES, decomposed=a.instance_norm == "decomposed")
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                   "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}[a.ort_optimization]
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    sess.run(None, {"input": x})  # warm-up
    ort_times, loads = [], []
    for _ in range(a.repeat):
        loads.append(cpu_load(0.5))
        t0 = time.perf_counter()
        logits = sess.run(None, {"input": x})[0]
        ort_times.append(time.perf_counter() - t0)
    e = np.exp(logits[0] - logits[0].max(axis=0, keepdims=True))
    ort_prob = e / e.sum(axis=0, keepdims=True)

    # MedVox
    probs = os.path.join(a.out, f"prob_{a.size}.nii.gz")
    cmd = [a.medvox, "segment", inp, "-o", os.path.join(a.out, f"mask_{a.size}.nii.gz"), "--model", card,
           "--window", "largest", "--probabilities", probs, "--no-postprocess", "--threads", str(a.threads),
           "--max-memory", "16G", "--quiet"]
    mv_times, mv_rss = [], 0.0
    for _ in range(a.repeat):
        loads.append(cpu_load(0.5))
        out, _, rss = run_measured(cmd)
        mv_rss = max(mv_rss, rss)
        m = re.search(r"inference ([0-9.]+)s", out)
        mv_times.append(float(m.group(1)))
        windows = re.search(r"(\d+) window\(s\) of (\S+)", out)
    mv_prob = np.asarray(nib.load(probs).dataobj, dtype=np.float32).transpose(3, 2, 1, 0)
    diff = float(np.abs(mv_prob - ort_prob).max())

    print(f"machine busy (non-idle CPU share while measuring): median {statistics.median(loads):.0%}, max {max(loads):.0%}")
    print(f"medvox segment: {windows.group(1)} window(s) of {windows.group(2)}; inference median {statistics.median(mv_times):.3f} s "
          f"(runs {', '.join(f'{t:.3f}' for t in mv_times)}), peak RSS {mv_rss:.0f} MB")
    print(f"onnxruntime {ort.__version__} ({a.instance_norm} instance norm, optimisation {a.ort_optimization}): forward median {statistics.median(ort_times):.3f} s "
          f"(runs {', '.join(f'{t:.3f}' for t in ort_times)})")
    print(f"ratio onnxruntime / medvox: {statistics.median(ort_times) / statistics.median(mv_times):.2f}")
    print(f"max |p_medvox - p_onnxruntime| = {diff:.2e} ({'OK' if diff <= 1e-4 else 'FAIL'}: tolerance 1e-4)")
    try:  # Which side is off: both against a float64 forward pass (PyTorch, when installed).
        import torch
        from segment_vs_monai import monai_net
        torch.set_num_threads(a.threads)
        with torch.no_grad():
            l64 = monai_net(weights).double()(torch.from_numpy(x).double())[0].numpy()
        p64 = np.exp(l64 - l64.max(axis=0))
        p64 /= p64.sum(axis=0)
        print(f"against a float64 PyTorch forward: max |p - p64| medvox {np.abs(mv_prob - p64).max():.2e}, "
              f"onnxruntime {np.abs(ort_prob - p64).max():.2e}")
    except ImportError:
        print("(PyTorch not installed: no float64 reference)")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()
