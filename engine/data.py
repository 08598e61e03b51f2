"""Seeded two-class data sets in plain Python, and the notebook's four samples.

Every generator returns (inputs, labels) with labels -1.0 / +1.0, one per sample, and draws all
its randomness from the `random.Random` it is given. `labels_for` maps them to 0.0 / 1.0 for
binary_cross_entropy, so generated labels always fit the loss.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

Samples = tuple[list[list[float]], list[float]]
Generator = Callable[[int, float, random.Random], Samples]

NOTEBOOK_INPUTS = [
    [2.0, 3.0, -1.0],
    [3.0, -1.0, 0.5],
    [0.5, 1.0, 1.0],
    [1.0, 1.0, -1.0],
]
NOTEBOOK_TARGETS = [1.0, -1.0, -1.0, 1.0]


def notebook(samples: int, noise: float, rng: random.Random) -> Samples:
    """The notebook's four 3-input samples; samples, noise and rng are ignored."""
    return [list(x) for x in NOTEBOOK_INPUTS], list(NOTEBOOK_TARGETS)


def moons(samples: int, noise: float, rng: random.Random) -> Samples:
    """Two interleaving half circles (as scikit-learn's make_moons), shuffled."""
    n_outer = samples // 2
    points = []
    for i in range(n_outer):
        a = math.pi * i / max(n_outer - 1, 1)
        points.append((math.cos(a), math.sin(a), -1.0))
    for i in range(samples - n_outer):
        a = math.pi * i / max(samples - n_outer - 1, 1)
        points.append((1.0 - math.cos(a), 0.5 - math.sin(a), 1.0))
    return _finish(points, noise, rng)


def circles(samples: int, noise: float, rng: random.Random) -> Samples:
    """A circle of radius 0.5 (label +1) inside one of radius 1 (label -1), shuffled."""
    n_outer = samples // 2
    points = []
    for n, radius, label in ((n_outer, 1.0, -1.0), (samples - n_outer, 0.5, 1.0)):
        for i in range(n):
            a = 2.0 * math.pi * i / n
            points.append((radius * math.cos(a), radius * math.sin(a), label))
    return _finish(points, noise, rng)


def xor(samples: int, noise: float, rng: random.Random) -> Samples:
    """Points uniform in [-1, 1]^2, labelled +1 where x y > 0 (quadrants I and III), else -1."""
    points = []
    for _ in range(samples):
        x, y = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        points.append((x, y, 1.0 if x * y > 0.0 else -1.0))
    return _finish(points, noise, rng)


def spiral(samples: int, noise: float, rng: random.Random) -> Samples:
    """Two interleaved spirals of 1.75 turns, one per class, shuffled."""
    n_first = samples // 2
    points = []
    for n, turn, label in ((n_first, 0.0, -1.0), (samples - n_first, math.pi, 1.0)):
        for i in range(n):
            r = (i + 1) / n
            a = 3.5 * math.pi * r + turn
            points.append((r * math.cos(a), r * math.sin(a), label))
    return _finish(points, noise, rng)


GENERATORS: dict[str, Generator] = {
    "notebook": notebook,
    "moons": moons,
    "circles": circles,
    "xor": xor,
    "spiral": spiral,
}

# Generators with fixed samples, and how many: they ignore the samples and noise asked for.
FIXED = {"notebook": len(NOTEBOOK_INPUTS)}

# Inputs per sample of each generator.
DIMENSIONS = {"notebook": 3, "moons": 2, "circles": 2, "xor": 2, "spiral": 2}


def generate(name: str, samples: int, noise: float, seed: int) -> Samples:
    """Run a generator with the data RNG derived from the job seed."""
    # A string seed gives a stream independent of random.Random(seed), which draws the weights.
    return GENERATORS[name](samples, noise, random.Random(f"{seed}:data"))


def labels_for(loss: str, labels: list[float]) -> list[float]:
    """Map -1/+1 labels to 0/1 for binary_cross_entropy; others keep -1/+1."""
    if loss == "binary_cross_entropy":
        return [(t + 1.0) / 2.0 for t in labels]
    return labels


def _finish(points: list[tuple[float, float, float]], noise: float, rng: random.Random) -> Samples:
    # Gaussian noise on both coordinates, then a shuffle so the classes are not in two blocks.
    noisy = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise), t] for x, y, t in points]
    rng.shuffle(noisy)
    return [[x, y] for x, y, _ in noisy], [t for _, _, t in noisy]
