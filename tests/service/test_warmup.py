"""The warm-up: each process rehearses its statements at start, against nothing of anyone's.

On the run's real Postgres and Redis: a rehearsal leaves no row, lock, message or key behind,
leaves a queued job to the next real claim, and compiles the statements a first claim runs.
"""

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import event, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import CacheStats

from store import warmup
from store.db import engine_for, sessions
from store.fair import claim_next
from store.jobs import create_job
from store.models import Job
from store.settings import Settings
from tests.service.conftest import BROKER_URL, WorkerProcess
from tests.service.servers import ApiServer, drop_queue, private_queue, wait_until

OWNER = "warmup-test"


@pytest.fixture
def settings(postgres: str, redis_broker: str) -> Iterator[Settings]:
    """Settings on the run's services, a queue of the test's own."""
    name = private_queue()
    yield Settings(
        database_url=postgres, broker_url=redis_broker, queue_name=name, secret_key="warm"
    )
    drop_queue(BROKER_URL, name)


def fresh(settings: Settings, tag: str) -> Settings:
    """The same database under another URL: an engine of its own, nothing compiled yet."""
    url = make_url(settings.database_url).update_query_dict({"application_name": tag})
    return settings.model_copy(update={"database_url": url.render_as_string(False)})


def queued_job(settings: Settings) -> str:
    with sessions(settings.database_url).begin() as session:
        spec = {"training": {"epochs": 1}}
        return create_job(session, spec, None, OWNER, queue=settings.queue_name).id


def snapshot(settings: Settings) -> tuple[list[Any], int, list[bytes]]:
    """The test's and the rehearsals' job rows (other tests' jobs may still be running on the
    suite's worker), the test queue's messages and the rehearsals' Redis keys."""
    ours = or_(Job.owner.in_([OWNER, warmup.REHEARSAL]), Job.queue == warmup.REHEARSAL)
    with sessions(settings.database_url).begin() as session:
        query = select(Job.id, Job.status, Job.attempts).where(ours).order_by(Job.id)
        rows = session.execute(query).all()
    broker = redis.Redis.from_url(BROKER_URL)
    return rows, broker.llen(settings.queue_name), broker.keys(f"*{warmup.REHEARSAL}*")


def test_a_rehearsal_leaves_nothing_behind_and_the_queue_to_the_next_claim(
    settings: Settings,
) -> None:
    job_id = queued_job(settings)
    before = snapshot(settings)
    warmup.rehearse_submission(settings)
    warmup.rehearse_job(settings)
    assert snapshot(settings) == before
    assert before[2] == []
    with sessions(settings.database_url).begin() as session:
        claim = claim_next(session, job_id, None, settings)
    assert claim is not None and claim.job_id == job_id


def statements_compiled(settings: Settings, job_id: str) -> list[str]:
    """The statements a claim of ``job_id`` compiled (SQLAlchemy's cache missed them)."""
    compiled: list[str] = []

    def note(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        if context is not None and context.cache_hit == CacheStats.CACHE_MISS:
            compiled.append(statement)

    engine = engine_for(settings.database_url)
    event.listen(engine, "before_cursor_execute", note)
    try:
        with sessions(settings.database_url).begin() as session:
            assert claim_next(session, job_id, None, settings) is not None
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return compiled


def test_a_rehearsed_worker_claims_with_nothing_left_to_compile(settings: Settings) -> None:
    cold, warm = fresh(settings, "cold"), fresh(settings, "warm")
    warmup.rehearse_job(warm)
    assert statements_compiled(cold, queued_job(cold)) != []  # what the rehearsal saves
    assert statements_compiled(warm, queued_job(warm)) == []


def test_a_rehearsal_without_a_database_says_so_and_goes_on(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = settings.model_copy(
        update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"}
    )
    with caplog.at_level(logging.INFO, logger="store.warmup"):
        warmup.start(warmup.rehearse_job, down).join(timeout=60)
    assert "warm-up skipped" in caplog.text


def test_the_server_and_the_worker_rehearse_as_they_start(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    """gunicorn's app factory and the pool process's start both run theirs."""
    server = ApiServer(tmp_path / "api.log", workers=1)
    try:
        warmed(tmp_path / "api.log", "rehearse_submission")
        warmed(worker.log_path, "rehearse_job")
    finally:
        server.stop()


def warmed(log: Path, rehearsal: str) -> None:
    line = f"warmed up in \\d+ ms \\({rehearsal}\\)"
    wait_until(lambda: re.search(line, log.read_text(errors="replace")) is not None, 60, line)
