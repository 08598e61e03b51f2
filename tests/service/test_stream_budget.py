"""The event streams' budget (store/streams.py): per process, per owner, leases that lapse."""

import time
import uuid

import pytest

from store import streams
from store.settings import Settings
from tests.service.conftest import BROKER_URL

pytestmark = pytest.mark.usefixtures("redis_broker")


def budget(broker_url: str, per_owner: int, per_process: int) -> streams.StreamBudget:
    queue = f"budget-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        broker_url=broker_url,
        queue_name=queue,
        max_streams_per_owner=per_owner,
        max_streams_per_process=per_process,
    )
    return streams.StreamBudget(settings)


@pytest.mark.parametrize("broker_url", [BROKER_URL, "filesystem://"], ids=["redis", "no redis"])
def test_owners_and_the_process_each_have_a_cap(broker_url: str) -> None:
    counted = budget(broker_url, per_owner=2, per_process=3)
    alice = [counted.open("alice"), counted.open("alice")]
    with pytest.raises(streams.OwnerFull):
        counted.open("alice")
    bob = counted.open("bob")
    with pytest.raises(streams.ProcessFull):  # three streams: the process is full
        counted.open("carol")
    with pytest.raises(streams.OwnerFull):  # alice is told about her own cap first
        counted.open("alice")
    alice[0].release()
    alice[0].release()  # twice is once
    alice.append(counted.open("alice"))
    bob.release()
    carol = counted.open("carol")
    for slot in [*alice, carol]:
        slot.release()
    assert [counted.open("dave") for _ in range(2)]


def test_a_lease_that_is_never_given_back_lapses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that died holding streams: its owner's leases expire by themselves."""
    monkeypatch.setattr(streams, "LEASE_SECONDS", 0.5)
    queue = f"budget-{uuid.uuid4().hex[:8]}"
    settings = Settings(broker_url=BROKER_URL, queue_name=queue, max_streams_per_owner=1)
    dead, alive = streams.StreamBudget(settings), streams.StreamBudget(settings)
    dead.open("alice")  # never released: its process "died"
    with pytest.raises(streams.OwnerFull):  # the other process sees alice's open stream
        alive.open("alice")
    slot = None
    for _ in range(50):  # bounded: the lease lapses after half a second
        try:
            slot = alive.open("alice")
            break
        except streams.OwnerFull:
            time.sleep(0.1)
    assert slot is not None
    slot.release()


def test_an_unreachable_counter_refuses_without_holding_a_thread() -> None:
    counted = budget("redis://127.0.0.1:1/0", per_owner=2, per_process=1)
    for _ in range(3):
        with pytest.raises(streams.CounterUnavailable):
            counted.open("alice")
    with pytest.raises(streams.CounterUnavailable):  # not ProcessFull: no thread was kept
        counted.open("bob")
