"""Datasets: uploaded once (CSV or JSON), listed, read, paged, deleted, and trained on by a real
worker exactly as the engine trains on the same rows inline."""

import math
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from engine import train
from tests.service.conftest import wait_for_status
from tests.service.test_end_to_end import all_losses


def client_for(app: Any, token: str) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def regression_csv(rows: int, seed: int) -> tuple[str, list[list[float]], list[float]]:
    """A CSV of two features and a numeric target (its last column), and its rows."""
    rng = random.Random(seed)
    inputs = [[round(rng.uniform(-1, 1), 6), round(rng.uniform(-1, 1), 6)] for _ in range(rows)]
    targets = [round(math.tanh(a - b), 6) for a, b in inputs]
    lines = ["a,b,y", *(f"{a},{b},{y}" for (a, b), y in zip(inputs, targets, strict=True))]
    return "\n".join(lines) + "\n", inputs, targets


def upload(client: Any, text: str, query: str = "") -> Any:
    return client.post(f"/api/v1/datasets{query}", data=text, content_type="text/csv")


def test_csv_upload_is_stored_once(client: Any) -> None:
    text, inputs, _ = regression_csv(25, seed=uuid.uuid4().int)
    first = upload(client, text, "?name=toy")
    assert first.status_code == 201, first.get_json()
    doc = first.get_json()
    assert first.headers["Location"] == f"/api/v1/datasets/{doc['id']}"
    assert (doc["name"], doc["rows"], doc["features"]) == ("toy", 25, 2)
    assert (doc["feature_names"], doc["target_name"], doc["classes"]) == (["a", "b"], "y", None)
    assert doc["size_bytes"] == 25 * 3 * 8 and len(doc["sha256"]) == 64
    again = upload(client, text.replace(",", ", "), "?name=other")  # same content, other spacing
    assert again.status_code == 200 and again.get_json()["id"] == doc["id"]

    shown = client.get(f"/api/v1/datasets/{doc['id']}").get_json()
    assert shown["preview"][0] == {
        "row": 1,
        "inputs": inputs[0],
        "target": shown["preview"][0]["target"],
    }
    assert len(shown["preview"]) == 10
    a = shown["columns"][0]
    assert a["name"] == "a" and a["min"] == min(x[0] for x in inputs)
    assert a["mean"] == pytest.approx(sum(x[0] for x in inputs) / 25)

    rows, url = [], f"/api/v1/datasets/{doc['id']}/rows?limit=10"
    while url:
        page = client.get(url).get_json()
        rows += page["items"]
        url = page["next"]
    assert [r["row"] for r in rows] == list(range(1, 26))
    assert [r["inputs"] for r in rows] == inputs


def test_class_names_make_a_classification_dataset(client: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    text = f"label,x{tag}\ncat,1\ndog,2\ncat,3\nbird,4\n"
    doc = upload(client, text, "?target=label").get_json()
    assert doc["classes"] == ["bird", "cat", "dog"] and doc["feature_names"] == [f"x{tag}"]
    rows = client.get(f"/api/v1/datasets/{doc['id']}/rows").get_json()["items"]
    assert [r["target"] for r in rows] == ["cat", "dog", "cat", "bird"]


def test_json_upload(client: Any) -> None:
    body = {
        "name": "j",
        "inputs": [[1.0, 2.0], [3.0, 4.5]],
        "targets": [0.5, uuid.uuid4().int % 97],
    }
    response = client.post("/api/v1/datasets", json=body)
    assert response.status_code == 201, response.get_json()
    doc = response.get_json()
    assert doc["feature_names"] == ["x1", "x2"] and doc["rows"] == 2
    assert client.post("/api/v1/datasets", json=body).status_code == 200


@pytest.mark.parametrize(
    ("text", "query", "says"),
    [
        ("", "", "empty"),
        ("a,b,y\n", "", "no rows"),
        ("a,b,y\n1,2,3\n1,2\n", "", "line 3"),
        ("a,b,y\n1,x,3\n", "", "column 2 ('b')"),
        ("a,b,y\n1,nan,3\n", "", "finite"),
        ("a,b,y\n1,2,inf\n", "", "finite"),
        ("a,a,y\n1,2,3\n", "", "twice"),
        ("a,b,y\n1,2,3\n", "?target=z", "no target column"),
        ("y\n1\n", "", "at least one feature"),
        ("a,b,y\n1,2,3\n", "?bogus=1", "bogus"),
    ],
)
def test_bad_uploads_are_422_and_store_nothing(
    client: Any, text: str, query: str, says: str
) -> None:
    before = client.get("/api/v1/datasets?limit=1000").get_json()["items"]
    response = upload(client, text, query)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert says in response.get_json()["detail"]
    assert client.get("/api/v1/datasets?limit=1000").get_json()["items"] == before


def test_bad_json_and_bad_bytes(client: Any) -> None:
    ragged = {"inputs": [[1.0, 2.0], [3.0]], "targets": [1.0, 2.0]}
    response = client.post("/api/v1/datasets", json=ragged)
    assert response.status_code == 422 and "sample 2" in response.get_json()["detail"]
    response = client.post("/api/v1/datasets", data=b"a,y\n\xff,1\n", content_type="text/csv")
    assert response.status_code == 422 and "UTF-8" in response.get_json()["detail"]


def test_list_pages_newest_first(client: Any) -> None:
    ids = [
        upload(client, regression_csv(3, seed=uuid.uuid4().int)[0]).get_json()["id"]
        for _ in range(3)
    ]
    page = client.get("/api/v1/datasets?limit=2").get_json()
    assert [d["id"] for d in page["items"]] == ids[::-1][:2]
    nxt = client.get(page["next"]).get_json()
    assert nxt["items"][0]["id"] == ids[0]
    assert client.get("/api/v1/datasets?cursor=nope").status_code == 422


def test_datasets_belong_to_their_owner(app: Any, make_token: Callable[..., str]) -> None:
    tag = uuid.uuid4().hex[:6]
    alice = client_for(app, make_token(f"alice-{tag}"))
    bob = client_for(app, make_token(f"bob-{tag}"))
    admin = client_for(app, make_token(f"ops-{tag}", admin=True))
    doc = upload(alice, regression_csv(4, seed=1)[0]).get_json()
    for path in ("", "/rows"):
        assert bob.get(f"/api/v1/datasets/{doc['id']}{path}").status_code == 404
        assert admin.get(f"/api/v1/datasets/{doc['id']}{path}").status_code == 200
    assert bob.delete(f"/api/v1/datasets/{doc['id']}").status_code == 404
    assert bob.get("/api/v1/datasets").get_json()["items"] == []
    spec = {"data": {"dataset": doc["id"]}, "model": {"layers": [1]}}
    response = bob.post("/api/v1/jobs", json=spec)
    assert response.status_code == 422 and "data.dataset" in response.get_json()["detail"]
    # Bob's own copy of the same content is his own dataset.
    assert upload(bob, regression_csv(4, seed=1)[0]).status_code == 201
    assert alice.delete(f"/api/v1/datasets/{doc['id']}").status_code == 204
    assert alice.get(f"/api/v1/datasets/{doc['id']}").status_code == 404


def test_over_the_feature_limit_is_422(client: Any) -> None:
    wide = ",".join(f"c{j}" for j in range(1002)) + "\n" + ",".join("1" for _ in range(1002))
    response = upload(client, wide + "\n")
    assert response.status_code == 422 and "1001 features" in response.get_json()["detail"]


@pytest.mark.usefixtures("worker")
def test_training_on_a_dataset_matches_the_engine_inline(client: Any) -> None:
    text, inputs, targets = regression_csv(40, seed=uuid.uuid4().int)
    doc = upload(client, text).get_json()
    spec = {
        "model": {"layers": [4, 1]},
        "data": {"dataset": doc["id"]},
        "training": {"epochs": 30, "loss": "mean_squared", "seed": 5},
    }
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["spec"]["data"] == {"dataset": doc["id"]}
    assert job["spec"]["model"]["inputs"] == 2

    # An active job keeps its dataset.
    refused = client.delete(f"/api/v1/datasets/{doc['id']}")
    ended = wait_for_status(client, job["id"], {"succeeded", "failed"})
    if refused.status_code == 409:
        assert job["id"] in refused.get_json()["jobs"]
    assert ended["status"] == "succeeded", ended["error"]

    inline = {**spec, "data": {"inputs": inputs, "targets": targets}}
    expected = train(inline).losses
    assert [p["loss"] for p in all_losses(client, job["id"])] == expected


@pytest.mark.usefixtures("worker")
def test_classification_dataset_sets_the_label_check(client: Any) -> None:
    rng = random.Random(uuid.uuid4().int)
    lines = ["x,y,kind"]
    rows = []
    for _ in range(30):
        x, y = rng.uniform(-1, 1), rng.uniform(-1, 1)
        kind = "left" if x < -0.3 else "mid" if x < 0.3 else "right"
        rows.append(([round(x, 5), round(y, 5)], kind))
        lines.append(f"{round(x, 5)},{round(y, 5)},{kind}")
    doc = upload(client, "\n".join(lines)).get_json()
    assert doc["classes"] == ["left", "mid", "right"]
    base = {"data": {"dataset": doc["id"]}, "training": {"epochs": 5, "loss": "cross_entropy"}}
    wrong = client.post(
        "/api/v1/jobs", json={**base, "model": {"layers": [4, 2], "output_activation": "linear"}}
    )
    assert wrong.status_code == 422 and "3 classes" in wrong.get_json()["detail"]
    binary = {**base, "training": {"epochs": 5, "loss": "hinge"}}
    assert client.post("/api/v1/jobs", json=binary).status_code == 422
    spec = {**base, "model": {"layers": [4, 3], "output_activation": "linear"}}
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.get_json()
    ended = wait_for_status(client, response.get_json()["id"], {"succeeded", "failed"})
    assert ended["status"] == "succeeded", ended["error"]
    index = {"left": 0.0, "mid": 1.0, "right": 2.0}
    inline = {
        **spec,
        "data": {"inputs": [r[0] for r in rows], "targets": [index[r[1]] for r in rows]},
    }
    assert [p["loss"] for p in all_losses(client, ended["id"])] == train(inline).losses
    confusion = client.get(f"/api/v1/jobs/{ended['id']}/confusion").get_json()
    assert sum(map(sum, confusion["counts"])) == 30
