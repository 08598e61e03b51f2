"""Median pruning on a 60-trial random sweep over moons, against the same sweep without it.

One stack, one worker process with a pool of --concurrency 6 (more than max_parallel 4, so the
cap is what holds the trials back). The same request (its random seed fixed) is submitted
twice, with and without ``pruning``; for each: the epochs all trials ran, the wall time (first
trial started to last ended), the best trial, and the most trials ever running at once, read
from the job rows' started_at and finished_at.
Pruning is judged each time a trial's progress is written (every FLUSH_SECONDS, 0.25 s), so
the trials must last several of those for it to act: 1,000 epochs of moons take about 0.7 s on
a fast host, where 100 took 70 ms and ended before their first write.
Run: .venv/bin/python bench/sweep_pruning.py [--trials 60] [--epochs 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load, record, verdict
from bench.stack import Stack

ENV = {"RATE_LIMIT": "1000000", "MAX_ACTIVE_JOBS": "1000000", "MAX_RUNNING_PER_OWNER": "100"}
MAX_PARALLEL = 4
PRUNING = {"rule": "median", "warmup_epochs": 10, "min_trials": 5}


def request(trials: int, epochs: int, pruning: dict[str, Any] | None) -> dict[str, Any]:
    """The sweep: learning rate, width, activation and l2 drawn for each of ``trials``."""
    body: dict[str, Any] = {
        "name": "moons random search" + (" (pruned)" if pruning else ""),
        "base": {
            "model": {"inputs": 2, "layers": [16, 16, 1], "output_activation": "linear"},
            "data": {"generator": "moons", "samples": 60, "noise": 0.1},
            "training": {"epochs": epochs, "loss": "hinge", "seed": 1337},
        },
        "random": {
            "trials": trials,
            "seed": 7,
            "space": {
                "training.learning_rate": {"log_uniform": [0.001, 1.0]},
                "model.layers": {"choice": [[8, 1], [8, 8, 1], [16, 16, 1]]},
                "model.activation": {"choice": ["relu", "tanh"]},
                "training.l2": {"uniform": [0.0, 0.001]},
            },
        },
        "objective": {"metric": "loss", "mode": "min"},
        "max_parallel": MAX_PARALLEL,
    }
    if pruning:
        body["pruning"] = pruning
    return body


def most_at_once(rows: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one moment (an end sorts before a start at the same time)."""
    moments = sorted([(start, 1) for start, _ in rows] + [(end, -1) for _, end in rows])
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    return peak


def run(stack: Stack, dsn: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit the sweep, wait for every trial to end; its figures."""
    made = stack.client.post("/api/v1/sweeps", json=body)
    assert made.status_code == 202, made.text
    sweep_id = made.json()["id"]
    while True:
        sweep = stack.client.get(f"/api/v1/sweeps/{sweep_id}").json()
        if not any(sweep["counts"][s] for s in ("queued", "running", "cancelling")):
            break
        time.sleep(0.5)
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT started_at, finished_at, epoch, status FROM jobs WHERE sweep_id = %s",
            (sweep_id,),
        ).fetchall()
    return {
        "sweep": sweep,
        "epochs": sum(row[2] for row in rows),
        "wall": (max(r[1] for r in rows) - min(r[0] for r in rows)).total_seconds(),
        "peak": most_at_once([(r[0], r[1]) for r in rows]),
        "pruned": sum(row[3] == "pruned" for row in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    before = load()
    print(f"before: {before}")
    with Stack(workers=1, concurrency=6, env=ENV) as stack:
        url = make_url(stack.env["DATABASE_URL"]).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        plain = run(stack, dsn, request(args.trials, args.epochs, None))
        pruned = run(stack, dsn, request(args.trials, args.epochs, PRUNING))
    after = load()
    print(f"after:  {after}")
    print(
        f"\n{args.trials} trials x {args.epochs} epochs, moons (60 samples), max_parallel "
        f"{MAX_PARALLEL}, 6 pool processes; pruning {PRUNING}\n"
    )
    print("| sweep | epochs run | wall time (s) | pruned | most running at once | best loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, result in (("without pruning", plain), ("median pruning", pruned)):
        best = result["sweep"]["best"]
        print(
            f"| {label} | {result['epochs']} | {result['wall']:.1f} | {result['pruned']} | "
            f"{result['peak']} | {best['objective']:.6g} |"
        )
    same = plain["sweep"]["best"]["params"] == pruned["sweep"]["best"]["params"]
    print(f"\nbest without pruning: {plain['sweep']['best']['params']}")
    print(f"best with pruning:    {pruned['sweep']['best']['params']}")
    print(f"same best trial: {'yes' if same else 'no'}")
    saved = 1 - pruned["epochs"] / plain["epochs"]
    verdict(
        max(plain["peak"], pruned["peak"]) <= MAX_PARALLEL,
        f"at most {MAX_PARALLEL} trials ran at once (saw {max(plain['peak'], pruned['peak'])})",
    )
    print(f"pruning ran {100 * saved:.0f}% fewer epochs")
    peak = max(plain["peak"], pruned["peak"])
    # Issue 15: max_parallel holds, and pruning saves epochs without losing the best trial.
    record(
        "sweep_pruning",
        f"median pruning, {args.trials}-trial random sweep, max_parallel {MAX_PARALLEL}",
        f"fewer epochs, same best trial, <= {MAX_PARALLEL} running",
        f"{100 * saved:.0f}% fewer epochs, same best: {'yes' if same else 'no'}, "
        f"at most {peak} running",
        pruned["epochs"] / plain["epochs"],  # below 1: epochs saved
        saved > 0 and same and peak <= MAX_PARALLEL,
        before,
        after,
    )


if __name__ == "__main__":
    main()
