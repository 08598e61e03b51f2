"""The dashboard's sweep pages: the list, a sweep's page, and what a stranger sees."""

from typing import Any

import pytest

from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture
def page_client(app: Any, api_token: str) -> Any:
    """A browser: the token in the dashboard's cookie, not in a header."""
    browser = app.test_client()
    browser.set_cookie("gradyard_token", api_token)
    return browser


def test_the_sweeps_list_and_a_sweeps_page(client: Any, page_client: Any, queue: str) -> None:
    body = {
        "name": "pages sweep",
        "base": moons_job(5),
        "grid": {"training.learning_rate": [0.1, 0.2]},
        "seeds": [1],
        "objective": {"metric": "loss"},
    }
    sweep = client.post("/api/v1/sweeps", json=body).get_json()
    listed = page_client.get("/sweeps")
    assert listed.status_code == 200
    text = listed.get_data(as_text=True)
    assert "pages sweep" in text and f'data-sweep-id="{sweep["id"]}"' in text
    assert 'href="/sweeps"' in text  # the nav link of the shared layout
    page = page_client.get(f"/sweeps/{sweep['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-sweep-id="{sweep["id"]}"' in html and 'data-metric="loss"' in html
    # The scatter offers every param the trials set; the table sorts by each of them.
    assert '<option value="training.learning_rate">' in html
    assert 'data-sort="param:training.seed"' in html
    assert "sweep.js" in html and "uPlot.iife.min.js" in html
    client.post(f"/api/v1/sweeps/{sweep['id']}/cancel")
    assert client.delete(f"/api/v1/sweeps/{sweep['id']}").status_code == 204
    assert page_client.get(f"/sweeps/{sweep['id']}").status_code == 404
    assert page_client.get("/sweeps/not-an-id").status_code == 404


def test_without_a_token_the_pages_ask_for_one(app: Any) -> None:
    stranger = app.test_client()
    for path in ("/sweeps", "/sweeps/00000000-0000-4000-8000-000000000000"):
        response = stranger.get(path)
        assert response.status_code == 200 and 'id="token-form"' in response.get_data(as_text=True)
