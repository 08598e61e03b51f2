"""Each examples/*.json runs with the README's own line, `gradyard submit --wait examples/X.json`,
through the real `gradyard` program, the API over HTTP and a real worker."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.client import Client
from engine import train
from tests.service.conftest import ROOT
from tests.service.live_server import live_server

__all__ = ["live_server"]  # the fixture, imported for this module's tests

GRADYARD = str(Path(sys.executable).with_name("gradyard"))
EXAMPLES = ("notebook", "moons", "xor", "spiral")
README = (ROOT / "README.md").read_text()


def example(name: str) -> dict[str, object]:
    spec: dict[str, object] = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    return spec


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_runs_with_its_readme_line(
    name: str, live_server: str, api_token: str
) -> None:
    line = f"gradyard submit --wait examples/{name}.json"
    assert line in README
    env = {**os.environ, "GRADYARD_URL": live_server, "GRADYARD_TOKEN": api_token}
    result = subprocess.run(
        [GRADYARD, *line.split()[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.splitlines()[0]
    with Client(live_server, api_token) as client:
        job = client.get(job_id)
    assert job["status"] == "succeeded" and job["name"] == name
    if name == "moons":
        assert job["latest_accuracy"] == 1.0  # the micrograd demo's result, on our engine


def test_the_examples_are_what_they_say() -> None:
    # The notebook example spells out the defaults: it trains as the job `gradyard serve` suggests.
    notebook = {k: v for k, v in example("notebook").items() if k != "name"}
    assert train(notebook) == train({"training": {"epochs": 20}})
    moons = {k: v for k, v in example("moons").items() if k != "name"}
    assert train(moons).accuracies[-1] == 1.0
    spiral = example("spiral")["training"]
    assert isinstance(spiral, dict) and spiral["optimizer"]["name"] == "adam"


@pytest.mark.usefixtures("worker")
def test_the_moons_sweep_runs_with_its_readme_line(live_server: str, api_token: str) -> None:
    line = "gradyard sweep submit --wait examples/moons-sweep.json"
    assert line in README
    env = {**os.environ, "GRADYARD_URL": live_server, "GRADYARD_TOKEN": api_token}
    result = subprocess.run(
        [GRADYARD, *line.split()[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sweep_id = lines[0]
    with Client(live_server, api_token) as client:
        sweep = client.sweep(sweep_id)
        trials = client.trials(sweep_id, sort="objective")
    assert sweep["status"] == "succeeded" and sweep["trials"] == 6
    # Every trial ended, pruned or trained out; the best one (first in the table) fits the moons.
    assert sum(sweep["counts"][s] for s in ("succeeded", "pruned")) == 6
    assert trials[0]["job_id"] == sweep["best"]["job_id"]
    assert sweep["best"]["objective"] == 1.0
    assert lines[3].startswith("JOB\tSTATUS\tACCURACY")  # the table, best first
    assert lines[4].split("\t")[0] == trials[0]["job_id"]
    shown = subprocess.run(
        [GRADYARD, "sweep", "show", sweep_id], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and shown.stdout.splitlines()[1:] == lines[2:]
