"""How cost grows: engine time and memory by model and data size, loss reads, job lists, limits.

1. The engine: seconds per epoch and the peak RSS of a process that has loaded the worker's
   libraries, for MLP(2, [h, h, 1]) of 10^2..10^6 parameters on 10..10^5 moons samples, full batch
   and mini-batches of 32. Each case runs in a child process of its own (its ``ru_maxrss`` is
   that case's alone); a large epoch is timed over its first batches and extrapolated. Fitted:
   log(CPU time) and log(memory growth) against log(parameters) and log(samples).
2. Loss reads: store.jobs.loss_page (GET /losses's query) of jobs of 10^3..10^6 epochs.
3. Job lists: store.jobs.list_jobs with the filters of bench/list_filters.py over 10^3..10^5 jobs.
   (2 and 3 run on a scratch database on the Postgres of --url, dropped at the end.)
4. The largest job the default limits admit (store.settings, engine/cost.py), and how long it
   takes: a few of its batches timed and extrapolated.
Writes a markdown section on stdout and a JSON summary to bench/results/scaling.json.
Run: .venv/bin/python bench/scaling.py [--url postgresql+psycopg://...] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import load, record  # noqa: E402

BATCH = 32
# (parameters, samples): full batch up to 10^7 parameter-samples an epoch (~1 s, ~0.5 GB);
# mini-batches reach 10^6 parameters x 10^5 samples, timed over a few batches.
FULL = [(100, 10), (100, 1_000), (100, 100_000), (1_000, 100), (1_000, 10_000),
        (10_000, 10), (10_000, 1_000), (100_000, 10), (100_000, 100), (1_000_000, 10)]  # fmt: skip
MINI = [(100, 1_000), (100, 100_000), (1_000, 10_000), (10_000, 1_000), (10_000, 100_000),
        (100_000, 10_000), (1_000_000, 100_000)]  # fmt: skip
EPOCHS = [1_000, 10_000, 100_000, 1_000_000]
JOBS = [1_000, 10_000, 100_000]
TIMED_SECONDS = 1.0  # each engine case: batches are timed until this much has passed


def width(parameters: int) -> int:
    """The h of MLP(2, [h, h, 1]) with the parameter count nearest ``parameters``."""
    # parameters = 2h + h + h*h + h + h + 1 = h^2 + 5h + 1
    return max(1, round((-5 + math.sqrt(25 + 4 * (parameters - 1))) / 2))


def spec(hidden: int, samples: int, batch: int | None, epochs: int = 1) -> dict[str, Any]:
    training: dict[str, Any] = {"epochs": epochs, "loss": "hinge"}
    if batch is not None:
        training["batch_size"] = batch
    return {
        "model": {
            "layers": [hidden, hidden, 1],
            "activation": "relu",
            "output_activation": "linear",
        },
        "data": {"generator": "moons", "samples": samples},
        "training": training,
    }


def measure_case(raw: dict[str, Any], seconds: float) -> dict[str, Any]:
    """In this (child) process: time training steps for ``seconds``, and the peak RSS.

    Steps go through the epoch's batches in turn (full batch: the one batch again), so a large
    epoch is timed over its first batches. CPU time is what the fits use: on a shared machine the
    wall clock also counts the other processes' turns.
    """
    import gc
    import resource

    import worker.app  # noqa: F401  (the libraries a pool process holds)
    from engine import Training

    gc.freeze()  # as the worker's pool process does after its fork (worker/app.py)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    training = Training(raw)
    lr = raw["training"].get("learning_rate", 0.1)
    batches = list(training._batches())  # what run_epoch iterates over
    steps, wall, cpu = 0, time.perf_counter(), time.process_time()
    while steps == 0 or time.perf_counter() - wall < seconds:
        training._step(*batches[steps % len(batches)], lr)
        steps += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "epoch_seconds": cpu / steps * len(batches),
        "epoch_wall_seconds": wall / steps * len(batches),
        "steps_timed": steps,
        "batches": len(batches),
        "base_rss": base,
        "peak_rss": peak,
    }


def run_case(parameters: int, samples: int, batch: int | None, seconds: float) -> dict[str, Any]:
    """One engine case in a child process; its measurements and its sizes."""
    hidden = width(parameters)
    raw = spec(hidden, samples, batch)
    code = "import json,sys; from bench.scaling import measure_case; "
    code += f"print(json.dumps(measure_case(json.loads(sys.argv[1]), {seconds})))"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    exact = hidden * hidden + 5 * hidden + 1
    used = samples if batch is None else min(batch, samples)
    ns = result["epoch_seconds"] / (exact * samples) * 1e9
    return {"parameters": exact, "samples": samples, "batch": used, "ns_per_ps": ns, **result}


def fit(xs: list[list[float]], ys: list[float]) -> list[float]:
    """Least squares of ys on the columns xs (plus an intercept, returned last)."""
    rows = [[*x, 1.0] for x in xs]
    n = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    b = [sum(r[i] * y for r, y in zip(rows, ys, strict=True)) for i in range(n)]
    for col in range(n):  # Gauss-Jordan with partial pivoting: n is 2 or 3
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        for r in range(n):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
                b[r] -= f * b[col]
    return [b[i] / a[i][i] for i in range(n)]


def exponents(cases: list[dict[str, Any]]) -> dict[str, float]:
    """Time ~ parameters^p x samples^s, and memory growth likewise (the cases that grew)."""
    logs = [[math.log(c["parameters"]), math.log(c["samples"])] for c in cases]
    p, s, _ = fit(logs, [math.log(c["epoch_seconds"]) for c in cases])
    grown = [c for c in cases if c["peak_rss"] - c["base_rss"] > 1e6]
    mp, ms, _ = fit(
        [[math.log(c["parameters"]), math.log(c["samples"])] for c in grown],
        [math.log(c["peak_rss"] - c["base_rss"]) for c in grown],
    )
    return {"parameters": p, "samples": s, "memory_parameters": mp, "memory_samples": ms}


def engine_section(quick: bool) -> tuple[list[str], dict[str, Any]]:
    seconds = 0.3 if quick else TIMED_SECONDS
    results: dict[str, Any] = {}
    lines = []
    for mode, grid, batch in (("full batch", FULL, None), (f"mini-batch {BATCH}", MINI, BATCH)):
        cases = [run_case(p, n, batch, seconds) for p, n in (grid[::3] if quick else grid)]
        fitted = exponents(cases)
        results[mode] = {"cases": cases, "exponents": fitted}
        p, n = fitted["parameters"], fitted["samples"]
        mp, mn = fitted["memory_parameters"], fitted["memory_samples"]
        lines += [
            f"**{mode}**: CPU time ~ parameters^{p:.2f} x samples^{n:.2f}; "
            f"memory growth ~ parameters^{mp:.2f} x samples^{mn:.2f}",
            "",
            "| parameters | samples | batch | CPU s/epoch | wall s/epoch | ns/param-sample "
            "| steps timed / batches an epoch | peak RSS MB | growth MB |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in cases:
            lines.append(
                f"| {c['parameters']:,} | {c['samples']:,} | {c['batch']:,} | "
                f"{c['epoch_seconds']:.4g} | {c['epoch_wall_seconds']:.4g} | "
                f"{c['ns_per_ps']:.0f} | {c['steps_timed']}/{c['batches']} | "
                f"{c['peak_rss'] / 2**20:.0f} | "
                f"{(c['peak_rss'] - c['base_rss']) / 2**20:.0f} |"
            )
        lines.append("")
    return lines, results


def timed(action: Any, repeats: int = 20) -> tuple[float, float]:
    """Median and worst milliseconds of ``action()`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def reads_section(url: str, quick: bool) -> tuple[list[str], dict[str, Any]]:
    """Loss reads and job lists at size, on a scratch database made and dropped here."""
    import psycopg
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import sessionmaker

    from bench.list_filters import OWNER, fill, filters
    from bench.reads_at_size import _copy
    from store.jobs import list_jobs, loss_page

    name = f"gradyard_bench_scaling_{uuid.uuid4().hex[:6]}"
    server = make_url(url)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    scratch = server.set(database=name).render_as_string(hide_password=False)
    dsn = make_url(scratch).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(scratch)
    results: dict[str, Any] = {"losses": [], "lists": []}
    lines = ["**Loss reads** (store.jobs.loss_page, medians and worst of 20, ms)", "",
             "| epochs stored | first 1,000 | last 1,000 | every Nth, 500 points |",
             "|---:|---:|---:|---:|"]  # fmt: skip
    try:
        _migrate(engine)
        sessions = sessionmaker(engine)
        for epochs in EPOCHS[:2] if quick else EPOCHS:
            job_id = str(uuid.uuid4())
            with psycopg.connect(dsn) as connection:
                connection.execute(
                    "INSERT INTO jobs (id, owner, status, spec, epochs, epoch, attempts, "
                    "created_at) VALUES (%s, 'bench', 'succeeded', '{}', %s, %s, 1, now())",
                    (job_id, epochs, epochs),
                )
                _copy(connection, job_id, epochs, 0)
                connection.execute("ANALYZE epoch_losses")
            every = max(1, epochs // 500)
            reads = {
                "first": (0, 1000, 1),
                "last": (epochs - 1000, 1000, 1),
                "sampled": (0, 500, every),
            }
            row: dict[str, Any] = {"epochs": epochs}
            for label, (after, limit, step) in reads.items():

                def read(
                    job: str = job_id, after: int = after, limit: int = limit, step: int = step
                ) -> None:
                    with sessions.begin() as session:
                        loss_page(session, job, after, limit, step)

                row[label] = timed(read)
            results["losses"].append(row)
            lines.append(f"| {epochs:,} | " + " | ".join(_ms(row[k]) for k in reads) + " |")
        lines += ["", "**Job lists** (store.jobs.list_jobs, a page of 50, medians of 20, ms)", ""]
        chosen = filters()
        lines += ["| filter | " + " | ".join(f"{n:,} jobs" for n in JOBS) + " |",
                  "|---|" + "---:|" * len(JOBS)]  # fmt: skip
        by_filter: dict[str, list[str]] = {label: [] for label in chosen}
        for count in JOBS[:2] if quick else JOBS:
            with engine.begin() as connection:
                connection.execute(text("TRUNCATE jobs CASCADE"))
            fill(dsn, count)
            for label, (status, which) in chosen.items():

                def listing(status: str | None = status, which: Any = which) -> None:
                    with sessions.begin() as session:
                        list_jobs(session, OWNER, status, 50, None, which)

                median, worst = timed(listing)
                results["lists"].append(
                    {"jobs": count, "filter": label, "median_ms": median, "max_ms": worst}
                )
                by_filter[label].append(_ms((median, worst)))
        lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in by_filter.items()]
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return [*lines, ""], results


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f} (max {pair[1]:.1f})"


def _migrate(engine: Any) -> None:
    from alembic import command
    from alembic.config import Config

    with engine.begin() as connection:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["connection"] = connection
        config.attributes["configure_logging"] = False
        command.upgrade(config, "head")


def largest_job(quick: bool) -> tuple[list[str], dict[str, Any]]:
    """The default limits' largest job: its size, and its time from a few timed batches."""
    from engine.cost import BYTES_PER_PARAMETER_SAMPLE
    from store.settings import Settings

    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    hidden = width(defaults["max_parameters"])
    while hidden * hidden + 5 * hidden + 1 > defaults["max_parameters"]:
        hidden -= 1
    parameters = hidden * hidden + 5 * hidden + 1
    samples = defaults["max_samples"]
    batch = min(samples, defaults["max_graph_bytes"] // (parameters * BYTES_PER_PARAMETER_SAMPLE))
    epochs = min(defaults["max_epochs"], defaults["max_work"] // (parameters * samples))
    case = run_case(parameters, samples, batch, 0.1 if quick else 5.0)
    seconds = case["epoch_seconds"] * epochs
    limit = defaults["job_time_limit"]
    summary = {
        **case,
        "epochs": epochs,
        "job_seconds": seconds,
        "job_time_limit": limit,
        "graph_bytes_estimate": parameters * batch * BYTES_PER_PARAMETER_SAMPLE,
        "worker_memory_bytes": defaults["worker_memory_bytes"],
    }
    lines = [
        f"**The largest job the defaults admit**: MLP(2, [{hidden}, {hidden}, 1]) = "
        f"{parameters:,} parameters (MAX_PARAMETERS {defaults['max_parameters']:,}) on "
        f"{samples:,} samples (MAX_SAMPLES), mini-batches of {batch} (the most MAX_GRAPH_BYTES "
        f"{defaults['max_graph_bytes'] / 2**30:g} GiB allows at 64 B a parameter-sample), "
        f"{epochs} epochs (MAX_WORK {defaults['max_work']:.0e} parameter-samples). "
        f"Measured over {case['steps_timed']} of its {case['batches']} batches an epoch: "
        f"{case['epoch_seconds']:.0f} CPU s an epoch, so **{seconds / 3600:.1f} h** of one core "
        f"({'within' if seconds <= limit else 'over'} JOB_TIME_LIMIT {limit / 3600:g} h); "
        f"peak RSS {case['peak_rss'] / 2**30:.2f} GiB (WORKER_MEMORY_BYTES "
        f"{defaults['worker_memory_bytes'] / 2**30:g} GiB).",
        "",
    ]
    return lines, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--quick", action="store_true", help="a few cases: checks the script")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/scaling.json")
    args = parser.parse_args()
    began, started = load(), time.monotonic()
    engine_lines, engine_results = engine_section(args.quick)
    read_lines, read_results = reads_section(args.url, args.quick)
    largest_lines, largest = largest_job(args.quick)
    lines = ["## How cost grows", "", f"`bench/scaling.py`, {began}; finished at load "
             f"{load().split('load average ')[1]} after {time.monotonic() - started:.0f} s.", "",
             "**Engine**: seconds per epoch (CPU and wall; extrapolated from the steps timed "
             "where an epoch has more batches) and the peak RSS of a child process that has "
             "imported the worker's libraries and frozen them as its pool does (growth: over "
             "its RSS before the model was built). The fits use CPU time.", "",
             *engine_lines, *read_lines, *largest_lines]  # fmt: skip
    print("\n".join(lines))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    summary = {"load_at_start": began, "engine": engine_results, **read_results}
    args.output.write_text(json.dumps({**summary, "largest_job": largest}, indent=1) + "\n")
    if not args.quick:
        record_linearity(engine_results[f"mini-batch {BATCH}"]["exponents"], began)


def record_linearity(exponents: dict[str, float], began: str) -> None:
    """The table's row: time linear in parameters x samples (issue 19), on mini-batches, where
    a fit of time against both is the right model (full batches are discussed in the text)."""
    worst = max(abs(exponents["parameters"] - 1), abs(exponents["samples"] - 1))
    record(
        "scaling_linear",
        "engine time ~ parameters^a x samples^b, mini-batch 32",
        "a, b within 1 +- 0.15",
        f"a {exponents['parameters']:.2f}, b {exponents['samples']:.2f}",
        worst / 0.15,
        worst <= 0.15,
        began,
        load(),
    )


if __name__ == "__main__":
    main()
