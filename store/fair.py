"""Fair shares of the workers: which job a delivered message runs, and how many messages a queue
needs.

A message on the queue is a token for one worker slot, not an order to run the job it names. The
worker that receives one claims the fairest job of its queue that may start: the oldest queued
job of the owner with the fewest jobs running (round robin across owners), skipping owners who
already run MAX_RUNNING_PER_OWNER and sweeps that already run their ``max_parallel`` trials.
So a new owner's job starts when the next worker frees up, however long another owner's backlog
or sweep.

A queue needs one message per job that could start now (``startable``). Each submission sends
one. A message that finds nothing to start (the owners are at their cap) is spent, so whoever
frees a slot (the worker ending a job, the reaper) tops the queue up to that number again
(``top_up``), never past it: surplus messages are harmless (their claim finds nothing) but are
never made on purpose.
"""

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from store.models import INT_MAX, Job, Sweep, utcnow
from store.progress import Claim, claim_locked, lock_job, recorded_every
from store.queue import BrokerUnavailable, Pending, enqueue, pending
from store.settings import Settings
from store.status import WORKING, JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Cap:
    """What bounds the jobs running at once: the column that groups jobs, and the cap of a
    job's group (SQL, per row: a sweep's cap is its own ``max_parallel``). A job in no group of
    a kind (None: in no sweep) is not capped by that kind."""

    column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]
    limit: ColumnElement[int]


def _caps(settings: Settings) -> list[_Cap]:
    """The caps, in the order the pick weighs them: the owner's running jobs first (so a sweep
    never starves another owner), then the sweep's."""
    sweep_limit = select(Sweep.max_parallel).where(Sweep.id == Job.sweep_id).scalar_subquery()
    return [
        _Cap(Job.owner, literal(settings.max_running_per_owner)),
        _Cap(Job.sweep_id, func.coalesce(sweep_limit, INT_MAX)),
    ]


def pick(session: Session, queue: str, named: str, settings: Settings) -> str | None:
    """The job a message delivered on ``queue`` (naming ``named``) should start; None if none may.

    The row comes back locked (``FOR UPDATE SKIP LOCKED``). On Postgres the claims of a queue
    take turns (an advisory lock until the transaction ends), so the running counts the pick
    reads are exact and no cap is passed by two claims at once. SQLite has neither lock; the
    embedded mode runs one worker.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"gradyard.claim:{queue}".encode()).digest()
        session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], signed=True))))
    # The queue's jobs, and the named one wherever it was queued (e.g. stored by hand).
    query = select(Job.id).where(
        Job.status == JobStatus.QUEUED, or_(Job.queue == queue, Job.id == named)
    )
    order = []
    for cap in _caps(settings):
        running = (
            select(cap.column.label("key"), func.count().label("jobs"))
            .where(Job.queue == queue, Job.status.in_(WORKING), cap.column.is_not(None))
            .group_by(cap.column)
            .subquery()
        )
        jobs = func.coalesce(running.c.jobs, 0)
        query = query.outerjoin(running, running.c.key == cap.column).where(jobs < cap.limit)
        order.append(jobs)
    query = query.order_by(*order, Job.created_at, Job.id).limit(1)
    return session.scalar(query.with_for_update(of=Job, skip_locked=True))


def claim_next(
    session: Session, named: str, message_id: str | None, settings: Settings
) -> Claim | None:
    """Claim the job a message naming ``named``, delivered on the settings' queue, runs now.

    The named job resumes if it was running and its worker died (a redelivered message; it
    already counts as running); else the fairest job of the queue starts (``pick``), which may
    be another one. The job records the message (spent now) and its queue. None when no job may
    start: the message is spent on nothing.
    """
    limits = settings.max_attempts, settings.heartbeat_timeout
    job = lock_job(session, Job.id == named, Job.status.in_(WORKING))
    claim = claim_locked(session, job, *limits) if job is not None else None
    while job is None or claim is None:  # a picked job out of attempts fails: pick again
        picked = pick(session, settings.queue_name, named, settings)
        if picked is None:
            return None
        job = session.get_one(Job, picked)  # locked by the pick
        claim = claim_locked(session, job, *limits)
    job.queue, job.message_id = settings.queue_name, message_id and message_id[:255]
    if job.recorded_every is None:  # fixed once: a resumed run must keep the same epochs
        job.recorded_every = recorded_every(job.epochs, settings.max_recorded_epochs)
    return replace(claim, recorded_every=job.recorded_every)


def startable(session: Session, queue: str, settings: Settings) -> list[str]:
    """The queued jobs of ``queue`` that could start now given workers enough, oldest first."""
    caps = _caps(settings)
    rows = session.execute(
        select(Job.id, Job.status, *(cap.column for cap in caps), *(cap.limit for cap in caps))
        .where(Job.queue == queue, Job.status.in_([JobStatus.QUEUED, *WORKING]))
        .order_by(Job.created_at, Job.id)
    ).all()
    working = [row for row in rows if row.status in WORKING]
    running = [Counter(row[2 + i] for row in working) for i in range(len(caps))]
    ready = []
    for row in rows:
        if row.status != JobStatus.QUEUED:
            continue
        groups = [row[2 + i] for i in range(len(caps))]
        limits = [row[2 + len(caps) + i] for i in range(len(caps))]
        # A job in no group of a kind (None: say, in no sweep) is not capped by that kind.
        if all(g is None or running[i][g] < limits[i] for i, g in enumerate(groups)):
            ready.append(row.id)
            for i, group in enumerate(groups):
                running[i][group] += 1
    return ready


def in_flight(
    found: Pending, spent: Iterable[str | None], settings: Settings, own: str | None
) -> int:
    """Messages still to claim a job: waiting, or delivered lately and not yet spent.

    A delivered message stays unacknowledged while its job runs (late acks); once it has
    claimed a job it is spent (``Job.message_id``). One held longer than HEARTBEAT_TIMEOUT without
    a running job belongs to a worker that died: Redis gives it back only after its visibility
    timeout (hours), so it is counted as lost.
    """
    spent = set(spent) | found.skipped  # a skipped message claimed nothing, and never will
    fresh = sum(
        1
        for message_id, age in found.unacked
        if message_id not in spent and message_id != own and age < settings.heartbeat_timeout
    )
    return found.waiting + fresh


def top_up(
    sessions: sessionmaker[Session],
    settings: Settings,
    queue: str,
    own: str | None = None,
    most: int | None = None,
) -> list[str]:
    """Send ``queue`` the messages it lacks (at most ``most``); the ids of the jobs they name.

    ``own`` is the caller's own message, if it is one a worker holds: about to be acknowledged.
    ``BrokerUnavailable`` if the broker cannot be read or written.
    """
    found = pending(settings, queue)  # the broker first: a claim in between is then not missed
    with sessions.begin() as session:
        ready = startable(session, queue, settings)
        # A message that ran a job is spent, also once the job has ended and until the worker
        # acknowledges it (moments later): else two workers ending jobs at once each count the
        # other's message as one still to claim a job, and neither sends one (seen with sweeps).
        lately = utcnow() - timedelta(seconds=settings.heartbeat_timeout)
        spent = session.scalars(
            select(Job.message_id).where(
                Job.queue == queue,
                Job.message_id.is_not(None),
                or_(Job.status.in_(WORKING), Job.finished_at > lately),
            )
        ).all()
    short = len(ready) - in_flight(found, spent, settings, own)
    named = ready[: max(0, min(short, len(ready) if most is None else most))]
    for job_id in named:  # any waiting job's id would do: the claim picks the fairest anyway
        enqueue(settings, job_id, queue)
    return named


def top_up_quietly(
    sessions: sessionmaker[Session], settings: Settings, queue: str, own: str | None = None
) -> None:
    """``top_up``, where a broker outage only delays it (the reaper tops up later)."""
    try:
        sent = top_up(sessions, settings, queue, own)
    except BrokerUnavailable as exc:
        log.warning("queue %s not topped up: broker unreachable (%s)", queue, exc)
        return
    if sent:
        log.info("queue %s topped up for %s", queue, sent)
