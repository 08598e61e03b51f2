"""Early stopping: stop when the watched loss has not improved for `patience` epochs.

An epoch improves when its loss is below best - min_delta (the first epoch always does). After
`patience` epochs in a row without improvement, training stops at that epoch. The state is a
few numbers and the best epoch's weights, all in the checkpoint, so a resumed job stops at the
same epoch with the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from engine.errors import SpecError


class EarlyStopping:
    """The watch over one job's losses: the best so far, its epoch and weights, the epochs since."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: list[float] | None = None
        self.waited = 0
        self.stopped_epoch: int | None = None

    def update(self, epoch: int, loss: float, weights: list[float]) -> bool:
        """Watch epoch's loss (weights: the parameters at its end); True when training stops."""
        if self.best is None or loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.best_weights = loss, epoch, weights
            self.waited = 0
        else:
            self.waited += 1
        if self.waited >= self.patience and self.stopped_epoch is None:
            self.stopped_epoch = epoch
        return self.stopped_epoch is not None

    def state(self) -> dict[str, Any]:
        """The state as JSON (floats as their shortest repr: they read back bit for bit)."""
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
            "waited": self.waited,
            "stopped_epoch": self.stopped_epoch,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Take the state a checkpoint holds; SpecError if it is not one."""
        try:
            best, weights = state["best"], state["best_weights"]
            self.best = None if best is None else float(best)
            self.best_epoch = _optional_int(state["best_epoch"])
            self.best_weights = None if weights is None else [float(w) for w in weights]
            self.waited = int(state["waited"])
            self.stopped_epoch = _optional_int(state["stopped_epoch"])
        except (TypeError, KeyError, ValueError) as e:
            raise SpecError(f"resume: bad early-stopping state ({e})") from None
        if self.best is not None and not math.isfinite(self.best):
            raise SpecError("resume: bad early-stopping state (best is not finite)")


def _optional_int(x: Any) -> int | None:
    return None if x is None else int(x)
