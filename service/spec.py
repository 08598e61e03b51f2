"""The job spec as the API takes it: pydantic over the engine's own dataclasses, plus a name.

engine.spec is the one definition of the spec (types, defaults, constraints, docs). Here a
TypeAdapter validates request bodies against it and gives its JSON Schema; whether the parts fit
each other is the engine's JobSpec.checked(), which the API runs too. The configured limits are
the service's own.
"""

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from engine import spec as engine_spec
from engine.cost import BYTES_PER_PARAMETER_SAMPLE, Cost, estimate
from engine.validation_spec import StoredValidation
from store.settings import Settings

MAX_LABELS = 16
LABEL_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY)]
# No NUL anywhere: Postgres text (and JSONB) cannot hold one, and no input may cause a 5xx.
LabelValue = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[^:\s\x00]+$")
]
Name = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]
Labels = Annotated[
    dict[LabelKey, LabelValue],
    Field(max_length=MAX_LABELS, description="up to 16 short key/value strings, to filter by"),
]


@dataclass(frozen=True)
class JobSpec(engine_spec.JobSpec):
    """A training job: the model, its data and how to train it, plus an optional name and labels."""

    name: Name | None = field(default=None, metadata={"description": "for people; not trained on"})
    labels: Labels = field(default_factory=dict)


JOB_SPEC = TypeAdapter(JobSpec)


class LimitExceeded(ValueError):
    """A spec asks for more than a configured limit allows; the message says both."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_limits(spec: engine_spec.JobSpec, settings: Settings) -> Cost:
    """The spec's cost, or ``LimitExceeded`` when it asks for more than the settings allow.

    The work budget (engine/cost.py) is checked before anything is stored: the graph's memory
    and the total work, besides the plain sizes.
    """
    for where, dataset in _datasets(spec):
        if dataset.samples > settings.max_samples:
            message = (
                f"dataset {dataset.dataset} has {dataset.samples} rows, over the limit of "
                f"{settings.max_samples} (MAX_SAMPLES)"
            )
            raise LimitExceeded(where, message)
    cost = estimate(spec)
    sizes = [
        ("model.layers", "parameters", cost.parameters, settings.max_parameters, "MAX_PARAMETERS"),
        ("data", "samples", cost.samples, settings.max_samples, "MAX_SAMPLES"),
        ("training.epochs", "epochs", cost.epochs, settings.max_epochs, "MAX_EPOCHS"),
    ]
    for field_name, what, value, maximum, setting in sizes:
        if value > maximum:
            message = f"{value} {what}, over the limit of {maximum} ({setting})"
            raise LimitExceeded(field_name, message)
    if cost.graph_bytes > settings.max_graph_bytes:
        raise LimitExceeded(
            "training.batch_size",
            f"the training graph needs an estimated {cost.graph_bytes} bytes "
            f"({_bytes(cost.graph_bytes)}: {cost.parameters} parameters x {cost.batch} samples "
            f"per batch x {BYTES_PER_PARAMETER_SAMPLE} B), over the limit of "
            f"{settings.max_graph_bytes} (MAX_GRAPH_BYTES); use a smaller model, fewer samples, "
            "or a batch_size",
        )
    if cost.work > settings.max_work:
        raise LimitExceeded(
            "training.epochs",
            f"the job's work is an estimated {cost.work} parameter-samples "
            f"({cost.parameters} parameters x {cost.samples} samples x {cost.epochs} epochs), "
            f"over the limit of {settings.max_work} (MAX_WORK)",
        )
    return cost


def _datasets(
    spec: engine_spec.JobSpec,
) -> list[tuple[str, engine_spec.StoredData | StoredValidation]]:
    # The stored datasets a (looked up) spec uses, by the field that names each.
    found: list[tuple[str, engine_spec.StoredData | StoredValidation]] = []
    if isinstance(spec.data, engine_spec.StoredData):
        found.append(("data.dataset", spec.data))
    if isinstance(spec.data.validation, StoredValidation):
        found.append(("data.validation.dataset", spec.data.validation))
    return found


def _bytes(count: int) -> str:
    return f"{count / 1024**3:.3g} GiB" if count >= 1024**3 else f"{count / 1024**2:.3g} MiB"


Row = Annotated[list[float], Field(fail_fast=True)]


class PredictRequest(BaseModel):
    """Inputs to run through a finished job's model, one row per sample."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    # fail_fast: a bad number stops its row, a bad row the list (one error, not one per number).
    inputs: list[Annotated[list[float], Field(fail_fast=True)]] = Field(
        min_length=1, fail_fast=True
    )


PREDICT_REQUEST = TypeAdapter(PredictRequest)


class RerunRequest(BaseModel):
    """What a re-run changes: spec fields by dotted path, and the name and labels if given."""

    model_config = ConfigDict(extra="forbid", strict=True)

    overrides: dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Any] = Field(
        default_factory=dict,
        max_length=100,
        description='dotted paths into the stored spec, e.g. {"training.learning_rate": 0.1}',
    )
    name: Name | None = Field(default=None, description="default: the job's")
    labels: Labels | None = Field(default=None, description="default: the job's")


RERUN_REQUEST = TypeAdapter(RerunRequest)
