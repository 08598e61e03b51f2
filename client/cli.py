"""The ``gradyard`` client commands: submit, status, list, losses, weights, predict, cancel, watch
(and ``sweep``, in client/sweep_cli.py).

They talk to a server over HTTP through client.client (never to the database), so they work
against any Gradyard: ``--url``/``GRADYARD_URL`` names it, ``--token``/``GRADYARD_TOKEN`` is the
API token. Results go to stdout, progress bars to stderr. Exit codes:

    0  done (for --wait and watch: the job succeeded)
    1  the job failed or was cancelled
    2  bad usage, or an input file that cannot be read
    3  the API refused the request (the problem's title and detail are printed)
    4  the server cannot be reached
"""

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache, wraps
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from client.client import DEFAULT_URL, ApiError, Client

JOB_FAILED, USAGE, API_ERROR, UNREACHABLE = 1, 2, 3, 4
F = TypeVar("F", bound=Callable[..., Any])


URL_HELP = f"the server (default: $GRADYARD_URL, else {DEFAULT_URL})"
TOKEN_HELP = "the API token (default: $GRADYARD_TOKEN)"


def _connection(command: F) -> F:
    """Add --url and --token, and turn errors into one line and an exit code.

    Either option may also come before the command (``gradyard --url URL list``); one given
    after it wins.
    """

    @click.option("--url", default=None, metavar="URL", help=URL_HELP)
    @click.option("--token", default=None, help=TOKEN_HELP)
    @wraps(command)
    def run(url: str | None, token: str | None, **kwargs: Any) -> Any:
        before = click.get_current_context().find_root().params
        url = url if url is not None else before.get("url") or DEFAULT_URL
        token = token if token is not None else before.get("token")
        try:
            with Client(url, token) as client:
                return command(client, **kwargs)
        except ApiError as exc:
            _fail(API_ERROR, f"error: {exc}")
        except httpx.TransportError as exc:
            _fail(UNREACHABLE, f"error: cannot reach {url}: {exc or type(exc).__name__}")

    return run  # type: ignore[return-value]


def _fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(USAGE, f"error: cannot read {path} as JSON: {exc}")


@click.command()
@click.argument("spec_file", metavar="SPEC.json", type=click.Path(path_type=Path))
@click.option("--wait", is_flag=True, help="show progress and wait until the job ends")
@_connection
def submit(client: Client, spec_file: Path, wait: bool) -> None:
    """Submit the job spec in SPEC.json; print its id."""
    job = client.submit(_read_json(spec_file))
    click.echo(job["id"])
    if wait:
        _follow(client, job["id"])


@click.command()
@click.argument("job_id")
@_connection
def watch(client: Client, job_id: str) -> None:
    """Show a job's progress until it ends."""
    _follow(client, job_id)


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="print the whole job document")
@_connection
def status(client: Client, job_id: str, as_json: bool) -> None:
    """Print a job's status, progress and latest loss."""
    job = client.get(job_id)
    click.echo(json.dumps(job, indent=2) if as_json else _summary(job))


@click.command("list")
@click.option("--status", "status_", default=None, help="only jobs with this status")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@_connection
def list_jobs(client: Client, status_: str | None, limit: int) -> None:
    """List your newest jobs, one line each under a header row."""
    click.echo(LIST_HEADER)
    for job in client.jobs(status=status_, limit=limit):
        click.echo(_summary(job))


@click.command()
@click.argument("job_id")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row")
@click.option("--every", type=click.IntRange(min=1), default=1, help="every N-th epoch only")
@_connection
def losses(client: Client, job_id: str, as_csv: bool, every: int) -> None:
    """Print a job's per-epoch losses, accuracies or rmse, and their validation values, tab
    separated in LOSS_COLUMNS' order (an empty field where the job has none)."""
    writer = csv.writer(sys.stdout, lineterminator="\n") if as_csv else None
    if writer:
        writer.writerow(LOSS_COLUMNS)
    for item in client.losses(job_id, every=every):
        row = [str(item["epoch"])] + [_number(item.get(name)) for name in LOSS_COLUMNS[1:]]
        if writer:
            writer.writerow(row)
        else:
            click.echo("\t".join(row).rstrip())


# The columns of `gradyard losses`: the epoch, its measures, the same on the validation samples.
LOSS_COLUMNS = ["epoch", "loss", "accuracy", "rmse", "val_loss", "val_accuracy", "val_rmse"]


def _number(x: float | None) -> str:
    # A float's repr reads back bit for bit; none is an empty field.
    return "" if x is None else repr(x)


@click.command()
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="file (default: stdout)")
@_connection
def weights(client: Client, job_id: str, output: Path | None) -> None:
    """Download a succeeded job's trained weights as JSON."""
    text = json.dumps(client.weights(job_id), indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("job_id")
@click.argument("inputs_file", metavar="INPUTS.json", type=click.Path(path_type=Path))
@_connection
def predict(client: Client, job_id: str, inputs_file: Path) -> None:
    """Print the outputs of a succeeded job's model for the inputs in INPUTS.json.

    INPUTS.json holds a list of input rows, or {"inputs": [...]} as the API takes it. A
    classifier's answer also holds each sample's class ("classes": the class names of the
    dataset it trained on, where it had some, else the labels) and, but for hinge, its
    probabilities.
    """
    document = _read_json(inputs_file)
    inputs = document.get("inputs") if isinstance(document, dict) else document
    if not isinstance(inputs, list):
        _fail(USAGE, f"error: {inputs_file} must hold a list of input rows or {{'inputs': [...]}}")
    click.echo(json.dumps(client.prediction(job_id, inputs)))


@click.command()
@click.argument("job_id")
@click.option("--format", "format_", type=click.Choice(["py", "onnx"]), required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="file")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default=None, help="ONNX only")
@_connection
def export(client: Client, job_id: str, format_: str, output: Path, dtype: str | None) -> None:
    """Download a succeeded job's model: a standard-library Python file, or ONNX."""
    if dtype is not None and format_ != "onnx":
        _fail(USAGE, "error: --dtype is for --format onnx")
    output.write_bytes(client.export(job_id, format_, dtype))
    click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("job_id")
@_connection
def cancel(client: Client, job_id: str) -> None:
    """Cancel a queued job, or stop a running one at its next epoch."""
    click.echo(client.cancel(job_id)["status"])


def _follow(client: Client, job_id: str) -> None:
    """A progress bar (epoch, loss, ETA) from the job's event stream; exit 1 unless it succeeds."""
    with _progress_bar(client.get(job_id)["progress"]["epochs"]) as update:
        for event in client.events(job_id):
            update(event.event, event.data)
    job = client.get(job_id)
    if job["status"] != "succeeded":
        reason = f": {job['error']}" if job.get("error") else ""
        _fail(JOB_FAILED, f"job {job_id} {job['status']}{reason}")
    click.echo(_summary(job))


@contextmanager
def _progress_bar(epochs: int) -> Iterator[Callable[[str, dict[str, Any]], None]]:
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.fields[status]:<10}"),
        # Green once complete, whatever the terminal's theme (it looked empty when grey).
        BarColumn(complete_style="green", finished_style="bold green"),
        TextColumn("epoch {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=not console.is_terminal) as bar:
        task = bar.add_task("job", total=epochs, status="queued", loss="-")

        def update(kind: str, data: dict[str, Any]) -> None:
            if kind == "epoch":
                bar.update(task, completed=data["epoch"], loss=f"{data['loss']:.6g}")
            else:
                bar.update(task, status=data["status"])

        yield update


LIST_HEADER = (
    f"{'ID':<36}  {'STATUS':<10}  {'EPOCH':>15}  {'LOSS':>11}  {'ACCURACY':>8}  "
    f"{'CREATED (UTC)':<19}  NAME"
)


def _summary(job: dict[str, Any]) -> str:
    """A job on one line, in the columns of LIST_HEADER (times in UTC, as the API gives them)."""
    progress = job["progress"]
    epochs = f"{progress['epoch']}/{progress['epochs']}"
    loss = "-" if job["latest_loss"] is None else f"{job['latest_loss']:.6g}"
    accuracy = job.get("latest_accuracy")
    shown = "-" if accuracy is None else f"{accuracy:.4f}"
    created = datetime.fromisoformat(job["created_at"]).astimezone(UTC)
    name = job.get("name") or "-"
    return (
        f"{job['id']:<36}  {job['status']:<10}  {epochs:>15}  {loss:>11}  {shown:>8}  "
        f"{created:%Y-%m-%d %H:%M:%S}  {name}"
    )


@click.group()
def datasets() -> None:
    """Upload, list, show and delete datasets."""


@datasets.command("upload")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option("--target", default=None, help="the target column (default: the last)")
@click.option("--name", default=None, help="a name for people")
@_connection
def upload_dataset(client: Client, csv_file: Path, target: str | None, name: str | None) -> None:
    """Upload a CSV file (a header row, then a sample per row); print the dataset's id."""
    if not csv_file.is_file():
        _fail(USAGE, f"error: cannot read {csv_file}: no such file")
    click.echo(client.upload_dataset(csv_file, name=name, target=target)["id"])


@datasets.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@_connection
def list_datasets(client: Client, limit: int) -> None:
    """List your newest datasets: id, rows, features, classes, name."""
    click.echo("ID\tROWS\tFEATURES\tCLASSES\tNAME")
    for d in client.datasets(limit=limit):
        classes = len(d["classes"]) if d["classes"] is not None else "-"
        click.echo(f"{d['id']}\t{d['rows']}\t{d['features']}\t{classes}\t{d['name'] or ''}")


@datasets.command("show")
@click.argument("dataset_id")
@_connection
def show_dataset(client: Client, dataset_id: str) -> None:
    """Print a dataset's document (with its preview and column statistics) as JSON."""
    click.echo(json.dumps(client.dataset(dataset_id), indent=2))


@datasets.command("delete")
@click.argument("dataset_id")
@_connection
def delete_dataset(client: Client, dataset_id: str) -> None:
    """Delete a dataset that no active job uses."""
    client.delete_dataset(dataset_id)


COMMANDS = (submit, watch, status, list_jobs, losses, weights, predict, export, cancel, datasets)


class _Gradyard(click.Group):
    """The client's commands, plus the server's (serve, worker, db, tokens) where it is installed.

    The server's commands are entry points of the ``gradyard.commands`` group, loaded only when
    asked for: with only the client installed (``pip install 'gradyard[client]'``) they are
    simply absent, and this package never imports the server's.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_server_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _server_commands().get(cmd_name)


@cache
def _server_commands() -> dict[str, click.Command]:
    commands = {}
    for entry in entry_points(group="gradyard.commands"):
        try:
            commands[entry.name] = entry.load()
        except ImportError:  # the server's dependencies are not installed: client only
            continue
    return commands


@click.group(cls=_Gradyard, commands=COMMANDS)
@click.option("--url", envvar="GRADYARD_URL", default=None, metavar="URL", help=URL_HELP)
@click.option("--token", envvar="GRADYARD_TOKEN", default=None, help=TOKEN_HELP)
def main(url: str | None, token: str | None) -> None:
    """Gradyard: train small neural networks on demand."""


# Last: the sweep commands use this module's helpers (_connection, _fail, _read_json).
from client.sweep_cli import sweep  # noqa: E402

main.add_command(sweep)
