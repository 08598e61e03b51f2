"""The one way a stored job's status changes, checked against store.status's transition table.

``move`` is a conditional ``UPDATE … WHERE status IN (allowed sources)``, so a transition the
table does not allow cannot happen, however workers, reapers and the API race; ``set_status``
changes a row the caller holds locked.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from store.models import Job
from store.status import TRANSITIONS, IllegalTransition, JobStatus, sources


def move(
    session: Session,
    to: JobStatus,
    *where: ColumnElement[bool],
    among: Iterable[JobStatus] | None = None,
    **values: Any,
) -> list[str]:
    """Move the jobs matching ``where`` to ``to`` (from ``among`` only); the ids that moved."""
    statement = (
        update(Job)
        .where(*where, Job.status.in_(sources(to, among)))
        .values(status=to, **values)
        .returning(Job.id)
    )
    return list(session.scalars(statement))


def set_status(job: Job, to: JobStatus) -> None:
    """Change the status of a job row the caller holds locked (``SELECT … FOR UPDATE``)."""
    if to not in TRANSITIONS[JobStatus(job.status)]:
        raise IllegalTransition(f"no job moves from {job.status} to {to}")
    job.status = to
