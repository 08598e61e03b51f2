"""The engine's exceptions: unusable input (SpecError) and arithmetic gone non-finite (the rest)."""

from __future__ import annotations


class SpecError(ValueError):
    """A job spec, checkpoint or weights document that the engine cannot use.

    `field` is the dotted path of the spec field at fault ("data.targets.0", "training.epochs"),
    set by whoever raises it; "spec" when no one field is to blame. The API reports it as is.
    """

    def __init__(self, message: str, field: str = "spec") -> None:
        super().__init__(message)
        self.field = field


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
