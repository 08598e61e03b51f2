"""Losses over a batch, each one fused node; the L2 penalty; accuracy for the classifying losses.

`outputs[s][k]` is output k of sample s and `targets[s][k]` its target: a multi-output model
takes one target per output, and every (sample, output) pair is one term of the loss. The
exception is cross_entropy, whose k outputs score k classes: its target is one label per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence, Sized
from typing import TypeVar

from engine.activations import sigmoid
from engine.errors import NonFiniteError
from engine.value import Value, node

Outputs = Sequence[Sequence[Value]]
Targets = Sequence[Sequence[float]]
Loss = Callable[[Outputs, Targets], Value]
_T = TypeVar("_T", Value, float)


def sum_squared(outputs: Outputs, targets: Targets) -> Value:
    """Sum of (y - t)**2 over every output: the notebook's loss."""
    s, children, local = _squares(outputs, targets)
    return _loss("sum_squared", s, children, local, 1.0)


def mean_squared(outputs: Outputs, targets: Targets) -> Value:
    """Mean of (y - t)**2 over every output."""
    s, children, local = _squares(outputs, targets)
    return _loss("mean_squared", s / len(children), children, local, 1.0 / len(children))


def hinge(outputs: Outputs, targets: Targets) -> Value:
    """Mean of max(0, 1 - t y) for labels t = +-1 (the max-margin loss)."""
    s = 0.0
    children: list[Value] = []
    local: list[float] = []
    for y, t in _pairs(outputs, targets):
        margin = 1.0 - t * y.data
        # d/dy max(0, 1 - t y) = -t inside the margin, 0 outside
        if margin > 0.0:
            s += margin
            local.append(-t)
        else:
            local.append(0.0)
        children.append(y)
    return _loss("hinge", s / len(children), children, local, 1.0 / len(children))


def binary_cross_entropy(logits: Outputs, targets: Targets) -> Value:
    """Mean of -[t log p + (1 - t) log(1 - p)] with p = sigmoid(z), from the logits z, t in {0, 1}.

    Rewritten as softplus(z) - t z = max(z, 0) - t z + log(1 + e^-|z|), which never overflows
    and never takes log(0), even when p rounds to 0.0 or 1.0.
    """
    s = 0.0
    children: list[Value] = []
    local: list[float] = []
    for z, t in _pairs(logits, targets):
        x = z.data
        s += max(x, 0.0) - t * x + math.log1p(math.exp(-abs(x)))
        local.append(sigmoid(x)[0] - t)  # d/dz = sigmoid(z) - t
        children.append(z)
    return _loss("binary_cross_entropy", s / len(children), children, local, 1.0 / len(children))


def cross_entropy(logits: Outputs, targets: Targets) -> Value:
    """Mean over samples of -log softmax(z)_t, from the k logits z and the integer label t.

    -log softmax(z)_t = logsumexp(z) - z_t, with logsumexp(z) = m + log sum_i e^(z_i - m) for
    m = max z: every exponent is <= 0, so nothing overflows and the log's argument is >= 1.
    d/dz_i = softmax(z)_i - [i == t], which lies in [-1, 1] whatever the logits.
    """
    if len(logits) != len(targets) or any(len(ts) != 1 for ts in targets):
        raise ValueError("expected one label per sample")
    s = 0.0
    children: list[Value] = []
    local: list[float] = []
    for zs, (t,) in zip(logits, targets):  # noqa: B905 (lengths checked above)
        label = int(t)
        if label != t or not 0 <= label < len(zs):
            raise ValueError(f"expected a label 0 to {len(zs) - 1}, got {t}")
        p, lse = _softmax([z.data for z in zs])
        s += lse - zs[label].data
        local += p
        local[len(children) + label] -= 1.0
        children += zs
    return _loss("cross_entropy", s / len(logits), children, local, 1.0 / len(logits))


def softmax(logits: Sequence[float]) -> list[float]:
    """The probabilities e^z_i / sum_j e^z_j, computed without overflow."""
    return _softmax(logits)[0]


def l2_penalty(params: Sequence[Value], l2: float) -> Value:
    """l2 * sum(p * p) as one node (the notebook's Q&A on regularisation)."""
    data = tuple(p.data for p in params)
    s = 0.0
    for x in data:
        s += x * x
    # d/dp l2 p**2 = 2 l2 p: the data are the local gradients, 2 l2 the shared scale
    return _loss("l2", l2 * s, params, data, 2.0 * l2)


def correct(loss: str, outputs: Sequence[Sequence[float]], targets: Targets) -> int | None:
    """How many (sample, output) pairs a classifying loss gets right; None for regression.

    hinge: right when t y > 0 (a score of exactly 0 is never right).
    binary_cross_entropy (on logits): predicts 1 when z > 0, i.e. p > 0.5.
    cross_entropy: one pair per sample, right when the label is the argmax of the logits.
    """
    if loss == "cross_entropy":
        return sum(1 for zs, ts in zip(outputs, targets, strict=True) if argmax(zs) == ts[0])
    pairs = _pairs(outputs, targets)
    if loss == "hinge":
        return sum(1 for y, t in pairs if t * y > 0.0)
    if loss == "binary_cross_entropy":
        return sum(1 for y, t in pairs if (y > 0.0) == (t == 1.0))
    return None


def squared_errors(outputs: Sequence[Sequence[float]], targets: Targets) -> float:
    """The sum of (y - t)**2 over every (sample, output) pair: a regression's error, unweighted."""
    return math.fsum((y - t) ** 2 for y, t in _pairs(outputs, targets))


def argmax(xs: Sequence[float]) -> int:
    """The index of the largest value, the first of equals (as torch.argmax)."""
    return max(range(len(xs)), key=xs.__getitem__)


LOSSES: dict[str, Loss] = {
    "sum_squared": sum_squared,
    "mean_squared": mean_squared,
    "hinge": hinge,
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
}

# The labels each classifying loss expects; the others take any finite target.
LABELS: dict[str, tuple[float, float]] = {
    "hinge": (-1.0, 1.0),
    "binary_cross_entropy": (0.0, 1.0),
}

# Losses whose target is one class label per sample, 0 to k - 1 for a model of k outputs.
CLASS_LABELS = frozenset({"cross_entropy"})

# The losses that classify (accuracy, class predictions, a confusion matrix); the rest regress.
CLASSIFIERS = frozenset(LABELS) | CLASS_LABELS

# The output activation a loss needs: binary_cross_entropy scores probabilities, cross_entropy
# takes the raw logits (its softmax is inside the loss).
OUTPUT_ACTIVATIONS = {"binary_cross_entropy": "sigmoid", "cross_entropy": "linear"}

# Losses computed from the output layer's pre-activation (its logit) rather than its output.
ON_LOGITS = frozenset({"binary_cross_entropy"})


def _squares(outputs: Outputs, targets: Targets) -> tuple[float, list[Value], list[float]]:
    s = 0.0
    children: list[Value] = []
    local: list[float] = []
    for y, t in _pairs(outputs, targets):
        e = y.data - t
        s += e * e
        children.append(y)
        local.append(2.0 * e)  # d/dy (y - t)**2 = 2 (y - t)
    return s, children, local


def _pairs(outputs: Sequence[Sequence[_T]], targets: Targets) -> list[tuple[_T, float]]:
    # Every (output, target) pair, sample by sample. Lengths are checked once, up front:
    # zip(strict=True) would parse a keyword argument per sample, a cost felt in small steps.
    if len(outputs) != len(targets) or any(map(_differ, outputs, targets)):
        raise ValueError("expected one target per output of every sample")
    return [(y, t) for ys, ts in zip(outputs, targets) for y, t in zip(ys, ts)]  # noqa: B905


def _softmax(z: Sequence[float]) -> tuple[list[float], float]:
    # softmax(z) and logsumexp(z), both shifted by m = max z so that every e^(z_i - m) <= 1.
    m = max(z)
    e = [math.exp(x - m) for x in z]
    total = math.fsum(e)
    return [x / total for x in e], m + math.log(total)


def _differ(ys: Sized, ts: Sized) -> bool:
    return len(ys) != len(ts)


def _loss(
    op: str, data: float, children: Sequence[Value], local: Sequence[float], scale: float
) -> Value:
    if not math.isfinite(data):
        raise NonFiniteError(op, (), f"overflowed to {data}")
    return node(data, tuple(children), tuple(local), op, scale)
