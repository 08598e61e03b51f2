"""A stack on a queue of the test's own, for attacks that fill, starve or count a queue.

The API runs under gunicorn as deployed (AUTH on) and the workers are real processes; both use a
private queue, so no other test's worker takes these jobs and the queue's messages can be
counted. Tenants are owners with tokens of their own.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from store.db import sessions
from store.models import Job
from tests.service.conftest import BROKER_URL, DATABASE_URL, WorkerProcess
from tests.service.servers import ApiServer, drop_queue, private_queue

ENDED = ("succeeded", "failed", "cancelled")


@dataclass
class OwnStack:
    """The API and the workers of one private queue."""

    api: ApiServer
    workers: list[WorkerProcess]
    queue: str


@contextmanager
def own_stack(tmp_path: Path, workers: int, **env: str) -> Iterator[OwnStack]:
    """The API and ``workers`` worker processes on a new private queue, with these settings."""
    queue = private_queue()
    env = {"QUEUE_NAME": queue, **env}
    started = [WorkerProcess(tmp_path / f"worker-{i}.log", env) for i in range(workers)]
    api = None
    try:
        api = ApiServer(tmp_path / "api.log", workers=2, threads=4, **env)  # while workers boot
        for worker in started:
            worker.wait_ready()
        yield OwnStack(api, started, queue)
    finally:
        if api is not None:
            api.stop()
        for worker in started:
            worker.stop()
        drop_queue(BROKER_URL, queue)


def owner_name(role: str) -> str:
    """An owner name no other test uses."""
    return f"{role}-{uuid.uuid4().hex[:8]}"


class Tenant:
    """One owner's HTTP client on the stack's API."""

    def __init__(self, api: ApiServer, token: str) -> None:
        self.http = httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def submit(self, spec: dict[str, Any]) -> str:
        response = self.http.post("/api/v1/jobs", json=spec)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def cancel_all(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self.http.post(f"/api/v1/jobs/{job_id}/cancel")


@dataclass(frozen=True)
class Times:
    """When a job was created, started and finished, read from its row."""

    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int


def times(job_ids: list[str]) -> dict[str, Times]:
    """The rows of these jobs, by id, in one query (cheaper than an HTTP request each)."""
    with sessions(DATABASE_URL).begin() as session:
        rows = session.execute(
            select(
                Job.id,
                Job.status,
                Job.created_at,
                Job.started_at,
                Job.finished_at,
                Job.attempts,
            ).where(Job.id.in_(job_ids))
        )
        return {row.id: Times(*row[1:]) for row in rows}
