"""Gradyard's engine: a scalar reverse-mode autograd Value, MLPs built on it, and their training."""

from engine.errors import NonFiniteError, SpecError, TrainingError
from engine.nn import MLP
from engine.spec import JobSpec, parse_spec
from engine.train import EpochStats, Training, TrainResult, train
from engine.value import Value
from engine.weights import load_mlp, predict

__all__ = [
    "MLP",
    "EpochStats",
    "JobSpec",
    "NonFiniteError",
    "SpecError",
    "TrainResult",
    "Training",
    "TrainingError",
    "Value",
    "load_mlp",
    "parse_spec",
    "predict",
    "train",
]
