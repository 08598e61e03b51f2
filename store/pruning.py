"""Median pruning of a sweep's trials, as Optuna's ``MedianPruner``, from the recorded epochs.

After ``warmup_epochs``, a trial whose best objective so far is worse than the median of the
other trials' values at the same epoch is pruned, as long as at least ``min_trials`` other
trials have a value recorded at that epoch (whatever they ended as since). The worker asks
after each batch of epochs it writes (store/progress.py) and stops the trial at its next batch,
the way it stops for a cancel; the trial then ends ``pruned``.
"""

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import EpochLoss, Job, Sweep
from store.objective import column, is_better


@dataclass(frozen=True)
class MedianRule:
    """The median rule of one sweep, judged on its objective."""

    sweep_id: str
    metric: str
    mode: str
    warmup_epochs: int
    min_trials: int

    def prunes(self, session: Session, job_id: str, epoch: int) -> bool:
        """True when the trial ``job_id``, having recorded ``epoch``, should stop there."""
        if epoch <= self.warmup_epochs:
            return False
        value = column(self.metric)
        found = session.scalars(
            select(value)
            .join(Job, Job.id == EpochLoss.job_id)
            .where(
                Job.sweep_id == self.sweep_id,
                EpochLoss.job_id != job_id,
                EpochLoss.epoch == epoch,
            )
        )
        others = [v for v in found if v is not None]
        if len(others) < self.min_trials:
            return False
        best = func.min(value) if self.mode == "min" else func.max(value)
        own = session.scalar(
            select(best).where(EpochLoss.job_id == job_id, EpochLoss.epoch <= epoch)
        )
        return own is not None and is_better(statistics.median(others), own, self.mode)

    def prunes_at(self, job_id: str) -> Callable[[Session, int], bool]:
        """``prunes`` for one trial: what its progress recorder asks after each batch."""
        return lambda session, epoch: self.prunes(session, job_id, epoch)


def rule_for(session: Session, job_id: str) -> MedianRule | None:
    """The pruning rule the job runs under: its sweep's, or None (a lone job, or no pruning)."""
    row = session.execute(
        select(Sweep.id, Sweep.metric, Sweep.mode, Sweep.pruning)
        .join(Job, Job.sweep_id == Sweep.id)
        .where(Job.id == job_id)
    ).one_or_none()
    if row is None or not row.pruning:
        return None
    return MedianRule(
        row.id, row.metric, row.mode, row.pruning["warmup_epochs"], row.pruning["min_trials"]
    )
