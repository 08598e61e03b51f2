"""The training part of the job spec: the loop's settings, its optimizer's and its schedule's.

Part of engine.spec (see there): the same frozen dataclasses, read by engine.reader and by
pydantic alike. Each optimizer and schedule has a class of its own, tagged by its `name`, so an
object names only the settings that apply to it ({"name": "adam", "beta": 0.9} is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Annotated, Any, Literal

from engine import optim
from engine.losses import LOSSES
from engine.reader import PYDANTIC_CONFIG, Tagged

if TYPE_CHECKING:  # mypy sees plain names; at runtime each is the Literal of its registry
    LossName = str
    OptimizerName = str
    ScheduleName = str
else:
    LossName = Literal[tuple(LOSSES)]
    OptimizerName = Literal[tuple(optim.OPTIMIZERS)]
    ScheduleName = Literal[tuple(optim.SCHEDULES)]


@dataclass(frozen=True)
class Sgd:
    """Plain gradient descent, as the notebook: p <- p - lr grad."""

    __pydantic_config__ = PYDANTIC_CONFIG
    name: Literal["sgd"]


@dataclass(frozen=True)
class Momentum:
    """Heavy-ball momentum: v <- beta v + grad, p <- p - lr v."""

    __pydantic_config__ = PYDANTIC_CONFIG
    name: Literal["momentum"]
    beta: float = field(default=optim.DEFAULT_MOMENTUM_BETA, metadata={"ge": 0, "lt": 1})


@dataclass(frozen=True)
class Adam:
    """Adam, with the decay rates of its two moment estimates and its denominator's epsilon."""

    __pydantic_config__ = PYDANTIC_CONFIG
    name: Literal["adam"]
    beta1: float = field(default=optim.DEFAULT_ADAM_BETA1, metadata={"ge": 0, "lt": 1})
    beta2: float = field(default=optim.DEFAULT_ADAM_BETA2, metadata={"ge": 0, "lt": 1})
    eps: float = field(default=optim.DEFAULT_ADAM_EPS, metadata={"gt": 0})


@dataclass(frozen=True)
class Constant:
    """The same learning rate at every epoch."""

    __pydantic_config__ = PYDANTIC_CONFIG
    name: Literal["constant"]


@dataclass(frozen=True)
class LinearDecay:
    """The learning rate falling linearly to final_fraction of itself at the last epoch."""

    __pydantic_config__ = PYDANTIC_CONFIG
    name: Literal["linear_decay"]
    final_fraction: float = field(default=optim.DEFAULT_FINAL_FRACTION, metadata={"ge": 0, "le": 1})


@dataclass(frozen=True)
class EarlyStoppingSpec:
    """Stop once the validation loss (the training loss without validation) has not improved by
    more than min_delta for `patience` epochs; restore_best keeps the best epoch's weights."""

    __pydantic_config__ = PYDANTIC_CONFIG
    patience: int = field(metadata={"ge": 1, "description": "epochs without improvement"})
    min_delta: float = field(
        default=0.0, metadata={"ge": 0, "description": "the least decrease that improves"}
    )
    restore_best: bool = field(
        default=True, metadata={"description": "store the best epoch's weights, not the last"}
    )


Optimizer = Sgd | Momentum | Adam
Schedule = Constant | LinearDecay
BY_NAME = Tagged("name")

if TYPE_CHECKING:  # the normal form, which __post_init__ leaves in every instance
    OptimizerField = Optimizer
    ScheduleField = Schedule
else:  # the forms a spec may use: a name alone, or the name and its settings
    OptimizerField = OptimizerName | Annotated[Optimizer, BY_NAME]
    ScheduleField = ScheduleName | Annotated[Schedule, BY_NAME]


@dataclass(frozen=True)
class TrainingSpec:
    """How to train: the defaults are the notebook's loop (sgd, lr 0.01, full batch)."""

    __pydantic_config__ = PYDANTIC_CONFIG
    epochs: int = field(default=20, metadata={"ge": 1})
    learning_rate: float = field(default=0.01, metadata={"gt": 0})
    loss: LossName = "sum_squared"
    optimizer: OptimizerField = field(
        default=Sgd("sgd"), metadata={"description": "a name, or the name and hyperparameters"}
    )
    schedule: ScheduleField = field(
        default=Constant("constant"),
        metadata={"description": "the learning rate's: a name, or the name and settings"},
    )
    l2: float = field(
        default=0.0, metadata={"ge": 0, "description": "weight of the L2 penalty on parameters"}
    )
    batch_size: int | None = field(
        default=None,
        metadata={"ge": 1, "description": "samples per step; null (the default): all of them"},
    )
    seed: int = field(
        default=0,
        metadata={"ge": 0, "lt": 2**63, "description": "seeds the weights, data and batches"},
    )
    early_stopping: EarlyStoppingSpec | None = field(
        default=None, metadata={"description": "null (the default): train every epoch"}
    )

    def __post_init__(self) -> None:
        # A bare name means that optimizer (schedule) with its default hyperparameters.
        for name, union in (("optimizer", Optimizer), ("schedule", Schedule)):
            chosen = getattr(self, name)
            if isinstance(chosen, str):
                object.__setattr__(self, name, BY_NAME.members(union)[chosen](chosen))


def hyperparameters(choice: Optimizer | Schedule) -> dict[str, Any]:
    """An optimizer's or schedule's settings by name: its fields but the name."""
    return {f.name: getattr(choice, f.name) for f in fields(choice) if f.name != "name"}
