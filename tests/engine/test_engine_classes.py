"""More than two classes: cross_entropy against PyTorch and finite differences, its spec rules,
the k-class generators, and training end to end against a PyTorch model."""

import hashlib
import json
import math
import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import SpecError, Training, Value, parse_spec, train
from engine.classify import confusion, labels, probabilities
from engine.data import generate
from engine.losses import correct, cross_entropy, softmax
from engine.optim import DEFAULT_ADAM_BETA1, DEFAULT_ADAM_BETA2, DEFAULT_ADAM_EPS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that numpy is absent; it needs none here
    import torch
    import torch.nn.functional as F

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@st.composite
def batches(draw, scale=30.0):
    """Logits of n samples by k classes, and a label per sample."""
    k = draw(st.integers(2, 6))
    n = draw(st.integers(1, 5))
    logit = st.floats(-scale, scale, allow_nan=False, allow_infinity=False)
    logits = draw(st.lists(st.lists(logit, min_size=k, max_size=k), min_size=n, max_size=n))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return logits, labels


def _ours(logits, labels):
    zs = [[Value(z) for z in row] for row in logits]
    loss = cross_entropy(zs, [[float(t)] for t in labels])
    loss.backward()
    return loss, [[z.grad for z in row] for row in zs]


def _torch(logits, labels):
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(z, torch.tensor(labels))
    loss.backward()
    return loss.item(), z.grad.tolist()


@PROPERTY
@given(batches())
def test_cross_entropy_matches_torch(batch):
    logits, labels = batch
    loss, grads = _ours(logits, labels)
    expected, expected_grads = _torch(logits, labels)
    assert len(loss._children) == len(logits) * len(logits[0])  # one fused node
    # A loss near 0 is log-sum-exp(z) - z_y, a difference of two numbers as large as the logits:
    # both torch and we lose the digits below eps x |z| there, so that is the absolute floor.
    floor = 1e-14 * max(1.0, *(abs(z) for row in logits for z in row))
    assert math.isclose(loss.data, expected, rel_tol=1e-9, abs_tol=floor)
    for mine, theirs in zip(grads, expected_grads, strict=True):
        for g, t in zip(mine, theirs, strict=True):
            assert math.isclose(g, t, rel_tol=1e-9, abs_tol=floor)


@PROPERTY
@given(batches(scale=5.0))
def test_cross_entropy_matches_finite_differences(batch):
    logits, labels = batch
    _, grads = _ours(logits, labels)

    def f(zs):
        return cross_entropy([[Value(z) for z in row] for row in zs], [[t] for t in labels]).data

    h = 1e-6
    for s, row in enumerate(logits):
        for i in range(len(row)):
            up = [list(r) for r in logits]
            down = [list(r) for r in logits]
            up[s][i] += h
            down[s][i] -= h
            fd = (f(up) - f(down)) / (2 * h)
            assert fd == pytest.approx(grads[s][i], rel=1e-5, abs=1e-7)


def test_cross_entropy_is_stable_at_extreme_logits():
    logits = [[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]]
    labels = [1, 2, 0]
    loss, grads = _ours(logits, labels)
    expected, expected_grads = _torch(logits, labels)
    assert math.isfinite(loss.data) and all(math.isfinite(g) for row in grads for g in row)
    assert loss.data == pytest.approx(expected, rel=1e-12)
    assert loss.data == pytest.approx((2e4 + 0.0 + math.log(2)) / 3, rel=1e-12)
    for mine, theirs in zip(grads, expected_grads, strict=True):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-300)
    assert softmax([1e4, -1e4, 1e4]) == [0.5, 0.0, 0.5]


def test_argmax_accuracy():
    outputs = [[0.1, 0.5, 0.2], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -0.5]]
    assert correct("cross_entropy", outputs, [[1.0], [1.0], [0.0], [2.0]]) == 3


def test_bad_labels_are_value_errors():
    with pytest.raises(ValueError, match="label 0 to 1"):
        cross_entropy([[Value(0.0), Value(1.0)]], [[2.0]])
    with pytest.raises(ValueError, match="one label per sample"):
        cross_entropy([[Value(0.0), Value(1.0)]], [[0.0, 1.0]])


CE = {
    "model": {"inputs": 2, "layers": [4, 3], "output_activation": "linear"},
    "data": {"inputs": [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "targets": [0, 1.0, 2]},
    "training": {"loss": "cross_entropy"},
}


def _with(base, **parts):
    return {key: {**base.get(key, {}), **parts.get(key, {})} for key in {*base, *parts}}


@pytest.mark.parametrize(
    ("parts", "field", "message"),
    [
        ({"model": {"output_activation": "tanh"}}, "model.output_activation", "'linear'"),
        ({"model": {"layers": [4, 1]}}, "model.layers", "2 or more outputs"),
        ({"data": {"targets": [0, 1.5, 2]}}, "data.targets.1", "integer label from 0 to 2"),
        ({"data": {"targets": [0, 1, 3]}}, "data.targets.2", "got 3"),
        ({"data": {"targets": [-1, 1, 2]}}, "data.targets.0", "got -1"),
        ({"data": {"targets": [[0], [1, 0], [2]]}}, "data.targets.1", "length 2"),
        ({"data": {"targets": [[0, 1], [1, 0], [2, 0]]}}, "data.targets.0", "one class label"),
        (
            {"data": {"generator": "spiral", "classes": 4, "inputs": None, "targets": None}},
            "model.layers",
            "data has 4 classes",
        ),
        (
            {"data": {"generator": "moons", "classes": 3, "inputs": None, "targets": None}},
            "data.classes",
            "moons draws 2 classes",
        ),
        (
            {
                "model": {"layers": [4, 1], "output_activation": "tanh"},
                "data": {"generator": "blobs", "classes": 3, "inputs": None, "targets": None},
                "training": {"loss": "hinge"},
            },
            "training.loss",
            "must be 'cross_entropy' for 3 classes",
        ),
        (
            {"data": {"generator": "blobs", "classes": 11, "inputs": None, "targets": None}},
            "data.classes",
            r"in \[2, 10\]",
        ),
    ],
)
def test_cross_entropy_spec_errors_name_the_field(parts, field, message):
    raw = _with(CE, **parts)
    raw["data"] = {k: v for k, v in raw["data"].items() if v is not None}
    with pytest.raises(SpecError, match=message) as info:
        parse_spec(raw)
    assert info.value.field == field


def test_cross_entropy_spec_reads_float_labels():
    spec = parse_spec(_with(CE, data={"targets": [0.0, 1.0, 2.0]}))
    assert spec.data.targets == ((0.0,), (1.0,), (2.0,))


# Today's two-class spiral, pinned: the classes setting must leave it bit for bit as it was.
SPIRAL_SHA = {(100, 0.1, 0): "7712b33846531f28", (7, 0.0, 3): "223b4f332e013fbd"}


@pytest.mark.parametrize("args", sorted(SPIRAL_SHA))
def test_two_class_spiral_is_unchanged(args):
    for drawn in (generate("spiral", *args), generate("spiral", *args, classes=2)):
        assert hashlib.sha256(repr(drawn).encode()).hexdigest()[:16] == SPIRAL_SHA[args]


@pytest.mark.parametrize("name", ["spiral", "blobs"])
@pytest.mark.parametrize("k", [2, 3, 7, 10])
def test_k_class_generators_are_seeded_and_balanced(name, k):
    inputs, labels = generate(name, 101, 0.1, seed=3, classes=k)
    assert (inputs, labels) == generate(name, 101, 0.1, seed=3, classes=k)
    assert generate(name, 101, 0.1, seed=4, classes=k) != (inputs, labels)
    assert len(inputs) == len(labels) == 101 and all(len(x) == 2 for x in inputs)
    classes = [-1.0, 1.0] if k == 2 else [float(c) for c in range(k)]
    counts = [labels.count(c) for c in classes]
    assert sorted(set(labels)) == classes and max(counts) - min(counts) <= 1


def test_generated_classes_are_in_the_normal_form():
    spec = {"generator": "blobs", "samples": 30, "classes": 3, "noise": 0.2}
    raw = _with(CE, model={"layers": [4, 3]})
    raw["data"] = spec
    assert parse_spec(raw).to_dict()["data"] == {**spec}
    raw["data"] = {"generator": "moons"}
    raw["model"]["layers"] = [4, 2]
    assert "classes" not in parse_spec(raw).to_dict()["data"]
    assert parse_spec(raw).data.classes == 2


SPIRAL3 = {
    "model": {"layers": [8, 3], "activation": "tanh", "output_activation": "linear"},
    "data": {"generator": "spiral", "samples": 45, "noise": 0.05, "classes": 3},
    "training": {
        "loss": "cross_entropy",
        "optimizer": "adam",
        "learning_rate": 0.05,
        "l2": 1e-3,
        "epochs": 12,
    },
}


def _torch_losses(spec):
    """Per-epoch losses of the same model, data and full-batch Adam in PyTorch float64."""
    parsed = parse_spec(spec)
    d, t = parsed.data, parsed.training
    xs, ys = generate(d.generator, d.samples, d.noise, t.seed, d.classes)
    doc = Training(spec).weights()
    params = []
    for layer in doc["layers"]:
        params.append(torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True))
        params.append(torch.tensor(layer["biases"], dtype=torch.float64, requires_grad=True))
    betas = (DEFAULT_ADAM_BETA1, DEFAULT_ADAM_BETA2)
    optimizer = torch.optim.Adam(params, lr=t.learning_rate, betas=betas, eps=DEFAULT_ADAM_EPS)
    x, labels = torch.tensor(xs, dtype=torch.float64), torch.tensor([int(y) for y in ys])
    acts = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda z: z}
    losses = []
    for _ in range(t.epochs):
        h = x
        for i, layer in enumerate(doc["layers"]):
            h = acts[layer["activation"]](h @ params[2 * i].T + params[2 * i + 1])
        loss = F.cross_entropy(h, labels) + t.l2 * sum((p * p).sum() for p in params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_training_with_cross_entropy_matches_torch():
    ours = train(SPIRAL3)
    assert ours.losses == pytest.approx(_torch_losses(SPIRAL3), rel=1e-9)
    assert all(a is not None and 0.0 <= a <= 1.0 for a in ours.accuracies)


def test_cross_entropy_resumes_bitwise_with_mini_batches_and_every_optimizer():
    for optimizer in ("sgd", "momentum", "adam"):
        spec = _with(SPIRAL3, training={"optimizer": optimizer, "batch_size": 10, "epochs": 5})
        whole = train(spec)
        first = Training(spec)
        first.run_epoch()
        first.run_epoch()
        text = json.dumps(first.checkpoint(), allow_nan=False)
        rest = train(spec, resume=json.loads(text))
        assert (whole.losses[2:], whole.accuracies[2:]) == (rest.losses, rest.accuracies)
        assert whole.weights == rest.weights


def test_regression_reports_rmse_per_epoch():
    spec = {"model": {"output_activation": "linear"}, "training": {"loss": "mean_squared"}}
    training = Training(spec)
    stats = training.run_epoch()
    assert stats.accuracy is None
    assert stats.rmse == pytest.approx(math.sqrt(stats.loss), rel=1e-12)  # no L2, full batch
    calls = []
    train(spec, on_epoch=lambda *args: calls.append(args[2]))
    assert all(set(m) == {"rmse"} for m in calls)


def test_three_spirals_figure():
    # The report's figure: 3 spirals of 100 points, MLP(2, [16, 16, 3]), cross_entropy, adam.
    spec = {
        "model": {"layers": [16, 16, 3], "activation": "tanh", "output_activation": "linear"},
        "data": {"generator": "spiral", "samples": 300, "noise": 0.0, "classes": 3},
        "training": {
            "loss": "cross_entropy",
            "optimizer": "adam",
            "learning_rate": 0.02,
            "epochs": 600,
        },
    }
    accuracies: list[float] = []
    result = train(
        spec,
        on_epoch=lambda epoch, loss, metrics: accuracies.append(metrics["accuracy"]),
        should_stop=lambda: bool(accuracies) and accuracies[-1] >= 0.99,
    )
    print(f"\nspiral k=3: accuracy {result.accuracies[-1]:.4f} after {result.epochs_run} epochs")
    assert result.accuracies[-1] >= 0.95


def test_softmax_of_a_trained_model_sums_to_one():
    rng = random.Random(0)
    for _ in range(20):
        p = softmax([rng.uniform(-50, 50) for _ in range(5)])
        assert math.fsum(p) == pytest.approx(1.0, rel=1e-15) and all(0 <= x <= 1 for x in p)


def test_class_labels_probabilities_and_confusion():
    assert labels("cross_entropy", [[0.1, 2.0, -1.0], [3.0, 0.0, 3.0]]) == [1, 0]
    assert probabilities("cross_entropy", [[0.0, 0.0]]) == [[0.5, 0.5]]
    assert labels("binary_cross_entropy", [0.7, 0.5, 0.2]) == [1, 0, 0]
    assert labels("binary_cross_entropy", [[0.7, 0.1]]) == [[1, 0]]
    assert probabilities("binary_cross_entropy", [0.7]) == [0.7]
    assert labels("hinge", [0.3, -0.1, 0.0]) == [1, -1, -1]
    assert probabilities("hinge", [0.3]) is None
    result = train(SPIRAL3)
    split, names, counts = confusion(SPIRAL3, result.weights)
    assert split == "training" and names == [0, 1, 2] and sum(map(sum, counts)) == 45
    assert [sum(row) for row in counts] == [15, 15, 15]
    # The diagonal is the accuracy of the final weights: one more (full-batch) epoch's.
    assert sum(counts[i][i] for i in range(3)) / 45 == _one_more_epoch(SPIRAL3).accuracy
    moons = {
        "model": {"layers": [4, 1], "output_activation": "linear"},
        "data": {"generator": "moons", "samples": 20},
        "training": {"loss": "hinge", "epochs": 2},
    }
    split, names, counts = confusion(moons, train(moons).weights)
    assert names == [-1, 1] and sum(map(sum, counts)) == 20
    # With a held-out fifth, the matrix counts those samples: the model's figure on new data.
    held_out = _with(moons, data={"validation": {"fraction": 0.2}})
    result = train(held_out)
    split, names, counts = confusion(held_out, result.weights)
    assert split == "validation" and sum(map(sum, counts)) == 4
    assert [sum(row) for row in counts] == [2, 2]  # stratified: two of each class

    with pytest.raises(ValueError, match="regression"):
        confusion({"training": {"epochs": 1}}, train({"training": {"epochs": 1}}).weights)


def _one_more_epoch(spec):
    # An epoch scores the weights it starts from: run past the end, and the last one scores
    # the final weights (a constant schedule makes the earlier epochs the same).
    training = Training(_with(spec, training={"epochs": spec["training"]["epochs"] + 1}))
    for _ in range(training.total_epochs - 1):
        training.run_epoch()
    return training.run_epoch()
