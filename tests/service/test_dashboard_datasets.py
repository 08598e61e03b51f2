"""The datasets pages: the list with its upload box, a dataset's page (shape, stats, first rows,
the jobs that used it, a job to start from it), and class names where the data has them."""

import html
import json
import math
import re
import uuid
from typing import Any

import pytest

from service.dashboard.access import COOKIE
from tests.service.conftest import wait_for_status

# Three named classes around three centres: what a user's CSV of a small problem looks like.
CENTRES = {"setosa": (1.0, 0.0), "versicolor": (-0.5, 0.87), "virginica": (-0.5, -0.87)}


def flowers_csv(per_class: int = 12) -> str:
    """36 rows; the last is a row of its own in every call, so that each upload is a new dataset
    (the same content again is the owner's existing dataset, with the name it had)."""
    lines = ["width,height,species"]
    for k in range(per_class):
        for name, (x, y) in CENTRES.items():
            a = 2 * math.pi * k / per_class
            lines.append(f"{x + 0.2 * math.cos(a):.4f},{y + 0.2 * math.sin(a):.4f},{name}")
    x, y, name = lines.pop().split(",")
    lines.append(f"{x},{float(y) + uuid.uuid4().int % 10_000 * 1e-9:.9f},{name}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def browser(app: Any, api_token: str) -> Any:
    client = app.test_client()
    client.set_cookie(COOKIE, api_token)
    return client


@pytest.fixture
def flowers(client: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/datasets?name=flowers", data=flowers_csv(), content_type="text/csv"
    )
    assert answer.status_code in (200, 201), answer.get_json()
    document: dict[str, Any] = answer.get_json()
    return document


def submit_box(page: str) -> dict[str, Any]:
    found = re.search(r'<textarea id="spec"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no submit box"
    document: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return document


def test_the_datasets_page_lists_them_beside_an_upload_box(
    browser: Any, flowers: dict[str, Any], make_token: Any
) -> None:
    page = browser.get("/datasets").get_data(as_text=True)
    assert 'id="upload-form"' in page and 'type="file"' in page and "datasets.js" in page
    row = re.search(rf'<tr data-dataset-id="{flowers["id"]}">.*?</tr>', page, re.S)
    assert row, "the dataset is not listed"
    text = " ".join(re.sub(r"<[^>]+>", " ", row.group(0)).split())
    assert text.startswith("flowers") and "36" in text and "(3 classes)" in text
    assert 'aria-current="page">Datasets</a>' in page  # the header's link, current
    stranger = browser.application.test_client()
    stranger.set_cookie(COOKIE, make_token("stranger"))
    assert flowers["id"] not in stranger.get("/datasets").get_data(as_text=True)
    assert stranger.get(f"/datasets/{flowers['id']}").status_code == 404
    anonymous = browser.application.test_client()
    assert 'id="token-form"' in anonymous.get("/datasets").get_data(as_text=True)


def test_a_datasets_page_shows_its_shape_stats_and_first_rows(
    browser: Any, flowers: dict[str, Any]
) -> None:
    page = browser.get(f"/datasets/{flowers['id']}").get_data(as_text=True)
    shape = " ".join(re.sub(r"<[^>]+>", " ", page.split('id="shape"')[1].split("</p>")[0]).split())
    assert "36 rows" in shape and "2 features" in shape and "setosa, versicolor, virginica" in shape
    stats = re.search(r'<table class="data" id="stats">.*?</table>', page, re.S)
    assert stats and [n for n in re.findall(r'<th scope="row">(\w+)</th>', stats.group(0))] == [
        "width",
        "height",
        "species",
    ]
    preview = re.search(r'<table class="data" id="preview">.*?</table>', page, re.S)
    assert preview and preview.group(0).count("<tr>") == 1 + 10  # the header and 10 rows
    assert "setosa" in preview.group(0)  # targets by class name
    assert f'href="/?dataset={flowers["id"]}#submit"' in page
    assert 'id="used-by-none"' in page
    for bad in ("nope", "00000000-0000-4000-8000-000000000000"):
        assert browser.get(f"/datasets/{bad}").status_code == 404


@pytest.mark.usefixtures("worker")
def test_a_job_from_the_dataset_page_predicts_class_names(
    client: Any, browser: Any, flowers: dict[str, Any]
) -> None:
    box = submit_box(browser.get(f"/?dataset={flowers['id']}").get_data(as_text=True))
    assert box["data"] == {"dataset": flowers["id"]} and box["model"]["layers"][-1] == 3
    assert box["training"]["loss"] == "cross_entropy"
    answer = client.post("/api/v1/jobs", json=box)
    assert answer.status_code == 202, answer.get_json()
    job_id = answer.get_json()["id"]
    wait_for_status(client, job_id, {"succeeded"})

    page = browser.get(f"/datasets/{flowers['id']}").get_data(as_text=True)
    assert f'<li data-job-id="{job_id}">' in page

    centres = [list(c) for c in CENTRES.values()]
    predicted = client.post(f"/api/v1/jobs/{job_id}/predict", json={"inputs": centres})
    assert predicted.get_json()["classes"] == list(CENTRES)  # names, not 0, 1, 2
    confusion = client.get(f"/api/v1/jobs/{job_id}/confusion").get_json()
    assert confusion["labels"] == [0, 1, 2] and confusion["names"] == list(CENTRES)
    job_page = browser.get(f"/jobs/{job_id}").get_data(as_text=True)
    table = re.search(r'<table class="confusion".*?</table>', job_page, re.S)
    assert table and all(f'<th scope="col">{name}</th>' in table.group(0) for name in CENTRES)
    # Two features: its boundary is drawn over the dataset's rows, the legend naming the classes.
    assert 'id="boundary"' in job_page and "[[1.2, 0.0]" in job_page  # predict: its first rows
    svg = browser.get(f"/jobs/{job_id}/boundary.svg").get_data(as_text=True)
    assert svg.count("<circle") == 36 and all(f">{name} \u25cf<" in svg for name in CENTRES)
