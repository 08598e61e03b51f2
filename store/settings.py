"""The one settings object: every knob comes from the environment (or a .env file) through here."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Gradyard's configuration; defaults give the embedded mode (SQLite, file-system broker)."""

    # Inputs stay out of validation errors: DATABASE_URL and SECRET_KEY hold secrets.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite:///var/gradyard.db"
    # localhost: kombu ignores the host of a file-system broker but warns when there is none.
    broker_url: str = "filesystem://localhost/"
    broker_dir: Path = Path("var/broker")
    queue_name: str = "gradyard"
    host: str = "127.0.0.1"
    port: int = 8000

    # Limits on what one request may ask for; over a limit is a 422 (413 for the body).
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    max_parameters: int = Field(default=100_000, gt=0)
    max_samples: int = Field(default=10_000, gt=0)
    max_epochs: int = Field(default=1_000_000, gt=0)
    # The work budget (engine/cost.py), from the spec before it is stored: the training graph's
    # memory (parameters x samples per batch x measured bytes) and the total work (parameters x
    # samples x epochs; 100-260 ns each here (bench/scaling.py), so the default's largest job
    # takes at most some 3.6 hours of one core, under JOB_TIME_LIMIT).
    max_graph_bytes: int = Field(default=2 * 1024**3, gt=0)
    max_work: int = Field(default=50_000_000_000, gt=0, description="parameters x samples x epochs")
    max_predict_batch: int = Field(default=10_000, gt=0)
    # Trials one sweep may make (POST /api/v1/sweeps): each is a job row, validated at once.
    max_sweep_trials: int = Field(default=1_000, gt=0)
    # One prediction's work: input rows x the model's weights and biases. At about 50 ns a
    # multiply-add on our machines, the default costs a request about a tenth of a second.
    max_predict_work: int = Field(default=2_000_000, gt=0, description="rows x parameters")
    # Uploaded datasets (POST /api/v1/datasets): their body may exceed MAX_BODY_BYTES up to
    # DATASET_MAX_BYTES; over the rows or features a 422.
    dataset_max_bytes: int = Field(default=32_000_000, gt=0)
    dataset_max_rows: int = Field(default=100_000, gt=0)
    dataset_max_features: int = Field(default=1_000, gt=0)
    # Each pool process's data memory (RLIMIT_DATA): a job that escapes the estimate fails with a
    # clear error instead of waking the OOM killer. Empty or 0: no cap.
    worker_memory_bytes: int | None = Field(default=4 * 1024**3, ge=0)

    # How often a worker writes progress: whichever comes first.
    flush_seconds: float = Field(default=0.25, gt=0)
    flush_epochs: int = Field(default=5_000, gt=0)
    checkpoint_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, gt=0)

    # Crash safety (store/reaper.py): a running job's worker proves it is alive every
    # heartbeat_seconds; a job silent for heartbeat_timeout is requeued, or failed after
    # max_attempts. Each worker looks for such jobs at start-up and every reaper_seconds; a
    # queued job no worker has started for queued_timeout gets a message again if its queue is
    # short of messages (one per job that could start now; never more).
    # Together they bound recovery after a `kill -9`: about heartbeat_timeout + reaper_seconds.
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    heartbeat_timeout: float = Field(default=10.0, gt=0)
    reaper_seconds: float = Field(default=2.0, gt=0)
    queued_timeout: float = Field(default=300.0, gt=0)
    # Fair shares of the workers (store/fair.py): a free worker takes the oldest queued job of
    # the owner with the fewest jobs running on its queue, so a new owner's job starts when the
    # next worker frees up; and no owner runs more than max_running_per_owner jobs of one queue
    # at once (its other jobs wait, even while a worker is idle).
    max_running_per_owner: int = Field(default=4, gt=0)
    # Loss rows stored per job: a job of more epochs records every Nth epoch (1, 1+N, 1+2N, ...)
    # and its last, N = ceil(epochs / max_recorded_epochs) chosen when it first starts.
    max_recorded_epochs: int = Field(default=10_000, gt=0)
    # Longest a job may run per delivery before it is failed (checked between epochs).
    job_time_limit: float = Field(default=21_600.0, gt=0)
    # Past JOB_TIME_LIMIT a job has this long to reach an epoch boundary and fail itself cleanly,
    # before Celery's hard time limit kills its pool process (then the job fails as killed).
    job_kill_grace_seconds: float = Field(default=30.0, gt=0)
    # How long a worker retries a database write through an outage before giving up.
    db_retry_seconds: float = Field(default=60.0, gt=0)

    # Retention (store/retention.py): jobs that ended more than retention_days ago are deleted
    # with their losses by every worker's reaper thread, purge_batch_jobs jobs per transaction.
    # Empty (the embedded mode's default): kept for ever; docker-compose.yml sets 90.
    retention_days: float | None = Field(default=None, gt=0)
    purge_batch_jobs: int = Field(default=50, gt=0)

    # Who may do what (service/auth.py). AUTH takes on/off as well as true/false.
    auth: bool = True
    # Peppers the stored token hashes (HMAC key); required outside the embedded mode.
    secret_key: str | None = None
    # Per owner: submissions per window (counted in Redis), and jobs queued or running at once.
    rate_limit: int = Field(default=60, gt=0)
    rate_window_seconds: int = Field(default=60, gt=0)
    max_active_jobs: int = Field(default=20, gt=0)
    # Per owner: predictions per rate_window_seconds (each costs the API CPU up to
    # max_predict_work); counted in Redis, or by each API process without it.
    predict_rate_limit: int = Field(default=60, gt=0)
    # Where submissions, predictions and open event streams are counted; empty means the broker
    # when it is Redis, else the database (submissions) or each API process (the others).
    rate_limit_url: str | None = None

    # Live events (store/events.py): without Redis a stream re-reads the job every
    # events_poll_seconds; with Redis it waits for the worker's wake-up, re-reading anyway and
    # sending a keep-alive comment after events_heartbeat_seconds of quiet. A stream ends after
    # events_max_seconds and the client resumes with Last-Event-ID: under gunicorn's 30 s worker
    # timeout, so that not even a sync worker is killed for holding a stream.
    events_poll_seconds: float = Field(default=0.5, gt=0)
    events_heartbeat_seconds: float = Field(default=5.0, gt=0)
    events_max_seconds: float = Field(default=25.0, gt=0)
    # An open stream holds one of a process's request threads (gunicorn runs 8 in compose and
    # in `gradyard serve`), so streams get a budget (store/streams.py): at most
    # max_streams_per_process per API process, beyond which a stream is refused (503) and the
    # other threads stay free for plain requests: keep it under gunicorn's --threads. And at most
    # max_streams_per_owner per owner across every API process (429), counted with expiring
    # leases in Redis (without Redis, by each process).
    max_streams_per_owner: int = Field(default=4, gt=0)
    max_streams_per_process: int = Field(default=4, gt=0)

    # Observability (store/metrics.py, store/logging_setup.py). PROMETHEUS_MULTIPROC_DIR is
    # also read by prometheus_client itself, at import: it must name an empty directory per run
    # shared by every process whose metrics /metrics should add up (gunicorn's and the worker's).
    prometheus_multiproc_dir: Path | None = None
    # A port on which each Celery worker serves its own /metrics (workers on other machines).
    worker_metrics_port: int | None = Field(default=None, gt=0)
    # "json": one JSON object per log line; "text" for people reading a terminal.
    log_format: str = Field(default="json", pattern="^(json|text)$")

    @field_validator(
        "prometheus_multiproc_dir",
        "worker_metrics_port",
        "worker_memory_bytes",
        "retention_days",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _secret_key_outside_embedded_mode(self) -> "Settings":
        if not self.is_sqlite and not self.secret_key:
            raise ValueError(
                "SECRET_KEY is required when DATABASE_URL is not SQLite: set it to a long random "
                "string, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True in the embedded mode's database."""
        return self.database_url.startswith("sqlite")

    @property
    def rate_limit_redis(self) -> str | None:
        """The Redis that counts submissions, predictions and streams; None: count them here."""
        if self.rate_limit_url:
            return self.rate_limit_url
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else None


class ConfigError(Exception):
    """Settings the environment gives that Gradyard cannot run with: one line per bad setting."""


def load_settings() -> Settings:
    """Settings read from the environment now; ``ConfigError`` says each bad one in a line."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if name else message)
        raise ConfigError("\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (by the first app or command built)."""
    return load_settings()


class _ExplicitAuth(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    auth: bool | None = None


def explicit_auth() -> bool | None:
    """AUTH as the environment (or .env) sets it, None when unset: serve has its own default."""
    return _ExplicitAuth().auth


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment plus ``overrides``, for a child process such as the worker."""
    return {**os.environ, **overrides}
