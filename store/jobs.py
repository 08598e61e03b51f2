"""What the API does to jobs in SQL: create, find, list, page their losses, ask them to cancel.

Every function takes the caller's session; the caller (a view) owns the transaction.
"""

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Row,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session, defer, make_transient_to_detached

from store.events import publish_after_commit
from store.models import INT_MAX, Dataset, EpochLoss, Job, OwnerActiveJobs, Sweep, utcnow
from store.moves import move
from store.status import ACTIVE, TERMINAL, WORKING, JobStatus

Listed = TypeVar("Listed", Job, Dataset, Sweep)  # what pages newest first, by (created_at, id)


class Conflict(Exception):
    """The job is in a state that does not allow what was asked."""


class NotFound(LookupError):
    """No such job, or not one the caller may see."""


class BadCursor(ValueError):
    """A pagination cursor that this service did not hand out."""


class QuotaExceeded(Exception):
    """The owner already has as many jobs queued or running as allowed."""

    def __init__(self, active: int, allowed: int) -> None:
        super().__init__(
            f"{active} of your jobs are queued or running and at most {allowed} may be: wait for "
            "one to finish or cancel one"
        )


def create_job(
    session: Session,
    spec: dict[str, Any],
    name: str | None,
    owner: str,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    labels: dict[str, str] | None = None,
    queue: str | None = None,
) -> Job:
    """Store a new queued job for ``spec`` (already validated and normalised) on ``queue``.

    ``new_job`` and ``insert_jobs`` of one job. A second job with the owner's
    ``idempotency_key`` raises ``IntegrityError``. The quota is the caller's to check, under
    the owner's lock (``store.submissions``).
    """
    job = new_job(spec, name, owner, idempotency_key, request_hash, labels, queue)
    insert_jobs(session, [job])
    return job


def new_job(
    spec: dict[str, Any],
    name: str | None,
    owner: str,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    labels: dict[str, str] | None = None,
    queue: str | None = None,
) -> Job:
    """A new queued job for ``spec``, its id given, not stored yet: ``insert_jobs`` stores it."""
    values: dict[str, Any] = dict(
        id=str(uuid.uuid4()),
        owner=owner,
        queue=queue,
        name=name,
        labels=labels or {},
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        status=JobStatus.QUEUED,
        spec=spec,
        dataset_id=(spec.get("data") or {}).get("dataset"),
        epochs=spec["training"]["epochs"],
        epoch=0,
        attempts=0,
        created_at=utcnow(),
    )
    # Every other column is NULL: said here, so that reading the job loads nothing more.
    return Job(**dict.fromkeys(_UNSET), **values)


def insert_jobs(session: Session, new: list[Job]) -> None:
    """Store jobs made by ``new_job``, in one round trip, and attach them to the session.

    A Core INSERT (an ORM unit of work cost the API a seventh of a submission), the jobs
    handed back with every column known.
    """
    if not new:
        return
    session.execute(_insert(), [{name: getattr(job, name) for name in _COLUMNS} for job in new])
    for job in new:
        make_transient_to_detached(job)  # it is in the database now: the session only tracks it
        session.add(job)


_JOBS = cast(Table, Job.__table__)
# What create_job writes; the rest start NULL (not JSON's null: so they are left out).
_COLUMNS = [
    "id",
    "owner",
    "queue",
    "name",
    "labels",
    "idempotency_key",
    "request_hash",
    "status",
    "spec",
    "dataset_id",
    "epochs",
    "epoch",
    "attempts",
    "created_at",
]
_UNSET = [column.name for column in _JOBS.columns if column.name not in _COLUMNS]


@cache
def _insert() -> Insert:
    return insert(_JOBS).values({name: bindparam(name) for name in _COLUMNS})


def delete_job(session: Session, job_id: str) -> None:
    """Remove a job that could not be queued, so a failed submission leaves nothing behind."""
    session.execute(delete(Job).where(Job.id == job_id))


def remove_ended_job(session: Session, job_id: str, owner: str | None) -> None:
    """Delete the owner's ended job with its losses, checkpoint and weights.

    One conditional ``DELETE … WHERE status IN (terminal)``: a worker or reaper racing it either
    moved the job first (then it is deleted in its final state, or refused if still active) or
    finds no row afterwards (their writes are conditional too, so they match nothing and nothing
    comes back). Its epoch_losses go with it (ON DELETE CASCADE). ``NotFound`` when there is no
    such job (or it is another owner's), ``Conflict`` while it is active or a sweep's trial (the
    sweep goes as a whole).
    """
    query = delete(Job).where(Job.id == job_id, Job.status.in_(TERMINAL), Job.sweep_id.is_(None))
    if owner is not None:
        query = query.where(Job.owner == owner)
    if session.scalars(query.returning(Job.id)).first() is not None:
        publish_after_commit(session, job_id)  # live streams read it again and end
        return
    job = get_job(session, job_id, owner)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.sweep_id is not None:
        raise Conflict(f"the job is a trial of sweep {job.sweep_id}; delete the sweep instead")
    raise Conflict(f"the job is {job.status}; cancel it first")


def get_job(session: Session, job_id: str, owner: str | None) -> Job | None:
    """The owner's job with this id, or None (another owner's job is as absent as no job).

    ``owner=None`` means any owner's (the admin scope).
    """
    query = select(Job).where(Job.id == job_id)
    if owner is not None:
        query = query.where(Job.owner == owner)
    return session.scalars(query).one_or_none()


def find_by_idempotency_key(session: Session, owner: str, key: str) -> Job | None:
    """The owner's job submitted with this Idempotency-Key, or None."""
    query = select(Job).where(Job.owner == owner, Job.idempotency_key == key)
    return session.scalars(query).one_or_none()


def lock_owner(session: Session, owner: str) -> None:
    """Serialise the owner's submissions until the transaction ends, so counts stay exact.

    Postgres only: SQLite (the single-machine embedded mode) has no such lock, and its counts
    may be passed by submissions that race each other.
    """
    lock_owners(session, [owner])


def lock_owners(session: Session, owners: list[str]) -> None:
    """``lock_owner`` for several owners at once, in the order given: callers that may hold
    more than one owner at a time give them sorted, so that no two wait for each other."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_OWNERS, {"keys": _lock_keys(owners)})


def lock_owners_and_count(session: Session, owners: list[str]) -> dict[str, int]:
    """``lock_owners`` then ``active_counts``, in one round trip on Postgres (a function of
    migration 0015's: a statement of its own reads the counts once the locks are held)."""
    if session.get_bind().dialect.name != "postgresql":
        return active_counts(session, owners)
    values = {"keys": _lock_keys(owners), "owners": owners}
    counted = dict(session.connection().execute(_LOCK_AND_COUNT, values).tuples().all())
    return {owner: counted.get(owner, 0) for owner in owners}


def _lock_keys(owners: list[str]) -> list[int]:
    """Each owner's advisory lock: the first 8 bytes of a digest of its name, as a bigint."""
    digests = [hashlib.sha256(f"gradyard.owner:{owner}".encode()).digest() for owner in owners]
    return [int.from_bytes(digest[:8], signed=True) for digest in digests]


# Plain text: nothing to compile. One round trip, the locks taken in the array's order.
_LOCK_OWNERS = text(
    "SELECT pg_advisory_xact_lock(key) "
    "FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS taken(key, place) ORDER BY place"
)
_LOCK_AND_COUNT = text(
    "SELECT owner, active "
    "FROM lock_owners_and_count(CAST(:keys AS bigint[]), CAST(:owners AS varchar[]))"
)


def counts_against_quota(table: Table) -> ColumnElement[bool]:
    """A lone job queued or running, or a sweep's trial while it runs (the sweep's max_parallel
    bounds those): what an owner's quota of active jobs counts."""
    lone = and_(table.c.sweep_id.is_(None), table.c.status.in_([str(s) for s in ACTIVE]))
    return or_(lone, table.c.status.in_([str(s) for s in WORKING]))


def active_count(session: Session, owner: str) -> int:
    """How many of the owner's jobs count against their quota (``counts_against_quota``)."""
    return active_counts(session, [owner])[owner]


def active_counts(session: Session, owners: list[str]) -> dict[str, int]:
    """``active_count`` of each of ``owners``, in one statement: their rows of
    ``owner_active_jobs``, which triggers on jobs keep up to date (migration 0014)."""
    counted = dict(session.execute(_active_counts(), {"owners": owners}).tuples().all())
    return {owner: counted.get(owner, 0) for owner in owners}


@cache
def _active_counts() -> Select[tuple[str, int]]:
    """Built once: building the statement and its cache key cost more than running it."""
    counts = OwnerActiveJobs
    return select(counts.owner, counts.active).where(
        counts.owner.in_(bindparam("owners", expanding=True))
    )


def check_quota(session: Session, owner: str, allowed: int) -> None:
    """QuotaExceeded when the owner's active jobs fill their quota (exact under the owner's
    submission lock, which the caller holds: see ratelimit.admit)."""
    active = active_count(session, owner)
    if active >= allowed:
        raise QuotaExceeded(active, allowed)


def created_since(session: Session, owner: str, since: datetime) -> list[datetime]:
    """Creation times of the owner's submissions after ``since``, oldest first: lone jobs and
    sweeps (a sweep counts once, however many trials it made)."""
    lone = select(Job.created_at).where(
        Job.owner == owner, Job.created_at > since, Job.sweep_id.is_(None)
    )
    swept = select(Sweep.created_at).where(Sweep.owner == owner, Sweep.created_at > since)
    return sorted([*session.scalars(lone), *session.scalars(swept)])


@dataclass(frozen=True)
class Filters:
    """What a list keeps besides a status: every label matches, the name starts so, and it was
    created in the window, and the sweep it is a trial of."""

    labels: dict[str, str] = field(default_factory=dict)
    name_prefix: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sweep_id: str | None = None

    def where(self, dialect: str) -> list[ColumnElement[bool]]:
        """The SQL conditions (each served by an index: ix_jobs_labels, ix_jobs_owner_name)."""
        conditions: list[ColumnElement[bool]] = []
        if self.labels:
            if dialect == "postgresql":
                # JSONB @>, served by the GIN index.
                conditions.append(type_coerce(Job.labels, JSONB).contains(self.labels))
            else:
                # Keys are [A-Za-z0-9_.-] (service/spec.py), safe inside a quoted JSON path.
                conditions += [
                    func.json_extract(Job.labels, f'$."{key}"') == value
                    for key, value in self.labels.items()
                ]
        if self.name_prefix:
            escaped = self.name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(Job.name.like(f"{escaped}%", escape="\\"))
        if self.created_after is not None:
            conditions.append(Job.created_at > self.created_after)
        if self.created_before is not None:
            conditions.append(Job.created_at < self.created_before)
        if self.sweep_id is not None:
            conditions.append(Job.sweep_id == self.sweep_id)
        return conditions


def list_jobs(
    session: Session,
    owner: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    filters: Filters | None = None,
) -> tuple[list[Job], str | None]:
    """One page of the owner's jobs (any owner's for None), newest first, and the next cursor.

    The spec is not loaded (nor are the weights and checkpoint): it can be megabytes of data.
    """
    query = select(Job).options(defer(Job.spec))
    if owner is not None:
        query = query.where(Job.owner == owner)
    if status is not None:
        query = query.where(Job.status == status)
    if filters is not None:
        query = query.where(*filters.where(session.get_bind().dialect.name))
    return newest_first_page(session, query, Job, limit, cursor)


def newest_first_page(
    session: Session,
    query: Select[tuple[Listed]],
    model: type[Listed],
    limit: int,
    cursor: str | None,
) -> tuple[list[Listed], str | None]:
    """One page of ``query``'s rows, newest first, after ``cursor``; and the next cursor."""
    if cursor is not None:
        created_at, row_id = decode_cursor(cursor)
        # Keyset pagination: strictly after the cursor's (created_at, id) in newest-first order.
        after = tuple_(literal(created_at), literal(row_id))
        query = query.where(tuple_(model.created_at, model.id) < after)
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    page = list(session.scalars(query))
    if len(page) <= limit:
        return page, None
    last = page[limit - 1]
    return page[:limit], encode_cursor(last.created_at, last.id)


def encode_cursor(created_at: datetime, job_id: str) -> str:
    """An opaque cursor pointing just after the job with this creation time and id."""
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor points after; ``BadCursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        moment = datetime.fromisoformat(created)
        uuid.UUID(job_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("cursor is not one this service handed out") from exc
    if moment.tzinfo is None:
        raise BadCursor("cursor is not one this service handed out")
    return moment, job_id


# An epoch row as /losses shows it: the epoch, then every measure.
_LOSS_COLUMNS = (
    EpochLoss.epoch,
    EpochLoss.loss,
    EpochLoss.accuracy,
    EpochLoss.rmse,
    EpochLoss.val_loss,
    EpochLoss.val_accuracy,
    EpochLoss.val_rmse,
)


def loss_page(
    session: Session, job_id: str, after: int, limit: int, every: int
) -> tuple[list[Row[Any]], int | None]:
    """Losses of epochs after ``after``, every ``every``-th from epoch 1, and the next ``after``.

    A job that records every Nth epoch (``Job.recorded_every``) has rows for epochs 1, 1+N,
    1+2N, ... and its last; ``every`` > 1 is then rounded up to a multiple of N.
    """
    query = select(*_LOSS_COLUMNS).where(EpochLoss.job_id == job_id, EpochLoss.epoch > after)
    if every > 1:
        stride = session.scalar(select(Job.recorded_every).where(Job.id == job_id)) or 1
        every = -(-every // stride) * stride
        # The kept epochs by name (1 + k * every, past ``after``), not a filter on epoch % every:
        # Postgres cannot estimate the filter and scans the whole table; this is limit + 1
        # primary-key lookups. Every multiple of the stride has a row, so none of them is missing.
        first = (after - 1) // every + 1
        kept = [1 + k * every for k in range(first, first + limit + 1)]
        kept = [epoch for epoch in kept if epoch <= INT_MAX]  # no epoch is past what int4 holds
        query = query.where(_one_of(session, EpochLoss.epoch, kept))
    rows = list(session.execute(query.order_by(EpochLoss.epoch).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].epoch
    if every > 1:
        # A sampled curve always ends with the last epoch recorded, on or off the grid.
        last = session.execute(
            select(*_LOSS_COLUMNS)
            .where(EpochLoss.job_id == job_id, EpochLoss.epoch > after)
            .order_by(EpochLoss.epoch.desc())
            .limit(1)
        ).one_or_none()
        if last is not None and (not rows or rows[-1].epoch < last.epoch):
            if len(rows) == limit:
                return rows, rows[-1].epoch  # it opens the next page
            rows.append(last)
    return rows, None


def _one_of(session: Session, column: Any, values: list[int]) -> Any:
    """``column IN values``; on Postgres as ``= ANY(array)``, one parameter instead of hundreds.

    psycopg prepares a statement after its fifth run on a connection, and a few runs later
    Postgres may settle on a generic plan; for an IN list of 501 parameters that plan scanned
    the job's every row (2 s a read at 10^5 epochs, measured by bench/scaling.py). The generic
    plan of ``= ANY($1)`` is the primary-key lookups the custom one is.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("one_of", values, type_=ARRAY(Integer)))
    return column.in_(values)


def request_cancel(session: Session, job: Job) -> Job:
    """Cancel a queued job now, or ask a running one to stop at its next epoch boundary."""
    if job.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        return job
    if job.status in TERMINAL:
        raise Conflict(f"the job has already {job.status}")
    # Conditional moves: the worker may be changing the status at the same moment.
    queued = [JobStatus.QUEUED]
    if not move(session, JobStatus.CANCELLED, Job.id == job.id, among=queued, finished_at=utcnow()):
        move(session, JobStatus.CANCELLING, Job.id == job.id)
    session.refresh(job)
    if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        raise Conflict(f"the job has already {job.status}")
    publish_after_commit(session, job.id)  # live streams show the cancel at once
    return job
