"""``gradyard sweep``: submit a sweep (one progress bar over its trials), show it, cancel it."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from client.cli import JOB_FAILED, _connection, _fail, _read_json
from client.client import ACTIVE, Client


@click.group()
def sweep() -> None:
    """Submit, show and cancel sweeps: many trials of one job spec."""


@sweep.command("submit")
@click.argument("sweep_file", metavar="SWEEP.json", type=click.Path(path_type=Path))
@click.option("--wait", is_flag=True, help="show progress and wait until every trial ends")
@_connection
def submit(client: Client, sweep_file: Path, wait: bool) -> None:
    """Submit the sweep in SWEEP.json; print its id (with --wait, then its trials)."""
    made = client.submit_sweep(_read_json(sweep_file))
    click.echo(made["id"])
    if not wait:
        return
    with _progress_bar(made["trials"]) as update:
        final = client.wait_sweep(made["id"], on_progress=update)
    _print_trials(client, final)
    if final["status"] != "succeeded":
        _fail(JOB_FAILED, f"sweep {made['id']} {final['status']}")


@sweep.command("show")
@click.argument("sweep_id")
@click.option("--json", "as_json", is_flag=True, help="print the sweep's document")
@_connection
def show(client: Client, sweep_id: str, as_json: bool) -> None:
    """Print a sweep's status and its trials, best first."""
    found = client.sweep(sweep_id)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    _print_trials(client, found)


@sweep.command("cancel")
@click.argument("sweep_id")
@_connection
def cancel(client: Client, sweep_id: str) -> None:
    """Cancel every trial of a sweep still queued or running."""
    click.echo(client.cancel_sweep(sweep_id)["status"])


def _print_trials(client: Client, found: dict[str, Any]) -> None:
    objective = found["objective"]
    counts = ", ".join(f"{n} {status}" for status, n in found["counts"].items() if n)
    click.echo(f"sweep {found['id']}  {found['status']}  ({counts})")
    click.echo(f"objective: {objective['metric']} ({objective['mode']})")
    rows = client.trials(found["id"], sort="objective")
    paths = sorted({path for row in rows for path in row["params"]})
    click.echo("\t".join(["JOB", "STATUS", objective["metric"].upper(), "EPOCH", "RUN", *paths]))
    for row in rows:
        value = "-" if row["objective"] is None else f"{row['objective']:.6g}"
        params = [_param(row["params"].get(path)) for path in paths]
        epoch = "-" if row["epoch"] is None else str(row["epoch"])
        cells = [row["job_id"], row["status"], value, epoch, str(row["epochs_run"]), *params]
        click.echo("\t".join(cells))


def _param(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[dict[str, Any]], None]]:
    """One bar over a sweep's trials: how many have ended, and the best objective so far."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.fields[status]:<10}"),
        BarColumn(complete_style="green", finished_style="bold green"),
        MofNCompleteColumn(),
        TextColumn("trials ended, best {task.fields[best]}"),
    )
    with Progress(*columns, console=console, transient=not console.is_terminal) as bar:
        task = bar.add_task("sweep", total=total, status="queued", best="-")

        def update(found: dict[str, Any]) -> None:
            ended = found["trials"] - sum(found["counts"].get(s, 0) for s in ACTIVE)
            best = "-" if found["best"] is None else f"{found['best']['objective']:.6g}"
            bar.update(task, completed=ended, status=found["status"], best=best)

        yield update
