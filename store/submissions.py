"""Storing a submitted job: once per Idempotency-Key, within its owner's rate and quota.

The submissions a process receives at the same moment share a transaction (``group_commit``):
the owners' locks, the count of their active jobs, one INSERT of all their jobs and the commit
are paid once for all of them, and each one's own statement is its key's lookup. Under its
owner's lock an owner's count stays exact for the whole transaction (every submission takes that
lock), so the batch adds the jobs it stores to it itself. Two submissions of one batch with the
same Idempotency-Key meet the unique constraint at its INSERT: the batch then runs again, each
submission alone, and the second finds the first.
"""

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from store import jobs, ratelimit
from store.db import sessions
from store.group_commit import GroupCommit
from store.jobs import find_by_idempotency_key, insert_jobs, new_job
from store.models import Job
from store.settings import Settings


@dataclass(frozen=True)
class Submission:
    """A validated job spec (normalised), as its owner submitted it."""

    owner: str
    spec: dict[str, Any]
    name: str | None
    labels: dict[str, str]
    key: str | None  # the Idempotency-Key, if any
    digest: str  # of the request, to tell a retry from a key reused for another body


def store(submission: Submission, settings: Settings) -> tuple[Job, bool]:
    """The new job and True, or the job the owner already submitted with this key and False.

    ``QuotaExceeded`` or ``RateLimited`` (without Redis, the rate is counted here) when the
    owner may not submit now; ``IntegrityError`` when another process stored a job with the key
    at the same moment (the caller looks it up: that one is the original).
    """
    group = _group(settings.database_url)
    outcome = group.run(
        submission.owner, lambda session, shared: _write(session, shared, submission, settings)
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _begin(session: Session, owners: list[str]) -> dict[str, Any]:
    """Lock the batch's owners and count their active jobs, once for all its submissions
    (``new`` collects the jobs that ``_end`` stores)."""
    return {"active": jobs.lock_owners_and_count(session, owners), "new": []}


def _end(session: Session, shared: dict[str, Any]) -> None:
    """Store the batch's new jobs, all in one INSERT."""
    insert_jobs(session, shared["new"])
    shared["new"] = []


def _write(
    session: Session, shared: dict[str, Any], submission: Submission, settings: Settings
) -> tuple[Job, bool] | jobs.QuotaExceeded | ratelimit.RateLimited:
    """One submission's statements, its owner locked and counted (``shared``, kept up to date
    here). A refusal is returned, not raised: it wrote nothing, and the transaction goes on for
    the others."""
    owner, key = submission.owner, submission.key
    job = find_by_idempotency_key(session, owner, key) if key else None
    if job is not None:
        return job, False
    active: dict[str, int] = shared["active"]
    if active[owner] >= settings.max_active_jobs:
        return jobs.QuotaExceeded(active[owner], settings.max_active_jobs)
    if ratelimit.counted_in_database(settings):
        _end(session, shared)  # the window's count must see the batch's jobs so far
        try:
            ratelimit.check_database_rate(session, owner, settings)
        except ratelimit.RateLimited as refusal:
            return refusal
    queue = settings.queue_name  # where enqueue() sends its message
    spec, name, labels = submission.spec, submission.name, submission.labels
    job = new_job(spec, name, owner, key, submission.digest, labels, queue)
    shared["new"].append(job)
    active[owner] += 1
    return job, True


_groups: dict[str, GroupCommit] = {}
_made_once = threading.Lock()


def _group(url: str) -> GroupCommit:
    """The process's group of submissions to the database at ``url``."""
    if url not in _groups:
        with _made_once:
            if url not in _groups:
                _groups[url] = GroupCommit(sessions(url), _begin, _end)
    return _groups[url]
