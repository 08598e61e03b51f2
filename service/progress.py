"""What a worker writes about a job: claiming it, its per-epoch progress, and how it ended.

Per-epoch rows are buffered and written in batches (a commit per epoch would cost more than a
small model's epoch); each batch also moves the job's progress and heartbeat, and now and then
carries a checkpoint, all in one transaction so that a checkpoint never lags the losses it covers.

Every write after the claim is fenced by the attempt number the claim handed out: once another
delivery has claimed the job (or the reaper has requeued it), the old run's writes match no row,
and it learns it was superseded instead of interleaving its epochs with the new run's.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Insert, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from service.events import publish, publish_after_commit
from service.models import EpochLoss, Job, utcnow

RUNNABLE = ("queued", "running")
ACTIVE = ("running", "cancelling")


class Superseded(Exception):
    """Another delivery now owns the job: this run must stop and write nothing more."""


@dataclass(frozen=True)
class Claim:
    """A job a worker may run now: its spec, after a crash where to resume, and its attempt."""

    spec: dict[str, Any]
    checkpoint: dict[str, Any] | None
    attempt: int


def claim_job(
    session: Session, job_id: str, max_attempts: int, heartbeat_timeout: float
) -> Claim | None:
    """Mark the job running and count the attempt; None when it must not run here now."""
    job = session.scalars(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if job is None:
        return None
    now = utcnow()
    alive = job.heartbeat_at is not None and now - job.heartbeat_at < timedelta(
        seconds=heartbeat_timeout
    )
    if job.status in ACTIVE and alive:  # a duplicate message: a live worker runs the job
        return None
    if job.status == "cancelling":  # asked to stop while its worker died: it has stopped.
        job.status, job.finished_at = "cancelled", now
        return None
    if job.status not in RUNNABLE:
        return None
    job.attempts += 1
    if job.attempts > max_attempts:
        job.status, job.finished_at = "failed", now
        job.error = f"gave up after {max_attempts} attempts: the worker running it kept dying"
        return None
    job.status, job.heartbeat_at = "running", now
    job.started_at = job.started_at or now
    publish_after_commit(session, job_id)
    return Claim(spec=job.spec, checkpoint=job.checkpoint, attempt=job.attempts)


def _owned(job_id: str, attempt: int) -> ColumnElement[bool]:
    """The job row, as long as this attempt is still the one running it."""
    return and_(Job.id == job_id, Job.attempts == attempt, Job.status.in_(ACTIVE))


def _fenced_update(session: Session, job_id: str, attempt: int, **values: Any) -> str:
    """Update the job if this attempt still owns it; its status, or ``Superseded``."""
    status = session.execute(
        update(Job).where(_owned(job_id, attempt)).values(**values).returning(Job.status)
    ).scalar_one_or_none()
    if status is None:
        raise Superseded(f"job {job_id}: attempt {attempt} no longer owns it")
    return status


def rewind(session: Session, job_id: str, attempt: int, epoch: int) -> None:
    """Forget progress past ``epoch`` (written after the checkpoint a retry resumes from)."""
    last = session.execute(
        select(EpochLoss.loss, EpochLoss.accuracy).where(
            EpochLoss.job_id == job_id, EpochLoss.epoch == epoch
        )
    ).one_or_none()
    _fenced_update(
        session,
        job_id,
        attempt,
        epoch=epoch,
        latest_loss=last.loss if last else None,
        latest_accuracy=last.accuracy if last else None,
        heartbeat_at=utcnow(),
    )
    session.execute(delete(EpochLoss).where(EpochLoss.job_id == job_id, EpochLoss.epoch > epoch))


def beat(session: Session, job_id: str, attempt: int) -> None:
    """Record that this attempt's worker is alive (``Superseded`` if it no longer owns the job)."""
    _fenced_update(session, job_id, attempt, heartbeat_at=utcnow())


class ProgressRecorder:
    """Buffers a job's per-epoch losses and writes them in batches, by time or by count."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_id: str,
        attempt: int,
        flush_seconds: float,
        flush_epochs: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._job_id = job_id
        self._attempt = attempt
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
        """Write the buffered epochs (and a checkpoint); return the job's status as stored now.

        One transaction, so a retry after a lost connection writes it all or nothing again.
        """
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if self._buffer:
            last = self._buffer[-1]
            values.update(
                epoch=last["epoch"], latest_loss=last["loss"], latest_accuracy=last["accuracy"]
            )
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        with self._sessions.begin() as session:
            # The fenced update first: it locks the row, so no new claim can rewind under us.
            self.status = _fenced_update(session, self._job_id, self._attempt, **values)
            if self._buffer:
                session.execute(_insert_ignoring_duplicates(session), self._buffer)
        self._buffer = []
        self._last_flush = self._clock()
        publish(self._job_id)  # wake live event streams, now that the batch is committed
        return self.status


def _insert_ignoring_duplicates(session: Session) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING for epoch rows.

    A flush whose commit reached the database but whose reply was lost is retried; its rows are
    then already there, and the retry must not fail on them.
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(EpochLoss).on_conflict_do_nothing()
    return sqlite.insert(EpochLoss).on_conflict_do_nothing()


def finish_job(session: Session, job_id: str, attempt: int, weights: dict[str, Any] | None) -> str:
    """End a job: succeeded with its weights, or cancelled when ``weights`` is None."""
    status = "succeeded" if weights is not None else "cancelled"
    _fenced_update(
        session,
        job_id,
        attempt,
        status=status,
        weights=weights,
        checkpoint=None,
        finished_at=utcnow(),
    )
    publish_after_commit(session, job_id)
    return status


def fail_job(session: Session, job_id: str, error: str, attempt: int | None = None) -> None:
    """End a job as failed with a message that says why (only if ``attempt`` still owns it)."""
    where = _owned(job_id, attempt) if attempt is not None else Job.id == job_id
    session.execute(
        update(Job)
        .where(where, Job.status.in_(ACTIVE))
        .values(status="failed", error=error, checkpoint=None, finished_at=utcnow())
    )
    publish_after_commit(session, job_id)
