"""The dashboard's pages as the server renders them, and the decision boundary module."""

import re
from typing import Any

import pytest

from engine import train
from service.dashboard import boundary
from service.dashboard.access import COOKIE
from store.settings import get_settings
from tests.service.conftest import wait_for_status

# Two inputs, two classes, quick: a decision boundary to draw.
XOR = {
    "name": "<b>xor</b>",
    "model": {"inputs": 2, "layers": [8, 1], "activation": "tanh", "output_activation": "linear"},
    "data": {"generator": "xor", "samples": 40},
    "training": {"epochs": 30, "learning_rate": 0.1, "loss": "hinge", "optimizer": "adam"},
}


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
    assert drawn is not None and drawn.threshold == 0.0
    assert all((s > 0) == (i >= 5) for row in drawn.scores for i, s in enumerate(row))
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
