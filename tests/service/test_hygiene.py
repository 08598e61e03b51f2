"""Hygiene: the worker refuses pickled messages; pages carry security headers; no secrets leak."""

import os
import uuid
from pathlib import Path
from typing import Any

from kombu import Connection, Exchange, Queue
from sqlalchemy import update

from store import jobs
from store.db import sessions
from store.models import Job
from store.queue import RUN_JOB
from tests.service.conftest import (
    BROKER_URL,
    DATABASE_URL,
    QUEUE_NAME,
    WorkerProcess,
    wait_for_status,
)

NOTEBOOK_SPEC = {"training": {"epochs": 3}}


class Tripwire:
    """Unpickling this makes a folder: proof that a pickle was opened at all."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def publish_pickled_task(job_id: str, tripwire: Path) -> None:
    """A forged Celery (protocol 2) message for the job, serialised with pickle, on the queue."""
    task_id = str(uuid.uuid4())
    headers = {
        "lang": "py",
        "task": RUN_JOB,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "argsrepr": repr((job_id,)),
        "kwargsrepr": "{}",
        "origin": "forger",
    }
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = ((job_id,), {}, {**embed, "tripwire": Tripwire(tripwire)})
    queue = Queue(QUEUE_NAME, Exchange(QUEUE_NAME, type="direct"), routing_key=QUEUE_NAME)
    with Connection(BROKER_URL) as connection:
        connection.Producer().publish(
            body,
            serializer="pickle",
            exchange=queue.exchange,
            routing_key=QUEUE_NAME,
            declare=[queue],
            headers=headers,
            correlation_id=task_id,
        )


def test_a_pickled_message_is_refused_and_nothing_runs(
    worker: WorkerProcess, client: Any, tmp_path: Path
) -> None:
    with sessions(DATABASE_URL).begin() as session:
        forged = jobs.create_job(session, jobs_spec(client), "forged", "tester")
    tripwire = tmp_path / "unpickled"
    publish_pickled_task(forged.id, tripwire)

    # One worker process takes messages in order: once a job sent after the forgery has run,
    # the forgery has been dealt with.
    after = client.post("/api/v1/jobs", json=NOTEBOOK_SPEC).get_json()
    assert wait_for_status(client, after["id"], {"succeeded", "failed"})["status"] == "succeeded"

    job = client.get(f"/api/v1/jobs/{forged.id}").get_json()
    assert job["status"] == "queued" and job["attempts"] == 0 and job["started_at"] is None
    assert not tripwire.exists(), "the worker unpickled the message"
    log = worker.log_path.read_text(errors="replace")
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert worker.process.poll() is None
    with sessions(DATABASE_URL).begin() as session:
        session.execute(update(Job).where(Job.id == forged.id).values(status="cancelled"))


def jobs_spec(client: Any) -> dict[str, Any]:
    """A full engine spec, as the API would have stored it."""
    submitted = client.post("/api/v1/jobs", json={**NOTEBOOK_SPEC, "name": "template"})
    spec: dict[str, Any] = submitted.get_json()["spec"]
    return spec


def test_pages_carry_security_headers(app: Any, client: Any) -> None:
    pages = 0
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in (rule.methods or ()) or rule.rule.startswith("/api"):
            continue
        response = client.get(rule.rule)
        if response.mimetype != "text/html":
            continue
        pages += 1
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, rule
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0], rule
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert pages >= 1  # /docs, and the dashboard when it lands


def test_api_answers_are_never_pages(app: Any, client: Any) -> None:
    for response in (client.get("/api/v1/jobs"), app.test_client().get("/api/v1/jobs")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
