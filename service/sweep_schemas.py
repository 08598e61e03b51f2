"""What the sweeps API answers and the query strings it takes (they feed OpenAPI too)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.schemas import Query
from store import sweeps
from store.models import Job, Sweep
from store.objective import best_of_sweep
from store.status import JobStatus


class BestOut(BaseModel):
    job_id: str
    params: dict[str, Any] = Field(description="the dotted paths the trial set in the base")
    objective: float = Field(description="the metric at the trial's best epoch")
    epoch: int


class SweepOut(BaseModel):
    """A sweep: how far its trials are, and its best trial so far."""

    id: str
    name: str | None
    status: str = Field(description="queued, running, succeeded (every trial ended), cancelled")
    objective: dict[str, str] = Field(description="{metric, mode}")
    max_parallel: int
    pruning: dict[str, Any] | None
    trials: int
    counts: dict[str, int] = Field(description="trials per job status")
    best: BestOut | None
    created_at: datetime
    cancelled_at: datetime | None
    links: dict[str, str]
    request: dict[str, Any] | None = Field(
        default=None, description="the request as validated (GET of one sweep only)"
    )


class SweepPage(BaseModel):
    items: list[SweepOut]
    next: str | None = Field(description="URL of the next page, or null on the last")


class TrialOut(BaseModel):
    job_id: str
    params: dict[str, Any]
    status: JobStatus
    objective: float | None = Field(description="the metric at the trial's best epoch so far")
    epoch: int | None = Field(description="the trial's best epoch so far")
    epochs_run: int


class TrialPage(BaseModel):
    items: list[TrialOut]


class CurveOut(BaseModel):
    job_id: str
    points: list[tuple[int, float]] = Field(description="[epoch, objective] pairs")


class CurvesOut(BaseModel):
    metric: str
    mode: str
    items: list[CurveOut]


class CurvesQuery(Query):
    points: int = Field(default=500, ge=1, le=10_000, description="at most this many per trial")


class SweepListQuery(Query):
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=500)


class TrialQuery(Query):
    sort: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="objective (best first) or a param's dotted path (ascending); "
        "default: the order the trials were made",
    )

    def sorted(self, found: Iterable[sweeps.Trial], mode: str) -> list[sweeps.Trial]:
        """The trials in the order asked; those without the key last."""
        found = list(found)
        if self.sort is None:
            return found
        if self.sort == "objective":
            sign = 1 if mode == "min" else -1
            # Ties as the sweep's best breaks them: the earlier epoch, then the trial made first.
            return sorted(
                found,
                key=lambda t: (
                    t.best is None,
                    *((sign * t.best.value, t.best.epoch) if t.best else ()),
                ),
            )
        path = self.sort
        # Values of one path may mix types (a choice of 8 or "wide"): numbers before the rest.
        return sorted(
            found,
            key=lambda t: (
                path not in t.params,
                not isinstance(t.params.get(path), int | float),
                _sortable(t.params.get(path)),
            ),
        )


def _sortable(value: Any) -> Any:
    return value if isinstance(value, int | float) else str(value)


def sweep_out(session: Session, sweep: Sweep, full: bool = False) -> dict[str, Any]:
    """The JSON document of a sweep (with its request when ``full``)."""
    counted = sweeps.counts(session, [sweep.id])[sweep.id]
    leader = best_of_sweep(session, sweep.id, sweep.metric, sweep.mode)
    base = f"/api/v1/sweeps/{sweep.id}"
    document: dict[str, Any] = {
        "id": sweep.id,
        "name": sweep.name,
        "status": sweeps.status(sweep, counted),
        "objective": {"metric": sweep.metric, "mode": sweep.mode},
        "max_parallel": sweep.max_parallel,
        "pruning": sweep.pruning,
        "trials": sweep.trials,
        "counts": {status: counted[status] for status in JobStatus},
        "best": None,
        "created_at": _time(sweep.created_at),
        "cancelled_at": _time(sweep.cancelled_at),
        "links": {
            "self": base,
            "trials": f"{base}/trials",
            "curves": f"{base}/curves",
            "cancel": f"{base}/cancel",
            "jobs": f"/api/v1/jobs?sweep={sweep.id}",
        },
    }
    if leader is not None:
        job_id, best = leader
        params = session.scalar(select(Job.params).where(Job.id == job_id))
        document["best"] = {
            "job_id": job_id,
            "params": params or {},
            "objective": best.value,
            "epoch": best.epoch,
        }
    if full:
        document["request"] = sweep.request
    return document


def trial_out(trial: sweeps.Trial) -> dict[str, Any]:
    """The JSON document of one trial."""
    return {
        "job_id": trial.job_id,
        "params": trial.params,
        "status": trial.status,
        "objective": trial.best.value if trial.best else None,
        "epoch": trial.best.epoch if trial.best else None,
        "epochs_run": trial.epochs_run,
    }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
