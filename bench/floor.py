"""The moons epoch written by hand in pure Python, with no graph: the floor our engine is held to.

The same step as ``Training.run_epoch`` on bench/engine.py's moons spec: MLP(2, [16, 16, 1]),
relu hidden layers and a linear output, 100 samples in one full batch, hinge loss (the mean of
max(0, 1 - t s)) plus l2 * sum(w**2) over weights and biases, plain SGD, the accuracy counted.
No graph: forward keeps each layer's inputs, backward is the chain rule written out over the
weight matrices, and every dot product is ``sum(map(mul, ...))`` (the loop runs in C), the
fastest pure-Python form we found. What it shows is what our scalar engine costs above the
arithmetic that pure Python cannot avoid.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import mul

Matrix = list[list[float]]


def moons_floor(
    weights: list[Matrix],
    biases: Matrix,
    xs: list[list[float]],
    ts: list[float],
    l2: float,
    lr: float,
) -> Callable[[], tuple[float, int]]:
    """A function running one hand-written epoch per call: its loss and right answers.

    ``weights[k][j]`` are the weights into neuron j of layer k, ``biases[k][j]`` its bias (both
    updated in place); every hidden layer is relu, the last linear. Started from our engine's
    initial weights it computes the engine's losses bit for bit (bench/engine.py checks).
    """
    n, last = len(xs), len(weights) - 1

    def epoch() -> tuple[float, int]:
        columns = [[list(col) for col in zip(*w, strict=True)] for w in weights]
        # Per layer, per sample in the margin: the layer's input and its output's gradient.
        inputs: list[Matrix] = [[] for _ in weights]
        deltas: list[Matrix] = [[] for _ in weights]
        total, correct = 0.0, 0
        for x, t in zip(xs, ts, strict=True):
            seen, h = [], x
            for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
                seen.append(h)
                z = [sum(map(mul, row, h), bj) for row, bj in zip(w, b, strict=True)]
                h = z if k == last else [v if v > 0.0 else 0.0 for v in z]
            s = h[0]
            correct += t * s > 0.0
            margin = 1.0 - t * s
            if margin <= 0.0:
                continue  # outside the margin: no loss, no gradient
            total += margin
            delta = [-t / n]  # d/ds mean(max(0, 1 - t s)) = -t / n inside the margin
            for k in range(last, -1, -1):
                inputs[k].append(seen[k])
                deltas[k].append(delta)
                if k:
                    # back through w, then relu: d relu(z)/dz = 1 where it fired (h > 0), else 0
                    back = [sum(map(mul, delta, col)) for col in columns[k]]
                    delta = [d if hi > 0.0 else 0.0 for d, hi in zip(back, seen[k], strict=True)]
        penalty = 0.0
        for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
            by_input = [list(c) for c in zip(*inputs[k], strict=True)] if inputs[k] else []
            by_output = [list(c) for c in zip(*deltas[k], strict=True)] if deltas[k] else []
            for j, (row, bj) in enumerate(zip(w, b, strict=True)):
                d = by_output[j] if by_output else []
                for i, wi in enumerate(row):
                    grad = sum(map(mul, d, by_input[i])) if d else 0.0
                    penalty += wi * wi
                    row[i] = wi - lr * (grad + 2.0 * l2 * wi)  # d/dw l2 w**2 = 2 l2 w
                penalty += bj * bj
                b[j] = bj - lr * (sum(d) + 2.0 * l2 * bj)
        return total / n + l2 * penalty, correct

    return epoch
