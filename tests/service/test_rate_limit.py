"""Per-owner limits: submissions per window (429, Retry-After; counted in Redis), active jobs."""

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from alembic import command
from alembic.config import Config
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store import jobs, ratelimit
from store.db import engine_for, sessions
from store.models import Job, utcnow
from store.settings import Settings, get_settings
from tests.service.conftest import BROKER_URL, DATABASE_URL, QUEUE_NAME, ROOT

pytestmark = pytest.mark.usefixtures("worker")

JOB = {"training": {"epochs": 2}}
ENGINE_SPEC = {"training": {"epochs": 2}}


@pytest.fixture
def owner(app: Any, make_token: Callable[..., str]) -> tuple[str, Any]:
    """A fresh owner, and a client acting for them."""
    name = f"rate-{uuid.uuid4().hex[:8]}"
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(name)}"
    return name, client


def owned_jobs(owner: str) -> list[Job]:
    with sessions(DATABASE_URL).begin() as session:
        return list(session.query(Job).filter(Job.owner == owner))


def test_the_limit_is_reached_then_resets(
    owner: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, client = owner
    window = 3
    monkeypatch.setattr(get_settings(), "rate_limit", 3)
    monkeypatch.setattr(get_settings(), "rate_window_seconds", window)
    # Start just after a window opens, so the four submissions share one window.
    time.sleep(window - time.time() % window + 0.05)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert client.post("/api/v1/jobs", json=JOB, headers=key).status_code == 202
    for _ in range(2):
        assert client.post("/api/v1/jobs", json=JOB).status_code == 202
    refused = client.post("/api/v1/jobs", json=JOB)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/rate-limited"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert len(owned_jobs(name)) == 3
    # A retry of a job already made is not a new submission: it is answered, not counted.
    assert client.post("/api/v1/jobs", json=JOB, headers=key).status_code == 200

    # The count is one Redis key per owner and window, expiring with its window; it holds the
    # jobs made, since the refusal and the replay gave their places back.
    counter = redis.Redis.from_url(BROKER_URL)
    [rate_key] = counter.keys(f"{QUEUE_NAME}:rate:{name}:*")
    assert int(counter.get(rate_key) or 0) == 3
    assert 0 < counter.ttl(rate_key) <= window + 1

    time.sleep(retry_after)
    assert client.post("/api/v1/jobs", json=JOB).status_code == 202
    assert len(owned_jobs(name)) == 4


def test_the_count_is_shared_through_redis(
    owner: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another API process counting for the same owner: its INCRs reach this process's limit."""
    name, client = owner
    monkeypatch.setattr(get_settings(), "rate_limit", 2)
    monkeypatch.setattr(get_settings(), "rate_window_seconds", 3600)
    window = int(time.time() // 3600)
    redis.Redis.from_url(BROKER_URL).incrby(f"{QUEUE_NAME}:rate:{name}:{window}", 2)
    response = client.post("/api/v1/jobs", json=JOB)
    assert response.status_code == 429
    assert owned_jobs(name) == []


def test_an_unreachable_counter_is_503_without_the_url(
    owner: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, client = owner
    monkeypatch.setattr(get_settings(), "rate_limit_url", "redis://:s3cret@127.0.0.1:1/0")
    response = client.post("/api/v1/jobs", json=JOB)
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert "s3cret" not in response.get_data(as_text=True)
    assert owned_jobs(name) == []


@pytest.fixture(params=["postgres", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    """Sessions on the suite's Postgres, or on a fresh embedded-mode SQLite file."""
    if request.param == "postgres":
        return sessions(DATABASE_URL)
    url = f"sqlite:///{tmp_path / 'gradyard.db'}"
    with engine_for(url).begin() as connection:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes.update(configure_logging=False, connection=connection)
        command.upgrade(config, "head")
    return sessions(url)


def test_without_redis_the_database_counts(database: sessionmaker[Session]) -> None:
    """The embedded mode's fallback: jobs created in the last window, a sliding window."""
    name = f"rate-{uuid.uuid4().hex[:8]}"
    settings = Settings(broker_url="filesystem://", rate_limit=2, rate_window_seconds=60)
    assert settings.rate_limit_redis is None
    with database.begin() as session:
        for _ in range(2):
            ratelimit.admit(session, name, settings)
            jobs.create_job(session, ENGINE_SPEC, None, name)
    with database.begin() as session, pytest.raises(ratelimit.RateLimited) as caught:
        ratelimit.admit(session, name, settings)
    assert 58 <= caught.value.retry_after <= 60
    with database.begin() as session, pytest.raises(ratelimit.RateLimited):
        ratelimit.reserve(session, name, settings)  # the same check, before a body is read
    # Once the older job leaves the window, there is room again.
    with database.begin() as session:
        oldest = min(session.scalars(select(Job.created_at).where(Job.owner == name)))
        session.execute(
            update(Job)
            .where(Job.owner == name, Job.created_at == oldest)
            .values(created_at=utcnow() - timedelta(seconds=61))
        )
    with database.begin() as session:
        ratelimit.admit(session, name, settings)
        # Never queued: cancelled, so nothing ever picks them up.
        session.execute(update(Job).where(Job.owner == name).values(status="cancelled"))


def test_without_redis_each_process_counts_predictions() -> None:
    name = f"predict-{uuid.uuid4().hex[:8]}"
    settings = Settings(broker_url="filesystem://", predict_rate_limit=2, rate_window_seconds=3600)
    for _ in range(2):
        ratelimit.count_prediction(name, settings)
    with pytest.raises(ratelimit.RateLimited) as caught:
        ratelimit.count_prediction(name, settings)
    assert 1 <= caught.value.retry_after <= 3600
    ratelimit.count_prediction(f"{name}-other", settings)  # another owner has a count of their own


def test_too_many_active_jobs_is_429(
    owner: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, client = owner
    monkeypatch.setattr(get_settings(), "max_active_jobs", 2)
    # Two jobs held active by hand (never queued), so no worker finishes them meanwhile.
    with sessions(DATABASE_URL).begin() as session:
        held = [jobs.create_job(session, ENGINE_SPEC, "held", name).id for _ in range(2)]
        session.execute(update(Job).where(Job.id.in_(held)).values(status="running"))
    try:
        refused = client.post("/api/v1/jobs", json=JOB)
        assert refused.status_code == 429
        assert refused.get_json()["type"] == "/problems/too-many-active-jobs"
        assert "2 of your jobs" in refused.get_json()["detail"]
        assert len(owned_jobs(name)) == 2
        with sessions(DATABASE_URL).begin() as session:
            session.execute(update(Job).where(Job.id == held[0]).values(status="succeeded"))
        assert client.post("/api/v1/jobs", json=JOB).status_code == 202
    finally:
        with sessions(DATABASE_URL).begin() as session:
            session.execute(update(Job).where(Job.id.in_(held)).values(status="cancelled"))
