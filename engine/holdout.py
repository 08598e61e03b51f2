"""The validation split: which samples a job holds out, seeded, stratified for classifiers.

A fraction f of n samples holds out v = round(f n) of them, at least 1 and at most n - 1. For a
classifying loss the split is stratified: each class c of n_c samples gives floor(f n_c), and
the v - sum(floor(f n_c)) left over go one each to the classes with the largest remainders
f n_c - floor(f n_c) (the first class of equals first), so every class's share is within one of
f n_c. Within a class (or all samples, for regression) the held-out ones are the first of a
shuffle by random.Random(f"{seed}:validation"), a stream of its own. Both parts keep the samples'
order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence


def held_out(n: int, fraction: float) -> int:
    """How many of n samples (n >= 2) a fraction holds out."""
    return min(max(1, round(fraction * n)), n - 1)


def split(
    labels: Sequence[Hashable] | None, n: int, fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """The training and validation indices of n samples; labels (one per sample) stratify."""
    if n < 2:
        raise ValueError("a validation split needs at least 2 samples")
    rng = random.Random(f"{seed}:validation")
    order = list(range(n))
    rng.shuffle(order)
    v = held_out(n, fraction)
    chosen = set(order[:v]) if labels is None else _stratified(labels, order, fraction, v)
    train = [i for i in range(n) if i not in chosen]
    return train, sorted(chosen)


def _stratified(labels: Sequence[Hashable], order: list[int], fraction: float, v: int) -> set[int]:
    # Each class's shuffled members, classes in the order they first appear in the data.
    members: dict[Hashable, list[int]] = {label: [] for label in labels}
    for i in order:
        members[labels[i]].append(i)
    shares = {c: math.floor(fraction * len(m)) for c, m in members.items()}
    left = v - sum(shares.values())
    by_remainder = sorted(
        members, key=lambda c: -(fraction * len(members[c]) - shares[c])
    )  # sorted is stable: the first class of equal remainders first
    for c in by_remainder[:left]:
        shares[c] += 1
    return {i for c, m in members.items() for i in m[: shares[c]]}
