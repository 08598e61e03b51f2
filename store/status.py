"""A job's status: one enum, the transitions it allows, and the one way a stored job moves.

    queued ──claim──> running ──> succeeded | failed
      │                 │ ^ reclaimed (a new attempt after its worker died)
      │                 ├──> queued (requeued: its worker died or is shutting down)
      │                 ├──> pruned (a sweep's trial the median rule stopped: store/pruning.py)
      │                 └──cancel──> cancelling ──> cancelled | succeeded | failed
      └──cancel──> cancelled;  queued ──> failed (out of attempts at claim)

Every change of a stored job's status goes through store.moves, which enforces this table;
the schema's CHECK constraint keeps the column to these names.
"""

from collections.abc import Iterable
from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PRUNED = "pruned"

    @property
    def terminal(self) -> bool:
        """True once the job has ended: nothing moves it again."""
        return not TRANSITIONS[self]


Q, R, C = JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    Q: frozenset({R, JobStatus.CANCELLED, JobStatus.FAILED}),
    R: frozenset({R, Q, C, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.PRUNED}),
    C: frozenset({JobStatus.CANCELLED, JobStatus.SUCCEEDED, JobStatus.FAILED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
    JobStatus.PRUNED: frozenset(),
}
TERMINAL = frozenset(s for s in JobStatus if s.terminal)
# Counted against an owner's quota of jobs at once: not yet ended.
ACTIVE = frozenset(s for s in JobStatus if not s.terminal)
# A worker holds the job: its writes are fenced by attempt while the status is one of these.
WORKING = frozenset({R, C})


class IllegalTransition(ValueError):
    """A status change that the transition table does not allow."""


def sources(to: JobStatus, among: Iterable[JobStatus] | None = None) -> frozenset[JobStatus]:
    """The statuses a job may move to ``to`` from (of those in ``among``, when given)."""
    allowed = frozenset(s for s, targets in TRANSITIONS.items() if to in targets)
    if among is not None:
        allowed &= frozenset(among)
    if not allowed:
        raise IllegalTransition(f"no job moves to {to} from {sorted(among or ())}")
    return allowed
