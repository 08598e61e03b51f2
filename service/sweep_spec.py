"""A sweep request as the API takes it: the base job spec, how its trials vary, the objective.

The base is an ordinary job spec (service/spec.py's JOB_SPEC, the engine's dataclasses). Paths
are dotted paths into it (engine/overrides.py); each trial's spec is validated in full before
anything is stored (service/api/sweeps.py).
"""

import builtins
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from service.spec import Name
from store.objective import METRICS

Path = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Uniform(_Dist):
    uniform: tuple[float, float] = Field(description="[low, high]: any number between")


class LogUniform(_Dist):
    log_uniform: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = Field(
        description="[low, high], both positive: uniform in log space"
    )


class IntRange(_Dist):
    int: tuple[builtins.int, builtins.int] = Field(
        description="[low, high]: an integer, both ends included"
    )


class Choice(_Dist):
    choice: list[Any] = Field(min_length=1, max_length=1000, description="one of these values")


Distribution = Uniform | LogUniform | IntRange | Choice


class RandomSearch(BaseModel):
    """``trials`` draws from ``space``, seeded: the same request gives the same trials."""

    model_config = ConfigDict(extra="forbid", strict=True)

    trials: int = Field(ge=1)
    seed: int = Field(default=0, description="seeds the draws (not the trials' training)")
    space: dict[Path, Distribution] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _ranges_ascend(self) -> "RandomSearch":
        for path, dist in self.space.items():
            ends = next(iter(dist.model_dump().values()))
            if not isinstance(dist, Choice) and ends[0] > ends[1]:
                raise ValueError(f"space.{path}: low is above high")
        return self


class Objective(BaseModel):
    """What a trial is judged by: a recorded per-epoch metric, at the trial's best epoch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metric: Literal[tuple(METRICS)] = Field(  # type: ignore[valid-type]
        description="a metric recorded each epoch"
    )
    mode: Literal["min", "max"] = "min"


class MedianPruning(BaseModel):
    """Optuna's MedianPruner: stop a trial whose best so far is worse than the median of the
    others at the same epoch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rule: Literal["median"] = "median"
    warmup_epochs: int = Field(default=0, ge=0, description="never prune at or before this epoch")
    min_trials: int = Field(
        default=5, ge=1, description="other trials that must have reached the epoch first"
    )


class SweepRequest(BaseModel):
    """Many trials of one base spec: a grid, or random draws, each repeated for every seed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name | None = None
    # Validated as a submitted job spec is (JOB_SPEC, through JSON), then every trial's spec.
    base: dict[str, Any] = Field(description="a job spec, as POST /api/v1/jobs takes")
    grid: dict[Path, Annotated[list[Any], Field(min_length=1, max_length=1000)]] | None = Field(
        default=None, max_length=100, description="every combination of these values"
    )
    random: RandomSearch | None = None
    seeds: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="each trial once per seed (training.seed)",
    )
    objective: Objective
    max_parallel: int = Field(default=4, ge=1, description="trials running at once, at most")
    pruning: MedianPruning | None = None

    @model_validator(mode="after")
    def _grid_or_random(self) -> "SweepRequest":
        if self.grid is not None and self.random is not None:
            raise ValueError("give a grid or random draws, not both")
        return self


SWEEP_REQUEST = TypeAdapter(SweepRequest)
