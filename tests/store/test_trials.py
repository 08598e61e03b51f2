"""A sweep's trials from its request: the grid's product, seeded draws, seeds, the limit."""

import math

import pytest

from engine.overrides import MissingPath, apply_overrides
from store.trials import SEED_PATH, TooManyTrials, expand, random_trials

SPACE = {
    "training.learning_rate": {"log_uniform": [0.001, 1.0]},
    "training.l2": {"uniform": [0.0, 0.01]},
    "model.activation": {"choice": ["tanh", "relu"]},
    "training.batch_size": {"int": [4, 8]},
}


def test_the_grid_is_every_combination_each_once_per_seed() -> None:
    grid = {"training.learning_rate": [0.01, 0.1, 1.0], "model.layers": [[8, 1], [16, 16, 1]]}
    trials = expand(grid, None, 0, 0, [0, 1], limit=1000)
    assert len(trials) == 3 * 2 * 2
    assert trials[0] == {"training.learning_rate": 0.01, "model.layers": [8, 1], SEED_PATH: 0}
    assert trials[1] == {"training.learning_rate": 0.01, "model.layers": [8, 1], SEED_PATH: 1}
    combos = {(t["training.learning_rate"], str(t["model.layers"]), t[SEED_PATH]) for t in trials}
    assert len(combos) == 12


def test_random_draws_repeat_with_their_seed_and_stay_in_range() -> None:
    first = random_trials(SPACE, 200, seed=7)
    assert first == random_trials(SPACE, 200, seed=7)
    assert first != random_trials(SPACE, 200, seed=8)
    rates = [t["training.learning_rate"] for t in first]
    assert all(0.001 <= r <= 1.0 for r in rates)
    # Log-uniform: as many draws in [0.001, 0.01) as in [0.1, 1], far more than a uniform's 1%.
    low = sum(r < 0.01 for r in rates)
    assert 40 <= low <= 95, low
    assert all(0.0 <= t["training.l2"] <= 0.01 for t in first)
    assert {t["model.activation"] for t in first} == {"tanh", "relu"}
    assert {t["training.batch_size"] for t in first} == {4, 5, 6, 7, 8}


def test_no_grid_nor_draws_is_the_base_once_per_seed() -> None:
    assert expand(None, None, 0, 0, None, limit=10) == [{}]
    assert expand(None, None, 0, 0, [3, 4], limit=10) == [{SEED_PATH: 3}, {SEED_PATH: 4}]


def test_over_the_limit_is_refused_before_any_trial_is_made() -> None:
    grid = {f"p{i}": list(range(10)) for i in range(9)}  # a billion trials: never built
    with pytest.raises(TooManyTrials, match=r"1000000000 trials, over the limit of 1000"):
        expand(grid, None, 0, 0, None, limit=1000)
    with pytest.raises(TooManyTrials, match="over the limit of 100 "):
        expand(None, SPACE, 51, 0, [0, 1], limit=100)
    assert len(expand(None, SPACE, 50, 0, [0, 1], limit=100)) == 100


def test_params_applied_to_the_base_give_the_trial() -> None:
    base = {"model": {"layers": [4, 1]}, "training": {"learning_rate": 0.1, "seed": 0}}
    (trial,) = expand({"model.layers.0": [8]}, None, 0, 0, [5], limit=10)
    spec = apply_overrides(base, trial)
    assert spec == {"model": {"layers": [8, 1]}, "training": {"learning_rate": 0.1, "seed": 5}}
    assert base["model"]["layers"] == [4, 1]  # the base itself is left alone
    with pytest.raises(MissingPath):
        apply_overrides(base, {"training.lr": 1.0})
    assert math.isclose(spec["training"]["learning_rate"], 0.1)
