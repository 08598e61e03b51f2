"""The dashboard's pages as the server renders them, and the decision boundary module."""

import re
from typing import Any

import pytest

from engine import train
from service.dashboard import boundary
from service.dashboard.access import COOKIE
from service.dashboard.views import number, percent
from store.settings import get_settings
from tests.service.conftest import wait_for_status

# Two inputs, two classes, quick: a decision boundary to draw.
XOR = {
    "name": "<b>xor</b>",
    "model": {"inputs": 2, "layers": [8, 1], "activation": "tanh", "output_activation": "linear"},
    "data": {"generator": "xor", "samples": 40},
    "training": {"epochs": 30, "learning_rate": 0.1, "loss": "hinge", "optimizer": "adam"},
}
# Two inputs, two classes, and a learning rate that overflows a neuron within a few epochs.
DIVERGES = {
    "name": "diverges",
    "model": {"inputs": 2, "layers": [8, 1], "activation": "relu", "output_activation": "linear"},
    "data": {"generator": "moons", "samples": 50},
    "training": {"epochs": 50, "learning_rate": 1e6, "loss": "mean_squared", "optimizer": "sgd"},
}


def text_of(html: str) -> str:
    """What a reader sees of some HTML: the text between the tags."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row_of(table: str, job_id: str) -> str:
    """The jobs table's row for one job."""
    found = re.search(rf'<tr data-job-id="{job_id}">.*?</tr>', table, re.S)
    assert found, f"no row for {job_id}"
    return found.group(0)


def boundary_notes(page: str) -> dict[str, bool]:
    """The decision boundary card's notes, and whether each is shown."""
    notes = re.findall(r'<p class="muted" data-when="(\w+)"( hidden)?>', page)
    return {when: not hidden for when, hidden in notes}


@pytest.fixture
def browser(app: Any, api_token: str) -> Any:
    """A test client that carries the token as the dashboard's cookie, as a browser would."""
    client = app.test_client()
    client.set_cookie(COOKIE, api_token)
    return client


@pytest.mark.usefixtures("worker")
def test_pages_for_the_tokens_owner(client: Any, browser: Any, make_token: Any) -> None:
    job = client.post("/api/v1/jobs", json=XOR).get_json()
    done = wait_for_status(client, job["id"], {"succeeded"})

    jobs_page = browser.get("/")
    assert jobs_page.status_code == 200 and jobs_page.mimetype == "text/html"
    html = jobs_page.get_data(as_text=True)
    assert job["id"] in html and "&lt;b&gt;xor&lt;/b&gt;" in html  # names are escaped
    row = text_of(row_of(html, job["id"]))
    assert f"{100 * done['latest_accuracy']:.1f}%" in row  # accuracy: a percentage, always
    assert '"notebook"' in html.replace("&#34;", '"')  # the submit box starts with its job
    assert job["id"] in browser.get("/jobs-table?status=succeeded").get_data(as_text=True)
    assert job["id"] not in browser.get("/jobs-table?status=failed").get_data(as_text=True)
    assert browser.get("/?status=bogus").status_code == 422

    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'data-status="succeeded"' in page and 'id="boundary"' in page
    assert "uPlot.iife.min.js" in page and "<script>" not in page  # no inline script (CSP)

    svg = browser.get(f"/jobs/{job['id']}/boundary.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).count("<circle") == 40

    download = browser.get(f"/jobs/{job['id']}/weights.json")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.get_json() == client.get(f"/api/v1/jobs/{job['id']}/weights").get_json()
    assert download.get_json() == train(done["spec"]).weights

    # Another owner's cookie sees none of it; no cookie gets the token form.
    stranger = browser.application.test_client()
    stranger.set_cookie(COOKIE, make_token("stranger"))
    assert job["id"] not in stranger.get("/").get_data(as_text=True)
    assert stranger.get(f"/jobs/{job['id']}").status_code == 404
    assert stranger.get(f"/jobs/{job['id']}/weights.json").status_code == 404
    anonymous = browser.application.test_client()
    for path in ("/", f"/jobs/{job['id']}", f"/jobs/{job['id']}/boundary.svg"):
        assert 'id="token-form"' in anonymous.get(path).get_data(as_text=True)


@pytest.mark.usefixtures("worker")
def test_a_job_without_a_boundary(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json={"training": {"epochs": 3}}).get_json()
    wait_for_status(client, job["id"], {"succeeded"})
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert 'data-boundary="no"' in page and 'id="boundary-card"' not in page
    assert browser.get(f"/jobs/{job['id']}/boundary.svg").status_code == 404
    assert browser.get("/jobs/no-such-job").status_code == 404
    # No name: the table shows the id's first 8 characters once, as the link.
    row = text_of(row_of(browser.get("/jobs-table").get_data(as_text=True), job["id"]))
    assert row.split()[0] == job["id"][:8] and row.count(job["id"][:8]) == 1


@pytest.mark.usefixtures("queue")  # no worker reads it: the job stays queued until cancelled
def test_the_boundary_card_of_a_job_that_is_waiting_then_cancelled(
    client: Any, browser: Any
) -> None:
    job = client.post("/api/v1/jobs", json=XOR).get_json()
    waiting = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert boundary_notes(waiting) == {"waiting": True, "failed": False, "cancelled": False}
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").get_json()["status"] == "cancelled"
    cancelled = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert boundary_notes(cancelled) == {"waiting": False, "failed": False, "cancelled": True}
    assert "was cancelled before it finished training" in cancelled


@pytest.mark.usefixtures("worker")
def test_the_boundary_card_of_a_failed_job(client: Any, browser: Any) -> None:
    job = client.post("/api/v1/jobs", json=DIVERGES).get_json()
    assert wait_for_status(client, job["id"], {"failed", "succeeded"})["status"] == "failed"
    page = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert boundary_notes(page) == {"waiting": False, "failed": True, "cancelled": False}
    assert 'id="boundary"' not in page


@pytest.mark.parametrize(
    "job_id", ["%00", "a%00b", "x" * 500, "%FF", "%3Cb%3E", "'%20OR%201=1", "ä"]
)
@pytest.mark.parametrize("below", ["", "/boundary.svg", "/weights.json"])
def test_a_job_id_that_is_no_id_is_no_such_job(browser: Any, job_id: str, below: str) -> None:
    answer = browser.get(f"/jobs/{job_id}{below}")
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert "Not here" in page and "no job" in page and "\x00" not in page and "<b>" not in page


def test_the_favicon_is_where_browsers_look(app: Any) -> None:
    answer = app.test_client().get("/favicon.ico")  # no token: it is no one's secret
    assert answer.status_code == 200 and answer.mimetype in ("image/x-icon", VND_ICON)
    assert answer.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_the_api_docs_page_has_the_dashboard_header(app: Any, browser: Any) -> None:
    for client in (app.test_client(), browser):  # signed in or not
        page = client.get("/docs").get_data(as_text=True)
        assert '<header class="top">' in page and "dashboard.css" in page
        assert '<a href="/"' in page and 'aria-current="page">API</a>' in page
        assert "/api/v1/jobs/{job_id}/predict" in page and "<style>" not in page


def test_losses_and_accuracies_read_the_same_everywhere() -> None:
    # The same rules as number() and percent() in service/static/dashboard.js.
    assert [number(v) for v in (None, 1.0, 0.01403066, 2.5e-5, 123456.0, 0.0)] == [
        "-",
        "1.000",
        "0.01403",
        "2.500e-5",
        "1.235e5",
        "0.000",
    ]
    assert [percent(v) for v in (None, 1.0, 59 / 60, 0.0)] == ["-", "100.0%", "98.3%", "0.0%"]


VND_ICON = "image/vnd.microsoft.icon"


def test_with_auth_off_pages_need_no_token(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "auth", False)
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'id="submit-form"' in page and 'id="forget-token"' not in page


# --- the boundary module ----------------------------------------------------------------------

# score = x: the right half of the plane is the +1 class.
LINE = {
    "format": "gradyard.mlp/1",
    "inputs": 2,
    "layers": [{"activation": "linear", "weights": [[1.0, 0.0]], "biases": [0.0]}],
}


def spec_for(inputs: list[list[float]], targets: list[Any], loss: str = "hinge") -> dict[str, Any]:
    output = "sigmoid" if loss == "binary_cross_entropy" else "linear"
    return {
        "model": {
            "layers": [len(targets[0]) if isinstance(targets[0], list) else 1],
            "activation": "linear",
            "output_activation": output,
        },
        "data": {"inputs": inputs, "targets": targets},
        "training": {"loss": loss},
    }


def test_the_boundary_splits_the_plane_where_the_model_does() -> None:
    spec = spec_for([[-1.0, 0.0], [1.0, 1.0], [0.5, -1.0]], [-1.0, 1.0, -1.0])
    drawn = boundary.compute(spec, LINE, resolution=10)
    assert drawn is not None and drawn.labels == [-1.0, 1.0]
    assert all(c == (i >= 5) for row in drawn.cells for i, c in enumerate(row))
    svg = boundary.to_svg(drawn)
    assert svg.count("<circle") == 3
    assert svg.count('stroke="#000"') == 1  # (0.5, -1) is labelled -1 but scores +0.5
    assert len(re.findall(r"<rect [^>]*fill=\"#", svg)) == 2 * 10  # one run per class per row


def test_which_jobs_have_a_boundary() -> None:
    two_d = [[0.0, 0.0], [1.0, 1.0]]
    assert boundary.applies(spec_for(two_d, [-1.0, 1.0]))
    assert boundary.applies(spec_for(two_d, [0.0, 1.0], "binary_cross_entropy"))
    assert boundary.compute(spec_for(two_d, [0.0, 1.0], "binary_cross_entropy"), LINE)
    three = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    assert not boundary.applies(spec_for(three, [0.1, 0.2, 0.3], "mean_squared"))  # regression
    assert not boundary.applies(spec_for([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [-1.0, 1.0]))
    assert not boundary.applies(spec_for(two_d, [[-1.0, 1.0], [1.0, -1.0]]))
    assert not boundary.applies({"model": {"inputs": 7}})  # not a valid spec at all
