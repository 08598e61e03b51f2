"""Why the embedded mode writes a batch of epochs as multi-row INSERTs: the write lock it holds.

In ``make run`` the worker's progress thread writes each batch of epoch rows to SQLite while the
training thread beside it runs pure Python. Here a thread writes one batch (a transaction on a
file database in WAL mode, as the embedded mode has it) while the main thread spins, both
ways: the executemany the store used before (SQLAlchemy's bulk insert, a statement stepped per
row) and ``store.progress.insert_losses`` (a multi-row INSERT per 1,000 rows). The time is how
long the database's one write lock is held, which is how long a submission waits behind it.
Run: .venv/bin/python bench/sqlite_batch_write.py [--rows 1000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import load
from store.models import Base, EpochLoss
from store.progress import MEASURES, insert_losses

Write = Callable[[Session, str, list[int], dict[str, list[float | None]]], None]


def executemany(
    session: Session, job_id: str, epochs: list[int], columns: dict[str, list[float | None]]
) -> None:
    """The store's SQLite write before: one bulk insert, which the driver steps row by row."""
    full = {name: columns.get(name) or [None] * len(epochs) for name in MEASURES}
    rows = [
        {"job_id": job_id, "epoch": e, **{name: full[name][i] for name in MEASURES}}
        for i, e in enumerate(epochs)
    ]
    session.execute(sqlite.insert(EpochLoss).on_conflict_do_nothing(), rows)


def train_like(stop: threading.Event) -> None:
    """Pure Python arithmetic, as the engine's training loop is: it holds the GIL."""
    total = 0.0
    while not stop.is_set():
        for i in range(1000):
            total += i * 0.5


def timed_write(engine: object, write: Write, rows: int) -> float:
    """Seconds one batch of ``rows`` epochs takes to write and commit, training beside it."""
    epochs = list(range(1, rows + 1))
    columns: dict[str, list[float | None]] = {"loss": [0.1 * e for e in epochs]}
    columns["accuracy"] = [0.5] * rows
    spent: list[float] = []

    def writer() -> None:
        started = time.perf_counter()
        with Session(engine) as session, session.begin():  # type: ignore[call-overload]
            write(session, str(uuid.uuid4()), epochs, columns)
        spent.append(time.perf_counter() - started)

    stop = threading.Event()
    training = threading.Thread(target=train_like, args=(stop,))
    training.start()
    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    stop.set()
    training.join()
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(load())
    folder = tempfile.mkdtemp(prefix="gradyard-bench-")
    engine = create_engine(f"sqlite:///{folder}/bench.db", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def wal(connection: object, _record: object) -> None:
        connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[attr-defined]
        connection.execute("PRAGMA synchronous=NORMAL")  # type: ignore[attr-defined]

    Base.metadata.create_all(engine)  # no job rows: foreign keys stay off, as SQLite's default
    ways: dict[str, Write] = {"executemany (before)": executemany, "multi-row": insert_losses}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):  # interleaved, so the machine's load hits both alike
        for name, write in ways.items():
            times[name].append(timed_write(engine, write, args.rows))
    print(load())
    print(f"\none batch of {args.rows} epoch rows, a training thread beside, {args.repeats} each")
    print("| write | median ms | p90 ms | worst ms |")
    print("|---|---:|---:|---:|")
    for name, spent in times.items():
        ms = sorted(1000 * s for s in spent)
        p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
        print(f"| {name} | {statistics.median(ms):.0f} | {p90:.0f} | {ms[-1]:.0f} |")


if __name__ == "__main__":
    main()
