"""A sweep's objective: a recorded per-epoch metric by name, and each trial's best epoch of it.

``METRICS`` is the one place a metric's name meets its column: a new column of epoch_losses
is one line here to become an objective (and a pruning signal).
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.models import EpochLoss, Job

METRICS: dict[str, InstrumentedAttribute[float] | InstrumentedAttribute[float | None]] = {
    "loss": EpochLoss.loss,
    "accuracy": EpochLoss.accuracy,
    "rmse": EpochLoss.rmse,
    "val_loss": EpochLoss.val_loss,
    "val_accuracy": EpochLoss.val_accuracy,
    "val_rmse": EpochLoss.val_rmse,
}
MODES = ("min", "max")


@dataclass(frozen=True)
class Best:
    """A trial's best value of the objective, and the epoch it had it."""

    value: float
    epoch: int


def column(metric: str) -> InstrumentedAttribute[float] | InstrumentedAttribute[float | None]:
    """The epoch_losses column that records ``metric`` (a name of ``METRICS``)."""
    return METRICS[metric]


def better_first(metric: str, mode: str) -> ColumnElement[float | None]:
    """An ORDER BY term putting the better value of ``metric`` first."""
    return column(metric).asc() if mode == "min" else column(metric).desc()


def best_per_trial(session: Session, sweep_id: str, metric: str, mode: str) -> dict[str, Best]:
    """Each trial's best recorded value of the objective (the earliest epoch on a tie)."""
    value = column(metric)
    rank = (
        func.row_number()
        .over(partition_by=EpochLoss.job_id, order_by=(better_first(metric, mode), EpochLoss.epoch))
        .label("rank")
    )
    ranked = (
        select(EpochLoss.job_id, EpochLoss.epoch, value.label("value"), rank)
        .join(Job, Job.id == EpochLoss.job_id)
        .where(Job.sweep_id == sweep_id, value.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.job_id, ranked.c.epoch, ranked.c.value).where(ranked.c.rank == 1)
    )
    return {row.job_id: Best(row.value, row.epoch) for row in rows}


def best_of_sweep(
    session: Session, sweep_id: str, metric: str, mode: str
) -> tuple[str, Best] | None:
    """The trial with the sweep's best recorded value (the earliest epoch, then the first
    trial made, on a tie), and that value; None before any trial has one."""
    value = column(metric)
    row = session.execute(
        select(EpochLoss.job_id, EpochLoss.epoch, value)
        .join(Job, Job.id == EpochLoss.job_id)
        .where(Job.sweep_id == sweep_id, value.is_not(None))
        .order_by(better_first(metric, mode), EpochLoss.epoch, Job.created_at)
        .limit(1)
    ).one_or_none()
    return None if row is None else (row[0], Best(row[2], row[1]))


def is_better(a: float, b: float, mode: str) -> bool:
    """True when ``a`` beats ``b`` under ``mode``."""
    return a < b if mode == "min" else a > b
