#!/usr/bin/env python3
"""Small ONNX models for the ONNX reader's tests, and what the onnx Python package reads from them.

Usage: make_onnx_fixtures.py OUT_DIR

Writes OUT_DIR/NAME.onnx (plus OUT_DIR/NAME.weights.bin for external data) and OUT_DIR/NAME.json,
the oracle: every field MedVox decodes, as onnx's Python API reports it after onnx.load.
torch is not among the test oracles (Tools/requirements-dev.txt), so the graphs are built with
onnx.helper the way torch.onnx.export lays them out: weights as raw_data initializers, Constant
nodes, dynamic axes as dim_param. Values come from a fixed numpy seed; nothing is downloaded.

- conv_opset13: Conv/BatchNormalization/Relu/MaxPool/Reshape/Gemm + Constant, inline weights,
  one initializer per data type read (FLOAT16, DOUBLE, INT8, UINT8, BOOL, INT32, INT64 scalar),
  some stored in typed fields (float_data, int64_data, int32_data) instead of raw_data, metadata.
- dynamic_opset17: dim_param axes (batch, H, W), Resize with an omitted input (""), an If node
  whose branches are graph attributes (which MedVox keeps as unsupported markers), value_info.
- external_opset21: weights in an external file (save_as_external_data, one file, offsets).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(15)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def conv_block(opset, inline_typed):
    """The conv net shared by the opset 13 and 21 models; returns (nodes, initializers)."""
    w = numpy_helper.from_array(f32(4, 1, 3, 3), "conv.weight")
    if inline_typed:  # float_data rather than raw_data
        b = helper.make_tensor("conv.bias", TensorProto.FLOAT, [4], f32(4).tolist())
        shape = helper.make_tensor("flat.shape", TensorProto.INT64, [2], [1, -1])
    else:
        b = numpy_helper.from_array(f32(4), "conv.bias")
        shape = numpy_helper.from_array(np.array([1, -1], np.int64), "flat.shape")
    inits = [
        w, b, shape,
        numpy_helper.from_array(np.abs(f32(4)) + 0.5, "bn.scale"),
        numpy_helper.from_array(f32(4), "bn.bias"),
        numpy_helper.from_array(f32(4), "bn.mean"),
        numpy_helper.from_array(np.abs(f32(4)) + 0.1, "bn.var"),
        numpy_helper.from_array(f32(3, 64), "fc.weight"),
        numpy_helper.from_array(f32(3), "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv.weight", "conv.bias"], ["c1"], name="/conv/Conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1,
                         auto_pad="NOTSET"),
        helper.make_node("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["b1"],
                         name="/bn/BatchNormalization", epsilon=1e-5, momentum=0.9),
        helper.make_node("Relu", ["b1"], ["r1"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2],
                         ceil_mode=0),
        helper.make_node("Reshape", ["p1", "flat.shape"], ["f1"], name="/Reshape"),
        helper.make_node("Gemm", ["f1", "fc.weight", "fc.bias"], ["g1"], name="/fc/Gemm", alpha=1.0, beta=1.0,
                         transB=1),
        helper.make_node("Constant", [], ["k"], name="/Constant",
                         value=numpy_helper.from_array(np.array([0.5, -2.0, 3.25], np.float32), "k")),
        helper.make_node("Mul", ["g1", "k"], ["logits"], name="/Mul"),
    ]
    return nodes, inits


def conv_io():
    return ([helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 8, 8])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])])


def model(graph, opset, **kw):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch",
                          producer_version="2.5.0", ir_version=helper.find_min_ir_version_for(
                              [helper.make_opsetid("", opset)]), **kw)
    return m


def conv_opset13():
    nodes, inits = conv_block(13, inline_typed=True)
    inits += [
        numpy_helper.from_array(np.array([1.0, -0.5, 65504.0, 6.1e-5, 0.0], np.float16), "half"),
        numpy_helper.from_array(np.array([[1.0 / 3, -2.5e-3]], np.float64), "double"),
        numpy_helper.from_array(np.array([-128, -1, 0, 127], np.int8), "int8"),
        numpy_helper.from_array(np.array([0, 1, 255], np.uint8), "uint8"),
        numpy_helper.from_array(np.array([True, False, True]), "bool"),
        helper.make_tensor("int32", TensorProto.INT32, [2, 2], [-7, 0, 2147483647, -2147483648]),
        helper.make_tensor("half_typed", TensorProto.FLOAT16, [2], np.array([0.25, -3.0], np.float16)),
        numpy_helper.from_array(np.array(42, np.int64), "scalar"),
        helper.make_tensor("double_typed", TensorProto.DOUBLE, [2], [0.1, 1e300]),
    ]
    inputs, outputs = conv_io()
    g = helper.make_graph(nodes, "main_graph", inputs, outputs, inits)
    m = model(g, 13)
    helper.set_model_props(m, {"task": "classify", "labels": "a,b,c"})
    return m


def dynamic_opset17():
    inits = [numpy_helper.from_array(f32(2, 1, 3, 3), "conv.weight"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             numpy_helper.from_array(np.array(True), "flag")]
    then_g = helper.make_graph([helper.make_node("Identity", ["s1"], ["then_out"])], "then",
                               [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Neg", ["s1"], ["else_out"])], "else",
                               [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, None)])
    nodes = [
        helper.make_node("Conv", ["image", "conv.weight"], ["c1"], name="/conv/Conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c1"], ["s1"], name="/Sigmoid"),
        helper.make_node("If", ["flag"], ["i1"], name="/If", then_branch=then_g, else_branch=else_g),
        helper.make_node("Resize", ["i1", "", "scales"], ["probs"], name="/Resize", mode="linear",
                         coordinate_transformation_mode="half_pixel"),
    ]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, "H", "W"])]
    outputs = [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 2, "H2", "W2"])]
    info = [helper.make_tensor_value_info("c1", TensorProto.FLOAT, ["batch", 2, "H", "W"]),
            helper.make_tensor_value_info("s1", TensorProto.FLOAT, None)]
    g = helper.make_graph(nodes, "dynamic", inputs, outputs, inits, value_info=info)
    return model(g, 17)


def external_opset21():
    nodes, inits = conv_block(21, inline_typed=False)
    inputs, outputs = conv_io()
    return model(helper.make_graph(nodes, "external", inputs, outputs, inits), 21)


def dims(type_proto):
    if not type_proto.HasField("tensor_type"):
        return None
    tt = type_proto.tensor_type
    if not tt.HasField("shape"):
        return {"elem_type": tt.elem_type, "shape": None}
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
             for d in tt.shape.dim]
    return {"elem_type": tt.elem_type, "shape": shape}


def tensor_json(t, base):
    a = numpy_helper.to_array(t, base_dir=base)
    kind = "float" if a.dtype.kind == "f" else "int"
    return {"name": t.name, "data_type": t.data_type, "dims": list(t.dims),
            "external": t.data_location == TensorProto.EXTERNAL,
            "floats": [float(x) for x in a.reshape(-1)] if kind == "float" else None,
            "ints": [int(x) for x in a.reshape(-1)] if kind == "int" else None}


def attribute_json(a, base):
    j = {"name": a.name, "type": a.type}
    A = onnx.AttributeProto
    if a.type == A.FLOAT: j["f"] = a.f
    elif a.type == A.INT: j["i"] = a.i
    elif a.type == A.STRING: j["s"] = a.s.decode()
    elif a.type == A.TENSOR: j["t"] = tensor_json(a.t, base)
    elif a.type == A.FLOATS: j["floats"] = list(a.floats)
    elif a.type == A.INTS: j["ints"] = list(a.ints)
    elif a.type == A.STRINGS: j["strings"] = [s.decode() for s in a.strings]
    else: j["unsupported"] = True
    return j


def value_json(v):
    return {"name": v.name, "type": dims(v.type) if v.HasField("type") else None}


def dump(path):
    """What onnx reads from the file at `path`, as the JSON the Swift test compares against."""
    base = os.path.dirname(path)
    m = onnx.load(path, load_external_data=False)
    g = m.graph
    ops = {}
    for n in g.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    weights = {t.name for t in g.initializer}
    return {
        "made_by": "Fixtures/onnx/make_onnx_fixtures.py (onnx %s)" % onnx.__version__,
        "ir_version": m.ir_version, "producer_name": m.producer_name, "producer_version": m.producer_version,
        "opsets": [{"domain": o.domain, "version": o.version} for o in m.opset_import],
        "metadata": [{"key": p.key, "value": p.value} for p in m.metadata_props],
        "graph_name": g.name,
        "nodes": [{"name": n.name, "op_type": n.op_type, "domain": n.domain, "inputs": list(n.input),
                   "outputs": list(n.output), "attributes": [attribute_json(a, base) for a in n.attribute]}
                  for n in g.node],
        "initializers": [tensor_json(t, base) for t in g.initializer],
        "inputs": [value_json(v) for v in g.input], "outputs": [value_json(v) for v in g.output],
        "value_info": [value_json(v) for v in g.value_info],
        "op_counts": ops,
        "parameter_count": int(sum(int(np.prod(t.dims)) for t in g.initializer)),
        "runtime_inputs": [v.name for v in g.input if v.name not in weights],
    }


for name, make in [("conv_opset13", conv_opset13), ("dynamic_opset17", dynamic_opset17),
                   ("external_opset21", external_opset21)]:
    m = make()
    onnx.checker.check_model(m)
    path = os.path.join(out, name + ".onnx")
    if name.startswith("external"):
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=name + ".weights.bin", size_threshold=0)
    else:
        onnx.save_model(m, path)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(dump(path), f, indent=1)
    print(path)
