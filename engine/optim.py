"""Optimizers (sgd, momentum, adam) with JSON-able state, and learning-rate schedules."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.errors import SpecError
from engine.value import Value

DEFAULT_MOMENTUM_BETA = 0.9
DEFAULT_ADAM_BETA1 = 0.9
DEFAULT_ADAM_BETA2 = 0.999
DEFAULT_ADAM_EPS = 1e-8
DEFAULT_FINAL_FRACTION = 0.1


class SGD:
    """p <- p - lr * grad, written as the notebook writes it."""

    __slots__ = ("params",)

    def __init__(self, params: Sequence[Value]) -> None:
        self.params = params

    def step(self, lr: float) -> None:
        """Move every parameter against its gradient."""
        for p in self.params:
            p.data += -lr * p.grad

    def state(self) -> dict[str, Any]:
        """The optimizer's state as JSON: sgd has none beyond its name."""
        return {"name": "sgd"}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore state() output."""
        _check(state, "sgd", [])


class Momentum:
    """Heavy ball, as PyTorch's SGD(momentum=beta): v <- beta v + grad, p <- p - lr v."""

    __slots__ = ("beta", "params", "velocity")

    def __init__(self, params: Sequence[Value], beta: float = DEFAULT_MOMENTUM_BETA) -> None:
        self.params = params
        self.beta = beta
        self.velocity = [0.0] * len(params)

    def step(self, lr: float) -> None:
        """Update the velocities, then move the parameters along them."""
        beta, velocity = self.beta, self.velocity
        for i, p in enumerate(self.params):
            v = beta * velocity[i] + p.grad
            velocity[i] = v
            p.data += -lr * v

    def state(self) -> dict[str, Any]:
        """The velocities as JSON."""
        return {"name": "momentum", "velocity": list(self.velocity)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore state() output."""
        self.velocity = _check(state, "momentum", ["velocity"], len(self.params))[0]


class Adam:
    """Adam (Kingma & Ba 2015) with bias-corrected first and second moments."""

    __slots__ = ("beta1", "beta2", "eps", "m", "params", "t", "v")

    def __init__(
        self,
        params: Sequence[Value],
        beta1: float = DEFAULT_ADAM_BETA1,
        beta2: float = DEFAULT_ADAM_BETA2,
        eps: float = DEFAULT_ADAM_EPS,
    ) -> None:
        self.params = params
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = [0.0] * len(params)
        self.v = [0.0] * len(params)

    def step(self, lr: float) -> None:
        """One Adam step: p <- p - lr m_hat / (sqrt(v_hat) + eps)."""
        self.t += 1
        b1, b2, eps, m, v = self.beta1, self.beta2, self.eps, self.m, self.v
        # m_hat = m / (1 - b1**t), v_hat = v / (1 - b2**t) undo the moments' bias towards 0.
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        for i, p in enumerate(self.params):
            g = p.grad
            mi = b1 * m[i] + (1.0 - b1) * g
            vi = b2 * v[i] + (1.0 - b2) * g * g
            m[i], v[i] = mi, vi
            p.data += -lr * (mi / c1) / (math.sqrt(vi / c2) + eps)

    def state(self) -> dict[str, Any]:
        """Step count and both moments as JSON."""
        return {"name": "adam", "t": self.t, "m": list(self.m), "v": list(self.v)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore state() output."""
        self.m, self.v = _check(state, "adam", ["m", "v"], len(self.params))
        t = state.get("t")
        if not isinstance(t, int) or isinstance(t, bool) or t < 0:
            raise SpecError(f"optimizer state: adam needs a step count t >= 0, got {t!r}")
        self.t = t


Optimizer = SGD | Momentum | Adam
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def constant(lr: float, epoch: int, epochs: int, final_fraction: float = 1.0) -> float:
    """The same rate at every epoch (linear decay to a final fraction of 1)."""
    return lr


def linear_decay(
    lr: float, epoch: int, epochs: int, final_fraction: float = DEFAULT_FINAL_FRACTION
) -> float:
    """lr at epoch 1 falling linearly to lr * final_fraction at the last epoch."""
    if epochs <= 1:
        return lr
    return lr * (1.0 - (1.0 - final_fraction) * (epoch - 1) / (epochs - 1))


SCHEDULES = {"constant": constant, "linear_decay": linear_decay}


def _check(state: Any, name: str, keys: list[str], size: int = 0) -> list[list[float]]:
    # Validate a state dict from a checkpoint: its name and lists of `size` finite floats.
    if not isinstance(state, dict) or state.get("name") != name:
        raise SpecError(f"optimizer state is not {name}'s: {str(state)[:80]}")
    lists = []
    for key in keys:
        xs = state.get(key)
        if not isinstance(xs, list) or len(xs) != size or not all(map(_is_float, xs)):
            raise SpecError(f"optimizer state: {name}.{key} must be {size} finite floats")
        lists.append(list(xs))
    return lists


def _is_float(x: object) -> bool:
    return isinstance(x, float) and math.isfinite(x)
