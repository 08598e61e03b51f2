"""The ``gradyard`` command: run the service, a worker, or the database migrations."""

import itertools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from service import client_cli
from service.cli_tokens import tokens_group
from service.settings import Settings, child_environment, explicit_auth, get_settings

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_JOB = '{"name": "notebook", "training": {"epochs": 20}}'


@click.group()
def main() -> None:
    """Gradyard: train small neural networks on demand."""


main.add_command(tokens_group)
client_cli.register(main)  # submit, status, list, losses, weights, predict, ...


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring it up to the newest schema."""
    settings = get_settings()
    wait_for_database(settings.database_url, settings.db_retry_seconds)
    upgrade_database()
    click.echo(f"database is at the newest schema: {_safe_url(settings.database_url)}")


def wait_for_database(url: str, seconds: float) -> None:
    """Connect until the database answers, for at most ``seconds``; one line per failed try.

    A database started alongside (docker-compose) may not accept connections yet.
    """
    from sqlalchemy.exc import OperationalError

    from service.db import make_engine

    engine = make_engine(url)
    deadline = time.monotonic() + seconds
    try:
        for attempt in itertools.count(1):
            try:
                with engine.connect():
                    return
            except OperationalError as exc:
                reason = (str(exc.orig or exc).strip().splitlines() or ["no message"])[0]
                if time.monotonic() + 1 > deadline:
                    raise click.ClickException(
                        f"database {_safe_url(url)} unreachable for {seconds:g} s: {reason}"
                    ) from exc
                click.echo(
                    f"database {_safe_url(url)} unreachable (attempt {attempt}): {reason}; "
                    "retrying in 1 s",
                    err=True,
                )
            time.sleep(1)
    finally:
        engine.dispose()


def upgrade_database() -> None:
    """Run Alembic's ``upgrade head`` on the configured database."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")


def worker_command(concurrency: int | None = None) -> list[str]:
    """The command line that starts a Celery worker on Gradyard's queue."""
    command = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--loglevel", "INFO"]
    command += ["--queues", get_settings().queue_name]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command


def api_command(port: int, workers: int = 2) -> list[str]:
    """The command line that serves the API with gunicorn."""
    bind = f"{get_settings().host}:{port}"
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        # Threads (gunicorn's gthread worker): a live event stream holds one for minutes, and
        # at Ctrl-C is cut after a few seconds (clients resume it with Last-Event-ID).
        "--threads",
        "8",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        "service.wsgi:app",
    ]


@main.command()
@click.option("--concurrency", type=int, default=None, help="worker processes (default: cores)")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker in the foreground."""
    os.execv(sys.executable, worker_command(concurrency))


@main.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: PORT or 8000)")
def serve(port: int | None) -> None:
    """Migrate the database, then run the API and a worker together until Ctrl-C."""
    settings = get_settings()
    port = port or settings.port
    auth = serve_auth(settings)
    upgrade_database()
    # A fresh metrics directory per run, shared by the API's and the worker's processes, so
    # that /metrics adds up both (see service/metrics.py).
    metrics_dir = settings.prometheus_multiproc_dir or Path("var/metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = child_environment(
        AUTH="on" if auth else "off", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir.resolve())
    )
    processes = [
        subprocess.Popen(worker_command(concurrency=1), env=env),
        subprocess.Popen(api_command(port), env=env),
    ]
    url = f"http://{settings.host}:{port}"
    click.echo(f"\nGradyard is running: API at {url}/api/v1/jobs, docs at {url}/docs")
    click.echo(
        f"  database {_safe_url(settings.database_url)}, broker {_safe_url(settings.broker_url)}"
    )
    click.echo("Submit the notebook's job:")
    click.echo(
        f"  curl -s -X POST {url}/api/v1/jobs -H 'Content-Type: application/json' "
        f"-d '{NOTEBOOK_JOB}'" + (' -H "Authorization: Bearer $TOKEN"' if auth else "")
    )
    if auth:
        # The same program that is serving, so the token lands in the same database.
        click.echo(
            f"  with a token made first: TOKEN=$({shlex.quote(sys.argv[0])} tokens create me)"
        )
    else:
        click.secho(
            f"WARNING: AUTH is off: anyone who can reach {url} sees, cancels and reads every job "
            "(owner 'local'). `AUTH=on make run` requires tokens.",
            fg="red",
            bold=True,
        )
    click.echo("Press Ctrl-C to stop.\n")
    _supervise(processes)


def serve_auth(settings: Settings) -> bool:
    """Whether serve requires tokens: as AUTH says, else off only for the embedded try-out."""
    explicit = explicit_auth()
    return explicit if explicit is not None else not settings.is_sqlite


def _supervise(processes: list[subprocess.Popen[bytes]]) -> None:
    """Wait until a child exits or we are interrupted, then stop every child cleanly."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(p.poll() is None for p in processes):
        time.sleep(0.2)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    codes = [p.returncode for p in processes]
    if not stopping and any(codes):
        raise SystemExit(f"a Gradyard process stopped unexpectedly (exit codes {codes})")


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
