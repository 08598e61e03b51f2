"""Postgres restarted mid-job: the worker waits it out and the job finishes with every epoch.

The test runs a Postgres cluster of its own (never the shared server), stops it while a job runs
and starts it again. Meanwhile the API answers 503 problems, and afterwards recovers by itself.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from engine import train
from tests.service.conftest import WorkerProcess
from tests.service.servers import (
    ApiServer,
    PostgresCluster,
    auth_headers_for,
    migrate,
    private_queue,
    wait_until,
)
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

LONG_JOB = moons_job(800, samples=20, seed=11)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[httpx.Client, PostgresCluster, WorkerProcess]]:
    """An API and a worker on a Postgres cluster of the test's own."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        admin = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("CREATE DATABASE gradyard")
        migrate(cluster.url)
        env = {"DATABASE_URL": cluster.url, "QUEUE_NAME": private_queue()}
        worker = WorkerProcess(tmp_path / "worker.log", env)  # boots while the API does
        api = ApiServer(tmp_path / "api.log", **env)
        try:
            worker.wait_ready()
            headers = auth_headers_for(cluster.url)
            with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
                yield client, cluster, worker
        finally:
            worker.process.terminate()  # both shut down side by side
            api.stop()
            worker.stop()
    finally:
        cluster.remove()


def test_a_job_survives_a_postgres_restart(
    stack: tuple[httpx.Client, PostgresCluster, WorkerProcess],
) -> None:
    client, cluster, worker = stack
    response = client.post("/api/v1/jobs", json=LONG_JOB)
    assert response.status_code == 202, response.text
    job = response.json()
    url = f"/api/v1/jobs/{job['id']}"
    wait_until(lambda: client.get(url).json()["progress"]["epoch"] > 0, 30, "progress")

    cluster.stop()
    for down in (client.get(url), client.post("/api/v1/jobs", json=LONG_JOB)):
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
        assert down.json()["type"].endswith("database-unavailable")
    assert client.get("/readyz").status_code == 503
    time.sleep(1.5)  # the worker's writes fail and are retried meanwhile
    cluster.start()

    wait_until(lambda: client.get(url).status_code == 200, 20, "the API to recover")
    reference = train(job["spec"])
    done = wait_until(lambda: _ended(client, url), 60, "the job to end")
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1  # the same run went on: nothing was requeued
    losses = client.get(f"{url}/losses?limit=10000").json()["items"]
    epochs = LONG_JOB["training"]["epochs"]
    assert [item["epoch"] for item in losses] == list(range(1, epochs + 1))
    assert [item["loss"] for item in losses] == reference.losses
    assert client.get(f"{url}/weights").json() == reference.weights
    assert worker.process.poll() is None
    assert "retrying in" in worker.log_path.read_text()  # the outage was met, and ridden out


def _ended(client: httpx.Client, url: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(url).json()
    return job if job["status"] in ("succeeded", "failed", "cancelled") else None
