"""The Python client against the API served over real HTTP, with a real worker."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from client.client import ApiError, Client
from engine import predict, train
from store.settings import get_settings
from tests.service.live_server import live_server

__all__ = ["live_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.usefixtures("worker")

LONG_JOB = {
    "model": {"inputs": 2, "layers": [16, 16, 1], "activation": "relu"},
    "data": {"generator": "moons", "samples": 100},
    "training": {"epochs": 100_000, "loss": "hinge"},
}


@pytest.fixture
def gy(live_server: str, api_token: str) -> Iterator[Client]:
    with Client(live_server, api_token) as client:
        yield client


def test_submit_wait_and_read_everything_back(gy: Client) -> None:
    seen: list[dict[str, Any]] = []
    job = gy.submit({"name": "client", "training": {"epochs": 400, "seed": 2}})
    assert job["status"] == "queued"
    done = gy.wait(job["id"], on_progress=seen.append, timeout=60)
    assert done["status"] == "succeeded" and done["progress"]["epoch"] == 400
    assert seen and seen[-1]["epoch"] == 400
    assert [e["epoch"] for e in seen] == sorted({e["epoch"] for e in seen})
    assert all(e["points"][-1][0] == e["epoch"] for e in seen)  # a watcher gets the curve
    # Read again from the start, with as many points per event as asked.
    for points, epochs in ((0, []), (2, [200, 400])):
        again = list(gy.events(job["id"], points=points))
        assert [e.event for e in again] == ["epoch", "status"]
        assert [p[0] for p in again[0].data["points"]] == epochs
        assert again[0].data["epoch"] == 400

    reference = train(done["spec"])
    losses = list(gy.losses(job["id"], page_size=7))  # many pages
    assert [item["epoch"] for item in losses] == list(range(1, 401))
    assert [item["loss"] for item in losses] == reference.losses
    assert [item["epoch"] for item in gy.losses(job["id"], every=100)] == [1, 101, 201, 301, 400]
    assert gy.weights(job["id"]) == reference.weights
    inputs = [[2.0, 3.0, -1.0], [0.5, 1.0, 1.0]]
    assert gy.predict(job["id"], inputs) == predict(reference.weights, inputs)
    assert job["id"] in {item["id"] for item in gy.jobs(status="succeeded")}
    assert len(list(gy.jobs(limit=1))) == 1


def test_the_validation_measures_through_the_client(gy: Client) -> None:
    spec = {
        "model": {"inputs": 2, "layers": [4, 1], "output_activation": "sigmoid"},
        "data": {"generator": "moons", "samples": 40, "validation": {"fraction": 0.25}},
        "training": {
            "epochs": 300,
            "loss": "binary_cross_entropy",
            "optimizer": "adam",
            "early_stopping": {"patience": 5, "min_delta": 0.01},
        },
    }
    seen: list[dict[str, Any]] = []
    job = gy.submit(spec)
    done = gy.wait(job["id"], on_progress=seen.append, timeout=120)
    measures: list[dict[str, float]] = []
    reference = train(done["spec"], on_epoch=lambda e, loss, m: measures.append(m))
    assert (done["stopped_epoch"], done["best_epoch"]) == (
        reference.stopped_epoch,
        reference.best_epoch,
    )
    assert done["stopped_epoch"] is not None and done["progress"]["epoch"] == done["stopped_epoch"]
    losses = list(gy.losses(job["id"]))
    assert [item["val_loss"] for item in losses] == [m["val_loss"] for m in measures]
    assert [item["val_accuracy"] for item in losses] == [m["val_accuracy"] for m in measures]
    assert seen[-1]["val_loss"] == measures[-1]["val_loss"]
    assert gy.weights(job["id"]) == reference.weights


def test_events_resume_from_an_event_id(gy: Client) -> None:
    job = gy.submit({"training": {"epochs": 50}})
    gy.wait(job["id"])
    everything = list(gy.events(job["id"]))
    assert everything[-1].data["status"] == "succeeded"
    assert list(gy.events(job["id"], last_event_id=everything[-1].id)) == []
    rest = list(gy.events(job["id"], last_event_id="10:running"))
    assert rest[0].event == "epoch" and rest[0].data["points"][0][0] == 11
    assert [e.id for e in rest] == ["50:running", "50:succeeded"]


def test_events_carry_on_across_the_servers_short_streams(
    gy: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "events_max_seconds", 0.3)  # many reconnections
    job = gy.submit({"training": {"epochs": 3000}})
    seen = list(gy.events(job["id"]))
    ids = [event.id for event in seen]
    assert len(ids) == len(set(ids)) and seen[-1].data["status"] == "succeeded"
    epochs = [p[0] for e in seen if e.event == "epoch" for p in e.data["points"]]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 3000


def test_cancel_ends_a_wait_with_the_cancelled_job(gy: Client) -> None:
    job = gy.submit(LONG_JOB)
    for event in gy.events(job["id"]):
        if event.event == "epoch":
            break
    assert gy.cancel(job["id"])["status"] in ("cancelling", "cancelled")
    assert gy.wait(job["id"], timeout=60)["status"] == "cancelled"


def test_errors_carry_the_problem_document(gy: Client, live_server: str) -> None:
    with pytest.raises(ApiError) as missing:
        gy.get("00000000-0000-0000-0000-000000000000")
    assert missing.value.status == 404 and missing.value.problem["type"] == "/problems/not-found"
    with pytest.raises(ApiError) as invalid:
        gy.submit({"training": {"epochs": 0}})
    assert invalid.value.status == 422
    assert invalid.value.problem["errors"][0]["field"].startswith("training.epochs")
    assert "422 Invalid request" in str(invalid.value)
    with Client(live_server, "gy_nottherightone") as stranger, pytest.raises(ApiError) as denied:
        stranger.submit({})
    assert denied.value.status == 401


def test_a_wait_times_out_on_time_while_nothing_arrives(gy: Client, queue: str) -> None:
    # The test's own queue has no worker: the job stays queued and its stream stays quiet
    # (a keep-alive every 5 s at most). The timeout must hold anyway.
    job = gy.submit({"training": {"epochs": 5}})
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        gy.wait(job["id"], timeout=2)
    assert time.monotonic() - started < 8  # 2 s, plus slack for a loaded machine
    gy.cancel(job["id"])


def test_upload_dataset_from_rows_and_list(gy: Client) -> None:
    rows = {"inputs": [[1.0, 2.0], [3.0, 4.0]], "targets": [0.25, time.time()]}
    dataset = gy.upload_dataset(rows, name="rows")
    assert dataset["rows"] == 2 and dataset["name"] == "rows"
    assert gy.upload_dataset(rows)["id"] == dataset["id"]
    assert dataset["id"] in [d["id"] for d in gy.datasets(limit=1000)]


def test_events_wait_out_a_refused_stream() -> None:
    """A 429 (too many of the owner's streams open) or 503 (the server's) is tried again after
    its Retry-After, then followed as usual."""
    answers = [
        httpx.Response(429, headers={"Retry-After": "0"}, json={"status": 429}),
        httpx.Response(503, headers={"Retry-After": "0"}, json={"status": 503}),
        httpx.Response(
            200,
            headers={"Content-Type": "text/event-stream"},
            text='id: 0:succeeded\nevent: status\ndata: {"status": "succeeded"}\n\n',
        ),
    ]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    with Client("http://gradyard.test", "token", transport=transport) as gy:
        events = list(gy.events("00000000-0000-4000-8000-000000000000"))
    assert [event.data["status"] for event in events] == ["succeeded"] and not answers
