"""Fuzzing the API from its own OpenAPI document with schemathesis: garbage never breaks it.

For a bounded number of generated requests per operation: no response is a 5xx, every error is a
problem document, and the API is healthy afterwards. Jobs the fuzzer manages to submit go to a
queue no worker reads, and are cancelled at the end.
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import update

from service.app import create_app
from store.db import sessions
from store.models import Job, utcnow
from store.settings import get_settings
from tests.service.conftest import BROKER_URL, DATABASE_URL
from tests.service.servers import drop_queue, private_queue

pytestmark = pytest.mark.usefixtures("services")

PROBLEM_FIELDS = {"type", "title", "status", "detail"}


@pytest.fixture(scope="module")
def fuzzed_jobs(services: None) -> Iterator[datetime]:
    """Submissions queue nowhere during the fuzzing; whatever was queued is cancelled after."""
    queue, started = private_queue(), utcnow()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "queue_name", queue)
        yield started
    with sessions(DATABASE_URL).begin() as session:
        session.execute(
            update(Job)
            .where(Job.status == "queued", Job.created_at >= started)
            .values(status="cancelled", finished_at=utcnow())
        )
    drop_queue(BROKER_URL, queue)


# Loaded at import, as schemathesis wants: building the app and its document needs no server.
# Event streams stay open until their job ends: a fuzzer's request would wait for nothing.
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", create_app(test_config={"TESTING": True})
).exclude(path_regex=r"/events$")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_breaks_the_api(
    case: Any, auth_headers: dict[str, str], fuzzed_jobs: datetime
) -> None:
    response = case.call(headers=auth_headers)
    assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json")
        body = response.json()
        assert body.keys() >= PROBLEM_FIELDS, body
        assert body["status"] == response.status_code, body


def test_the_api_is_healthy_after_the_fuzzing(client: Any, fuzzed_jobs: datetime) -> None:
    assert client.get("/readyz").status_code == 200
    response = client.post("/api/v1/jobs", json={"training": {"epochs": 1}})
    assert response.status_code == 202, response.get_json()


def test_explicit_nulls_mean_the_defaults(client: Any, fuzzed_jobs: datetime) -> None:
    # Found by the fuzzer: the document allows null for data, which the engine refused.
    response = client.post("/api/v1/jobs", json={"data": None, "training": {"batch_size": None}})
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["spec"]["data"]["generator"] == "notebook"
