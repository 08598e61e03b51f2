"""What the API answers and the query strings it takes, as pydantic models (they feed OpenAPI)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from store.models import INT_MAX, Job
from store.status import JobStatus


class Progress(BaseModel):
    epoch: int = Field(description="epochs completed and recorded")
    epochs: int = Field(description="epochs the job asked for")


class JobOut(BaseModel):
    """A job as the API shows it."""

    id: str
    name: str | None
    status: JobStatus
    spec: dict[str, Any]
    progress: Progress
    latest_loss: float | None
    latest_accuracy: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    error: str | None
    links: dict[str, str]


class JobPage(BaseModel):
    items: list[JobOut]
    next: str | None = Field(description="URL of the next page, or null on the last")


class LossPoint(BaseModel):
    epoch: int
    loss: float
    accuracy: float | None


class LossPage(BaseModel):
    items: list[LossPoint]
    next: str | None


class PredictOut(BaseModel):
    outputs: list[float] | list[list[float]] = Field(
        description="one number per sample for a single-output model, else one list per sample"
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


class JobListQuery(Query):
    status: JobStatus | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=500)


class LossQuery(Query):
    # Bounded by what the epoch column holds: a larger number is a 422, not a database error.
    after: int = Field(default=0, ge=0, le=INT_MAX, description="return epochs after this one")
    limit: int = Field(default=1000, ge=1, le=10_000)
    every: int = Field(
        default=1, ge=1, le=INT_MAX, description="keep epochs 1, 1+every, 1+2*every, ..."
    )


def job_out(job: Job) -> dict[str, Any]:
    """The JSON document of a job."""
    base = f"/api/v1/jobs/{job.id}"
    return JobOut(
        id=job.id,
        name=job.name,
        status=job.status,  # type: ignore[arg-type]
        spec=job.spec,
        progress=Progress(epoch=job.epoch, epochs=job.epochs),
        latest_loss=job.latest_loss,
        latest_accuracy=job.latest_accuracy,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        error=job.error,
        links={
            "self": base,
            "losses": f"{base}/losses",
            "weights": f"{base}/weights",
            "predict": f"{base}/predict",
            "cancel": f"{base}/cancel",
        },
    ).model_dump(mode="json")
