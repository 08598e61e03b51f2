"""Writes that arrive together share one transaction: group commit, within a process.

Each submission holds its owner's lock from the moment it takes it until its commit, which waits
for the WAL's flush; alone, every submission pays a lock, its statements and a commit, and an
owner's next submission waits out all of it. Here a write that arrives while another's
transaction is open waits, and then goes with the others that waited, in the next transaction:
the owners' locks taken at once (in one order, so that two processes' batches never deadlock),
each write's statements in turn, then what the writes left to do at once (``end``: for
submissions, one INSERT of all their jobs), one commit. Each write sees what the ones before it
left in what the batch shares (an owner's count of active jobs), so its outcome is the one it
would have had alone, and its effects are committed before ``run`` returns.

A write (or the end) that raises rolls the whole batch back; each of its writes then runs again
alone, in its own thread, where what it raises (say, the ``IntegrityError`` of an
Idempotency-Key another process committed meanwhile, or another write of the same batch)
reaches its own caller. A write must not raise after writing
anything it would keep alone, and runs in whichever thread leads the batch: it gets what it
needs as arguments, not from a request's context.
"""

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

# A write gets the transaction's session and what its batch's writes share: made by ``begin``
# under the batch's locks, and kept up to date by the writes themselves.
Write = Callable[[Session, dict[str, Any]], T]
Begin = Callable[[Session, list[str]], dict[str, Any]]
# After the batch's writes, before its commit: what they left for the batch to do at once.
End = Callable[[Session, dict[str, Any]], None]


class _Waiting(Generic[T]):
    """One write, the key it locks, and where it stands: set by the thread that leads its
    batch, read by its own thread once woken."""

    def __init__(self, key: str, write: Write[T]) -> None:
        self.key, self.write = key, write
        self.state = _WAITING
        self.value: T | None = None
        self.error: Exception | None = None
        self.woken = threading.Event()

    def wake(self, state: str, value: T | None = None, error: Exception | None = None) -> None:
        self.state, self.value, self.error = state, value, error
        self.woken.set()


_WAITING = "waiting"
_LEAD = "lead"  # no batch is being written: this one's thread writes the next
_DONE = "done"  # committed with its batch
_AGAIN = "again"  # a write of its batch failed: it runs again alone
_FAILED = "failed"  # its batch's commit failed: its caller gets the error


class GroupCommit:
    """Runs writes on ``sessions``, those that arrive together in one transaction (at most
    ``most``), after ``begin(session, keys)`` has taken the locks of their keys (sorted, each
    once) and made what the writes share, and before ``end(session, shared)``, if given."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        begin: Begin,
        end: End | None = None,
        most: int = 32,
    ) -> None:
        self.sessions, self.begin, self.end, self.most = sessions, begin, end, most
        self._guard = threading.Lock()
        self._queue: list[_Waiting[Any]] = []
        self._writing = False
        self.batches = 0  # transactions tried, for tests and benchmarks

    @property
    def waiting(self) -> int:
        """Writes queued for the next batch."""
        with self._guard:
            return len(self._queue)

    def run(self, key: str, write: Write[T]) -> T:
        """``write(session, shared)`` in a transaction holding ``key``'s lock, committed on
        return."""
        waiting = _Waiting(key, write)
        with self._guard:
            self._queue.append(waiting)
            if not self._writing:
                self._writing = True
                waiting.state = _LEAD
        if waiting.state != _LEAD:
            waiting.woken.wait()  # its batch ended, or it leads the next one
        if waiting.state == _LEAD:
            self._lead()
        if waiting.state == _AGAIN:
            return self._alone(waiting)
        if waiting.error is not None:
            raise waiting.error
        return waiting.value  # type: ignore[return-value]

    def _lead(self) -> None:
        """Write the waiting writes (this thread's is the first of them), then hand over."""
        with self._guard:
            batch, self._queue = self._queue[: self.most], self._queue[self.most :]
        try:
            self._write(batch)
        finally:
            with self._guard:
                if self._queue:  # the first to have come leads the next batch
                    self._queue[0].wake(_LEAD)
                else:
                    self._writing = False

    def _write(self, batch: list[_Waiting[Any]]) -> None:
        """One transaction for ``batch``; every write of it woken with its outcome."""
        self.batches += 1
        values: list[Any] = []
        error: Exception | None = RuntimeError("the batch's commit was interrupted")
        written = False
        try:
            with self.sessions() as session:
                try:
                    values = self._run_writes(session, batch)
                except Exception:
                    session.rollback()
                    return  # each runs again alone: what it raises there reaches its caller
                written = True
                # A failed commit is not tried again: it may have been made all the same.
                try:
                    session.commit()
                    error = None
                except Exception as exc:
                    error = exc
        finally:
            for index, waiting in enumerate(batch):
                if not written:
                    waiting.wake(_AGAIN)
                elif error is not None:
                    waiting.wake(_FAILED, error=error)
                else:
                    waiting.wake(_DONE, values[index])

    def _alone(self, waiting: "_Waiting[T]") -> T:
        with self.sessions.begin() as session:
            return self._run_writes(session, [waiting])[0]

    def _run_writes(self, session: Session, batch: list[_Waiting[Any]]) -> list[Any]:
        """``batch``'s writes in ``session``: their keys locked (``begin``), each write in turn,
        then ``end``; what each write returned."""
        shared = self.begin(session, sorted({waiting.key for waiting in batch}))
        values = [waiting.write(session, shared) for waiting in batch]
        if self.end is not None:
            self.end(session, shared)
        return values
