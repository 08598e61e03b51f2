"""Each pool process runs under a memory cap, so a job that escapes its estimate fails cleanly.

The API admits a job only within its work budget (engine/cost.py), but an estimate is not a
guarantee. RLIMIT_DATA (private writable memory: the heap and anonymous maps, not the address
space that idle thread arenas reserve) makes an allocation past WORKER_MEMORY_BYTES raise
MemoryError in the job, which the runner turns into a failed job with a clear error, instead of
the kernel's OOM killer taking a process, maybe another one, without a word.
"""

import logging
import resource
from typing import Any

from celery import current_app
from celery.signals import worker_process_init

log = logging.getLogger(__name__)


def cap_memory(limit: int | None) -> None:
    """Cap this process's data memory at ``limit`` bytes (None or 0: leave it as it is)."""
    if not limit:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


@worker_process_init.connect
def _cap_the_pool_process(**_: Any) -> None:
    cap_memory(current_app.conf.gradyard_settings.worker_memory_bytes)
