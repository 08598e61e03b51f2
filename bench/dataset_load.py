"""How fast a worker reads a stored dataset: store.datasets.inline_spec on 100,000 rows.

Stores a 100,000 x 10 regression dataset (packed float64, 8.8 MB) in a scratch SQLite database
(or DATABASE_URL's, with --url) and times the worker's read: the deferred blobs fetched, unpacked
and turned into the inline spec the engine trains on.
Run: .venv/bin/python bench/dataset_load.py [--rows 100000] [--features 10] [--url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic import command
from alembic.config import Config

from store import datasets
from store.db import sessions
from store.tables import Table

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--url", default=None, help="a migrated database (default: scratch SQLite)")
    args = parser.parse_args()
    url = args.url
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        config = Config(str(ROOT / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
    rng = random.Random(0)
    n, f = args.rows, args.features
    table = Table(
        [f"x{j}" for j in range(f)],
        "y",
        None,
        array("d", (rng.uniform(-1, 1) for _ in range(n * f))),
        array("d", (rng.uniform(-1, 1) for _ in range(n))),
    )
    factory = sessions(url)
    with factory.begin() as session:
        dataset = datasets.create_dataset(session, f"bench-{time.time_ns()}", "bench", table)
    spec = {"data": {"dataset": dataset.id}, "training": {"loss": "mean_squared"}}
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with factory.begin() as session:
            inline = datasets.inline_spec(session, spec)
        times.append(time.perf_counter() - started)
    assert len(inline["data"]["inputs"]) == n
    print(
        f"{n} rows x {f} features ({dataset.size_bytes / 1e6:.1f} MB packed) on "
        f"{url.split(':')[0]}: load median {statistics.median(times) * 1000:.0f} ms, "
        f"best {min(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
