"""What a worker writes about a job: claiming it, its per-epoch progress, and how it ended.

Per-epoch rows are buffered and written in batches (a commit per epoch would cost more than a
small model's epoch); each batch also moves the job's progress and heartbeat, and now and then
carries a checkpoint, all in one transaction so that a checkpoint never lags the losses it covers.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.models import EpochLoss, Job, utcnow

RUNNABLE = ("queued", "running")


@dataclass(frozen=True)
class Claim:
    """A job a worker may run now: its spec and, after a crash, where to resume."""

    spec: dict[str, Any]
    checkpoint: dict[str, Any] | None
    attempt: int


def claim_job(session: Session, job_id: str, max_attempts: int) -> Claim | None:
    """Mark the job running and count the attempt; None when it must not run (gone, ended)."""
    job = session.scalars(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if job is None:
        return None
    if job.status == "cancelling":  # asked to stop while its worker died: it has stopped.
        job.status, job.finished_at = "cancelled", utcnow()
        return None
    if job.status not in RUNNABLE:
        return None
    job.attempts += 1
    if job.attempts > max_attempts:
        job.status, job.finished_at = "failed", utcnow()
        job.error = f"gave up after {max_attempts} attempts: the worker running it kept dying"
        return None
    now = utcnow()
    job.status, job.heartbeat_at = "running", now
    job.started_at = job.started_at or now
    return Claim(spec=job.spec, checkpoint=job.checkpoint, attempt=job.attempts)


def rewind(session: Session, job_id: str, epoch: int) -> None:
    """Forget progress past ``epoch`` (written after the checkpoint a retry resumes from)."""
    session.execute(delete(EpochLoss).where(EpochLoss.job_id == job_id, EpochLoss.epoch > epoch))
    last = session.execute(
        select(EpochLoss.loss, EpochLoss.accuracy).where(
            EpochLoss.job_id == job_id, EpochLoss.epoch == epoch
        )
    ).one_or_none()
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            epoch=epoch,
            latest_loss=last.loss if last else None,
            latest_accuracy=last.accuracy if last else None,
        )
    )


class ProgressRecorder:
    """Buffers a job's per-epoch losses and writes them in batches, by time or by count."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_id: str,
        flush_seconds: float,
        flush_epochs: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._job_id = job_id
        self._flush_seconds = flush_seconds
        self._flush_epochs = flush_epochs
        self._clock = clock
        self._buffer: list[dict[str, Any]] = []
        self._last_flush = clock()
        self.status = "running"

    def add(self, epoch: int, loss: float, accuracy: float | None) -> None:
        """Remember one epoch's result until the next flush."""
        self._buffer.append(
            {"job_id": self._job_id, "epoch": epoch, "loss": loss, "accuracy": accuracy}
        )

    def due(self) -> bool:
        """True when enough time or epochs have passed since the last flush."""
        return (
            len(self._buffer) >= self._flush_epochs
            or self._clock() - self._last_flush >= self._flush_seconds
        )

    def flush(self, checkpoint: dict[str, Any] | None = None) -> str:
        """Write the buffered epochs (and a checkpoint); return the job's status as stored now."""
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if self._buffer:
            last = self._buffer[-1]
            values.update(
                epoch=last["epoch"], latest_loss=last["loss"], latest_accuracy=last["accuracy"]
            )
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        with self._sessions.begin() as session:
            if self._buffer:
                session.execute(insert(EpochLoss), self._buffer)
            self.status = session.execute(
                update(Job).where(Job.id == self._job_id).values(**values).returning(Job.status)
            ).scalar_one()
        self._buffer = []
        self._last_flush = self._clock()
        return self.status


def finish_job(session: Session, job_id: str, weights: dict[str, Any] | None) -> str:
    """End a job: succeeded with its weights, or cancelled when ``weights`` is None."""
    status = "succeeded" if weights is not None else "cancelled"
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("running", "cancelling")))
        .values(status=status, weights=weights, checkpoint=None, finished_at=utcnow())
    )
    return status


def fail_job(session: Session, job_id: str, error: str) -> None:
    """End a job as failed, with a message that says why."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("running", "cancelling")))
        .values(status="failed", error=error, checkpoint=None, finished_at=utcnow())
    )
