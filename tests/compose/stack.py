"""A docker-compose project of the test's own, driven through the ``docker-compose`` command.

Each run has its own project name, host ports and an empty env file (a developer's ``.env``
changes nothing), and its own image tag per checkout, so stacks of two checkouts on one Docker
daemon never run each other's code.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker", "flower")
T = TypeVar("T")


def docker_missing() -> str | None:
    """Why Docker cannot run here, or None when docker-compose and a daemon are there."""
    for tool in ("docker", "docker-compose"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 30 s"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines() or ["no output"]
        return f"no Docker daemon answers ({lines[-1]})"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], T], timeout: float, what: Callable[[], str] | str) -> T:
    """Poll ``condition`` until it returns something true; after ``timeout``, fail on ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s: {what() if callable(what) else what}"
            )
        time.sleep(0.2)


class Stack:
    """docker-compose.yml run as project ``name`` with ``variables`` filled in."""

    def __init__(self, name: str, variables: dict[str, str], workdir: Path) -> None:
        self.name, self.variables = name, variables
        self.port = int(variables["API_PORT"].rsplit(":", 1)[-1])  # PORT or ADDRESS:PORT
        self.url = f"http://127.0.0.1:{self.port}"
        env_file = workdir / "compose.env"
        env_file.write_text("")
        # The same tag for every run of this checkout, so the build cache serves them all.
        image = f"gradyard-test:{hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]}"
        override = workdir / "compose.override.yml"
        override.write_text(
            "services:\n" + "".join(f"  {s}:\n    image: {image}\n" for s in APP_SERVICES)
        )
        self._base = ["docker-compose", "--project-name", name, "--env-file", str(env_file)]
        self._base += ["--file", str(ROOT / "docker-compose.yml"), "--file", str(override)]
        # Only what docker-compose itself needs, and the test's variables: nothing else of this
        # process's environment (other tests set DATABASE_URL, QUEUE_NAME...) reaches the file.
        passed = ("PATH", "HOME", "LANG", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH")
        self._env = {k: v for k, v in os.environ.items() if k in passed} | variables

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        """Run ``docker-compose ARGS`` for this project; its stdout."""
        started = time.monotonic()
        done = subprocess.run(
            [*self._base, *args],
            cwd=ROOT,
            env=self._env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        print(f"docker-compose {' '.join(args)}: {time.monotonic() - started:.1f} s")  # pytest -s
        if check and done.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def up(self, workers: int = 1, timeout: float = 180) -> None:
        """``up -d`` with ``workers`` worker containers; wait until /readyz answers via nginx."""
        self.compose("up", "-d", "--no-build", "--scale", f"worker={workers}", timeout=timeout)
        self.wait_ready(timeout)

    def scale_workers(self, count: int, timeout: float = 120) -> list[str]:
        """Run ``count`` worker containers (touching no other service); their ids once ready."""
        self.compose("up", "-d", "--no-build", "--no-deps", "--scale", f"worker={count}", "worker")
        return self.wait_workers_ready(count, timeout)

    def wait_ready(self, timeout: float = 180) -> None:
        """Wait until the API answers /readyz through the proxy (database and broker up)."""

        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, lambda: f"/readyz via nginx\n{self.logs('proxy', 'api')}")

    def running(self, service: str) -> list[str]:
        """The ids of the service's running containers."""
        labels = {"project": self.name, "service": service}
        filters = [
            "status=running",
            *(f"label=com.docker.compose.{k}={v}" for k, v in labels.items()),
        ]
        return _docker(
            "ps", "-q", "--no-trunc", *(a for f in filters for a in ("--filter", f))
        ).split()

    def container_log(self, container: str, this_start: bool = False) -> str:
        """What one container has logged (stdout and stderr), or only since it last started."""
        since = []
        if this_start:
            started = _docker("inspect", "--format", "{{.State.StartedAt}}", container).strip()
            since = ["--since", started]
        done = subprocess.run(
            ["docker", "logs", *since, container], capture_output=True, text=True, timeout=60
        )
        return done.stdout + done.stderr

    def logs(self, *services: str, tail: int | str = 40) -> str:
        """The last lines of the services' logs (all services by default), for failure messages."""
        return self.compose("logs", "--no-color", "--tail", str(tail), *services, check=False)

    def wait_workers_ready(self, count: int, timeout: float = 120) -> list[str]:
        """Wait until ``count`` worker containers run and each has logged Celery's "ready."."""

        def ready() -> list[str]:
            running = self.running("worker")
            ready = [c for c in running if " ready." in self.container_log(c, this_start=True)]
            return ready if len(ready) == count else []

        return wait_until(ready, timeout, lambda: f"{count} ready workers\n{self.logs('worker')}")

    def docker(self, *args: str) -> str:
        """``docker ARGS`` on this stack's daemon: its stdout."""
        return _docker(*args)

    def exec(self, service: str, *command: str, timeout: float = 60) -> str:
        """``docker-compose exec -T SERVICE COMMAND``: its stdout."""
        return self.compose("exec", "-T", service, *command, timeout=timeout)


def _docker(*args: str) -> str:
    """``docker ARGS``: its stdout (failing with its stderr)."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout
