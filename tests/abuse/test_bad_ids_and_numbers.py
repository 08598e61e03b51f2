"""Issue 12, item 11: inputs that made 500s, each now a 404 or a 422 problem document.

A NUL byte in a job id (Postgres refuses to compare text with it) on every job path of the API
and of the dashboard, and in a job's name; integers past what Postgres' int4 columns hold in
``/losses``; and the decision boundary of a job trained on inputs near the largest float.
"""

from collections.abc import Callable

import httpx
import pytest

from engine import parse_spec, train
from store.status import JobStatus
from tests.abuse.conftest import bearer, new_owner
from tests.service.servers import ApiServer

BAD_IDS = [
    "abc%00def",
    "%00",
    "00000000-0000-4000-8000-00000000000%00",
    "not-a-uuid",
    "x" * 2000,
    "00000000-0000-4000-8000-000000000000%20",
]
API_PATHS = [
    ("GET", "/api/v1/jobs/{}"),
    ("GET", "/api/v1/jobs/{}/events"),
    ("GET", "/api/v1/jobs/{}/losses"),
    ("GET", "/api/v1/jobs/{}/weights"),
    ("POST", "/api/v1/jobs/{}/predict"),
    ("POST", "/api/v1/jobs/{}/cancel"),
]
PAGE_PATHS = ["/jobs/{}", "/jobs/{}/boundary.svg", "/jobs/{}/weights.json"]
INT4_MAX = 2**31 - 1


def is_problem(answer: httpx.Response, status: int) -> bool:
    """True for a problem document of this status."""
    return (
        answer.status_code == status
        and answer.headers["Content-Type"] == "application/problem+json"
        and answer.json()["status"] == status
    )


@pytest.mark.parametrize("job_id", BAD_IDS, ids=range(len(BAD_IDS)))
def test_a_job_id_that_is_not_a_uuid_is_404_everywhere(
    stack: ApiServer, api_token: str, job_id: str
) -> None:
    headers = bearer(api_token)
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        for method, path in API_PATHS:
            body = {"inputs": [[1.0]]} if path.endswith("predict") else None
            answer = http.request(method, path.format(job_id), headers=headers, json=body)
            assert is_problem(answer, 404), (method, path, answer.status_code, answer.text)
        http.cookies.set("gradyard_token", api_token)  # how the dashboard's pages know who
        for path in PAGE_PATHS:  # a browser's page: the dashboard's own "no such job" page
            answer = http.get(path.format(job_id))
            assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])


def test_a_nul_byte_in_a_jobs_name_is_422(stack: ApiServer, auth_headers: dict[str, str]) -> None:
    job = {"name": "abc\x00def", "training": {"epochs": 2}}
    answer = httpx.post(f"{stack.url}/api/v1/jobs", json=job, headers=auth_headers, timeout=30)
    assert is_problem(answer, 422), answer.text
    assert [error["field"] for error in answer.json()["errors"]] == ["name"]


@pytest.mark.parametrize(
    "query",
    [
        f"after={INT4_MAX + 1}",
        "after=99999999999999999999999",
        "every=1e40",
        f"every={10**40}",
        f"every={INT4_MAX + 1}",
        f"limit={10**30}",
    ],
)
def test_integers_past_the_columns_are_422(
    stack: ApiServer, api_token: str, held_job: Callable[..., str], query: str
) -> None:
    job_id = held_job("tester", JobStatus.SUCCEEDED)
    url = f"{stack.url}/api/v1/jobs/{job_id}/losses?{query}"
    answer = httpx.get(url, headers=bearer(api_token), timeout=30)
    assert is_problem(answer, 422), answer.text
    assert answer.json()["errors"][0]["field"] == query.split("=")[0]


@pytest.mark.parametrize("query", [f"after={INT4_MAX}", f"every={INT4_MAX}", "after=5&every=3"])
def test_the_largest_integers_the_columns_hold_are_fine(
    stack: ApiServer, api_token: str, held_job: Callable[..., str], query: str
) -> None:
    job_id = held_job("tester", JobStatus.SUCCEEDED)
    url = f"{stack.url}/api/v1/jobs/{job_id}/losses?{query}"
    answer = httpx.get(url, headers=bearer(api_token), timeout=30)
    assert answer.status_code == 200 and answer.json() == {"items": [], "next": None}


def test_the_boundary_of_a_job_trained_on_huge_inputs_is_drawn(
    stack: ApiServer, make_token: Callable[..., str], held_job: Callable[..., str]
) -> None:
    owner = new_owner("huge")
    token = make_token(owner)
    edge = 1e308
    spec = parse_spec(
        {
            "model": {"inputs": 2, "layers": [4, 1]},
            "data": {
                "inputs": [[edge, -edge], [-edge, edge], [edge, edge], [-edge, -edge]],
                "targets": [1.0, -1.0, 1.0, -1.0],
            },
            "training": {"epochs": 5},
        }
    )
    # Trained here by the worker's engine: a second session worker (this suite's instance of the
    # fixture) would be a second consumer of the suite's queue, and the service suite needs one.
    weights = train(spec).weights
    job_id = held_job(owner, JobStatus.SUCCEEDED, spec=spec.to_dict(), weights=weights)
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        http.cookies.set("gradyard_token", token)
        picture = http.get(f"/jobs/{job_id}/boundary.svg")
    assert picture.status_code == 200, picture.text[:300]
    assert picture.headers["Content-Type"].startswith("image/svg+xml")
    svg = picture.text
    assert svg.startswith("<svg") and "nan" not in svg and "inf" not in svg
