"""A trained MLP as one readable, dependency-free Python file: the weights inline, a function per
layer with its activation spelt out, and predict(rows).

The generated code does the engine's floating-point operations in the engine's order
(engine/weights.py's predict: z = sum(w_i * x_i ..., start=b), then the activation as in
engine/activations.py), so on the same Python its outputs equal /predict's bit for bit.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from engine.errors import SpecError
from engine.weights import FORMAT

# Each activation as the generated file spells it: the engine's arithmetic, without derivatives.
SOURCES = {
    "tanh": '''
def tanh(z):
    """Hyperbolic tangent: (e^z - e^-z) / (e^z + e^-z), saturating at -1 and 1."""
    return math.tanh(z)
''',
    "relu": '''
def relu(z):
    """max(0, z)."""
    return z if z > 0.0 else 0.0
''',
    "sigmoid": '''
def sigmoid(z):
    """The logistic function 1 / (1 + e^-z); it only ever exponentiates z <= 0, so exp cannot
    overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
''',
    "linear": '''
def linear(z):
    """The identity: the neuron's weighted sum as it is."""
    return z
''',
}

_HEADER = '''"""A neural network trained by Gradyard, as plain Python: standard library only.

    import model                          # this file, saved as model.py
    model.predict([[x_1, ..., x_n], ...])  # a number per row (one output), else a list per row

Every neuron computes act(b + w_1 x_1 + w_2 x_2 + ... + w_n x_n), adding in that order, as the
Gradyard engine does: on the Python that served /predict the outputs are the same to the last
bit (before Python 3.12 sum() adds floats plainly; from 3.12 it compensates, on both sides).
"""
'''


def to_python(weights: dict[str, Any], job_id: str | None = None, spec: Any = None) -> str:
    """The source of a Python module whose ``predict(rows)`` runs the weights document's model.

    ``job_id`` and ``spec`` (the normalised job spec) go into its comments. SpecError for a
    document this module cannot write out.
    """
    layers = _layers(weights)
    nin: int = weights["inputs"]
    widths = [nin, *(len(layer["biases"]) for layer in layers)]
    steps = [f"{w} {layer['activation']}" for w, layer in zip(widths[1:], layers, strict=True)]
    shape = " -> ".join([f"{nin} inputs", *steps])
    parts = [_HEADER, "\n"]
    if job_id is not None:
        parts.append(f"# Job: {json.dumps(job_id)}\n")
    if spec is not None:
        parts += _spec_comments(spec)
    parts += [f"# Layers: {shape}\n", f"# Format of the weights: {FORMAT}\n\n", "import math\n"]
    used = dict.fromkeys(layer["activation"] for layer in layers)
    parts += ["\n" + SOURCES[name] for name in used]
    parts.append(f"\n\nINPUTS = {nin}\n")
    stats = weights.get("normalize")
    if stats is not None:
        parts += _normalize_source(stats)
    last = len(layers)
    for i, layer in enumerate(layers, start=1):
        role = "Output layer" if i == last else f"Hidden layer {i}"
        parts += _layer_source(i, role, layer, widths[i - 1])
    parts.append(_predict_source(len(layers), widths[-1], stats is not None))
    return "".join(parts)


def _layers(weights: Any) -> list[dict[str, Any]]:
    # The document's layers, once its shape is one this module can write.
    if not isinstance(weights, dict) or weights.get("format") != FORMAT:
        raise SpecError(f"weights: expected a {FORMAT!r} document")
    layers = weights.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpecError("weights: layers must be a non-empty list")
    for i, layer in enumerate(layers):
        if layer.get("activation") not in SOURCES:
            raise SpecError(f"weights: layers[{i}] has an activation Python export cannot write")
    return layers


def _spec_comments(spec: Any) -> list[str]:
    # The spec as comment lines; inline data is summarised (it can be megabytes).
    shown = dict(spec) if isinstance(spec, dict) else {"spec": spec}
    data = shown.get("data")
    if isinstance(data, dict) and "inputs" in data:
        shown["data"] = f"given inline: {len(data['inputs'])} samples"
    lines = ["# Spec:\n"]
    for key, value in shown.items():
        # json.dumps escapes newlines, so nothing here can end the comment.
        lines.append(f"#   {key}: {json.dumps(value, sort_keys=True)}\n")
    return lines


def _numbers(values: list[Any], indent: str) -> str:
    # repr of a float is its shortest round-tripping form: the weights read back bit for bit.
    text = ", ".join(repr(float(v)) for v in values)
    return textwrap.fill(text, 96, initial_indent=indent, subsequent_indent=indent)


def _row(weights: list[Any]) -> str:
    # A neuron's weights on one line if they fit, else wrapped inside their own brackets.
    line = f"    [{_numbers(weights, '')}],\n"
    if len(line) <= 100:
        return line
    return f"    [\n{_numbers(weights, ' ' * 8)},\n    ],\n"


def _layer_source(i: int, role: str, layer: dict[str, Any], nin: int) -> list[str]:
    act, nout = layer["activation"], len(layer["biases"])
    rows = "".join(_row(w) for w in layer["weights"])
    return [
        f"\n# {role}: {nout} {act} neurons over {nin} inputs.\n",
        f"LAYER_{i}_WEIGHTS = [  # a row per neuron, a weight per input\n{rows}]\n",
        f"LAYER_{i}_BIASES = [  # a bias per neuron\n{_numbers(layer['biases'], ' ' * 4)},\n]\n",
        "\n\n",
        f"def layer_{i}(x):\n",
        f'    """{role}: {act}(b + w_1 x_1 + ... + w_{nin} x_{nin}) for each of its {nout}'
        ' neurons."""\n',
        "    outputs = []\n",
        f"    for w, b in zip(LAYER_{i}_WEIGHTS, LAYER_{i}_BIASES):\n",
        "        z = sum([w_j * x_j for w_j, x_j in zip(w, x)], b)  # b first, then each product\n",
        f"        outputs.append({act}(z))\n",
        "    return outputs\n\n",
    ]


def _normalize_source(stats: dict[str, Any]) -> list[str]:
    # The training split's statistics, applied as engine.standardize applies them.
    return [
        "\n# The model was trained on standardized inputs: raw ones become (x - mean) / std.\n",
        f"MEANS = [\n{_numbers(stats['mean'], ' ' * 4)},\n]\n",
        f"STDS = [\n{_numbers(stats['std'], ' ' * 4)},\n]\n",
        "\n\n",
        "def normalize(x):\n",
        '    """Each input less its training mean, over its training deviation."""\n',
        "    return [(x_j - m) / s for x_j, m, s in zip(x, MEANS, STDS)]\n",
    ]


def _predict_source(count: int, nout: int, normalized: bool = False) -> str:
    calls = "".join(f"        x = layer_{i}(x)\n" for i in range(1, count + 1))
    first = "        x = normalize(x)\n" if normalized else ""
    if nout == 1:
        result, shape = "[y[0] for y in outputs]", "a number per row"
    else:
        result, shape = "outputs", f"a list of {nout} numbers per row"
    return (
        "\n"
        "def predict(rows):\n"
        f'    """The model\'s outputs for rows of INPUTS numbers each: {shape}."""\n'
        "    outputs = []\n"
        "    for row in rows:\n"
        "        if len(row) != INPUTS:\n"
        '            raise ValueError(f"each row needs {INPUTS} numbers, not {len(row)}")\n'
        "        x = [float(v) for v in row]\n"
        f"{first}"
        f"{calls}"
        "        outputs.append(x)\n"
        f"    return {result}\n"
    )
