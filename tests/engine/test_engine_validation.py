"""Validation, normalization and early stopping in the engine: the split, the statistics, the
stopping rule against a hand-computed sequence, and bitwise resume with all of it on."""

import json
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import SpecError, Training, TrainingError, parse_spec, predict, train
from engine.early_stopping import EarlyStopping
from engine.holdout import held_out, split
from engine.standardize import statistics

CLASSIFIER = {
    "model": {"layers": [6, 1], "output_activation": "sigmoid"},
    "data": {
        "generator": "moons",
        "samples": 60,
        "validation": {"fraction": 0.25},
        "normalize": "standard",
    },
    "training": {
        "loss": "binary_cross_entropy",
        "optimizer": "adam",
        "learning_rate": 0.05,
        "epochs": 120,
        "batch_size": 16,
        "early_stopping": {"patience": 5, "min_delta": 0.001},
    },
}


@settings(max_examples=200, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=2, max_size=300),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32),
)
def test_a_stratified_split_holds_out_the_fraction_of_every_class(labels, fraction, seed):
    n = len(labels)
    train_rows, val_rows = split(labels, n, fraction, seed)
    assert sorted(train_rows + val_rows) == list(range(n))  # a partition, each part in order
    assert train_rows == sorted(train_rows) and val_rows == sorted(val_rows)
    assert len(val_rows) == held_out(n, fraction) == min(max(1, round(fraction * n)), n - 1)
    held = Counter(labels[i] for i in val_rows)
    for label, count in Counter(labels).items():
        assert abs(held[label] - fraction * count) < 1 + 1e-9  # within one of its share
    assert split(labels, n, fraction, seed) == (train_rows, val_rows)  # seeded


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 500), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32))
def test_a_regression_split_holds_out_round_fraction_n(n, fraction, seed):
    train_rows, val_rows = split(None, n, fraction, seed)
    assert len(val_rows) == held_out(n, fraction) and len(train_rows) == n - len(val_rows)
    assert set(train_rows).isdisjoint(val_rows)


def test_another_seed_holds_out_other_samples():
    assert split(None, 100, 0.2, 1)[1] != split(None, 100, 0.2, 2)[1]


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3), min_size=4, max_size=40),
    seed=st.integers(0, 1000),
)
def test_normalization_statistics_come_from_the_training_rows_only(rows, seed):
    targets = [float(i % 2) for i in range(len(rows))]
    spec = {
        "model": {"inputs": 3, "layers": [2, 1], "output_activation": "sigmoid"},
        "data": {
            "inputs": rows,
            "targets": targets,
            "validation": {"fraction": 0.3},
            "normalize": "standard",
        },
        "training": {"loss": "binary_cross_entropy", "epochs": 1, "seed": seed},
    }
    train_rows, _ = split([(t,) for t in targets], len(rows), 0.3, seed)
    expected = statistics([rows[i] for i in train_rows])
    got = Training(spec).weights()["normalize"]
    assert got == expected
    for j in range(3):  # and they are the mean and (population) deviation of those rows
        column = [rows[i][j] for i in train_rows]
        mean = math.fsum(column) / len(column)
        assert got["mean"][j] == pytest.approx(mean, rel=1e-9, abs=1e-9)
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in column) / len(column))
        assert got["std"][j] == (std if std > 0 else 1.0)


def test_early_stopping_follows_a_hand_computed_sequence():
    # patience 2, min_delta 0.1: an epoch improves when its loss < best - 0.1.
    losses = [1.0, 0.8, 0.75, 0.69, 0.7, 0.6, 0.59]
    #         best  imp   wait1 imp   wait1 wait2 -> stop at epoch 6 (0.6 is not < 0.69 - 0.1)
    watch = EarlyStopping(patience=2, min_delta=0.1)
    stops = [watch.update(e, loss, [float(e)]) for e, loss in enumerate(losses, start=1)]
    assert stops == [False, False, False, False, False, True, True]
    assert watch.stopped_epoch == 6 and watch.best_epoch == 4 and watch.best == 0.69
    assert watch.best_weights == [4.0]


def test_a_job_stops_early_and_keeps_its_best_epochs_weights():
    spec = json.loads(json.dumps(CLASSIFIER))
    spec["training"]["early_stopping"]["min_delta"] = 0.0  # the best is then the least val_loss
    seen = []
    result = train(spec, on_epoch=lambda e, loss, m: seen.append((e, m)))
    assert result.stopped_epoch is not None and result.stopped_epoch < 120
    assert result.epochs_run == result.stopped_epoch == len(seen)
    val = [m["val_loss"] for _, m in seen]
    best = min(range(len(val)), key=lambda i: val[i]) + 1
    assert result.best_epoch == best
    assert all("val_accuracy" in m and "accuracy" in m for _, m in seen)
    # restore_best: the stored weights are those epoch best ended with, replayed to there.
    replay = Training(spec)
    for _ in range(best):
        replay.run_epoch()
    current = replay.checkpoint()["weights"]
    assert result.weights == current
    off = json.loads(json.dumps(spec))
    off["training"]["early_stopping"]["restore_best"] = False
    last = train(off)
    assert last.stopped_epoch == result.stopped_epoch and last.weights != result.weights


def test_without_validation_early_stopping_watches_the_training_loss():
    spec = json.loads(json.dumps(CLASSIFIER))
    del spec["data"]["validation"]
    spec["training"]["early_stopping"]["min_delta"] = 0.0  # the best is then the least loss
    seen = []
    result = train(spec, on_epoch=lambda e, loss, m: seen.append((loss, m)))
    assert all("val_loss" not in m for _, m in seen)
    losses = [loss for loss, _ in seen]
    assert result.best_epoch == min(range(len(losses)), key=lambda i: losses[i]) + 1


def test_predict_takes_raw_inputs_of_a_normalized_model():
    spec = json.loads(json.dumps(CLASSIFIER))
    spec["data"]["generator"] = "blobs"
    spec["data"]["noise"] = 0.2
    result = train(spec)
    xs = [[1.0, 0.0], [-1.0, 0.0]]  # the two blobs' centres, raw
    p = predict(result.weights, xs)
    assert p[0] < 0.5 < p[1] or p[1] < 0.5 < p[0]


@pytest.mark.parametrize("k", [1, 3, 7, 12])
def test_resume_with_validation_normalization_and_early_stopping_is_bitwise(k):
    whole = train(CLASSIFIER)
    first = Training(CLASSIFIER)
    for _ in range(min(k, whole.epochs_run)):
        first.run_epoch()
    text = json.dumps(first.checkpoint(), allow_nan=False)
    rest = train(CLASSIFIER, resume=json.loads(text))
    assert rest.epochs_run == whole.epochs_run
    assert (rest.stopped_epoch, rest.best_epoch) == (whole.stopped_epoch, whole.best_epoch)
    assert whole.losses[k:] == rest.losses and rest.weights == whole.weights


def test_inline_validation_and_its_checks():
    base = {
        "model": {"layers": [2, 3], "output_activation": "linear"},
        "data": {
            "inputs": [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
            "targets": [0, 1, 2],
            "validation": {"inputs": [[0.5, 0.5]], "targets": [1]},
        },
        "training": {"loss": "cross_entropy", "epochs": 2},
    }
    seen = []
    train(base, on_epoch=lambda e, loss, m: seen.append(m))
    assert all(m["val_accuracy"] in (0.0, 1.0) for m in seen)
    bad = json.loads(json.dumps(base))
    bad["data"]["validation"]["targets"] = [3]
    with pytest.raises(SpecError) as e:
        parse_spec(bad)
    assert e.value.field == "data.validation.targets.0"
    bad["data"]["validation"] = {"inputs": [[0.5]], "targets": [1]}
    with pytest.raises(SpecError) as e:
        parse_spec(bad)
    assert e.value.field == "data.validation.inputs.0"


def test_a_regression_records_val_rmse():
    spec = {
        "model": {"inputs": 1, "layers": [3, 1], "output_activation": "linear"},
        "data": {
            "inputs": [[x / 10] for x in range(20)],
            "targets": [x / 5 for x in range(20)],
            "validation": {"fraction": 0.2},
        },
        "training": {"loss": "mean_squared", "epochs": 3},
    }
    seen = []
    train(spec, on_epoch=lambda e, loss, m: seen.append(m))
    assert all(set(m) == {"rmse", "val_loss", "val_rmse"} for m in seen)
    # mean_squared: val_loss is the mean squared error, val_rmse its root.
    assert all(m["val_rmse"] == pytest.approx(math.sqrt(m["val_loss"])) for m in seen)


def test_spec_checks_name_their_field():
    too_few = {"data": {"inputs": [[1.0]], "targets": [1.0], "validation": {"fraction": 0.5}}}
    with pytest.raises(SpecError) as e:
        parse_spec(too_few)
    assert e.value.field == "data.validation.fraction"
    for bad, field in [
        ({"fraction": 1.0}, "data.validation.fraction"),
        ({"fraction": 0}, "data.validation.fraction"),
    ]:
        with pytest.raises(SpecError) as e:
            parse_spec({"data": {"generator": "moons", "validation": bad}})
        assert e.value.field == field
    with pytest.raises(SpecError) as e:
        parse_spec({"training": {"early_stopping": {"patience": 0}}})
    assert e.value.field == "training.early_stopping.patience"
    with pytest.raises(SpecError) as e:
        parse_spec({"training": {"early_stopping": {"patience": 2, "restore_best": 1}}})
    assert e.value.field == "training.early_stopping.restore_best"
    # Unset, the new fields leave the stored form as it was; set, they are written.
    assert parse_spec({}).to_dict()["data"] == {"generator": "notebook"}
    stored = parse_spec(CLASSIFIER).to_dict()
    assert stored["data"]["validation"] == {"fraction": 0.25}
    assert stored["training"]["early_stopping"] == {
        "patience": 5,
        "min_delta": 0.001,
        "restore_best": True,
    }
    assert parse_spec(stored).to_dict() == stored


def test_a_validation_loss_that_overflows_fails_naming_the_epoch():
    spec = {
        "model": {"inputs": 1, "layers": [1], "output_activation": "linear"},
        "data": {
            "inputs": [[1.0], [2.0]],
            "targets": [1.0, 2.0],
            "validation": {"inputs": [[1e300]], "targets": [0.0]},
        },
        "training": {"loss": "sum_squared", "epochs": 2},
    }
    with pytest.raises(TrainingError, match="epoch 1: validation: sum_squared: overflowed"):
        train(spec)
