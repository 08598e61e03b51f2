"""What a worker writes about a job: claiming it, its per-epoch progress, and how it ended.

Per-epoch rows are buffered and written in batches (a commit per epoch would cost more than a
small model's epoch); each batch also moves the job's progress and heartbeat, and now and then
carries a checkpoint, all in one transaction so that a checkpoint never lags the losses it covers.

Every write after the claim is fenced by the attempt number the claim handed out: once another
delivery has claimed the job (or the reaper has requeued it), the old run's writes match no row,
and it learns it was superseded instead of interleaving its epochs with the new run's. A job that
has been deleted (only an ended one can be) matches no row either: the same quiet ``Superseded``.
"""

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from itertools import repeat
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from engine import EpochStats
from store.events import publish, publish_after_commit
from store.models import EpochLoss, Job, utcnow
from store.moves import move, set_status
from store.status import WORKING, JobStatus


class Superseded(Exception):
    """Another delivery now owns the job: this run must stop and write nothing more."""


@dataclass(frozen=True)
class Claim:
    """A job a worker may run now: which, its spec, after a crash where to resume, its attempt,
    and every how many epochs it records a loss row."""

    job_id: str
    spec: dict[str, Any]
    checkpoint: dict[str, Any] | None
    attempt: int
    recorded_every: int = 1


def recorded_every(epochs: int, cap: int) -> int:
    """N such that epochs 1, 1+N, 1+2N, ... and the last make at most ``cap`` + 1 rows.

    With N = ceil(epochs / cap), the multiples number floor((epochs - 1) / N) + 1 <= cap.
    """
    return max(1, -(-epochs // cap))


def claim_job(
    session: Session, job_id: str, max_attempts: int, heartbeat_timeout: float
) -> Claim | None:
    """Mark the job running and count the attempt; None when it must not run here now."""
    job = lock_job(session, Job.id == job_id)
    return claim_locked(session, job, max_attempts, heartbeat_timeout) if job else None


def lock_job(session: Session, *where: ColumnElement[bool]) -> Job | None:
    """The job matching ``where``, its row locked until the transaction ends, read afresh."""
    query = select(Job).where(*where).with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def claim_locked(
    session: Session, job: Job, max_attempts: int, heartbeat_timeout: float
) -> Claim | None:
    """``claim_job`` for a job whose row the caller holds locked."""
    now = utcnow()
    alive = job.heartbeat_at is not None and now - job.heartbeat_at < timedelta(
        seconds=heartbeat_timeout
    )
    if job.status in WORKING and alive:  # a duplicate message: a live worker runs the job
        return None
    if job.status == JobStatus.CANCELLING:  # asked to stop while its worker died: it has stopped.
        set_status(job, JobStatus.CANCELLED)
        job.finished_at = now
        return None
    if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        return None
    job.attempts += 1
    if job.attempts > max_attempts:
        set_status(job, JobStatus.FAILED)
        job.finished_at = now
        job.error = f"gave up after {max_attempts} attempts: the worker running it kept dying"
        return None
    set_status(job, JobStatus.RUNNING)
    job.heartbeat_at = now
    job.started_at = job.started_at or now
    publish_after_commit(session, job.id)
    return Claim(
        job_id=job.id,
        spec=job.spec,
        checkpoint=job.checkpoint,
        attempt=job.attempts,
        recorded_every=job.recorded_every or 1,
    )


def _owned(job_id: str, attempt: int) -> ColumnElement[bool]:
    """The job row, as long as this attempt is still the one running it."""
    return and_(Job.id == job_id, Job.attempts == attempt, Job.status.in_(WORKING))


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


Write = Callable[[], str]
# How many batches' worth of epochs may wait behind a slow write before training waits for it.
_BEHIND = 4


class ProgressRecorder:
    """Buffers a job's per-epoch losses and writes them in batches, by time or by count.

    ``flush_soon`` writes a batch on a background thread while training goes on: a batch's
    INSERT and commit take as long as hundreds of tiny epochs, and the database does that work on
    another core. Writes stay in order: a batch starts only after the one before has finished,
    and while one is still going the next grows instead of stopping training to wait.

    With ``every`` > 1 only epochs 1, 1+every, 1+2*every, ... and ``last`` get a row; the job's
    progress (epoch, latest loss) still moves with every epoch.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_id: str,
        attempt: int,
        flush_seconds: float,
        flush_epochs: int,
        clock: Callable[[], float] = time.monotonic,
        retry: Callable[[Write], str] = lambda write: write(),
        every: int = 1,
        last: int | None = None,
        prune: Callable[[Session, int], bool] | None = None,
    ) -> None:
        self._sessions = sessions
        self._job_id = job_id
        self._attempt = attempt
        self._flush_seconds = flush_seconds
        self._flush_epochs = flush_epochs
        self._clock = clock
        self._retry = retry
        self._kept: list[EpochStats] = []  # the epochs of the next batch that get a row
        self._every, self._last = every, last
        self._latest: EpochStats | None = None
        self._since_flush = 0
        self._last_flush = clock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="progress")
        self._pending: Future[str] | None = None
        self.status: str = JobStatus.RUNNING
        # A sweep's pruning rule, asked after each batch; once it says so, the run should stop.
        self._prune = prune
        self.pruned_at: int | None = None  # the epoch the rule was asked at when it said so

    @property
    def pruned(self) -> bool:
        """Whether the sweep's pruning rule has said this trial should stop."""
        return self.pruned_at is not None

    def add(self, stats: EpochStats, *, final: bool = False) -> bool:
        """Remember one epoch's result until the next flush (its row, if it is one kept); True
        when a flush is due (enough time or epochs have passed since the last).

        ``final``: the epoch training ended at (early stopping ends before ``last``), which
        always has a row. It runs once per epoch, and an epoch may take 0.1 ms: it keeps the
        epoch's stats as they are, and everything else (their columns) waits for a batch.
        """
        self._latest = stats
        self._since_flush += 1
        epoch = stats.epoch
        if final or (epoch - 1) % self._every == 0 or epoch == self._last:
            self._kept.append(stats)
        if (
            self._since_flush < self._flush_epochs
            and self._clock() - self._last_flush < self._flush_seconds
        ):
            return False
        # Due; but while the batch before is still being written (the database is slow, the
        # machine loaded), training goes on and this batch grows, rather than wait for it.
        pending = self._pending
        return (
            pending is None or pending.done() or self._since_flush >= _BEHIND * self._flush_epochs
        )

    def flush_soon(self, checkpoint: dict[str, Any] | None = None) -> str:
        """Start writing the buffered epochs (and a checkpoint) in the background.

        Returns the job's status as the last finished write found it (waiting for the write
        before this one, if it is still going); raises what that write raised.
        """
        self._wait()
        write = self._batch_writer(checkpoint)
        self._pending = self._writer.submit(self._retry, write)
        return self.status

    def flush(self, checkpoint: dict[str, Any] | None = None) -> str:
        """Write everything buffered now, after any write in progress; the job's stored status."""
        self._wait()
        self.status = self._retry(self._batch_writer(checkpoint))
        return self.status

    def close(self) -> None:
        """Wait for the write in progress, if any, and stop the writer thread."""
        try:
            self._wait()
        finally:
            self._writer.shutdown(wait=True)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.status = pending.result()

    def _batch_writer(self, checkpoint: dict[str, Any] | None) -> Write:
        """Take the buffered epochs; a function that writes them in one transaction.

        One transaction, so a retry after a lost connection writes it all or nothing again.
        """
        kept, self._kept = self._kept, []
        latest, self._latest, self._since_flush = self._latest, None, 0
        self._last_flush = self._clock()
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if latest is not None:
            values.update(
                epoch=latest.epoch, latest_loss=latest.loss, latest_accuracy=latest.accuracy
            )
        if checkpoint is not None:
            values["checkpoint"] = checkpoint

        def write() -> str:
            with self._sessions.begin() as session:
                # The fenced update first: it locks the row, so no new claim can rewind under us.
                status = _fenced_update(session, self._job_id, self._attempt, **values)
                if kept:
                    epochs, columns = _columns(kept)
                    insert_losses(session, self._job_id, epochs, columns)
                    if self._prune and self.pruned_at is None and self._prune(session, epochs[-1]):
                        self.pruned_at = epochs[-1]  # read by the runner after this write
            publish(self._job_id)  # wake live event streams, now that the batch is committed
            return status

        return write


# The measures of an epoch row, besides its epoch (columns of epoch_losses and EpochStats).
MEASURES = ("loss", "accuracy", "rmse", "val_loss", "val_accuracy", "val_rmse")


def _columns(kept: list[EpochStats]) -> tuple[list[int], dict[str, list[float | None]]]:
    """A batch's epochs, and a list per measure: the shape ``insert_losses`` takes."""
    columns = {name: list(map(attrgetter(name), kept)) for name in MEASURES}
    return [stats.epoch for stats in kept], columns


_DELETE_FROM = text("DELETE FROM epoch_losses WHERE job_id = :job_id AND epoch >= :first")
_COPY = f"COPY epoch_losses (job_id, epoch, {', '.join(MEASURES)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "int4", *["float8"] * len(MEASURES)]


def insert_losses(
    session: Session, job_id: str, epochs: list[int], columns: dict[str, list[float | None]]
) -> None:
    """Insert a batch of epoch rows (epochs ascending; ``columns``: a list per measure).

    A flush whose commit reached the database but whose reply was lost is retried; its rows are
    then already there, and the retry must not fail on them. On Postgres the batch is a binary
    ``COPY`` (a third of the CPU of one ``INSERT ... SELECT FROM unnest(...)``, and a tenth of an
    executemany), after deleting the rows from its first epoch on: batches are written in
    order, under the job row's lock, so those can only be this same batch's earlier commit.
    """
    full = {name: columns.get(name) or [None] * len(epochs) for name in MEASURES}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DELETE_FROM, {"job_id": job_id, "first": epochs[0]})
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(_COPY) as copy:  # type: ignore[union-attr]
            copy.set_types(_COPY_TYPES)
            for row in zip(repeat(job_id), epochs, *(full[name] for name in MEASURES)):
                copy.write_row(row)
        return
    # SQLite: a multi-row INSERT per chunk, not an executemany. The writer thread gives up the
    # GIL for every statement it steps, and the training thread beside it holds the GIL for up
    # to 5 ms each time: a row at a time, a 1,000-row batch held the database's one write lock
    # for 3.9 s (median; 20 ms now, bench/sqlite_batch_write.py), and submissions waited on it.
    measures = zip(epochs, *(full[name] for name in MEASURES), strict=True)
    rows = [(job_id, *row) for row in measures]
    connection = session.connection()
    for start in range(0, len(rows), _SQLITE_CHUNK):
        chunk = rows[start : start + _SQLITE_CHUNK]
        values = ", ".join([_SQLITE_ROW] * len(chunk))
        flat = tuple(value for row in chunk for value in row)
        # Rows already there are a retried batch's own: the same values, kept.
        connection.exec_driver_sql(f"{_SQLITE_INSERT} {values} ON CONFLICT DO NOTHING", flat)


# Rows per SQLite statement: 8 parameters each, well under SQLite's 32,766 per statement.
_SQLITE_CHUNK = 1000
_SQLITE_INSERT = f"INSERT INTO epoch_losses (job_id, epoch, {', '.join(MEASURES)}) VALUES"
_SQLITE_ROW = f"({', '.join(['?'] * (2 + len(MEASURES)))})"


def finish_job(
    session: Session,
    job_id: str,
    attempt: int,
    weights: dict[str, Any] | None,
    stopped_epoch: int | None = None,
    best_epoch: int | None = None,
    pruned: bool = False,
) -> str:
    """End a job: succeeded with its weights (and where early stopping ended it, if it did),
    else pruned (if ``pruned`` and it was not asked to cancel meanwhile) or cancelled."""
    values: dict[str, Any] = {"weights": weights, "checkpoint": None, "finished_at": utcnow()}
    values.update(stopped_epoch=stopped_epoch, best_epoch=best_epoch)
    owned = _owned(job_id, attempt)
    endings = [JobStatus.SUCCEEDED] if weights is not None else [JobStatus.CANCELLED]
    if weights is None and pruned:
        endings.insert(0, JobStatus.PRUNED)  # from running only: a cancel asked wins
    for status in endings:
        if move(session, status, owned, among=WORKING, **values):
            publish_after_commit(session, job_id)
            return status
    raise Superseded(f"job {job_id}: attempt {attempt} no longer owns it")


def fail_by_message(session: Session, message_id: str, error: str) -> str | None:
    """Fail the job that message ``message_id`` was running (its process was killed); its id."""
    running = select(Job.id).where(Job.message_id == message_id, Job.status.in_(WORKING))
    job_id = session.scalar(running)
    if job_id is not None:
        fail_job(session, job_id, error)
    return job_id


def fail_job(session: Session, job_id: str, error: str, attempt: int | None = None) -> None:
    """End a job as failed with a message that says why (only if ``attempt`` still owns it)."""
    where = _owned(job_id, attempt) if attempt is not None else Job.id == job_id
    values = {"error": error, "checkpoint": None, "finished_at": utcnow()}
    move(session, JobStatus.FAILED, where, among=WORKING, **values)
    publish_after_commit(session, job_id)


def hand_back(session: Session, job_id: str, attempt: int, checkpoint: dict[str, Any]) -> bool:
    """Put a running job back in the queue with a fresh checkpoint (its worker is stopping).

    False when this attempt no longer owns it, or it was asked to cancel meanwhile (then the
    runner ends it as cancelled instead).
    """
    moved = move(
        session,
        JobStatus.QUEUED,
        _owned(job_id, attempt),
        among=[JobStatus.RUNNING],
        checkpoint=checkpoint,
        heartbeat_at=utcnow(),  # for a queued job: when it was last enqueued
    )
    publish_after_commit(session, job_id)
    return bool(moved)
