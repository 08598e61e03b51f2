"""The jobs page's filters, delete buttons and "Run again", and a job page's model downloads."""

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.dashboard.access import COOKIE
from tests.service.conftest import wait_for_status
from tests.service.test_dashboard import XOR, row_of


@pytest.fixture
def browser(app: Any, api_token: str) -> Any:
    """A test client that carries the token as the dashboard's cookie, as a browser would."""
    client = app.test_client()
    client.set_cookie(COOKIE, api_token)
    return client


def listed(browser: Any, query: str) -> set[str]:
    """The job ids the jobs table lists for this query string."""
    answer = browser.get(f"/jobs-table?{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return set(re.findall(r'<tr data-job-id="([0-9a-f-]+)">', answer.get_data(as_text=True)))


def submit_box(page: str) -> dict[str, Any]:
    """The JSON the jobs page's submit box starts with."""
    found = re.search(r'<textarea id="spec"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no submit box"
    document: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return document


@pytest.mark.usefixtures("queue")  # no worker: the jobs stay queued
def test_the_jobs_page_filters_by_name_labels_and_time(client: Any, browser: Any) -> None:
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    made = {}
    for name, labels in (("alpha", {"team": "vision"}), ("alps", {"team": "nlp"}), ("beta", {})):
        labelled = {**labels, "run": tag}
        body = {"name": f"{tag}-{name}", "labels": labelled, "training": {"epochs": 2}}
        made[name] = client.post("/api/v1/jobs", json=body).get_json()["id"]
    assert listed(browser, f"name={tag}-al") == {made["alpha"], made["alps"]}
    assert listed(browser, f"labels=run:{tag}+team:vision") == {made["alpha"]}
    assert listed(browser, f"labels=run:{tag},team:nlp&name={tag}-al") == {made["alps"]}
    # A form's empty boxes are no filters; a time without a zone is UTC.
    assert listed(browser, f"name=&labels=run:{tag}&created_after=") == set(made.values())
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    assert listed(browser, f"labels=run:{tag}&created_after={soon}") == set()
    assert listed(browser, f"labels=run:{tag}&created_before={soon}") == set(made.values())
    assert listed(browser, f"labels=run:{tag}&status=succeeded") == set()
    assert browser.get("/?labels=no-colon").status_code == 422
    assert browser.get("/?created_after=yesterday").status_code == 422

    page = browser.get(f"/?name={tag}-al&labels=run:{tag}").get_data(as_text=True)
    assert f'value="{tag}-al"' in page and f'value="run:{tag}"' in page  # the form says them again
    assert "team:vision" in row_of(page, made["alpha"])  # labels show as chips
    # The status links keep the other filters.
    assert f'href="/?status=queued&amp;name={tag}-al&amp;labels=run:{tag}"' in page
    empty = browser.get(f"/jobs-table?name={tag}-nothing").get_data(as_text=True)
    assert "match these filters" in empty


@pytest.mark.usefixtures("queue")
def test_every_row_has_a_delete_button_and_the_api_says_why_not(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json={"name": "to-delete", "training": {"epochs": 2}})
    job_id = job.get_json()["id"]
    row = row_of(browser.get("/jobs-table").get_data(as_text=True), job_id)
    assert f'data-delete="{job_id}"' in row and 'data-name="to-delete"' in row
    page = browser.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="delete"' in page and 'data-name="to-delete"' in page
    # The button calls the API's DELETE, whose 409 problem the page shows as it is.
    refused = client.delete(f"/api/v1/jobs/{job_id}")
    assert refused.status_code == 409 and "cancel it first" in refused.get_json()["detail"]
    client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert job_id not in listed(browser, "")
    assert browser.get(f"/jobs/{job_id}").status_code == 404


@pytest.mark.usefixtures("queue")
def test_run_again_opens_the_submit_box_with_the_jobs_spec(client: Any, browser: Any) -> None:
    body = {**XOR, "name": "again", "labels": {"try": "1"}}
    original = client.post("/api/v1/jobs", json=body).get_json()
    page = browser.get(f"/jobs/{original['id']}").get_data(as_text=True)
    assert f'href="/?rerun={original["id"]}#submit"' in page
    box = submit_box(browser.get(f"/?rerun={original['id']}").get_data(as_text=True))
    assert box["name"] == "again" and box["labels"] == {"try": "1"}
    # Submitted as it stands, it is the same job again.
    again = client.post("/api/v1/jobs", json=box)
    assert again.status_code == 202, again.get_json()
    assert again.get_json()["spec"] == original["spec"] and again.get_json()["id"] != original["id"]
    # An unknown or malformed id leaves the notebook's job in the box.
    for other in ("00000000-0000-4000-8000-000000000000", "nope"):
        assert submit_box(browser.get(f"/?rerun={other}").get_data(as_text=True))["name"] == (
            "notebook"
        )


@pytest.mark.usefixtures("worker")
def test_a_succeeded_job_offers_its_model_in_every_format(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json=XOR).get_json()
    wait_for_status(client, job["id"], {"succeeded"})
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    downloads = re.search(r'<p class="downloads" id="downloads"(.*?)</p>', page, re.S)
    assert downloads and " hidden" not in downloads.group(1)[:10]
    for link, api in (
        ("weights.json", "weights"),
        ("model.py", "model.py"),
        ("model.onnx", "model.onnx"),
    ):
        assert f'href="/jobs/{job["id"]}/{link}"' in page
        download = browser.get(f"/jobs/{job['id']}/{link}")
        assert download.status_code == 200 and download.headers["Content-Disposition"].startswith(
            "attachment"
        )
        expected = client.get(f"/api/v1/jobs/{job['id']}/{api}")
        if link == "weights.json":
            assert download.get_json() == expected.get_json()
        else:
            assert download.data == expected.data


@pytest.mark.usefixtures("queue")
def test_a_queued_job_has_no_model_to_download(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json=XOR).get_json()
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert re.search(r'<p class="downloads" id="downloads" hidden>', page)
    for link in ("weights.json", "model.py", "model.onnx"):
        answer = browser.get(f"/jobs/{job['id']}/{link}")
        assert answer.status_code == 409
        assert "once it has succeeded" in answer.get_data(as_text=True)
