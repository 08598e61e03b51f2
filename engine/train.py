"""The training loop: Training runs a job an epoch at a time; train() runs it to the end.

Epochs count from 1. Epoch k's loss is the loss of the k-th forward pass, before its update, and
includes the L2 penalty. Full batch (the default) is one step per epoch over the samples in order,
as in the notebook. With `batch_size`, each epoch shuffles the samples with the job's shuffle RNG
and takes one step per batch; the epoch's loss is then the mean of its batch losses (each being
exactly the value that was differentiated), and its accuracy (or, for the squared losses, its
root-mean-square error) counts every sample of the epoch, each scored with the weights its batch
saw.

Randomness: the weights come from random.Random(seed), first, so the default job reproduces the
notebook; the data and the shuffles use their own streams derived from the seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from engine import data, optim, weights
from engine.errors import NonFiniteError, SpecError, TrainingError
from engine.losses import CLASSIFIERS, LOSSES, ON_LOGITS, correct, l2_penalty, squared_errors
from engine.nn import MLP, Pass
from engine.spec import GeneratedData, InlineData, JobSpec, parse_spec
from engine.training_spec import hyperparameters

CHECKPOINT_FORMAT = "gradyard.checkpoint/1"
_data = attrgetter("data")

Batch = tuple[list[list[float]], list[list[float]]]


@dataclass(frozen=True)
class EpochStats:
    """What one epoch measured: accuracy for the classifying losses, rmse for the others."""

    epoch: int
    loss: float
    accuracy: float | None
    rmse: float | None = None


@dataclass
class TrainResult:
    """The per-epoch losses and accuracies of a train() call, and the final weights.

    epochs_run counts every epoch completed, including those before a resume; losses and
    accuracies hold only the epochs run by this call.
    """

    losses: list[float]
    accuracies: list[float | None]
    weights: dict[str, Any]
    epochs_run: int
    stopped: bool


class Training:
    """One training job, run an epoch at a time, checkpointed and resumed bit for bit."""

    def __init__(
        self, spec: Mapping[str, Any] | JobSpec, resume: Mapping[str, Any] | None = None
    ) -> None:
        self._spec = s = parse_spec(spec)
        m, t = s.model, s.training
        assert m.inputs is not None  # a JobSpec takes it from its data
        self._model = MLP(
            m.inputs, m.layers, m.activation, m.output_activation, rng=random.Random(t.seed)
        )
        self._inputs, self._targets = samples(s)
        self._shuffle = random.Random(f"{t.seed}:shuffle")
        self._params = self._model.parameters()
        optimizer = optim.OPTIMIZERS[t.optimizer.name]
        self._optimizer = optimizer(self._params, **hyperparameters(t.optimizer))
        self._schedule = optim.SCHEDULES[t.schedule.name]
        self._schedule_settings = hyperparameters(t.schedule)
        self._loss = LOSSES[t.loss]
        self._logits = t.loss in ON_LOGITS
        self._classify = t.loss in CLASSIFIERS
        self._nodes = 0  # graph nodes of the last step, for the benchmark
        full = t.batch_size is None
        self._full = Pass(self._model, self._inputs, self._logits) if full else None
        self.total_epochs = t.epochs
        self.epoch = 0
        if resume is not None:
            self._restore(resume)

    @property
    def done(self) -> bool:
        """Whether every epoch has run."""
        return self.epoch >= self.total_epochs

    def run_epoch(self) -> EpochStats:
        """Run the next epoch; TrainingError naming it if the loss or weights turn non-finite."""
        if self.done:
            raise RuntimeError(f"all {self.total_epochs} epochs have run")
        epoch = self.epoch + 1
        t = self._spec.training
        lr = self._schedule(t.learning_rate, epoch, t.epochs, **self._schedule_settings)
        losses = []
        scores = []  # per batch: right answers of a classifier, squared errors of a regression
        try:
            for xs, ys in self._batches():
                loss, score = self._step(xs, ys, lr)
                losses.append(loss)
                scores.append(score)
        except NonFiniteError as e:
            raise TrainingError(epoch, str(e)) from e
        loss = losses[0] if len(losses) == 1 else math.fsum(losses) / len(losses)
        if not math.isfinite(loss):
            raise TrainingError(epoch, f"the loss is {loss}")
        self.epoch = epoch
        scored = len(self._targets) * len(self._targets[0])
        if self._classify:
            return EpochStats(epoch, loss, sum(scores) / scored)
        return EpochStats(epoch, loss, None, math.sqrt(math.fsum(scores) / scored))

    def checkpoint(self) -> dict[str, Any]:
        """The state at this epoch boundary as JSON: resume=checkpoint continues bit for bit."""
        version, internal, gauss_next = self._shuffle.getstate()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "weights": self.weights(),
            "optimizer": self._optimizer.state(),
            "rng": {"version": version, "state": list(internal), "gauss_next": gauss_next},
        }

    def weights(self) -> dict[str, Any]:
        """The model's current weights document (see engine.weights)."""
        return weights.dump(self._model)

    def _batches(self) -> Iterator[Batch]:
        size = self._spec.training.batch_size
        if size is None:
            yield self._inputs, self._targets
            return
        order = list(range(len(self._inputs)))
        self._shuffle.shuffle(order)
        for i in range(0, len(order), size):
            chunk = order[i : i + size]
            yield [self._inputs[j] for j in chunk], [self._targets[j] for j in chunk]

    def _step(self, xs: list[list[float]], ys: list[list[float]], lr: float) -> tuple[float, float]:
        # Full batch: the same graph every epoch, recomputed in place. Mini-batches: a new one.
        forward = self._full or Pass(self._model, xs, self._logits)
        outputs = forward.run()
        loss = self._loss(outputs, ys)
        tape = [*forward.tape, loss]  # creation order: children before parents
        l2 = self._spec.training.l2
        if l2:
            penalty = l2_penalty(self._params, l2)
            loss = loss + penalty
            tape += (penalty, loss)
        self._nodes = len(tape)
        ys_hat = [[y.data for y in o] for o in outputs]
        if self._classify:
            score: float = correct(self._spec.training.loss, ys_hat, ys) or 0
        else:
            score = squared_errors(ys_hat, ys)
        for p in self._params:
            p.grad = 0.0
        loss.backward(tape)
        self._optimizer.step(lr)
        # A sum is non-finite exactly when some term is (barring overflow of huge weights).
        if not math.isfinite(sum(map(_data, self._params))):
            raise NonFiniteError("update", (), "made a weight non-finite")
        return loss.data, score

    def _restore(self, checkpoint: Mapping[str, Any]) -> None:
        if not isinstance(checkpoint, Mapping) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise SpecError(f"resume: expected a {CHECKPOINT_FORMAT!r} checkpoint")
        epoch = checkpoint.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool):
            raise SpecError("resume: epoch must be an integer")
        if not 0 <= epoch <= self.total_epochs:
            raise SpecError(f"resume: epoch {epoch} is outside 0..{self.total_epochs}")
        self._load_weights(weights.load_mlp(checkpoint.get("weights")))  # type: ignore[arg-type]
        self._optimizer.load_state(checkpoint.get("optimizer"))  # type: ignore[arg-type]
        rng = checkpoint.get("rng")
        try:
            state = (rng["version"], tuple(rng["state"]), rng["gauss_next"])  # type: ignore[index]
            self._shuffle.setstate(state)
        except (TypeError, KeyError, ValueError) as e:
            raise SpecError(f"resume: bad rng state ({e})") from None
        self.epoch = epoch

    def _load_weights(self, saved: MLP) -> None:
        shape = [(layer.activation, len(layer.neurons)) for layer in saved.layers]
        want = [(layer.activation, len(layer.neurons)) for layer in self._model.layers]
        if saved.nin != self._model.nin or shape != want:
            raise SpecError("resume: the checkpoint's model does not match the spec's")
        for p, q in zip(self._params, saved.parameters(), strict=True):
            p.data = q.data


def samples(spec: JobSpec) -> Batch:
    """A checked spec's training inputs and targets (generated data drawn from its seed)."""
    d, t = spec.data, spec.training
    if isinstance(d, InlineData):
        return [list(x) for x in d.inputs], [list(y) for y in d.targets]
    if not isinstance(d, GeneratedData):
        raise SpecError("data.dataset: the worker hands the engine a dataset's rows inline")
    xs, ys = data.generate(d.generator, d.samples, d.noise, t.seed, d.classes)
    return xs, [[y] for y in data.labels_for(t.loss, ys, d.classes)]


def train(
    spec: Mapping[str, Any] | JobSpec,
    on_epoch: Callable[[int, float, dict[str, float]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Run a job to its last epoch (or until should_stop()), calling on_epoch after each epoch."""
    training = Training(spec, resume)
    losses: list[float] = []
    accuracies: list[float | None] = []
    stopped = False
    while not training.done:
        if should_stop is not None and should_stop():
            stopped = True
            break
        stats = training.run_epoch()
        losses.append(stats.loss)
        accuracies.append(stats.accuracy)
        if on_epoch is not None:
            metrics = {"accuracy": stats.accuracy, "rmse": stats.rmse}
            on_epoch(stats.epoch, stats.loss, {k: v for k, v in metrics.items() if v is not None})
    return TrainResult(losses, accuracies, training.weights(), training.epoch, stopped)
