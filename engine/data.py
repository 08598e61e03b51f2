"""Seeded classification data sets in plain Python, and the notebook's four samples.

Every generator returns (inputs, labels), one label per sample, and draws all its randomness from
the `random.Random` it is given. Two classes are labelled -1.0 / +1.0; spiral and blobs also draw
3 to MAX_CLASSES classes, labelled 0.0 to k - 1. `labels_for` maps -1 / +1 to 0.0 / 1.0 for
binary_cross_entropy and cross_entropy, so generated labels always fit the loss.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

Samples = tuple[list[list[float]], list[float]]
Generator = Callable[[int, float, random.Random, int], Samples]
MAX_CLASSES = 10

NOTEBOOK_INPUTS = [
    [2.0, 3.0, -1.0],
    [3.0, -1.0, 0.5],
    [0.5, 1.0, 1.0],
    [1.0, 1.0, -1.0],
]
NOTEBOOK_TARGETS = [1.0, -1.0, -1.0, 1.0]


def notebook(samples: int, noise: float, rng: random.Random, classes: int = 2) -> Samples:
    """The notebook's four 3-input samples; samples, noise, rng and classes are ignored."""
    return [list(x) for x in NOTEBOOK_INPUTS], list(NOTEBOOK_TARGETS)


def moons(samples: int, noise: float, rng: random.Random, classes: int = 2) -> Samples:
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


def circles(samples: int, noise: float, rng: random.Random, classes: int = 2) -> Samples:
    """A circle of radius 0.5 (label +1) inside one of radius 1 (label -1), shuffled."""
    n_outer = samples // 2
    points = []
    for n, radius, label in ((n_outer, 1.0, -1.0), (samples - n_outer, 0.5, 1.0)):
        for i in range(n):
            a = 2.0 * math.pi * i / n
            points.append((radius * math.cos(a), radius * math.sin(a), label))
    return _finish(points, noise, rng)


def xor(samples: int, noise: float, rng: random.Random, classes: int = 2) -> Samples:
    """Points uniform in [-1, 1]^2, labelled +1 where x y > 0 (quadrants I and III), else -1."""
    points = []
    for _ in range(samples):
        x, y = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        points.append((x, y, 1.0 if x * y > 0.0 else -1.0))
    return _finish(points, noise, rng)


def spiral(samples: int, noise: float, rng: random.Random, classes: int = 2) -> Samples:
    """Interleaved spirals of 1.75 turns, one per class, turned 2 pi / classes apart, shuffled."""
    points = []
    for c, n in enumerate(_shares(samples, classes)):
        turn = 2.0 * math.pi * c / classes  # two classes: 0 and pi, as ever
        for i in range(n):
            r = (i + 1) / n
            a = 3.5 * math.pi * r + turn
            points.append((r * math.cos(a), r * math.sin(a), _label(c, classes)))
    return _finish(points, noise, rng)


def blobs(samples: int, noise: float, rng: random.Random, classes: int = 2) -> Samples:
    """A Gaussian blob per class, centred evenly on the unit circle (noise: their spread)."""
    points = []
    for c, n in enumerate(_shares(samples, classes)):
        a = 2.0 * math.pi * c / classes
        points += [(math.cos(a), math.sin(a), _label(c, classes))] * n
    return _finish(points, noise, rng)


GENERATORS: dict[str, Generator] = {
    "notebook": notebook,
    "moons": moons,
    "circles": circles,
    "xor": xor,
    "spiral": spiral,
    "blobs": blobs,
}

# Generators that draw any number of classes from 2 to MAX_CLASSES; the others draw two.
MULTICLASS = frozenset({"spiral", "blobs"})

# Generators with fixed samples, and how many: they ignore the samples and noise asked for.
FIXED = {"notebook": len(NOTEBOOK_INPUTS)}

# Inputs per sample of each generator.
DIMENSIONS = {"notebook": 3, "moons": 2, "circles": 2, "xor": 2, "spiral": 2, "blobs": 2}


def generate(name: str, samples: int, noise: float, seed: int, classes: int = 2) -> Samples:
    """Run a generator with the data RNG derived from the job seed."""
    # A string seed gives a stream independent of random.Random(seed), which draws the weights.
    return GENERATORS[name](samples, noise, random.Random(f"{seed}:data"), classes)


def labels_for(loss: str, labels: list[float], classes: int = 2) -> list[float]:
    """Map -1/+1 labels to 0/1 for the cross-entropy losses; others keep -1/+1 (or 0..k-1)."""
    if classes == 2 and loss in ("binary_cross_entropy", "cross_entropy"):
        return [(t + 1.0) / 2.0 for t in labels]
    return labels


def _shares(samples: int, classes: int) -> list[int]:
    # Samples per class, as even as can be; the last classes take the remainder (two classes:
    # samples // 2, then the rest, as the first spiral did).
    q, r = divmod(samples, classes)
    return [q + (c >= classes - r) for c in range(classes)]


def _label(c: int, classes: int) -> float:
    # Class c of two is -1 or +1; of more, its index.
    return (2.0 * c - 1.0) if classes == 2 else float(c)


def _finish(points: list[tuple[float, float, float]], noise: float, rng: random.Random) -> Samples:
    # Gaussian noise on both coordinates, then a shuffle so the classes are not in two blocks.
    noisy = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise), t] for x, y, t in points]
    rng.shuffle(noisy)
    return [[x, y] for x, y, _ in noisy], [t for _, _, t in noisy]
