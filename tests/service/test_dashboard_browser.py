"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against the
API served over HTTP and a real worker. Any console error or uncaught page error fails a test.

UPDATE_SCREENSHOTS=1 also writes the finished moons job's page to docs/job-moons.png.
"""

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.settings import get_settings
from tests.service.conftest import ROOT
from tests.service.live_server import live_server

__all__ = ["live_server"]  # the fixture, imported for this module's tests

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.usefixtures("worker")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MOONS = json.loads((ROOT / "examples" / "moons.json").read_text())
LONG_JOB = {**MOONS, "name": "long", "training": {**MOONS["training"], "epochs": 100_000}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (no cookies) whose console errors and page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == [], f"the browser reported errors: {problems}"


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("#token-form button")
    page.wait_for_selector("#submit-form")


def submit(page: Any, spec: dict[str, Any] | None = None) -> str:
    """Submit the JSON box (as pre-filled, or with ``spec``); the new job's id."""
    if spec is not None:
        page.fill("#spec", json.dumps(spec))
    page.click("#submit-form button")
    page.wait_for_url("**/jobs/*")
    job_id: str = page.get_attribute("#job", "data-job-id")
    return job_id


def wait_until(page: Any, expression: str, timeout: float = 60) -> None:
    """Poll a JavaScript expression until it is true (wait_for_function would eval() it, which
    the page's content security policy rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.05)


POINTS = "Number(document.getElementById('chart').dataset.points)"
STATUS = "document.getElementById('status').textContent"


def test_submit_the_notebook_job_and_watch_it_train(
    page: Any, live_server: str, api_token: str, tmp_path: Path
) -> None:
    sign_in(page, live_server, api_token)
    assert json.loads(page.input_value("#spec"))["name"] == "notebook"
    submit(page)
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    wait_until(page, f"{POINTS} === 20")
    assert page.is_visible("#chart canvas")
    assert page.text_content("#epoch") == "20"
    assert page.is_visible("#weights") and not page.is_visible("#cancel")
    page.screenshot(path=str(tmp_path / "notebook.png"), full_page=True)

    page.click("#predict")  # the pre-filled inputs: the notebook's first samples
    page.wait_for_selector("#outputs:not([hidden])")
    assert len(json.loads(page.text_content("#outputs"))) == 3

    page.goto(live_server + "/?status=succeeded")  # the list shows it, filtered
    assert "notebook" in page.text_content("#jobs-table")


def test_a_moons_job_grows_its_curve_live_then_draws_its_boundary(
    page: Any, live_server: str, api_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Streams end every half second: the page must resume each with no point lost or repeated.
    monkeypatch.setattr(get_settings(), "events_max_seconds", 0.5)
    sign_in(page, live_server, api_token)
    submit(page, MOONS)  # examples/moons.json
    # Watched while it runs: the curve has points before the job has ended.
    wait_until(page, f"{STATUS} === 'running' && {POINTS} > 0")
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    wait_until(page, f"{POINTS} === {MOONS['training']['epochs']}")
    image = page.wait_for_selector("#boundary")
    wait_until(page, "document.getElementById('boundary').naturalWidth > 0")
    assert image.is_visible()
    assert page.text_content("#latest-accuracy") == "1.000"
    page.mouse.move(400, 600)  # away from the chart, so no hover legend in the picture
    shot = tmp_path / "job-moons.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, ROOT / "docs" / "job-moons.png")


def test_cancel_from_the_job_page(page: Any, live_server: str, api_token: str) -> None:
    sign_in(page, live_server, api_token)
    submit(page, LONG_JOB)
    wait_until(page, f"{POINTS} > 0")
    page.click("#cancel")
    page.wait_for_selector("#status:text('cancelled')", timeout=30_000)
    assert not page.is_visible("#cancel") and not page.is_visible("#weights")
