"""Forgetting old jobs: ended jobs past the retention period go, with their losses, in batches.

Each batch is its own short transaction (a job's epoch_losses can be a million rows, and a long
transaction would hold locks and bloat the tables), so the purge can stop at any batch and pick
up where it stopped. Only ended jobs are ever purged, by the same conditional DELETE as the API's
(a worker still writing to an ended job is fenced out of it anyway).
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from store import metrics
from store.models import Job, utcnow
from store.status import TERMINAL


def cutoff(days: float, now: datetime | None = None) -> datetime:
    """The moment before which an ended job is past a retention of ``days``."""
    return (now or utcnow()) - timedelta(days=days)


def expired_count(session: Session, before: datetime) -> int:
    """How many jobs ended before ``before`` (what a purge would remove)."""
    query = select(func.count()).where(Job.finished_at < before, Job.status.in_(TERMINAL))
    return session.scalar(query) or 0


def purge_batch(session: Session, before: datetime, limit: int) -> list[str]:
    """Delete up to ``limit`` jobs that ended before ``before``, oldest first; their ids."""
    oldest = (
        select(Job.id)
        .where(Job.finished_at < before, Job.status.in_(TERMINAL))
        .order_by(Job.finished_at)
        .limit(limit)
    )
    ids = list(session.scalars(oldest))
    if not ids:
        return []
    # Conditional again: nothing moves an ended job, but the condition costs nothing.
    statement = delete(Job).where(Job.id.in_(ids), Job.status.in_(TERMINAL)).returning(Job.id)
    return list(session.scalars(statement))


def purge(sessions: sessionmaker[Session], before: datetime, batch: int) -> int:
    """Delete every job that ended before ``before``, ``batch`` per transaction; how many."""
    total = 0
    while True:
        with sessions.begin() as session:
            removed = len(purge_batch(session, before, batch))
        if removed:
            metrics.instruments().jobs_purged.inc(removed)
        total += removed
        if removed < batch:
            return total
