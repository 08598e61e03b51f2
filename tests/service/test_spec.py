"""The API's job spec is the engine's: the same schema, names, defaults and verdicts, no copies."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine import SpecError, parse_spec
from engine.activations import ACTIVATIONS
from engine.data import GENERATORS
from engine.losses import LOSSES
from engine.optim import OPTIMIZERS, SCHEDULES
from service.openapi import REF, build_openapi
from service.spec import JOB_SPEC
from tests.engine.spec_strategies import raw_specs

SPEC_CLASSES = {
    "JobSpec",
    "ModelSpec",
    "InlineData",
    "GeneratedData",
    "TrainingSpec",
    "Sgd",
    "Momentum",
    "Adam",
    "Constant",
    "LinearDecay",
}


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = build_openapi()["components"]["schemas"]
    return schemas


def test_the_documented_spec_is_the_adapters_schema() -> None:
    schemas = _schemas()
    generated = JOB_SPEC.json_schema(ref_template=REF)
    assert {name: schemas[name] for name in generated["$defs"]} == generated.pop("$defs")
    assert schemas["JobSpec"] == generated
    assert set(generated["properties"]) == {"model", "data", "training", "name", "labels"}
    assert set(schemas) >= SPEC_CLASSES


def test_model_inputs_default_to_the_data_not_to_three() -> None:
    inputs = _schemas()["ModelSpec"]["properties"]["inputs"]
    assert inputs["default"] is None and "data" in inputs["description"]
    assert {"minimum": 1, "type": "integer"} in inputs["anyOf"]
    text = json.dumps(build_openapi())
    assert '"default": 3,' not in text and '"default": 3}' not in text


def test_names_in_the_schema_are_exactly_the_registries() -> None:
    schemas = _schemas()
    model, training = schemas["ModelSpec"]["properties"], schemas["TrainingSpec"]["properties"]
    assert model["activation"]["enum"] == list(ACTIVATIONS)
    assert model["output_activation"]["enum"] == list(ACTIVATIONS)
    assert schemas["GeneratedData"]["properties"]["generator"]["enum"] == list(GENERATORS)
    assert training["loss"]["enum"] == list(LOSSES)
    for name, registry in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        by_name, by_object = training[name]["anyOf"]
        assert by_name["enum"] == list(registry)
        assert set(by_object["discriminator"]["mapping"]) == set(registry)


def _api(raw: Any) -> dict[str, Any] | None:
    """The stored spec the API makes of a request body, or None if it refuses it."""
    try:
        return JOB_SPEC.validate_json(json.dumps(raw)).checked().to_dict()
    except (ValidationError, SpecError):
        return None


def _engine(raw: Any) -> dict[str, Any] | None:
    """The stored spec the engine's own reader makes of it, or None if it refuses it."""
    try:
        return parse_spec(raw).to_dict()
    except SpecError:
        return None


@given(raw_specs())
@settings(max_examples=150, deadline=None)
def test_the_api_and_the_engine_read_valid_specs_alike(raw: dict[str, Any]) -> None:
    stored = _api(raw)
    assert stored is not None and stored == _engine(raw)


ODD_VALUES = [None, True, 0, -1, 2.0, 2.5, 10**400, 2**63, "x", "adam", [], [[]], {}]
ODD_VALUES += [float("nan"), float("inf"), {"name": "momentum", "beta1": 0.5}]


def _places(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON document, for one to be changed."""
    keys = range(len(node)) if isinstance(node, list) else node if isinstance(node, dict) else []
    return [(node, key) for key in keys] + [p for key in keys for p in _places(node[key])]


@st.composite
def odd_specs(draw: Any) -> Any:
    """Valid specs with one value replaced by something odd, or one field too many."""
    raw = json.loads(json.dumps(draw(raw_specs())))
    container, key = draw(st.sampled_from(_places(raw)))
    if isinstance(container, dict) and draw(st.booleans()):
        extra = ["unknown", "beta", "samples", "generator", "inputs"]
        key = draw(st.sampled_from(extra if container is raw else [*extra, "name"]))
    container[key] = draw(st.sampled_from(ODD_VALUES))
    return raw


@given(odd_specs())
@settings(max_examples=400, deadline=None)
def test_the_api_and_the_engine_refuse_alike(raw: Any) -> None:
    # One definition, two readers: what one accepts (and how it stores it), so does the other.
    assert _api(raw) == _engine(raw)
