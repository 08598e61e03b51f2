"""Live events: the SSE stream of a job through the real stack, its resumption, its wake-ups."""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import insert, update
from sqlalchemy.exc import OperationalError

from store import events, jobs
from store.db import sessions
from store.models import EpochLoss, Job
from tests.service.conftest import BROKER_URL, DATABASE_URL, wait_for_status

NOTEBOOK = {"model": {"layers": [4, 4, 1]}, "data": {"generator": "notebook"}}


def read_stream(response: Any) -> Iterator[dict[str, Any]]:
    """Each event ({"id", "event", "data"}) or comment ({"comment"}) of a streamed response."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield parse_block(block)


def parse_block(block: str) -> dict[str, Any]:
    if block.startswith(":"):
        return {"comment": block[1:].strip()}
    fields = dict(line.split(": ", 1) for line in block.splitlines())
    if "data" in fields:
        fields["data"] = json.loads(fields["data"])
    return fields


def all_events(client: Any, job_id: str, last_event_id: str | None = None) -> list[dict[str, Any]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"/api/v1/jobs/{job_id}/events", headers=headers, buffered=False)
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == "text/event-stream"
    try:
        return [e for e in read_stream(response) if "event" in e]
    finally:
        response.close()


def epochs_of(stream: list[dict[str, Any]]) -> list[int]:
    return [p[0] for e in stream if e["event"] == "epoch" for p in e["data"]["points"]]


@pytest.mark.usefixtures("worker")
def test_a_stream_follows_a_job_to_its_end_and_resumes_without_gaps(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "MAX_POINTS", 1_000_000)  # every point, to check for gaps
    epochs = 3000
    job = client.post("/api/v1/jobs", json={**NOTEBOOK, "training": {"epochs": epochs}})
    job_id = job.get_json()["id"]
    live = all_events(client, job_id)

    kinds = [e["event"] for e in live]
    assert kinds[-1] == "status" and live[-1]["data"]["status"] == "succeeded"
    assert live[-1]["data"]["epoch"] == epochs
    assert kinds.count("epoch") >= 2, "a 3000-epoch job should arrive in several batches"
    statuses = [e["data"]["status"] for e in live if e["event"] == "status"]
    assert statuses[-2:] == ["running", "succeeded"]
    assert epochs_of(live) == list(range(1, epochs + 1))  # every epoch once, in order
    for event in live:  # each id is the cursor EPOCH:STATUS after that event
        epoch, status = event["id"].split(":")
        if event["event"] == "epoch":
            assert int(epoch) == event["data"]["epoch"] == event["data"]["points"][-1][0]
        else:
            assert status == event["data"]["status"]
    losses = {p["epoch"]: p["loss"] for p in client_losses(client, job_id)}
    for event in live:
        if event["event"] == "epoch":
            assert all(losses[e] == loss for e, loss, *_ in event["data"]["points"])

    # Resuming after any event gives exactly the rest: no gap, no repeat.
    for k, event in enumerate(live[:-1]):
        rest = all_events(client, job_id, last_event_id=event["id"])
        assert epochs_of(live[: k + 1]) + epochs_of(rest) == list(range(1, epochs + 1))
        assert rest[-1]["data"]["status"] == "succeeded"
        assert all(
            e["data"]["status"] != event["id"].split(":")[1]
            for e in rest[:-1]
            if e["event"] == "status"
        )


def client_losses(client: Any, job_id: str) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/jobs/{job_id}/losses?limit=10000").get_json()["items"]


@pytest.mark.usefixtures("worker")
def test_a_finished_stream_says_so_and_bad_requests_are_problems(
    client: Any, make_token: Any
) -> None:
    job_id = client.post("/api/v1/jobs", json={"training": {"epochs": 5}}).get_json()["id"]
    wait_for_status(client, job_id, {"succeeded"})
    url = f"/api/v1/jobs/{job_id}/events"
    fresh = all_events(client, job_id)
    assert [e["event"] for e in fresh] == ["epoch", "status"]
    assert fresh[-1]["id"] == "5:succeeded"
    # A client that has seen the end is told to stop reconnecting.
    finished = client.get(url, headers={"Last-Event-ID": "5:succeeded"})
    assert finished.status_code == 204 and "Content-Type" not in finished.headers
    # An id past the job's epochs resumes from the job as stored, not from the made-up epoch.
    ahead = all_events(client, job_id, last_event_id="999:running")
    assert [e["id"] for e in ahead] == ["5:succeeded"]

    bad = client.get(url, headers={"Last-Event-ID": "five"})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert bad.get_json()["errors"][0]["field"] == "Last-Event-ID"
    assert bad.get_json()["detail"].count("Last-Event-ID") == 1  # named once, by the field
    for points in ("-1", "501", "many"):
        bad = client.get(f"{url}?points={points}")
        assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
        assert bad.get_json()["errors"][0]["field"] == "points"
    assert client.get(f"{url}?point=3").status_code == 422  # a misspelt parameter is not ignored
    # A client that only waits asks for no points; the newest epoch's measures still come.
    waiting = client.get(f"{url}?points=0", buffered=False)
    try:
        shown = [e for e in read_stream(waiting) if "event" in e]
    finally:
        waiting.close()
    assert [(e["id"], e["event"]) for e in shown] == [(e["id"], e["event"]) for e in fresh]
    assert shown[0]["data"] == {**fresh[0]["data"], "points": []}
    assert fresh[0]["data"]["points"][-1][:2] == [5, shown[0]["data"]["loss"]]
    missing = client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000/events")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    stranger = {"Authorization": f"Bearer {make_token('stranger')}"}
    assert client.get(url, headers=stranger).status_code == 404
    anonymous = client.get(url, headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"


# --- the stream over rows the test writes itself -----------------------------------------------


@pytest.fixture
def job_id(services: None) -> str:
    with sessions(DATABASE_URL).begin() as session:
        return jobs.create_job(session, {"training": {"epochs": 5000}}, "events", "tester").id


def set_job(job_id: str, **values: Any) -> None:
    with sessions(DATABASE_URL).begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def record(job_id: str, first: int, last: int) -> None:
    """Persist epochs first..last as a worker's flush does: losses and the row together."""
    rows = [
        {"job_id": job_id, "epoch": e, "loss": 1.0 / e, "accuracy": None}
        for e in range(first, last + 1)
    ]
    with sessions(DATABASE_URL).begin() as session:
        session.execute(insert(EpochLoss), rows)
        session.execute(update(Job).where(Job.id == job_id).values(epoch=last))


def read(job_id: str, cursor: events.Cursor) -> tuple[list[events.Event], events.Cursor]:
    with sessions(DATABASE_URL).begin() as session:
        return events.read_events(session, job_id, cursor)


def test_events_come_in_the_order_things_happened(job_id: str) -> None:
    found, cursor = read(job_id, events.Cursor())
    assert [(e.id, e.event) for e in found] == [("0:queued", "status")]
    set_job(job_id, status="running")
    record(job_id, 1, 2000)
    found, cursor = read(job_id, cursor)
    assert [(e.id, e.event) for e in found] == [("0:running", "status"), ("2000:running", "epoch")]
    points = found[1].data["points"]
    assert len(points) <= events.MAX_POINTS
    assert points[-1] == [2000, 1 / 2000, None, None, None, None, None]
    assert found[1].data == {**found[1].data, "epoch": 2000, "epochs": 5000, "loss": 1 / 2000}

    # A retried job: requeued and rewound. The status is news; the epochs already sent are not.
    set_job(job_id, status="queued", epoch=1500)
    found, cursor = read(job_id, cursor)
    assert [e.id for e in found] == ["2000:queued"]
    set_job(job_id, status="running")
    record(job_id, 2001, 2010)
    found, cursor = read(job_id, cursor)
    assert [e.id for e in found] == ["2000:running", "2010:running"]
    assert [p[0] for p in found[1].data["points"]] == list(range(2001, 2011))

    # The last epochs, then the end.
    record(job_id, 2011, 2020)
    set_job(job_id, status="failed", error="boom")
    found, cursor = read(job_id, cursor)
    assert [e.id for e in found] == ["2020:running", "2020:failed"]
    assert found[1].data["error"] == "boom" and cursor.finished


def test_an_event_holds_as_many_points_as_asked_and_always_the_newest(job_id: str) -> None:
    set_job(job_id, status="running")
    record(job_id, 1, 100)
    with sessions(DATABASE_URL).begin() as session:
        asked = {
            most: events.read_events(session, job_id, events.Cursor(0, "running"), most)[0]
            for most in (None, 0, 1, 7, 100)
        }
    assert [len(found) for found in asked.values()] == [1] * 5  # one epoch event each
    points = {most: found[0].data["points"] for most, found in asked.items()}
    assert [p[0] for p in points[None]] == [p[0] for p in points[100]] == list(range(1, 101))
    assert points[0] == [] and [p[0] for p in points[1]] == [100]
    assert [p[0] for p in points[7]] == [10, 25, 40, 55, 70, 85, 100]  # every 15th, back
    for found in asked.values():  # the newest epoch's measures, whatever the points
        assert found[0].data == {**asked[None][0].data, "points": found[0].data["points"]}
        assert found[0].data["loss"] == 1 / 100


def stream(job_id: str, wakeups: events.Wakeups, heartbeat: float = 30, most: float = 30) -> Any:
    return events.stream(sessions(DATABASE_URL), job_id, events.Cursor(), wakeups, heartbeat, most)


def later(seconds: float, action: Any) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("mode", ["polling", "redis"])
def test_a_stream_wakes_for_new_progress(job_id: str, mode: str) -> None:
    redis_url = BROKER_URL if mode == "redis" else None
    wakeups = events.Wakeups(redis_url, poll_seconds=0.05)
    body = stream(job_id, wakeups)  # a 30 s heartbeat: only a wake-up (or polling) is quick
    first = next(body)
    assert first.startswith("retry:") and "0:queued" in first  # one block: no empty event

    def progress() -> None:
        set_job(job_id, status="running")
        record(job_id, 1, 10)
        wakeups.publish(job_id)

    later(0.3, progress)
    started = time.monotonic()
    assert "0:running" in next(body)
    assert "10:running" in next(body)
    assert time.monotonic() - started < 3
    later(0.2, lambda: (set_job(job_id, status="succeeded"), wakeups.publish(job_id)))
    assert "10:succeeded" in next(body)
    assert list(body) == []  # and the stream ends


def test_heartbeats_a_bounded_life_and_a_clean_close(job_id: str) -> None:
    wakeups = events.Wakeups(BROKER_URL, poll_seconds=0.05)
    started = time.monotonic()
    chunks = list(stream(job_id, wakeups, heartbeat=0.1, most=0.6))
    assert 0.5 < time.monotonic() - started < 3
    assert ": keep-alive\n\n" in chunks and "0:queued" in chunks[0]

    body = stream(job_id, wakeups)
    next(body)  # the first event: the stream is subscribed and reading
    subscribers = redis.Redis.from_url(BROKER_URL)
    channel = events.channel(job_id)
    assert subscribers.pubsub_numsub(channel) == [(channel.encode(), 1)]
    body.close()  # what the server does when the client goes away
    assert subscribers.pubsub_numsub(channel) == [(channel.encode(), 0)]


def test_cursors_read_and_write_as_event_ids() -> None:
    assert events.Cursor.parse(None) == events.Cursor()
    assert events.Cursor.parse("120:running") == events.Cursor(120, "running")
    assert str(events.Cursor(7, "succeeded")) == "7:succeeded"
    for bad in ("120", "x:running", "-1:running", "1:RUNNING", "1:running:2"):
        with pytest.raises(events.BadCursor):
            events.Cursor.parse(bad)


def test_a_database_lost_mid_stream_ends_the_stream_not_the_server(
    client: Any, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the view, Flask's handlers cannot turn an outage into a 503; an exception would reach
    the server, which answers 500 when nothing was sent yet. The stream ends instead."""

    def outage(*_: Any) -> Any:
        raise OperationalError("SELECT …", {}, Exception("server closed the connection"))

    monkeypatch.setattr(events, "read_events", outage)
    response = client.get(f"/api/v1/jobs/{job_id}/events", buffered=False)
    assert response.status_code == 200
    assert list(read_stream(response)) == []  # ended, and nothing raised
    response.close()
    monkeypatch.undo()
    assert all_events(client, job_id)[0]["event"] == "status"  # its place was given back


def test_a_redis_handshake_broken_under_load_means_polling_not_a_failed_stream(
    job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load, redis-py can time out a new connection's handshake, close its buffer and
    then read from it: a ValueError, which once reached the server as a 500."""

    def broken(*_: Any, **__: Any) -> None:
        raise ValueError("I/O operation on closed file.")

    monkeypatch.setattr(redis.client.PubSub, "subscribe", broken)
    wakeups = events.Wakeups(BROKER_URL, poll_seconds=0.05)
    chunks = list(stream(job_id, wakeups, heartbeat=0.1, most=0.4))
    assert "0:queued" in chunks[0] and ": keep-alive\n\n" in chunks  # it polled to its end
