"""A sweep's trials: the grid's product, or seeded random draws from a space, times its seeds.

Each trial is its ``params``: the dotted paths it sets in the base spec (engine/overrides.py),
``training.seed`` included when the sweep lists seeds. The same request always gives the same
trials in the same order: random draws come from ``random.Random(seed)``, paths in the order
given.
"""

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

SEED_PATH = "training.seed"


class TooManyTrials(ValueError):
    """More trials than the settings allow; the message says both."""


def grid_trials(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last path varying fastest."""
    paths = list(grid)
    return [dict(zip(paths, values, strict=True)) for values in itertools.product(*grid.values())]


def random_trials(
    space: Mapping[str, Mapping[str, Any]], trials: int, seed: int
) -> list[dict[str, Any]]:
    """``trials`` draws from ``space``: per path one of ``uniform``, ``log_uniform`` (both
    ``[low, high]``), ``int`` (``[low, high]``, both included) or ``choice`` (a list)."""
    rng = random.Random(seed)
    return [{path: draw(rng, dist) for path, dist in space.items()} for _ in range(trials)]


def draw(rng: random.Random, dist: Mapping[str, Any]) -> Any:
    """One value of a distribution, ``{kind: argument}``."""
    ((kind, argument),) = dist.items()
    if kind == "uniform":
        return rng.uniform(*argument)
    if kind == "log_uniform":
        # Uniform in log space: each decade between low and high is as likely as the next.
        low, high = argument
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if kind == "int":
        return rng.randint(*argument)
    if kind == "choice":
        return rng.choice(argument)
    raise ValueError(f"no distribution {kind!r}")


def expand(
    grid: Mapping[str, Sequence[Any]] | None,
    space: Mapping[str, Mapping[str, Any]] | None,
    draws: int,
    random_seed: int,
    seeds: Sequence[int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The trials' params: grid points, or random draws (or the base alone), each once per seed.

    ``TooManyTrials`` before any trial is built when there would be more than ``limit``.
    """
    count = math.prod(len(values) for values in grid.values()) if grid else (draws or 1)
    count *= len(seeds) if seeds else 1
    if count > limit:
        raise TooManyTrials(f"{count} trials, over the limit of {limit} (MAX_SWEEP_TRIALS)")
    if grid:
        points = grid_trials(grid)
    elif space:
        points = random_trials(space, draws, random_seed)
    else:
        points = [{}]
    if not seeds:
        return points
    return [{**point, SEED_PATH: seed} for point in points for seed in seeds]
