"""Finding jobs nobody is working on, so that no job stays ``running`` or ``queued`` forever.

Two ways a job is orphaned. Its worker died without the broker redelivering the message (Redis
hands an unacknowledged message out again only after the visibility timeout, which must outlast
the longest job, so hours): its heartbeat goes stale. Or its message never reached a worker (the
API stored the job and then lost the broker, or Redis restarted without the message): it stays
queued. The reaper requeues the first kind (or fails it once it has used its attempts) and hands
both kinds to the caller, who tops their queues up to one message per job that could start
(store.fair.top_up): a job merely waiting behind others already has its message, and gets no
second one. Every update is conditional, so reapers in several workers never act on one job
twice.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import Job, utcnow
from store.moves import move
from store.settings import Settings
from store.status import JobStatus


@dataclass
class Reaped:
    """What one pass did, by job id; ``to_enqueue`` may lack a message (``queues``: where)."""

    to_enqueue: list[str] = field(default_factory=list)
    queues: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)


def reap(session: Session, settings: Settings, now: datetime | None = None) -> Reaped:
    """Requeue, fail or cancel the orphaned jobs; the ids that may need a message again."""
    now = now or utcnow()
    silent = Job.heartbeat_at < now - timedelta(seconds=settings.heartbeat_timeout)
    running, cancelling = [JobStatus.RUNNING], [JobStatus.CANCELLING]
    reaped = Reaped()
    # Asked to stop, then its worker died: it has stopped.
    reaped.cancelled = move(
        session, JobStatus.CANCELLED, silent, among=cancelling, checkpoint=None, finished_at=now
    )
    reaped.failed = move(
        session,
        JobStatus.FAILED,
        silent,
        Job.attempts >= settings.max_attempts,
        among=running,
        checkpoint=None,
        finished_at=now,
        error=(
            f"gave up: its worker stopped responding (no heartbeat for "
            f"{settings.heartbeat_timeout:g} s) and the job has used its "
            f"{settings.max_attempts} attempts (MAX_ATTEMPTS)"
        ),
    )
    # Back to queued: the old worker, should it be alive after all, is fenced out of the row;
    # its message is spent (the dead worker holds it). heartbeat_at of a queued job is when a
    # reaper last found it waiting. Jobs without a queue (stored by hand, or before migration
    # 0004) join this worker's queue.
    adopt = func.coalesce(Job.queue, settings.queue_name)
    requeued = move(
        session,
        JobStatus.QUEUED,
        silent,
        among=running,
        heartbeat_at=now,
        message_id=None,
        queue=adopt,
    )
    waiting = func.coalesce(Job.heartbeat_at, Job.created_at)
    unstarted = session.execute(
        update(Job)
        .where(
            Job.status == JobStatus.QUEUED,
            waiting < now - timedelta(seconds=settings.queued_timeout),
        )
        .values(heartbeat_at=now, queue=adopt)
        .returning(Job.id, Job.queue)
    ).all()
    found = session.execute(select(Job.id, Job.queue).where(Job.id.in_(requeued))).all()
    reaped.to_enqueue = requeued + [row.id for row in unstarted]
    for row in [*found, *unstarted]:
        reaped.queues[row.id] = row.queue or settings.queue_name  # adopted: never None
    return reaped
