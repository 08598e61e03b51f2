"""How fast a job comes back when its worker goes away: SIGTERM (a handback) and kill -9.

Each run: one worker trains a long moons job; a second worker starts; the first is stopped
with SIGTERM (it checkpoints and hands the job back) or killed with SIGKILL, whole process
group (the reaper finds the silent job after HEARTBEAT_TIMEOUT). Measured: how long the stopped
worker took to exit (SIGTERM), and how long until the other worker runs the job again. Medians
of 5, with the default settings (HEARTBEAT_TIMEOUT 10 s, REAPER_SECONDS 2 s).
Run: .venv/bin/python bench/recovery.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load, record
from bench.stack import Stack

JOB = {
    "model": {"inputs": 2, "layers": [16, 16, 1], "activation": "relu"},
    "data": {"generator": "moons", "samples": 20},
    "training": {"epochs": 1_000_000, "loss": "hinge"},
}


def until(condition, timeout: float = 120.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` holds (polled every 20 ms)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("the condition never held")
        time.sleep(0.02)
    return time.monotonic() - started


def one_run(stack: Stack, how: signal.Signals) -> tuple[float | None, float]:
    job = stack.client.post("/api/v1/jobs", json=JOB).json()["id"]

    def document() -> dict:  # type: ignore[type-arg]
        return stack.client.get(f"/api/v1/jobs/{job}").json()

    until(lambda: document()["status"] == "running" and document()["progress"]["epoch"] > 100)
    api = stack.api  # type: ignore[attr-defined]
    [running] = [p for p in stack.processes if p is not api and p.poll() is None]
    stack.start_worker()
    time.sleep(3)  # the new worker boots and subscribes
    attempt = document()["attempts"]
    stopped_at = time.monotonic()
    if how == signal.SIGTERM:
        running.send_signal(signal.SIGTERM)
    else:
        os.killpg(running.pid, signal.SIGKILL)
    # Both clocks at once: the job may resume elsewhere before the stopping worker has exited.
    exited: float | None = None
    resumed: float | None = None
    deadline = stopped_at + 120
    while resumed is None or exited is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"after 120 s: exited {exited}, resumed {resumed}")
        now = time.monotonic() - stopped_at
        if exited is None and running.poll() is not None:
            exited = now
        if resumed is None:
            seen = document()
            if seen["attempts"] > attempt and seen["status"] == "running":
                resumed = now
        time.sleep(0.02)
    stack.client.post(f"/api/v1/jobs/{job}/cancel")
    return (exited if how == signal.SIGTERM else None), resumed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    before = load()
    with Stack(workers=1) as stack:
        stack.api = stack.processes[-1]  # type: ignore[attr-defined]
        rows = []
        for how in (signal.SIGTERM, signal.SIGKILL):
            results = [one_run(stack, how) for _ in range(runs)]
            exits = [e for e, _ in results if e is not None]
            resumes = [r for _, r in results]
            rows.append((how.name, exits, resumes))
    print(f"recovery, medians of {runs} ({before})")
    print(f"{'signal':<8} {'worker exit s':>14} {'job resumed after s':>20}")
    for name, exits, resumes in rows:
        exit_text = f"{statistics.median(exits):.2f}" if exits else "-"
        print(f"{name:<8} {exit_text:>14} {statistics.median(resumes):>20.2f}")
    after = load()
    (_, term_exits, term_resumes), (_, _, kill_resumes) = rows
    exited, resumed = statistics.median(term_exits), statistics.median(term_resumes)
    record(
        "recovery_sigterm",
        f"recovery after SIGTERM (handback), median of {runs}",
        "worker exits <= 5 s, job resumed <= 2 s",
        f"exits {exited:.2f} s, resumed {resumed:.2f} s",
        max(exited / 5, resumed / 2),
        exited <= 5 and resumed <= 2,
        before,
        after,
    )
    killed = statistics.median(kill_resumes)
    record(
        "recovery_kill",
        f"recovery after kill -9 (reaper), median of {runs}",
        "job resumed <= 15 s",
        f"resumed {killed:.2f} s",
        killed / 15,
        killed <= 15,
        before,
        after,
    )


if __name__ == "__main__":
    main()
