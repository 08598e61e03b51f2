"""Issue 12, item 10: a job's stored loss curve is bounded, however many epochs it asks for.

A worker with MAX_RECORDED_EPOCHS=50 trains a 1234-epoch job. It must store at most 51 rows:
epochs 1, 1+N, 1+2N, ... and the last, with N chosen up front (here 25), each loss bitwise the
engine's; the job document says N; ``/losses`` with ``every`` and the live event stream serve the
thinned curve correctly; and a worker killed mid-job leaves the same curve once the job resumes.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import train
from store.db import sessions
from store.models import EpochLoss
from tests.abuse.own_queue import ENDED, Tenant, own_stack, owner_name
from tests.service.conftest import DATABASE_URL
from tests.service.servers import kill_hard, running_on, wait_until
from tests.service.test_crash_resume import CRASH_ENV, LONG_JOB, checkpoint_behind_progress

pytestmark = pytest.mark.usefixtures("services")

CAP = 50
EPOCHS = 1234
JOB = {"name": "long curve", "training": {"epochs": EPOCHS, "seed": 5}}
EVERY = 25  # ceil(1234 / 50)
KEPT = [*range(1, EPOCHS + 1, EVERY), EPOCHS]  # 1, 26, ..., 1226, 1234: 51 epochs


def stored(job_id: str) -> list[tuple[int, float]]:
    with sessions(DATABASE_URL).begin() as session:
        rows = session.execute(
            select(EpochLoss.epoch, EpochLoss.loss)
            .where(EpochLoss.job_id == job_id)
            .order_by(EpochLoss.epoch)
        )
        return [(row.epoch, row.loss) for row in rows]


def epochs_of(tenant: Tenant, url: str) -> list[int]:
    page = tenant.http.get(url)
    assert page.status_code == 200, page.text
    return [item["epoch"] for item in page.json()["items"]]


def events(tenant: Tenant, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the finished job's stream, from the start."""
    found, kind = [], None
    with tenant.http.stream("GET", f"/api/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind is not None:
                found.append((kind, json.loads(line.removeprefix("data: "))))
    return found


def test_a_long_job_stores_a_bounded_evenly_spaced_curve(
    make_token: Callable[[str], str], tmp_path: Path
) -> None:
    with own_stack(tmp_path, workers=1, MAX_RECORDED_EPOCHS=str(CAP)) as stack:
        tenant = Tenant(stack.api, make_token(owner_name("curve")))
        job_id = tenant.submit(JOB)
        done = wait_until(
            lambda: (job := tenant.job(job_id))["status"] in ENDED and job,
            120,
            "the job to end",
            interval=0.2,
        )
        assert done["status"] == "succeeded", done
        assert done["progress"] == {"epoch": EPOCHS, "epochs": EPOCHS, "recorded_every": EVERY}

        rows = stored(job_id)
        assert len(rows) <= CAP + 1
        assert [epoch for epoch, _ in rows] == KEPT
        reference = train(done["spec"]).losses
        assert [loss for _, loss in rows] == [reference[epoch - 1] for epoch in KEPT]  # bitwise
        assert done["latest_loss"] == reference[-1]

        base = f"/api/v1/jobs/{job_id}/losses"
        assert epochs_of(tenant, f"{base}?limit=10000") == KEPT
        # ``every`` counts epochs; on a thinned curve it is rounded up to a multiple of N.
        # Sampled on the stored grid, and always ending with the last epoch.
        assert epochs_of(tenant, f"{base}?every=50") == [*range(1, EPOCHS + 1, 50), EPOCHS]
        assert epochs_of(tenant, f"{base}?every=30") == [*range(1, EPOCHS + 1, 50), EPOCHS]
        assert epochs_of(tenant, f"{base}?every=10&after=500&limit=3") == [501, 526, 551]
        page = tenant.http.get(f"{base}?after=1100&limit=5").json()
        assert [item["epoch"] for item in page["items"]] == [1101, 1126, 1151, 1176, 1201]
        assert "after=1201" in page["next"]
        assert epochs_of(tenant, page["next"]) == [1226, 1234]

        stream = events(tenant, job_id)
        points = [point[0] for kind, data in stream if kind == "epoch" for point in data["points"]]
        assert points and set(points) <= set(KEPT) and points == sorted(points)
        last = [data for kind, data in stream if kind == "epoch"][-1]
        assert (last["epoch"], last["loss"]) == (EPOCHS, reference[-1])
        assert stream[-1] == ("status", stream[-1][1]) and stream[-1][1]["status"] == "succeeded"


def test_a_thinned_curve_resumes_bitwise_after_a_crash(
    make_token: Callable[[str], str], tmp_path: Path
) -> None:
    job_spec = LONG_JOB  # its epochs over CAP: every ceil(epochs / CAP)-th and the last are kept
    epochs = job_spec["training"]["epochs"]
    every = -(-epochs // CAP)
    kept = sorted({*range(1, epochs + 1, every), epochs})
    with own_stack(tmp_path, workers=2, MAX_RECORDED_EPOCHS=str(CAP), **CRASH_ENV) as stack:
        tenant = Tenant(stack.api, make_token(owner_name("crashed-curve")))
        job_id = tenant.submit(job_spec)
        first = wait_until(lambda: running_on(stack.workers, job_id, 1), 60, "a worker to claim it")
        wait_until(lambda: checkpoint_behind_progress(job_id), 60, "a checkpoint")
        kill_hard(first)
        done = wait_until(
            lambda: (job := tenant.job(job_id))["status"] in ENDED and job,
            120,
            "the job to end",
            interval=0.2,
        )
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    reference = train(done["spec"]).losses
    assert stored(job_id) == [(epoch, reference[epoch - 1]) for epoch in kept]  # bitwise
