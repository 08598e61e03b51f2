"""Issue 12, item 7: ``/readyz`` must answer when Redis is stalled, and ``/healthz`` stay fast.

A stalled Redis (``kill -STOP``) still accepts TCP connections, since the kernel completes the
handshake, and then never answers: before the fix ``/readyz`` waited for it forever (201 s until
the process was resumed) and 15 of them took the threads ``/healthz`` needed. The test stops a
redis-server of its own with SIGSTOP and resumes it in a ``finally``.
"""

import os
import signal
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.service.servers import ApiServer, RedisServer, private_queue, wait_until

pytestmark = pytest.mark.usefixtures("services")

PENDING = 15  # readiness calls in flight at once, as in the report


@pytest.fixture
def stalled(tmp_path: Path) -> Iterator[tuple[ApiServer, RedisServer]]:
    """The API on a Redis of the test's own, which the test may stop."""
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    env = {"BROKER_URL": redis_server.url, "QUEUE_NAME": private_queue()}
    api = ApiServer(tmp_path / "api.log", workers=2, threads=8, **env)
    try:
        yield api, redis_server
    finally:
        api.stop()
        redis_server.stop()


def timed_get(url: str) -> tuple[int, float]:
    """The status of ``GET url`` and the seconds it took (599 for no answer within 30 s)."""
    started = time.perf_counter()
    try:
        status = httpx.get(url, timeout=30).status_code
    except httpx.TimeoutException:
        status = 599
    return status, time.perf_counter() - started


def test_readyz_answers_503_quickly_and_healthz_stays_fast(
    stalled: tuple[ApiServer, RedisServer],
) -> None:
    api, redis_server = stalled
    assert redis_server.process is not None
    wait_until(lambda: timed_get(f"{api.url}/readyz")[0] == 200, 30, "the API to be ready")
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(PENDING + 1) as pool:
            ready = [pool.submit(timed_get, f"{api.url}/readyz") for _ in range(PENDING)]
            time.sleep(0.5)  # the readiness calls are in flight: now is when healthz starved
            health = [timed_get(f"{api.url}/healthz") for _ in range(5)]
            answers = [future.result() for future in ready]
        print(f"\nreadyz with Redis stopped: {answers}\nhealthz meanwhile: {health}")
        assert all(status == 503 for status, _ in answers), answers
        assert max(seconds for _, seconds in answers) < 10, answers
        assert all(status == 200 for status, _ in health), health
        assert statistics.median(seconds for _, seconds in health) < 1.0, health
        problem = httpx.get(f"{api.url}/readyz", timeout=30)
        assert problem.headers["Content-Type"] == "application/problem+json"
        assert "broker" in problem.json()["detail"] and "Retry-After" in problem.headers
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    wait_until(lambda: timed_get(f"{api.url}/readyz")[0] == 200, 30, "readiness after SIGCONT")
