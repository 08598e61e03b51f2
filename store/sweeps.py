"""What the API does to sweeps in SQL: create one with its trials, read, list, cancel, delete.

A sweep's trials are ordinary job rows (``Job.sweep_id``, ``Job.params``): the workers, the
reaper and every job endpoint treat them as any job. The sweep's own status is derived from its
trials' (``status``), except ``cancelled``, which POST …/cancel sets.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store.events import publish_after_commit
from store.jobs import Conflict, NotFound, newest_first_page
from store.models import EpochLoss, Job, Sweep, utcnow
from store.moves import move
from store.objective import Best, best_per_trial, column
from store.status import ACTIVE, WORKING, JobStatus


@dataclass(frozen=True)
class Trial:
    """One trial as a sweep lists it."""

    job_id: str
    params: dict[str, Any]
    status: str
    epochs_run: int
    best: Best | None


def create_sweep(
    session: Session,
    owner: str,
    name: str | None,
    request: dict[str, Any],
    trials: list[tuple[dict[str, Any], dict[str, Any]]],
    queue: str,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> Sweep:
    """Store a sweep and its trials, each ``(params, normalised spec)`` a queued job on ``queue``.

    A second sweep with the owner's ``idempotency_key`` raises ``IntegrityError`` at the flush.
    """
    objective, pruning = request["objective"], request.get("pruning")
    sweep = Sweep(
        id=str(uuid.uuid4()),
        owner=owner,
        name=name,
        request=request,
        metric=objective["metric"],
        mode=objective["mode"],
        max_parallel=request["max_parallel"],
        pruning=pruning,
        trials=len(trials),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        created_at=utcnow(),
    )
    session.add(sweep)
    session.flush()
    created = utcnow()
    # A microsecond apart: the fair pick starts the oldest first, so trials go in index order.
    rows = [
        Job(
            id=str(uuid.uuid4()),
            owner=owner,
            queue=queue,
            name=f"{name or 'sweep'} #{index}",
            labels={},
            status=JobStatus.QUEUED,
            spec=spec,
            dataset_id=(spec.get("data") or {}).get("dataset"),
            epochs=spec["training"]["epochs"],
            epoch=0,
            attempts=0,
            created_at=created + timedelta(microseconds=index),
            sweep_id=sweep.id,
            params=params,
        )
        for index, (params, spec) in enumerate(trials)
    ]
    session.add_all(rows)
    session.flush()
    return sweep


def find_by_idempotency_key(session: Session, owner: str, key: str) -> Sweep | None:
    """The owner's sweep submitted with this Idempotency-Key, or None."""
    query = select(Sweep).where(Sweep.owner == owner, Sweep.idempotency_key == key)
    return session.scalars(query).one_or_none()


def get_sweep(session: Session, sweep_id: str, owner: str | None) -> Sweep | None:
    """The owner's sweep with this id (any owner's for None), or None."""
    query = select(Sweep).where(Sweep.id == sweep_id)
    if owner is not None:
        query = query.where(Sweep.owner == owner)
    return session.scalars(query).one_or_none()


def list_sweeps(
    session: Session, owner: str | None, limit: int, cursor: str | None
) -> tuple[list[Sweep], str | None]:
    """One page of the owner's sweeps (any owner's for None), newest first, and the next cursor."""
    query = select(Sweep)
    if owner is not None:
        query = query.where(Sweep.owner == owner)
    return newest_first_page(session, query, Sweep, limit, cursor)


def counts(session: Session, sweep_ids: list[str]) -> dict[str, Counter[str]]:
    """Each sweep's trials counted by status."""
    rows = session.execute(
        select(Job.sweep_id, Job.status, func.count())
        .where(Job.sweep_id.in_(sweep_ids))
        .group_by(Job.sweep_id, Job.status)
    )
    found: dict[str, Counter[str]] = {sweep_id: Counter() for sweep_id in sweep_ids}
    for sweep_id, status, count in rows:
        found[sweep_id][status] = count
    return found


def status(sweep: Sweep, trials: Counter[str]) -> str:
    """``cancelled`` once asked; else ``succeeded`` when every trial has ended, ``running``
    while any runs, ``queued`` before."""
    if sweep.cancelled_at is not None:
        return "cancelled"
    if any(trials[s] for s in WORKING):
        return "running"
    if any(trials[s] for s in ACTIVE):
        # Some ended, the rest wait: it has been running (between two trials, say).
        ended = sum(count for s, count in trials.items() if s not in ACTIVE)
        return "running" if ended else "queued"
    return "succeeded"


def trials(session: Session, sweep: Sweep) -> list[Trial]:
    """Every trial of the sweep, in the order it was made, with its best objective so far."""
    best = best_per_trial(session, sweep.id, sweep.metric, sweep.mode)
    rows = session.execute(
        select(Job.id, Job.params, Job.status, Job.epoch)
        .where(Job.sweep_id == sweep.id)
        .order_by(Job.created_at, Job.id)
    )
    return [
        Trial(row.id, row.params or {}, row.status, row.epoch, best.get(row.id)) for row in rows
    ]


def cancel(session: Session, sweep: Sweep) -> int:
    """Cancel every trial still queued, ask every running one to stop; the sweep is cancelled.
    How many queued trials ended here (no worker will count their ending)."""
    if sweep.cancelled_at is None:
        sweep.cancelled_at = utcnow()
    mine = Job.sweep_id == sweep.id
    ended = move(session, JobStatus.CANCELLED, mine, among=[JobStatus.QUEUED], finished_at=utcnow())
    asked = move(session, JobStatus.CANCELLING, mine, among=[JobStatus.RUNNING])
    for job_id in (*ended, *asked):
        publish_after_commit(session, job_id)  # live streams show the cancel at once
    return len(ended)


def delete_unqueued(session: Session, sweep_id: str) -> None:
    """Remove a sweep whose trials could not be queued, so a failed submission leaves nothing."""
    session.execute(delete(Job).where(Job.sweep_id == sweep_id))
    session.execute(delete(Sweep).where(Sweep.id == sweep_id))


def remove_ended(session: Session, sweep_id: str, owner: str | None) -> None:
    """Delete the owner's sweep and its trials once every trial has ended.

    ``NotFound`` when there is no such sweep (or it is another owner's), ``Conflict`` while a
    trial is queued or running. The trials' rows are locked, so no claim starts one between the
    check and the delete.
    """
    sweep = get_sweep(session, sweep_id, owner)
    if sweep is None:
        raise NotFound(f"no sweep {sweep_id}")
    statuses = session.scalars(
        select(Job.status).where(Job.sweep_id == sweep_id).with_for_update()
    ).all()
    active = sum(1 for s in statuses if s in ACTIVE)
    if active:
        raise Conflict(f"{active} of its trials are queued or running; cancel it first")
    deleted = session.scalars(delete(Job).where(Job.sweep_id == sweep_id).returning(Job.id)).all()
    session.execute(delete(Sweep).where(Sweep.id == sweep_id))
    for job_id in deleted:
        publish_after_commit(session, job_id)  # live streams read it again and end


def curves(session: Session, sweep: Sweep, points: int) -> dict[str, list[list[float]]]:
    """Each trial's objective as ``[epoch, value]`` pairs: at most ``points`` + 1 per trial,
    evenly spaced, always with its last recorded epoch."""
    value = column(sweep.metric)
    rows = session.execute(
        select(EpochLoss.job_id, EpochLoss.epoch, value)
        .join(Job, Job.id == EpochLoss.job_id)
        .where(Job.sweep_id == sweep.id, value.is_not(None))
        .order_by(EpochLoss.job_id, EpochLoss.epoch)
    )
    lines: dict[str, list[list[float]]] = {}
    for job_id, epoch, metric in rows:
        lines.setdefault(job_id, []).append([epoch, metric])
    for job_id, line in lines.items():
        step = -(-len(line) // points)
        if step > 1:
            lines[job_id] = line[::step] + ([line[-1]] if (len(line) - 1) % step else [])
    return lines
