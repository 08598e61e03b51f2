"""docker-compose.yml's shape, read as compose reads it; tests/compose/ runs the stack for real.

These checks need no Docker: the file's services, what the app services share, the variables it
requires, and the nginx configuration in front of the API.
"""

import re
import shlex
import tomllib
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from store.settings import Settings
from tests.service.conftest import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
NGINX_TEMPLATE = (ROOT / "deploy/nginx/gradyard.conf.template").read_text()
APP_SERVICES = ("migrate", "api", "worker", "flower")
# What an app service may set beside the shared image, environment and start-up order.
OWN_KEYS = {"command", "ports"}
# migrate is the one-shot the others wait for: it waits for Postgres itself and never restarts.
MIGRATE_OWN_KEYS = OWN_KEYS | {"depends_on", "restart"}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
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


def nginx_locations(config: str) -> dict[str, str]:
    """Each ``location`` block of an nginx server: its match (``= /metrics``) to its body."""
    return {
        match.strip(): body
        for match, body in re.findall(r"^    location ([^{]+)\{(.*?)^    \}", config, re.M | re.S)
    }


def test_compose_has_the_services_with_healthchecks_and_named_volumes() -> None:
    compose = load_compose(REQUIRED)
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "proxy", *APP_SERVICES}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
        for volume in services[name]["volumes"]:
            source, _, target = volume.partition(":")
            assert source in compose["volumes"] and target.startswith("/"), volume
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "secret"
    # Over TCP: on the first start the image's set-up server listens on the Unix socket only.
    [_, check] = services["postgres"]["healthcheck"]["test"]
    assert shlex.split(check)[:3] == ["pg_isready", "-h", "127.0.0.1"]


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
    # The API is reached through the proxy only; Flower on the host's loopback only.
    assert "ports" not in services["api"]
    assert "0.0.0.0:8000" in shlex.split(services["api"]["command"])
    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]

    environment = shared["environment"]
    assert set(environment) <= set(SETTINGS_VARIABLES), "a compose variable Settings never reads"
    database_url = "postgresql+psycopg://gradyard:secret@postgres:5432/gradyard"
    assert environment["DATABASE_URL"] == database_url
    assert environment["BROKER_URL"] == "redis://redis:6379/0"
    assert environment["HOST"] == "0.0.0.0"
    assert environment["AUTH"] == "on" and environment["SECRET_KEY"] == "compose-secret"
    # The metrics of each start of a container begin afresh: a tmpfs there, the image user's.
    [tmpfs] = shared["tmpfs"]
    path, _, options = tmpfs.partition(":")
    assert path == environment["PROMETHEUS_MULTIPROC_DIR"]
    [uid] = re.findall(r"useradd .*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert set(options.split(",")) == {f"uid={uid}", f"gid={uid}"}


def test_nginx_is_the_only_public_port_and_keeps_metrics_private() -> None:
    services = load_compose({**REQUIRED, "MAX_BODY_BYTES": "1234"})["services"]
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"proxy", "flower"}
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:") and container_port(proxy) == 80
    assert proxy["ports"] == ["8000:80"]
    # nginx reads no environment: the command fills MAX_BODY_BYTES into the template.
    assert {k: str(v) for k, v in proxy["environment"].items()} == {"MAX_BODY_BYTES": "1234"}
    [mount] = proxy["volumes"]
    template, target, mode = mount.split(":")
    assert (ROOT / template).resolve() == (ROOT / "deploy/nginx/gradyard.conf.template")
    assert mode == "ro"
    script = proxy["command"][-1]
    assert "$MAX_BODY_BYTES" in script and target in script
    assert "/etc/nginx/conf.d/default.conf" in script  # replaces the official image's default

    assert "client_max_body_size @MAX_BODY_BYTES@;" in NGINX_TEMPLATE
    for directive in ("client_header_timeout", "client_body_timeout"):
        assert re.search(rf"^\s*{directive} \d+s;", NGINX_TEMPLATE, re.M), directive
    assert re.search(r"^\s*proxy_request_buffering on;", NGINX_TEMPLATE, re.M)
    locations = nginx_locations(NGINX_TEMPLATE)
    assert "return 404" in locations["= /metrics"]
    events = locations["~ ^/api/v1/jobs/[^/]+/events$"]
    assert "proxy_buffering off;" in events and "proxy_read_timeout 1h;" in events
    assert "proxy_pass $api;" in locations["/"]
    assert re.search(r"^\s*set \$api http://api:8000;", NGINX_TEMPLATE, re.M)


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
