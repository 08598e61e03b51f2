"""A running job's pulse: a thread that records its worker is alive, even inside a long epoch.

Progress flushes move the heartbeat too, but only between epochs, and one epoch of a large job
may outlast the reaper's patience; this thread beats on a clock of its own.
"""

import logging
import threading
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.progress import Superseded, beat

log = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat(...):`` beats every ``interval`` seconds until the block ends."""

    def __init__(
        self, sessions: sessionmaker[Session], job_id: str, attempt: int, interval: float
    ) -> None:
        self._sessions, self._job_id, self._attempt = sessions, job_id, attempt
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._sessions.begin() as session:
                    beat(session, self._job_id, self._attempt)
            except Superseded:
                return  # the run learns it at its next flush; nothing more to say here
            except SQLAlchemyError as exc:  # the database is down: keep trying, quietly
                log.warning(
                    "heartbeat of job %s not recorded (%s)", self._job_id, type(exc).__name__
                )
