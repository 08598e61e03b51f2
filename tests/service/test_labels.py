"""Labels beside the spec, and list filters: ?label=K:V (all must match), ?name= (a prefix),
?created_after= and ?created_before=."""

import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.usefixtures("services", "queue")

SPEC = {"training": {"epochs": 1}}


def submit(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json={**SPEC, **body})
    assert response.status_code == 202, response.get_json()
    document: dict[str, Any] = response.get_json()
    return document


def listed(client: Any, query: str) -> list[str]:
    response = client.get(f"/api/v1/jobs?{query}")
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_labels_are_stored_and_returned(client: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    job = submit(client, labels={"team": "vision", "run": tag})
    assert job["labels"] == {"team": "vision", "run": tag}
    assert client.get(job["links"]["self"]).get_json()["labels"] == job["labels"]
    [summary] = client.get(f"/api/v1/jobs?label=run:{tag}").get_json()["items"]
    assert summary["labels"] == job["labels"] and "spec" not in summary
    assert submit(client)["labels"] == {}


@pytest.mark.parametrize(
    "labels",
    [
        {f"k{i}": "v" for i in range(17)},
        {"has space": "v"},
        {"k": "x" * 64},
        {"k": ""},
        {"k": "a:b"},
        {"k": 3},
        ["team", "vision"],
        {"x" * 64: "v"},
    ],
)
def test_bad_labels_are_a_422(client: Any, labels: Any) -> None:
    response = client.post("/api/v1/jobs", json={**SPEC, "labels": labels})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert all(e["field"].startswith("labels") for e in response.get_json()["errors"])


def test_filters_combine(client: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    a = submit(client, name=f"{tag}-a_1%", labels={"run": tag, "team": "vision", "try": "3"})
    b = submit(client, name=f"{tag}-b", labels={"run": tag, "team": "vision", "try": "4"})
    time.sleep(0.01)
    c = submit(client, name=f"other-{tag}", labels={"run": tag, "team": "audio"})
    everyone = listed(client, f"label=run:{tag}")
    assert everyone == [c["id"], b["id"], a["id"]]  # newest first
    assert listed(client, f"label=run:{tag}&label=team:vision") == [b["id"], a["id"]]
    assert listed(client, f"label=run:{tag}&label=team:vision&label=try:3") == [a["id"]]
    assert listed(client, f"label=run:{tag}&label=nope:1") == []
    assert listed(client, f"name={tag}") == [b["id"], a["id"]]
    # LIKE's wildcards are only themselves in a prefix.
    assert listed(client, f"name={quote(tag + '-a_1%')}") == [a["id"]]
    assert listed(client, f"name={quote(tag + '-_')}") == []
    after = quote(b["created_at"])
    assert listed(client, f"label=run:{tag}&created_after={after}") == [c["id"]]
    assert listed(client, f"label=run:{tag}&created_before={after}") == [a["id"]]
    # Paging keeps the filters.
    page = client.get(f"/api/v1/jobs?label=run:{tag}&limit=2").get_json()
    assert "label=run" in page["next"]
    assert [j["id"] for j in client.get(page["next"]).get_json()["items"]] == [a["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "label=team",
        "label=:vision",
        "label=team:",
        "label=a%20b:c",
        "name=",
        "created_after=yesterday",
        "created_after=2026-01-01T00:00:00",  # no zone: ambiguous
        "created_before=2026-13-01T00:00:00Z",
        "&".join(f"label=k{i}:v" for i in range(17)),
    ],
)
def test_bad_filters_are_a_422(client: Any, query: str) -> None:
    response = client.get(f"/api/v1/jobs?{query}")
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
