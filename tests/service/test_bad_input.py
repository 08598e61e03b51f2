"""Bad requests: each gets the right 4xx as a problem document, and none leaves a row behind."""

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from store.db import sessions
from store.models import Job
from tests.service.conftest import DATABASE_URL

pytestmark = pytest.mark.usefixtures("services")

GOOD = {"model": {"inputs": 2, "layers": [3, 1]}, "data": {"generator": "xor", "samples": 8}}


def with_changes(**parts: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(GOOD))
    for path, value in parts.items():
        *parents, leaf = path.split("__")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return spec


BAD_SPECS = [
    ("unknown top-level field", {**GOOD, "colour": "red"}, "colour"),
    ("unknown model field", with_changes(model__depth=3), "model.depth"),
    ("epochs as a string", with_changes(training__epochs="20"), "training.epochs"),
    ("epochs as a float", with_changes(training__epochs=2.5), "training.epochs"),
    ("zero epochs", with_changes(training__epochs=0), "training.epochs"),
    (
        "negative learning rate",
        with_changes(training__learning_rate=-0.1),
        "training.learning_rate",
    ),
    ("unknown loss", with_changes(training__loss="l1"), "training.loss"),
    ("unknown activation", with_changes(model__activation="gelu"), "model.activation"),
    ("empty layers", with_changes(model__layers=[]), "model.layers"),
    ("zero-width layer", with_changes(model__layers=[3, 0]), "model.layers.1"),
    (
        "unknown optimizer",
        with_changes(training__optimizer={"name": "rmsprop"}),
        "training.optimizer",
    ),
    (
        "adam beta out of range",
        with_changes(training__optimizer={"name": "adam", "beta1": 1.5}),
        "training.optimizer",
    ),
    ("unknown generator", with_changes(data={"generator": "mnist"}), "data"),
    (
        "inputs too narrow",
        with_changes(data={"inputs": [[1.0], [2.0]], "targets": [1.0, -1.0]}),
        "model.inputs",
    ),
    (
        "targets count differs",
        with_changes(data={"inputs": [[1.0, 2.0]], "targets": [1.0, 2.0]}),
        "data",
    ),
    (
        "hinge needs +-1 labels",
        with_changes(training__loss="hinge", data={"inputs": [[1.0, 2.0]], "targets": [0.5]}),
        "data",
    ),
    (
        "cross-entropy needs 0/1 labels",
        with_changes(
            training__loss="binary_cross_entropy",
            model__output_activation="sigmoid",
            data={"inputs": [[1.0, 2.0]], "targets": [-1.0]},
        ),
        "data",
    ),
    ("negative noise", with_changes(data={"generator": "moons", "noise": -1.0}), "data"),
    ("too many epochs", with_changes(training__epochs=10**9), "training.epochs"),
    (
        "too much work",
        with_changes(training__epochs=900_000, data={"generator": "moons", "samples": 10_000}),
        "training.epochs",
    ),
    ("too many parameters", with_changes(model__layers=[1000, 1000, 1]), "model.layers"),
    ("too many samples", with_changes(data={"generator": "moons", "samples": 10**6}), "data"),
    ("name too long", {**GOOD, "name": "x" * 201}, "name"),
    ("body is a list", [GOOD], "body"),
]


def job_count() -> int:
    with sessions(DATABASE_URL).begin() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


@pytest.mark.parametrize(("case", "spec", "field"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_spec_is_a_422_naming_the_field(client: Any, case: str, spec: Any, field: str) -> None:
    before = job_count()
    body = assert_problem(client.post("/api/v1/jobs", json=spec), 422)
    fields = [error["field"] for error in body["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), (case, body)
    assert job_count() == before


@pytest.mark.parametrize(
    ("case", "data", "content_type", "status"),
    [
        ("malformed JSON", b'{"model": ', "application/json", 400),
        ("not UTF-8", b"\xff\xfe", "application/json", 400),
        ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
        ("NaN", b'{"training": {"learning_rate": NaN}}', "application/json", 422),
        (
            "Infinity in data",
            b'{"data": {"inputs": [[Infinity, 1, 2]], "targets": [1]}}',
            "application/json",
            422,
        ),
        ("form instead of JSON", b"a=1", "application/x-www-form-urlencoded", 415),
        ("no content type", b"{}", "", 415),
    ],
)
def test_unreadable_bodies(
    client: Any, case: str, data: bytes, content_type: str, status: int
) -> None:
    before = job_count()
    headers = {"Content-Type": content_type} if content_type else {}
    assert_problem(client.post("/api/v1/jobs", data=data, headers=headers), status)
    assert job_count() == before


def test_body_over_the_limit_is_413(client: Any) -> None:
    huge = b'{"name": "' + b"x" * 3_000_000 + b'"}'
    assert_problem(client.post("/api/v1/jobs", data=huge, content_type="application/json"), 413)


def test_unknown_job_is_404_everywhere(client: Any) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for method, path in [
        ("get", ""),
        ("get", "/losses"),
        ("get", "/weights"),
        ("post", "/cancel"),
        ("post", "/predict"),
    ]:
        response = getattr(client, method)(f"/api/v1/jobs/{missing}{path}", json={"inputs": [[1]]})
        assert_problem(response, 404)


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "limit=100000", "status=done", "cursor=garbage", "colour=red"],
)
def test_bad_list_queries(client: Any, query: str) -> None:
    assert_problem(client.get(f"/api/v1/jobs?{query}"), 422)


def test_unknown_route_and_method(client: Any) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    body = assert_problem(client.delete("/api/v1/jobs"), 405)
    assert "not allowed" in body["detail"].lower()


def test_an_empty_job_id_is_a_404_problem_not_a_redirect(client: Any) -> None:
    for path in ("/api/v1/jobs//losses", "/api/v1/jobs//weights", "/api/v1/jobs/", "/jobs//x"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.mimetype == "application/problem+json", path
