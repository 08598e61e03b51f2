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
