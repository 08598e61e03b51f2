"""Prometheus metrics shared by the API and the worker (Flask-free), and how to read them.

Under gunicorn or Celery's prefork pool every process counts on its own; with
``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client keeps each process's values in files there
and ``registry()`` adds them up. That variable must be set before this module is imported (the
library reads it at import), so ``gradyard serve`` and the bench stack set it for their children.
Without it, the values are the one process's own, which is right for a single process.
"""

import threading
import time
from collections.abc import Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from store.db import sessions
from store.models import Job
from store.settings import Settings
from store.status import TERMINAL, JobStatus

# Epochs of small models take micro- to milliseconds; jobs take milliseconds to hours.
_EPOCH_BUCKETS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 21600.0)
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

# What prometheus_client decided at its import, from the real environment (not .env).
MULTIPROCESS = values.ValueClass is not values.MutexValue


def prepare(settings: Settings) -> None:
    """Create the multiprocess folder the settings name (before the first metric is counted)."""
    if settings.prometheus_multiproc_dir is not None:
        settings.prometheus_multiproc_dir.mkdir(parents=True, exist_ok=True)


class Instruments:
    """Gradyard's counters and histograms; one set per process, made on first use, not at import
    (in multiprocess mode making one opens a file in the metrics folder)."""

    def __init__(self) -> None:
        self.jobs_submitted = Counter(
            "gradyard_jobs_submitted", "Jobs accepted by POST /api/v1/jobs."
        )
        self.jobs_finished = Counter(
            "gradyard_jobs_finished",
            "Job runs that ended, by the status they ended in.",
            ["status"],
        )
        self.jobs_purged = Counter(
            "gradyard_jobs_purged",
            "Ended jobs deleted with their losses for being older than RETENTION_DAYS.",
        )
        self.job_seconds = Histogram(
            "gradyard_job_duration_seconds",
            "Seconds a worker spent on one delivery of a job, by the status it ended in.",
            ["status"],
            buckets=_JOB_BUCKETS,
        )
        self.epoch_seconds = Histogram(
            "gradyard_epoch_duration_seconds",
            "Mean seconds per epoch, observed once per batch of epochs the worker persists.",
            buckets=_EPOCH_BUCKETS,
        )
        self.http_seconds = Histogram(
            "gradyard_http_request_duration_seconds",
            "API request latency by route (the URL rule, not the raw path), method and status.",
            ["route", "method", "status"],
            buckets=_HTTP_BUCKETS,
        )
        for status in sorted(TERMINAL):  # every series from the start, at 0
            self.jobs_finished.labels(status)
            self.job_seconds.labels(status)


_instruments: Instruments | None = None
_instruments_lock = threading.Lock()


def instruments() -> Instruments:
    """This process's instruments, made by whichever thread asks first.

    The lock matters: a fresh API process meets its first requests in several threads at once,
    and a second set of instruments would find its names registered (a 500 for that request).
    """
    global _instruments
    if _instruments is None:
        with _instruments_lock:
            if _instruments is None:
                _instruments = Instruments()
    return _instruments


class EpochTimer:
    """Times the epochs between two flushes; one histogram observation per batch, not per epoch."""

    def __init__(self, epoch: int = 0) -> None:
        self._epoch, self._start = epoch, time.perf_counter()

    def lap(self, epoch: int) -> None:
        """Observe the mean duration of the epochs since the last lap, up to ``epoch``."""
        now = time.perf_counter()
        if epoch > self._epoch:
            instruments().epoch_seconds.observe((now - self._start) / (epoch - self._epoch))
        self._epoch, self._start = epoch, now


class QueueDepth(Collector):
    """Jobs queued and not yet started, counted in SQL when scraped (ix_jobs_status serves it)."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with sessions(self._database_url).begin() as session:
            queued = session.scalar(select(func.count()).where(Job.status == JobStatus.QUEUED))
        gauge = GaugeMetricFamily("gradyard_queue_depth", "Jobs queued, not yet started.")
        gauge.add_metric([], float(queued or 0))
        yield gauge


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's metrics (multiprocess mode) or this process's."""
    if not MULTIPROCESS:
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined)  # reads PROMETHEUS_MULTIPROC_DIR, as the values did
    # The process and Python collectors of the process that answers (they do not add up).
    ProcessCollector(registry=combined)
    PlatformCollector(registry=combined)
    GCCollector(registry=combined)
    return combined


class _Everything(Collector):
    """Another registry's metrics, so that one exposition holds them and the queue depth."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()


def exposition(database_url: str, accept: str | None = None) -> tuple[bytes, str]:
    """The API's scrape: every process's metrics and the queue depth, in the format the
    scraper asks for (OpenMetrics when its Accept names it, else Prometheus text)."""
    scrape = CollectorRegistry()
    scrape.register(_Everything(registry()))
    scrape.register(QueueDepth(database_url))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(scrape), content_type
