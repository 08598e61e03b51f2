"""Jobs through the real stack: HTTP API -> Redis -> a Celery worker process -> Postgres."""

import time
from typing import Any

import pytest

from engine import predict, train
from tests.service.conftest import wait_for_status
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("worker")

NOTEBOOK_JOB = {"name": "notebook", "training": {"epochs": 50, "seed": 3}}
# Long enough to still be running when the test acts on it (stopped by cancel, never finished).
LONG_JOB = {"name": "long", **moons_job(100_000, samples=100)}


def submit(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    return job


def all_losses(client: Any, job_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    items, url = [], f"/api/v1/jobs/{job_id}/losses?limit={limit}"
    while url:
        page = client.get(url).get_json()
        items += page["items"]
        url = page["next"]
    return items


def test_notebook_job_matches_the_engine(client: Any) -> None:
    job = submit(client, NOTEBOOK_JOB)
    assert job["status"] == "queued" and job["progress"] == {"epoch": 0, "epochs": 50}
    done = wait_for_status(client, job["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"epoch": 50, "epochs": 50}
    assert done["attempts"] == 1 and done["error"] is None
    assert done["started_at"] and done["finished_at"] >= done["started_at"]

    reference = train(done["spec"])
    losses = all_losses(client, job["id"], limit=7)  # several pages
    assert [item["epoch"] for item in losses] == list(range(1, 51))
    assert [item["loss"] for item in losses] == reference.losses  # bitwise, through Postgres
    assert done["latest_loss"] == reference.losses[-1]

    weights = client.get(f"/api/v1/jobs/{job['id']}/weights").get_json()
    assert weights == reference.weights

    inputs = [[2.0, 3.0, -1.0], [0.5, 1.0, 1.0]]
    outputs = client.post(f"/api/v1/jobs/{job['id']}/predict", json={"inputs": inputs})
    assert outputs.status_code == 200
    assert outputs.get_json() == {"outputs": predict(reference.weights, inputs)}


def test_losses_downsample_and_page(client: Any) -> None:
    job = submit(client, {"training": {"epochs": 300}})
    wait_for_status(client, job["id"], {"succeeded"})
    base = f"/api/v1/jobs/{job['id']}/losses"
    sampled = client.get(f"{base}?every=100").get_json()
    assert [item["epoch"] for item in sampled["items"]] == [1, 101, 201, 300]  # and the last
    assert sampled["next"] is None
    page = client.get(f"{base}?after=250&limit=20").get_json()
    assert [item["epoch"] for item in page["items"]] == list(range(251, 271))
    assert page["next"].endswith("after=270&limit=20") or "after=270" in page["next"]


def test_job_list_is_newest_first_with_cursor_pages(client: Any) -> None:
    ids = [submit(client, {"name": f"list-{i}", "training": {"epochs": 1}})["id"] for i in range(5)]
    seen: list[str] = []
    url = "/api/v1/jobs?limit=2"
    while url and len(seen) < 5:
        page = client.get(url).get_json()
        seen += [item["id"] for item in page["items"]]
        url = page["next"]
    assert seen[:5] == ids[::-1]
    for job_id in ids:
        wait_for_status(client, job_id, {"succeeded"})
    only = client.get("/api/v1/jobs?status=succeeded&limit=1000").get_json()["items"]
    assert {item["status"] for item in only} == {"succeeded"}
    assert set(ids) <= {item["id"] for item in only}


def test_cancel_running_and_queued_jobs(client: Any) -> None:
    running = submit(client, LONG_JOB)
    queued = submit(client, {"name": "behind the long one"})  # one worker slot: it waits
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/jobs/{running['id']}").get_json()["progress"]["epoch"] == 0:
        assert time.monotonic() < deadline, "long job never made progress"
        time.sleep(0.05)

    response = client.post(f"/api/v1/jobs/{queued['id']}/cancel")
    assert response.status_code == 202 and response.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{queued['id']}/cancel").status_code == 202  # idempotent

    response = client.post(f"/api/v1/jobs/{running['id']}/cancel")
    assert response.status_code == 202
    assert response.get_json()["status"] in ("cancelling", "cancelled")
    stopped = wait_for_status(client, running["id"], {"cancelled"}, timeout=30)
    assert 0 < stopped["progress"]["epoch"] < LONG_JOB["training"]["epochs"]
    assert len(all_losses(client, running["id"])) == stopped["progress"]["epoch"]
    assert client.get(f"/api/v1/jobs/{running['id']}/weights").status_code == 409

    # The queued job never started, even after the worker got to its message.
    after = submit(client, {"training": {"epochs": 1}})
    wait_for_status(client, after["id"], {"succeeded"})
    never = client.get(f"/api/v1/jobs/{queued['id']}").get_json()
    assert never["status"] == "cancelled" and never["started_at"] is None
    assert never["attempts"] == 0


def test_cancelling_a_finished_job_is_a_conflict(client: Any) -> None:
    job = submit(client, {"training": {"epochs": 2}})
    wait_for_status(client, job["id"], {"succeeded"})
    response = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"


def test_exploding_training_fails_with_the_engines_message(client: Any) -> None:
    spec = {
        "model": {
            "inputs": 2,
            "layers": [8, 1],
            "activation": "relu",
            "output_activation": "linear",
        },
        "data": {"generator": "moons", "samples": 50},
        "training": {"epochs": 200, "learning_rate": 1e6, "loss": "mean_squared"},
    }
    job = submit(client, spec)
    failed = wait_for_status(client, job["id"], {"failed", "succeeded"})
    assert failed["status"] == "failed"
    assert "epoch" in failed["error"]
    assert client.get(f"/api/v1/jobs/{job['id']}/weights").status_code == 409
    predict_response = client.post(f"/api/v1/jobs/{job['id']}/predict", json={"inputs": [[0, 0]]})
    assert predict_response.status_code == 409


def test_predict_rejects_inputs_of_the_wrong_width(client: Any) -> None:
    job = submit(client, {"training": {"epochs": 1}})
    wait_for_status(client, job["id"], {"succeeded"})
    response = client.post(f"/api/v1/jobs/{job['id']}/predict", json={"inputs": [[1.0, 2.0]]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "inputs.0"
