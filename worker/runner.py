"""Runs one job: claims its row, drives engine.Training, records progress, and ends the job."""

import logging
import time

from engine import Training
from engine.errors import SpecError
from service.db import sessions
from service.progress import ProgressRecorder, claim_job, fail_job, finish_job, rewind
from service.settings import Settings, get_settings

log = logging.getLogger(__name__)


def run_job(job_id: str, settings: Settings | None = None) -> str:
    """Train job ``job_id`` to its end (or until cancelled); return the status it ended in."""
    settings = settings or get_settings()
    factory = sessions(settings.database_url)
    with factory.begin() as session:
        claim = claim_job(session, job_id, settings.max_attempts)
    if claim is None:
        log.info("job %s is not runnable; skipped", job_id)
        return "skipped"

    recorder = ProgressRecorder(factory, job_id, settings.flush_seconds, settings.flush_epochs)
    try:
        training = Training(claim.spec, resume=claim.checkpoint)
        with factory.begin() as session:
            rewind(session, job_id, training.epoch)
        last_checkpoint = time.monotonic()
        while not training.done:
            stats = training.run_epoch()
            recorder.add(stats.epoch, stats.loss, stats.accuracy)
            if recorder.due():
                checkpoint = None
                if time.monotonic() - last_checkpoint >= settings.checkpoint_seconds:
                    checkpoint, last_checkpoint = training.checkpoint(), time.monotonic()
                if recorder.flush(checkpoint) == "cancelling":
                    break
        recorder.flush()
        weights = training.weights() if training.done else None
        with factory.begin() as session:
            status = finish_job(session, job_id, weights)
    except (SpecError, ArithmeticError) as exc:
        recorder.flush()
        with factory.begin() as session:
            fail_job(session, job_id, str(exc))
        status = "failed"
    log.info("job %s %s", job_id, status)
    return status
