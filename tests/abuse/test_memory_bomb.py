"""Issue 12 item 1, second half: a job that escapes the admission estimate meets the worker's
memory cap (RLIMIT_DATA) and fails with a clear error; the worker lives on for the next job.

The bomb runs only under that cap, on a worker of the test's own queue.
"""

from pathlib import Path
from typing import Any

import pytest

from store.settings import get_settings
from tests.service.conftest import wait_for_status
from tests.service.servers import start_workers
from tests.service.specs import moons_job

CAP = 400 * 1024**2
# About 17,000 parameters x 2,000 samples: some 1.5 GB of graph for one full-batch epoch.
BOMB = {
    "model": {"inputs": 2, "layers": [128, 128, 1], "activation": "relu"},
    "data": {"generator": "moons", "samples": 2000},
    "training": {"epochs": 2, "loss": "hinge"},
}


def test_a_job_over_the_memory_cap_fails_cleanly_and_the_worker_goes_on(
    client: Any, queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Admitted on purpose: this test is about what happens when the estimate lets one through.
    monkeypatch.setattr(get_settings(), "max_graph_bytes", 10**12)
    [worker] = start_workers(tmp_path, 1, QUEUE_NAME=queue, WORKER_MEMORY_BYTES=str(CAP))
    try:
        bomb = client.post("/api/v1/jobs", json=BOMB).get_json()
        failed = wait_for_status(client, bomb["id"], {"failed", "succeeded"}, timeout=180)
        after = client.post("/api/v1/jobs", json=moons_job(5)).get_json()
        done = wait_for_status(client, after["id"], {"failed", "succeeded"}, timeout=120)
        assert worker.process.poll() is None
    finally:
        worker.stop()
    assert failed["status"] == "failed", failed
    assert "ran out of memory" in failed["error"] and "WORKER_MEMORY_BYTES" in failed["error"]
    assert done["status"] == "succeeded", done
