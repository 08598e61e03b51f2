"""Retention: ended jobs past RETENTION_DAYS go with their losses, in short batches, from the
worker's reaper thread or ``gradyard db purge``; active and recent jobs stay."""

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from service.cli import db
from store import metrics
from store.db import sessions
from store.jobs import create_job
from store.models import EpochLoss, Job, utcnow
from store.retention import cutoff, expired_count, purge
from store.settings import Settings, get_settings
from tests.service.conftest import DATABASE_URL
from worker.reaper import purge_once

pytestmark = pytest.mark.usefixtures("services")

DAY = timedelta(days=1)


@pytest.fixture
def make_job() -> Iterator[Callable[..., str]]:
    """``make_job(ended_days_ago=None, status=...)``: a stored job with two epochs of losses."""
    made: list[str] = []
    owner = f"retention-{uuid.uuid4().hex[:6]}"

    def make(ended_days_ago: float | None = None, status: str = "succeeded") -> str:
        with sessions(DATABASE_URL).begin() as session:
            job = create_job(session, {"training": {"epochs": 2}}, "retention test", owner)
            job.status = status
            if ended_days_ago is not None:
                job.finished_at = utcnow() - ended_days_ago * DAY
                job.created_at = job.finished_at - DAY
            session.add_all([EpochLoss(job_id=job.id, epoch=e, loss=0.5) for e in (1, 2)])
            made.append(job.id)
            return job.id

    yield make
    with sessions(DATABASE_URL).begin() as session:
        session.execute(delete(Job).where(Job.id.in_(made)))


def remaining(ids: list[str]) -> set[str]:
    with sessions(DATABASE_URL).begin() as session:
        return set(session.scalars(select(Job.id).where(Job.id.in_(ids))))


def loss_rows(ids: list[str]) -> int:
    with sessions(DATABASE_URL).begin() as session:
        return session.scalar(select(func.count()).where(EpochLoss.job_id.in_(ids))) or 0


def purged_total() -> float:
    return metrics.instruments().jobs_purged._value.get()  # type: ignore[attr-defined]


def test_old_ended_jobs_go_in_batches_and_the_rest_stay(make_job: Any) -> None:
    old = [
        make_job(40, status)
        for status in ("succeeded", "failed", "cancelled", "failed", "succeeded")
    ]
    recent = make_job(10)
    running = make_job(None, "running")
    queued = make_job(None, "queued")
    before, counted = cutoff(30), purged_total()
    with sessions(DATABASE_URL).begin() as session:
        assert expired_count(session, before) == 5
    # Two jobs per transaction: three transactions for five jobs.
    assert purge(sessions(DATABASE_URL), before, batch=2) == 5
    assert remaining(old) == set() and loss_rows(old) == 0
    assert remaining([recent, running, queued]) == {recent, running, queued}
    assert loss_rows([recent]) == 2
    assert purged_total() == counted + 5
    assert purge(sessions(DATABASE_URL), before, batch=2) == 0


def test_the_reaper_thread_purges_only_when_retention_is_set(make_job: Any) -> None:
    old = make_job(100)
    off: Settings = get_settings().model_copy(update={"retention_days": None})
    assert purge_once(off) == 0 and remaining([old]) == {old}
    on = get_settings().model_copy(update={"retention_days": 90.0, "purge_batch_jobs": 1})
    assert purge_once(on) == 1 and remaining([old]) == set()


def test_retention_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert Settings().retention_days is None
    monkeypatch.setenv("RETENTION_DAYS", "")
    assert Settings().retention_days is None
    monkeypatch.setenv("RETENTION_DAYS", "90")
    assert Settings().retention_days == 90


def test_db_purge_command_counts_then_deletes(make_job: Any) -> None:
    old = [make_job(45), make_job(45)]
    keep = make_job(5)
    runner = CliRunner()
    dry = runner.invoke(db, ["purge", "--older-than", "30d", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("would delete 2 jobs")
    assert remaining(old) == set(old)
    done = runner.invoke(db, ["purge", "--older-than", "720h"])
    assert done.exit_code == 0 and done.output.startswith("deleted 2 jobs")
    assert remaining([*old, keep]) == {keep}


@pytest.mark.parametrize("age", ["30", "d", "-3d", "0d", "3w", "infd", "nand"])
def test_db_purge_refuses_a_bad_age(age: str) -> None:
    result = CliRunner().invoke(db, ["purge", "--older-than", age])
    assert result.exit_code == 2 and "is not an age" in result.output
