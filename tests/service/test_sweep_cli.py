"""`gradyard sweep submit`, `show` and `cancel`: the real program, over HTTP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.client import Client
from tests.service.live_server import live_server
from tests.service.specs import moons_job

__all__ = ["live_server"]  # the fixture, imported for this module's tests

GRADYARD = str(Path(sys.executable).with_name("gradyard"))


def gradyard(*args: str, url: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADYARD_URL": url, "GRADYARD_TOKEN": token}
    return subprocess.run([GRADYARD, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.usefixtures("services")
def test_submit_show_and_cancel_a_sweep(
    live_server: str, api_token: str, queue: str, tmp_path: Path
) -> None:
    # A queue of the test's own that no worker reads: the trials stay queued until cancelled.
    request = {
        "base": moons_job(1_000_000),
        "grid": {"training.learning_rate": [0.1, 0.5]},
        "seeds": [1, 2],
        "objective": {"metric": "loss"},
    }
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(request))
    made = gradyard("sweep", "submit", str(path), url=live_server, token=api_token)
    assert made.returncode == 0, made.stderr
    sweep_id = made.stdout.strip()
    shown = gradyard("sweep", "show", sweep_id, url=live_server, token=api_token)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"sweep {sweep_id}") and "(4 queued)" in lines[0]
    assert lines[2].split("\t") == [
        "JOB",
        "STATUS",
        "LOSS",
        "EPOCH",
        "RUN",
        "training.learning_rate",
        "training.seed",
    ]
    assert len(lines) == 3 + 4
    cancelled = gradyard("sweep", "cancel", sweep_id, url=live_server, token=api_token)
    assert (cancelled.returncode, cancelled.stdout) == (0, "cancelled\n")
    with Client(live_server, api_token) as client:
        sweep = client.sweep(sweep_id)
        assert sweep["status"] == "cancelled" and sweep["counts"]["cancelled"] == 4
        assert client.wait_sweep(sweep_id, timeout=60)["status"] == "cancelled"
    missing = gradyard("sweep", "show", "0" * 8, url=live_server, token=api_token)
    assert missing.returncode == 3 and "Not Found" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**request, "grid": {"training.learning_rate": [-1.0]}}))
    refused = gradyard("sweep", "submit", str(bad), url=live_server, token=api_token)
    assert refused.returncode == 3 and "trials.0.training.learning_rate" in refused.stderr
