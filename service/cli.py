"""The server's commands of ``gradyard``: serve, worker, db upgrade (tokens: service.cli_tokens).

They join the client's commands (client.cli) as entry points of the ``gradyard.commands`` group.
"""

import itertools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from store.db import printable_url
from store.settings import (
    ConfigError,
    Settings,
    child_environment,
    explicit_auth,
    get_settings,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_JOB = '{"name": "notebook", "training": {"epochs": 20}}'


def settings_or_exit() -> Settings:
    """The settings; a bad configuration ends the command with one line per bad setting."""
    try:
        return get_settings()
    except ConfigError as exc:
        click.echo(f"gradyard: bad configuration:\n{exc}", err=True)
        raise SystemExit(2) from None


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring it up to the newest schema."""
    settings = settings_or_exit()
    wait_for_database(settings.database_url, settings.db_retry_seconds)
    upgrade_database()
    click.echo(f"database is at the newest schema: {printable_url(settings.database_url)}")


_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


class Age(click.ParamType):
    """A duration such as ``30d``, ``12h``, ``90m`` or ``45s``, in days."""

    name = "age"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        text = str(value).strip().lower()
        unit = _UNITS.get(text[-1:])
        try:
            amount = float(text[:-1])
        except ValueError:
            amount = -1.0
        if unit is None or not amount > 0 or amount == float("inf"):
            self.fail(f"{value!r} is not an age like 30d, 12h, 90m or 45s", param, ctx)
        return amount * unit / 86400.0


@db.command("purge")
@click.option("--older-than", "days", type=Age(), required=True, help="e.g. 30d, 12h")
@click.option("--dry-run", is_flag=True, help="count the jobs, delete nothing")
def db_purge(days: float, dry_run: bool) -> None:
    """Delete the jobs that ended longer ago than --older-than, with their losses."""
    from store.db import sessions
    from store.retention import cutoff, expired_count, purge

    settings = settings_or_exit()
    before = cutoff(days)
    factory = sessions(settings.database_url)
    if dry_run:
        with factory.begin() as session:
            count = expired_count(session, before)
        click.echo(f"would delete {count} jobs that ended before {before.isoformat()}")
        return
    count = purge(factory, before, settings.purge_batch_jobs)
    click.echo(f"deleted {count} jobs that ended before {before.isoformat()}")


def wait_for_database(url: str, seconds: float) -> None:
    """Connect until the database answers, for at most ``seconds``; one line per failed try.

    A database started alongside (docker-compose) may not accept connections yet.
    """
    from sqlalchemy.exc import OperationalError

    from store.db import make_engine

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
                        f"database {printable_url(url)} unreachable for {seconds:g} s: {reason}"
                    ) from exc
                click.echo(
                    f"database {printable_url(url)} unreachable (attempt {attempt}): {reason}; "
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
    command = [sys.executable, "-m", "worker", "worker", "--loglevel", "INFO"]
    command += ["--queues", settings_or_exit().queue_name]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command


def api_command(port: int, workers: int = 2) -> list[str]:
    """The command line that serves the API with gunicorn."""
    bind = f"{settings_or_exit().host}:{port}"
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
        # Each gunicorn its own: they would all share ~/.gunicorn/gunicorn.ctl otherwise.
        "--no-control-socket",
        "service.wsgi:create_wsgi_app()",
    ]


@click.command()
@click.option("--concurrency", type=int, default=None, help="worker processes (default: cores)")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker in the foreground."""
    os.execv(sys.executable, worker_command(concurrency))


@click.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: PORT or 8000)")
def serve(port: int | None) -> None:
    """Migrate the database, then run the API and a worker together until Ctrl-C."""
    settings = settings_or_exit()
    port = port or settings.port
    auth = serve_auth(settings)
    upgrade_database()
    # A fresh metrics directory per run, shared by the API's and the worker's processes, so
    # that /metrics adds up both (see store/metrics.py); each run its own, so that two serves
    # from one checkout never count into (or wipe) each other's.
    if settings.prometheus_multiproc_dir is not None:
        metrics_dir = settings.prometheus_multiproc_dir
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
    else:
        Path("var").mkdir(exist_ok=True)
        metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-", dir="var"))
    env = child_environment(
        AUTH="on" if auth else "off",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir.resolve()),
        # A person reads this terminal: plain lines, unless LOG_FORMAT says otherwise.
        LOG_FORMAT=os.environ.get("LOG_FORMAT", "text"),
    )
    processes = [
        subprocess.Popen(worker_command(concurrency=1), env=env),
        subprocess.Popen(api_command(port), env=env),
    ]
    url = f"http://{settings.host}:{port}"
    click.echo(f"\nGradyard is running: dashboard at {url}/")
    click.echo(f"  API at {url}/api/v1/jobs, docs at {url}/docs")
    database, broker = printable_url(settings.database_url), printable_url(settings.broker_url)
    click.echo(f"  database {database}, broker {broker}")
    click.echo("Submit the notebook's job:")
    click.echo(
        f"  curl -s -X POST {url}/api/v1/jobs -H 'Content-Type: application/json' "
        f"-d '{NOTEBOOK_JOB}'" + (' -H "Authorization: Bearer $TOKEN"' if auth else "")
    )
    if auth:
        # The same program that is serving, so the token lands in the same database; settings
        # that came from this shell's environment (not from .env) must be set there too.
        command = f"TOKEN=$({shlex.quote(sys.argv[0])} tokens create me)"
        click.echo(f"  with a token made first: {command}")
        exported = [name for name in ("DATABASE_URL", "SECRET_KEY") if name in os.environ]
        if exported:
            click.echo(f"  (run it where {' and '.join(exported)} are set as for this server)")
    else:
        click.secho(
            f"WARNING: AUTH is off: anyone who can reach {url} sees, cancels and reads every job "
            "(owner 'local'). `AUTH=on make run` requires tokens.",
            fg="red",
            bold=True,
        )
    click.echo("Press Ctrl-C to stop.\n")
    try:
        _supervise(processes)
    finally:
        if settings.prometheus_multiproc_dir is None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def serve_auth(settings: Settings) -> bool:
    """Whether serve requires tokens: as AUTH says, else off only for the embedded try-out."""
    explicit = explicit_auth()
    return explicit if explicit is not None else not settings.is_sqlite


def _supervise(processes: list[subprocess.Popen[bytes]]) -> None:
    """Wait until a child exits or we are interrupted, then stop every child cleanly.

    A terminal's Ctrl-C reaches the children too (one process group): each is then stopping
    already, and a second signal would make Celery's shutdown a cold one that cannot hand its
    running job back. So after SIGINT they get a while to end by themselves before a SIGTERM.
    """
    received: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not received and all(p.poll() is None for p in processes):
        time.sleep(0.2)
    if received and received[0] == signal.SIGINT:
        _wait_all(processes, seconds=10)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    _wait_all(processes, seconds=20)
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
    codes = [p.returncode for p in processes]
    if not received and any(codes):
        raise SystemExit(f"a Gradyard process stopped unexpectedly (exit codes {codes})")


def _wait_all(processes: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return
