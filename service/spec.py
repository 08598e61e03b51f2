"""The job spec as the API accepts it: pydantic models that validate at the edge and document it.

Structure, types and ranges are checked here; defaults come from the engine's constants. Whether
the pieces fit each other (data shapes against the model, labels against the loss) is the
engine's own check (``engine.spec.parse_spec``), which the API runs too, so each rule lives in one
place; the configured limits are checked on the engine's parsed spec.
"""

import math
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from engine import spec as defaults
from engine.spec import JobSpec as ParsedSpec
from engine.spec import parse_spec
from store.settings import Settings


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite)]
Activation = Literal["tanh", "relu", "sigmoid", "linear"]
LossName = Literal["sum_squared", "mean_squared", "hinge", "binary_cross_entropy"]


class Strict(BaseModel):
    """Base for request models: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ModelSpec(Strict):
    """A multilayer perceptron: input width, then the width of each layer (the last is output)."""

    inputs: int = Field(default=3, ge=1)
    layers: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [4, 4, 1], min_length=1
    )
    activation: Activation = "tanh"
    output_activation: Activation = "tanh"

    @property
    def parameter_count(self) -> int:
        """Weights plus biases of every layer."""
        widths = [self.inputs, *self.layers]
        return sum((nin + 1) * nout for nin, nout in pairwise(widths))


class InlineData(Strict):
    """Samples given in the request: one input row and one target (or target row) per sample."""

    inputs: list[list[FiniteFloat]] = Field(min_length=1)
    targets: list[FiniteFloat] | list[list[FiniteFloat]] = Field(min_length=1)


class GeneratedData(Strict):
    """Samples drawn by one of the engine's seeded generators (RNG derived from the job seed)."""

    generator: Literal["moons", "circles", "xor", "spiral", "notebook"]
    samples: int = Field(default=defaults.DEFAULT_SAMPLES, ge=1)
    noise: FiniteFloat = Field(default=defaults.DEFAULT_NOISE, ge=0)


class Sgd(Strict):
    name: Literal["sgd"]


class Momentum(Strict):
    name: Literal["momentum"]
    beta: FiniteFloat = Field(default=defaults.DEFAULT_MOMENTUM_BETA, ge=0, lt=1)


class Adam(Strict):
    name: Literal["adam"]
    beta1: FiniteFloat = Field(default=defaults.DEFAULT_ADAM_BETA1, ge=0, lt=1)
    beta2: FiniteFloat = Field(default=defaults.DEFAULT_ADAM_BETA2, ge=0, lt=1)
    eps: FiniteFloat = Field(default=defaults.DEFAULT_ADAM_EPS, gt=0)


class Constant(Strict):
    name: Literal["constant"]


class LinearDecay(Strict):
    name: Literal["linear_decay"]
    final_fraction: FiniteFloat = Field(default=defaults.DEFAULT_FINAL_FRACTION, ge=0, le=1)


OptimizerSpec = (
    Literal["sgd", "momentum", "adam"]
    | Annotated[Sgd | Momentum | Adam, Field(discriminator="name")]
)
ScheduleSpec = (
    Literal["constant", "linear_decay"]
    | Annotated[Constant | LinearDecay, Field(discriminator="name")]
)


class TrainingSpec(Strict):
    """How to train: the defaults are the notebook's loop (sgd, lr 0.01, full batch)."""

    epochs: int = Field(default=defaults.DEFAULT_EPOCHS, ge=1)
    learning_rate: FiniteFloat = Field(default=defaults.DEFAULT_LEARNING_RATE, gt=0)
    loss: LossName = defaults.DEFAULT_LOSS  # type: ignore[assignment]
    optimizer: OptimizerSpec = defaults.DEFAULT_OPTIMIZER  # type: ignore[assignment]
    schedule: ScheduleSpec = defaults.DEFAULT_SCHEDULE  # type: ignore[assignment]
    l2: FiniteFloat = Field(default=defaults.DEFAULT_L2, ge=0)
    batch_size: int | None = Field(default=defaults.DEFAULT_BATCH_SIZE, ge=1)
    seed: int = Field(default=defaults.DEFAULT_SEED, ge=0, lt=2**63)


class JobSpec(Strict):
    """A training job: the model, its data and how to train it, plus an optional name."""

    # No NUL: Postgres cannot store it in text (it was a 500).
    name: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: InlineData | GeneratedData | None = Field(
        default=None, description="default: the notebook's four samples"
    )
    training: TrainingSpec = Field(default_factory=TrainingSpec)

    def parsed(self) -> ParsedSpec:
        """The engine's reading of this spec (``SpecError`` when its parts do not fit)."""
        # An explicit null means the default (data: the notebook's; batch_size: full batch).
        spec = self.model_dump(mode="json", exclude_unset=True, exclude_none=True, exclude={"name"})
        return parse_spec(spec)


class LimitExceeded(ValueError):
    """A spec asks for more than a configured limit allows."""

    def __init__(self, field: str, limit: str, value: int, maximum: int) -> None:
        super().__init__(f"{limit} is {value}, over the limit of {maximum} ({limit.upper()})")
        self.field = field


def parameter_count(spec: ParsedSpec) -> int:
    """Weights plus biases of every layer of the spec's model."""
    widths = [spec.model.inputs, *spec.model.layers]
    return sum((nin + 1) * nout for nin, nout in pairwise(widths))


def check_limits(spec: ParsedSpec, settings: Settings) -> None:
    """Raise ``LimitExceeded`` when the spec asks for more work than the settings allow."""
    samples = len(spec.data.inputs) if spec.data.inputs is not None else spec.data.samples
    work = spec.training.epochs * samples
    checks = [
        ("model.layers", "max_parameters", parameter_count(spec), settings.max_parameters),
        ("data", "max_samples", samples, settings.max_samples),
        ("training.epochs", "max_epochs", spec.training.epochs, settings.max_epochs),
        ("training.epochs", "max_work", work, settings.max_work),
    ]
    for field, limit, value, maximum in checks:
        if value > maximum:
            raise LimitExceeded(field, limit, value, maximum)


class PredictRequest(Strict):
    """Inputs to run through a finished job's model, one row per sample."""

    inputs: list[list[FiniteFloat]] = Field(min_length=1)
