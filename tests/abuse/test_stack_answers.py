"""The abuse suite's own footing: the stack it attacks is up, as deployed, with tokens required."""

import httpx

from tests.service.servers import ApiServer


def test_the_stack_requires_a_token_and_answers_with_one(
    stack: ApiServer, auth_headers: dict[str, str]
) -> None:
    assert httpx.get(f"{stack.url}/api/v1/jobs", timeout=10).status_code == 401
    answer = httpx.get(f"{stack.url}/api/v1/jobs", headers=auth_headers, timeout=10)
    assert answer.status_code == 200 and "items" in answer.json()
