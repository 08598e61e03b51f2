"""docker-compose.yml without Docker: its shape, then each app service's own command run natively.

No Docker engine runs on our machines, so the file is parsed and checked, and the commands of
migrate, worker, api and flower run here as processes with the compose environment: the host names
``postgres`` and ``redis`` point at the local servers, the database at a fresh one of this test's.
"""

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
import yaml
from pydantic import TypeAdapter
from sqlalchemy.engine import make_url

from store.settings import Settings
from tests.service.conftest import BROKER_URL, DATABASE_URL, ROOT, admin_dsn, recreate_database

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
APP_SERVICES = ("migrate", "api", "worker", "flower")
# What an app service may set beside the shared image, environment and start-up order.
OWN_KEYS = {"command", "ports"}
# migrate is the one-shot the others wait for: it waits for Postgres itself and never restarts.
MIGRATE_OWN_KEYS = OWN_KEYS | {"depends_on", "restart"}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
# The test's own Redis database, so the compose worker meets no other test's messages.
REDIS_DB = 14
SETTINGS_VARIABLES = {name.upper(): field for name, field in Settings.model_fields.items()}
# Where compose deliberately differs from the embedded mode's default (both documented).
COMPOSE_OWN_DEFAULTS = {"RETENTION_DAYS"}
# What compose requires to be set in .env.
REQUIRED = {"POSTGRES_PASSWORD": "secret", "SECRET_KEY": "compose-secret"}


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Substitute compose's ``${...}`` forms as ``docker compose`` would with ``variables``."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if variables.get(name):
            return variables[name]
        assert operator != "?", f"{name} is required: {argument}"
        return argument or ""

    return VARIABLE.sub(substitute, text).replace("$$", "$")


def load_compose(variables: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml as compose sees it with ``variables`` in its environment."""
    compose: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE_TEXT, variables))
    return compose


def env_example() -> dict[str, str]:
    """``.env.example`` as a mapping, asserting each variable has its comment line above it."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    variables = {}
    for previous, line in zip(["", *lines], lines, strict=False):
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert previous.startswith("# "), f"{name} in .env.example has no comment above it"
            variables[name] = value
    return variables


def container_port(service: dict[str, Any]) -> int:
    """The one port the service publishes, on the container's side."""
    [mapping] = service["ports"]
    return int(mapping.rsplit(":", 1)[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_compose_has_the_services_with_healthchecks_and_named_volumes() -> None:
    compose = load_compose(REQUIRED)
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
        for volume in services[name]["volumes"]:
            source, _, target = volume.partition(":")
            assert source in compose["volumes"] and target.startswith("/"), volume
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "secret"


def test_app_services_are_one_image_differing_only_in_command() -> None:
    services = load_compose(REQUIRED)["services"]
    shared = {key: value for key, value in services["api"].items() if key not in OWN_KEYS}
    assert shared["image"] == "gradyard:latest" and shared["build"] == "."
    for name in ("worker", "flower"):
        assert {k: v for k, v in services[name].items() if k not in OWN_KEYS} == shared, name
    migrate = {k: v for k, v in services["migrate"].items() if k not in MIGRATE_OWN_KEYS}
    assert migrate == {k: v for k, v in shared.items() if k not in MIGRATE_OWN_KEYS}
    for name in APP_SERVICES:
        assert services[name]["command"] and "container_name" not in services[name], name

    assert services["migrate"]["command"] == "gradyard db upgrade"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    assert shared["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    # Scalable: `--scale worker=N` needs no fixed name and no host port.
    assert "ports" not in services["worker"]
    assert "--concurrency" in shlex.split(services["worker"]["command"])
    assert container_port(services["api"]) == 8000
    assert container_port(services["flower"]) == 5555

    environment = shared["environment"]
    assert set(environment) <= set(SETTINGS_VARIABLES), "a compose variable Settings never reads"
    database_url = "postgresql+psycopg://gradyard:secret@postgres:5432/gradyard"
    assert environment["DATABASE_URL"] == database_url
    assert environment["BROKER_URL"] == "redis://redis:6379/0"
    assert environment["HOST"] == "0.0.0.0"
    assert environment["AUTH"] == "on" and environment["SECRET_KEY"] == "compose-secret"


def test_compose_refuses_to_start_without_a_postgres_password() -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD is required"):
        load_compose({})


def test_compose_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(AssertionError, match="SECRET_KEY is required"):
        load_compose({"POSTGRES_PASSWORD": "secret"})


def test_env_example_documents_every_setting_and_compose_variable() -> None:
    example = env_example()
    for name, field in SETTINGS_VARIABLES.items():
        assert name in example, f"{name} is a setting missing from .env.example"
        assert field.annotation is not None
        if field.default is None:  # an optional setting, documented empty
            assert example[name] == "", f"{name}'s default differs"
            continue
        value = TypeAdapter(field.annotation).validate_strings(example[name])
        assert value == field.default, f"{name}'s default differs"
    for name, operator, default in VARIABLE.findall(COMPOSE_TEXT):
        assert name in example, f"docker-compose.yml uses {name}, undocumented in .env.example"
        if operator == "-" and name not in COMPOSE_OWN_DEFAULTS:
            assert example[name] == default, f"{name}: compose default {default!r} differs"
    assert example["POSTGRES_PASSWORD"] == "", "no password is a safe default: compose refuses"


def test_one_dockerfile_installs_the_server_and_ops_extras_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"pip install .*\.\[server,ops\]", dockerfile)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [flower] = extras["optional-dependencies"]["ops"]
    assert re.fullmatch(r"flower==[\d.]+", flower)
    assert flower in extras["optional-dependencies"]["test"]
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv", ".git"} <= set(ignored)


class NativeStack:
    """The compose app services as local processes, each with its log in a file."""

    def __init__(self, services: dict[str, Any], env: dict[str, str], logs: Path) -> None:
        self.services, self.env, self.logs = services, env, logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def command(self, service: str) -> list[str]:
        """The service's own ``command:``, split as compose splits a string."""
        return shlex.split(self.services[service]["command"])

    def start(self, service: str, command: list[str] | None = None) -> subprocess.Popen[bytes]:
        with (self.logs / f"{service}.log").open("wb") as log:
            process = subprocess.Popen(
                command or self.command(service),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[service] = process
        return process

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")[-4000:]

    def wait_http(self, service: str, url: str, timeout: float = 30) -> httpx.Response:
        """GET ``url`` until it answers 200, failing early if the service's process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.processes[service].poll() is None, f"{service} died:\n{self.log(service)}"
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return response
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{url} never answered 200:\n{self.log(service)}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def stack(services: None, tmp_path: Path) -> Iterator[NativeStack]:
    """The compose environment pointed at this machine's servers, and processes to run in it."""
    tag = uuid.uuid4().hex[:8]
    compose = load_compose(
        {
            "POSTGRES_PASSWORD": "compose-test",
            "SECRET_KEY": f"compose-secret-{tag}",
            "QUEUE_NAME": f"gradyard-compose-{tag}",
            "API_WORKERS": "2",  # the default 4 is meant for a server, not a two-core test machine
        }
    )
    env = {key: str(value) for key, value in compose["services"]["api"]["environment"].items()}
    assert make_url(env["DATABASE_URL"]).host == "postgres"
    database_url = make_url(DATABASE_URL).set(database=f"gradyard_compose_{tag}")
    env["DATABASE_URL"] = database_url.render_as_string(hide_password=False)
    assert urlsplit(env["BROKER_URL"]).hostname == "redis"
    local_redis = urlsplit(BROKER_URL)
    env["BROKER_URL"] = f"{local_redis.scheme}://{local_redis.netloc}/{REDIS_DB}"
    # Only what a container would have besides its environment: a PATH to the installed tools.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env.update({k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TMPDIR")})

    recreate_database(env["DATABASE_URL"])
    native = NativeStack(compose["services"], env, tmp_path)
    try:
        yield native
    finally:
        native.stop()
        broker = redis.Redis.from_url(env["BROKER_URL"])
        broker.delete(env["QUEUE_NAME"], *broker.scan_iter(f"_kombu.*{env['QUEUE_NAME']}"))
        with psycopg.connect(admin_dsn(env["DATABASE_URL"]), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database_url.database}" WITH (FORCE)')


@pytest.mark.timeout(120)
def test_compose_commands_run_a_job_natively(stack: NativeStack) -> None:
    migrate = stack.start("migrate")
    assert migrate.wait(timeout=60) == 0, stack.log("migrate")
    assert "newest schema" in stack.log("migrate")
    # An operator makes a token on the server, as README's Authentication section says.
    created = subprocess.run(
        ["gradyard", "tokens", "create", "compose-test"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip()}"}

    stack.start("worker")
    api_command = stack.command("api")
    bind = api_command.index("--bind") + 1
    assert api_command[bind] == "0.0.0.0:8000"
    api_port = free_port()
    api_command[bind] = f"127.0.0.1:{api_port}"
    stack.start("api", api_command)
    api = f"http://127.0.0.1:{api_port}"
    ready = stack.wait_http("api", f"{api}/readyz").json()
    assert ready["checks"] == {"database": True, "broker": True}

    job_spec = {"training": {"epochs": 5}}
    assert httpx.post(f"{api}/api/v1/jobs", json=job_spec, timeout=10).status_code == 401
    response = httpx.post(f"{api}/api/v1/jobs", json=job_spec, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 30
    job_url = f"{api}/api/v1/jobs/{job_id}"
    while (job := httpx.get(job_url, headers=headers, timeout=5).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, f"job stuck: {job}\n{stack.log('worker')}"
        time.sleep(0.1)
    assert job["status"] == "succeeded", f"{job}\n{stack.log('worker')}"
    assert job["progress"] == {"epoch": 5, "epochs": 5}
    for service in ("api", "worker"):
        assert created.stdout.strip() not in stack.log(service), f"the token is in {service}'s log"
        assert stack.env["SECRET_KEY"] not in stack.log(service), f"SECRET_KEY in {service}'s log"

    flower_command = stack.command("flower")
    flower_port = free_port()
    flower_command[flower_command.index("--port=5555")] = f"--port={flower_port}"
    stack.start("flower", [*flower_command, "--address=127.0.0.1"])
    stack.wait_http("flower", f"http://127.0.0.1:{flower_port}/healthcheck")
