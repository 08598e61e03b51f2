"""Fixtures for the service suite: real Postgres, real Redis, a real Celery worker process.

The settings are pointed at a test database and a private queue before any service module reads
them. Outside CI a missing server skips these tests with one line saying how to start it; under
CI=true it fails them.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from alembic import command as alembic_command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[2]
RUN_TAG = uuid.uuid4().hex[:8]
# Each run gets its own database and queue, so runs side by side never see each other's jobs.
DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/gradyard_test_{RUN_TAG}"
)
BROKER_URL = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
QUEUE_NAME = f"gradyard-test-{RUN_TAG}"

os.environ.update(DATABASE_URL=DATABASE_URL, BROKER_URL=BROKER_URL, QUEUE_NAME=QUEUE_NAME)
os.environ.setdefault("FLUSH_SECONDS", "0.1")
# Tokens required, as in production; limits the rest of the suite never meets (their own tests
# lower them).
os.environ.update(AUTH="on")
os.environ.setdefault("SECRET_KEY", f"test-secret-{RUN_TAG}")
os.environ.setdefault("RATE_LIMIT", "1000000")
os.environ.setdefault("MAX_ACTIVE_JOBS", "1000000")
os.environ.setdefault("MAX_RUNNING_PER_OWNER", "1000000")
os.environ.setdefault("MAX_RECORDED_EPOCHS", "1000000")
os.environ.setdefault("PREDICT_RATE_LIMIT", "1000000")
# One app (one process) serves the whole suite's streams, some of them left open by a test.
os.environ.setdefault("MAX_STREAMS_PER_OWNER", "1000")
os.environ.setdefault("MAX_STREAMS_PER_PROCESS", "1000")
TEST_OWNER = "tester"

START_HINTS = {
    "Postgres": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''",
}


def _unavailable(service: str, where: str, error: Exception) -> None:
    message = (
        f"{service} at {where} is not reachable ({error}); start it with: {START_HINTS[service]}"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(message)


def admin_dsn(url: str, database: str = "postgres") -> str:
    """A libpq connection string for another database on the same server as ``url``."""
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    """Drop and create the database ``url`` names, so every run starts empty."""
    drop_database(url)
    name = make_url(url).database
    with psycopg.connect(admin_dsn(url), autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, closing whatever is still connected to it."""
    name = make_url(url).database
    with psycopg.connect(admin_dsn(url), autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def alembic_config(connection: object | None = None) -> Config:
    """Alembic's configuration, on ``connection`` when given (else the settings' database)."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database ``engine`` connects to, up to ``revision``."""
    with engine.begin() as connection:
        alembic_command.upgrade(alembic_config(connection), revision)


@pytest.fixture(params=["postgresql", "sqlite"])
def each_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[sessionmaker[Session]]:
    """Sessions on the run's Postgres database, or on a fresh SQLite file migrated to head: for
    what the schema itself must do alike on both (its triggers, say)."""
    from store.db import make_engine, sessions

    if request.param == "postgresql":
        yield sessions(DATABASE_URL)
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'gradyard.db'}")
    upgrade(engine)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The run's own database, created afresh, migrated to the newest schema, dropped after."""
    try:
        recreate_database(DATABASE_URL)
    except psycopg.OperationalError as exc:
        _unavailable("Postgres", make_url(DATABASE_URL).render_as_string(), exc)
    from service.cli import upgrade_database
    from store.db import dispose_all

    upgrade_database()
    yield DATABASE_URL
    dispose_all()
    drop_database(DATABASE_URL)


@pytest.fixture(scope="session")
def redis_broker() -> Iterator[str]:
    """The Redis broker, with this run's private queue removed afterwards."""
    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", BROKER_URL, exc)
    yield BROKER_URL
    client.delete(QUEUE_NAME)


@pytest.fixture(scope="session")
def services(postgres: str, redis_broker: str) -> None:
    """Both servers up and the schema in place."""


class WorkerProcess:
    """A real ``celery worker`` child process on the test queue, with its log in a file."""

    def __init__(
        self, log_path: Path, extra_env: dict[str, str] | None = None, wrapper: Sequence[str] = ()
    ) -> None:
        """``wrapper``: the command that runs the worker's, say ``ip netns exec NS`` (a host)."""
        self.log_path = log_path
        env = {**os.environ, **(extra_env or {})}
        command = [
            *wrapper,
            sys.executable,
            "-m",
            "worker",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            env.get("QUEUE_NAME", QUEUE_NAME),  # a test may give a worker a queue of its own
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{uuid.uuid4().hex[:6]}@%h",
        ]
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"celery worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="session")
def worker(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One real worker process for the whole session."""
    process = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def app(services: None) -> Any:
    from service.app import create_app

    return create_app(test_config={"TESTING": True})


@pytest.fixture(scope="session")
def make_token(postgres: str) -> Callable[..., str]:
    """A function ``make_token(owner, admin=False)`` that creates a token and returns it."""
    from store import tokens
    from store.db import sessions
    from store.settings import get_settings

    def make(owner: str, admin: bool = False) -> str:
        name = f"{owner}-{uuid.uuid4().hex[:8]}"
        with sessions(DATABASE_URL).begin() as session:
            return tokens.create_token(session, name, owner, admin, get_settings().secret_key)

    return make


@pytest.fixture(scope="session")
def api_token(make_token: Callable[..., str]) -> str:
    """A token for the owner "tester": the one ``client`` sends."""
    return make_token(TEST_OWNER)


@pytest.fixture(scope="session")
def auth_headers(api_token: str) -> dict[str, str]:
    """Headers that authenticate as "tester", for HTTP clients other than ``client``."""
    return {"Authorization": f"Bearer {api_token}"}


@pytest.fixture
def client(app: Any, api_token: str) -> Any:
    """Flask's test client, sending the "tester" token on every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
    return client


def wait_for_status(
    client: Any, job_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    """Poll the job until its status is one of ``statuses``; the job's document."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").get_json()
        if job["status"] in statuses or time.monotonic() > deadline:
            assert job["status"] in statuses, f"job stuck in {job['status']}: {job}"
            return job
        time.sleep(0.05)


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A queue of the test's own: the API's submissions go there, and only its workers read it."""
    from store.settings import get_settings
    from tests.service.servers import drop_queue, private_queue

    name = private_queue()
    monkeypatch.setattr(get_settings(), "queue_name", name)
    yield name
    drop_queue(BROKER_URL, name)
