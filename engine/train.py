"""The training loop: Training runs a job an epoch at a time; train() runs it to the end.

Epochs count from 1. Epoch k's loss is the loss of the k-th forward pass, before its update, and
includes the L2 penalty. Full batch (the default) is one step per epoch over the samples in order,
as in the notebook. With `batch_size`, each epoch shuffles the samples with the job's shuffle RNG
and takes one step per batch; the epoch's loss is then the mean of its batch losses (each being
exactly the value that was differentiated), and its accuracy (or, for the squared losses, its
root-mean-square error) counts every sample of the epoch, each scored with the weights its batch
saw.

Validation (data.validation): after each epoch's updates, the model scores the validation
samples with the weights the epoch ended with: val_loss (the same loss, with the same L2
penalty, so the two curves compare), and val_accuracy or val_rmse as above. Normalization
(data.normalize) standardizes every input by the training split's statistics, which the weights
document keeps. Early stopping (training.early_stopping) watches val_loss, or the training loss
without validation, and ends training early (engine.early_stopping); with restore_best the
weights are those the best epoch ended with.

Randomness: the weights come from random.Random(seed), first, so the default job reproduces the
notebook; the data, the validation split and the shuffles use their own streams derived from
the seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from engine import data, optim, standardize, weights
from engine.early_stopping import EarlyStopping
from engine.errors import NonFiniteError, SpecError, TrainingError
from engine.holdout import split
from engine.losses import CLASSIFIERS, LOSSES, ON_LOGITS, correct, l2_penalty, squared_errors
from engine.nn import MLP, Pass
from engine.spec import GeneratedData, InlineData, JobSpec, parse_spec
from engine.training_spec import hyperparameters
from engine.validation_spec import HoldOut, InlineValidation
from engine.value import Value

CHECKPOINT_FORMAT = "gradyard.checkpoint/1"
_data = attrgetter("data")

Batch = tuple[list[list[float]], list[list[float]]]


@dataclass(frozen=True)
class EpochStats:
    """What one epoch measured: accuracy for the classifying losses, rmse for the others; the
    same on the validation samples, if any."""

    epoch: int
    loss: float
    accuracy: float | None
    rmse: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    val_rmse: float | None = None

    def metrics(self) -> dict[str, float]:
        """The measures besides the loss that this epoch has, by name."""
        named = {
            "accuracy": self.accuracy,
            "rmse": self.rmse,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "val_rmse": self.val_rmse,
        }
        return {k: v for k, v in named.items() if v is not None}


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
    stopped_epoch: int | None = None  # where early stopping ended training
    best_epoch: int | None = None  # the epoch early stopping found best


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
        self._inputs, self._targets, self._val = _parts(s)
        self._normalize = None
        if s.data.normalize == "standard":
            self._normalize = standardize.statistics(self._inputs)
            self._inputs = standardize.apply(self._normalize, self._inputs)
            if self._val is not None:
                self._val = (standardize.apply(self._normalize, self._val[0]), self._val[1])
        stopping = t.early_stopping
        self._stopping = EarlyStopping(stopping.patience, stopping.min_delta) if stopping else None
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
        """Whether every epoch has run, or early stopping has ended training."""
        return self.epoch >= self.total_epochs or self.stopped_epoch is not None

    @property
    def stopped_epoch(self) -> int | None:
        """The epoch at which early stopping ended training, or None."""
        return self._stopping.stopped_epoch if self._stopping else None

    @property
    def best_epoch(self) -> int | None:
        """The epoch of the least watched loss so far, under early stopping; else None."""
        return self._stopping.best_epoch if self._stopping else None

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
            stats = EpochStats(epoch, loss, sum(scores) / scored)
        else:
            stats = EpochStats(epoch, loss, None, math.sqrt(math.fsum(scores) / scored))
        if self._val is not None:
            try:
                val_loss, val_accuracy, val_rmse = self._evaluate(*self._val)
            except NonFiniteError as e:
                raise TrainingError(epoch, f"validation: {e}") from e
            stats = replace(stats, val_loss=val_loss, val_accuracy=val_accuracy, val_rmse=val_rmse)
        if self._stopping is not None:
            watched = stats.loss if stats.val_loss is None else stats.val_loss
            self._stopping.update(epoch, watched, [p.data for p in self._params])
        return stats

    def checkpoint(self) -> dict[str, Any]:
        """The state at this epoch boundary as JSON: resume=checkpoint continues bit for bit."""
        version, internal, gauss_next = self._shuffle.getstate()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "weights": weights.dump(self._model, self._normalize),
            "optimizer": self._optimizer.state(),
            "rng": {"version": version, "state": list(internal), "gauss_next": gauss_next},
            "early_stopping": self._stopping.state() if self._stopping else None,
        }

    def weights(self) -> dict[str, Any]:
        """The model's weights document (see engine.weights): the current weights, or under
        early stopping with restore_best those the best epoch ended with."""
        document = weights.dump(self._model, self._normalize)
        stopping = self._spec.training.early_stopping
        if stopping and stopping.restore_best and self._stopping and self._stopping.best_weights:
            document = weights.dump(self._best_model(), self._normalize)
        return document

    def _best_model(self) -> MLP:
        # A copy of the model holding the best epoch's parameters, in parameters() order.
        assert self._stopping is not None and self._stopping.best_weights is not None
        model = weights.load_mlp(weights.dump(self._model))
        for p, w in zip(model.parameters(), self._stopping.best_weights, strict=True):
            p.data = w
        return model

    def _evaluate(
        self, xs: list[list[float]], ys: list[list[float]]
    ) -> tuple[float, float | None, float | None]:
        # The validation samples through the current weights, no graph kept: the outputs in
        # chunks no larger than a training batch (so memory stays within the job's budget), then
        # the loss over them as constants, plus the same L2 penalty as the training loss.
        size = self._spec.training.batch_size or len(self._inputs)
        outputs: list[list[float]] = []
        for i in range(0, len(xs), size):
            chunk = self._model.forward(xs[i : i + size], logits=self._logits)
            outputs += [[y.data for y in o] for o in chunk]
        loss = self._loss([[Value(y) for y in o] for o in outputs], ys).data
        l2 = self._spec.training.l2
        if l2:
            loss += l2_penalty(self._params, l2).data
        scored = len(ys) * len(ys[0])
        if self._classify:
            right = correct(self._spec.training.loss, outputs, ys) or 0
            return loss, right / scored, None
        return loss, None, math.sqrt(squared_errors(outputs, ys) / scored)

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
        stopping = checkpoint.get("early_stopping")
        if self._stopping is not None and stopping is not None:
            self._stopping.load_state(stopping)
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


def judged_on(spec: JobSpec) -> tuple[str, Batch]:
    """The samples a trained model is judged on (a confusion matrix, say), and which they are:
    ("validation", its held-out samples) when the job has validation, else ("training", all)."""
    xs, ys, held = _parts(spec)
    return ("validation", held) if held is not None else ("training", (xs, ys))


def _parts(spec: JobSpec) -> tuple[list[list[float]], list[list[float]], Batch | None]:
    # The training inputs and targets, and the validation samples (None without validation).
    xs, ys = samples(spec)
    v = spec.data.validation
    if isinstance(v, InlineValidation):
        return xs, ys, ([list(x) for x in v.inputs], [list(y) for y in v.targets])
    if not isinstance(v, HoldOut):
        return xs, ys, None
    stratify = spec.training.loss in CLASSIFIERS
    labels = [tuple(y) for y in ys] if stratify else None
    train, held = split(labels, len(xs), v.fraction, spec.training.seed)
    return (
        [xs[i] for i in train],
        [ys[i] for i in train],
        ([xs[i] for i in held], [ys[i] for i in held]),
    )


def samples(spec: JobSpec) -> Batch:
    """A checked spec's inputs and targets, all of them (generated data drawn from its seed)."""
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
            on_epoch(stats.epoch, stats.loss, stats.metrics())
    return TrainResult(
        losses,
        accuracies,
        training.weights(),
        training.epoch,
        stopped,
        training.stopped_epoch,
        training.best_epoch,
    )
