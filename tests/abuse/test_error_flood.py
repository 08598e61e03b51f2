"""Issue 12 item 2: a 2 MB invalid body once built a 135-167 MB error response (an error per bad
element) and grew the API by over 1 GB; four at once took it from 633 MB to 4.3 GB. Now lists stop
at their first bad item and a problem lists at most 20 errors: small answers, flat memory."""

import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.service.servers import ApiServer, children

ELEMENTS = 340_000  # "x", each (5 bytes, with the rows): just under the 2,000,000-byte limit


def bad_bodies() -> list[bytes]:
    rows = [["x"] * 10] * (ELEMENTS // 10)
    inline = json.dumps({"data": {"inputs": rows, "targets": [0.0] * len(rows)}})
    flat = json.dumps({"data": {"inputs": [[1.0]] * 4, "targets": ["x"] * ELEMENTS}})
    return [inline.encode(), flat.encode()]


def api_rss(stack: ApiServer) -> int:
    """Resident bytes of the API's gunicorn processes, added up."""
    total = 0
    for pid in [stack.process.pid, *children(stack.process.pid)]:
        status = Path(f"/proc/{pid}/status").read_text()
        [line] = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        total += int(line.split()[1]) * 1024
    return total


def test_huge_invalid_bodies_get_small_answers_and_the_api_stays_small(
    stack: ApiServer, auth_headers: dict[str, str]
) -> None:
    bodies = bad_bodies()
    assert all(len(body) < 2_000_000 for body in bodies)
    headers = {**auth_headers, "Content-Type": "application/json"}

    def send(body: bytes) -> httpx.Response:
        return httpx.post(f"{stack.url}/api/v1/jobs", content=body, headers=headers, timeout=60)

    # The first bodies each process parses grow it once (to ~1 GB for both, with the malloc
    # arenas bounded in service/wsgi.py). After that a round may still grow it now and then
    # (freed memory that the allocator keeps, up to ~150 MB on a loaded machine) but not every
    # round: a leak would (before: +1 GB each body). So: the median of five rounds, and all five.
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            list(pool.map(send, bodies * 4))
    growth, answers = [], []
    for _ in range(5):
        before = api_rss(stack)
        with ThreadPoolExecutor(4) as pool:
            answers += pool.map(send, bodies * 4)
        growth.append(api_rss(stack) - before)
    for answer in answers:
        assert answer.status_code == 422, answer.text[:500]
        assert len(answer.content) < 16_000  # was 135-167 MB
        problem = answer.json()
        assert 1 <= len(problem["errors"]) <= 20
    rounds = [f"{g / 1024**2:.0f}" for g in growth]
    # 8 bodies a round: a leak of 7 MB a body fails the first check, of 10 MB the second.
    assert statistics.median(growth) < 50 * 1024**2, f"MB grown per round of 8 bodies: {rounds}"
    assert sum(growth) < 400 * 1024**2, f"MB grown per round of 8 bodies: {rounds}"
