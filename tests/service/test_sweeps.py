"""Sweeps (issue 15): many trials of one spec, each an ordinary job, on real workers.

Each test that runs trials has a queue of its own and its own workers, so the session's worker
and the other tests' jobs never mix with its trials.
"""

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import train
from engine.overrides import apply_overrides
from store.db import sessions
from store.models import Job, Sweep
from tests.service.conftest import DATABASE_URL
from tests.service.servers import start_workers, wait_until
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

ENDED = {"succeeded", "failed", "cancelled", "pruned"}


def sweep_request(base: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "test sweep", "base": base, "objective": {"metric": "loss"}, **fields}


def submit(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/sweeps", json=body)
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"] == f"/api/v1/sweeps/{response.get_json()['id']}"
    document: dict[str, Any] = response.get_json()
    return document


def wait_ended(client: Any, sweep_id: str, timeout: float = 240) -> dict[str, Any]:
    """The sweep's document once every trial has ended (its counts in the failure if not)."""
    deadline = time.monotonic() + timeout
    while True:
        sweep: dict[str, Any] = client.get(f"/api/v1/sweeps/{sweep_id}").get_json()
        if not sum(sweep["counts"][s] for s in ("queued", "running", "cancelling")):
            return sweep
        assert time.monotonic() < deadline, f"sweep still going: {sweep['counts']}"
        time.sleep(0.2)


def trial_rows(sweep_id: str) -> list[Job]:
    with sessions(DATABASE_URL).begin() as session:
        rows = session.scalars(select(Job).where(Job.sweep_id == sweep_id)).all()
        session.expunge_all()
        return list(rows)


def most_at_once(rows: list[Job]) -> int:
    """The most trials running at one moment, from the rows' started and finished times."""
    moments: list[tuple[datetime, int]] = []
    for row in rows:
        assert row.started_at is not None and row.finished_at is not None
        moments += [(row.started_at, 1), (row.finished_at, -1)]
    running = peak = 0
    for _, change in sorted(moments):  # an end sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


def count_rows(model: type[Job] | type[Sweep]) -> int:
    with sessions(DATABASE_URL).begin() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_grid_trial_trains_bitwise_as_the_same_spec_alone(
    client: Any, queue: str, tmp_path: Path
) -> None:
    workers = start_workers(tmp_path, 1, QUEUE_NAME=queue)
    try:
        base = moons_job(30)
        grid = {"training.learning_rate": [0.05, 0.5], "model.layers": [[8, 1], [4, 4, 1]]}
        sweep = submit(client, sweep_request(base, grid=grid, seeds=[3], max_parallel=2))
        assert sweep["trials"] == 4 and sweep["status"] == "queued"
        lone = client.post("/api/v1/jobs", json={**base, **_override(base, grid, 1)}).get_json()
        final = wait_ended(client, sweep["id"])
        lone_job = wait_until(
            lambda: (
                (j := client.get(f"/api/v1/jobs/{lone['id']}").get_json())["status"] in ENDED and j
            ),
            120,
            "the lone job to end",
        )
    finally:
        for worker in workers:
            worker.stop()
    assert final["status"] == "succeeded" and final["counts"]["succeeded"] == 4
    trials = client.get(f"/api/v1/sweeps/{sweep['id']}/trials").get_json()["items"]
    assert [t["params"] for t in trials] == [
        {"training.learning_rate": lr, "model.layers": layers, "training.seed": 3}
        for lr in (0.05, 0.5)
        for layers in ([8, 1], [4, 4, 1])
    ]
    twin = trials[1]  # learning rate 0.05, layers [4, 4, 1]: the lone job's spec
    job = client.get(f"/api/v1/jobs/{twin['job_id']}").get_json()
    assert job["sweep"] == {"id": sweep["id"], "params": twin["params"]}
    assert job["spec"] == apply_overrides(final["request"]["base"], twin["params"])
    assert job["spec"] == lone_job["spec"]
    same = client.get(f"/api/v1/jobs/{twin['job_id']}/weights").get_json()
    assert same == client.get(f"/api/v1/jobs/{lone['id']}/weights").get_json()
    ours = client.get(f"/api/v1/jobs/{twin['job_id']}/losses").get_json()["items"]
    theirs = client.get(f"/api/v1/jobs/{lone['id']}/losses").get_json()["items"]
    assert ours == theirs and len(ours) == 30
    # And as the engine trains it in this process: the trial is that spec, nothing else.
    assert [p["loss"] for p in ours] == train(job["spec"]).losses
    assert final["best"]["job_id"] in {t["job_id"] for t in trials}
    best = min(trials, key=lambda t: t["objective"])
    assert final["best"]["objective"] == best["objective"]
    ranked = client.get(f"/api/v1/sweeps/{sweep['id']}/trials?sort=objective").get_json()
    values = [t["objective"] for t in ranked["items"]]
    assert values == sorted(values)
    listed = client.get(f"/api/v1/jobs?sweep={sweep['id']}").get_json()["items"]
    assert {j["id"] for j in listed} == {t["job_id"] for t in trials}


def _override(base: dict[str, Any], grid: dict[str, Any], index: int) -> dict[str, Any]:
    """The base's training and model with the grid's ``index``-th point and seed 3."""
    layers = grid["model.layers"][index]
    training = {**base["training"], "learning_rate": grid["training.learning_rate"][0], "seed": 3}
    return {"model": {**base["model"], "layers": layers}, "training": training}


def test_max_parallel_is_never_exceeded(client: Any, queue: str, tmp_path: Path) -> None:
    workers = start_workers(tmp_path, 3, QUEUE_NAME=queue)
    try:
        body = sweep_request(moons_job(30), seeds=list(range(6)), max_parallel=2)
        sweep = submit(client, body)
        final = wait_ended(client, sweep["id"])
    finally:
        for worker in workers:
            worker.stop()
    assert final["counts"]["succeeded"] == 6
    rows = trial_rows(sweep["id"])
    assert most_at_once(rows) <= 2, [(r.started_at, r.finished_at) for r in rows]
    assert all(r.attempts == 1 for r in rows)


def test_median_pruning_stops_the_worse_trial(client: Any, queue: str, tmp_path: Path) -> None:
    workers = start_workers(tmp_path, 1, QUEUE_NAME=queue)
    epochs = 400
    try:
        # Three identical trials (never worse than their median), then a hopeless one.
        grid = {"training.learning_rate": [0.5, 0.5, 0.5, 1e-9]}
        pruning = {"rule": "median", "warmup_epochs": 10, "min_trials": 3}
        body = sweep_request(moons_job(epochs), grid=grid, max_parallel=1, pruning=pruning)
        sweep = submit(client, body)
        final = wait_ended(client, sweep["id"])
    finally:
        for worker in workers:
            worker.stop()
    trials = client.get(f"/api/v1/sweeps/{sweep['id']}/trials").get_json()["items"]
    assert [t["status"] for t in trials] == ["succeeded"] * 3 + ["pruned"], trials
    assert [t["epochs_run"] for t in trials[:3]] == [epochs] * 3
    assert 10 < trials[3]["epochs_run"] < epochs
    assert final["status"] == "succeeded" and final["counts"]["pruned"] == 1
    pruned = client.get(f"/api/v1/jobs/{trials[3]['job_id']}").get_json()
    assert pruned["status"] == "pruned" and pruned["finished_at"] is not None
    # The pruned trial's epochs stay recorded, up to where it stopped.
    losses = client.get(f"/api/v1/jobs/{trials[3]['job_id']}/losses").get_json()["items"]
    assert len(losses) == trials[3]["epochs_run"]
    # The worker says when the rule decided and where the trial stopped: at the next batch's end.
    said = re.findall(
        rf"job {trials[3]['job_id']} pruned: judged after epoch (\d+), stopped after epoch (\d+)",
        workers[0].log_path.read_text(),
    )
    [(decided, stopped)] = [(int(d), int(s)) for d, s in said]
    assert 10 < decided < stopped == trials[3]["epochs_run"], said


def test_without_pruning_every_trial_runs_out(client: Any, queue: str, tmp_path: Path) -> None:
    workers = start_workers(tmp_path, 1, QUEUE_NAME=queue)
    try:
        grid = {"training.learning_rate": [0.5, 0.5, 0.5, 1e-9]}
        sweep = submit(client, sweep_request(moons_job(100), grid=grid, max_parallel=1))
        final = wait_ended(client, sweep["id"])
    finally:
        for worker in workers:
            worker.stop()
    assert final["counts"]["succeeded"] == 4 and final["counts"]["pruned"] == 0


def test_cancel_stops_every_trial_and_delete_removes_them(
    client: Any, queue: str, tmp_path: Path
) -> None:
    workers = start_workers(tmp_path, 1, QUEUE_NAME=queue)
    try:
        sweep = submit(client, sweep_request(moons_job(100_000), seeds=[0, 1, 2, 3]))
        sweep_url = f"/api/v1/sweeps/{sweep['id']}"
        wait_until(
            lambda: client.get(sweep_url).get_json()["counts"]["running"] >= 1,
            120,
            "a trial to start",
        )
        trials = client.get(f"{sweep_url}/trials").get_json()["items"]
        # Active: neither the sweep nor one of its trials can be deleted.
        refused = client.delete(sweep_url)
        assert refused.status_code == 409, refused.get_json()
        one = client.delete(f"/api/v1/jobs/{trials[0]['job_id']}")
        assert one.status_code == 409 and sweep["id"] in one.get_json()["detail"]
        cancelled = client.post(f"{sweep_url}/cancel")
        assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"
        final = wait_ended(client, sweep["id"], timeout=120)
    finally:
        for worker in workers:
            worker.stop()
    assert final["status"] == "cancelled" and final["counts"]["cancelled"] == 4
    ended = client.delete(f"/api/v1/jobs/{trials[0]['job_id']}")
    assert ended.status_code == 409 and sweep["id"] in ended.get_json()["detail"]
    assert client.delete(sweep_url).status_code == 204
    assert client.get(sweep_url).status_code == 404
    assert client.get(f"/api/v1/jobs/{trials[0]['job_id']}").status_code == 404
    assert trial_rows(sweep["id"]) == []
    assert client.delete(sweep_url).status_code == 404


def test_another_owners_job_starts_when_the_next_worker_frees_up(
    client: Any, app: Any, make_token: Any, queue: str, tmp_path: Path
) -> None:
    workers = start_workers(tmp_path, 2, QUEUE_NAME=queue)
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token('sweep-neighbour')}"
    try:
        sweep = submit(client, sweep_request(moons_job(300), seeds=list(range(12)), max_parallel=2))
        wait_until(
            lambda: (
                client.get(f"/api/v1/sweeps/{sweep['id']}").get_json()["counts"]["running"] == 2
            ),
            120,
            "two trials to run",
        )
        lone = other.post("/api/v1/jobs", json=moons_job(5)).get_json()
        job = wait_until(
            lambda: (j := other.get(f"/api/v1/jobs/{lone['id']}").get_json())["started_at"] and j,
            240,
            "the other owner's job to start",
        )
        started = datetime.fromisoformat(job["started_at"])
        rows = trial_rows(sweep["id"])
        stored = datetime.fromisoformat(lone["created_at"])
        ahead = [r for r in rows if r.started_at and stored < r.started_at < started]
        # At most one trial may start first: both workers freeing up at once, a tie at one job
        # running each, which the older job wins. Never the sweep's backlog.
        assert len(ahead) <= 1, (stored, started, [r.started_at for r in ahead])
    finally:
        client.post(f"/api/v1/sweeps/{sweep['id']}/cancel")
        wait_ended(client, sweep["id"], timeout=120)
        for worker in workers:
            worker.stop()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grid": {"training.learning_rate": [0.1, -1.0]}}, "trials.1.training.learning_rate"),
        ({"grid": {"training.lr": [0.1]}}, "trials.0.training.lr"),
        ({"grid": {"model.layers": [[4, 1], [4, 2]]}}, "trials.1.model.layers"),
        (
            {"random": {"trials": 3, "space": {"training.epochs": {"int": [1, 10**9]}}}},
            "trials.0.training.epochs",
        ),
        ({"objective": {"metric": "f1"}}, "objective.metric"),
        ({"objective": {"metric": "loss", "mode": "up"}}, "objective.mode"),
        ({"grid": {"training.seed": [1]}, "random": {"trials": 1, "space": {}}}, "random.space"),
        ({"max_parallel": 0}, "max_parallel"),
        ({"base": {"training": {"epochs": 0}}}, "base.training.epochs"),
        ({"random": {"trials": 2, "space": {"training.l2": {"uniform": [1, 0]}}}}, "random"),
    ],
)
def test_a_bad_sweep_is_a_422_naming_the_field_and_leaves_nothing(
    client: Any, change: dict[str, Any], field: str
) -> None:
    before = count_rows(Sweep), count_rows(Job)
    body = {**sweep_request(moons_job(5)), **change}
    response = client.post("/api/v1/sweeps", json=body)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    if field.startswith("trials."):
        assert f"trial {field.split('.')[1]}" in problem["detail"]
    assert (count_rows(Sweep), count_rows(Job)) == before


def test_more_trials_than_the_limit_is_a_422(client: Any, monkeypatch: Any) -> None:
    from store.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_sweep_trials", 5)
    before = count_rows(Sweep), count_rows(Job)
    body = sweep_request(moons_job(5), grid={"training.learning_rate": [0.1, 0.2, 0.3]})
    response = client.post("/api/v1/sweeps", json={**body, "seeds": [1, 2]})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "grid"
    assert "6 trials, over the limit of 5 (MAX_SWEEP_TRIALS)" in response.get_json()["detail"]
    assert (count_rows(Sweep), count_rows(Job)) == before


def test_sweeps_are_owned_listed_newest_first_and_idempotent(
    client: Any, app: Any, make_token: Any, queue: str
) -> None:
    body = sweep_request(moons_job(5), seeds=[1, 2])
    headers = {"Idempotency-Key": "sweep-key-1"}
    first = client.post("/api/v1/sweeps", json=body, headers=headers)
    again = client.post("/api/v1/sweeps", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    reused = client.post("/api/v1/sweeps", json={**body, "seeds": [3]}, headers=headers)
    assert reused.status_code == 422
    second = submit(client, body)
    page = client.get("/api/v1/sweeps?limit=1").get_json()
    assert [s["id"] for s in page["items"]] == [second["id"]] and page["next"]
    following = client.get(page["next"]).get_json()
    assert following["items"][0]["id"] == first.get_json()["id"]
    stranger = app.test_client()
    stranger.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token('sweep-stranger')}"
    assert stranger.get(f"/api/v1/sweeps/{second['id']}").status_code == 404
    assert stranger.post(f"/api/v1/sweeps/{second['id']}/cancel").status_code == 404
    assert stranger.get("/api/v1/sweeps").get_json()["items"] == []
    assert client.get("/api/v1/sweeps/not-a-uuid").status_code == 404
    for made in (first.get_json(), second):
        client.post(f"/api/v1/sweeps/{made['id']}/cancel")
        assert client.delete(f"/api/v1/sweeps/{made['id']}").status_code == 204


def test_trials_count_against_the_quota_only_while_they_run(
    app: Any, make_token: Any, monkeypatch: Any, queue: str
) -> None:
    from store.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_active_jobs", 2)
    client = app.test_client()  # an owner of the test's own: no other test's jobs count
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token('sweep-quota')}"
    sweep = submit(client, sweep_request(moons_job(5), seeds=list(range(10))))
    # Ten queued trials, none running: the owner may still submit a job (and a sweep).
    job = client.post("/api/v1/jobs", json=moons_job(5))
    assert job.status_code == 202, job.get_json()
    another = client.post("/api/v1/sweeps", json=sweep_request(moons_job(5)))
    assert another.status_code == 202, another.get_json()
    third = client.post("/api/v1/jobs", json=moons_job(5))
    assert third.status_code == 202, third.get_json()  # two lone jobs: the quota is full now
    assert client.post("/api/v1/jobs", json=moons_job(5)).status_code == 429
    full = client.post("/api/v1/sweeps", json=sweep_request(moons_job(5)))
    assert full.status_code == 429 and "too-many-active-jobs" in full.get_json()["type"]
    for made in (sweep, another.get_json()):
        client.post(f"/api/v1/sweeps/{made['id']}/cancel")
    for lone in (job, third):
        client.post(f"/api/v1/jobs/{lone.get_json()['id']}/cancel")


def test_a_sweep_counts_once_against_the_submission_rate(
    app: Any, make_token: Any, monkeypatch: Any, queue: str
) -> None:
    from store.settings import get_settings

    monkeypatch.setattr(get_settings(), "rate_limit", 2)
    monkeypatch.setattr(get_settings(), "rate_window_seconds", 3600)  # one window for the test
    owner = app.test_client()
    owner.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token('sweep-rate')}"
    sweep = owner.post("/api/v1/sweeps", json=sweep_request(moons_job(5), seeds=list(range(8))))
    assert sweep.status_code == 202, sweep.get_json()
    assert owner.post("/api/v1/jobs", json=moons_job(5)).status_code == 202  # 2 of 2
    refused = owner.post("/api/v1/sweeps", json=sweep_request(moons_job(5)))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    owner.post(f"/api/v1/sweeps/{sweep.get_json()['id']}/cancel")


def test_the_openapi_document_describes_sweeps(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    paths = document["paths"]
    assert set(paths["/api/v1/sweeps"]) == {"post", "get"}
    assert set(paths["/api/v1/sweeps/{sweep_id}"]) == {"get", "delete"}
    for tail in ("trials", "curves", "cancel"):
        assert f"/api/v1/sweeps/{{sweep_id}}/{tail}" in paths
    request = document["components"]["schemas"]["SweepRequest"]
    assert request["properties"]["base"] == {"$ref": "#/components/schemas/JobSpec"}
    statuses = document["components"]["schemas"]["TrialOut"]["properties"]["status"]
    assert "pruned" in str(document["components"]["schemas"].get("JobStatus", statuses))
    listed = [p["name"] for p in paths["/api/v1/jobs"]["get"]["parameters"]]
    assert "sweep" in listed


def test_an_unreachable_broker_is_a_503_that_leaves_nothing(client: Any, monkeypatch: Any) -> None:
    from store.settings import get_settings
    from tests.service.conftest import BROKER_URL

    settings = get_settings()
    monkeypatch.setattr(settings, "rate_limit_url", BROKER_URL)  # the counter stays up
    monkeypatch.setattr(settings, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens
    before = count_rows(Sweep), count_rows(Job)
    response = client.post("/api/v1/sweeps", json=sweep_request(moons_job(5), seeds=[1, 2]))
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert (count_rows(Sweep), count_rows(Job)) == before
