"""`gradyard serve` (what `make run` starts): auth off by default and loudly so; AUTH=on works.

Runs the embedded mode (SQLite, file-system broker) in its own folder; needs no Postgres or Redis.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

GRADYARD = str(Path(sys.executable).with_name("gradyard"))
JOB = {"training": {"epochs": 3}}
Start = Callable[..., tuple[str, Path, dict[str, str]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(**extra: str) -> dict[str, str]:
    """This environment without the suite's service settings, as a newcomer's shell has it."""
    dropped = ("DATABASE_URL", "BROKER_URL", "QUEUE_NAME", "AUTH", "SECRET_KEY")
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """A function starting `gradyard serve` with extra environment; returns (url, log, env)."""
    processes: list[subprocess.Popen[bytes]] = []

    def run(**extra: str) -> tuple[str, Path, dict[str, str]]:
        port = free_port()
        env = embedded_env(PORT=str(port), **extra)
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [GRADYARD, "serve"],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url, log, env
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    yield run
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.timeout(120)
def test_make_run_is_auth_off_and_says_so(start: Start) -> None:
    url, log, _ = start()
    response = httpx.post(f"{url}/api/v1/jobs", json=JOB, timeout=10)
    assert response.status_code == 202, response.text
    assert httpx.get(f"{url}/api/v1/jobs", timeout=10).json()["items"]
    assert "WARNING: AUTH is off" in log.read_text()


@pytest.mark.timeout(120)
def test_auth_on_make_run_needs_a_token(start: Start) -> None:
    url, log, env = start(AUTH="on")
    assert httpx.post(f"{url}/api/v1/jobs", json=JOB, timeout=10).status_code == 401
    text = log.read_text()
    assert "AUTH is off" not in text and "tokens create" in text

    created = subprocess.run(
        [GRADYARD, "tokens", "create", "me"],
        cwd=log.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{url}/api/v1/jobs", json=JOB, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    job_url = f"{url}/api/v1/jobs/{response.json()['id']}"
    assert httpx.get(job_url, headers=headers, timeout=10).status_code == 200
    assert token not in log.read_text(), "a token reached the log"


@pytest.mark.timeout(180)
def test_two_serves_from_one_folder_keep_their_own_metrics(start: Start) -> None:
    first, _, _ = start()
    second, _, _ = start()
    httpx.post(f"{first}/api/v1/jobs", json=JOB, timeout=10).raise_for_status()

    def submitted(url: str) -> float:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        lines = [
            line for line in text.splitlines() if line.startswith("gradyard_jobs_submitted_total")
        ]
        return float(lines[0].split()[-1]) if lines else 0.0

    assert submitted(first) == 1.0 and submitted(second) == 0.0
