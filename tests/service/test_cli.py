"""The ``gradyard`` client commands against the API over real HTTP, with a real worker."""

import csv
import importlib.util
import io
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from click.testing import CliRunner, Result

from client.cli import main
from client.client import Client
from tests.service.live_server import live_server

__all__ = ["live_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.usefixtures("worker")

DIVERGES = {  # a learning rate this large overflows the loss within a few epochs
    "model": {"inputs": 2, "layers": [8, 1], "activation": "relu", "output_activation": "linear"},
    "data": {"generator": "moons", "samples": 20},
    "training": {"epochs": 50, "learning_rate": 1e6},
}
LONG_JOB = {
    "model": {"inputs": 2, "layers": [16, 16, 1], "activation": "relu"},
    "data": {"generator": "moons", "samples": 100},
    "training": {"epochs": 100_000, "loss": "hinge"},
}


@pytest.fixture
def gradyard(live_server: str, api_token: str, tmp_path: Path) -> Any:
    """Run ``gradyard ARGS...`` with the server and token in the environment, as a user would."""

    def run(*args: str) -> Result:
        env = {"GRADYARD_URL": live_server, "GRADYARD_TOKEN": api_token}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def write(folder: Path, name: str, document: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(document))
    return str(path)


def test_submit_wait_then_read_the_job_back(gradyard: Any, tmp_path: Path) -> None:
    spec = write(tmp_path, "spec.json", {"name": "cli", "training": {"epochs": 300}})
    result = gradyard("submit", spec, "--wait")
    assert result.exit_code == 0, result.output
    job_id, *_, last = result.stdout.strip().splitlines()
    assert last.split()[:3] == [job_id, "succeeded", "300/300"]

    status = gradyard("status", job_id)
    assert status.exit_code == 0 and status.stdout.split()[:3] == [job_id, "succeeded", "300/300"]
    document = json.loads(gradyard("status", job_id, "--json").stdout)
    assert document["id"] == job_id and document["name"] == "cli"
    assert job_id in gradyard("list", "--status", "succeeded", "--limit", "1000").stdout

    lines = gradyard("losses", job_id).stdout.splitlines()
    assert len(lines) == 300 and lines[0].split("\t")[0] == "1"
    rows = list(csv.DictReader(io.StringIO(gradyard("losses", job_id, "--csv").stdout)))
    assert len(rows) == 300 and rows[-1]["epoch"] == "300"
    assert float(rows[-1]["loss"]) == document["latest_loss"]

    weights_file = tmp_path / "weights.json"
    assert gradyard("weights", job_id, "-o", str(weights_file)).exit_code == 0
    weights = json.loads(weights_file.read_text())
    assert weights["format"] == "gradyard.mlp/1"
    inputs = write(tmp_path, "inputs.json", [[2.0, 3.0, -1.0]])
    outputs = json.loads(gradyard("predict", job_id, inputs).stdout)["outputs"]
    from engine import predict

    assert outputs == predict(weights, [[2.0, 3.0, -1.0]])
    wrapped = write(tmp_path, "wrapped.json", {"inputs": [[2.0, 3.0, -1.0]]})
    assert json.loads(gradyard("predict", job_id, wrapped).stdout)["outputs"] == outputs


def test_losses_print_the_validation_columns(gradyard: Any, tmp_path: Path) -> None:
    job = {
        "data": {"generator": "moons", "samples": 40, "validation": {"fraction": 0.25}},
        "model": {"inputs": 2, "layers": [4, 1], "output_activation": "sigmoid"},
        "training": {"epochs": 20, "loss": "binary_cross_entropy"},
    }
    result = gradyard("submit", write(tmp_path, "spec.json", job), "--wait")
    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip().splitlines()[0]
    text = gradyard("losses", job_id, "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "epoch,loss,accuracy,rmse,val_loss,val_accuracy,val_rmse"
    assert len(rows) == 20 and all(r["val_loss"] and r["val_accuracy"] for r in rows)
    assert all(r["rmse"] == r["val_rmse"] == "" for r in rows)
    first = gradyard("losses", job_id).stdout.splitlines()[0].split("\t")
    assert first[0] == "1" and first[3] == "" and first[4] == rows[0]["val_loss"]


def test_predict_prints_a_classifiers_labels(gradyard: Any, tmp_path: Path) -> None:
    spec = {
        "model": {"layers": [6, 3], "output_activation": "linear"},
        "data": {"generator": "blobs", "samples": 30, "classes": 3},
        "training": {"epochs": 40, "loss": "cross_entropy", "optimizer": "adam"},
    }
    result = gradyard("submit", write(tmp_path, "blobs.json", spec), "--wait")
    assert result.exit_code == 0, result.output
    job_id = result.stdout.split()[0]
    # The blobs' centres, on the unit circle at 0, 120 and 240 degrees.
    inputs = write(tmp_path, "inputs.json", [[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]])
    answer = json.loads(gradyard("predict", job_id, inputs).stdout)
    assert answer["classes"] == [0, 1, 2]
    assert all(sum(row) == pytest.approx(1.0) for row in answer["probabilities"])


def test_predict_prints_the_class_names_of_a_named_dataset(gradyard: Any, tmp_path: Path) -> None:
    from tests.service.test_dashboard_datasets import CENTRES, flowers_csv

    csv_file = tmp_path / "flowers.csv"
    csv_file.write_text(flowers_csv())
    dataset_id = gradyard("datasets", "upload", str(csv_file)).stdout.strip()
    spec = {
        "model": {"layers": [6, 3], "output_activation": "linear"},
        "data": {"dataset": dataset_id},
        "training": {"epochs": 60, "loss": "cross_entropy", "optimizer": "adam"},
    }
    result = gradyard("submit", write(tmp_path, "flowers.json", spec), "--wait")
    assert result.exit_code == 0, result.output
    inputs = write(tmp_path, "inputs.json", [list(c) for c in CENTRES.values()])
    answer = json.loads(gradyard("predict", result.stdout.split()[0], inputs).stdout)
    assert answer["classes"] == list(CENTRES)


def test_a_job_that_does_not_succeed_exits_1_with_its_reason(
    gradyard: Any, tmp_path: Path, live_server: str, api_token: str
) -> None:
    result = gradyard("submit", "--wait", write(tmp_path, "diverges.json", DIVERGES))
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("failed: epoch 4: sum_squared: overflowed to inf")
    )

    job_id = gradyard("submit", write(tmp_path, "long.json", LONG_JOB)).stdout.strip()
    with Client(live_server, api_token) as client:
        next(e for e in client.events(job_id) if e.event == "epoch")  # it is running
    assert gradyard("cancel", job_id).stdout.strip() in ("cancelling", "cancelled")
    watched = gradyard("watch", job_id)
    assert watched.exit_code == 1 and f"job {job_id} cancelled" in watched.stderr


def test_errors_are_one_line_and_an_exit_code(gradyard: Any, tmp_path: Path) -> None:
    missing = gradyard("status", "00000000-0000-0000-0000-000000000000")
    assert missing.exit_code == 3
    assert missing.stderr == "error: 404 Not Found: no job 00000000-0000-0000-0000-000000000000\n"
    invalid = gradyard("submit", write(tmp_path, "bad.json", {"training": {"epochs": 0}}))
    assert invalid.exit_code == 3 and "422 Invalid request: training.epochs" in invalid.stderr
    unreadable = gradyard("submit", str(tmp_path / "nothing.json"))
    assert unreadable.exit_code == 2 and unreadable.stderr.startswith("error: cannot read")
    anonymous = gradyard("list", "--token", "")
    assert anonymous.exit_code == 3 and "401 Unauthorized" in anonymous.stderr
    nowhere = gradyard("list", "--url", "http://127.0.0.1:9")
    assert nowhere.exit_code == 4 and nowhere.stderr.startswith("error: cannot reach")


def test_connection_options_go_before_the_command_too(
    live_server: str, api_token: str, gradyard: Any
) -> None:
    args = ["--url", live_server, "--token", api_token, "list", "--limit", "1"]
    before = CliRunner().invoke(main, args, env={}, catch_exceptions=False)
    assert before.exit_code == 0, before.output
    header = before.stdout.splitlines()[0].split()
    assert header[:2] == ["ID", "STATUS"] and "(UTC)" in header
    # One given after the command wins over one given before it.
    after = CliRunner().invoke(
        main, ["--url", "http://127.0.0.1:9", "list", "--url", live_server, "--token", api_token]
    )
    assert after.exit_code == 0, after.output
    # Help shows where the default comes from, not a default that the environment overrides.
    helped = gradyard("list", "--help").stdout
    assert "$GRADYARD_URL" in helped and "[default: http" not in helped


def test_export_writes_the_model_as_python_or_onnx(gradyard: Any, tmp_path: Path) -> None:
    job_id = gradyard("submit", write(tmp_path, "spec.json", {"training": {"epochs": 3}})).stdout
    job_id = job_id.strip()
    assert gradyard("watch", job_id).exit_code == 0
    rows = [[2.0, 3.0, -1.0], [0.5, 1.0, 1.0]]
    expected = json.loads(gradyard("predict", job_id, write(tmp_path, "in.json", rows)).stdout)

    py_file = tmp_path / "exported_model.py"
    assert gradyard("export", job_id, "--format", "py", "-o", str(py_file)).exit_code == 0
    spec = importlib.util.spec_from_file_location("exported_model", py_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.predict(rows) == expected["outputs"]

    onnx_file = tmp_path / "model.onnx"
    args = ("export", job_id, "--format", "onnx", "--dtype", "float32", "-o", str(onnx_file))
    assert gradyard(*args).exit_code == 0
    model = onnx.load(str(onnx_file))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert np.asarray(expected["outputs"]).shape == (2,)

    wrong = gradyard("export", job_id, "--format", "py", "--dtype", "float32", "-o", str(py_file))
    assert wrong.exit_code == 2 and "--dtype" in wrong.stderr
    missing = gradyard(
        "export", "00000000-0000-0000-0000-000000000000", "--format", "py", "-o", str(py_file)
    )
    assert missing.exit_code == 3 and "404" in missing.stderr


def test_datasets_upload_list_show_delete(gradyard: Any, tmp_path: Path) -> None:
    path = tmp_path / "toy.csv"
    tag = uuid.uuid4().hex[:8]
    path.write_text(f"kind,x_{tag},y\na,1,2\nb,3,4\na,5,6\n")
    uploaded = gradyard("datasets", "upload", str(path), "--target", "kind", "--name", "toy")
    assert uploaded.exit_code == 0, uploaded.output
    dataset_id = uploaded.output.strip()
    listed = gradyard("datasets", "list")
    assert dataset_id in listed.output and "\t3\t2\t2\ttoy" in listed.output
    shown = json.loads(gradyard("datasets", "show", dataset_id).output)
    assert shown["classes"] == ["a", "b"] and shown["preview"][0]["target"] == "a"
    assert gradyard("datasets", "delete", dataset_id).exit_code == 0
    missing = gradyard("datasets", "show", dataset_id)
    assert missing.exit_code == 3 and "no dataset" in missing.output
