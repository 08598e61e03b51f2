"""The engine's exceptions: unusable input (SpecError) and arithmetic gone non-finite (the rest)."""

from __future__ import annotations


class SpecError(ValueError):
    """A job spec, checkpoint or weights document that the engine cannot use."""


class NonFiniteError(ArithmeticError):
    """An op whose result (or local gradient) is not a finite float."""

    def __init__(
        self, op: str, inputs: tuple[float, ...], why: str = "has no finite result"
    ) -> None:
        self.op = op
        self.inputs = inputs
        where = f"{op}({', '.join(repr(x) for x in inputs)})" if inputs else f"{op}:"
        super().__init__(f"{where} {why}")


class TrainingError(ArithmeticError):
    """Training went numerically wrong (non-finite loss or weights) at a given epoch."""

    def __init__(self, epoch: int, reason: str) -> None:
        self.epoch = epoch
        self.reason = reason
        super().__init__(f"epoch {epoch}: {reason}")
