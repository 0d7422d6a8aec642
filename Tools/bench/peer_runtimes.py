"""The peer runtimes as the benchmarks configure them: onnxruntime (all graph optimisations,
sequential, `threads` intra-op threads) and OpenVINO CPU (fp32 inference precision, latency hint,
one stream, `threads` threads)."""
import numpy as np


def forward_function(engine, model, x, threads):
    """A function running `model` (ONNX bytes, or a file path) on `x` in `engine` ("onnxruntime"
    or "openvino") and returning its first output."""
    if engine == "onnxruntime":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return lambda: sess.run(None, {name: x})[0]
    import openvino as ov
    core = ov.Core()
    m = core.read_model(model=model, weights=b"") if isinstance(model, bytes) else core.read_model(model)
    compiled = core.compile_model(m, "CPU", {
        "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
    req = compiled.create_infer_request()
    return lambda: np.array(req.infer({0: x})[0])
