"""A succeeded job's model to take away: model.py (predict() is /predict's, bit for bit) and
model.onnx (onnxruntime agrees with /predict to 1e-12 in float64, 1e-5 in float32)."""

import ast
import importlib.util
import json
import random
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest

from engine.activations import ACTIVATIONS
from tests.service.conftest import wait_for_status

pytestmark = pytest.mark.usefixtures("worker")

TRAINED: dict[str, str] = {}  # activation -> job id, so the ONNX tests reuse model.py's jobs
ROWS = [[random.Random(i).uniform(-4.0, 4.0) for _ in range(2)] for i in range(50)]


def two_output_job(activation: str) -> dict[str, Any]:
    """A small regression with two outputs, every layer on ``activation``."""
    rng = random.Random(activation)
    inputs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(12)]
    return {
        "name": f"export-{activation}",
        "model": {"layers": [5, 3, 2], "activation": activation, "output_activation": activation},
        "data": {"inputs": inputs, "targets": [[a * b, a - b] for a, b in inputs]},
        "training": {"epochs": 20, "learning_rate": 0.01, "seed": 4},
    }


def trained(client: Any, spec: dict[str, Any]) -> str:
    if spec.get("name") in TRAINED:
        return TRAINED[spec["name"]]
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job_id: str = response.get_json()["id"]
    assert wait_for_status(client, job_id, {"succeeded", "failed"})["status"] == "succeeded"
    if spec.get("name"):
        TRAINED[spec["name"]] = job_id
    return job_id


def downloaded(client: Any, job_id: str, tmp_path: Path) -> tuple[ModuleType, str]:
    response = client.get(f"/api/v1/jobs/{job_id}/model.py")
    assert response.status_code == 200
    assert response.mimetype == "text/x-python"
    assert response.headers["Content-Disposition"] == f'attachment; filename="model_{job_id}.py"'
    source = response.get_data(as_text=True)
    path = tmp_path / f"model_{job_id.replace('-', '_')}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, source


def served(client: Any, job_id: str, rows: list[list[float]]) -> Any:
    response = client.post(f"/api/v1/jobs/{job_id}/predict", json={"inputs": rows})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["outputs"]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_the_file_predicts_exactly_as_the_service(
    client: Any, tmp_path: Path, activation: str
) -> None:
    job_id = trained(client, two_output_job(activation))
    module, source = downloaded(client, job_id, tmp_path)
    outputs = module.predict(ROWS)
    assert outputs == served(client, job_id, ROWS)  # bit for bit
    assert len(outputs) == len(ROWS) and all(len(row) == 2 for row in outputs)
    assert job_id in source and f"def {activation}(z):" in source
    assert [f"def layer_{i}(x):" in source for i in (1, 2, 3, 4)] == [True] * 3 + [False]


def test_a_single_output_model_gives_a_number_per_row(client: Any, tmp_path: Path) -> None:
    spec = {"model": {"activation": "relu", "output_activation": "sigmoid"}}
    job_id = trained(client, {**spec, "training": {"epochs": 10, "loss": "binary_cross_entropy"}})
    module, _ = downloaded(client, job_id, tmp_path)
    rows = [[random.Random(i).uniform(-3, 3) for _ in range(3)] for i in range(40)]
    outputs = module.predict(rows)
    assert all(isinstance(y, float) for y in outputs)
    assert outputs == served(client, job_id, rows)
    with pytest.raises(ValueError, match="3 numbers"):
        module.predict([[1.0, 2.0]])


def test_the_file_needs_only_the_standard_library(client: Any, tmp_path: Path) -> None:
    job_id = trained(client, {"training": {"epochs": 2}})
    _, source = downloaded(client, job_id, tmp_path)
    imports = {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imports <= set(sys.stdlib_module_names) and imports == {"math"}
    assert (
        '"""' in source.split("\n", 1)[0] and "# Spec:" in source and "# Layers: 3 inputs" in source
    )


def test_before_success_it_is_a_409(client: Any, queue: str) -> None:
    response = client.post("/api/v1/jobs", json={"training": {"epochs": 2}})
    job_id = response.get_json()["id"]  # on a queue no worker reads: it stays queued
    refused = client.get(f"/api/v1/jobs/{job_id}/model.py")
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/job-not-finished"


def test_unknown_and_other_owners_jobs_are_404(
    app: Any, client: Any, make_token: Callable[..., str]
) -> None:
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}/model.py").status_code == 404
    job_id = trained(client, {"training": {"epochs": 1}})
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(f'o-{uuid.uuid4().hex[:8]}')}"
    assert other.get(f"/api/v1/jobs/{job_id}/model.py").status_code == 404


@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_onnx_runs_as_the_service_predicts(
    client: Any, activation: str, dtype: str, tolerance: float
) -> None:
    spec = two_output_job(activation)
    job_id = trained(client, spec)
    query = "" if dtype == "float64" else f"?dtype={dtype}"
    response = client.get(f"/api/v1/jobs/{job_id}/model.onnx{query}")
    assert response.status_code == 200 and response.mimetype == "application/onnx"
    assert response.headers["Content-Disposition"] == f'attachment; filename="model_{job_id}.onnx"'
    model = onnx.load_from_string(response.get_data())
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["gradyard.job_id"] == job_id
    assert json.loads(props["gradyard.spec"]) == client.get(f"/api/v1/jobs/{job_id}").json["spec"]
    rows = np.random.default_rng(len(activation)).uniform(-4.0, 4.0, (200, 2))
    session = onnxruntime.InferenceSession(response.get_data())
    [outputs] = session.run(None, {"input": rows.astype(dtype)})
    assert outputs.dtype == np.dtype(dtype) and outputs.shape == (200, 2)
    expected = np.array(served(client, job_id, rows.tolist()))
    assert np.max(np.abs(outputs - expected)) <= tolerance


def test_onnx_of_a_single_output_model(client: Any) -> None:
    spec = {"name": "export-single", "training": {"epochs": 5}}
    job_id = trained(client, spec)
    content = client.get(f"/api/v1/jobs/{job_id}/model.onnx").get_data()
    rows = np.random.default_rng(1).uniform(-3.0, 3.0, (30, 3))
    [outputs] = onnxruntime.InferenceSession(content).run(None, {"input": rows})
    expected = np.array(served(client, job_id, rows.tolist()))
    assert outputs.shape == (30, 1) and np.max(np.abs(outputs[:, 0] - expected)) <= 1e-12


def test_onnx_refuses_a_bad_dtype_and_an_unfinished_job(client: Any, queue: str) -> None:
    job_id = client.post("/api/v1/jobs", json={"training": {"epochs": 2}}).get_json()["id"]
    refused = client.get(f"/api/v1/jobs/{job_id}/model.onnx")
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    bad = client.get(f"/api/v1/jobs/{job_id}/model.onnx?dtype=float16")
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "dtype"
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}/model.onnx").status_code == 404


def test_a_standardized_model_exports_taking_raw_inputs(client: Any, tmp_path: Path) -> None:
    # Features on very different scales, standardized by the training split: both exports
    # apply the statistics themselves, so they take the raw rows /predict takes.
    rng = random.Random(11)
    inputs = [[rng.uniform(-1, 1) * 1000.0, rng.uniform(-1, 1) * 0.001] for _ in range(30)]
    spec = {
        "name": "export-standardized",
        "model": {"layers": [4, 1], "output_activation": "sigmoid"},
        "data": {
            "inputs": inputs,
            "targets": [float(a > 0) for a, _ in inputs],
            "validation": {"fraction": 0.2},
            "normalize": "standard",
        },
        "training": {"epochs": 20, "loss": "binary_cross_entropy", "learning_rate": 0.1},
    }
    job_id = trained(client, spec)
    stats = client.get(f"/api/v1/jobs/{job_id}/weights").get_json()["normalize"]
    assert stats["mean"][0] != 0.0 and 100.0 < stats["std"][0] < 1000.0
    rows = [[rng.uniform(-1, 1) * 1000.0, rng.uniform(-1, 1) * 0.001] for _ in range(25)]
    expected = served(client, job_id, rows)
    module, source = downloaded(client, job_id, tmp_path)
    assert module.predict(rows) == expected and "def normalize(x):" in source  # bit for bit
    content = client.get(f"/api/v1/jobs/{job_id}/model.onnx").get_data()
    [outputs] = onnxruntime.InferenceSession(content).run(None, {"input": np.array(rows)})
    assert np.max(np.abs(outputs[:, 0] - np.array(expected))) <= 1e-12


CLASSIFIER_JOBS = {
    "cross_entropy": ({"layers": [6, 3], "output_activation": "linear"}, "blobs", 3),
    "binary_cross_entropy": ({"layers": [6, 1], "output_activation": "sigmoid"}, "moons", 2),
    "hinge": ({"layers": [6, 1], "output_activation": "linear"}, "moons", 2),
}


@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("loss", sorted(CLASSIFIER_JOBS))
def test_onnx_of_a_classifier_gives_predicts_outputs_and_probabilities(
    client: Any, loss: str, dtype: str, tolerance: float
) -> None:
    model, generator, classes = CLASSIFIER_JOBS[loss]
    spec = {
        "name": f"export-{loss}",
        "model": {**model, "activation": "tanh"},
        "data": {"generator": generator, "samples": 30, "classes": classes, "noise": 0.3},
        "training": {"epochs": 20, "loss": loss, "optimizer": "adam", "learning_rate": 0.05},
    }
    job_id = trained(client, spec)
    content = client.get(f"/api/v1/jobs/{job_id}/model.onnx?dtype={dtype}").get_data()
    onnx.checker.check_model(onnx.load_from_string(content), full_check=True)
    session = onnxruntime.InferenceSession(content)
    names = [output.name for output in session.get_outputs()]
    rows = np.random.default_rng(7).uniform(-2.0, 2.0, (100, 2))
    answer = client.post(f"/api/v1/jobs/{job_id}/predict", json={"inputs": rows.tolist()})
    expected = answer.get_json()
    results = dict(zip(names, session.run(None, {"input": rows.astype(dtype)}), strict=True))
    outputs = results["output"].reshape(len(rows), -1)
    assert np.max(np.abs(outputs - np.array(expected["outputs"]).reshape(len(rows), -1))) <= (
        tolerance
    )
    if loss == "cross_entropy":
        # The logits stay "output"; the softmax rows are a second output, as /predict's.
        assert names == ["output", "probabilities"]
        probabilities = results["probabilities"]
        assert probabilities.shape == (100, 3) and probabilities.dtype == np.dtype(dtype)
        assert np.max(np.abs(probabilities - np.array(expected["probabilities"]))) <= tolerance
        assert list(probabilities.argmax(axis=1)) == expected["classes"]
    else:
        assert names == ["output"]
