"""A job's document is the same wherever it is read: the POST answer, GET, on every backend."""

from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("services")


def keys_everywhere(document: Any) -> list[Any]:
    """Every object's keys, in order, depth first."""
    if isinstance(document, dict):
        return [list(document), *[keys_everywhere(value) for value in document.values()]]
    return []


def test_get_returns_the_spec_in_the_order_post_answered_it(client: Any, queue: str) -> None:
    spec = {"name": "order", "training": {"seed": 3, "epochs": 2, "optimizer": "adam"}}
    posted = client.post("/api/v1/jobs", json=spec).get_json()
    fetched = client.get(f"/api/v1/jobs/{posted['id']}").get_json()
    assert fetched["spec"] == posted["spec"]
    assert keys_everywhere(fetched["spec"]) == keys_everywhere(posted["spec"])  # not sorted
    assert list(fetched["spec"]) == ["model", "data", "training"]
    client.post(f"/api/v1/jobs/{posted['id']}/cancel")
