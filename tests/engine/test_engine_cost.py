"""The work budget's estimate against the engine's real appetite: the graph it builds."""

import tracemalloc

import pytest

from engine import Training, parse_spec
from engine.cost import estimate


def spec(layers: list[int], samples: int, batch_size: int | None = None) -> dict[str, object]:
    return {
        "model": {"layers": layers, "activation": "relu", "output_activation": "linear"},
        "data": {"generator": "moons", "samples": samples},
        "training": {"loss": "hinge", "epochs": 3, "batch_size": batch_size},
    }


@pytest.mark.parametrize(
    ("layers", "samples", "batch_size"),
    [([16, 16, 1], 200, None), ([64, 64, 1], 100, None), ([32, 32, 1], 400, 50)],
)
def test_the_graph_estimate_bounds_what_an_epoch_really_takes(
    layers: list[int], samples: int, batch_size: int | None
) -> None:
    raw = spec(layers, samples, batch_size)
    cost = estimate(parse_spec(raw))
    tracemalloc.start()
    try:
        training = Training(raw)
        training.run_epoch()
        training.run_epoch()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= cost.graph_bytes <= 4 * peak  # safe, and not so loose it refuses sane jobs


def test_the_work_is_parameters_times_samples_times_epochs() -> None:
    cost = estimate(parse_spec(spec([300, 300, 1], 10_000)))
    assert cost.parameters == 91_501 and cost.samples == cost.batch == 10_000
    assert cost.work == 91_501 * 10_000 * 3
    assert cost.graph_bytes > 50 * 1024**3  # the bomb: tens of gigabytes in one epoch
