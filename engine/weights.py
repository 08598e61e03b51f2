"""A trained MLP as JSON (shape, activations, every weight), and prediction from it without a graph.

    {"format": "gradyard.mlp/1", "inputs": 3,
     "layers": [{"activation": "tanh", "weights": [[w, ...] per neuron], "biases": [b, ...]}, ...],
     "normalize": {"mean": [m, ...], "std": [s, ...]}}

"normalize" is there when the job standardized its inputs (engine.standardize): predict() applies
it to raw inputs first, x' = (x - mean) / std, exactly as training did.

Floats are written as Python floats, which json writes as their shortest repr, so they read back
bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import mul
from typing import Any

from engine.activations import ACTIVATIONS, Activation
from engine.errors import NonFiniteError, SpecError
from engine.nn import MLP
from engine.standardize import apply

FORMAT = "gradyard.mlp/1"

# One layer as plain floats: (activation, [(weights, bias) per neuron]).
Plan = list[tuple[Activation, list[tuple[list[float], float]]]]


def dump(mlp: MLP, normalize: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """The model's weights document (with the input statistics it standardizes by, if any)."""
    extra = {"normalize": normalize} if normalize is not None else {}
    return {
        "format": FORMAT,
        "inputs": mlp.nin,
        "layers": [
            {
                "activation": layer.activation,
                "weights": [[w.data for w in n.w] for n in layer.neurons],
                "biases": [n.b.data for n in layer.neurons],
            }
            for layer in mlp.layers
        ],
        **extra,
    }


def load_mlp(weights: dict[str, Any]) -> MLP:
    """An MLP holding exactly the given weights."""
    _plan(weights)
    layers = weights["layers"]
    sizes = [len(layer["biases"]) for layer in layers]
    mlp = MLP(weights["inputs"], sizes)
    for layer, doc in zip(mlp.layers, layers, strict=True):
        for n, ws, b in zip(layer.neurons, doc["weights"], doc["biases"], strict=True):
            n.activation = doc["activation"]
            for w, x in zip(n.w, ws, strict=True):
                w.data = float(x)
            n.b.data = float(b)
    return mlp


def predict(
    weights: dict[str, Any], inputs: Sequence[Sequence[float]]
) -> list[float] | list[list[float]]:
    """The model's outputs: a float per sample for one output, else a list per sample.

    SpecError for a bad document or inputs; NonFiniteError if a neuron's sum overflows.
    """
    plan = _plan(weights)
    nin = weights["inputs"]
    stats = weights.get("normalize")
    outs = []
    for i, x in enumerate(inputs):
        if len(x) != nin or not all(_is_number(v) for v in x):
            raise SpecError(f"inputs[{i}] must be {nin} finite numbers")
        h = [float(v) for v in x]
        if stats is not None:
            h = apply(stats, [h])[0]
        for act, neurons in plan:
            # The same sum, in the same order, as the graph's fused neuron: bit-identical.
            zs = [sum(map(mul, w, h), b) for w, b in neurons]
            if not all(map(math.isfinite, zs)):
                raise NonFiniteError("predict", (), f"inputs[{i}]: w·x + b overflowed")
            h = [act(z)[0] for z in zs]
        outs.append(h)
    if len(plan[-1][1]) == 1:
        return [h[0] for h in outs]
    return outs


def parameter_count(weights: dict[str, Any]) -> int:
    """Weights and biases in a weights document: the multiply-adds ``predict`` spends per row."""
    return sum(len(row) + 1 for layer in weights["layers"] for row in layer["weights"])


def _plan(weights: Any) -> Plan:
    # Validate a weights document and turn it into plain floats.
    if not isinstance(weights, dict) or weights.get("format") != FORMAT:
        raise SpecError(f"weights: expected a {FORMAT!r} document")
    nin = weights.get("inputs")
    layers = weights.get("layers")
    if not isinstance(nin, int) or isinstance(nin, bool) or nin < 1:
        raise SpecError("weights: inputs must be a positive integer")
    if not isinstance(layers, list) or not layers:
        raise SpecError("weights: layers must be a non-empty list")
    _check_normalize(weights.get("normalize", None), nin)
    plan: Plan = []
    for i, layer in enumerate(layers):
        where = f"weights: layers[{i}]"
        if not isinstance(layer, dict) or layer.get("activation") not in ACTIVATIONS:
            raise SpecError(f"{where} needs an activation among {sorted(ACTIVATIONS)}")
        ws, bs = layer.get("weights"), layer.get("biases")
        if not isinstance(ws, list) or not isinstance(bs, list) or not bs or len(ws) != len(bs):
            raise SpecError(f"{where} needs as many weight rows as biases (at least one)")
        neurons = []
        for w, b in zip(ws, bs, strict=True):
            if not isinstance(w, list) or len(w) != nin or not all(map(_is_number, w)):
                raise SpecError(f"{where}: each weight row must be {nin} finite numbers")
            if not _is_number(b):
                raise SpecError(f"{where}: biases must be finite numbers")
            neurons.append(([float(x) for x in w], float(b)))
        plan.append((ACTIVATIONS[layer["activation"]], neurons))
        nin = len(bs)
    return plan


def _check_normalize(stats: Any, nin: int) -> None:
    # Absent, or a mean and a positive deviation per input.
    if stats is None:
        return
    where = "weights: normalize"
    if not isinstance(stats, dict) or set(stats) != {"mean", "std"}:
        raise SpecError(f"{where} must hold a mean and a std per input")
    for name in ("mean", "std"):
        column = stats[name]
        if not isinstance(column, list) or len(column) != nin or not all(map(_is_number, column)):
            raise SpecError(f"{where}: {name} must be {nin} finite numbers")
    if not all(s > 0 for s in stats["std"]):
        raise SpecError(f"{where}: std must be positive")


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
