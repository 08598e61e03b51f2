"""The dashboard's k-class views: a boundary coloured per class, the confusion table with its
accuracy and class names, and early stopping's epochs on the job page."""

import re
from collections import Counter
from typing import Any

import pytest

from service.dashboard import boundary
from service.dashboard.access import COOKIE
from tests.service.conftest import wait_for_status

SPIRAL3 = {
    "name": "spiral3",
    "model": {"inputs": 2, "layers": [8, 3], "activation": "tanh", "output_activation": "linear"},
    "data": {"generator": "spiral", "samples": 60, "classes": 3, "noise": 0.1},
    "training": {"epochs": 15, "loss": "cross_entropy", "optimizer": "adam", "learning_rate": 0.05},
}
# Three linear scores: x, -x and y. Class 0 right, class 1 left, class 2 where y beats |x|.
THREE = {
    "format": "gradyard.mlp/1",
    "inputs": 2,
    "layers": [
        {
            "activation": "linear",
            "weights": [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]],
            "biases": [0.0, 0.0, 0.0],
        }
    ],
}


@pytest.fixture
def browser(app: Any, api_token: str) -> Any:
    client = app.test_client()
    client.set_cookie(COOKIE, api_token)
    return client


def three_class_spec(inputs: list[list[float]], labels: list[int]) -> dict[str, Any]:
    return {
        "model": {"layers": [3], "activation": "linear", "output_activation": "linear"},
        "data": {"inputs": inputs, "targets": labels},
        "training": {"loss": "cross_entropy"},
    }


def fills(svg: str, element: str) -> Counter[str]:
    return Counter(re.findall(rf'<{element} [^>]*fill="(#[0-9a-f]+)"', svg))


def test_a_k_class_boundary_has_a_colour_per_class() -> None:
    inputs = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.5, -1.0], [-2.0, 3.0]]
    spec = three_class_spec(inputs, [0, 1, 2, 0, 1])
    assert boundary.classes_of(spec) == [0.0, 1.0, 2.0]
    drawn = boundary.compute(spec, THREE, resolution=12)
    assert drawn is not None
    assert {c for row in drawn.cells for c in row} == {0, 1, 2}
    # Every cell is the argmax of (x, -x, y) at its centre.
    for j, row in enumerate(drawn.cells):
        for i, c in enumerate(row):
            x = drawn.x[0] + (i + 0.5) / 12 * (drawn.x[1] - drawn.x[0])
            y = drawn.y[1] - (j + 0.5) / 12 * (drawn.y[1] - drawn.y[0])
            scores = [x, -x, y]
            assert scores[c] == max(scores)
    # (-2, 3) is labelled 1 but its largest score is y: class 2.
    assert [(label, own) for _, _, label, own in drawn.points][-1] == (1, 2)
    svg = boundary.to_svg(drawn)
    areas = fills(svg, "rect")
    assert {boundary.COLOURS[k][0] for k in range(3)} <= set(areas)
    dots = fills(svg, "circle")
    assert dots == Counter(
        {boundary.COLOURS[0][1]: 2, boundary.COLOURS[1][1]: 2, boundary.COLOURS[2][1]: 1}
    )
    assert svg.count('stroke="#000"') == 1  # the one misclassified point is ringed
    assert all(f">{k} \u25cf</text>" in svg for k in range(3))  # the legend names each class


def test_which_k_class_jobs_have_a_boundary() -> None:
    assert boundary.applies({k: v for k, v in SPIRAL3.items() if k != "name"})  # a stored spec
    three_inputs = three_class_spec([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [0, 2])
    three_inputs["model"]["inputs"] = 3
    assert not boundary.applies(three_inputs)


@pytest.mark.usefixtures("worker")
def test_a_three_class_job_page_shows_boundary_confusion_and_accuracy(
    client: Any, browser: Any
) -> None:
    job = client.post("/api/v1/jobs", json=SPIRAL3).get_json()
    done = wait_for_status(client, job["id"], {"succeeded"})
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'data-accuracy="yes"' in page and 'id="boundary"' in page
    svg = browser.get(f"/jobs/{job['id']}/boundary.svg").get_data(as_text=True)
    dots = fills(svg, "circle")
    assert dots == Counter({boundary.COLOURS[k][1]: 20 for k in range(3)})  # points by label

    confusion = client.get(f"/api/v1/jobs/{job['id']}/confusion").get_json()
    assert confusion["labels"] == [0, 1, 2]
    table = re.search(r'<table class="confusion".*?</table>', page, re.S)
    assert table, "no confusion table"
    cells = [int(c) for c in re.findall(r'<td class="num mono[^"]*">(\d+)</td>', table.group(0))]
    assert cells == [n for row in confusion["counts"] for n in row]
    right = sum(confusion["counts"][i][i] for i in range(3))
    accuracy = re.search(r'id="confusion-accuracy">([^<]+)<', page)
    assert accuracy and accuracy.group(1) == f"{100 * right / 60:.1f}%"
    # The last epoch's accuracy is measured before its update, the table after: both are shown.
    assert f"{100 * done['latest_accuracy']:.1f}%" in page
    fragment = browser.get(f"/jobs/{job['id']}/confusion-table")
    assert fragment.status_code == 200 and 'id="confusion-table"' in fragment.get_data(as_text=True)


@pytest.mark.usefixtures("worker")
def test_a_regression_job_has_no_confusion_table(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json={"training": {"epochs": 3}}).get_json()
    wait_for_status(client, job["id"], {"succeeded"})
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'id="confusion-card"' not in page and 'data-accuracy="no"' in page
    assert browser.get(f"/jobs/{job['id']}/confusion-table").status_code == 404


@pytest.mark.usefixtures("queue")
def test_a_waiting_classifier_says_when_its_table_comes(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json=SPIRAL3).get_json()
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'id="confusion-card"' in page and "Counted once the job succeeds" in page
    assert browser.get(f"/jobs/{job['id']}/confusion-table").status_code == 404


@pytest.mark.usefixtures("worker")
def test_early_stoppings_epochs_show_when_the_job_has_them(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json={"training": {"epochs": 5}}).get_json()
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert '<p class="stats" id="early-stop" hidden>' in page  # no early stopping: none
    impatient = {
        "model": {"layers": [4, 1], "output_activation": "sigmoid"},
        "data": {"generator": "moons", "samples": 40, "validation": {"fraction": 0.25}},
        # Ten times the progress any epoch makes: it stops after its patience.
        "training": {
            "epochs": 2000,
            "loss": "binary_cross_entropy",
            "early_stopping": {"patience": 3, "min_delta": 0.5},
        },
    }
    job_id = client.post("/api/v1/jobs", json=impatient).get_json()["id"]
    ended = wait_for_status(client, job_id, {"succeeded"})
    assert ended["stopped_epoch"] == ended["best_epoch"] + 3
    page = browser.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert '<p class="stats" id="early-stop">' in page
    assert f'id="stopped-epoch">{ended["stopped_epoch"]}<' in page
    assert f'id="best-epoch">{ended["best_epoch"]}<' in page
