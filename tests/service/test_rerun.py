"""POST /api/v1/jobs/{id}/rerun: the stored spec again, with overrides, through submit's checks."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from store.settings import get_settings

pytestmark = pytest.mark.usefixtures("services", "queue")

SPEC = {"training": {"epochs": 3, "seed": 5}}


def submit(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json={**SPEC, **body})
    assert response.status_code == 202, response.get_json()
    document: dict[str, Any] = response.get_json()
    return document


def rerun(client: Any, job_id: str, body: Any = None, **kwargs: Any) -> Any:
    if body is None:
        return client.post(f"/api/v1/jobs/{job_id}/rerun", **kwargs)
    return client.post(f"/api/v1/jobs/{job_id}/rerun", json=body, **kwargs)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    document: dict[str, Any] = response.get_json()
    return document


def test_a_rerun_without_a_body_repeats_the_job(client: Any) -> None:
    original = submit(client, name="first", labels={"team": "vision"})
    response = rerun(client, original["id"])
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["id"] != original["id"] and job["status"] == "queued"
    assert job["spec"] == original["spec"]
    assert (job["name"], job["labels"]) == ("first", {"team": "vision"})
    assert client.get(job["links"]["self"]).get_json()["spec"] == original["spec"]


def test_overrides_change_only_their_fields(client: Any) -> None:
    original = submit(client, name="base")
    overrides = {"training.learning_rate": 0.1, "model.layers": [8, 1], "training.epochs": 4}
    response = rerun(client, original["id"], {"overrides": overrides})
    assert response.status_code == 202, response.get_json()
    spec = response.get_json()["spec"]
    expected = original["spec"]
    expected["training"] |= {"learning_rate": 0.1, "epochs": 4}
    expected["model"]["layers"] = [8, 1]
    assert spec == expected
    assert response.get_json()["progress"] == {"epoch": 0, "epochs": 4}


def test_a_list_item_and_a_whole_section_can_be_overridden(client: Any) -> None:
    original = submit(client)
    overrides = {"model.layers.0": 6, "data": {"generator": "moons", "samples": 10}}
    overrides["model.inputs"] = 2
    response = rerun(client, original["id"], {"overrides": overrides})
    assert response.status_code == 202, response.get_json()
    spec = response.get_json()["spec"]
    assert spec["model"]["layers"] == [6, 4, 1] and spec["model"]["inputs"] == 2
    assert spec["data"] == {"generator": "moons", "samples": 10, "noise": 0.1}


def test_name_and_labels_can_be_replaced_or_cleared(client: Any) -> None:
    original = submit(client, name="old", labels={"a": "1"})
    renamed = rerun(client, original["id"], {"name": "new", "labels": {"b": "2"}}).get_json()
    assert (renamed["name"], renamed["labels"]) == ("new", {"b": "2"})
    cleared = rerun(client, original["id"], {"name": None, "labels": {}}).get_json()
    assert (cleared["name"], cleared["labels"]) == (None, {})


@pytest.mark.parametrize(
    "path",
    [
        "training.learning_rte",
        "name",
        "model.layers.3",
        "model.layers.-1",
        "training.learning_rate.x",
        "model..layers",
        "data.samples",  # the notebook's generator has no samples
    ],
)
def test_a_path_the_spec_lacks_is_a_422_naming_it(client: Any, path: str) -> None:
    original = submit(client)
    body = problem(rerun(client, original["id"], {"overrides": {path: 1}}), 422)
    assert body["errors"][0]["field"] == f"overrides.{path}"
    assert repr(path) in body["detail"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"training.learning_rate": "fast"}, "training.learning_rate"),
        ({"training.epochs": 0}, "training.epochs"),
        ({"model.activation": "swish"}, "model.activation"),
        ({"model.layers": [4, 2]}, "model.layers"),  # checked(): targets have one output
        ({"training.epochs": 10**9}, "training.epochs"),  # over MAX_EPOCHS
    ],
)
def test_the_new_spec_is_validated_as_a_submission(
    client: Any, overrides: dict[str, Any], field: str
) -> None:
    original = submit(client)
    body = problem(rerun(client, original["id"], {"overrides": overrides}), 422)
    assert any(e["field"].startswith(field) for e in body["errors"]), body


@pytest.mark.parametrize(
    "body",
    [
        {"overrides": {"": 1}},
        {"overrides": [1]},
        {"override": {}},
        {"name": 3},
        {"labels": {"k": ""}},
    ],
)
def test_a_bad_body_is_a_422(client: Any, body: Any) -> None:
    original = submit(client)
    problem(rerun(client, original["id"], body), 422)


def test_a_body_must_be_json(client: Any) -> None:
    original = submit(client)
    url = f"/api/v1/jobs/{original['id']}/rerun"
    problem(client.post(url, data="{", content_type="application/json"), 400)
    problem(client.post(url, data="x=1", content_type="text/plain"), 415)


def test_unknown_and_other_owners_jobs_are_404(
    app: Any, client: Any, make_token: Callable[..., str]
) -> None:
    problem(rerun(client, "no-such-job"), 404)
    original = submit(client)
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = (
        f"Bearer {make_token(f'other-{uuid.uuid4().hex[:8]}')}"
    )
    problem(rerun(other, original["id"]), 404)
    problem(rerun(other, original["id"], {"overrides": {"training.epochs": 2}}), 404)


def test_an_idempotency_key_replays_the_rerun(client: Any) -> None:
    original = submit(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"overrides": {"training.seed": 9}}
    first = rerun(client, original["id"], body, headers=key)
    assert first.status_code == 202
    again = rerun(client, original["id"], body, headers=key)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    other = rerun(client, original["id"], {"overrides": {"training.seed": 10}}, headers=key)
    assert problem(other, 422)["type"] == "/problems/idempotency-key-reused"


def test_the_owners_quota_applies(
    app: Any, make_token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = app.test_client()
    owner.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(f'q-{uuid.uuid4().hex[:8]}')}"
    monkeypatch.setattr(get_settings(), "max_active_jobs", 1)
    original = submit(owner)  # queued, never run: the test's queue has no worker
    assert problem(rerun(owner, original["id"]), 429)["type"] == "/problems/too-many-active-jobs"


@pytest.mark.parametrize("body", [{"name": "a\u0000"}, {"labels": {"k": "v\u0000"}}])
def test_a_nul_in_a_submitted_name_or_label_is_a_422(client: Any, body: dict[str, Any]) -> None:
    problem(client.post("/api/v1/jobs", json={**SPEC, **body}), 422)
    problem(client.get("/api/v1/jobs?name=a%00"), 422)
    problem(client.get("/api/v1/jobs?label=k:v%00"), 422)
