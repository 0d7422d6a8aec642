#!/usr/bin/env python3
"""Per-operator ONNX graphs for the graph interpreter's tests, with onnxruntime's outputs.

Usage: make_graph_cases.py OUT_DIR

For each case writes OUT_DIR/NAME.onnx, the inputs NAME.in<k>.bin and onnxruntime's outputs
NAME.out<k>.bin (float32 little-endian, row-major), and OUT_DIR/cases.json listing every case with
its input and output shapes. Graphs are built with onnx.helper in the layouts torch.onnx.export
writes (weights as initializers, opset 13 attribute forms and their opset 18+ input forms,
dynamic axes as dim_param; cases with dynamic axes also run at a second size, NAME.alt.*). Values come from a fixed numpy seed; nothing is downloaded.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(42)
cases = []


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def case(name, nodes, inputs, outputs, inits=None, opset=17, dynamic=None):
    """inputs: {name: array}; outputs: [name]; inits: {name: array}; dynamic: {input: [axes]}."""
    dynamic = dynamic or {}
    ins = []
    for k, v in inputs.items():
        dims = [f"d{k}{a}" if a in dynamic.get(k, []) else d for a, d in enumerate(v.shape)]
        ins.append(helper.make_tensor_value_info(k, TensorProto.FLOAT, dims))
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    init = [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, name, ins, outs, init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_graph_cases")
    m.ir_version = 8 if opset < 19 else 9
    path = os.path.join(out, name + ".onnx")
    onnx.save(m, path)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    res = sess.run(outputs, inputs)
    for k, v in enumerate(inputs.values()):
        np.ascontiguousarray(v, np.float32).tofile(os.path.join(out, f"{name}.in{k}.bin"))
    for k, v in enumerate(res):
        np.ascontiguousarray(v, np.float32).tofile(os.path.join(out, f"{name}.out{k}.bin"))
    entry = {"name": name, "inputs": [list(v.shape) for v in inputs.values()], "outputs": [list(np.shape(v)) for v in res]}
    if dynamic:  # a second run with every dynamic axis one larger, through the same session
        alt = {k: f32(*[d + (1 if a in dynamic.get(k, []) else 0) for a, d in enumerate(v.shape)]) for k, v in inputs.items()}
        res = sess.run(outputs, alt)
        for k, v in enumerate(alt.values()):
            np.ascontiguousarray(v, np.float32).tofile(os.path.join(out, f"{name}.alt.in{k}.bin"))
        for k, v in enumerate(res):
            np.ascontiguousarray(v, np.float32).tofile(os.path.join(out, f"{name}.alt.out{k}.bin"))
        entry["alt"] = {"inputs": [list(v.shape) for v in alt.values()], "outputs": [list(np.shape(v)) for v in res]}
    cases.append(entry)


N = helper.make_node
i64 = lambda *v: np.array(v, np.int64)

# Convolutions: 1D/2D/3D, stride, asymmetric pads, dilation, groups, SAME, fusions.
x2 = f32(1, 4, 9, 11)
case("conv2d", [N("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], {"x": x2}, ["y"], {"w": f32(6, 4, 3, 3), "b": f32(6)})
case("conv2d_asymmetric_pads_stride", [N("Conv", ["x", "w"], ["y"], pads=[0, 1, 2, 0], strides=[2, 2])], {"x": x2}, ["y"], {"w": f32(5, 4, 3, 3)})
case("conv2d_groups_dilation", [N("Conv", ["x", "w", "b"], ["y"], group=2, dilations=[2, 2], pads=[2, 2, 2, 2])], {"x": x2}, ["y"],
     {"w": f32(6, 2, 3, 3), "b": f32(6)})
case("conv2d_depthwise", [N("Conv", ["x", "w"], ["y"], group=4, pads=[1, 1, 1, 1])], {"x": x2}, ["y"], {"w": f32(4, 1, 3, 3)})
case("conv2d_same_upper", [N("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])], {"x": x2}, ["y"], {"w": f32(3, 4, 4, 4)})
case("conv1d", [N("Conv", ["x", "w", "b"], ["y"], strides=[2], pads=[1, 2])], {"x": f32(2, 3, 17)}, ["y"], {"w": f32(4, 3, 3), "b": f32(4)})
x3 = f32(1, 2, 8, 7, 6)
case("conv3d_relu_dynamic", [N("Conv", ["x", "w", "b"], ["c"], pads=[1] * 6), N("Relu", ["c"], ["y"])], {"x": x3}, ["y"],
     {"w": f32(16, 2, 3, 3, 3), "b": f32(16)}, dynamic={"x": [2, 3, 4]})
case("conv3d_instancenorm_leakyrelu", [
    N("Conv", ["x", "w", "b"], ["c"], pads=[1] * 6), N("InstanceNormalization", ["c", "s", "t"], ["n"], epsilon=1e-5),
    N("LeakyRelu", ["n"], ["y"], alpha=0.1)], {"x": f32(1, 2, 12, 12, 12)}, ["y"],
    {"w": f32(16, 2, 3, 3, 3), "b": f32(16), "s": f32(16), "t": f32(16)})
case("conv3d_winograd_chain", [
    N("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 6), N("InstanceNormalization", ["c1", "s", "t"], ["n1"]),
    N("LeakyRelu", ["n1"], ["a1"], alpha=0.01), N("Conv", ["a1", "w2"], ["c2"], pads=[1] * 6),
    N("InstanceNormalization", ["c2", "s", "t"], ["y"])], {"x": f32(1, 16, 12, 12, 12)}, ["y"],
    {"w1": f32(16, 16, 3, 3, 3, scale=0.1), "b1": f32(16), "w2": f32(16, 16, 3, 3, 3, scale=0.1), "s": f32(16), "t": f32(16)})
case("conv_batchnorm_relu", [
    N("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), N("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"]),
    N("Relu", ["n"], ["y"])], {"x": x2}, ["y"],
    {"w": f32(6, 4, 3, 3), "b": f32(6), "s": f32(6), "t": f32(6), "m": f32(6), "v": np.abs(f32(6)) + 0.5})
case("concat_conv_parts", [
    N("Concat", ["s", "u"], ["c"], axis=1), N("Conv", ["c", "w", "b"], ["k"], pads=[1] * 6),
    N("InstanceNormalization", ["k", "g", "t"], ["n"]), N("LeakyRelu", ["n"], ["y"], alpha=0.01)],
    {"s": f32(1, 16, 10, 12, 8), "u": f32(1, 16, 10, 12, 8)}, ["y"],
    {"w": f32(16, 32, 3, 3, 3, scale=0.1), "b": f32(16), "g": f32(16), "t": f32(16)})
case("concat_conv_asymmetric", [N("Concat", ["s", "u"], ["c"], axis=-3), N("Conv", ["c", "w"], ["y"], pads=[0, 1, 1, 0])],
     {"s": f32(1, 2, 6, 7), "u": f32(1, 3, 6, 7)}, ["y"], {"w": f32(4, 5, 2, 2)})
case("convtranspose3d_k2s2", [N("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[2, 2, 2], strides=[2, 2, 2])],
     {"x": f32(1, 8, 4, 5, 3)}, ["y"], {"w": f32(8, 4, 2, 2, 2), "b": f32(4)})
case("convtranspose2d_pads_output_padding", [N("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 1, 1], output_padding=[1, 1])],
     {"x": f32(1, 3, 5, 4)}, ["y"], {"w": f32(3, 2, 3, 3), "b": f32(2)})
case("convtranspose1d_groups_dilation", [N("ConvTranspose", ["x", "w"], ["y"], group=2, dilations=[2], strides=[3])],
     {"x": f32(1, 4, 6)}, ["y"], {"w": f32(4, 3, 3)})

# Element-wise with broadcasting, activations.
a = f32(2, 3, 5, 6)
case("broadcast_arithmetic", [
    N("Add", ["a", "c1"], ["s1"]), N("Mul", ["s1", "c2"], ["s2"]), N("Sub", ["c3", "s2"], ["s3"]), N("Div", ["s3", "c4"], ["s4"]),
    N("Abs", ["s4"], ["s5"]), N("Sqrt", ["s5"], ["s6"]), N("Pow", ["s6", "e"], ["y"])], {"a": a}, ["y"],
    {"c1": f32(1, 3, 1, 1), "c2": f32(6), "c3": f32(5, 1), "c4": np.abs(f32(2, 1, 1, 6)) + 0.5, "e": np.array(3.0, np.float32)})
case("activations", [
    N("LeakyRelu", ["a"], ["l"], alpha=0.2), N("PRelu", ["a", "p"], ["pr"]), N("Elu", ["a"], ["el"], alpha=0.7),
    N("Sigmoid", ["a"], ["sg"]), N("Tanh", ["a"], ["th"]), N("Erf", ["a"], ["ef"]), N("Softmax", ["a"], ["sm"], axis=1),
    N("Relu", ["a"], ["re"])], {"a": a}, ["l", "pr", "el", "sg", "th", "ef", "sm", "re"], {"p": f32(3, 1, 1)})
case("gelu_opset20", [N("Gelu", ["a"], ["y"]), N("Gelu", ["a"], ["z"], approximate="tanh")], {"a": a}, ["y", "z"], opset=20)

# Normalisations.
case("norms", [
    N("BatchNormalization", ["a", "s", "t", "m", "v"], ["bn"], epsilon=1e-3), N("InstanceNormalization", ["a", "s", "t"], ["in"]),
    N("LayerNormalization", ["a", "ls", "lb"], ["ln"], axis=-2)], {"a": a}, ["bn", "in", "ln"],
    {"s": f32(3), "t": f32(3), "m": f32(3), "v": np.abs(f32(3)) + 0.5, "ls": f32(5, 6), "lb": f32(5, 6)})
case("groupnorm_opset21", [N("GroupNormalization", ["x", "s", "t"], ["y"], num_groups=2)], {"x": f32(2, 4, 5, 3)}, ["y"],
     {"s": f32(4), "t": f32(4)}, opset=21)
case("groupnorm_decomposition", [
    N("Reshape", ["x", "shape1"], ["r1"]), N("InstanceNormalization", ["r1", "ones", "zeros"], ["n"]),
    N("Reshape", ["n", "shape2"], ["r2"]), N("Mul", ["r2", "gamma"], ["m"]), N("Add", ["m", "beta"], ["y"])],
    {"x": f32(2, 6, 4, 4, 3)}, ["y"],
    {"shape1": i64(2, 3, -1), "ones": np.ones(3, np.float32), "zeros": np.zeros(3, np.float32), "shape2": i64(2, 6, 4, 4, 3),
     "gamma": f32(6, 1, 1, 1), "beta": f32(6, 1, 1, 1)})
case("layernorm_decomposition_opset13", [
    N("ReduceMean", ["x"], ["mu"], axes=[-1]), N("Sub", ["x", "mu"], ["d"]), N("Pow", ["d", "two"], ["sq"]),
    N("ReduceMean", ["sq"], ["var"], axes=[-1]), N("Add", ["var", "eps"], ["ve"]), N("Sqrt", ["ve"], ["sd"]),
    N("Div", ["d", "sd"], ["y"])], {"x": f32(2, 7, 16)}, ["y"],
    {"two": np.array(2.0, np.float32), "eps": np.array(1e-5, np.float32)}, opset=13)
case("reducemean_opset18", [N("ReduceMean", ["x", "ax"], ["y"], keepdims=0)], {"x": f32(2, 7, 16)}, ["y"], {"ax": i64(1)}, opset=18)

# Shapes and data movement: opset 13 input forms, opset 18 forms, dynamic shape arithmetic.
case("shape_ops_opset13", [
    N("Split", ["a", "sp"], ["s1", "s2"], axis=3), N("Concat", ["s2", "s1"], ["c"], axis=3),
    N("Slice", ["c", "st", "en", "ax", "stp"], ["sl"]), N("Transpose", ["sl"], ["t"], perm=[0, 2, 3, 1]),
    N("Unsqueeze", ["t", "u"], ["us"]), N("Squeeze", ["us", "u"], ["sq"]), N("Flatten", ["sq"], ["y"], axis=2)],
    {"a": a}, ["y"], {"sp": i64(2, 4), "st": i64(4, 0), "en": i64(-100, 2), "ax": i64(2, 1), "stp": i64(-2, 1), "u": i64(1)}, opset=13)
case("split_pad_opset18", [
    N("Split", ["a"], ["s1", "s2", "s3"], axis=3, num_outputs=3), N("Pad", ["s1", "p", "", "pa"], ["p1"], mode="reflect"),
    N("Pad", ["s2", "p2", "cv"], ["p2o"], mode="constant"), N("Pad", ["s3", "p2"], ["p3"], mode="edge")],
    {"a": a}, ["p1", "p2o", "p3"], {"p": i64(2, 1, 1, 0), "pa": i64(2, 3), "p2": i64(0, 0, 1, 2, 0, 1, 0, 1), "cv": np.array(1.5, np.float32)},
    opset=18)
case("dynamic_reshape_chain", [
    N("Shape", ["x"], ["sh"]), N("Gather", ["sh", "i0"], ["n"], axis=0), N("Gather", ["sh", "i1"], ["c"], axis=0),
    N("Unsqueeze", ["n", "z"], ["nu"]), N("Unsqueeze", ["c", "z"], ["cu"]), N("Concat", ["nu", "cu", "m1"], ["ns"], axis=0),
    N("Reshape", ["x", "ns"], ["r"]), N("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
    N("ConstantOfShape", ["sh"], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
    N("Mul", ["x", "ones"], ["y2"]), N("Cast", ["sh"], ["shf"], to=1)],
    {"x": f32(1, 3, 4, 5, 2)}, ["t", "y2", "shf"], {"i0": np.array(0, np.int64), "i1": np.array(1, np.int64), "z": i64(0), "m1": i64(-1)}, opset=13,
    dynamic={"x": [2, 3, 4]})
case("gather_where_expand", [
    N("Gather", ["a", "idx"], ["g"], axis=1), N("Greater", ["g", "zero"], ["m"]), N("Where", ["m", "g", "half"], ["w"]),
    N("Expand", ["e", "es"], ["y"])], {"a": a, "e": f32(3, 1)}, ["w", "y"],
    {"idx": np.array([[2, 0], [1, -1]], np.int64), "zero": np.array(0.0, np.float32), "half": np.array(0.5, np.float32), "es": i64(2, 3, 4)})

# Resize and pooling.
r3 = f32(1, 2, 4, 5, 3)
case("resize_nearest_asymmetric", [N("Resize", ["x", "", "sc"], ["y"], mode="nearest", coordinate_transformation_mode="asymmetric",
                                     nearest_mode="floor")], {"x": r3}, ["y"], {"sc": np.array([1, 1, 2, 2, 2], np.float32)})
case("resize_linear_half_pixel", [N("Resize", ["x", "", "sc"], ["y"], mode="linear", coordinate_transformation_mode="half_pixel")],
     {"x": r3}, ["y"], {"sc": np.array([1, 1, 2, 1.5, 2], np.float32)})
case("resize_linear_pytorch_half_pixel", [N("Resize", ["x", "", "sc"], ["y"], mode="linear", coordinate_transformation_mode="pytorch_half_pixel")],
     {"x": f32(1, 2, 1, 6)}, ["y"], {"sc": np.array([1, 1, 3, 2], np.float32)})
case("resize_linear_align_corners_sizes", [N("Resize", ["x", "", "", "sz"], ["y"], mode="linear", coordinate_transformation_mode="align_corners")],
     {"x": f32(1, 2, 5, 4)}, ["y"], {"sz": i64(1, 2, 9, 7)})
case("resize_nearest_half_pixel_down", [N("Resize", ["x", "", "sc"], ["y"], mode="nearest", coordinate_transformation_mode="half_pixel")],
     {"x": f32(1, 2, 8, 6)}, ["y"], {"sc": np.array([1, 1, 0.5, 0.5], np.float32)})
case("resize_axes_opset18", [N("Resize", ["x", "", "", "sz"], ["y"], mode="linear", axes=[2, 3])], {"x": f32(1, 2, 5, 4)}, ["y"],
     {"sz": i64(7, 9)}, opset=18)
case("pooling", [
    N("MaxPool", ["x"], ["m1"], kernel_shape=[2, 2], strides=[2, 2]),
    N("MaxPool", ["x"], ["m2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    N("AveragePool", ["x"], ["a1"], kernel_shape=[3, 3], strides=[2, 1], pads=[1, 0, 1, 1], count_include_pad=1),
    N("AveragePool", ["x"], ["a2"], kernel_shape=[2, 3], pads=[1, 1, 0, 1]), N("GlobalAveragePool", ["x"], ["g"]),
    N("MaxPool", ["x"], ["m3"], kernel_shape=[2, 2], dilations=[2, 1])], {"x": f32(2, 3, 9, 8)}, ["m1", "m2", "a1", "a2", "g", "m3"])
case("maxpool3d", [N("MaxPool", ["x"], ["y"], kernel_shape=[2, 2, 2], strides=[2, 2, 2])], {"x": f32(1, 3, 8, 6, 4)}, ["y"])

# Matrix products and attention.
case("gemm_matmul", [
    N("Gemm", ["m", "w", "b"], ["g"], transB=1, alpha=0.5, beta=2.0), N("MatMul", ["t", "w2"], ["mm"]), N("MatMul", ["q", "k"], ["bm"])],
    {"m": f32(3, 5), "t": f32(2, 4, 5), "q": f32(2, 1, 3, 4), "k": f32(3, 4, 2)}, ["g", "mm", "bm"],
    {"w": f32(6, 5), "b": f32(6), "w2": f32(5, 7)})
case("einsum_attention", [
    N("Einsum", ["q", "k"], ["s"], equation="bhid,bhjd->bhij"), N("Softmax", ["s"], ["p"], axis=-1),
    N("Einsum", ["p", "v"], ["o"], equation="bhij,bhjd->bhid"), N("Einsum", ["o"], ["y"], equation="bhid->bihd"),
    N("Einsum", ["o", "wo"], ["z"], equation="bhid,hde->bie")],
    {"q": f32(2, 3, 5, 4), "k": f32(2, 3, 6, 4), "v": f32(2, 3, 6, 4)}, ["y", "z"], {"wo": f32(3, 4, 7)})
case("attention_block", [
    N("MatMul", ["x", "wq"], ["q0"]), N("Reshape", ["q0", "hs"], ["q1"]), N("Transpose", ["q1"], ["q"], perm=[0, 2, 1, 3]),
    N("Transpose", ["q1"], ["kt"], perm=[0, 2, 3, 1]), N("MatMul", ["q", "kt"], ["s0"]), N("Div", ["s0", "sc"], ["s"]),
    N("Softmax", ["s"], ["p"], axis=-1), N("MatMul", ["p", "q"], ["o"]), N("Transpose", ["o"], ["o1"], perm=[0, 2, 1, 3]),
    N("Reshape", ["o1", "back"], ["y"])], {"x": f32(2, 6, 8)}, ["y"],
    {"wq": f32(8, 8), "hs": i64(2, 6, 2, 4), "sc": np.array(2.0, np.float32), "back": i64(2, 6, 8)})

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
print(f"{len(cases)} cases written to {out}")
