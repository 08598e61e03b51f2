"""The table atop BENCHMARKS.md: each benchmark's target, latest result and verdict, rendered from
bench/results/*.json (each script writes its own with ``bench.report.record``).

``make bench`` runs ``python bench/table.py --run``: every script of BENCHES in turn, then the
table. Without ``--run`` it only renders the results already there. Adding a benchmark to the
table is one entry in BENCHES: its command line and the result keys it records.
Run: .venv/bin/python bench/table.py [--run] [--only KEY ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import RESULTS  # noqa: E402

DOCUMENT = ROOT / "BENCHMARKS.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


@dataclass(frozen=True)
class Bench:
    """One benchmark run: its script and arguments, and the keys of the results it records."""

    script: str
    args: tuple[str, ...]
    keys: tuple[str, ...]


# Kept short: `make bench` runs them all one after another on a 2-core machine.
BENCHES = [
    Bench("engine.py", ("--repeats", "60", "--slow-repeats", "2"), ("engine_floor",)),
    Bench("submit_throughput.py", ("--tenants", "16"), ("submit_16_owners",)),
    Bench("submit_throughput.py", ("--tenants", "1"), ("submit_1_owner",)),
    Bench("service_overhead.py", ("--repeats", "5"), ("overhead_notebook", "overhead_moons")),
    Bench("queue_latency.py", (), ("queue_latency",)),
    Bench("reads_at_size.py", (), ("reads_at_size",)),
    Bench("scale_out.py", (), ("scale_out",)),
    Bench("sampled_loss_reads.py", (), ("sampled_loss_reads",)),
    Bench("sweep_throughput.py", (), ("sweep_throughput", "sweep_bookkeeping")),
    Bench("sweep_pruning.py", (), ("sweep_pruning",)),
    Bench("recovery.py", (), ("recovery_sigterm", "recovery_kill")),
    Bench("versus_sklearn.py", (), ("versus_sklearn",)),
    Bench("scaling.py", (), ("scaling_linear",)),
]


def run(benches: list[Bench]) -> None:
    """Run each benchmark script in turn; a failing one is reported and the rest still run."""
    for bench in benches:
        command = [sys.executable, str(ROOT / "bench" / bench.script), *bench.args]
        print("$", " ".join(command[1:]), flush=True)
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            print(f"{bench.script} failed: its rows keep their previous result", flush=True)


def render() -> str:
    """The Markdown table of every key of BENCHES, from its latest result file."""
    lines = [
        "| benchmark | target | latest result | result / target | met | when, machine, load |",
        "|---|---|---|---|---|---|",
    ]
    for bench in BENCHES:
        for key in bench.keys:
            path = RESULTS / f"{key}.json"
            if not path.exists():
                lines.append(f"| `{bench.script}` ({key}) | | not run yet | | | |")
                continue
            r = json.loads(path.read_text())
            met = "yes" if r["met"] else "**no**"
            where = f"{r['when']}, {r['machine']}, load {r['load']}"
            lines.append(
                f"| {r['benchmark']} (`{bench.script}`) | {r['target']} | {r['result']} "
                f"| {r['ratio']:.2f} | {met} | {where} |"
            )
    return "\n".join(lines)


def write(table: str) -> None:
    """Put ``table`` between the markers of BENCHMARKS.md."""
    text = DOCUMENT.read_text()
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"BENCHMARKS.md lacks the markers {START} ... {END}")
    DOCUMENT.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the benchmarks first")
    parser.add_argument("--only", nargs="*", default=None, help="run only these result keys")
    args = parser.parse_args()
    if args.run:
        chosen = [b for b in BENCHES if args.only is None or set(b.keys) & set(args.only)]
        run(chosen)
    table = render()
    write(table)
    print(table)


if __name__ == "__main__":
    main()
