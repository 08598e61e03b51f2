"""Data generators and the job spec: defaults, normal form, and every kind of invalid spec."""

import ast
import json
import math
import sys
from pathlib import Path

import pytest

import engine
from engine import SpecError, parse_spec
from engine import spec as spec_module
from engine.data import DIMENSIONS, GENERATORS, NOTEBOOK_INPUTS, generate, labels_for


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_seeded_and_shaped(name):
    inputs, labels = generate(name, 60, 0.1, seed=7)
    assert (inputs, labels) == generate(name, 60, 0.1, seed=7)
    n = 4 if name == "notebook" else 60
    assert len(inputs) == len(labels) == n
    assert all(len(x) == DIMENSIONS[name] for x in inputs)
    assert all(type(v) is float and math.isfinite(v) for x in inputs for v in x)
    assert set(labels) == {-1.0, 1.0}
    if name != "notebook":
        assert generate(name, 60, 0.1, seed=8) != (inputs, labels)


def test_generators_without_noise_draw_their_shapes():
    inputs, labels = generate("circles", 40, 0.0, seed=0)
    for (x, y), t in zip(inputs, labels, strict=True):
        assert math.hypot(x, y) == pytest.approx(1.0 if t == -1.0 else 0.5)
    inputs, labels = generate("xor", 40, 0.0, seed=0)
    assert all((x * y > 0) == (t == 1.0) for (x, y), t in zip(inputs, labels, strict=True))
    inputs, labels = generate("moons", 40, 0.0, seed=0)
    for (x, y), t in zip(inputs, labels, strict=True):
        center = (0.0, 0.0) if t == -1.0 else (1.0, 0.5)
        assert math.hypot(x - center[0], y - center[1]) == pytest.approx(1.0)


def test_labels_fit_the_loss():
    assert labels_for("binary_cross_entropy", [-1.0, 1.0]) == [0.0, 1.0]
    assert labels_for("hinge", [-1.0, 1.0]) == [-1.0, 1.0]


def test_defaults_are_the_notebook():
    s = parse_spec({})
    assert (s.model.inputs, s.model.layers) == (3, (4, 4, 1))
    assert (s.model.activation, s.model.output_activation) == ("tanh", "tanh")
    assert s.data.generator == "notebook"
    t = s.training
    assert (t.epochs, t.learning_rate, t.loss, t.optimizer.name) == (20, 0.01, "sum_squared", "sgd")
    assert (t.schedule.name, t.l2, t.batch_size, t.seed) == ("constant", 0.0, None, 0)
    assert spec_module.TrainingSpec().learning_rate == 0.01
    assert spec_module.ModelSpec().layers == (4, 4, 1)


SPECS = [
    {},
    {
        "model": {"inputs": 3, "layers": [4, 4, 1], "activation": "tanh"},
        "data": {"inputs": [[2, 3, -1], [3.0, -1.0, 0.5]], "targets": [1, -1.0]},
        "training": {"optimizer": {"name": "adam", "beta1": 0.8}, "schedule": "linear_decay"},
    },
    {
        "model": {"layers": [3, 2], "output_activation": "linear"},
        "data": {"inputs": [[1.0], [2.0]], "targets": [[0.5, 1.0], [0.0, -2.5]]},
        "training": {"loss": "mean_squared", "optimizer": "momentum", "batch_size": 1},
    },
    {
        "model": {"layers": [8, 1], "output_activation": "sigmoid"},
        "data": {"generator": "spiral", "samples": 30, "noise": 0},
        "training": {"loss": "binary_cross_entropy", "schedule": {"name": "linear_decay"}},
    },
]


@pytest.mark.parametrize("raw", SPECS)
def test_to_dict_is_a_json_normal_form(raw):
    parsed = parse_spec(raw)
    doc = parsed.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert parse_spec(doc) == parsed
    assert parse_spec(doc).to_dict() == doc


def test_spec_forms_are_read():
    s = parse_spec(SPECS[1])
    assert s.data.inputs == ((2.0, 3.0, -1.0), (3.0, -1.0, 0.5))
    assert type(s.data.inputs[0][0]) is float
    assert s.data.targets == ((1.0,), (-1.0,))
    assert (s.training.optimizer.beta1, s.training.optimizer.beta2) == (0.8, 0.999)
    assert (s.training.schedule.name, s.training.schedule.final_fraction) == ("linear_decay", 0.1)
    assert parse_spec(SPECS[2]).model.inputs == 1  # taken from the data
    assert parse_spec(SPECS[3]).model.inputs == 2


def _with(section, **fields):
    return {section: fields}


# (spec, the field SpecError names, its message): every kind of error the reader and the
# cross-field checks raise.
BAD = [
    ([], "spec", "spec must be an object"),
    ({"modle": {}}, "modle", "spec: unknown field 'modle'"),
    (_with("model", units=3), "model.units", "model: unknown field 'units'"),
    (_with("model", layers=[]), "model.layers", "model.layers must be a non-empty list"),
    (_with("model", layers=[4, 0, 1]), "model.layers.1", "model.layers.1 must be an integer >= 1"),
    (_with("model", layers=[4, 2.5, 1]), "model.layers.1", "model.layers.1 must be an integer"),
    (
        _with("model", inputs=2),
        "model.inputs",
        "model.inputs is 2 but each data sample has 3 inputs",
    ),
    (_with("model", inputs=True), "model.inputs", "model.inputs must be an integer"),
    (_with("model", activation="swish"), "model.activation", "model.activation must be one of"),
    (
        _with("model", layers=[4, 2]),
        "model.layers",
        "model.layers ends with 2 outputs; targets have 1",
    ),
    (_with("training", loss="l1"), "training.loss", "training.loss must be one of"),
    (_with("training", epochs=0), "training.epochs", "training.epochs must be an integer >= 1"),
    (_with("training", epochs=True), "training.epochs", "training.epochs must be an integer"),
    (
        _with("training", learning_rate=float("nan")),
        "training.learning_rate",
        "training.learning_rate must be a finite",
    ),
    (
        _with("training", learning_rate=-0.1),
        "training.learning_rate",
        "training.learning_rate must be a finite number > 0",
    ),
    (
        _with("training", learning_rate="0.1"),
        "training.learning_rate",
        "training.learning_rate must be a finite",
    ),
    (
        _with("training", l2=float("inf")),
        "training.l2",
        "training.l2 must be a finite number >= 0",
    ),
    (
        _with("training", batch_size=0),
        "training.batch_size",
        "training.batch_size must be an integer >= 1",
    ),
    (_with("training", seed=1.5), "training.seed", "training.seed must be an integer"),
    (_with("training", seed=-1), "training.seed", "training.seed must be an integer in"),
    (
        _with("training", optimizer="rmsprop"),
        "training.optimizer",
        "training.optimizer must be one of",
    ),
    (
        _with("training", optimizer={"beta": 0.9}),
        "training.optimizer.name",
        "training.optimizer.name must be one of",
    ),
    (
        _with("training", optimizer={"name": "adam", "beta": 0.9}),
        "training.optimizer.beta",
        "training.optimizer: unknown field 'beta'",
    ),
    (
        _with("training", optimizer={"name": "momentum", "beta": 1.0}),
        "training.optimizer.beta",
        r"training.optimizer.beta must be a finite number in \[0, 1\)",
    ),
    (
        _with("training", optimizer={"name": "adam", "eps": 0}),
        "training.optimizer.eps",
        "training.optimizer.eps must be a finite number > 0",
    ),
    (
        _with("training", schedule="cosine"),
        "training.schedule",
        "training.schedule must be one of",
    ),
    (
        _with("training", schedule={"name": "linear_decay", "final_fraction": 2}),
        "training.schedule.final_fraction",
        r"training.schedule.final_fraction must be a finite number in \[0, 1\]",
    ),
    (
        _with("training", schedule={"name": "constant", "final_fraction": 0.5}),
        "training.schedule.final_fraction",
        "training.schedule: unknown field 'final_fraction'",
    ),
    (_with("data", generator="galaxies"), "data.generator", "data.generator must be one of"),
    (
        _with("data", generator="moons", samples=0),
        "data.samples",
        r"data.samples must be an integer in \[1, 100000\]",
    ),
    (
        _with("data", generator="moons", samples=10**6),
        "data.samples",
        "data.samples must be an integer",
    ),
    (
        _with("data", generator="moons", noise=-1),
        "data.noise",
        "data.noise must be a finite number >= 0",
    ),
    (_with("data"), "data.inputs", "data.inputs is required"),
    (_with("data", inputs=[[1.0]]), "data.targets", "data.targets is required"),
    (
        _with("data", inputs=[[1.0]], targets=[1.0], generator="moons"),
        "data",
        r"data takes the fields of InlineData \['inputs', 'targets', 'validation', 'normalize'\] "
        r"or GeneratedData",
    ),
    (
        _with("data", inputs=[], targets=[]),
        "data.inputs",
        "data.inputs must be a list of 1 to 100000 items",
    ),
    (
        _with("data", inputs=[[1.0, 2.0, 3.0], [1.0]], targets=[1.0, 1.0]),
        "data.inputs.1",
        "data.inputs.1 has length 1 but data.inputs.0 has 3",
    ),
    (
        _with("data", inputs=[[1.0, 2.0, float("inf")]], targets=[1.0]),
        "data.inputs.0.2",
        "data.inputs.0.2 must be a finite number",
    ),
    (
        _with("data", inputs=[[1.0, 2.0, 3.0]], targets=[1.0, 2.0]),
        "data.targets",
        "data.targets has 2 targets for 1 inputs",
    ),
    (
        _with("data", inputs=[[1.0, 2.0, 3.0]] * 2, targets=[1.0, [2.0]]),
        "data.targets.1",
        "data.targets.1 must be a finite number",
    ),
    (
        _with("data", inputs=[[1.0, 2.0, 3.0]] * 2, targets=[[1.0], [2.0, 3.0]]),
        "data.targets.1",
        "data.targets.1 has length 2 but data.targets.0 has 1",
    ),
    (
        {
            "data": {"inputs": [[1.0, 2.0, 3.0]], "targets": [0.5]},
            "training": {"loss": "hinge"},
        },
        "data.targets.0",
        "data.targets.0: hinge needs labels -1 or 1",
    ),
    (
        {
            "model": {"output_activation": "sigmoid"},
            "data": {"inputs": [[1.0, 2.0, 3.0]], "targets": [-1.0]},
            "training": {"loss": "binary_cross_entropy"},
        },
        "data.targets.0",
        "data.targets.0: binary_cross_entropy needs labels 0 or 1",
    ),
    (
        _with("training", loss="binary_cross_entropy"),
        "model.output_activation",
        "model.output_activation must be 'sigmoid' for binary_cross_entropy",
    ),
]


@pytest.mark.parametrize(("raw", "field", "message"), BAD)
def test_invalid_specs_raise_spec_error_naming_the_field(raw, field, message):
    with pytest.raises(SpecError, match=message) as info:
        parse_spec(raw)
    assert isinstance(info.value, ValueError)
    assert info.value.field == field


def test_notebook_generator_ignores_samples_and_noise():
    s = parse_spec({"data": {"generator": "notebook", "samples": 7, "noise": 0.3}})
    assert generate("notebook", s.data.samples, s.data.noise, 0)[0] == NOTEBOOK_INPUTS


def test_the_engine_imports_only_the_standard_library():
    for path in Path(engine.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top == "engine" or top in sys.stdlib_module_names, (path.name, name)


def test_spec_errors_name_their_field() -> None:
    from engine.errors import SpecError
    from engine.spec import parse_spec

    with pytest.raises(SpecError) as bad_target:
        parse_spec({"training": {"loss": "hinge"}, "data": {"inputs": [[1.0]], "targets": [0.5]}})
    assert bad_target.value.field == "data.targets.0"
    assert SpecError("binary_cross_entropy needs a sigmoid output").field == "spec"
