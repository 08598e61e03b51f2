"""What every benchmark prints besides its table: the machine's load, percentiles, a verdict."""

from __future__ import annotations

import os
import time


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
