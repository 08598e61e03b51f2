"""Issue 12 item 1: the 146-byte compute and memory bomb is refused before it is stored.

`moons`, 10,000 samples, MLP(2, [300, 300, 1]), 10,000 epochs: some 58 GB of graph for one
full-batch epoch and hours per epoch. It is only submitted here, to an API: the answer is a 422
that states the estimate and the limit, at once, and nothing is stored or queued.
"""

import time

import httpx

from tests.service.servers import ApiServer

BOMB = {
    "model": {"layers": [300, 300, 1]},
    "data": {"generator": "moons", "samples": 10000},
    "training": {"epochs": 10000},
}


def count_jobs(stack: ApiServer, headers: dict[str, str]) -> int:
    page = httpx.get(f"{stack.url}/api/v1/jobs?limit=1000", headers=headers, timeout=30).json()
    return len(page["items"])


def test_the_bomb_is_a_422_stating_the_estimate_and_the_limit(
    stack: ApiServer, make_token: object
) -> None:
    headers = {"Authorization": f"Bearer {make_token('bomber')}"}  # type: ignore[operator]
    before = count_jobs(stack, headers)
    started = time.monotonic()
    answer = httpx.post(f"{stack.url}/api/v1/jobs", json=BOMB, headers=headers, timeout=30)
    took = time.monotonic() - started
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    [error] = answer.json()["errors"]
    assert error["field"] == "training.batch_size"
    assert "MAX_GRAPH_BYTES" in error["message"] and "estimated" in error["message"]
    assert "91501 parameters x 10000 samples" in error["message"]
    assert took < 5  # refused from the spec alone: nothing ran
    assert count_jobs(stack, headers) == before  # nothing stored

    # Small batches fit in memory, but the total work is still far over the budget.
    batched = {**BOMB, "training": {"epochs": 10000, "batch_size": 10}}
    answer = httpx.post(f"{stack.url}/api/v1/jobs", json=batched, headers=headers, timeout=30)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["field"] == "training.epochs" and "MAX_WORK" in error["message"]
    assert count_jobs(stack, headers) == before
