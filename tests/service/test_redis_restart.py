"""Redis killed while jobs are queued and running, then started again empty: every job finishes.

The test runs a redis-server of its own, without persistence, so the restart loses every message:
the worst case. Jobs that were queued come back through the reaper (stored but not queued); the
running one never stopped. Submissions during the outage get a quick 503 problem and leave no row.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from store.db import sessions
from store.models import EpochLoss, Job
from tests.service.conftest import BROKER_URL, WorkerProcess
from tests.service.servers import (
    ApiServer,
    RedisServer,
    auth_headers_for,
    database_of_its_own,
    private_queue,
    wait_until,
)
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

LONG_JOB = moons_job(800, samples=20)
SHORT_JOB = {"training": {"epochs": 20}}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[httpx.Client, RedisServer, str]]:
    """An API and a worker on a Redis of the test's own; the client, the Redis, the database."""
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    with database_of_its_own("redis") as database_url:
        env = {
            "DATABASE_URL": database_url,
            "BROKER_URL": redis_server.url,
            "QUEUE_NAME": private_queue(),
            "QUEUED_TIMEOUT": "2",
            "REAPER_SECONDS": "0.5",
            # Submissions are counted in the shared Redis, so a refusal comes from the queue.
            "RATE_LIMIT_URL": BROKER_URL,
        }
        worker = WorkerProcess(tmp_path / "worker.log", env)  # boots while the API does
        api = ApiServer(tmp_path / "api.log", **env)
        try:
            worker.wait_ready()
            headers = auth_headers_for(database_url)
            with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
                yield client, redis_server, database_url
        finally:
            worker.process.terminate()  # both shut down side by side
            api.stop()
            worker.stop()
            redis_server.stop()


def job_count(database_url: str) -> int:
    with sessions(database_url).begin() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def submit(client: httpx.Client, spec: dict[str, Any]) -> str:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def test_jobs_survive_a_redis_restart(stack: tuple[httpx.Client, RedisServer, str]) -> None:
    client, redis_server, database_url = stack
    running = submit(client, LONG_JOB)
    queued = [submit(client, SHORT_JOB) for _ in range(3)]  # one worker slot: they wait
    wait_until(
        lambda: client.get(f"/api/v1/jobs/{running}").json()["progress"]["epoch"] > 0,
        30,
        "the long job to make progress",
    )

    redis_server.stop()
    before = job_count(database_url)
    started = time.monotonic()
    refused = client.post("/api/v1/jobs", json=SHORT_JOB)
    assert time.monotonic() - started < 5, "the API hung on the dead broker"
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["type"].endswith("queue-unavailable")
    assert job_count(database_url) == before, "a refused submission left a job row"
    assert client.get("/readyz").status_code == 503
    assert client.get(f"/api/v1/jobs/{running}").status_code == 200  # reads need no broker

    redis_server.start()  # empty: every message is gone
    after = wait_until(lambda: _accepted(client), 20, "the API to queue jobs again")

    for job_id in [running, *queued, after]:
        job = wait_until(lambda j=job_id: _ended(client, j), 60, f"job {job_id} to end")
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 1, job  # each ran once: nothing ran twice
        with sessions(database_url).begin() as session:
            epochs = list(
                session.scalars(select(EpochLoss.epoch).where(EpochLoss.job_id == job_id))
            )
        assert sorted(epochs) == list(range(1, job["progress"]["epochs"] + 1))


def _accepted(client: httpx.Client) -> str | None:
    response = client.post("/api/v1/jobs", json=SHORT_JOB)
    if response.status_code == 202:
        job_id: str = response.json()["id"]
        return job_id
    assert response.status_code == 503, response.text
    time.sleep(0.2)
    return None


def _ended(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed", "cancelled") else None
