"""The embedded default as a newcomer runs it: `gradyard serve` (what `make run` starts) on SQLite
and the file-system broker, driven by the README's own curl session, stopped with Ctrl-C and
started again without losing queued jobs. Needs no Postgres or Redis."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import train
from tests.service.specs import moons_job

ROOT = Path(__file__).resolve().parents[2]
GRADYARD = str(Path(sys.executable).with_name("gradyard"))
SLOW_JOB = moons_job(150, samples=100)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """`gradyard serve` in its own folder, as `make run` starts it."""

    def __init__(self, folder: Path, port: int, **extra_env: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_URL", "BROKER_URL", "QUEUE_NAME", "AUTH"))
        }
        env.update(PORT=str(port), AUTH="off", **extra_env)
        self.log = (folder / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [GRADYARD, "serve"],
            cwd=folder,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.folder = folder

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gradyard serve never became ready:\n{self.output()}")

    def output(self) -> str:
        return (self.folder / "serve.log").read_text(errors="replace")[-4000:]

    def ctrl_c(self, timeout: float = 40) -> int:
        # A terminal's Ctrl-C reaches the whole foreground process group.
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path, free_port())
    try:
        server.wait_ready()
        yield server
    finally:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)


def readme_curl_session() -> list[tuple[str, str]]:
    """The curl commands of the README's 'API at a glance' block (continuation lines joined),
    each with the answer it shows after ``# ->``."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The API at a glance", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README lost its curl session"
    joined = block.group(1).replace("\\\n", " ")
    session = []
    for line in joined.splitlines():
        if line.startswith("curl"):
            command, _, shown = line.partition("# ->")
            session.append((command.strip(), shown.strip()))
    return session


def shows(shown: str, answer: Any) -> bool:
    """Whether the answer is what the README shows, ``…`` standing for anything (spaces aside)."""
    pattern = ".*?".join(re.escape(part) for part in shown.replace(" ", "").split("…"))
    actual = json.dumps(answer, separators=(",", ":"))
    return re.fullmatch(pattern, actual) is not None


def run_curl(command: str, url: str, job_id: str = "") -> Any:
    command = command.replace("http://127.0.0.1:8000", url)
    result = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "ID": job_id},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def wait_status(url: str, job_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = httpx.get(f"{url}/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_readme_curl_session_against_gradyard_serve(serve: Serve) -> None:
    session = readme_curl_session()
    assert len(session) >= 6 and all(shown for _, shown in session)
    (submit, shown), *rest = session
    submitted = run_curl(submit, serve.url)
    assert shows(shown, submitted), (shown, submitted)
    job_id = submitted["id"]
    wait_status(serve.url, job_id, {"succeeded"})
    answers = [run_curl(command, serve.url, job_id) for command, _ in rest]
    for (_, shown), answer in zip(rest, answers, strict=True):
        assert shows(shown, answer), (shown, answer)  # every output shown is the real one
    job, losses, weights, predicted, cancelled = answers[:5]
    for answer in (job, losses, weights, predicted):
        assert not str(answer.get("type", "")).startswith("/problems"), answer
    assert job["status"] == "succeeded" and job["progress"] == {"epoch": 20, "epochs": 20}
    assert [item["epoch"] for item in losses["items"]] == list(range(1, 21))
    assert weights["format"].startswith("gradyard.mlp")
    assert len(predicted["outputs"]) == 1
    assert cancelled["status"] == 409  # the README's last line cancels a finished job


def stored_status(folder: Path, job_id: str) -> str:
    """The job's status as the embedded database holds it while nothing serves it."""
    with sqlite3.connect(folder / "var" / "gradyard.db") as connection:
        [status] = connection.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return str(status)


def test_ctrl_c_stops_cleanly_and_queued_jobs_survive_a_restart(serve: Serve) -> None:
    long_job = moons_job(100_000, samples=20)
    running = httpx.post(f"{serve.url}/api/v1/jobs", json=long_job).json()["id"]
    wait_status(serve.url, running, {"running"})
    ids = [httpx.post(f"{serve.url}/api/v1/jobs", json=SLOW_JOB).json()["id"] for _ in range(3)]
    started = time.monotonic()
    assert serve.ctrl_c() == 0, serve.output()
    assert time.monotonic() - started < 30  # seconds, not the long job's minutes
    assert stored_status(serve.folder, running) == "queued"  # handed back at once, checkpointed

    again = Serve(serve.folder, free_port())
    try:
        again.wait_ready()
        # The long job resumes from its checkpoint (one worker: cancel it, so the rest can run).
        resumed = wait_status(again.url, running, {"running"}, timeout=120)
        assert resumed["attempts"] == 2 and resumed["progress"]["epoch"] > 0
        httpx.post(f"{again.url}/api/v1/jobs/{running}/cancel").raise_for_status()
        for job_id in ids:
            assert wait_status(again.url, job_id, {"succeeded", "failed"})["status"] == "succeeded"
    finally:
        assert again.ctrl_c() == 0, again.output()


def test_kill_9_of_make_run_then_make_run_again_resumes_bitwise(tmp_path: Path) -> None:
    fast = {"CHECKPOINT_SECONDS": "0.3", "HEARTBEAT_TIMEOUT": "3"}
    server = Serve(tmp_path, free_port(), **fast)
    job = moons_job(2500, samples=20, seed=5)
    try:
        server.wait_ready()
        job_id = httpx.post(f"{server.url}/api/v1/jobs", json=job).json()["id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/api/v1/jobs/{job_id}").json()["progress"]["epoch"] < 200:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
    finally:
        os.killpg(server.process.pid, signal.SIGKILL)  # the whole process group, at once
        server.process.wait()
        server.log.close()
    killed_at = stored_status(tmp_path, job_id)
    assert killed_at == "running"

    again = Serve(tmp_path, free_port(), **fast)
    try:
        again.wait_ready()
        done = wait_status(again.url, job_id, {"succeeded", "failed"}, timeout=180)
        losses = httpx.get(f"{again.url}/api/v1/jobs/{job_id}/losses?limit=10000").json()
    finally:
        assert again.ctrl_c() == 0, again.output()
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    reference = train(done["spec"])
    assert [item["epoch"] for item in losses["items"]] == list(range(1, 2501))
    assert [item["loss"] for item in losses["items"]] == reference.losses  # bitwise
