"""Runs one job: claims its row, drives engine.Training, records progress, and ends the job.

Every database write goes through ``with_retry``, so a restart of the database pauses a job
instead of losing it. A run that finds another delivery has taken its job over stops writing.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from engine import Training
from engine.errors import SpecError
from store.datasets import inline_spec
from store.db import sessions
from store.fair import claim_next, top_up_quietly
from store.logging_setup import job_context
from store.metrics import EpochTimer
from store.progress import (
    Claim,
    ProgressRecorder,
    Superseded,
    fail_by_message,
    fail_job,
    finish_job,
    hand_back,
    rewind,
)
from store.pruning import rule_for
from store.queue import BrokerUnavailable, enqueue, mark_skipped
from store.retry import is_transient, with_retry
from store.settings import Settings
from store.status import JobStatus
from worker.heartbeat import Heartbeat
from worker.shutdown import stop_requested

log = logging.getLogger(__name__)
T = TypeVar("T")


class TimeLimitReached(Exception):
    """The job ran for longer than JOB_TIME_LIMIT allows."""


def run_job(settings: Settings, named: str, message_id: str | None = None) -> str:
    """Run the job a message naming ``named`` stands for: the fairest one that may start now
    (store.fair), trained to its end or until cancelled; return the status it ended in."""
    if stop_requested.is_set():  # a message taken while this worker stops: for another worker
        enqueue(settings, named)
        return "deferred"
    factory = sessions(settings.database_url)
    claim = _write(
        factory,
        settings,
        f"job {named}: claim",
        lambda s: claim_next(s, named, message_id, settings),
    )
    if claim is None:
        log.info("message for job %s: no job may start now; skipped", named)
        if message_id is not None:
            _skipped(factory, settings, message_id)
        return "skipped"
    job_id, attempt = claim.job_id, claim.attempt
    with job_context(job_id):
        log.info("job %s attempt %d claimed", job_id, attempt)
        try:
            with Heartbeat(factory, job_id, attempt, settings.heartbeat_seconds):
                status = _train(factory, settings, job_id, claim)
        except Superseded:
            # Taken over by another delivery, ended by the reaper, or ended and then deleted: its
            # row no longer matches this attempt, so nothing this run writes lands anywhere.
            log.warning("job %s attempt %d no longer owns the job; stopped", job_id, attempt)
            return "superseded"
        log.info("job %s %s", job_id, status)
    # The job's slot is free: a job its owner's cap held back may start now (store.fair).
    top_up_quietly(factory, settings, settings.queue_name, own=message_id)
    return status


def _skipped(factory: sessionmaker[Session], settings: Settings, message_id: str) -> None:
    """A message spent on nothing: say so, then top the queue up.

    A job may have become startable just after this claim looked (a trial of a capped sweep
    ending on another worker), and that worker's top-up may count this message, not yet
    acknowledged, as one still to claim it: marked skipped, it is not counted; and this top-up,
    after the mark, finds such a job itself if the other looked before the mark.
    """
    try:
        mark_skipped(settings, settings.queue_name, message_id)
    except BrokerUnavailable:
        log.warning("message %s: could not mark it skipped (broker unreachable)", message_id)
    top_up_quietly(factory, settings, settings.queue_name, own=message_id)


def fail_killed(settings: Settings, message_id: str, error: str) -> None:
    """Fail the job message ``message_id`` ran, whose process was killed (by the hard time
    limit), from the worker's parent: the message may have run another job than it named."""
    factory = sessions(settings.database_url)
    job_id = _write(
        factory,
        settings,
        f"message {message_id}: fail",
        lambda s: fail_by_message(s, message_id, error),
    )
    if job_id is not None:
        log.warning("job %s failed: %s", job_id, error)
        top_up_quietly(factory, settings, settings.queue_name)


def _train(factory: sessionmaker[Session], settings: Settings, job_id: str, claim: Claim) -> str:
    attempt = claim.attempt
    rule = _write(factory, settings, f"job {job_id}: pruning", lambda s: rule_for(s, job_id))
    recorder = ProgressRecorder(
        factory,
        job_id,
        attempt,
        settings.flush_seconds,
        settings.flush_epochs,
        retry=lambda write: with_retry(write, settings.db_retry_seconds, f"job {job_id}: progress"),
        every=claim.recorded_every,
        last=claim.spec["training"]["epochs"],
        prune=rule.prunes_at(job_id) if rule is not None else None,
    )
    try:
        return _train_recording(factory, settings, job_id, claim, recorder)
    finally:
        recorder.close()


def _train_recording(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: str,
    claim: Claim,
    recorder: ProgressRecorder,
) -> str:
    attempt = claim.attempt
    training: Training | None = None
    try:
        # A stored dataset's rows are read here, once per attempt, and handed to the engine inline.
        spec = _write(
            factory, settings, f"job {job_id}: dataset", lambda s: inline_spec(s, claim.spec)
        )
        training = Training(spec, resume=claim.checkpoint)
        if claim.checkpoint is not None:
            log.info("job %s attempt %d resumes after epoch %d", job_id, attempt, training.epoch)
        resumed = training.epoch
        if attempt > 1:  # a first attempt has nothing written past its start to forget
            _write(
                factory,
                settings,
                f"job {job_id}: rewind",
                lambda s: rewind(s, job_id, attempt, resumed),
            )
        last_checkpoint = started = time.monotonic()
        epoch_timer = EpochTimer(training.epoch)
        time_limit = settings.job_time_limit
        done = training.done
        while not done:
            stats = training.run_epoch()
            done = training.done  # early stopping ends before the last epoch: keep its row
            # Nothing else per epoch (one may take 0.1 ms): the rest waits for a batch.
            due = recorder.add(stats, final=done)
            if due:
                # Checked here, at an epoch boundary, rather than by Celery's soft time limit:
                # that one raises wherever the code happens to be, even inside a transaction.
                if time.monotonic() - started >= time_limit:
                    raise TimeLimitReached
                epoch_timer.lap(stats.epoch)  # one histogram observation per batch
                checkpoint = None
                if time.monotonic() - last_checkpoint >= settings.checkpoint_seconds:
                    checkpoint, last_checkpoint = training.checkpoint(), time.monotonic()
                # A cancel and a sweep's pruning stop the job the same way, at this boundary.
                if recorder.flush_soon(checkpoint) == JobStatus.CANCELLING or recorder.pruned:
                    break
                if stop_requested.is_set():  # this worker is stopping: another one resumes it
                    if _hand_back(factory, settings, job_id, claim.attempt, training, recorder):
                        return JobStatus.QUEUED
                    break  # cancelled meanwhile: end it so
        epoch_timer.lap(training.epoch)
        recorder.flush()
        weights = training.weights() if training.done else None
        stopped, best = training.stopped_epoch, training.best_epoch
        status = _write(
            factory,
            settings,
            f"job {job_id}: finish",
            lambda s: finish_job(s, job_id, attempt, weights, stopped, best, recorder.pruned),
        )
        if status == JobStatus.PRUNED:
            # The rule answers in the background write of one batch and is read at the end of
            # a later one: both epochs said, so that the lag can be checked (bench/).
            log.info(
                "job %s pruned: judged after epoch %d, stopped after epoch %d",
                job_id,
                recorder.pruned_at,
                training.epoch,
            )
        return status
    except (SpecError, ArithmeticError) as exc:
        error = str(exc)
    except TimeLimitReached:
        error = f"ran longer than the time limit of {settings.job_time_limit:g} s (JOB_TIME_LIMIT)"
    except MemoryError:
        cap = settings.worker_memory_bytes or 0
        error = (
            f"ran out of memory: the job needs more than the worker's cap of "
            f"{cap / 1024**3:.3g} GiB (WORKER_MEMORY_BYTES); use a smaller model or batch_size"
        )
    except Superseded:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise  # the database stayed down: the reaper requeues the job once it is back
        log.exception("job %s failed unexpectedly", job_id)
        error = f"the worker failed: {type(exc).__name__}: {exc}"
    training = None  # its graph goes now, before the writes below need memory (MemoryError)
    recorder.flush()  # the epochs that did run stay visible beside the error
    _write(factory, settings, f"job {job_id}: fail", lambda s: fail_job(s, job_id, error, attempt))
    return JobStatus.FAILED


def _hand_back(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: str,
    attempt: int,
    training: Training,
    recorder: ProgressRecorder,
) -> bool:
    """Checkpoint the job after its last recorded epoch, queue it again; False if it was
    cancelled meanwhile (``Superseded`` if another attempt owns it)."""
    recorder.flush()  # every epoch the checkpoint covers is recorded first
    checkpoint = training.checkpoint()
    what = f"job {job_id}: hand back"
    if not _write(factory, settings, what, lambda s: hand_back(s, job_id, attempt, checkpoint)):
        return False
    try:
        enqueue(settings, job_id)
    except BrokerUnavailable:  # still queued: the reaper sends it again after QUEUED_TIMEOUT
        log.warning("job %s handed back, but the broker is unreachable", job_id)
    log.info("job %s handed back after epoch %d: this worker is stopping", job_id, training.epoch)
    return True


def _write(
    factory: sessionmaker[Session], settings: Settings, what: str, work: Callable[[Session], T]
) -> T:
    """``work`` in a transaction of its own, tried again through a database outage."""

    def once() -> T:
        with factory.begin() as session:
            return work(session)

    return with_retry(once, settings.db_retry_seconds, what)
