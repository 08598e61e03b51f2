"""What the API answers and the query strings it takes, as pydantic models (they feed OpenAPI)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from store.events import MAX_POINTS
from store.jobs import Filters
from store.models import INT_MAX, Job
from store.status import JobStatus


class Progress(BaseModel):
    epoch: int = Field(description="epochs completed and recorded")
    epochs: int = Field(description="epochs the job asked for")
    recorded_every: int | None = Field(
        default=None,
        description="present when the job stores a loss for every Nth epoch only (1, 1+N, "
        "1+2N, ... and the last), its epochs being over MAX_RECORDED_EPOCHS",
    )


class TrialOf(BaseModel):
    """The sweep a job is a trial of, and the dotted paths the trial sets in its base spec."""

    id: str
    params: dict[str, Any]


class JobSummary(BaseModel):
    """A job as lists show it: everything but its spec (``links.self`` has that)."""

    id: str
    name: str | None
    status: JobStatus
    progress: Progress
    latest_loss: float | None
    latest_accuracy: float | None
    stopped_epoch: int | None = Field(
        description="the epoch at which early stopping ended training; null: it did not"
    )
    best_epoch: int | None = Field(
        description="under early stopping, the epoch of the least watched (validation) loss"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    error: str | None
    labels: dict[str, str]
    links: dict[str, str]
    sweep: TrialOf | None = Field(
        default=None, description="present when the job is a trial of a sweep"
    )


class JobOut(JobSummary):
    """A job as the API shows it: the summary and the normalised spec it trains."""

    # Typed in the OpenAPI document as the request's JobSpec (service/openapi.py): the stored spec
    # is its normal form, every default filled in.
    spec: dict[str, Any]


class LayerWeights(BaseModel):
    """One layer of a trained model: its activation, a row of weights per neuron, its biases."""

    activation: str
    weights: list[list[float]]
    biases: list[float]


class Standardization(BaseModel):
    """The training split's statistics a model standardizes its raw inputs by."""

    mean: list[float]
    std: list[float]


class WeightsOut(BaseModel):
    """The engine's weights document (engine/weights.py), what /predict and the exports run."""

    format: str = Field(description="gradyard.mlp/1")
    inputs: int
    layers: list[LayerWeights]
    normalize: Standardization | None = Field(
        default=None,
        description="present when the job standardized its inputs: predict takes raw inputs "
        "and applies (x - mean) / std first",
    )


class JobPage(BaseModel):
    # Lists never load specs: a job's inline data can be megabytes (issue 12 item 6).
    items: list[JobSummary]
    next: str | None = Field(description="URL of the next page, or null on the last")


class LossPoint(BaseModel):
    epoch: int
    loss: float
    accuracy: float | None = Field(description="classifiers: the epoch's training accuracy")
    rmse: float | None = Field(description="regression: the epoch's root-mean-square error")
    val_loss: float | None = Field(
        description="with validation: the loss on the validation samples after the epoch"
    )
    val_accuracy: float | None = Field(description="classifiers with validation: their accuracy")
    val_rmse: float | None = Field(description="regression with validation: their rmse")


class LossPage(BaseModel):
    items: list[LossPoint]
    next: str | None


class PredictOut(BaseModel):
    outputs: list[float] | list[list[float]] = Field(
        description="one number per sample for a single-output model, else one list per sample"
    )
    probabilities: list[float] | list[list[float]] | None = Field(
        default=None,
        description="classifiers but hinge: the softmax of each sample's outputs "
        "(cross_entropy), or the positive class's probability (binary_cross_entropy)",
    )
    classes: list[int] | list[list[int]] | list[str] | None = Field(
        default=None,
        description="classifiers: each sample's class (cross_entropy: the argmax, 0 to k - 1; "
        "binary_cross_entropy: 0 or 1; hinge: -1 or 1), as its class name when the job trained "
        "on a dataset with named classes",
    )


class ConfusionOut(BaseModel):
    split: Literal["validation", "training"] = Field(
        description="the samples counted: the validation split when the job had one"
    )
    labels: list[int] = Field(description="the classes, in the order of rows and columns")
    counts: list[list[int]] = Field(
        description="counts[i][j]: samples of class labels[i] predicted labels[j]"
    )
    names: list[str] | None = Field(
        default=None,
        description="the labels' class names, when the job trained on a dataset that has them",
    )


class ProblemOut(BaseModel):
    """An RFC 9457 problem document: every error the API returns has this shape."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


class Query(BaseModel):
    """Base for query strings: unknown parameters are errors; strings convert to numbers."""

    model_config = ConfigDict(extra="forbid")


LabelFilter = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}:[^:\s\x00]{1,63}$")
]


class JobListQuery(Query):
    status: JobStatus | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=500)
    label: list[LabelFilter] = Field(
        default_factory=list, max_length=16, description="KEY:VALUE, repeated: all must match"
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00]*$", description="a prefix"
    )
    created_after: AwareDatetime | None = Field(default=None, description="ISO 8601, with zone")
    created_before: AwareDatetime | None = Field(default=None, description="ISO 8601, with zone")
    sweep: str | None = Field(
        default=None, max_length=36, pattern=r"^[^\x00]*$", description="a sweep's trials only"
    )

    def filters(self) -> Filters:
        """The store's filters for this query."""
        return Filters(
            labels=dict(item.split(":", 1) for item in self.label),
            name_prefix=self.name,
            created_after=self.created_after,
            created_before=self.created_before,
            sweep_id=self.sweep,
        )


class OnnxQuery(Query):
    dtype: Literal["float64", "float32"] = Field(
        default="float64", description="the tensors' type: float64 agrees with /predict"
    )


class LossQuery(Query):
    # Bounded by what the epoch column holds: a larger number is a 422, not a database error.
    after: int = Field(default=0, ge=0, le=INT_MAX, description="return epochs after this one")
    limit: int = Field(default=1000, ge=1, le=10_000)
    every: int = Field(
        default=1, ge=1, le=INT_MAX, description="keep epochs 1, 1+every, 1+2*every, ..."
    )


class EventsQuery(Query):
    points: int | None = Field(
        default=None,  # store.events.MAX_POINTS
        ge=0,
        le=MAX_POINTS,
        description="at most this many points in an epoch event (0: none, for a client that "
        "only waits for the end; the newest epoch's measures still come)",
    )


def job_summary(job: Job) -> dict[str, Any]:
    """The JSON document of a job in a list: no spec."""
    base = f"/api/v1/jobs/{job.id}"
    summary: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "progress": _progress(job),
        "latest_loss": job.latest_loss,
        "latest_accuracy": job.latest_accuracy,
        "stopped_epoch": job.stopped_epoch,
        "best_epoch": job.best_epoch,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "attempts": job.attempts,
        "error": job.error,
        "labels": job.labels or {},
        "links": {
            "self": base,
            "losses": f"{base}/losses",
            "weights": f"{base}/weights",
            "predict": f"{base}/predict",
            "cancel": f"{base}/cancel",
        },
    }
    if job.sweep_id is not None:  # else left out: a lone job's document is as it was
        summary["sweep"] = {"id": job.sweep_id, "params": job.params or {}}
    return summary


def job_out(job: Job) -> dict[str, Any]:
    """The JSON document of a job, with its spec (after its status, as it has always been)."""
    summary = job_summary(job)
    head = {key: summary.pop(key) for key in ("id", "name", "status")}
    return {**head, "spec": job.spec, **summary}


def _time(moment: datetime | None) -> str | None:
    # ISO 8601 in UTC with a Z, as pydantic wrote it before these documents were built by hand.
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _progress(job: Job) -> dict[str, int]:
    progress = {"epoch": job.epoch, "epochs": job.epochs}
    if job.recorded_every is not None and job.recorded_every > 1:  # else left out
        progress["recorded_every"] = job.recorded_every
    return progress
