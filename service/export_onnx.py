"""A trained MLP as an ONNX model: per layer a Gemm (x W^T + b), then its activation's operator.

The graph is built in stages that each take the name of the tensor so far and add nodes after
it: what is done to the inputs before the network (for a model trained on standardized
inputs, a Sub and a Div by its statistics), the network's layers, then the heads that the
loss gives the outputs (a cross-entropy classifier's softmax probabilities beside its logits).

The weights document (engine/weights.py) is the source; the job id and spec travel in the
model's metadata_props. float64 by default, so onnxruntime agrees with /predict to rounding;
float32 for runtimes and accelerators that want it.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, ValueInfoProto, helper, numpy_helper

from engine.errors import SpecError
from engine.losses import CLASS_LABELS
from engine.weights import FORMAT

OPSET = 17  # Gemm, Tanh, Relu, Sigmoid and Softmax all take float64 here; onnxruntime runs it
IR_VERSION = 8  # the IR version of opset 17, so older runtimes load the file too
DTYPES = {"float64": (np.float64, TensorProto.DOUBLE), "float32": (np.float32, TensorProto.FLOAT)}
OPERATORS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "linear": None}
INPUT, OUTPUT, PROBABILITIES = "input", "output", "probabilities"


@dataclass
class _Graph:
    """The nodes and constants so far, and the tensor type every stage writes."""

    np_type: Any
    onnx_type: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    outputs: list[ValueInfoProto] = field(default_factory=list)

    def constant(self, name: str, values: Any) -> str:
        """Add a constant tensor of the graph's type; its name."""
        self.initializers.append(numpy_helper.from_array(np.array(values, self.np_type), name))
        return name

    def node(self, operator: str, inputs: list[str], output: str, **attributes: Any) -> str:
        """Add one operator; the name of its output."""
        self.nodes.append(helper.make_node(operator, inputs, [output], **attributes))
        return output

    def output(self, name: str, width: int) -> None:
        """Make tensor ``name`` an output of the model, [N, width]."""
        self.outputs.append(helper.make_tensor_value_info(name, self.onnx_type, ["N", width]))


def to_onnx(
    weights: dict[str, Any], job_id: str, spec: dict[str, Any], dtype: str = "float64"
) -> bytes:
    """The serialised, checked ONNX model: input "input" [N, inputs], output "output" [N,
    outputs] (what /predict calls outputs), and for a cross-entropy classifier "probabilities"
    [N, classes] (its softmax rows).

    SpecError for a document with an activation ONNX export cannot write.
    """
    if weights.get("format") != FORMAT:
        raise SpecError(f"weights: expected a {FORMAT!r} document")
    graph = _Graph(*DTYPES[dtype])
    current = _prepared_inputs(graph, INPUT, weights.get("normalize"))
    _layers(graph, weights["layers"], current)
    width = len(weights["layers"][-1]["biases"])
    graph.output(OUTPUT, width)
    _heads(graph, spec.get("training", {}).get("loss"), OUTPUT, width)
    onnx_graph = helper.make_graph(
        graph.nodes,
        f"gradyard_{job_id}",
        [helper.make_tensor_value_info(INPUT, graph.onnx_type, ["N", weights["inputs"]])],
        graph.outputs,
        graph.initializers,
    )
    model = helper.make_model(
        onnx_graph,
        producer_name="gradyard",
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
    )
    props = {"gradyard.job_id": job_id, "gradyard.spec": json.dumps(spec), "gradyard.dtype": dtype}
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())


def _prepared_inputs(graph: _Graph, current: str, stats: dict[str, Any] | None) -> str:
    """What is done to the raw inputs before the first layer: for a model trained on
    standardized inputs, (x - mean) / deviation, as /predict does; else nothing."""
    if stats is None:
        return current
    mean = graph.constant("normalize.mean", stats["mean"])
    deviation = graph.constant("normalize.std", stats["std"])
    centred = graph.node("Sub", [current, mean], "normalize.centred")
    return graph.node("Div", [centred, deviation], "normalize.x")


def _layers(graph: _Graph, layers: list[dict[str, Any]], current: str) -> None:
    """The network, from tensor ``current`` to the tensor named OUTPUT."""
    for i, layer in enumerate(layers, start=1):
        activation = layer["activation"]
        if activation not in OPERATORS:
            raise SpecError(f"weights: layers[{i - 1}] has an activation ONNX export cannot write")
        w = graph.constant(f"layer{i}.weight", layer["weights"])
        b = graph.constant(f"layer{i}.bias", layer["biases"])
        last, operator = i == len(layers), OPERATORS[activation]
        z = OUTPUT if last and operator is None else f"layer{i}.z"
        # Gemm: z = x @ W^T + b, W stored as the document has it (a row per neuron).
        current = graph.node("Gemm", [current, w, b], z, transB=1)
        if operator is not None:  # linear: the Gemm's output is the layer's
            current = graph.node(operator, [z], OUTPUT if last else f"layer{i}.y")


def _heads(graph: _Graph, loss: str | None, outputs: str, width: int) -> None:
    """Outputs the loss gives meaning to: a k-class model's logits become probabilities."""
    if loss in CLASS_LABELS:
        # softmax(z)_i = e^z_i / sum_j e^z_j along each row, as /predict's "probabilities"
        graph.output(graph.node("Softmax", [outputs], PROBABILITIES, axis=1), width)
