"""The reaper and the attempt fence, on the real database: who may run a job, and who may write.

The jobs here are made to look a day old, and the reaper is given a day's patience, so it acts
on these jobs alone and never on another test's. They live in a database of this module's own:
the session's worker runs a reaper of its own every few seconds, which would requeue a day-old
job before the reaper under test saw it (on a loaded machine, making 20 jobs takes that long).
"""

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import delete, select, update
from sqlalchemy.engine import make_url

from engine import EpochStats
from store.db import engine_for, sessions
from store.jobs import create_job
from store.models import EpochLoss, Job, utcnow
from store.progress import ProgressRecorder, Superseded, claim_job, fail_job, finish_job
from store.reaper import reap
from store.settings import Settings, get_settings
from tests.service.conftest import (
    BROKER_URL,
    DATABASE_URL,
    drop_database,
    recreate_database,
    upgrade,
)
from tests.service.servers import drop_queue, private_queue
from worker.reaper import reap_once

pytestmark = pytest.mark.usefixtures("services", "own_database")

SPEC = {"training": {"epochs": 3}}
DAY = timedelta(days=1)
_session_database = make_url(DATABASE_URL)
OWN_URL = _session_database.set(database=f"{_session_database.database}_reaper").render_as_string(
    hide_password=False
)


@pytest.fixture(scope="module")
def own_database(services: None) -> Iterator[str]:
    """This module's database, migrated to the newest schema; no worker knows it."""
    recreate_database(OWN_URL)
    upgrade(engine_for(OWN_URL))
    yield OWN_URL
    engine_for(OWN_URL).dispose()
    drop_database(OWN_URL)


@pytest.fixture
def settings() -> Settings:
    return get_settings().model_copy(
        update={
            "database_url": OWN_URL,
            "heartbeat_timeout": DAY.total_seconds(),
            "queued_timeout": DAY.total_seconds(),
        }
    )


@pytest.fixture
def make_job() -> Iterator[Any]:
    """``make_job(**columns)``: a stored job with these columns; every one is removed after."""
    made: list[str] = []

    def make(**columns: Any) -> str:
        with sessions(OWN_URL).begin() as session:
            job = create_job(session, SPEC, "reaper test", "reaper-test")
            for name, value in columns.items():
                setattr(job, name, value)
            made.append(job.id)
            return job.id

    yield make
    with sessions(OWN_URL).begin() as session:
        session.execute(delete(Job).where(Job.id.in_(made)))


def row(job_id: str) -> Job:
    with sessions(OWN_URL).begin() as session:
        return session.get_one(Job, job_id)


def claim(job_id: str, heartbeat_timeout: float = 60) -> Any:
    with sessions(OWN_URL).begin() as session:
        return claim_job(session, job_id, 3, heartbeat_timeout)


def go_silent(job_id: str) -> None:
    """Make the job's worker look dead: its last heartbeat two days ago."""
    with sessions(OWN_URL).begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - 2 * DAY))


def test_a_duplicate_message_does_not_run_a_job_a_live_worker_runs(make_job: Any) -> None:
    job_id = make_job()
    assert claim(job_id).attempt == 1
    assert claim(job_id) is None  # heartbeat fresh: another delivery is running it
    assert row(job_id).attempts == 1
    go_silent(job_id)
    assert claim(job_id).attempt == 2  # silent: taken over


def test_a_superseded_run_can_no_longer_write(make_job: Any, settings: Settings) -> None:
    job_id = make_job()
    old = claim(job_id)
    recorder = ProgressRecorder(sessions(OWN_URL), job_id, old.attempt, 0.1, 100)
    recorder.add(EpochStats(1, 0.5, None))
    recorder.flush()

    go_silent(job_id)
    with sessions(OWN_URL).begin() as session:
        assert reap(session, settings).to_enqueue == [job_id]
    assert row(job_id).status == "queued"
    recorder.add(EpochStats(2, 0.4, None))
    with pytest.raises(Superseded):  # requeued: the old run, alive after all, is fenced out
        recorder.flush()
    new = claim(job_id)
    assert new.attempt == 2

    with pytest.raises(Superseded), sessions(OWN_URL).begin() as session:
        finish_job(session, job_id, old.attempt, {"weights": "of the old run"})
    with sessions(OWN_URL).begin() as session:
        fail_job(session, job_id, "the old run's error", old.attempt)
        epochs = session.scalars(select(EpochLoss.epoch).where(EpochLoss.job_id == job_id))
        assert list(epochs) == [1]
    assert row(job_id).status == "running" and row(job_id).error is None


def test_reaper_settles_each_kind_of_orphan(make_job: Any, settings: Settings) -> None:
    long_ago = utcnow() - 2 * DAY
    silent = make_job(status="running", attempts=1, heartbeat_at=long_ago)
    spent = make_job(status="running", attempts=settings.max_attempts, heartbeat_at=long_ago)
    stopping = make_job(status="cancelling", attempts=1, heartbeat_at=long_ago)
    lost = make_job(created_at=long_ago)  # stored, never enqueued
    alive = make_job(status="running", attempts=1, heartbeat_at=utcnow())
    waiting = make_job()

    with sessions(OWN_URL).begin() as session:
        reaped = reap(session, settings)
    assert sorted(reaped.to_enqueue) == sorted([silent, lost])
    assert reaped.failed == [spent] and reaped.cancelled == [stopping]
    assert row(silent).status == "queued" and row(lost).status == "queued"
    failed = row(spent)
    assert failed.status == "failed" and failed.finished_at is not None
    assert "stopped responding" in (failed.error or "")
    assert row(stopping).status == "cancelled"
    assert row(alive).status == "running" and row(waiting).status == "queued"

    with sessions(OWN_URL).begin() as session:  # enqueued again: not again before QUEUED_TIMEOUT
        assert reap(session, settings).to_enqueue == []


def test_reapers_in_several_workers_requeue_a_job_once(make_job: Any, settings: Settings) -> None:
    jobs = {
        make_job(status="running", attempts=1, heartbeat_at=utcnow() - 2 * DAY) for _ in range(20)
    }
    found: list[str] = []
    start = threading.Barrier(4)

    def one_reaper() -> None:
        start.wait()
        with sessions(OWN_URL).begin() as session:
            found.extend(reap(session, settings).to_enqueue)

    threads = [threading.Thread(target=one_reaper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each job once, by one reaper or another.
    assert sorted(found) == sorted(jobs)


def test_reaper_pass_puts_a_message_on_the_queue(
    make_job: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = private_queue()
    monkeypatch.setattr(get_settings(), "queue_name", queue)
    lost = make_job(created_at=utcnow() - 2 * DAY)
    try:
        assert reap_once(settings.model_copy(update={"queue_name": queue})).to_enqueue == [lost]
        assert redis.Redis.from_url(BROKER_URL).llen(queue) == 1
    finally:
        drop_queue(BROKER_URL, queue)
