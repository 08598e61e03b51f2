"""The dashboard's newer pages in headless Chromium (see test_dashboard_browser.py): job filters,
delete, "Run again", the model downloads, a 3-class job's boundary and confusion table, the
validation curve, and the datasets pages. Any console error fails a test.

UPDATE_SCREENSHOTS=1 also writes the 3-class spiral's page to docs/job-spiral3.png.
"""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import ROOT, wait_for_status
from tests.service.live_server import live_server
from tests.service.test_dashboard_browser import (
    PAGE_WIDTH,
    PHONE,
    POINTS,
    browser,
    expected_errors,
    page,
    sign_in,
    submit,
    wait_until,
)
from tests.service.test_dashboard_datasets import flowers_csv

__all__ = ["browser", "expected_errors", "live_server", "page"]  # fixtures used here

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.usefixtures("worker")

# The figure of issue 14: the spiral with 3 classes, 100 points each, MLP(2, [16, 16, 3]).
SPIRAL3 = {
    "name": "spiral3",
    "model": {
        "inputs": 2,
        "layers": [16, 16, 3],
        "activation": "tanh",
        "output_activation": "linear",
    },
    "data": {"generator": "spiral", "samples": 300, "classes": 3, "noise": 0.0},
    "training": {
        "epochs": 600,
        "learning_rate": 0.03,
        "loss": "cross_entropy",
        "optimizer": "adam",
        "seed": 1,
    },
}
VALIDATION = "document.getElementById('chart').dataset.validation"


def test_filter_delete_and_run_again(
    page: Any, live_server: str, api_token: str, client: Any, expected_errors: list[str]
) -> None:
    expected_errors.append("status of 409")  # deleting an active job is refused, on purpose
    sign_in(page, live_server, api_token)
    first = submit(
        page, {"name": "filtered-first", "labels": {"kind": "browser"}, "training": {"epochs": 3}}
    )
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    page.wait_for_selector("#downloads:not([hidden])")
    for link in ("#weights", "#model-py", "#model-onnx"):
        assert page.is_visible(link)
    with page.expect_download() as download:
        page.click("#model-onnx")
    assert download.value.suggested_filename == f"model_{first}.onnx"

    # Run again: the submit box holds this job's spec, name and labels.
    page.click("#rerun")
    page.wait_for_selector("#submit-form")
    box = json.loads(page.input_value("#spec"))
    assert box["name"] == "filtered-first" and box["labels"] == {"kind": "browser"}
    second = submit(page)
    assert second != first
    assert (
        client.get(f"/api/v1/jobs/{second}").get_json()["spec"]
        == (client.get(f"/api/v1/jobs/{first}").get_json()["spec"])
    )
    wait_for_status(client, second, {"succeeded"})

    # The filter form narrows the table to those jobs.
    page.goto(live_server + "/")
    page.fill("#f-name", "filtered-")
    page.fill("#f-labels", "kind:browser")
    page.click("#filter-form button")
    page.wait_for_url("**/?*name=filtered-*")
    rows = page.eval_on_selector_all(
        "#jobs-table tr[data-job-id]", "rows => rows.map(r => r.dataset.jobId)"
    )
    assert set(rows) == {first, second}

    # Delete asks first; an active job's refusal shows the API's reason.
    long_job = client.post(
        "/api/v1/jobs",
        json={
            "name": "filtered-long",
            "labels": {"kind": "browser"},
            "training": {"epochs": 100_000},
        },
    )
    active = long_job.get_json()["id"]
    page.reload()
    page.wait_for_selector(f"tr[data-job-id='{active}']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"button[data-delete='{active}']")
    page.wait_for_selector("#delete-error:not([hidden])")
    assert "cancel it first" in page.text_content("#delete-error")
    client.post(f"/api/v1/jobs/{active}/cancel")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click(f"button[data-delete='{first}']")
    page.wait_for_selector(f"tr[data-job-id='{first}']", state="detached")
    assert asked and asked[0].startswith("Delete job filtered-first?")
    assert client.get(f"/api/v1/jobs/{first}").status_code == 404
    # ... and from a job's own page, which then goes back to the list.
    page.goto(f"{live_server}/jobs/{second}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    page.wait_for_url(live_server + "/")
    assert client.get(f"/api/v1/jobs/{second}").status_code == 404


def test_a_three_class_spiral_draws_its_classes_and_confusion(
    page: Any, live_server: str, api_token: str, client: Any, tmp_path: Path
) -> None:
    sign_in(page, live_server, api_token)
    job_id = submit(page, SPIRAL3)
    page.wait_for_selector("#status:text('succeeded')", timeout=300_000)
    wait_until(page, f"{POINTS} === {SPIRAL3['training']['epochs']}")
    # Drawn live: the page was not reloaded since the job was queued.
    page.wait_for_selector("#confusion-table")
    wait_until(page, "document.getElementById('boundary').naturalWidth > 0")
    assert page.evaluate(VALIDATION) == "no"  # this job has no validation split: one curve
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    confusion = client.get(f"/api/v1/jobs/{job_id}/confusion").get_json()
    right = sum(confusion["counts"][i][i] for i in range(3))
    assert page.text_content("#confusion-accuracy") == f"{100 * right / 300:.1f}%"
    print(
        f"spiral3: final training accuracy {job['latest_accuracy']:.4f} (last epoch), "
        f"{right}/300 after training"
    )
    page.mouse.move(400, 900)
    shot = tmp_path / "job-spiral3.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, ROOT / "docs" / "job-spiral3.png")


def test_the_chart_draws_a_validation_curve_where_the_job_has_one(
    page: Any, live_server: str, api_token: str
) -> None:
    sign_in(page, live_server, api_token)
    job_id = submit(page, {"training": {"epochs": 10}})
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    wait_until(page, f"{POINTS} === 10 && {VALIDATION} === 'no'")

    # A job holding out a fifth of moons: its curve has a validation loss and accuracy, drawn
    # live from the stream's points and again from /losses when the page is opened anew.
    held_out = {
        "model": {"layers": [8, 1], "output_activation": "sigmoid"},
        "data": {"generator": "moons", "samples": 50, "validation": {"fraction": 0.2}},
        "training": {"epochs": 10, "loss": "binary_cross_entropy"},
    }
    page.goto(f"{live_server}/")
    job_id = submit(page, held_out)
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    wait_until(page, f"{POINTS} === 10 && {VALIDATION} === 'yes'")
    page.goto(f"{live_server}/jobs/{job_id}")
    wait_until(page, f"{POINTS} === 10 && {VALIDATION} === 'yes'")
    legend = page.text_content("#chart")
    assert "validation loss" in legend and "validation accuracy" in legend


def test_upload_a_dataset_and_train_on_it(
    page: Any, live_server: str, api_token: str, tmp_path: Path, expected_errors: list[str]
) -> None:
    expected_errors.append("status of 422")  # the bad file, on purpose
    sign_in(page, live_server, api_token)
    page.click("header.top a:text('Datasets')")
    page.wait_for_selector("#upload-form")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    page.set_input_files("#csv-file", str(bad))
    page.click("#upload")
    page.wait_for_selector("#upload-error:not([hidden])")
    assert "oops" in page.text_content("#upload-error") or "line 3" in page.text_content(
        "#upload-error"
    )
    good = tmp_path / "flowers.csv"
    good.write_text(flowers_csv())
    page.set_input_files("#csv-file", str(good))
    page.fill("#csv-name", "browser flowers")
    page.click("#upload")
    page.wait_for_url("**/datasets/*")
    assert "browser flowers" in page.text_content("h1")
    assert page.locator("#preview tbody tr").count() == 10
    page.click("#train")
    page.wait_for_selector("#submit-form")
    box = json.loads(page.input_value("#spec"))
    assert box["training"]["loss"] == "cross_entropy"
    submit(page)
    page.wait_for_selector("#status:text('succeeded')", timeout=120_000)
    page.wait_for_selector("#confusion-table")
    assert "setosa" in page.text_content("#confusion-table")
    page.fill("#inputs", json.dumps([[1.0, 0.0], [-0.5, -0.87]]))
    page.click("#predict")
    page.wait_for_selector("#predicted-classes:not([hidden])")
    assert json.loads(page.text_content("#classes")) == ["setosa", "virginica"]


def test_the_new_pages_fit_a_phone(
    page: Any, live_server: str, api_token: str, client: Any
) -> None:
    sign_in(page, live_server, api_token)
    page.set_viewport_size(PHONE)
    dataset = client.post(
        "/api/v1/datasets?name=" + "flowers-" * 10, data=flowers_csv(), content_type="text/csv"
    )
    dataset_id = dataset.get_json()["id"]
    spec = {**SPIRAL3, "name": "phone-" * 10, "training": {**SPIRAL3["training"], "epochs": 3}}
    job_id = client.post(
        "/api/v1/jobs", json={**spec, "labels": {"a-long-label": "x" * 60}}
    ).get_json()["id"]
    wait_for_status(client, job_id, {"succeeded"})
    for path in (
        "/",
        "/?name=phone",
        "/datasets",
        f"/datasets/{dataset_id}",
        f"/jobs/{job_id}",
        f"/?rerun={job_id}",
    ):
        page.goto(live_server + path)
        width = page.evaluate(PAGE_WIDTH)
        assert width <= PHONE["width"], f"{path} is {width} px wide on a {PHONE['width']} px phone"
