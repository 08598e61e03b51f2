"""The SQL schema: a job row is the single source of truth for a job; losses hang off it."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

from store.status import JobStatus

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The schema's own guard on the state machine's names (migration 0003 adds it).
STATUS_IN_ENUM = "status IN ({})".format(", ".join(f"'{status}'" for status in JobStatus))
# The jobs that have not ended: the only rows a submission's quota count looks at.
NOT_ENDED = "status IN ({})".format(", ".join(f"'{s}'" for s in JobStatus if not s.terminal))

# The largest value an Integer column holds (int4 on Postgres): what epochs are bounded by.
INT_MAX = 2**31 - 1

# JSONB on Postgres (compact, indexable), plain JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Job(Base):
    """One training job: its spec, its life cycle, its progress and, once done, its weights."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_owner_created", "owner", "created_at", "id"),
        Index("ix_jobs_status", "status"),
        # The quota count (store/jobs.py): an owner's jobs that have not ended, whatever the
        # owner's history or the others' queues hold (migration 0012).
        Index(
            "ix_jobs_owner_not_ended",
            "owner",
            "status",
            "sweep_id",
            postgresql_where=text(NOT_ENDED),
            sqlite_where=text(NOT_ENDED),
        ),
        Index("ix_jobs_finished_at", "finished_at"),  # the retention purge's oldest first
        # ?label=K:V filters (JSONB containment on Postgres) and ?name= prefixes.
        Index("ix_jobs_labels", "labels", postgresql_using="gin"),
        Index("ix_jobs_owner_name", "owner", "name", postgresql_ops={"name": "text_pattern_ops"}),
        CheckConstraint(STATUS_IN_ENUM, name="status"),
        UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The tenant that submitted the job: its token's owner, or "local" when AUTH is off.
    owner: Mapped[str] = mapped_column(String(64), default="local")
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    # Plain JSON, not JSONB: the spec comes back in the order it was written (migration 0006).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    epochs: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    latest_loss: Mapped[float | None] = mapped_column(Float)
    latest_accuracy: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # The stored dataset the job trains on, if any: a dataset in use by an active job stays.
    dataset_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The queue whose workers take the job (None: stored without being queued, or before 0004).
    queue: Mapped[str | None] = mapped_column(String(200))
    # The broker message (Celery task id) whose delivery runs the job now: that message is spent.
    message_id: Mapped[str | None] = mapped_column(String(255))
    # Every how many epochs a loss row is stored (and the last epoch), fixed when the job starts.
    recorded_every: Mapped[int | None] = mapped_column(Integer)
    # Under early stopping: the epoch it ended training at (None: it ran every epoch), and the
    # epoch of the least watched loss (migration 0010).
    stopped_epoch: Mapped[int | None] = mapped_column(Integer)
    best_epoch: Mapped[int | None] = mapped_column(Integer)
    # The sweep the job is a trial of (None: a lone job), and the dotted paths it sets in the
    # sweep's base spec, training.seed included: applied to the base, they give its spec.
    sweep_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sweeps.id", ondelete="CASCADE"), index=True
    )
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Large documents, loaded only when asked for.
    weights: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSONDocument))
    checkpoint: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSONDocument))


class Sweep(Base):
    """Many trials of one base spec, compared by one objective; each trial is a Job row."""

    __tablename__ = "sweeps"
    __table_args__ = (
        Index("ix_sweeps_owner_created", "owner", "created_at", "id"),
        UniqueConstraint("owner", "idempotency_key", name="uq_sweeps_owner_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default="local")
    name: Mapped[str | None] = mapped_column(String(200))
    # The request as validated (base normalised, defaults filled in): what the sweep was asked.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    metric: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(3))  # "min" or "max"
    max_parallel: Mapped[int] = mapped_column(Integer)
    # {"rule": "median", "warmup_epochs": W, "min_trials": M}, or None: every trial runs out.
    pruning: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trials: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by POST …/cancel: the sweep is cancelled whatever its trials ended as.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EpochLoss(Base):
    """The loss, and accuracy (classifiers) or rmse (regression), of one epoch; from epoch 1.
    The val_ columns are the same on the validation samples (None without validation)."""

    __tablename__ = "epoch_losses"

    # A job's, though not by a foreign key: that checked each row alone, and a batch holds
    # thousands. Triggers check a statement's rows at once, and a job's deletion takes its rows
    # with it (migration 0013).
    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    loss: Mapped[float] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    rmse: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    val_rmse: Mapped[float | None] = mapped_column(Float)


class OwnerActiveJobs(Base):
    """How many of an owner's jobs hold a place in their quota (``jobs.counts_against_quota``),
    kept by triggers on jobs (migration 0014): a submission reads one row, not every such job."""

    __tablename__ = "owner_active_jobs"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    active: Mapped[int] = mapped_column(Integer)


class ApiToken(Base):
    """A bearer token: who it acts for, and a hash of it (the token itself is never stored)."""

    __tablename__ = "api_tokens"

    # The token's public lookup part ("gy_<id>_<secret>"), so checking it is one row's compare.
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    # Names are never reused, even after revocation, so a name always means one token.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Dataset(Base):
    """An owner's uploaded samples, stored once: packed float64 rows, loaded only when asked."""

    __tablename__ = "datasets"
    __table_args__ = (
        Index("ix_datasets_owner_created", "owner", "created_at", "id"),
        UniqueConstraint("owner", "sha256", name="uq_datasets_owner_sha256"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    features: Mapped[int] = mapped_column(Integer)
    feature_names: Mapped[list[str]] = mapped_column(JSON)
    target_name: Mapped[str] = mapped_column(String(200))
    classes: Mapped[list[str] | None] = mapped_column(JSON)
    column_stats: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Little-endian float64: inputs row after row, then one target per row (a class's index).
    inputs: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    targets: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
