"""Issue 12, item 12: the submission rate counts jobs made, and refuses before reading the body.

Before the fix every submission that reached the counter was counted, so quota refusals used up
the owner's rate, and a 2 MB body was read and parsed before its 429. Now the rate is checked
first, before the body is read, and a submission that ends up creating nothing (refused by the
quota, invalid, a replay of an ``Idempotency-Key``, a broker outage) gives its count back: the
counter in Redis equals the jobs made, however many race.
"""

import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import update

from store.db import sessions
from store.models import Job, utcnow
from tests.abuse.conftest import bearer, new_owner
from tests.service.conftest import BROKER_URL
from tests.service.servers import ApiServer, drop_queue, private_queue

pytestmark = pytest.mark.usefixtures("services")

RATE_LIMIT, MAX_ACTIVE = 3, 2
WINDOW = 10**7  # one window for the whole test (a boundary falls every 116 days)
JOB = {"training": {"epochs": 2}}
BAD = {"training": {"epochs": 0}}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, postgres: str) -> Iterator[ApiServer]:
    """The API with low limits, on a queue no worker reads: its jobs stay queued (active)."""
    queue = private_queue()
    env = {
        "RATE_LIMIT": str(RATE_LIMIT),
        "RATE_WINDOW_SECONDS": str(WINDOW),
        "MAX_ACTIVE_JOBS": str(MAX_ACTIVE),
        "QUEUE_NAME": queue,
    }
    server = ApiServer(tmp_path_factory.mktemp("rate") / "api.log", workers=2, threads=8, **env)
    started = utcnow()
    try:
        yield server
    finally:
        server.stop()
        drop_queue(BROKER_URL, queue)
        # Jobs left queued would be sent again by a later test's worker (its reaper resends jobs
        # queued for QUEUED_TIMEOUT), into that test's queue.
        with sessions(postgres).begin() as session:
            session.execute(
                update(Job)
                .where(Job.status == "queued", Job.created_at >= started, Job.owner.in_(OWNERS))
                .values(status="cancelled", finished_at=utcnow())
            )


OWNERS: list[str] = []


def owner_of_this_module(prefix: str) -> str:
    """A new owner, whose jobs the module cancels when it is done."""
    OWNERS.append(new_owner(prefix))
    return OWNERS[-1]


def counted(server: ApiServer, owner: str) -> int:
    """The owner's submissions as the Redis counter holds them."""
    queue = server.env["QUEUE_NAME"]
    key = f"{queue}:rate:{owner}:{int(time.time() // WINDOW)}"
    return int(redis.Redis.from_url(BROKER_URL).get(key) or 0)


def submit(http: httpx.Client, body: Any = JOB, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return http.post("/api/v1/jobs", json=body, headers=headers)


def test_only_jobs_made_are_counted(limited: ApiServer, make_token: Any) -> None:
    owner = owner_of_this_module("rate")
    with httpx.Client(base_url=limited.url, headers=bearer(make_token(owner)), timeout=30) as http:
        key = str(uuid.uuid4())
        first = submit(http, key=key)
        assert first.status_code == 202
        assert [submit(http, key=key).status_code for _ in range(5)] == [200] * 5  # replays
        assert [submit(http, BAD).status_code for _ in range(3)] == [422] * 3
        assert submit(http).status_code == 202  # the second active job: the quota is full
        refused = [submit(http) for _ in range(3)]
        assert {r.json()["type"] for r in refused} == {"/problems/too-many-active-jobs"}
        assert counted(limited, owner) == 2

        assert http.post(f"/api/v1/jobs/{first.json()['id']}/cancel").status_code == 202
        third = submit(http)  # refusals gave their count back: there is room for a third
        assert third.status_code == 202, third.text
        assert http.post(f"/api/v1/jobs/{third.json()['id']}/cancel").status_code == 202
        over = submit(http)
        assert over.status_code == 429 and over.json()["type"] == "/problems/rate-limited"
        assert int(over.headers["Retry-After"]) >= 1
        assert submit(http, key=key).status_code == 200  # a replay is free, even at the limit
        assert counted(limited, owner) == RATE_LIMIT


def test_a_refused_submission_is_refused_before_its_body_is_read(
    limited: ApiServer, make_token: Any
) -> None:
    owner = owner_of_this_module("body")
    headers = bearer(make_token(owner))
    with httpx.Client(base_url=limited.url, headers=headers, timeout=30) as http:
        for _ in range(RATE_LIMIT):  # each cancelled at once, so the quota never refuses first
            made = submit(http)
            assert http.post(f"/api/v1/jobs/{made.json()['id']}/cancel").status_code == 202
        big = b'{"name": "' + b"x" * 1_999_000 + b'"}'
        started = time.perf_counter()
        refused = http.post(
            "/api/v1/jobs", content=big, headers={"Content-Type": "application/json"}
        )
        seconds = time.perf_counter() - started
    assert refused.status_code == 429, refused.text
    print(f"\na 2 MB body refused in {seconds:.3f} s")

    # The same request sending its headers and a first kilobyte of a 2 MB body, then nothing:
    # only a server that has not waited for the body can answer.
    host, port = limited.url.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Length: {len(big)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + big[:1024])
        started = time.perf_counter()
        try:
            answer = sock.recv(200)
        except TimeoutError:
            answer = b"(nothing within 10 s)"
        seconds = time.perf_counter() - started
    print(f"headers and 1 kB of a 2 MB body: {answer[:40]!r} after {seconds:.3f} s")
    assert answer.startswith(b"HTTP/1.1 429"), answer


def test_racing_submissions_count_exactly_the_jobs_made(
    limited: ApiServer, make_token: Any
) -> None:
    owner = owner_of_this_module("race")
    headers = bearer(make_token(owner))
    key = str(uuid.uuid4())
    bodies: list[tuple[Any, str | None]] = [(JOB, None)] * 16 + [(JOB, key)] * 4 + [(BAD, None)] * 4

    def send(case: tuple[Any, str | None]) -> int:
        with httpx.Client(base_url=limited.url, headers=headers, timeout=30) as http:
            return submit(http, *case).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = Counter(pool.map(send, bodies))
    print(f"\n{len(bodies)} racing submissions: {dict(statuses)}")
    made = statuses[202]
    # The rate is checked before a body is read, so an invalid body may be refused by the rate
    # as well; and while it is read it holds a place, so a valid one may be refused meanwhile.
    # Whatever the interleaving, the quota caps what is made, and the counter holds exactly that.
    assert 1 <= made <= MAX_ACTIVE
    assert statuses[422] <= 4 and set(statuses) <= {200, 202, 422, 429}
    assert counted(limited, owner) == made
