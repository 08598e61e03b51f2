"""Activation functions on plain floats, each returning (f(z), f'(z)) computed stably."""

from __future__ import annotations

import math
from collections.abc import Callable

Activation = Callable[[float], tuple[float, float]]


def tanh(z: float) -> tuple[float, float]:
    """Hyperbolic tangent and its derivative."""
    # math.tanh saturates to +-1.0 instead of overflowing like (e^2z - 1)/(e^2z + 1).
    t = math.tanh(z)
    return t, 1.0 - t * t  # d tanh(z)/dz = 1 - tanh(z)**2


def sigmoid(z: float) -> tuple[float, float]:
    """Logistic function 1/(1 + e^-z) and its derivative."""
    # Only ever exponentiate a non-positive number, so exp cannot overflow.
    if z >= 0.0:
        s = 1.0 / (1.0 + math.exp(-z))
    else:
        e = math.exp(z)
        s = e / (1.0 + e)
    return s, s * (1.0 - s)  # d sigmoid(z)/dz = s (1 - s)


def relu(z: float) -> tuple[float, float]:
    """max(0, z) and its derivative (0 at z = 0, as PyTorch)."""
    return (z, 1.0) if z > 0.0 else (0.0, 0.0)


def linear(z: float) -> tuple[float, float]:
    """The identity, for regression outputs and logits."""
    return z, 1.0


ACTIVATIONS: dict[str, Activation] = {
    "tanh": tanh,
    "relu": relu,
    "sigmoid": sigmoid,
    "linear": linear,
}
