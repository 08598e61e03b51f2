"""Tenants: another owner's job is a 404 on every job endpoint; lists are yours; admin sees all."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from store.db import sessions
from store.models import Job
from tests.service.conftest import DATABASE_URL, wait_for_status

pytestmark = pytest.mark.usefixtures("worker")

# Every /api/v1/jobs/{id}... endpoint, with a body that would be valid for it.
ENDPOINTS = [
    ("get", "", None),
    ("get", "/losses", None),
    ("get", "/weights", None),
    ("post", "/predict", {"inputs": [[2.0, 3.0, -1.0]]}),
    ("post", "/cancel", None),
    ("get", "/events", None),
]


def client_for(app: Any, token: str) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture(scope="module")
def tenants(app: Any, make_token: Callable[..., str]) -> dict[str, Any]:
    """Clients for two owners and an admin, and a succeeded job of each owner."""
    tag = uuid.uuid4().hex[:6]
    clients = {
        "alice": client_for(app, make_token(f"alice-{tag}")),
        "bob": client_for(app, make_token(f"bob-{tag}")),
        "admin": client_for(app, make_token(f"ops-{tag}", admin=True)),
    }
    jobs = {}
    for owner in ("alice", "bob"):
        response = clients[owner].post("/api/v1/jobs", json={"training": {"epochs": 3}})
        assert response.status_code == 202, response.get_json()
        jobs[owner] = response.get_json()["id"]
    for owner, job_id in jobs.items():
        assert wait_for_status(clients[owner], job_id, {"succeeded"})["status"] == "succeeded"
    return {"clients": clients, "jobs": jobs}


def call(client: Any, method: str, url: str, body: Any) -> Any:
    return getattr(client, method)(url, json=body) if body else getattr(client, method)(url)


@pytest.mark.parametrize(
    ("method", "path", "body"), ENDPOINTS, ids=[e[1] or "/" for e in ENDPOINTS]
)
def test_another_owners_job_is_404_like_no_job(
    tenants: dict[str, Any], method: str, path: str, body: Any
) -> None:
    bob, alices_job = tenants["clients"]["bob"], tenants["jobs"]["alice"]
    missing = str(uuid.uuid4())
    theirs = call(bob, method, f"/api/v1/jobs/{alices_job}{path}", body)
    nothing = call(bob, method, f"/api/v1/jobs/{missing}{path}", body)
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.mimetype == nothing.mimetype == "application/problem+json"
    # Indistinguishable: the same document but for the id the client sent.
    assert theirs.get_json() == {**nothing.get_json(), "detail": f"no job {alices_job}"}
    assert nothing.get_json()["detail"] == f"no job {missing}"


def test_a_refused_cancel_leaves_the_job_alone(tenants: dict[str, Any]) -> None:
    bob, alice = tenants["clients"]["bob"], tenants["clients"]["alice"]
    job = bob.post("/api/v1/jobs", json={"training": {"epochs": 50_000}}).get_json()
    assert alice.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 404
    assert bob.get(f"/api/v1/jobs/{job['id']}").get_json()["status"] in ("queued", "running")
    assert bob.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 202
    wait_for_status(bob, job["id"], {"cancelled"})


def listed(client: Any, query: str = "") -> set[str]:
    return {job["id"] for job in client.get(f"/api/v1/jobs?limit=1000{query}").get_json()["items"]}


def test_lists_show_only_your_own_jobs(tenants: dict[str, Any]) -> None:
    clients, jobs = tenants["clients"], tenants["jobs"]
    for owner, other in (("alice", "bob"), ("bob", "alice")):
        own = listed(clients[owner])
        assert jobs[owner] in own and jobs[other] not in own
        with sessions(DATABASE_URL).begin() as session:
            owners = {session.get(Job, job_id).owner for job_id in own}  # type: ignore[union-attr]
        assert len(owners) == 1
        assert jobs[other] not in listed(clients[owner], "&status=succeeded")


def test_admin_sees_and_reads_every_owners_jobs(tenants: dict[str, Any]) -> None:
    admin, jobs = tenants["clients"]["admin"], tenants["jobs"]
    assert set(jobs.values()) <= listed(admin)
    for job_id in jobs.values():
        assert admin.get(f"/api/v1/jobs/{job_id}").status_code == 200
        assert admin.get(f"/api/v1/jobs/{job_id}/losses").status_code == 200
        assert admin.get(f"/api/v1/jobs/{job_id}/weights").status_code == 200
        predicted = admin.post(f"/api/v1/jobs/{job_id}/predict", json={"inputs": [[1, 2, 3]]})
        assert predicted.status_code == 200
        events = admin.get(f"/api/v1/jobs/{job_id}/events")
        assert events.status_code == 200 and events.mimetype == "text/event-stream"
        events.close()


def test_idempotency_keys_are_per_owner(tenants: dict[str, Any]) -> None:
    clients = tenants["clients"]
    key = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    spec = {"training": {"epochs": 2}}
    first = clients["alice"].post("/api/v1/jobs", json=spec, headers=key)
    second = clients["bob"].post("/api/v1/jobs", json=spec, headers=key)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] != second.get_json()["id"]
