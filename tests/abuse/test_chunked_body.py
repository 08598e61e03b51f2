"""Issue 12, item 13: ``MAX_BODY_BYTES`` holds whatever the framing.

A body sent with ``Transfer-Encoding: chunked`` has no ``Content-Length`` to refuse it by, and
before the fix the API read the first MAX_BODY_BYTES of it and stopped there silently: 30 MB of
a job followed by spaces was a valid job, cut, and got 202. Now reading one byte past the limit is
a 413 problem, however the body is framed.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from store.db import sessions
from store.models import Job
from store.settings import Settings
from tests.abuse.conftest import bearer, new_owner
from tests.service.servers import ApiServer

LIMIT = Settings.model_fields["max_body_bytes"].default
JOB = b'{"name": "chunked", "training": {"epochs": 2}}'
CHUNK = 64 * 1024


def chunked(size: int) -> Iterator[bytes]:
    """A job document padded with spaces to ``size`` bytes, sent in chunks (no length known)."""
    yield JOB
    left = size - len(JOB)
    while left > 0:
        yield b" " * min(CHUNK, left)
        left -= CHUNK


def post(stack: ApiServer, token: str, content: Any) -> httpx.Response:
    headers = {**bearer(token), "Content-Type": "application/json"}
    return httpx.post(f"{stack.url}/api/v1/jobs", content=content, headers=headers, timeout=60)


def jobs_of(postgres: str, owner: str) -> int:
    with sessions(postgres).begin() as session:
        return session.scalar(select(func.count()).where(Job.owner == owner)) or 0


@pytest.mark.parametrize("size", [30_000_000, LIMIT + 1], ids=["30 MB", "one byte over"])
def test_a_chunked_body_over_the_limit_is_413(
    stack: ApiServer, make_token: Any, postgres: str, size: int
) -> None:
    owner = new_owner("chunked")
    answer = post(stack, make_token(owner), chunked(size))
    assert answer.status_code == 413, answer.text[:300]
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "MAX_BODY_BYTES" in answer.json()["detail"]
    assert jobs_of(postgres, owner) == 0


def test_a_chunked_body_at_the_limit_is_read_whole(
    stack: ApiServer, make_token: Any, postgres: str
) -> None:
    owner = new_owner("chunked")
    answer = post(stack, make_token(owner), chunked(LIMIT))
    assert answer.status_code == 202, answer.text[:300]
    assert jobs_of(postgres, owner) == 1
    cancel = f"{stack.url}/api/v1/jobs/{answer.json()['id']}/cancel"
    httpx.post(cancel, headers=bearer(make_token(owner)), timeout=30)
