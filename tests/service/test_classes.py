"""Classifiers through the real stack: class labels and probabilities from /predict, the
confusion matrix, and rmse for regression jobs (issue 14)."""

from typing import Any

import pytest

from engine import predict, train
from engine.classify import confusion
from engine.losses import argmax, softmax
from tests.service.conftest import wait_for_status
from tests.service.specs import moons_job

THREE_BLOBS = {
    "model": {"layers": [8, 3], "output_activation": "linear"},
    "data": {"generator": "blobs", "samples": 60, "classes": 3, "noise": 0.3},
    "training": {"epochs": 30, "loss": "cross_entropy", "optimizer": "adam", "learning_rate": 0.05},
}
INPUTS = [[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8], [0.0, 0.0]]


def finished(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    done = wait_for_status(client, response.get_json()["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    return done


@pytest.mark.usefixtures("worker")
def test_a_three_class_job_predicts_labels_and_probabilities(client: Any) -> None:
    job = finished(client, THREE_BLOBS)
    reference = train(job["spec"])
    response = client.post(f"/api/v1/jobs/{job['id']}/predict", json={"inputs": INPUTS})
    assert response.status_code == 200
    outputs = predict(reference.weights, INPUTS)
    assert response.get_json() == {
        "outputs": outputs,
        "probabilities": [softmax(row) for row in outputs],  # type: ignore[arg-type]
        "classes": [argmax(row) for row in outputs],  # type: ignore[arg-type]
    }
    counts = client.get(f"/api/v1/jobs/{job['id']}/confusion")
    assert counts.status_code == 200
    _, labels, matrix = confusion(job["spec"], reference.weights)
    assert counts.get_json() == {"split": "training", "labels": [0, 1, 2], "counts": matrix}
    assert labels == [0, 1, 2] and [sum(row) for row in matrix] == [20, 20, 20]
    items = client.get(f"/api/v1/jobs/{job['id']}/losses").get_json()["items"]
    assert [item["accuracy"] for item in items] == reference.accuracies


@pytest.mark.usefixtures("worker")
def test_binary_classifiers_get_classes_too(client: Any) -> None:
    hinge = finished(client, moons_job(5))
    body = client.post(f"/api/v1/jobs/{hinge['id']}/predict", json={"inputs": INPUTS}).get_json()
    assert set(body) == {"outputs", "classes"}  # a margin is no probability
    assert body["classes"] == [1 if y > 0 else -1 for y in body["outputs"]]
    matrix = client.get(f"/api/v1/jobs/{hinge['id']}/confusion").get_json()
    assert matrix["labels"] == [-1, 1] and sum(map(sum, matrix["counts"])) == 20

    spec = moons_job(5, loss="binary_cross_entropy")
    spec["model"]["output_activation"] = "sigmoid"
    bce = finished(client, spec)
    body = client.post(f"/api/v1/jobs/{bce['id']}/predict", json={"inputs": INPUTS}).get_json()
    assert body["probabilities"] == body["outputs"]
    assert body["classes"] == [1 if p > 0.5 else 0 for p in body["outputs"]]


@pytest.mark.usefixtures("worker")
def test_a_regression_job_has_no_classes(client: Any) -> None:
    job = finished(client, {"training": {"epochs": 3}})
    items = client.get(f"/api/v1/jobs/{job['id']}/losses").get_json()["items"]
    rmses: list[float] = []
    train(job["spec"], on_epoch=lambda epoch, loss, metrics: rmses.append(metrics["rmse"]))
    assert [item["accuracy"] for item in items] == [None, None, None]
    assert [item["rmse"] for item in items] == rmses  # bitwise, through Postgres
    body = client.post(f"/api/v1/jobs/{job['id']}/predict", json={"inputs": [[1, 2, 3]]})
    assert set(body.get_json()) == {"outputs"}
    response = client.get(f"/api/v1/jobs/{job['id']}/confusion")
    assert response.status_code == 422
    assert response.get_json()["type"].endswith("not-a-classifier")


def test_the_confusion_of_an_unfinished_classifier_is_a_conflict(client: Any, queue: str) -> None:
    # No worker reads this test's queue: the job stays queued.
    response = client.post("/api/v1/jobs", json=THREE_BLOBS)
    assert response.status_code == 202
    conflict = client.get(f"/api/v1/jobs/{response.get_json()['id']}/confusion")
    assert conflict.status_code == 409
    assert conflict.headers["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/jobs/nope/confusion").status_code == 404
