"""A real Gradyard stack for benchmarks: a fresh Postgres database, Redis, gunicorn and workers.

Used as ``with Stack(workers=1) as stack: ...``; ``stack.url`` is the API, ``stack.client`` an
httpx client with the auth header (when auth is on) already set.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """API (gunicorn) + Celery worker processes on a database and queue of their own."""

    def __init__(
        self,
        workers: int = 1,
        concurrency: int = 1,
        api_workers: int = 2,
        env: dict[str, str] | None = None,
        api_threads: int = 1,
        worker_loglevel: str = "WARNING",  # INFO: a bench that reads the workers' job lines
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.database = f"gradyard_bench_{tag}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}",
            "BROKER_URL": BROKER_URL,
            "QUEUE_NAME": f"gradyard-bench-{tag}",
            "AUTH": "off",
            "SECRET_KEY": "bench-" + tag,
            "PORT": str(self.port),
            # A fresh multiprocess directory: /metrics adds up gunicorn's and the workers' values.
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix=f"gradyard-metrics-{tag}-"),
            **(env or {}),
        }
        self.workers, self.concurrency, self.api_workers = workers, concurrency, api_workers
        self.api_threads = api_threads  # > 1: gunicorn's gthread worker, as `gradyard serve` runs
        self.worker_loglevel = worker_loglevel
        self.processes: list[subprocess.Popen[bytes]] = []
        self.client = httpx.Client(base_url=self.url, timeout=30)
        # The stack's own output (banners, JSON logs) goes here, so a benchmark prints its table.
        self.log_path = Path(tempfile.gettempdir()) / f"gradyard-bench-{tag}.log"
        self.log = self.log_path.open("ab")

    def __enter__(self) -> Stack:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.database}"')
        subprocess.run(
            [str(BIN / "gradyard"), "db", "upgrade"], env=self.env, check=True, capture_output=True
        )
        for _ in range(self.workers):
            self.start_worker()
        self._start(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.api_workers),
                "--threads",
                str(self.api_threads),
                "--log-level",
                "warning",
                "--no-control-socket",
                "service.wsgi:create_wsgi_app()",
            ]
        )
        self._wait_ready()
        return self

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more Celery worker process on the stack's queue (its pool in its process group)."""
        self._start(
            [
                str(BIN / "python"),
                "-m",
                "worker",
                "worker",
                "--loglevel",
                self.worker_loglevel,
                "--concurrency",
                str(self.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"bench{len(self.processes)}-{self.port}@%h",
            ]
        )
        return self.processes[-1]

    def _start(self, command: list[str]) -> None:
        self.processes.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
        )

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client.get("/readyz").status_code == 200:
                    time.sleep(2)  # let the workers finish booting and subscribe to the queue
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the benchmark stack never became ready")

    def wait(self, job_id: str, timeout: float = 600, poll: float = 0.005) -> dict:
        """Poll a job until it ends; its document."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed", "cancelled", "pruned"):
                return job
            time.sleep(poll)
        raise TimeoutError(job_id)

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType]) -> None:
        self.client.close()
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.log.close()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
