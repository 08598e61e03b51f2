"""The job spec: a plain dict parsed into frozen dataclasses with defaults, or a SpecError.

    {"model": {"inputs": 3, "layers": [4, 4, 1], "activation": "tanh", "output_activation": "tanh"},
     "data": {"inputs": [[...], ...], "targets": [...]}   or   {"generator": "moons", ...},
     "training": {"epochs": 20, "learning_rate": 0.01, "loss": "sum_squared", "optimizer": "sgd",
                  "schedule": "constant", "l2": 0.0, "batch_size": null, "seed": 0}}

Every field is optional; the defaults below reproduce the notebook. `model.inputs` defaults to the
data's width. The DEFAULT_* and *_NAMES constants are public so the API's models can reuse them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from engine import data, optim
from engine.activations import ACTIVATIONS
from engine.errors import SpecError
from engine.losses import LABELS, LOSSES

DEFAULT_LAYERS = (4, 4, 1)
DEFAULT_ACTIVATION = "tanh"
DEFAULT_OUTPUT_ACTIVATION = "tanh"
DEFAULT_GENERATOR = "notebook"
DEFAULT_SAMPLES = 100
DEFAULT_NOISE = 0.1
DEFAULT_EPOCHS = 20
DEFAULT_LEARNING_RATE = 0.01
DEFAULT_LOSS = "sum_squared"
DEFAULT_OPTIMIZER = "sgd"
DEFAULT_SCHEDULE = "constant"
DEFAULT_FINAL_FRACTION = optim.DEFAULT_FINAL_FRACTION
DEFAULT_MOMENTUM_BETA = optim.DEFAULT_MOMENTUM_BETA
DEFAULT_ADAM_BETA1 = optim.DEFAULT_ADAM_BETA1
DEFAULT_ADAM_BETA2 = optim.DEFAULT_ADAM_BETA2
DEFAULT_ADAM_EPS = optim.DEFAULT_ADAM_EPS
DEFAULT_L2 = 0.0
DEFAULT_BATCH_SIZE: int | None = None
DEFAULT_SEED = 0
MAX_SAMPLES = 100_000

ACTIVATION_NAMES = tuple(ACTIVATIONS)
LOSS_NAMES = tuple(LOSSES)
OPTIMIZER_NAMES = tuple(optim.OPTIMIZERS)
SCHEDULE_NAMES = tuple(optim.SCHEDULES)
GENERATOR_NAMES = tuple(data.GENERATORS)


@dataclass(frozen=True)
class ModelSpec:
    """The MLP's shape: inputs, neurons per layer, hidden and output activations."""

    inputs: int
    layers: tuple[int, ...] = DEFAULT_LAYERS
    activation: str = DEFAULT_ACTIVATION
    output_activation: str = DEFAULT_OUTPUT_ACTIVATION


@dataclass(frozen=True)
class DataSpec:
    """Inline samples (inputs, targets: one tuple per sample), or a generator and its settings."""

    inputs: tuple[tuple[float, ...], ...] | None = None
    targets: tuple[tuple[float, ...], ...] | None = None
    generator: str | None = DEFAULT_GENERATOR
    samples: int = DEFAULT_SAMPLES
    noise: float = DEFAULT_NOISE


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer's name and hyperparameters (each optimizer reads only its own)."""

    name: str = DEFAULT_OPTIMIZER
    beta: float = DEFAULT_MOMENTUM_BETA
    beta1: float = DEFAULT_ADAM_BETA1
    beta2: float = DEFAULT_ADAM_BETA2
    eps: float = DEFAULT_ADAM_EPS


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule; final_fraction is the last epoch's share of the rate."""

    name: str = DEFAULT_SCHEDULE
    final_fraction: float = DEFAULT_FINAL_FRACTION


@dataclass(frozen=True)
class TrainingSpec:
    """How to train: epochs, rate, loss, optimizer, schedule, L2, batches and seed."""

    epochs: int = DEFAULT_EPOCHS
    learning_rate: float = DEFAULT_LEARNING_RATE
    loss: str = DEFAULT_LOSS
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: ScheduleSpec = ScheduleSpec()
    l2: float = DEFAULT_L2
    batch_size: int | None = DEFAULT_BATCH_SIZE
    seed: int = DEFAULT_SEED


@dataclass(frozen=True)
class JobSpec:
    """A whole, valid job spec."""

    model: ModelSpec
    data: DataSpec
    training: TrainingSpec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON with every default filled in; parse_spec reads it back."""
        d, t = self.data, self.training
        if d.generator is None:
            assert d.inputs is not None and d.targets is not None
            single = self.model.layers[-1] == 1
            targets = [t[0] if single else list(t) for t in d.targets]
            data_doc: dict[str, Any] = {"inputs": [list(x) for x in d.inputs], "targets": targets}
        else:
            data_doc = {"generator": d.generator, "samples": d.samples, "noise": d.noise}
        opt = {"name": t.optimizer.name}
        opt.update({k: getattr(t.optimizer, k) for k in _OPTIMIZER_FIELDS[t.optimizer.name]})
        schedule = asdict(t.schedule) if t.schedule.name == "linear_decay" else {"name": "constant"}
        model = {**asdict(self.model), "layers": list(self.model.layers)}
        training = {**asdict(t), "optimizer": opt, "schedule": schedule}
        return {"model": model, "data": data_doc, "training": training}


_OPTIMIZER_FIELDS = {"sgd": (), "momentum": ("beta",), "adam": ("beta1", "beta2", "eps")}


def parse_spec(spec: Mapping[str, Any] | JobSpec) -> JobSpec:
    """Check a job spec and fill in its defaults; raise SpecError saying what is wrong."""
    if isinstance(spec, JobSpec):
        return spec
    top = _section(spec, "spec", ("model", "data", "training"))
    training = _training(_section(top.get("training", {}), "training", _names(TrainingSpec)))
    data_spec, width, outputs = _data(top.get("data", {}), training.loss)
    model = _model(_section(top.get("model", {}), "model", _names(ModelSpec)), width)
    if model.layers[-1] != outputs:
        raise SpecError(
            f"model.layers ends with {model.layers[-1]} outputs but each target has {outputs}"
        )
    if training.loss == "binary_cross_entropy" and model.output_activation != "sigmoid":
        raise SpecError("model.output_activation must be 'sigmoid' for binary_cross_entropy")
    return JobSpec(model, data_spec, training)


def _model(m: Mapping[str, Any], width: int) -> ModelSpec:
    inputs = _int(m.get("inputs", width), "model.inputs", 1)
    if inputs != width:
        raise SpecError(f"model.inputs is {inputs} but each data sample has {width} inputs")
    layers = m.get("layers", list(DEFAULT_LAYERS))
    if not isinstance(layers, list | tuple) or not layers:
        raise SpecError(f"model.layers must be a non-empty list of sizes, got {layers!r}")
    return ModelSpec(
        inputs,
        tuple(_int(n, f"model.layers[{i}]", 1) for i, n in enumerate(layers)),
        _name(m.get("activation", DEFAULT_ACTIVATION), "model.activation", ACTIVATION_NAMES),
        _name(
            m.get("output_activation", DEFAULT_OUTPUT_ACTIVATION),
            "model.output_activation",
            ACTIVATION_NAMES,
        ),
    )


def _data(raw: Any, loss: str) -> tuple[DataSpec, int, int]:
    # Returns the spec, the inputs per sample and the targets per sample.
    d = _section(raw, "data", _names(DataSpec))
    if "inputs" not in d and "targets" not in d:
        name = _name(d.get("generator", DEFAULT_GENERATOR), "data.generator", GENERATOR_NAMES)
        samples = _int(d.get("samples", DEFAULT_SAMPLES), "data.samples", 1, MAX_SAMPLES)
        noise = _float(d.get("noise", DEFAULT_NOISE), "data.noise", lambda x: x >= 0.0, ">= 0")
        return DataSpec(None, None, name, samples, noise), data.DIMENSIONS[name], 1
    if {"generator", "samples", "noise"} & d.keys():
        raise SpecError("data takes inputs and targets, or a generator, not both")
    if "inputs" not in d or "targets" not in d:
        raise SpecError("data needs both inputs and targets")
    inputs = _rows(d["inputs"], "data.inputs")
    raw_targets = d["targets"]
    if not isinstance(raw_targets, list | tuple) or len(raw_targets) != len(inputs):
        raise SpecError(f"data.targets must be a list of {len(inputs)} targets, one per input")
    if all(not isinstance(t, list | tuple) for t in raw_targets):
        raw_targets = [[t] for t in raw_targets]
    targets = _rows(raw_targets, "data.targets")
    if loss in LABELS:
        labels = LABELS[loss]
        for i, row in enumerate(targets):
            if any(t not in labels for t in row):
                raise SpecError(
                    f"data.targets[{i}]: {loss} needs labels {labels[0]:g} or {labels[1]:g}"
                )
    return DataSpec(inputs, targets, None), len(inputs[0]), len(targets[0])


def _rows(rows: Any, where: str) -> tuple[tuple[float, ...], ...]:
    # A non-empty list of equally long, non-empty lists of finite numbers.
    if not isinstance(rows, list | tuple) or not 1 <= len(rows) <= MAX_SAMPLES:
        raise SpecError(f"{where} must be a list of 1 to {MAX_SAMPLES} samples")
    width = len(rows[0]) if isinstance(rows[0], list | tuple) else 0
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, list | tuple) or not row or len(row) != width:
            raise SpecError(f"{where}[{i}] must be a non-empty list, as long as {where}[0]")
        out.append(tuple(_float(x, f"{where}[{i}]") for x in row))
    return tuple(out)


def _training(t: Mapping[str, Any]) -> TrainingSpec:
    batch_size = t.get("batch_size", DEFAULT_BATCH_SIZE)
    return TrainingSpec(
        epochs=_int(t.get("epochs", DEFAULT_EPOCHS), "training.epochs", 1),
        learning_rate=_float(
            t.get("learning_rate", DEFAULT_LEARNING_RATE),
            "training.learning_rate",
            lambda x: x > 0.0,
            "> 0",
        ),
        loss=_name(t.get("loss", DEFAULT_LOSS), "training.loss", LOSS_NAMES),
        optimizer=_optimizer(t.get("optimizer", DEFAULT_OPTIMIZER)),
        schedule=_schedule(t.get("schedule", DEFAULT_SCHEDULE)),
        l2=_float(t.get("l2", DEFAULT_L2), "training.l2", lambda x: x >= 0.0, ">= 0"),
        batch_size=None if batch_size is None else _int(batch_size, "training.batch_size", 1),
        seed=_int(t.get("seed", DEFAULT_SEED), "training.seed"),
    )


def _optimizer(raw: Any) -> OptimizerSpec:
    where = "training.optimizer"
    if isinstance(raw, str):
        return OptimizerSpec(_name(raw, where, OPTIMIZER_NAMES))
    name = _name(raw.get("name") if isinstance(raw, Mapping) else raw, where, OPTIMIZER_NAMES)
    o = _section(raw, where, ("name", *_OPTIMIZER_FIELDS[name]))

    def _unit(key: str, default: float) -> float:
        return _float(o.get(key, default), f"{where}.{key}", lambda x: 0.0 <= x < 1.0, "in [0, 1)")

    return OptimizerSpec(
        name,
        _unit("beta", DEFAULT_MOMENTUM_BETA),
        _unit("beta1", DEFAULT_ADAM_BETA1),
        _unit("beta2", DEFAULT_ADAM_BETA2),
        _float(o.get("eps", DEFAULT_ADAM_EPS), f"{where}.eps", lambda x: x > 0.0, "> 0"),
    )


def _schedule(raw: Any) -> ScheduleSpec:
    where = "training.schedule"
    if isinstance(raw, str):
        return ScheduleSpec(_name(raw, where, SCHEDULE_NAMES))
    name = _name(raw.get("name") if isinstance(raw, Mapping) else raw, where, SCHEDULE_NAMES)
    s = _section(raw, where, ("name", "final_fraction") if name == "linear_decay" else ("name",))
    fraction = _float(
        s.get("final_fraction", DEFAULT_FINAL_FRACTION),
        f"{where}.final_fraction",
        lambda x: 0.0 <= x <= 1.0,
        "in [0, 1]",
    )
    return ScheduleSpec(name, fraction)


def _section(raw: Any, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where} must be an object, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}; expected one of {list(allowed)}")
    return raw


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _name(x: Any, where: str, choices: tuple[str, ...]) -> str:
    if x not in choices or not isinstance(x, str):
        raise SpecError(f"{where} must be one of {list(choices)}, got {x!r}")
    return x


def _int(x: Any, where: str, low: int | None = None, high: int | None = None) -> int:
    ok = isinstance(x, int) and not isinstance(x, bool)
    if not ok or (low is not None and x < low) or (high is not None and x > high):
        bounds = f" from {low}" if low is not None else ""
        bounds += f" to {high}" if high is not None else ""
        raise SpecError(f"{where} must be an integer{bounds}, got {x!r}")
    return int(x)


def _float(
    x: Any, where: str, ok: Callable[[float], bool] = lambda x: True, rule: str = ""
) -> float:
    number = isinstance(x, int | float) and not isinstance(x, bool)
    if not number or not math.isfinite(x) or not ok(float(x)):
        raise SpecError(f"{where} must be a finite number{' ' + rule if rule else ''}, got {x!r}")
    return float(x)
