"""docker-compose.yml for real: build, up, jobs through nginx, scaling, restarts, a killed worker.

One stack for the module, with its own project name, host ports and volumes (``down -v`` at the
end, whatever happens). The tests run in order on it; each starts from a running stack and submits
its own jobs. Skipped with one line where Docker cannot run; failed instead under ``CI=true``.
On our machines ``../shared/containers/prepare.sh`` (as root) installs Docker and the base images.
"""

import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.compose.stack import Stack, docker_missing, free_port, wait_until

# The build of a fresh machine installs every dependency; later builds take seconds.
pytestmark = pytest.mark.timeout(900)

SETTINGS = {
    "API_WORKERS": "2",  # the default 4 is meant for a server, not a two-core test machine
    "WORKER_CONCURRENCY": "1",  # one job per worker container: a second job needs another
    # Fast beats and little patience, so a killed worker's job moves on within seconds.
    "CHECKPOINT_SECONDS": "0.5",
    "HEARTBEAT_SECONDS": "0.5",
    "HEARTBEAT_TIMEOUT": "4",
    "REAPER_SECONDS": "1",
}
TERMINAL = ("succeeded", "failed", "cancelled")
SLOW_CLIENTS = 200


def moons(epochs: int) -> dict[str, Any]:
    """A job of about a millisecond an epoch, so ``epochs`` sets how long it runs."""
    return {
        "model": {"inputs": 2, "layers": [16, 16, 1], "activation": "relu"},
        "data": {"generator": "moons", "samples": 20},
        "training": {"epochs": epochs, "loss": "hinge"},
    }


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack built and up with one worker; taken down with its volumes afterwards."""
    problem = docker_missing()
    if problem:
        message = (
            f"the compose stack needs Docker: {problem}; "
            "../shared/containers/prepare.sh (as root) installs and starts it"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("compose")
    variables = {
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "SECRET_KEY": secrets.token_urlsafe(32),
        # nginx published on the loopback only, while the test runs.
        "API_PORT": f"127.0.0.1:{free_port()}",
        "FLOWER_PORT": str(free_port()),
        **SETTINGS,
    }
    stack = Stack(f"gradyard-test-{uuid.uuid4().hex[:8]}", variables, workdir)
    failed_before, up = request.session.testsfailed, False
    try:
        stack.compose("build", timeout=800)  # prints how long it took (pytest -s shows it)
        started = time.monotonic()
        stack.up()
        print(f"docker-compose up, /readyz answered: {time.monotonic() - started:.1f} s")
        up = True
        yield stack
    finally:
        if not up or request.session.testsfailed > failed_before:  # keep the logs of a failure
            log = workdir / "compose.log"
            log.write_text(stack.logs(tail="all"))
            print(f"the stack's logs: {log}")
        # Nothing left to shut down gracefully: 3 s for each container, then SIGKILL.
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "3", check=False)


@pytest.fixture(scope="module")
def token(stack: Stack) -> str:
    """A token made on the server, as README's Authentication section says."""
    made = stack.exec("api", "gradyard", "tokens", "create", "compose-test").strip()
    assert made.startswith("gy_"), made
    return made


@pytest.fixture
def api(stack: Stack, token: str) -> Iterator[httpx.Client]:
    """An HTTP client on nginx's published port, sending the token."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=10) as client:
        yield client


def submit(api: httpx.Client, spec: dict[str, Any]) -> str:
    response = api.post("/api/v1/jobs", json=spec)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def wait_done(api: httpx.Client, stack: Stack, job_id: str, timeout: float = 90) -> dict[str, Any]:
    """The job's document once it has ended."""

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = api.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["status"] in TERMINAL else None

    return wait_until(ended, timeout, lambda: f"job {job_id} to end\n{stack.logs('worker')}")


def losses(api: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    page = api.get(f"/api/v1/jobs/{job_id}/losses", params={"limit": 10_000}).json()
    assert page["next"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def claimed_by(stack: Stack, containers: list[str], job_id: str, attempt: int) -> list[str]:
    """The containers whose logs say they claimed this attempt of the job."""
    line = f"job {job_id} attempt {attempt} claimed"
    return [c for c in containers if line in stack.container_log(c)]


def scrape(stack: Stack, service: str = "api") -> str:
    """/metrics as Prometheus inside the compose network reads it: api:8000, from ``service``."""
    fetch = (
        "import urllib.request; "
        "print(urllib.request.urlopen('http://api:8000/metrics', timeout=10).read().decode())"
    )
    return stack.exec(service, "python", "-c", fetch)


def metric(text: str, name: str) -> float:
    """One unlabelled sample of a scrape; 0 when absent (nothing counted yet)."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def test_the_notebook_job_runs_through_nginx(stack: Stack, api: httpx.Client) -> None:
    assert httpx.post(f"{stack.url}/api/v1/jobs", json={}, timeout=10).status_code == 401
    job_id = submit(api, {})  # every field has a default: the notebook's job
    job = wait_done(api, stack, job_id)
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"epoch": 20, "epochs": 20}
    curve = losses(api, job_id)
    assert [point["epoch"] for point in curve] == list(range(1, 21))
    assert curve[-1]["loss"] == job["latest_loss"] < curve[0]["loss"]
    # nginx refuses what the API would refuse, in the API's problem format.
    too_big = api.post("/api/v1/jobs", content=b"x" * 2_000_001)
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    assert "MAX_BODY_BYTES" in too_big.json()["detail"]
    flower = f"http://127.0.0.1:{stack.variables['FLOWER_PORT']}/healthcheck"
    wait_until(lambda: _answers(flower), 60, f"Flower at {flower}\n{stack.logs('flower')}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no client tidies the path): the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while len(answer) < 1_000_000 and (chunk := sock.recv(65536)):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_metrics_are_served_inside_the_network_only(stack: Stack, api: httpx.Client) -> None:
    for target in ("/metrics", "/%6Detrics", "/metrics?format=text", "//metrics", "/x/../metrics"):
        status, body = raw_get(stack.port, target)
        assert status == 404 and b"gradyard_" not in body, (target, status, body[:200])
    inside = scrape(stack, "worker")  # another container, as a Prometheus there would
    assert metric(inside, "gradyard_jobs_submitted_total") >= 1, inside[-2000:]


def test_slow_clients_do_not_starve_the_api(stack: Stack, api: httpx.Client) -> None:
    """Slowloris: many connections that send half a request header and wait (issue 12, item 3)."""
    slow: list[socket.socket] = []
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", stack.port), timeout=5)
            sock.sendall(b"GET /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        for _ in range(3):
            for path, headers in (("/healthz", {}), ("/api/v1/jobs", api.headers)):
                started = time.monotonic()
                # A new connection each time, as a new client would open.
                response = httpx.get(f"{stack.url}{path}", headers=headers, timeout=5)
                elapsed = time.monotonic() - started
                assert response.status_code == 200, (path, response.text)
                assert elapsed < 1.0, f"{path} took {elapsed:.2f} s beside {len(slow)} slow clients"
        for sock in slow:  # still held open by nginx, still waiting: nothing to read yet
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in slow:
            sock.close()


def test_two_jobs_land_on_two_workers_and_events_pass_unbuffered(
    stack: Stack, api: httpx.Client
) -> None:
    workers = stack.scale_workers(2)
    first, second = submit(api, moons(3000)), submit(api, moons(3000))

    # The event stream through nginx: an epoch arrives while the job is still running.
    with api.stream("GET", f"/api/v1/jobs/{first}/events", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 60
        for line in stream.iter_lines():
            assert time.monotonic() < deadline, "no epoch event within 60 s"
            if line == "event: epoch":
                break
        else:
            pytest.fail("the event stream ended without an epoch event")
        assert api.get(f"/api/v1/jobs/{first}").json()["status"] == "running"

    for job_id in (first, second):
        assert wait_done(api, stack, job_id)["status"] == "succeeded"
    hosts = [claimed_by(stack, workers, job_id, 1) for job_id in (first, second)]
    assert len(hosts[0]) == len(hosts[1]) == 1, hosts
    assert hosts[0] != hosts[1], f"both jobs ran on worker {hosts[0]}"


def test_a_killed_workers_job_resumes_on_the_other(stack: Stack, api: httpx.Client) -> None:
    workers = stack.scale_workers(2)
    epochs = 6000
    job_id = submit(api, moons(epochs))

    def half_done() -> bool:  # checkpoints are saved every 0.5 s: one is there by now
        return api.get(f"/api/v1/jobs/{job_id}").json()["progress"]["epoch"] >= epochs // 2

    wait_until(half_done, 90, lambda: f"job {job_id} to train\n{stack.logs('worker')}")
    [victim] = claimed_by(stack, workers, job_id, 1)
    [survivor] = [c for c in workers if c != victim]
    stack.docker("kill", victim)  # SIGKILL: no warm shutdown, the message stays unacknowledged

    job = wait_done(api, stack, job_id, timeout=120)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    assert claimed_by(stack, [survivor], job_id, 2) == [survivor]
    assert [point["epoch"] for point in losses(api, job_id)] == list(range(1, epochs + 1))


def test_stop_and_start_keep_jobs_and_tokens_and_run_what_was_queued(
    stack: Stack, api: httpx.Client
) -> None:
    done = submit(api, {})
    assert wait_done(api, stack, done)["status"] == "succeeded"
    curve = losses(api, done)

    stack.compose("stop", "worker")
    queued = submit(api, {})
    assert api.get(f"/api/v1/jobs/{queued}").json()["status"] == "queued"
    assert metric(scrape(stack), "gradyard_jobs_submitted_total") >= 2

    stack.compose("stop")
    stack.compose("start")
    stack.wait_ready()
    # A fresh start counts afresh: nothing has been submitted since.
    assert metric(scrape(stack), "gradyard_jobs_submitted_total") == 0
    assert wait_done(api, stack, queued)["status"] == "succeeded"  # the token still works
    assert losses(api, done) == curve


def test_down_and_up_keep_jobs_and_tokens(stack: Stack, api: httpx.Client, token: str) -> None:
    job_id = submit(api, {})
    job = wait_done(api, stack, job_id)
    assert job["status"] == "succeeded"
    curve = losses(api, job_id)
    everything = stack.logs(tail="all")
    for secret in (token, stack.variables["SECRET_KEY"], stack.variables["POSTGRES_PASSWORD"]):
        assert secret not in everything, "a secret is in the stack's logs"

    stack.compose("down")  # the containers go; the named volumes stay
    stack.up(workers=1)
    assert api.get(f"/api/v1/jobs/{job_id}").json() == job
    assert losses(api, job_id) == curve
    listed = api.get("/api/v1/jobs", params={"limit": 100}).json()["items"]
    assert job_id in {item["id"] for item in listed}
    assert api.get("/readyz").json()["checks"] == {"database": True, "broker": True}
