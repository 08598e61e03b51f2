"""Health, readiness, the OpenAPI document and its page; the worker's import hygiene."""

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.service.conftest import ROOT

pytestmark = pytest.mark.usefixtures("services")


def test_health_and_readiness(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": True, "broker": True}


def test_openapi_document_describes_every_route(client: Any, app: Any) -> None:
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    routes = {re.sub(r"<(\w+)>", r"{\1}", rule.rule) for rule in rules}
    # The dashboard's HTML pages are for browsers, not API clients: they stay out.
    pages = ("/jobs", "/datasets", "/sweeps", "/openapi.json", "/docs")
    routes = {r for r in routes if not r.startswith(pages)}
    routes -= {"/", "/favicon.ico"}
    assert routes <= set(document["paths"])
    assert not any(path.startswith("/jobs") or path == "/" for path in document["paths"])
    job_spec = document["components"]["schemas"]["JobSpec"]
    assert job_spec["additionalProperties"] is False
    assert {"model", "data", "training", "name"} <= set(job_spec["properties"])


def test_every_operation_has_a_unique_operation_id_a_tag_and_only_its_own_errors(
    client: Any,
) -> None:
    document = client.get("/openapi.json").get_json()
    operations = [op for item in document["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) and all(op["tags"] for op in operations)
    assert "submit_job" in ids and "list_losses" in ids
    jobs = document["paths"]["/api/v1/jobs"]
    assert {"413", "415"} <= set(jobs["post"]["responses"])
    assert not {"413", "415"} & set(jobs["get"]["responses"])  # a GET has no body to refuse


def test_docs_page_renders_the_document(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "/api/v1/jobs/{job_id}/predict" in text and "JobSpec" in text


def test_worker_never_imports_flask() -> None:
    code = "import sys, worker.tasks, worker.runner; assert 'flask' not in sys.modules, 'flask'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_jobs_spec_and_weights_are_typed_in_the_document(client: Any) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert schemas["JobOut"]["properties"]["spec"] == {"$ref": "#/components/schemas/JobSpec"}
    assert {"format", "inputs", "layers"} <= set(schemas["WeightsOut"]["properties"])
