"""The sweep page in a real browser (headless Chromium through Playwright), against the API over
HTTP and a real worker: the curves, the table, the scatter, and sorting. Any console error or
uncaught page error fails the test (the ``page`` fixture).

UPDATE_SCREENSHOTS=1 also writes the finished sweep's page to docs/sweep-moons.png.
"""

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import ROOT
from tests.service.live_server import live_server
from tests.service.specs import moons_job
from tests.service.test_dashboard_browser import browser, expected_errors, page, sign_in

# Fixtures, imported for this module's tests.
__all__ = ["browser", "expected_errors", "live_server", "page"]

pytestmark = pytest.mark.usefixtures("worker")


def test_a_sweeps_page_draws_every_trial_and_sorts_its_table(
    page: Any, live_server: str, api_token: str, tmp_path: Path
) -> None:
    body = {
        "name": "moons learning rates",
        "base": moons_job(60),
        "grid": {"training.learning_rate": [0.003, 0.03, 0.3, 1.0], "model.layers": [[8, 1]]},
        "seeds": [1, 2],
        "objective": {"metric": "loss", "mode": "min"},
        "max_parallel": 2,
        "pruning": {"rule": "median", "warmup_epochs": 10, "min_trials": 3},
    }
    headers = {"Authorization": f"Bearer {api_token}"}
    sweep = httpx.post(f"{live_server}/api/v1/sweeps", json=body, headers=headers).json()
    sign_in(page, live_server, api_token)
    page.goto(f"{live_server}/sweeps")
    page.click(f'tr[data-sweep-id="{sweep["id"]}"] a')
    page.wait_for_selector('#sweep[data-status="succeeded"]', timeout=240_000)
    page.wait_for_selector('#curves[data-lines="8"]', timeout=30_000)
    rows = page.locator("#trials tbody tr")
    assert rows.count() == 8
    # Sorted by objective, best first: the bold row leads.
    assert "best" in (rows.nth(0).get_attribute("class") or "")
    assert page.locator("#scatter").get_attribute("data-points") == "8"
    assert page.locator("#scatter circle.best").count() == 1
    # Sorting by a param (the 7th column: #, status, loss, epochs, then params by path): click
    # its header; learning rates ascend, then descend.
    header = page.locator('th[data-sort="param:training.learning_rate"]')
    header.click()
    first = page.locator("#trials tbody tr td:nth-child(7)").first.text_content()
    header.click()
    last = page.locator("#trials tbody tr td:nth-child(7)").first.text_content()
    assert (first, last) == ("0.003000", "1")
    shot = tmp_path / "sweep.png"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shot = ROOT / "docs" / "sweep-moons.png"
    page.screenshot(path=str(shot), full_page=True)
    page.select_option("#scatter-param", "training.seed")
    assert page.locator("#scatter").get_attribute("data-points") == "8"
