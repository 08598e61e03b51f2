"""Sweeps at full speed: 200 notebook trials through one sweep against the same 200 jobs alone.

1. Throughput. One stack, 2 worker processes (separate workers of one process each). The same
   200 jobs (the notebook job, 20 epochs, seeds 0..199) are submitted alone (200 POSTs) and as
   one sweep (its ``seeds``, max_parallel 200: the cap never holds a trial back), alternately,
   --rounds times. Wall time: from just before the first POST to the last job's finished_at.
2. The sweep's bookkeeping per trial, the workers stopped so the trials stay queued: the time of
   POST /api/v1/sweeps over its trials (trial creation), and, timed in-process on the bench's
   database, what a worker does per trial that a lone job does not do or does differently: the
   fair claim (store/fair.py ``claim_next``, in a transaction rolled back) and the top-up's count
   of startable jobs (``startable``) with 200 trials queued, and one pruning decision
   (store/pruning.py ``MedianRule.prunes``) against the trials of part 3.
3. Pruning: a 24-trial sweep over moons (3 learning rates x 8 seeds, 32 epochs) with median
   pruning, max_parallel 1, on a stack flushing every FLUSH_EPOCHS epochs (FLUSH_SECONDS high).
   The worker logs, for each trial it prunes, the epoch the rule was asked at when it said so
   and the epoch the trial stopped after: their difference is how far a trial ran past its
   decision, at most one batch is the target (a batch grows, up to _BEHIND x FLUSH_EPOCHS
   epochs, while the write before it is still going). As a check, the rule is replayed: one
   trial ran at a time, judged only by the trials that ended before it, so ``MedianRule.prunes``
   is asked again on the very rows the trial was judged on (in a transaction that first deletes
   the later trials' rows, rolled back) at every epoch after the warm-up; the first epoch it
   prunes at is at or before the logged decision. Those asks also time one decision.
Run: .venv/bin/python bench/sweep_throughput.py [--trials 200] [--epochs 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load, record, verdict
from bench.stack import Stack
from store.db import sessions
from store.fair import claim_next, startable
from store.models import EpochLoss, Job
from store.progress import _BEHIND
from store.pruning import rule_for
from store.settings import Settings
from store.status import JobStatus

ENV = {"RATE_LIMIT": "1000000", "MAX_ACTIVE_JOBS": "1000000", "MAX_RUNNING_PER_OWNER": "1000"}
ENDED = ("succeeded", "failed", "cancelled", "pruned")
OBJECTIVE = {"metric": "loss", "mode": "min"}
FLUSH_EPOCHS = 4
PRUNE_ENV = {**ENV, "FLUSH_EPOCHS": str(FLUSH_EPOCHS), "FLUSH_SECONDS": "60"}
WARMUP = 2 * FLUSH_EPOCHS
PRUNING = {"rule": "median", "warmup_epochs": WARMUP, "min_trials": 5}
LEARNING_RATES, SEEDS = [0.1, 0.01, 0.001], list(range(8))
# Part 3's trials: moons epochs of milliseconds (not the notebook's 0.1 ms), so a batch of
# FLUSH_EPOCHS epochs mostly outlasts its write; learning rates far apart so some trials lag.
LONGEST_BATCH = _BEHIND * FLUSH_EPOCHS  # a batch grows so far while the one before is written
PRUNED_SWEEP = {
    "name": "pruned",
    "base": {
        "model": {"inputs": 2, "layers": [16, 16, 1], "output_activation": "linear"},
        "data": {"generator": "moons", "samples": 200, "noise": 0.1},
        "training": {"epochs": 32, "loss": "hinge"},
    },
    # Trials run in this order: the slow learners come last, judged by the fast ones.
    "grid": {"training.learning_rate": LEARNING_RATES},
    "seeds": SEEDS,
    "objective": OBJECTIVE,
    "max_parallel": 1,  # one at a time: the replay knows which rows each trial was judged on
    "pruning": PRUNING,
}


# worker/runner.py's line for a pruned trial (in the stack's log, JSON or text).
PRUNED_LINE = re.compile(r"job (\S+) pruned: judged after epoch (\d+), stopped after epoch (\d+)")


def pruned_in_log(text: str) -> dict[str, tuple[int, int]]:
    """Per pruned job: the epoch its decision was taken at and the epoch it stopped after."""
    return {m[1]: (int(m[2]), int(m[3])) for m in PRUNED_LINE.finditer(text)}


def dsn(stack: Stack) -> str:
    url = make_url(stack.env["DATABASE_URL"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def sweep_body(name: str, trials: int, epochs: int, pruning: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "base": {"name": name, "training": {"epochs": epochs}},
        "seeds": list(range(trials)),
        "objective": OBJECTIVE,
        "max_parallel": trials,  # never the cap that holds a trial back
    }
    if pruning:
        body["pruning"] = PRUNING
    return body


def drained(connection: psycopg.Connection[Any], where: str, value: str) -> tuple[datetime, int]:
    """Wait until every job ``where`` (a column = %s) has ended; the last finished_at and how
    many did not succeed."""
    while True:
        (left,) = connection.execute(
            f"SELECT count(*) FROM jobs WHERE {where} = %s AND status <> ALL(%s)",
            (value, list(ENDED)),
        ).fetchone() or (0,)
        if not left:
            break
        time.sleep(0.1)
    last, bad = connection.execute(
        "SELECT max(finished_at), count(*) FILTER (WHERE status <> 'succeeded') FROM jobs "
        f"WHERE {where} = %s",
        (value,),
    ).fetchone() or (None, 0)
    assert last is not None, f"no job where {where} = {value}"
    return last, int(bad)


def run_lone(stack: Stack, connection: psycopg.Connection[Any], name: str, args: Any) -> float:
    """Seconds from the first of ``trials`` POST /jobs to the last job's end."""
    first = datetime.now(UTC)
    for seed in range(args.trials):
        spec = {"name": name, "training": {"epochs": args.epochs, "seed": seed}}
        assert stack.client.post("/api/v1/jobs", json=spec).status_code == 202
    last, bad = drained(connection, "name", name)
    assert bad == 0, f"{bad} lone jobs did not succeed"
    return (last - first).total_seconds()


def run_sweep(stack: Stack, connection: psycopg.Connection[Any], name: str, args: Any) -> float:
    """Seconds from the POST /sweeps of ``trials`` trials to the last trial's end."""
    first = datetime.now(UTC)
    made = stack.client.post("/api/v1/sweeps", json=sweep_body(name, args.trials, args.epochs))
    assert made.status_code == 202, made.text
    last, bad = drained(connection, "sweep_id", made.json()["id"])
    assert bad == 0, f"{bad} trials did not succeed"
    return (last - first).total_seconds()


def settings_of(stack: Stack) -> Settings:
    return Settings(
        database_url=stack.env["DATABASE_URL"],
        broker_url=stack.env["BROKER_URL"],
        queue_name=stack.env["QUEUE_NAME"],
        secret_key=stack.env["SECRET_KEY"],
        max_running_per_owner=int(ENV["MAX_RUNNING_PER_OWNER"]),
    )


def queue_costs(stack: Stack) -> dict[str, float]:
    """Median ms (wall and this process's CPU) of a fair claim (rolled back) and of the
    top-up's count of startable jobs, over the queued jobs, the first 100."""
    settings = settings_of(stack)
    factory = sessions(settings.database_url)
    with factory() as session:
        queued = session.scalars(
            select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.created_at)
        ).all()
    claim_wall, claim_cpu, count_wall, count_cpu = [], [], [], []
    for job_id in queued[:100]:
        with factory() as session:
            wall, cpu = time.perf_counter(), time.process_time()
            assert claim_next(session, job_id, None, settings) is not None
            claim_wall.append(time.perf_counter() - wall)
            claim_cpu.append(time.process_time() - cpu)
            session.rollback()  # leave it queued: the next claim sees the same queue
        with factory() as session:
            wall, cpu = time.perf_counter(), time.process_time()
            startable(session, settings.queue_name, settings)
            count_wall.append(time.perf_counter() - wall)
            count_cpu.append(time.process_time() - cpu)
    ms = 1000
    return {
        "queued": len(queued),
        "claim": ms * statistics.median(claim_wall),
        "claim_cpu": ms * statistics.median(claim_cpu),
        "count": ms * statistics.median(count_wall),
        "count_cpu": ms * statistics.median(count_cpu),
    }


def bookkeeping(stack: Stack, args: Any) -> dict[str, Any]:
    """With the workers stopped: the claim and top-up costs with ``trials`` lone jobs queued,
    then (those cancelled) with one sweep of ``trials`` queued, and that sweep's creation (ms
    per trial)."""
    for worker in stack.processes[: stack.workers]:  # jobs must stay queued
        worker.terminate()
        worker.wait(timeout=30)
    for seed in range(args.trials):
        spec = {"name": "book-lone", "training": {"epochs": args.epochs, "seed": seed}}
        assert stack.client.post("/api/v1/jobs", json=spec).status_code == 202
    lone = queue_costs(stack)
    with psycopg.connect(dsn(stack)) as connection:  # the bench's own scratch database
        connection.execute("UPDATE jobs SET status = 'cancelled' WHERE status = 'queued'")
    body = sweep_body("book-sweep", args.trials, args.epochs, pruning=True)
    started = time.perf_counter()
    made = stack.client.post("/api/v1/sweeps", json=body)
    create = 1000 * (time.perf_counter() - started) / args.trials
    assert made.status_code == 202, made.text
    return {"lone": lone, "sweep": queue_costs(stack), "create": create}


def pruning_lag(args: Any) -> dict[str, Any]:
    """A pruned sweep run one trial at a time; per trial its last epoch, the worker's logged
    decision and stop, and the first epoch the replayed rule prunes at; the time of one pruning
    decision (ms, wall and CPU)."""
    trials = len(LEARNING_RATES) * len(SEEDS)
    with Stack(workers=2, concurrency=1, env=PRUNE_ENV, worker_loglevel="INFO") as stack:
        made = stack.client.post("/api/v1/sweeps", json=PRUNED_SWEEP)
        assert made.status_code == 202, made.text
        with psycopg.connect(dsn(stack)) as connection:
            drained(connection, "sweep_id", made.json()["id"])
        logged = pruned_in_log(stack.log_path.read_text(errors="replace"))
        factory = sessions(stack.env["DATABASE_URL"])
        rows, decide_wall, decide_cpu = [], [], []
        with factory() as session:
            jobs = session.execute(
                select(Job.id, Job.epoch, Job.status)
                .where(Job.sweep_id == made.json()["id"])
                .order_by(Job.started_at)
            ).all()
        for index, (job_id, final, status) in enumerate(jobs):
            later = [job[0] for job in jobs[index + 1 :]]
            with factory() as session:
                rule = rule_for(session, job_id)
                assert rule is not None
                if later:  # as the trial saw it: the trials after it had not started
                    session.execute(delete(EpochLoss).where(EpochLoss.job_id.in_(later)))
                replayed = None  # the first epoch the rule prunes at
                for end in range(WARMUP + 1, final + 1):
                    wall, cpu = time.perf_counter(), time.process_time()
                    prunes = rule.prunes(session, job_id, end)
                    decide_wall.append(time.perf_counter() - wall)
                    decide_cpu.append(time.process_time() - cpu)
                    if prunes and replayed is None:
                        replayed = end
                session.rollback()
            decided, stopped = logged.get(job_id, (None, None))
            rows.append(
                {
                    "final": final,
                    "decided": decided,
                    "stopped": stopped,
                    "replayed": replayed,
                    "pruned": status == JobStatus.PRUNED,
                }
            )
    return {
        "trials": trials,
        "pruned": rows,
        "decide": 1000 * statistics.median(decide_wall),
        "decide_cpu": 1000 * statistics.median(decide_cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=20, help="per job (notebook model)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    before = load()
    print(f"before: {before}")
    lone, swept = [], []
    with Stack(workers=2, concurrency=1, env=ENV) as stack:
        with psycopg.connect(dsn(stack)) as connection:
            for round_ in range(args.rounds):
                lone.append(run_lone(stack, connection, f"lone-{round_}", args))
                swept.append(run_sweep(stack, connection, f"sweep-{round_}", args))
                print(
                    f"round {round_ + 1}: lone {lone[-1]:.2f} s, sweep {swept[-1]:.2f} s "
                    f"({load()})",
                    flush=True,
                )
        book = bookkeeping(stack, args)
    lag = pruning_lag(args)
    after = load()
    print(f"after:  {after}")

    lone_rate = args.trials / statistics.median(lone)
    sweep_rate = args.trials / statistics.median(swept)
    ratio = sweep_rate / lone_rate
    print(
        f"\n{args.trials} notebook jobs x {args.epochs} epochs, 2 worker processes, "
        f"median of {args.rounds} rounds (lone then sweep in each)\n"
    )
    print("| submitted | wall time (s), each round | jobs/s (median) |")
    print("|---|---|---:|")
    for label, spans, rate in (
        (f"alone, {args.trials} POSTs", lone, lone_rate),
        ("one sweep, 1 POST", swept, sweep_rate),
    ):
        print(f"| {label} | {', '.join(f'{span:.2f}' for span in spans)} | {rate:.1f} |")
    paired = ", ".join(f"{alone / sweep:.2f}" for alone, sweep in zip(lone, swept, strict=True))
    print(f"\nsweep / lone throughput: {ratio:.2f} (each round: {paired})")

    lone_q, sweep_q = book["lone"], book["sweep"]
    extra = max(0.0, sweep_q["claim"] - lone_q["claim"]) + max(
        0.0, sweep_q["count"] - lone_q["count"]
    )
    per_trial = book["create"] + extra + lag["decide"]
    print(
        f"\nbookkeeping, median ms, {lone_q['queued']} lone jobs queued, then one sweep of "
        f"{sweep_q['queued']} trials queued (wall ms, this process's CPU ms in brackets):\n"
    )
    print("| step | lone jobs | sweep's trials |")
    print("|---|---:|---:|")
    print(f"| creation (POST /sweeps over its trials) | | {book['create']:.2f} |")
    for key, label in (("claim", "fair claim (claim_next, rolled back)"),
                       ("count", "top-up count (startable)")):  # fmt: skip
        print(
            f"| {label} | {lone_q[key]:.2f} ({lone_q[key + '_cpu']:.2f}) "
            f"| {sweep_q[key]:.2f} ({sweep_q[key + '_cpu']:.2f}) |"
        )
    print(f"| one pruning decision (MedianRule.prunes) | | {lag['decide']:.2f} "
          f"({lag['decide_cpu']:.2f}) |")  # fmt: skip
    print(
        f"\nthe sweep's own, per trial: creation + claim and top-up beyond a lone job's + one "
        f"decision (the one a trial gets at the default FLUSH_EPOCHS) = {per_trial:.2f} ms"
    )

    judged = lag["pruned"]
    pruned = [row for row in judged if row["pruned"]]
    print(
        f"\npruning: {len(pruned)} of {lag['trials']} trials pruned, FLUSH_EPOCHS {FLUSH_EPOCHS}, "
        f"warm-up {WARMUP}; (decided after, stopped after, last recorded, replay's first): "
        + ", ".join(
            f"({r['decided']}, {r['stopped']}, {r['final']}, {r['replayed']})" for r in pruned
        )
    )
    unlogged = [r for r in judged if r["pruned"] != (r["decided"] is not None)]
    if unlogged:  # pruned without the worker's line, or the line without the status
        print(f"pruned and logged disagree: {unlogged}")
    lags = [r["stopped"] - r["decided"] for r in pruned if r["decided"] is not None]
    if lags:
        print(
            f"ran past the decision: median {statistics.median(lags)}, most {max(lags)} epochs "
            f"(one batch: {FLUSH_EPOCHS}, grown at most {LONGEST_BATCH})"
        )
    # The log agrees with the rows (the trial's last recorded epoch is where it stopped) and
    # with the replay (the rule could prune it no later than where it did).
    consistent = all(
        r["stopped"] == r["final"] and r["replayed"] is not None and r["replayed"] <= r["decided"]
        for r in pruned
        if r["decided"] is not None
    )
    within = (
        bool(pruned) and not unlogged and consistent and all(0 <= n <= LONGEST_BATCH for n in lags)
    )
    verdict(ratio >= 0.9, f"sweep at {100 * ratio:.0f}% of lone throughput (target >= 90%)")
    verdict(per_trial < 5, f"the sweep's bookkeeping {per_trial:.2f} ms per trial (target < 5)")
    verdict(
        within,
        f"each pruned trial ran at most one batch (<= {LONGEST_BATCH} epochs) past its decision",
    )
    record(
        "sweep_throughput",
        f"sweep vs lone, {args.trials} notebook jobs x {args.epochs} epochs, 2 processes",
        ">= 90% of lone jobs/s",
        f"{100 * ratio:.0f}% ({sweep_rate:.1f} vs {lone_rate:.1f} jobs/s)",
        ratio / 0.9,
        ratio >= 0.9,
        before,
        after,
    )
    record(
        "sweep_bookkeeping",
        "sweep bookkeeping per trial (create, claim, top-up, prune)",
        "< 5 ms per trial",
        f"{per_trial:.2f} ms; pruned trials stop within one batch: {'yes' if within else 'no'}",
        per_trial / 5,
        per_trial < 5 and within,
        before,
        after,
    )


if __name__ == "__main__":
    main()
