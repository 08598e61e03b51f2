"""What every benchmark prints besides its table: the machine's load, percentiles, a verdict,
and the one-line result that ``make bench`` puts in the table atop BENCHMARKS.md (``record``)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them, and the time."""
    one, five, fifteen = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"{stamp}, load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def verdict(met: bool, text: str) -> None:
    """The one-line verdict against the target."""
    print(f"{'MET' if met else 'NOT MET'}: {text}")


TICK = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group ``pgid``."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime, stime
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (not idle, not iowait)."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICK


def record(
    key: str,
    benchmark: str,
    target: str,
    result: str,
    ratio: float,
    met: bool,
    load_before: str,
    load_after: str,
) -> None:
    """Write the run's result to bench/results/<key>.json, the row bench/table.py renders.

    ``ratio`` is the result against the target, as a number where 1.0 is the target itself
    (how a higher- or lower-is-better result compares is said by ``met``).
    """
    RESULTS.mkdir(exist_ok=True)
    document = {
        "benchmark": benchmark,
        "target": target,
        "result": result,
        "ratio": round(ratio, 3),
        "met": met,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, {_cpu_model()}, Python {platform.python_version()}",
        "load": f"{_averages(load_before)} -> {_averages(load_after)}",
    }
    (RESULTS / f"{key}.json").write_text(json.dumps(document, indent=2) + "\n")


def _averages(line: str) -> str:
    """The 1-minute load average out of a ``load()`` line."""
    return line.partition("load average ")[2].split(",")[0] or "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return " ".join(line.partition(":")[2].split()[:2])
    except OSError:
        pass
    return platform.machine()
