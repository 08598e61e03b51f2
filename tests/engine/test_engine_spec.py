"""The job spec's one definition: names from the registries, a normal form that round-trips."""

import inspect
import json
from dataclasses import fields
from typing import Any, get_args, get_type_hints

import pytest
from hypothesis import given, settings
from spec_strategies import raw_specs

from engine import SpecError, parse_spec
from engine.activations import ACTIVATIONS
from engine.data import DIMENSIONS, GENERATORS
from engine.losses import LOSSES
from engine.optim import OPTIMIZERS, SCHEDULES
from engine.spec import GeneratedData, JobSpec, ModelSpec
from engine.training_spec import BY_NAME, Optimizer, Schedule, TrainingSpec, hyperparameters


def _literal(cls: type, name: str) -> tuple[str, ...]:
    """The names a field's Literal allows (for a name-or-object field, its name part)."""
    hint = get_type_hints(cls)[name]
    literal = get_args(hint)[0] if name in ("optimizer", "schedule") else hint
    return get_args(literal)


def test_name_fields_are_their_registries() -> None:
    # A name added to a registry is accepted, and shown in the schema, with no other edit.
    assert _literal(ModelSpec, "activation") == tuple(ACTIVATIONS)
    assert _literal(ModelSpec, "output_activation") == tuple(ACTIVATIONS)
    assert _literal(GeneratedData, "generator") == tuple(GENERATORS)
    assert _literal(TrainingSpec, "loss") == tuple(LOSSES)
    assert _literal(TrainingSpec, "optimizer") == tuple(OPTIMIZERS)
    assert _literal(TrainingSpec, "schedule") == tuple(SCHEDULES)


@pytest.mark.parametrize(("union", "registry"), [(Optimizer, OPTIMIZERS), (Schedule, SCHEDULES)])
def test_each_optimizer_and_schedule_has_its_settings(union: Any, registry: Any) -> None:
    # The settings classes name the registry's entries, and their fields are its arguments.
    members = BY_NAME.members(union)
    assert list(members) == list(registry)
    for name, settings_class in members.items():
        taken = inspect.signature(registry[name]).parameters
        for setting in hyperparameters(settings_class(name)):
            assert setting in taken, (name, setting)


def test_model_inputs_default_to_the_datas_width() -> None:
    assert ModelSpec().inputs is None
    assert JobSpec().model.inputs == DIMENSIONS["notebook"]
    moons = JobSpec(data=GeneratedData("moons"))
    assert moons.model.inputs == 2 and moons.model.parameter_count() == 4 * 3 + 4 * 5 + 5
    with pytest.raises(ValueError, match="from its data"):
        ModelSpec().parameter_count()


def test_the_notebook_generator_drops_samples_and_noise() -> None:
    s = parse_spec({"data": {"generator": "notebook", "samples": 7, "noise": 0.3}})
    assert (s.data.samples, s.data.noise) == (4, 0.0)
    assert s.to_dict()["data"] == {"generator": "notebook"}
    assert s == parse_spec({}) == parse_spec({"data": None})
    # Checked before they are dropped, like any other generator's.
    with pytest.raises(SpecError) as info:
        parse_spec({"data": {"generator": "notebook", "samples": 0}})
    assert info.value.field == "data.samples"


def test_specs_stored_before_are_still_read() -> None:
    # The notebook's settings were stored, meaningless, until issue 17.
    old = parse_spec({"data": {"generator": "notebook", "samples": 100, "noise": 0.1}})
    assert old == parse_spec({})


def test_spec_error_field_is_an_attribute_set_where_raised() -> None:
    assert SpecError("a message that starts with data.targets").field == "spec"
    assert SpecError("whatever it says", "training.epochs").field == "training.epochs"


@given(raw_specs())
@settings(max_examples=300, deadline=None)
def test_the_normal_form_round_trips_exactly(raw: dict[str, Any]) -> None:
    spec = parse_spec(raw)
    doc = spec.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    again = parse_spec(doc)
    assert again == spec and again.to_dict() == doc
    assert json.dumps(again.to_dict()) == json.dumps(doc)  # the same keys in the same order
    assert list(doc) == ["model", "data", "training"]
    for section in ("model", "training"):
        assert list(doc[section]) == [f.name for f in fields(getattr(spec, section))]
