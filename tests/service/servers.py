"""Servers a fault test owns, so it can kill or restart them: Redis, a Postgres cluster, the API.

None of them is the shared server on 5432 or 6379; each runs on a free port and is removed after.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy.engine import make_url

from store.db import engine_for, sessions
from store.settings import get_settings
from tests.service.conftest import (
    DATABASE_URL,
    ROOT,
    WorkerProcess,
    drop_database,
    recreate_database,
)


def _newest_postgres() -> Path:
    """The bin folder of the newest Postgres installed (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return found[-1] if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _newest_postgres()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def private_queue() -> str:
    """A queue name no other test's worker consumes."""
    return f"gradyard-fault-{uuid.uuid4().hex[:8]}"


def start_workers(log_dir: Path, count: int, **env: str) -> list[WorkerProcess]:
    """``count`` real worker processes with these settings (QUEUE_NAME picks their queue).

    They boot side by side, since booting is most of what a fault test waits for.
    """
    workers = [WorkerProcess(log_dir / f"worker-{i}.log", env) for i in range(count)]
    try:
        for worker in workers:
            worker.wait_ready()
    except RuntimeError:
        for worker in workers:
            worker.stop()
        raise
    return workers


def running_on(workers: list[WorkerProcess], job_id: str, attempt: int) -> WorkerProcess | None:
    """The worker that claimed ``attempt`` of the job, going by the workers' logs."""
    line = f"job {job_id} attempt {attempt} claimed".encode()
    return next((w for w in workers if line in w.log_path.read_bytes()), None)


def kill_hard(worker: WorkerProcess) -> None:
    """``kill -9`` the worker and its pool processes at once, as a machine that loses power."""
    parent = worker.process.pid
    pool = children(parent)
    os.kill(parent, signal.SIGKILL)  # the parent first, so it cannot requeue the message
    for pid in pool:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.kill(pid, signal.SIGKILL)
    worker.process.wait()
    worker.stop()


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


class RedisServer:
    """A redis-server of the test's own, without persistence: a restart loses every message."""

    def __init__(self, directory: Path, addresses: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.addresses = ("127.0.0.1", *addresses)  # more: for clients on other (network) hosts
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", *self.addresses]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        if len(self.addresses) > 1:  # the test's own links only: no password needed on them
            command += ["--protected-mode", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(self._answers, 10, "redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # an abrupt stop: nothing is written anywhere
            self.process.wait()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


# Clients on other hosts may vanish mid-transaction (a cable, a power cut) holding row locks,
# which would stall every reaper until the server notices: find such a connection within about
# 5 s (keepalive probes when it is idle; tcp_user_timeout when the server's reply is unacked).
REMOTE_CLIENTS = (
    "-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3 "
    "-c tcp_user_timeout=5000"
)


class PostgresCluster:
    """A Postgres cluster in a temporary directory, run as the ``postgres`` OS user."""

    def __init__(self, addresses: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.addresses = ("127.0.0.1", *addresses)  # more: for clients on other (network) hosts
        self.directory = Path(tempfile.mkdtemp(prefix="gradyard-pg-"))
        self.data = self.directory / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/gradyard"
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(
            [PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync"]
        )
        if addresses:  # it listens on the test's own links only: trust whoever reaches it there
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\n")

    def start(self) -> None:
        listen = ",".join(self.addresses)
        options = f"-p {self.port} -k {self.directory} -c listen_addresses={listen} -c fsync=off"
        if len(self.addresses) > 1:
            options += f" {REMOTE_CLIENTS}"
        log = self.directory / "server.log"
        self._as_postgres(
            [PG_BIN / "pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "start"]
        )

    def stop(self) -> None:
        """A fast shutdown: every client connection is cut, as in a restart."""
        self._as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                PG_BIN / "pg_ctl",
                "-D",
                self.data,
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def _as_postgres(self, command: list[Any]) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)],
            check=True,
            capture_output=True,
            cwd=self.directory,
        )


# What marks a failure in a server's log: our JSON lines, gunicorn's own, a traceback.
SERVER_ERRORS = ('"level": "ERROR"', "Error handling request", "Traceback")


class ApiServer:
    """The API under gunicorn, as deployed, with its own environment and its log in a file."""

    def __init__(self, log_path: Path, workers: int = 1, threads: int = 1, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env  # the settings it was given beyond the suite's
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(workers), "--threads", str(threads), "--timeout", "30"]
        command.append("--no-control-socket")
        command.append("service.wsgi:create_wsgi_app()")
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._healthy, 30, "the API to start")

    def _healthy(self) -> bool:
        assert self.process.poll() is None, "the API exited"
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._log.close()
        # Shown when the test fails: what went wrong inside the server, not only its answers.
        errors = [line for line in self._log_lines() if any(m in line for m in SERVER_ERRORS)]
        if errors:
            print(f"\n{len(errors)} error lines in {self._log.name}:", *errors[-40:], sep="\n")

    def _log_lines(self) -> list[str]:
        return Path(self._log.name).read_text(errors="replace").splitlines()


def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema (``gradyard db upgrade``)."""
    subprocess.run(
        [Path(sys.executable).parent / "gradyard", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def drop_queue(broker_url: str, queue: str) -> None:
    """Remove a test queue from Redis, with the unacknowledged messages a killed worker left."""
    client = redis.Redis.from_url(broker_url)
    client.delete(queue)
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == queue:  # [message, exchange, routing key]
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@contextmanager
def database_of_its_own(suffix: str) -> Iterator[str]:
    """A fresh database on the shared server, migrated, dropped afterwards; its URL."""
    base = make_url(DATABASE_URL)
    url = base.set(database=f"{base.database}_{suffix}").render_as_string(hide_password=False)
    recreate_database(url)
    try:
        migrate(url)
        yield url
    finally:
        engine_for(url).dispose()
        drop_database(url)


def auth_headers_for(database_url: str) -> dict[str, str]:
    """Headers with a new token stored in that database (as conftest's ``make_token`` does)."""
    from store import tokens

    with sessions(database_url).begin() as session:
        token = tokens.create_token(
            session, f"fault-{uuid.uuid4().hex[:8]}", "tester", False, get_settings().secret_key
        )
    return {"Authorization": f"Bearer {token}"}
