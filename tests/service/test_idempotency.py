"""Idempotency-Key: a retry returns the original job; racing retries still make exactly one."""

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.serving import make_server

import service.api.jobs as jobs_view
from store import submissions
from store.db import sessions
from store.models import Job
from store.settings import Settings
from tests.service.conftest import DATABASE_URL, wait_for_status

pytestmark = pytest.mark.usefixtures("worker")

SPEC = {"name": "idem", "training": {"epochs": 5, "seed": 7}}
RACERS = 8


def rows_with_key(key: str) -> int:
    with sessions(DATABASE_URL).begin() as session:
        query = select(func.count()).select_from(Job).where(Job.idempotency_key == key)
        return session.scalar(query) or 0


def test_a_retry_returns_the_original_job(client: Any) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/jobs", json=SPEC, headers=key)
    assert first.status_code == 202
    # The same request spelt differently (key order, a default made explicit) is the same request.
    same = {"training": {"seed": 7, "epochs": 5, "learning_rate": 0.01}, "name": "idem"}
    again = client.post("/api/v1/jobs", json=same, headers=key)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert rows_with_key(key["Idempotency-Key"]) == 1


def test_the_key_with_another_body_is_422(client: Any) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert client.post("/api/v1/jobs", json=SPEC, headers=key).status_code == 202
    other = client.post("/api/v1/jobs", json={**SPEC, "name": "other"}, headers=key)
    assert other.status_code == 422 and other.mimetype == "application/problem+json"
    body = other.get_json()
    assert body["type"] == "/problems/idempotency-key-reused"
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert rows_with_key(key["Idempotency-Key"]) == 1


def test_without_a_key_every_post_is_a_new_job(client: Any) -> None:
    ids = {client.post("/api/v1/jobs", json=SPEC).get_json()["id"] for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "tab\there", "é"])
def test_a_malformed_key_is_422(client: Any, key: str) -> None:
    response = client.post("/api/v1/jobs", json=SPEC, headers={"Idempotency-Key": key})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app behind a real threaded HTTP server, so requests truly run side by side."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every job id the API hands to the queue (still queued for real)."""
    calls: list[str] = []
    real = jobs_view.enqueue

    def counting(settings: Settings, job_id: str) -> None:
        calls.append(job_id)
        real(settings, job_id)

    monkeypatch.setattr(jobs_view, "enqueue", counting)
    return calls


def miss_every_racers_lookup(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the stored path's first RACERS key lookups miss, as when every racer looked before
    any had inserted (in other processes, or before group commit put them in one transaction):
    all but one then meet the unique constraint. Returns how many inserts it refused."""
    refused: list[int] = []
    misses = iter(range(RACERS))
    lock = threading.Lock()
    real_lookup, real_insert = submissions.find_by_idempotency_key, submissions.insert_jobs

    def missing(session: Any, owner: str, key: str) -> Job | None:
        with lock:
            if next(misses, None) is not None:
                return None
        return real_lookup(session, owner, key)

    def counted(*args: Any, **kwargs: Any) -> None:
        try:
            real_insert(*args, **kwargs)
        except IntegrityError:
            refused.append(1)
            raise

    monkeypatch.setattr(submissions, "find_by_idempotency_key", missing)
    monkeypatch.setattr(submissions, "insert_jobs", counted)
    return refused


@pytest.mark.parametrize("forced", [False, True], ids=["free-race", "all-miss-the-lookup"])
def test_racing_retries_make_exactly_one_job(
    server: str,
    auth_headers: dict[str, str],
    enqueued: list[str],
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    forced: bool,
) -> None:
    refused = miss_every_racers_lookup(monkeypatch) if forced else []
    key = str(uuid.uuid4())
    headers = {**auth_headers, "Idempotency-Key": key}
    start = threading.Barrier(RACERS)

    def post(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            start.wait()
            return http.post(f"{server}/api/v1/jobs", json=SPEC, headers=headers)

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(post, range(RACERS)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (RACERS - 1) + [202], [r.text for r in responses]
    [job_id] = {response.json()["id"] for response in responses}
    assert rows_with_key(key) == 1
    assert enqueued == [job_id]
    # Forced: the missed lookups inserted, and the constraint refused all but the first.
    assert bool(refused) == forced
    done = wait_for_status(client, job_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded" and done["attempts"] == 1


def test_a_different_body_racing_is_still_422(
    server: str, auth_headers: dict[str, str], enqueued: list[str]
) -> None:
    headers = {**auth_headers, "Idempotency-Key": str(uuid.uuid4())}
    bodies: list[dict[str, Any]] = [SPEC, {**SPEC, "name": "another"}] * (RACERS // 2)

    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{server}/api/v1/jobs", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(post, bodies))
    [winner] = [response for response in responses if response.status_code == 202]
    # Whichever body won, each request with it gets the job, and each with the other a 422.
    for body, response in zip(bodies, responses, strict=True):
        won = body["name"] == winner.json()["name"]
        assert response.status_code in ((200, 202) if won else (422,)), response.text
    assert enqueued == [winner.json()["id"]]
