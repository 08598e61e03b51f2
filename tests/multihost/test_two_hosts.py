"""Two hosts, one Postgres and one Redis: jobs spread over both, and a host cut off loses none.

Each "host" is a network namespace joined to the root by a veth pair (tests/multihost/network.py)
and runs one worker, as a machine of its own would: it reaches the databases only over its link.
The root side runs a private Postgres cluster and Redis, listening on the root ends of the links,
and the API. Taking a host's link down mid-job is a machine unplugged: its worker lives on but
nothing it sends arrives, so only the other host's reaper can notice (by the silent heartbeat)
and hand the job over. Skipped with one line where namespaces cannot be made; failed under CI.
"""

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text

from engine import train
from store.db import engine_for, sessions
from store.models import Job, utcnow
from store.queue import pending
from store.settings import Settings
from tests.multihost.network import Host, Hosts, namespaces_missing
from tests.service.conftest import WorkerProcess
from tests.service.servers import (
    PG_BIN,
    ApiServer,
    PostgresCluster,
    RedisServer,
    auth_headers_for,
    kill_hard,
    migrate,
    private_queue,
    running_on,
    wait_until,
)
from tests.service.specs import moons_job

pytestmark = pytest.mark.timeout(300)

# A worker killed or cut off mid-job: resumed elsewhere within this many seconds (issue 18), with
# the default heartbeat and reaper settings, which bound it at about HEARTBEAT_TIMEOUT +
# REAPER_SECONDS.
RECOVERY_TARGET = 15.0
# Checkpoints every half second, so a checkpoint behind the progress is soon there to resume from.
HOST_ENV = {"CHECKPOINT_SECONDS": "0.5"}
BOUNDS = ("heartbeat_seconds", "heartbeat_timeout", "reaper_seconds")  # what recovery takes
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Cluster:
    """The API (root side) and a worker per host, on the private Postgres and Redis."""

    api: httpx.Client
    database_url: str
    broker_url: str
    queue: str
    hosts: list[Host]
    workers: list[WorkerProcess]

    def submit(self, spec: dict[str, Any]) -> str:
        response = self.api.post("/api/v1/jobs", json=spec)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        document: dict[str, Any] = self.api.get(f"/api/v1/jobs/{job_id}").json()
        return document

    def ended(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        return wait_until(
            lambda: (job := self.job(job_id))["status"] in TERMINAL and job, timeout, "its end"
        )

    def losses(self, job_id: str) -> list[dict[str, Any]]:
        page = self.api.get(f"/api/v1/jobs/{job_id}/losses?limit=10000").json()
        assert page["next"] is None
        items: list[dict[str, Any]] = page["items"]
        return items

    def state(self, job_id: str) -> str:
        """The job's row, the broker's messages and Postgres's sessions, for a failure."""
        with sessions(self.database_url).begin() as session:
            job = session.get_one(Job, job_id)
            row = (job.status, job.attempts, job.epoch, job.heartbeat_at, job.message_id)
            sessions_seen = session.execute(
                text(
                    "SELECT client_addr, state, wait_event_type, left(query, 60) "
                    "FROM pg_stat_activity WHERE datname = current_database()"
                )
            ).all()
        held = pending(Settings(broker_url=self.broker_url, secret_key="unused"), self.queue)
        return (
            f"job (status, attempts, epoch, heartbeat, message) {row}, now {utcnow()}; {held}; "
            f"Postgres sessions {sessions_seen}"
        )

    def host_of(self, job_id: str, attempt: int) -> Host | None:
        """The host whose worker claimed ``attempt`` of the job (its log says so)."""
        worker = running_on(self.workers, job_id, attempt)
        return None if worker is None else self.hosts[self.workers.index(worker)]


def capability_missing() -> str | None:
    """Why the two hosts cannot be built here, or None."""
    for binary in ("redis-server", "runuser"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed"
    if not (PG_BIN / "initdb").exists():
        return f"no Postgres server binaries under {PG_BIN.parent.parent}"
    return namespaces_missing()


def stop_at_once(worker: WorkerProcess) -> None:
    """``kill -9`` the worker if it runs: a cut-off one would hang a warm shutdown."""
    if worker.process.poll() is None:
        kill_hard(worker)
    else:
        worker.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two hosts, the databases, the API and a worker per host; all removed afterwards."""
    problem = capability_missing()
    if problem:
        message = f"the two-host test needs network namespaces, Postgres and Redis: {problem}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    logs = tmp_path_factory.mktemp("multihost")
    with contextlib.ExitStack() as cleanup:  # undone in reverse, whatever fails on the way
        network = Hosts()
        cleanup.callback(network.remove)
        hosts = network.build(2)
        databases = tuple(host.root_address for host in hosts)

        redis_server = RedisServer(logs, addresses=databases)
        cleanup.callback(redis_server.stop)
        redis_server.start()
        postgres = PostgresCluster(addresses=databases)
        cleanup.callback(postgres.remove)
        postgres.start()
        admin = f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("CREATE DATABASE gradyard")
        migrate(postgres.url)
        cleanup.callback(lambda: engine_for(postgres.url).dispose())  # before the server stops

        queue = private_queue()
        workers = []
        for host in hosts:  # each reaches the databases at its link's root end, as over a LAN
            env = {
                "DATABASE_URL": postgres.url.replace("127.0.0.1", host.root_address),
                "BROKER_URL": redis_server.url.replace("127.0.0.1", host.root_address),
                "QUEUE_NAME": queue,
                **HOST_ENV,
            }
            log = logs / f"worker-{host.namespace}.log"
            worker = WorkerProcess(log, env, wrapper=host.command())
            cleanup.callback(stop_at_once, worker)
            workers.append(worker)
        root_env = {"DATABASE_URL": postgres.url, "BROKER_URL": redis_server.url}
        api = ApiServer(logs / "api.log", QUEUE_NAME=queue, **root_env)
        cleanup.callback(api.stop)
        for worker in workers:
            worker.wait_ready()
        headers = auth_headers_for(postgres.url)
        with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
            yield Cluster(client, postgres.url, redis_server.url, queue, hosts, workers)


def test_jobs_spread_over_both_hosts(cluster: Cluster) -> None:
    # Long enough that the first is still running when the second is delivered.
    jobs = [cluster.submit(moons_job(1000, seed=seed)) for seed in (1, 2)]
    hosts = [
        wait_until(lambda job=job: cluster.host_of(job, 1), 60, "a host to claim it")
        for job in jobs
    ]
    assert hosts[0] is not hosts[1], "both jobs ran on one host"
    for job in jobs:
        assert cluster.ended(job)["status"] == "succeeded"


def checkpoint_behind_progress(database_url: str, job_id: str) -> int | None:
    """The checkpoint's epoch once one is stored and epochs past it are recorded, else None."""
    with sessions(database_url).begin() as session:
        job = session.get_one(Job, job_id)
        if job.checkpoint is not None and job.checkpoint["epoch"] < job.epoch:
            return int(job.checkpoint["epoch"])
    return None


def test_a_host_cut_off_mid_job_hands_it_to_the_other(cluster: Cluster) -> None:
    spec = {"name": "cut me off", **moons_job(3000, seed=3)}
    job_id = cluster.submit(spec)
    first = wait_until(lambda: cluster.host_of(job_id, 1), 60, "a host to claim it")
    wait_until(lambda: checkpoint_behind_progress(cluster.database_url, job_id), 60, "a checkpoint")
    first.cut()
    cut_at = time.monotonic()
    at_cut = cluster.job(job_id)
    assert at_cut["status"] == "running" and at_cut["attempts"] == 1

    reference = train(at_cut["spec"])  # meanwhile the other host's reaper finds the job silent
    try:
        second = wait_until(lambda: cluster.host_of(job_id, 2), 60, "the other host to resume it")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {cluster.state(job_id)}") from None
    recovered_in = time.monotonic() - cut_at
    print(
        f"cut at epoch {at_cut['progress']['epoch']}, resumed elsewhere {recovered_in:.1f} s later"
    )
    done = cluster.ended(job_id)

    assert second is not first
    defaults = {name: Settings.model_fields[name].default for name in BOUNDS}
    assert recovered_in <= RECOVERY_TARGET, f"resumed {recovered_in:.1f} s after the cut {defaults}"
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    log = cluster.workers[cluster.hosts.index(second)].log_path.read_text()
    resumes = re.search(rf"job {job_id} attempt 2 resumes after epoch (\d+)", log)
    assert resumes is not None, log[-3000:]
    assert 0 < int(resumes.group(1)) < at_cut["progress"]["epoch"]  # from the checkpoint

    losses = cluster.losses(job_id)
    epochs = spec["training"]["epochs"]
    assert [item["epoch"] for item in losses] == list(range(1, epochs + 1))  # none twice, no gap
    assert [item["loss"] for item in losses] == reference.losses  # bitwise
    assert cluster.api.get(f"/api/v1/jobs/{job_id}/weights").json() == reference.weights
