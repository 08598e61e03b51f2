"""Tokens: made and revoked by the `gradyard tokens` commands, checked on every /api request."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from client.cli import main
from service.cli import serve_auth
from store.db import sessions
from store.models import ApiToken, Job
from store.settings import Settings, get_settings
from store.tokens import find_token, hash_token
from tests.service.conftest import DATABASE_URL, ROOT

pytestmark = pytest.mark.usefixtures("services")

JOB = {"training": {"epochs": 2}}


def bearer(app: Any, token: str | None) -> Any:
    """A test client sending ``token`` (or no Authorization header at all)."""
    client = app.test_client()
    if token is not None:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def assert_unauthorized(response: Any, error: str | None) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/unauthorized"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)


def cli(*args: str) -> Any:
    result = CliRunner().invoke(main, ["tokens", *args])
    return result


def test_token_lifecycle_through_the_cli(app: Any) -> None:
    created = cli("create", "lifecycle-1", "--owner", "lifecycle")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("gy_") and "\n" not in token
    assert "not shown again" in created.stderr

    client = bearer(app, token)
    submitted = client.post("/api/v1/jobs", json=JOB)
    assert submitted.status_code == 202
    with sessions(DATABASE_URL).begin() as session:
        assert session.get(Job, submitted.get_json()["id"]).owner == "lifecycle"  # type: ignore[union-attr]
        row = session.scalars(select(ApiToken).where(ApiToken.name == "lifecycle-1")).one()
        # Only a keyed hash is kept: no column holds the token.
        assert token not in (row.id, row.name, row.owner, row.token_hash)
        assert row.token_hash == hash_token(token, get_settings().secret_key)

    listed = cli("list")
    assert listed.exit_code == 0 and "lifecycle-1" in listed.output
    assert token not in listed.output and row.token_hash not in listed.output

    assert cli("create", "lifecycle-1").exit_code != 0, "a name is never reused"
    revoked = cli("revoke", "lifecycle-1")
    assert revoked.exit_code == 0, revoked.output
    assert_unauthorized(client.get("/api/v1/jobs"), "invalid_token")
    assert cli("revoke", "lifecycle-1").exit_code != 0
    assert "lifecycle-1" in cli("list").output  # still listed, with its revocation time


def test_bad_names_are_refused() -> None:
    assert cli("create", "has space").exit_code == 2
    assert cli("create", "ok-name", "--owner", "x" * 65).exit_code == 2


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token gy_x", "Bearer not-a-token"],
)
def test_missing_or_malformed_is_401(app: Any, authorization: str | None) -> None:
    client = app.test_client()
    if authorization is not None:
        client.environ_base["HTTP_AUTHORIZATION"] = authorization
    for response in (client.get("/api/v1/jobs"), client.post("/api/v1/jobs", json=JOB)):
        error = "invalid_token" if authorization == "Bearer not-a-token" else None
        assert_unauthorized(response, error)


def test_wrong_secret_with_a_real_id_is_401_and_never_echoed(
    app: Any, make_token: Callable[..., str]
) -> None:
    token = make_token("wrong-secret")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = bearer(app, forged).get("/api/v1/jobs")
    assert_unauthorized(response, "invalid_token")
    assert forged not in response.get_data(as_text=True)


def test_the_secret_key_keys_the_hash(make_token: Callable[..., str]) -> None:
    token = make_token("keyed")
    with sessions(DATABASE_URL).begin() as session:
        assert find_token(session, token, get_settings().secret_key) is not None
        assert find_token(session, token, "another deployment's key") is None


def test_public_routes_need_no_token(app: Any) -> None:
    client = app.test_client()
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_auth_off_acts_for_local(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "auth", False)
    client = bearer(app, None)
    submitted = client.post("/api/v1/jobs", json=JOB)
    assert submitted.status_code == 202, submitted.get_json()
    job_id = submitted.get_json()["id"]
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert job_id in [job["id"] for job in client.get("/api/v1/jobs").get_json()["items"]]
    with sessions(DATABASE_URL).begin() as session:
        assert session.get(Job, job_id).owner == "local"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("off", False), ("OFF", False)])
def test_auth_setting_takes_on_and_off(value: str, expected: bool) -> None:
    assert Settings(auth=value).auth is expected  # type: ignore[arg-type]


def test_secret_key_is_required_outside_the_embedded_mode() -> None:
    url = "postgresql+psycopg://gradyard:hunter2@db:5432/gradyard"
    with pytest.raises(ValueError, match="SECRET_KEY is required") as caught:
        Settings(database_url=url, secret_key=None)
    assert "hunter2" not in str(caught.value)
    assert Settings(database_url="sqlite:///x.db", secret_key=None).secret_key is None
    assert Settings(database_url=url, secret_key="k").secret_key == "k"


def test_the_api_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DATABASE_URL"] = "postgresql+psycopg://gradyard:hunter2@db:5432/gradyard"
    started = subprocess.run(
        [sys.executable, "-c", "from service.wsgi import create_wsgi_app; create_wsgi_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    assert "SECRET_KEY is required" in started.stderr
    assert "Traceback" not in started.stderr  # one line per bad setting, not a traceback
    assert "hunter2" not in started.stderr + started.stdout


def test_serve_defaults_auth_off_only_in_the_embedded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH", raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no .env here
    embedded = Settings(database_url="sqlite:///x.db")
    production = Settings(database_url="postgresql+psycopg://db/g", secret_key="k")
    assert serve_auth(embedded) is False
    assert serve_auth(production) is True
    monkeypatch.setenv("AUTH", "on")
    assert serve_auth(embedded) is True
    monkeypatch.setenv("AUTH", "off")
    assert serve_auth(production) is False


@pytest.mark.parametrize("command", [["db", "upgrade"], ["worker"], ["serve"]])
def test_every_command_says_a_bad_setting_in_one_line_and_exits_2(command: list[str]) -> None:
    env = {**os.environ, "PORT": "eighty", "MAX_WORK": "-1"}
    gradyard = str(Path(sys.executable).with_name("gradyard"))
    done = subprocess.run(
        [gradyard, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "gradyard: bad configuration:"
    assert [line.split(":")[0] for line in lines[1:]] == ["PORT", "MAX_WORK"]  # a line each
    assert "Traceback" not in done.stderr
