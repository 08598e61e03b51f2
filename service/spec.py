"""The job spec as the API takes it: pydantic over the engine's own dataclasses, plus a name.

engine.spec is the one definition of the spec (types, defaults, constraints, docs). Here a
TypeAdapter validates request bodies against it and gives its JSON Schema; whether the parts fit
each other is the engine's JobSpec.checked(), which the API runs too. The configured limits are
the service's own.
"""

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine import spec as engine_spec
from store.settings import Settings


@dataclass(frozen=True)
class JobSpec(engine_spec.JobSpec):
    """A training job: the model, its data and how to train it, plus an optional name."""

    name: str | None = field(
        default=None, metadata={"max_length": 200, "description": "for people; not trained on"}
    )


JOB_SPEC = TypeAdapter(JobSpec)


class LimitExceeded(ValueError):
    """A spec asks for more than a configured limit allows."""

    def __init__(self, field: str, limit: str, value: int, maximum: int) -> None:
        super().__init__(f"{limit} is {value}, over the limit of {maximum} ({limit.upper()})")
        self.field = field


def check_limits(spec: engine_spec.JobSpec, settings: Settings) -> None:
    """Raise ``LimitExceeded`` when the spec asks for more work than the settings allow."""
    d = spec.data
    samples = len(d.inputs) if isinstance(d, engine_spec.InlineData) else d.samples
    work = spec.training.epochs * samples
    checks = [
        ("model.layers", "max_parameters", spec.model.parameter_count(), settings.max_parameters),
        ("data", "max_samples", samples, settings.max_samples),
        ("training.epochs", "max_epochs", spec.training.epochs, settings.max_epochs),
        ("training.epochs", "max_work", work, settings.max_work),
    ]
    for field_name, limit, value, maximum in checks:
        if value > maximum:
            raise LimitExceeded(field_name, limit, value, maximum)


class PredictRequest(BaseModel):
    """Inputs to run through a finished job's model, one row per sample."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    inputs: list[list[float]] = Field(min_length=1)


PREDICT_REQUEST = TypeAdapter(PredictRequest)
