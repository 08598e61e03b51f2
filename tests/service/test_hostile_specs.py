"""Numerically hostile specs: each ends ``failed`` with the engine's message, never a crash.

They pass validation (every number is finite) and blow up in training; the worker records why and
goes on to the next job.
"""

from typing import Any

import pytest

from tests.service.conftest import WorkerProcess, wait_for_status

RELU_NET = {"inputs": 2, "layers": [8, 1], "activation": "relu", "output_activation": "linear"}
HOSTILE = [
    (
        "huge learning rate",
        {
            "model": RELU_NET,
            "data": {"generator": "moons", "samples": 10},
            "training": {"epochs": 50, "learning_rate": 1e300},
        },
    ),
    (
        "inputs of 1e308",
        {
            "model": RELU_NET,
            "data": {"inputs": [[1e308, 1e308], [1.0, 2.0]], "targets": [1.0, -1.0]},
            "training": {"epochs": 5, "loss": "mean_squared"},
        },
    ),
    (
        "a target of 1e308",
        {
            "model": RELU_NET,
            "data": {"inputs": [[1.0, 2.0]], "targets": [1e308]},
            "training": {"epochs": 5},
        },
    ),
    (
        "a loss that grows until it overflows",
        {
            "model": RELU_NET,
            "data": {"generator": "moons", "samples": 50},
            "training": {"epochs": 500, "learning_rate": 10, "loss": "mean_squared"},
        },
    ),
]


@pytest.mark.parametrize(("case", "spec"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_spec_fails_with_the_engines_message(
    client: Any, worker: WorkerProcess, case: str, spec: dict[str, Any]
) -> None:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job = wait_for_status(client, response.get_json()["id"], {"failed", "succeeded"})
    assert job["status"] == "failed", (case, job)
    assert job["error"].startswith("epoch "), job["error"]  # the engine's TrainingError
    assert "overflow" in job["error"] or "finite" in job["error"] or "inf" in job["error"]
    assert job["attempts"] == 1  # failed once, for good: not retried, not crashed

    after = client.post("/api/v1/jobs", json={"training": {"epochs": 2}}).get_json()
    assert wait_for_status(client, after["id"], {"succeeded", "failed"})["status"] == "succeeded"
    assert worker.process.poll() is None
    assert b"WorkerLostError" not in worker.log_path.read_bytes()
