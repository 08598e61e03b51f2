"""What a classifier's outputs say: class labels, probabilities, and the confusion matrix.

cross_entropy models output k logits: their class is the argmax, their probabilities the softmax.
binary_cross_entropy models output p = sigmoid(z) per output: class 1 when p > 0.5, else 0.
hinge models output a score per output: class +1 when it is > 0, else -1; a margin is no
probability, so they have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.losses import CLASSIFIERS, LABELS, argmax, softmax
from engine.spec import JobSpec, parse_spec
from engine.train import judged_on
from engine.weights import predict

Outputs = list[float] | list[list[float]]


def labels(loss: str, outputs: Outputs) -> list[int] | list[list[int]]:
    """Each sample's class (a list per sample for a multi-output binary model)."""
    rows = [row if isinstance(row, list) else [row] for row in outputs]
    if loss == "cross_entropy":
        return [argmax(row) for row in rows]
    negative, positive = (int(x) for x in LABELS[loss])
    cut = 0.5 if loss == "binary_cross_entropy" else 0.0
    classes = [[positive if y > cut else negative for y in row] for row in rows]
    if outputs and not isinstance(outputs[0], list):
        return [row[0] for row in classes]
    return classes


def probabilities(loss: str, outputs: Outputs) -> Outputs | None:
    """Softmax rows (cross_entropy), the positive class's probability (binary), or None (hinge)."""
    if loss == "cross_entropy":
        return [softmax(row) for row in outputs]  # type: ignore[arg-type]
    if loss == "binary_cross_entropy":
        return outputs
    return None


def confusion(
    spec: Mapping[str, Any] | JobSpec, weights: dict[str, Any]
) -> tuple[str, list[int], list[list[int]]]:
    """Which samples a classifier is judged on ("validation" when it held some out, else
    "training"), its class labels, and counts[true][predicted] on those samples."""
    s = parse_spec(spec)
    loss = s.training.loss
    if loss not in CLASSIFIERS:
        raise ValueError(f"{loss} is a regression loss: it has no classes")
    split, (inputs, targets) = judged_on(s)
    predicted = labels(loss, predict(weights, inputs))
    if loss == "cross_entropy":
        names = list(range(s.model.layers[-1]))
    else:
        names = [int(x) for x in LABELS[loss]]
    index = {name: i for i, name in enumerate(names)}
    counts = [[0] * len(names) for _ in names]
    # Every (sample, output) pair of a binary model counts; a k-class model has one per sample.
    for ts, ps in zip(targets, predicted, strict=True):
        for t, p in zip(ts, ps if isinstance(ps, list) else [ps], strict=True):
            counts[index[int(t)]][index[p]] += 1
    return split, names, counts
