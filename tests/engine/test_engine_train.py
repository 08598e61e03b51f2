"""Training: the notebook reproduced, determinism, bitwise resume, callbacks, errors, weights."""

import json

import notebook_seed
import pytest

from engine import SpecError, Training, TrainingError, load_mlp, predict, train
from engine.errors import NonFiniteError

MOONS = {
    "model": {"layers": [16, 16, 1], "activation": "relu", "output_activation": "linear"},
    "data": {"generator": "moons", "samples": 100, "noise": 0.1},
    "training": {"loss": "hinge", "l2": 1e-4, "optimizer": "adam", "learning_rate": 0.05},
}


def _spec(base, **training):
    return {**base, "training": {**base.get("training", {}), **training}}


@pytest.mark.parametrize("seed", [0, 1, 7, 1234])
def test_default_training_reproduces_the_notebooks_own_loop(seed):
    expected = notebook_seed.notebook_losses(seed)  # fails, not skips, without the notebook
    assert len(expected) == 20
    losses = train({"training": {"seed": seed}}).losses
    assert losses == pytest.approx(expected, rel=1e-12, abs=0)


def test_a_missing_notebook_is_an_error_not_a_skip(monkeypatch, tmp_path):
    monkeypatch.setenv(notebook_seed.PATH_VARIABLE, str(tmp_path / "absent.txt"))
    with pytest.raises(FileNotFoundError, match="the seed notebook is missing"):
        notebook_seed.notebook_losses(0)


def test_identical_runs_are_bitwise_identical():
    spec = _spec(MOONS, epochs=5, batch_size=32)
    a, b = train(spec), train(spec)
    assert (a.losses, a.accuracies, a.weights) == (b.losses, b.accuracies, b.weights)


def test_the_first_loss_is_measured_before_the_first_update():
    spec = {"data": {"inputs": [[1, 2, 3], [0, -1, 2]], "targets": [0.5, -0.25]}}
    training = Training(spec)
    before = predict(training.weights(), [[1, 2, 3], [0, -1, 2]])
    assert isinstance(before[0], float)
    expected = (before[0] - 0.5) ** 2 + (before[1] + 0.25) ** 2  # type: ignore[operator]
    assert training.run_epoch().loss == expected


RESUMABLE = [
    _spec(MOONS, epochs=6, optimizer="sgd", learning_rate=0.1),
    _spec(MOONS, epochs=6, optimizer={"name": "momentum", "beta": 0.8}, schedule="linear_decay"),
    _spec(MOONS, epochs=6),
    _spec(MOONS, epochs=6, batch_size=16, schedule={"name": "linear_decay", "final_fraction": 0}),
    {
        "model": {"layers": [5, 1], "output_activation": "sigmoid"},
        "data": {"generator": "xor", "samples": 40},
        "training": {"loss": "binary_cross_entropy", "optimizer": "momentum", "batch_size": 7},
    },
    {
        "model": {"layers": [6, 3], "output_activation": "linear"},
        "data": {"generator": "blobs", "samples": 40, "classes": 3, "noise": 0.3},
        "training": {"loss": "cross_entropy", "optimizer": "adam", "batch_size": 9, "l2": 1e-3},
    },
]


@pytest.mark.parametrize("spec", RESUMABLE)
@pytest.mark.parametrize("k", [0, 2, 5])
def test_resume_from_a_checkpoint_is_bitwise_identical(spec, k):
    whole = train(spec)
    first = Training(spec)
    for _ in range(k):
        first.run_epoch()
    checkpoint = first.checkpoint()
    text = json.dumps(checkpoint, allow_nan=False)
    assert json.loads(text) == checkpoint
    second = Training(spec, resume=json.loads(text))
    assert second.epoch == k
    rest = train(spec, resume=json.loads(text))
    assert rest.epochs_run == whole.epochs_run
    assert whole.losses[k:] == rest.losses
    assert whole.accuracies[k:] == rest.accuracies
    assert whole.weights == rest.weights


def test_resume_refuses_a_checkpoint_of_another_model():
    checkpoint = Training(_spec(MOONS, epochs=3)).checkpoint()
    other = {**MOONS, "model": {**MOONS["model"], "layers": [8, 1]}}
    with pytest.raises(SpecError, match="does not match"):
        Training(other, resume=checkpoint)
    with pytest.raises(SpecError, match="checkpoint"):
        Training(MOONS, resume={"epoch": 1})


def test_callbacks_and_early_stop():
    calls = []
    result = train(
        _spec(MOONS, epochs=10),
        on_epoch=lambda epoch, loss, metrics: calls.append((epoch, loss, metrics)),
        should_stop=lambda: len(calls) >= 3,
    )
    assert result.stopped and result.epochs_run == 3
    assert [c[0] for c in calls] == [1, 2, 3]
    assert [c[1] for c in calls] == result.losses
    assert all(set(c[2]) == {"accuracy"} for c in calls)
    assert [c[2]["accuracy"] for c in calls] == result.accuracies
    regression = []
    train({"training": {"epochs": 2}}, on_epoch=lambda *args: regression.append(args))
    assert [set(args[2]) for args in regression] == [{"rmse"}, {"rmse"}]


def test_the_training_surface():
    training = Training({"training": {"epochs": 2}})
    assert (training.total_epochs, training.epoch, training.done) == (2, 0, False)
    stats = training.run_epoch()
    assert (stats.epoch, stats.accuracy, training.epoch) == (1, None, 1)
    training.run_epoch()
    assert training.done
    with pytest.raises(RuntimeError):
        training.run_epoch()


def test_accuracy_with_mini_batches_counts_every_sample_once():
    result = train(_spec(MOONS, epochs=3, batch_size=30))
    assert all(acc is not None and (acc * 100) % 1 == pytest.approx(0) for acc in result.accuracies)


def test_a_diverging_run_fails_naming_the_epoch():
    spec = {
        "model": {
            "inputs": 1,
            "layers": [1],
            "activation": "linear",
            "output_activation": "linear",
        },
        "data": {"inputs": [[1000.0]], "targets": [0.0]},
        "training": {"learning_rate": 10.0, "epochs": 50},
    }
    with pytest.raises(TrainingError, match=r"^epoch \d+: ") as info:
        train(spec)
    assert isinstance(info.value, ArithmeticError)
    assert info.value.epoch > 1
    assert isinstance(info.value.__cause__, NonFiniteError)


def test_trained_moons_reach_full_training_accuracy():
    # MLP(2, [16, 16, 1]) relu, hinge + l2, adam: every training sample right within 300 epochs.
    accuracies: list[float] = []
    result = train(
        _spec(MOONS, epochs=300),
        on_epoch=lambda epoch, loss, metrics: accuracies.append(metrics["accuracy"]),
        should_stop=lambda: bool(accuracies) and accuracies[-1] == 1.0,
    )
    assert result.stopped and result.accuracies[-1] == 1.0


def test_weights_round_trip_and_predict_equals_the_forward_pass():
    for spec, inputs in [
        (MOONS, [[0.5, -0.2], [1.5, 0.3]]),
        (
            {
                "model": {"layers": [3, 2], "output_activation": "sigmoid"},
                "data": {"inputs": [[1.0], [2.0]], "targets": [[0.0, 1.0], [1.0, 1.0]]},
                "training": {"loss": "binary_cross_entropy"},
            },
            [[0.25], [-3.0]],
        ),
    ]:
        weights = train(_spec(spec, epochs=3)).weights
        assert weights["format"] == "gradyard.mlp/1"
        assert json.loads(json.dumps(weights, allow_nan=False)) == weights
        mlp = load_mlp(json.loads(json.dumps(weights)))
        predicted = predict(weights, inputs)
        for x, p in zip(inputs, predicted, strict=True):
            out = mlp(x)
            assert p == (out.data if not isinstance(out, list) else [o.data for o in out])
        if isinstance(predicted[0], list):  # the sigmoid outputs are probabilities
            assert all(0.0 < v < 1.0 for row in predicted for v in row)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("weights", "inputs", "message"),
    [
        ({"format": "other"}, [[1.0]], "expected a 'gradyard.mlp/1' document"),
        ({"format": "gradyard.mlp/1", "inputs": 1, "layers": []}, [[1.0]], "non-empty list"),
        (
            {
                "format": "gradyard.mlp/1",
                "inputs": 1,
                "layers": [{"activation": "tanh", "weights": [[1.0, 2.0]], "biases": [0.0]}],
            },
            [[1.0]],
            "each weight row must be 1 finite numbers",
        ),
        (
            {
                "format": "gradyard.mlp/1",
                "inputs": 1,
                "layers": [{"activation": "tanh", "weights": [[1.0]], "biases": [0.0]}],
            },
            [[1.0, 2.0]],
            r"inputs\[0\] must be 1 finite numbers",
        ),
    ],
)
def test_predict_refuses_bad_documents_and_inputs(weights, inputs, message):
    with pytest.raises(SpecError, match=message):
        predict(weights, inputs)


def test_predict_overflow_is_a_non_finite_error():
    weights = {
        "format": "gradyard.mlp/1",
        "inputs": 1,
        "layers": [{"activation": "linear", "weights": [[1e300]], "biases": [0.0]}],
    }
    assert predict(weights, [[2.0]]) == [2e300]
    with pytest.raises(NonFiniteError, match=r"predict: inputs\[0\]: w·x \+ b overflowed"):
        predict(weights, [[1e10]])
