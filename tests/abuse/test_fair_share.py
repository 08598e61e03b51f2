"""Issue 12, item 8: one owner's backlog must not hold another owner's job behind it.

Owner A fills the queue with 20 long jobs, then owner B submits one short job. Two worker
processes. B's job must start as soon as a worker frees up, not after A's twenty; and with a
per-owner cap, A never runs more than its cap at once while its other jobs still all run.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from tests.abuse.own_queue import ENDED, Tenant, own_stack, owner_name, times
from tests.service.servers import wait_until
from tests.service.specs import moons_job

pytestmark = pytest.mark.usefixtures("services")

# A few seconds each on a loaded machine; A's backlog alone is minutes of work for two workers.
LONG_JOB = moons_job(500, samples=20)
SHORT_JOB = {"name": "the newcomer", "training": {"epochs": 1}}


def test_a_new_owner_starts_when_the_next_worker_frees_up(
    make_token: Callable[[str], str], tmp_path: Path
) -> None:
    with own_stack(tmp_path, workers=2) as stack:
        a = Tenant(stack.api, make_token(owner_name("fair-a")))
        b = Tenant(stack.api, make_token(owner_name("fair-b")))
        backlog = [a.submit(LONG_JOB) for _ in range(20)]
        try:
            wait_until(
                lambda: sum(t.started_at is not None for t in times(backlog).values()) >= 2,
                120,
                "two of A's jobs to start",
                interval=0.2,
            )
            newcomer = b.submit(SHORT_JOB)
            # Claims that began before B's job was stored may go first: all started before this.
            stored = datetime.now(UTC)

            def settled() -> bool:
                """B's job started, or two of A's jobs started after it was stored (unfair)."""
                rows = times([newcomer, *backlog])
                after = [j for j in backlog if (rows[j].started_at or stored) > stored]
                return rows[newcomer].started_at is not None or len(after) >= 2

            wait_until(settled, 240, "the next jobs to start", interval=0.2)
            rows = times([newcomer, *backlog])
            started = rows[newcomer].started_at
            ran = [rows[j] for j in backlog if rows[j].started_at is not None]
            ahead = [
                t
                for t in ran
                if t.started_at >= stored  # type: ignore[operator]
                and (started is None or t.started_at < started)  # type: ignore[operator]
            ]
            detail = f"B's job stored at {stored}, started at {started}; A's jobs ahead: {ahead}"
            assert started is not None and len(ahead) <= 1, detail
            # One of A's may go first only if A then ran none (both workers freed up at once):
            # a tie at no job running, which the older job wins. B's job is then next.
            for jumped in ahead:
                before = [t for t in ran if t.started_at < jumped.started_at]  # type: ignore[operator]
                assert all(t.finished_at and t.finished_at <= jumped.started_at for t in before), (
                    detail
                )
            early = [t for t in ran if t.started_at < started]  # type: ignore[operator]
            freed = min(t.finished_at for t in early if t.finished_at)  # type: ignore[type-var]
            waited = (started - rows[newcomer].created_at).total_seconds()
            print(
                f"\nB waited {waited:.2f} s; started {(started - freed).total_seconds():.2f} s "
                f"after the first worker freed up; A jobs started before B: {len(early)}"
            )
            assert rows[newcomer].attempts == 1
        finally:
            a.cancel_all(backlog)  # so the workers stop at once


def test_an_owner_runs_at_most_its_cap_and_the_rest_still_run(
    make_token: Callable[[str], str], tmp_path: Path
) -> None:
    with own_stack(tmp_path, workers=2, MAX_RUNNING_PER_OWNER="1") as stack:
        a = Tenant(stack.api, make_token(owner_name("capped-a")))
        b = Tenant(stack.api, make_token(owner_name("capped-b")))
        backlog = [a.submit(LONG_JOB) for _ in range(3)]
        newcomer = b.submit(SHORT_JOB)
        everyone = [newcomer, *backlog]
        try:
            # Well within QUEUED_TIMEOUT (300 s): the capped jobs must not wait for the reaper.
            wait_until(
                lambda: all(t.status in ENDED for t in times(everyone).values()),
                240,
                "every job to end",
                interval=0.2,
            )
        finally:
            a.cancel_all(backlog)
        rows = times(everyone)
        assert {t.status for t in rows.values()} == {"succeeded"}, rows
        runs = sorted((rows[j].started_at, rows[j].finished_at) for j in backlog)
        for (_, finished), (next_start, _) in pairwise(runs):
            assert finished <= next_start, f"A ran two jobs at once: {runs}"  # type: ignore[operator]
        # The second worker was not hoarded by A's waiting jobs: B's job ran beside A's first.
        assert rows[newcomer].started_at < runs[0][1], (rows[newcomer], runs)  # type: ignore[operator]
