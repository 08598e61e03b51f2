"""Issue 12, item 5: a prediction has a budget, and each owner a prediction rate.

Before the fix one predict of 10,000 rows on a 91.5k-parameter model took 37 s of the API's CPU.
Now rows x parameters is capped by ``MAX_PREDICT_WORK`` (a 422 saying the estimate and the
limit, before any arithmetic), so the largest allowed request costs well under a second, and
``PREDICT_RATE_LIMIT`` predictions per owner per window are allowed (429 with Retry-After).
"""

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.nn import MLP
from engine.weights import dump
from store.settings import Settings
from store.status import JobStatus
from tests.abuse.conftest import bearer, new_owner
from tests.service.servers import ApiServer

BUDGET = Settings.model_fields["max_predict_work"].default
# MLP(2, [300, 300, 1]): 91,501 weights and biases, the model of the report.
BIG = dump(MLP(2, [300, 300, 1], rng=random.Random(0)))
PARAMETERS = 91_501


def rows(count: int) -> dict[str, Any]:
    rng = random.Random(count)
    return {"inputs": [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(count)]}


@pytest.fixture
def big_model(held_job: Callable[..., str]) -> tuple[str, str]:
    """A succeeded job of a fresh owner holding the 91.5k-parameter model; (owner, job id)."""
    owner = new_owner("predict")
    return owner, held_job(owner, JobStatus.SUCCEEDED, weights=BIG)


def test_a_prediction_over_the_budget_is_refused_before_it_runs(
    stack: ApiServer, make_token: Callable[..., str], big_model: tuple[str, str]
) -> None:
    owner, job_id = big_model
    url = f"{stack.url}/api/v1/jobs/{job_id}/predict"
    with httpx.Client(headers=bearer(make_token(owner)), timeout=120) as http:
        started = time.perf_counter()
        refused = http.post(url, json=rows(10_000))
        refused_in = time.perf_counter() - started
        print(
            f"\n10,000 rows x {PARAMETERS} parameters: {refused.status_code} in {refused_in:.2f} s"
        )
        assert refused.status_code == 422, refused.text[:300]
        assert refused.headers["Content-Type"] == "application/problem+json"
        detail = refused.json()["detail"]
        assert f"{10_000 * PARAMETERS:,}" in detail and f"{BUDGET:,}" in detail, detail
        assert "MAX_PREDICT_WORK" in detail

        # The most the budget allows runs well under a second (the median of a few tries).
        most = BUDGET // PARAMETERS
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            answer = http.post(url, json=rows(most))
            seconds.append(time.perf_counter() - started)
            assert answer.status_code == 200 and len(answer.json()["outputs"]) == most
        assert http.post(url, json=rows(most + 1)).status_code == 422
    print(f"{most} rows (the budget): {seconds}")
    assert statistics.median(seconds) < 1.0, seconds


def test_predictions_are_rate_limited_per_owner(
    tmp_path: Path, make_token: Callable[..., str], held_job: Callable[..., str]
) -> None:
    limit = 5
    env = {"PREDICT_RATE_LIMIT": str(limit), "RATE_WINDOW_SECONDS": str(10**7)}
    server = ApiServer(tmp_path / "api.log", workers=2, threads=8, **env)
    try:
        small = dump(MLP(2, [4, 1], rng=random.Random(0)))
        owner, other = new_owner("predict"), new_owner("predict")
        mine, theirs = (
            held_job(owner, "succeeded", weights=small),
            held_job(other, "succeeded", weights=small),
        )
        with httpx.Client(base_url=server.url, timeout=30) as http:
            path = f"/api/v1/jobs/{mine}/predict"
            statuses = [
                http.post(path, json=rows(1), headers=bearer(make_token(owner))).status_code
                for _ in range(limit + 3)
            ]
            refused = http.post(path, json=rows(1), headers=bearer(make_token(owner)))
            others = http.post(
                f"/api/v1/jobs/{theirs}/predict", json=rows(1), headers=bearer(make_token(other))
            )
    finally:
        server.stop()
    print(f"\n{limit + 3} predictions of one owner: {statuses}")
    assert statuses == [200] * limit + [429] * 3
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/rate-limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert others.status_code == 200  # another owner has a rate of their own
