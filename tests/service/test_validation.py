"""Validation, normalization and early stopping end to end on Postgres, Redis and a real worker:
CSVs made here from scikit-learn's breast-cancer and iris sets, uploaded, trained on with a held
out fraction, and checked against scikit-learn on the very same split; predictions from raw
inputs. And the submission checks that name their field."""

import csv
import io
import json
import uuid
from typing import Any

import pytest

from engine.holdout import split
from service.dashboard.access import COOKIE
from tests.service.conftest import wait_for_status
from tests.service.test_end_to_end import all_losses

sklearn_datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

pytestmark = pytest.mark.usefixtures("worker")


def dataset_csv(loaded: Any) -> tuple[str, list[list[float]], list[int]]:
    """A CSV of a scikit-learn dataset, its target as class names (the last column)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(name.replace(" ", "_") for name in loaded.feature_names), "class"])
    inputs = [[float(x) for x in row] for row in loaded.data]
    labels = [int(t) for t in loaded.target]
    for row, label in zip(inputs, labels, strict=True):
        writer.writerow([*map(repr, row), loaded.target_names[label]])
    return out.getvalue(), inputs, labels


def upload(client: Any, text: str, name: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/datasets?name={name}", data=text, content_type="text/csv")
    assert response.status_code in (200, 201), response.get_json()
    document: dict[str, Any] = response.get_json()
    return document


def reference_accuracy(
    inputs: list[list[float]], labels: list[int], fraction: float, seed: int
) -> tuple[float, list[int]]:
    """Logistic regression's validation accuracy on the split the job makes (standardized by the
    training rows, as the job is), and the validation rows."""
    # The class indices order the samples as the job's labels do: the same stratified split.
    train_rows, val_rows = split([(label,) for label in labels], len(labels), fraction, seed)
    scaler = StandardScaler().fit([inputs[i] for i in train_rows])
    model = LogisticRegression(max_iter=5000).fit(
        scaler.transform([inputs[i] for i in train_rows]), [labels[i] for i in train_rows]
    )
    accuracy = model.score(
        scaler.transform([inputs[i] for i in val_rows]), [labels[i] for i in val_rows]
    )
    return float(accuracy), val_rows


def train_and_check(
    client: Any,
    spec: dict[str, Any],
    inputs: list[list[float]],
    labels: list[int],
    names: list[str],
) -> dict[str, Any]:
    """Submit, wait, and check what every part says about the run; the job's document."""
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job = wait_for_status(client, response.get_json()["id"], {"succeeded", "failed"}, 600)
    assert job["status"] == "succeeded", job["error"]
    losses = all_losses(client, job["id"])
    stopped, best = job["stopped_epoch"], job["best_epoch"]
    assert stopped is not None and best is not None and best < stopped
    assert stopped < spec["training"]["epochs"] and job["progress"]["epoch"] == stopped
    assert [r["epoch"] for r in losses] == list(range(1, stopped + 1))
    assert all(r["val_loss"] is not None and r["val_accuracy"] is not None for r in losses)
    assert all(r["val_rmse"] is None and r["rmse"] is None for r in losses)
    # Early stopping: the best epoch has the least val_loss, and patience epochs followed it.
    val = [r["val_loss"] for r in losses]
    assert val[best - 1] == min(val)
    assert stopped - best == spec["training"]["early_stopping"]["patience"]

    # The stored weights are the best epoch's and take raw inputs: /predict on the validation
    # rows scores exactly the val_accuracy that epoch recorded (its classes by their names).
    fraction, seed = spec["data"]["validation"]["fraction"], spec["training"]["seed"]
    reference, val_rows = reference_accuracy(inputs, labels, fraction, seed)
    raw = [inputs[i] for i in val_rows]
    answer = client.post(f"/api/v1/jobs/{job['id']}/predict", json={"inputs": raw}).get_json()
    predicted = zip(val_rows, answer["classes"], strict=True)
    right = sum(1 for i, name in predicted if name == names[labels[i]])
    assert right / len(val_rows) == losses[best - 1]["val_accuracy"]
    # The confusion matrix counts the validation split, and agrees.
    matrix = client.get(f"/api/v1/jobs/{job['id']}/confusion").get_json()
    counts = matrix["counts"]
    assert matrix["split"] == "validation" and sum(map(sum, counts)) == len(val_rows)
    assert sum(counts[i][i] for i in range(len(counts))) == right
    weights = client.get(f"/api/v1/jobs/{job['id']}/weights").get_json()
    assert len(weights["normalize"]["mean"]) == len(inputs[0])
    job["reference_accuracy"] = reference
    job["val_accuracy"] = losses[best - 1]["val_accuracy"]
    return job


def test_breast_cancer_with_validation_normalization_and_early_stopping(client: Any) -> None:
    text, inputs, labels = dataset_csv(sklearn_datasets.load_breast_cancer())
    dataset = upload(client, text, "breast-cancer")
    assert (dataset["rows"], dataset["features"]) == (569, 30)
    assert dataset["classes"] == ["benign", "malignant"]
    # The dataset's labels index its sorted class names: benign 0, malignant 1. scikit-learn
    # calls malignant 0: the reference uses the dataset's labels.
    labels = [1 - label for label in labels]
    spec = {
        "name": "breast cancer",
        "model": {"layers": [8, 1], "output_activation": "sigmoid"},
        "data": {
            "dataset": dataset["id"],
            "validation": {"fraction": 0.2},
            "normalize": "standard",
        },
        "training": {
            "loss": "binary_cross_entropy",
            "optimizer": "adam",
            "learning_rate": 0.01,
            "epochs": 1000,
            "seed": 3,
            "early_stopping": {"patience": 20},
        },
    }
    job = train_and_check(client, spec, inputs, labels, dataset["classes"])
    # 114 validation samples: 0.05 is about six of them.
    assert job["val_accuracy"] >= job["reference_accuracy"] - 0.05, job
    assert job["val_accuracy"] >= 0.9


def test_iris_with_a_stratified_30_percent_split_and_cross_entropy(client: Any) -> None:
    text, inputs, labels = dataset_csv(sklearn_datasets.load_iris())
    dataset = upload(client, text, "iris")
    assert dataset["classes"] == ["setosa", "versicolor", "virginica"]  # sklearn's order too
    spec = {
        "model": {"layers": [8, 3], "output_activation": "linear"},
        "data": {
            "dataset": dataset["id"],
            "validation": {"fraction": 0.3},
            "normalize": "standard",
        },
        "training": {
            "loss": "cross_entropy",
            "optimizer": "adam",
            "learning_rate": 0.02,
            "epochs": 2000,
            "seed": 1,
            "early_stopping": {"patience": 30},
        },
    }
    _, val_rows = reference_accuracy(inputs, labels, 0.3, 1)
    assert sorted(labels[i] for i in val_rows) == [0] * 15 + [1] * 15 + [2] * 15  # stratified
    job = train_and_check(client, spec, inputs, labels, dataset["classes"])
    # 45 validation samples: 0.1 is about four of them.
    assert job["val_accuracy"] >= job["reference_accuracy"] - 0.1, job
    assert job["val_accuracy"] >= 0.85


def test_losses_sampling_and_live_events_carry_the_validation_measures(client: Any) -> None:
    spec = {
        "model": {"inputs": 1, "layers": [4, 1], "output_activation": "linear"},
        "data": {
            "inputs": [[x / 20] for x in range(40)],
            "targets": [(x / 20) ** 2 for x in range(40)],
            "validation": {"fraction": 0.25},
        },
        "training": {"loss": "mean_squared", "epochs": 30, "seed": 5},
    }
    job_id = client.post("/api/v1/jobs", json=spec).get_json()["id"]
    job = wait_for_status(client, job_id, {"succeeded", "failed"}, 300)
    assert job["status"] == "succeeded" and (job["stopped_epoch"], job["best_epoch"]) == (
        None,
        None,
    )
    rows = all_losses(client, job_id)
    assert len(rows) == 30
    assert all(r["val_rmse"] is not None and r["val_accuracy"] is None for r in rows)
    sampled = client.get(f"/api/v1/jobs/{job_id}/losses?every=7").get_json()["items"]
    assert [r["epoch"] for r in sampled] == [1, 8, 15, 22, 29, 30]
    assert sampled == [rows[e - 1] for e in (1, 8, 15, 22, 29, 30)]
    events = client.get(f"/api/v1/jobs/{job_id}/events").get_data(as_text=True)
    epochs = [
        json.loads(line[len("data: ") :])
        for block in events.split("\n\n")
        if "event: epoch" in block
        for line in block.splitlines()
        if line.startswith("data: ")
    ]
    newest = epochs[-1]
    assert newest["epoch"] == 30 and newest["rmse"] == rows[-1]["rmse"]
    assert newest["val_loss"] == rows[-1]["val_loss"] and newest["val_rmse"] == rows[-1]["val_rmse"]
    names = ("epoch", "loss", "accuracy", "rmse", "val_loss", "val_accuracy", "val_rmse")
    assert newest["points"][-1] == [rows[-1][name] for name in names]


def problem_field(client: Any, spec: dict[str, Any]) -> tuple[str, str]:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    [error] = response.get_json()["errors"]
    return error["field"], error["message"]


def test_submission_checks_of_datasets_name_their_field(client: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    numeric = upload(client, f"a,b{tag},y\n1,2,0\n2,3,1\n3,4,0\n", "numeric")
    classes = upload(client, f"a,b{tag},y\n1,2,cat\n2,3,dog\n3,4,cat\n", "classes")
    others = upload(client, f"a,b{tag},y\n1,2,cat\n2,3,emu\n", "other classes")
    narrow = upload(client, f"a{tag},y\n1,cat\n2,dog\n", "narrow")
    binary = {"layers": [2, 1], "output_activation": "sigmoid"}
    bce = {"loss": "binary_cross_entropy", "epochs": 2}

    field, message = problem_field(
        client, {"model": binary, "data": {"dataset": numeric["id"]}, "training": bce}
    )
    assert field == "data.dataset" and "numeric" in message
    for validation, why in [
        (narrow["id"], "1 features"),
        (others["id"], "classes"),
        (numeric["id"], "numeric"),
        (str(uuid.uuid4()), "no dataset"),
    ]:
        data = {"dataset": classes["id"], "validation": {"dataset": validation}}
        field, message = problem_field(client, {"model": binary, "data": data, "training": bce})
        assert field == "data.validation.dataset" and why in message, message
    # A fitting validation dataset trains, and records its measures.
    same = upload(client, f"a,b{tag},y\n2,2,cat\n3,3,dog\n", "same classes")
    data = {"dataset": classes["id"], "validation": {"dataset": same["id"]}}
    response = client.post("/api/v1/jobs", json={"model": binary, "data": data, "training": bce})
    assert response.status_code == 202, response.get_json()
    job = wait_for_status(client, response.get_json()["id"], {"succeeded", "failed"}, 300)
    assert job["status"] == "succeeded", job["error"]
    assert all(r["val_accuracy"] is not None for r in all_losses(client, job["id"]))
    # A job that has ended holds no dataset: both go (its results stay).
    assert client.delete(f"/api/v1/datasets/{same['id']}").status_code == 204


def test_a_dataset_over_max_samples_is_a_422(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from store.settings import get_settings

    tag = uuid.uuid4().hex[:8]
    rows = "\n".join(f"{i},{i % 3}" for i in range(12))
    dataset = upload(client, f"x{tag},y\n{rows}\n", "twelve rows")
    monkeypatch.setattr(get_settings(), "max_samples", 11)
    spec = {"model": {"layers": [1]}, "data": {"dataset": dataset["id"]}, "training": {}}
    field, message = problem_field(client, spec)
    assert field == "data.dataset" and "MAX_SAMPLES" in message and "12 rows" in message


def test_the_job_page_of_a_job_validating_on_a_dataset(
    app: Any, client: Any, api_token: str
) -> None:
    browser = app.test_client()
    browser.set_cookie(COOKIE, api_token)
    tag = uuid.uuid4().hex[:8]
    held = upload(client, f"a,b{tag},y\n0.5,0.5,neg\n-0.5,0.5,pos\n", "xor check")
    spec = {
        "model": {"layers": [4, 1], "output_activation": "sigmoid"},
        "data": {"generator": "xor", "samples": 40, "validation": {"dataset": held["id"]}},
        "training": {"loss": "binary_cross_entropy", "epochs": 5},
    }
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job = wait_for_status(client, response.get_json()["id"], {"succeeded", "failed"}, 300)
    assert job["status"] == "succeeded", job["error"]
    page = browser.get(f"/jobs/{job['id']}")
    assert page.status_code == 200 and 'id="boundary"' in page.get_data(as_text=True)


def test_a_dataset_an_active_job_validates_on_cannot_be_deleted(client: Any, queue: str) -> None:
    tag = uuid.uuid4().hex[:8]
    trained_on = upload(client, f"a,b{tag},y\n1,2,cat\n2,3,dog\n3,4,cat\n", "train")
    held = upload(client, f"a,b{tag},y\n2,2,cat\n3,3,dog\n", "held")
    spec = {
        "model": {"layers": [2, 1], "output_activation": "sigmoid"},
        "data": {"dataset": trained_on["id"], "validation": {"dataset": held["id"]}},
        "training": {"loss": "binary_cross_entropy", "epochs": 2},
    }
    job_id = client.post("/api/v1/jobs", json=spec).get_json()["id"]  # no worker reads `queue`
    refused = client.delete(f"/api/v1/datasets/{held['id']}")
    assert refused.status_code == 409 and job_id in refused.get_json()["detail"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 202
    assert client.delete(f"/api/v1/datasets/{held['id']}").status_code == 204
