"""A process's first submission and first job, rehearsed as it starts.

A process's first of each costs more than the ones after it: SQLAlchemy configures its mappers
and compiles each statement once, and the pools open their first connections to Postgres and
Redis. In-process on the bench machine, a fresh worker's first 1-epoch job took 73 ms against 14
for the next ones, an API process's first submission 42 ms against 4; through a fresh stack, the
first job's POST-to-end was 140 ms against 30 (bench/service_overhead.py's first run paid it).

So each process rehearses at its start, on a thread of its own (it serves meanwhile, and a
database that is not up yet only leaves the first job to pay), with nothing anyone else sees: a
queue, an owner, a job id and a token that no one has, and jobs that only the rehearsal's own
transaction ever holds (rolled back). Nothing is committed, no other row is locked, nothing is
sent to a queue. SQLAlchemy caches a statement's SQL by its shape, not its values, so the real
statements then find theirs compiled.
"""

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from store import events, jobs, queue, ratelimit, tokens
from store.db import reads, sessions
from store.events import Cursor, read_events
from store.fair import claim_next, top_up
from store.progress import beat, finish_job, insert_losses
from store.pruning import rule_for
from store.settings import Settings
from store.status import JobStatus

log = logging.getLogger(__name__)

REHEARSAL = "gradyard-rehearsal"  # the queue and the owner of the rehearsals: no one's


def start(rehearse: Callable[[Settings], Any], settings: Settings) -> threading.Thread:
    """Run ``rehearse(settings)`` on a thread of its own; it never raises."""
    thread = threading.Thread(
        target=_quietly, args=(rehearse, settings), name="gradyard-warmup", daemon=True
    )
    thread.start()
    return thread


def _quietly(rehearse: Callable[[Settings], Any], settings: Settings) -> None:
    start = time.perf_counter()
    try:
        rehearse(settings)
    except (SQLAlchemyError, queue.BrokerUnavailable, ratelimit.CounterUnavailable) as exc:
        log.info("warm-up skipped (%s): the first request or job pays for it", exc)
        return
    log.info("warmed up in %.0f ms (%s)", 1000 * (time.perf_counter() - start), rehearse.__name__)


def _nobody() -> str:
    return f"{REHEARSAL}-{secrets.token_hex(8)}"


def rehearse_submission(settings: Settings) -> None:
    """An API process's statements: the token's read, a submission (its owner locked and
    counted, its key looked up, its job stored, never committed), the job and its events read;
    its Redis connections, the rate's scripts loaded."""
    configure_mappers()
    with reads(settings.database_url) as connection:
        tokens.find_token(connection, _nobody(), settings.secret_key)
    with sessions(settings.database_url)() as session:
        jobs.lock_owners_and_count(session, [REHEARSAL])
        jobs.find_by_idempotency_key(session, REHEARSAL, _nobody())
        spec = {"training": {"epochs": 1}}
        job_id = jobs.create_job(session, spec, None, REHEARSAL, queue=REHEARSAL).id
        session.expunge_all()
        jobs.get_job(session, job_id, REHEARSAL)
        read_events(session, job_id, Cursor(0, JobStatus.QUEUED))
        session.rollback()  # no one ever saw the job
    ratelimit.connect(settings)
    queue.connect(settings)


def rehearse_job(settings: Settings) -> None:
    """A worker's statements: a job of its own, claimed, beating, recording an epoch and
    ending, in a transaction never committed; a top-up with nothing to send; its Redis."""
    configure_mappers()
    rehearsal = settings.model_copy(update={"queue_name": REHEARSAL})
    factory = sessions(settings.database_url)
    with factory() as session:
        spec = {"training": {"epochs": 1}}
        job_id = jobs.create_job(session, spec, None, REHEARSAL, queue=REHEARSAL).id
        session.expunge_all()  # read back as a worker reads a job it did not make
        claim = claim_next(session, job_id, None, rehearsal)
        if claim is not None:  # it is: the rehearsal's own job, queued in its own transaction
            session.flush()
            rule_for(session, job_id)
            beat(session, job_id, claim.attempt)
            insert_losses(session, job_id, [1], {"loss": [0.0]})
            finish_job(session, job_id, claim.attempt, {})
        session.rollback()  # no one ever saw the job, its lock or its epoch
    top_up(factory, rehearsal, REHEARSAL)
    events.publish(job_id)
