"""A trained MLP as an ONNX model: per layer a Gemm (x W^T + b), then its activation's operator;
first, for a model trained on standardized inputs, a Sub and a Div by its statistics.

The weights document (engine/weights.py) is the source; the job id and spec travel in the
model's metadata_props. float64 by default, so onnxruntime agrees with /predict to rounding;
float32 for runtimes and accelerators that want it.
"""

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.errors import SpecError
from engine.weights import FORMAT

OPSET = 17  # Gemm, Tanh, Relu and Sigmoid all take float64 here; onnxruntime runs it
IR_VERSION = 8  # the IR version of opset 17, so older runtimes load the file too
DTYPES = {"float64": (np.float64, TensorProto.DOUBLE), "float32": (np.float32, TensorProto.FLOAT)}
OPERATORS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "linear": None}


def to_onnx(
    weights: dict[str, Any], job_id: str, spec: dict[str, Any], dtype: str = "float64"
) -> bytes:
    """The serialised, checked ONNX model: input "input" [N, inputs], output "output" [N, outputs].

    SpecError for a document with an activation ONNX export cannot write.
    """
    if weights.get("format") != FORMAT:
        raise SpecError(f"weights: expected a {FORMAT!r} document")
    np_type, onnx_type = DTYPES[dtype]
    nodes, initializers = [], []
    current = "input"
    stats = weights.get("normalize")
    if stats is not None:  # the model takes raw inputs: (x - mean) / std first, as /predict
        mean = numpy_helper.from_array(np.array(stats["mean"], dtype=np_type), "normalize.mean")
        std = numpy_helper.from_array(np.array(stats["std"], dtype=np_type), "normalize.std")
        initializers += [mean, std]
        nodes.append(helper.make_node("Sub", [current, mean.name], ["normalize.centred"]))
        nodes.append(helper.make_node("Div", ["normalize.centred", std.name], ["normalize.x"]))
        current = "normalize.x"
    layers = weights["layers"]
    for i, layer in enumerate(layers, start=1):
        activation = layer["activation"]
        if activation not in OPERATORS:
            raise SpecError(f"weights: layers[{i - 1}] has an activation ONNX export cannot write")
        w = numpy_helper.from_array(np.array(layer["weights"], dtype=np_type), f"layer{i}.weight")
        b = numpy_helper.from_array(np.array(layer["biases"], dtype=np_type), f"layer{i}.bias")
        initializers += [w, b]
        last, operator = i == len(layers), OPERATORS[activation]
        z = "output" if last and operator is None else f"layer{i}.z"
        # Gemm: z = x @ W^T + b, W stored as the document has it (a row per neuron).
        nodes.append(helper.make_node("Gemm", [current, w.name, b.name], [z], transB=1))
        current = z
        if operator is not None:  # linear: the Gemm's output is the layer's
            y = "output" if last else f"layer{i}.y"
            nodes.append(helper.make_node(operator, [z], [y]))
            current = y
    nout = len(layers[-1]["biases"])
    graph = helper.make_graph(
        nodes,
        f"gradyard_{job_id}",
        [helper.make_tensor_value_info("input", onnx_type, ["N", weights["inputs"]])],
        [helper.make_tensor_value_info("output", onnx_type, ["N", nout])],
        initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="gradyard",
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
    )
    props = {"gradyard.job_id": job_id, "gradyard.spec": json.dumps(spec), "gradyard.dtype": dtype}
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())
