"""Every limit is a setting: over it is a 422 problem (413 for the body) naming it and its value.

Each test lowers one limit on the running settings and asks for one unit more; the job time limit
needs a worker of its own, started with JOB_TIME_LIMIT lowered.
"""

from pathlib import Path
from typing import Any

import pytest

from engine import parse_spec
from service.spec import LimitExceeded, check_limits
from store.settings import get_settings
from tests.service.conftest import wait_for_status
from tests.service.servers import start_workers
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

MISSING = "00000000-0000-4000-8000-000000000000"
# 337 weights and biases, 20 samples, 10 epochs: a graph of 337 x 20 x 64 bytes, and
# 337 x 20 x 10 parameter-samples of work.
SPEC = moons_job(10, samples=20)
LIMITS = [
    ("max_parameters", 337, "model.layers"),
    ("max_samples", 20, "data"),
    ("max_epochs", 10, "training.epochs"),
    ("max_graph_bytes", 337 * 20 * 64, "training.batch_size"),
    ("max_work", 337 * 20 * 10, "training.epochs"),
]


@pytest.mark.parametrize(("limit", "asked", "field"), LIMITS, ids=[c[0] for c in LIMITS])
def test_a_spec_over_a_limit_is_a_422_naming_it(
    client: Any, monkeypatch: pytest.MonkeyPatch, limit: str, asked: int, field: str
) -> None:
    settings = get_settings()
    check_limits(parse_spec(SPEC), settings.model_copy(update={limit: asked}))  # at it: fine
    with pytest.raises(LimitExceeded):
        check_limits(parse_spec(SPEC), settings.model_copy(update={limit: asked - 1}))

    monkeypatch.setattr(settings, limit, asked - 1)
    response = client.post("/api/v1/jobs", json=SPEC)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    [error] = response.get_json()["errors"]
    assert error["field"] == field
    assert limit.upper() in error["message"] and f"limit of {asked - 1}" in error["message"]


def test_a_prediction_over_the_batch_limit_is_a_422_naming_it(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_predict_batch", 2)
    response = client.post(f"/api/v1/jobs/{MISSING}/predict", json={"inputs": [[0.0]] * 3})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    [error] = response.get_json()["errors"]
    assert error["field"] == "inputs"
    assert "MAX_PREDICT_BATCH" in error["message"] and "limit of 2" in error["message"]


def test_a_body_over_the_limit_is_a_413_naming_it(
    monkeypatch: pytest.MonkeyPatch, auth_headers: dict[str, str]
) -> None:
    from service.app import create_app

    monkeypatch.setattr(get_settings(), "max_body_bytes", 1000)
    client = create_app(test_config={"TESTING": True}).test_client()
    body = b'{"name": "' + b"x" * 1000 + b'"}'
    response = client.post(
        "/api/v1/jobs", data=body, content_type="application/json", headers=auth_headers
    )
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "MAX_BODY_BYTES" in detail and "limit of 1000 bytes" in detail


def test_a_job_over_the_time_limit_fails_saying_so(client: Any, queue: str, tmp_path: Path) -> None:
    [worker] = start_workers(tmp_path, 1, QUEUE_NAME=queue, JOB_TIME_LIMIT="1")
    try:
        long_job = {**SPEC, "training": {"epochs": 100_000, "loss": "hinge"}}
        response = client.post("/api/v1/jobs", json=long_job)
        assert response.status_code == 202, response.get_json()
        job = wait_for_status(client, response.get_json()["id"], {"failed", "succeeded"}, 60)
        assert worker.process.poll() is None  # the worker lives on
    finally:
        worker.stop()
    assert job["status"] == "failed"
    assert job["error"] == "ran longer than the time limit of 1 s (JOB_TIME_LIMIT)"
    assert 0 < job["progress"]["epoch"] < 100_000  # what did run stays recorded
