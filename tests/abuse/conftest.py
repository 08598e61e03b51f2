"""The abuse suite: each test attacks a running stack as a hostile tenant would, and asserts a
bound.

It runs on the service suite's real servers (Postgres, Redis, real worker processes, gunicorn as
deployed, AUTH on). Fixtures are shared with tests/service; ``stack`` is the API under gunicorn.

An imported fixture is this directory's own instance of it: a session fixture runs once more
here. So no abuse test asks for ``worker``: a second worker on the suite's queue would take jobs
that the service suite's tests expect their one worker to run.
"""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from store import jobs, tokens
from store.db import sessions
from store.models import Job
from store.settings import get_settings
from store.status import JobStatus
from tests.service.conftest import (  # noqa: F401  (fixtures, shared with the service suite)
    api_token,
    app,
    auth_headers,
    client,
    make_token,
    postgres,
    queue,
    redis_broker,
    services,
    worker,
)
from tests.service.servers import ApiServer


@pytest.fixture(scope="session")
def stack(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:  # noqa: F811
    """The API under gunicorn (two workers, eight threads each), as compose deploys it."""
    log = tmp_path_factory.mktemp("abuse") / "api.log"
    server = ApiServer(log, workers=2, threads=8)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_log(stack: ApiServer) -> Path:
    """The gunicorn log of ``stack``, to read what the server said."""
    return Path(stack._log.name)


@pytest.fixture
def held_job(postgres: str) -> Iterator[Callable[..., str]]:  # noqa: F811
    """``held_job(owner, status="queued", spec=..., weights=None)``: a job row made by hand and
    never queued, so it stays as made (a stream on it stays open); cancelled afterwards."""
    made: list[str] = []

    def make(
        owner: str,
        status: str = JobStatus.QUEUED,
        spec: dict[str, Any] | None = None,
        weights: dict[str, Any] | None = None,
    ) -> str:
        with sessions(postgres).begin() as session:
            job = jobs.create_job(session, spec or {"training": {"epochs": 2}}, "held", owner)
            session.execute(update(Job).where(Job.id == job.id).values(status=status))
            if weights is not None:
                session.execute(update(Job).where(Job.id == job.id).values(weights=weights))
            made.append(job.id)
            return job.id

    yield make
    with sessions(postgres).begin() as session:
        active = Job.status.not_in([JobStatus.SUCCEEDED, JobStatus.FAILED])
        session.execute(update(Job).where(Job.id.in_(made), active).values(status="cancelled"))


def named_token(database_url: str, owner: str) -> tuple[str, str]:
    """A new token for ``owner`` and its name (to revoke it by)."""
    name = f"{owner}-{uuid.uuid4().hex[:8]}"
    with sessions(database_url).begin() as session:
        token = tokens.create_token(session, name, owner, False, get_settings().secret_key)
    return token, name


def new_owner(prefix: str) -> str:
    """An owner name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bearer(token: str) -> dict[str, str]:
    """Headers carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}
