#!/usr/bin/env python3
"""Networks for the `medvox import` / `run` CLI tests, and the onnxruntime comparison they use.

Usage:
  make_import_fixtures.py OUT_DIR
      writes small_unet.onnx (a 3D U-Net with dynamic spatial axes: conv-instance norm-leaky ReLU,
      max pool, transposed conv, skip concatenation, 3 classes), classifier.onnx (fixed 16^3 input,
      conv-batch norm-ReLU, global average pool, Gemm, softmax over 4 classes), unsupported.onnx
      (TopK, Resize with mode cubic, a com.microsoft operator), fixed2d.onnx (a 2D network on a
      fixed 32x24 input, 2 classes), slice.nii.gz (32x24x1) and input.nii.gz, a non-symmetric
      20x16x24 volume with an oblique affine, and input16.nii.gz, 16^3 for the classifier.
  make_import_fixtures.py compare MODEL.onnx INPUT.nii OUTPUT.nii
      runs MODEL in onnxruntime on nibabel's array of INPUT ([None, None], as MONAI loads it) and
      prints {"max_error": ..., "scale": ..., "shape_ok": ..., "affine_ok": ...} against OUTPUT
      (medvox run's 4D float32 NIfTI, one frame per output channel).
Built with onnx.helper from a fixed numpy seed; nothing is downloaded.
"""
import json
import os
import sys

import nibabel as nib
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
N = helper.make_node


def f32(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def save(nodes, inits, x_dims, name, out, opset=17, extra_opsets=()):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, x_dims)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, name, [x], [y], [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in extra_opsets])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, name + ".onnx"))


def make(out):
    os.makedirs(out, exist_ok=True)
    nodes, inits = [], {}

    def block(x, name, cin, cout):
        for s, ci in (("1", cin), ("2", cout)):
            inits.update({f"{name}.w{s}": f32(cout, ci, 3, 3, 3), f"{name}.b{s}": f32(cout), f"{name}.g{s}": f32(cout) + 1,
                          f"{name}.t{s}": f32(cout)})
            nodes.extend([N("Conv", [x, f"{name}.w{s}", f"{name}.b{s}"], [f"{name}.c{s}"], pads=[1] * 6, kernel_shape=[3, 3, 3]),
                          N("InstanceNormalization", [f"{name}.c{s}", f"{name}.g{s}", f"{name}.t{s}"], [f"{name}.n{s}"]),
                          N("LeakyRelu", [f"{name}.n{s}"], [f"{name}.a{s}"], alpha=0.01)])
            x = f"{name}.a{s}"
        return x

    e0 = block("input", "enc0", 1, 4)
    nodes.append(N("MaxPool", [e0], ["p1"], kernel_shape=[2, 2, 2], strides=[2, 2, 2]))
    e1 = block("p1", "enc1", 4, 8)
    inits.update({"up.w": f32(8, 4, 2, 2, 2), "up.b": f32(4), "head.w": f32(3, 4, 1, 1, 1), "head.b": f32(3)})
    nodes.extend([N("ConvTranspose", [e1, "up.w", "up.b"], ["u"], kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
                  N("Concat", [e0, "u"], ["cat"], axis=1)])
    d0 = block("cat", "dec0", 8, 4)
    nodes.append(N("Conv", [d0, "head.w", "head.b"], ["output"], kernel_shape=[1, 1, 1]))
    save(nodes, inits, [1, 1, "D", "H", "W"], "small_unet", out)

    # A 2D network with a fixed 32x24 input: conv-ReLU, a stride-2 conv, a nearest 2x Resize back, 2 classes.
    inits = {"a.w": f32(4, 1, 3, 3), "a.b": f32(4), "d.w": f32(4, 4, 2, 2), "h.w": f32(2, 8, 1, 1), "h.b": f32(2),
             "sc": np.array([1, 1, 2, 2], np.float32)}
    nodes = [N("Conv", ["input", "a.w", "a.b"], ["a"], pads=[1, 1, 1, 1]), N("Relu", ["a"], ["ar"]),
             N("Conv", ["ar", "d.w"], ["d"], strides=[2, 2]), N("Resize", ["d", "", "sc"], ["u"], mode="nearest"),
             N("Concat", ["ar", "u"], ["c"], axis=1), N("Conv", ["c", "h.w", "h.b"], ["output"])]
    save(nodes, inits, [1, 1, 32, 24], "fixed2d", out)

    inits = {"w": f32(6, 1, 3, 3, 3), "s": f32(6) + 1, "t": f32(6), "m": f32(6), "v": np.abs(f32(6)) + 0.5,
             "fc.w": f32(4, 6), "fc.b": f32(4)}
    nodes = [N("Conv", ["input", "w"], ["c"], pads=[1] * 6, strides=[2, 2, 2]), N("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"]),
             N("Relu", ["n"], ["r"]), N("GlobalAveragePool", ["r"], ["g"]), N("Flatten", ["g"], ["f"]),
             N("Gemm", ["f", "fc.w", "fc.b"], ["l"], transB=1), N("Softmax", ["l"], ["output"], axis=1)]
    save(nodes, inits, [1, 1, 16, 16, 16], "classifier", out)

    nodes = [N("TopK", ["input", "k"], ["v", "i"], name="top_values"),
             N("Resize", ["v", "", "sc"], ["r"], mode="cubic", name="cubic_up"),
             N("FusedConv", ["r"], ["output"], domain="com.microsoft", name="ms_fused")]
    save(nodes, {"k": np.array([2], np.int64), "sc": np.ones(5, np.float32)}, [1, 1, 4, 4, 4], "unsupported", out, extra_opsets=["com.microsoft"])

    affine = np.array([[0, -1.2, 0.1, 30], [1.1, 0, 0, -20], [0, 0.05, 2.0, 5], [0, 0, 0, 1]])
    vol = rng.standard_normal((20, 16, 24)).astype(np.float32) + np.linspace(0, 2, 20)[:, None, None].astype(np.float32)
    nib.save(nib.Nifti1Image(vol, affine), os.path.join(out, "input.nii.gz"))
    nib.save(nib.Nifti1Image(vol[:16, :, 4:20] * np.linspace(1, 2, 16)[None, None, :].astype(np.float32), affine),
             os.path.join(out, "input16.nii.gz"))
    nib.save(nib.Nifti1Image(rng.standard_normal((32, 24, 1)).astype(np.float32), affine), os.path.join(out, "slice.nii.gz"))


def compare(model, inp, outp):
    import onnxruntime as ort
    img = nib.load(inp)
    x = np.asarray(img.get_fdata(), np.float32)[None, None]
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    if len(s.get_inputs()[0].shape) == 4:  # a 2D network on a single slice
        x = x[..., 0]
    ref = s.run(None, {s.get_inputs()[0].name: x})[0]
    o = nib.load(outp)
    got = np.asarray(o.get_fdata(), np.float32)
    got = np.moveaxis(got, 3, 0)[None]  # (i, j, k, C) -> (1, C, i, j, k)
    if ref.ndim == 2 or ref.ndim == 4:
        got = got.reshape(ref.shape) if got.size == ref.size else got
    ok = got.shape == ref.shape
    err = float(np.abs(got - ref).max()) if ok else float("inf")
    print(json.dumps({"max_error": err if np.isfinite(err) else 1e30, "scale": float(np.abs(ref).max()), "shape_ok": bool(ok),
                      "affine_ok": bool(np.allclose(o.affine, img.affine, atol=1e-4)), "shape": list(got.shape)}))


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        compare(*sys.argv[2:5])
    else:
        make(sys.argv[1])
