"""Standardization: each feature's mean and deviation over the training rows, part of the model.

x' = (x - mean) / std per feature, with the population deviation (divided by n). A feature
constant over the training rows has std 0: it is divided by 1 instead, so it becomes 0 and
stays finite for any input. The statistics travel in the weights document (engine.weights), so
/predict and every export take raw inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def statistics(rows: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """{"mean": [...], "std": [...]} of each column of rows (at least one row)."""
    n = len(rows)
    columns = list(zip(*rows, strict=True))
    means = [math.fsum(c) / n for c in columns]
    stds = []
    for c, m in zip(columns, means, strict=True):
        std = math.sqrt(math.fsum((x - m) ** 2 for x in c) / n)
        stds.append(std if std > 0.0 else 1.0)
    return {"mean": means, "std": stds}


def apply(stats: dict[str, Any], rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """Rows standardized by stats."""
    pairs = list(zip(stats["mean"], stats["std"], strict=True))
    return [[(x - m) / s for x, (m, s) in zip(row, pairs, strict=True)] for row in rows]
