"""The job spec, defined once: frozen dataclasses with their defaults, docs and constraints.

    {"model": {"inputs": 3, "layers": [4, 4, 1], "activation": "tanh", "output_activation": "tanh"},
     "data": {"inputs": [[...], ...], "targets": [...]}   or   {"generator": "moons", ...}
             or {"dataset": id}, each with "validation" and "normalize" (engine.validation_spec),
     "training": {"epochs": 20, "learning_rate": 0.01, "loss": "sum_squared", "optimizer": "sgd",
                  "schedule": "constant", "l2": 0.0, "batch_size": null, "seed": 0,
                  "early_stopping": null}}

Every field is optional but data's own; the defaults reproduce the notebook. Constraints sit in
field metadata in pydantic Field's keywords, so two readers apply the same rules: engine.reader
for the engine's own users (parse_spec) and pydantic for the API (a TypeAdapter over these
classes, which also gives their JSON Schema). Names are Literals of the registries, so a new
activation, loss or generator is one edit, in its module's registry; a new optimizer or schedule
also lists its hyperparameters in engine.training_spec (tests check that the two agree).

Shorthands (a flat list of targets, an optimizer or schedule by name, null for data or
model.inputs) become the normal form in __post_init__: every instance holds only that form, and
to_dict() writes it. Rules that span fields are JobSpec.checked(), the one place for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Any, Literal

from engine import data
from engine.activations import ACTIVATIONS
from engine.errors import SpecError
from engine.losses import CLASS_LABELS, CLASSIFIERS, LABELS, OUTPUT_ACTIVATIONS
from engine.reader import PYDANTIC_CONFIG, Each, plain, read
from engine.sample_checks import DataShape, check_integer_labels, check_labels, check_validation
from engine.training_spec import TrainingSpec
from engine.validation_spec import (
    MAX_SAMPLES,
    NORMALIZE_DOC,
    SAMPLES,
    VALIDATION_DOC,
    Normalize,
    Row,
    Targets,
    Validation,
    options_json,
    target_rows,
    targets_json,
)

if TYPE_CHECKING:  # mypy sees plain names; at runtime each is the Literal of its registry
    Activation = str
    GeneratorName = str
else:
    Activation = Literal[tuple(ACTIVATIONS)]
    GeneratorName = Literal[tuple(data.GENERATORS)]

Width = Annotated[int, Each(ge=1)]


@dataclass(frozen=True)
class ModelSpec:
    """A multilayer perceptron: input width, then the width of each layer (the last is output)."""

    __pydantic_config__ = PYDANTIC_CONFIG
    inputs: int | None = field(
        default=None,
        metadata={"ge": 1, "description": "inputs per sample; null (the default): the data's"},
    )
    layers: tuple[Width, ...] = field(
        default=(4, 4, 1),
        metadata={"min_length": 1, "description": "neurons per layer; the last are the outputs"},
    )
    activation: Activation = field(default="tanh", metadata={"description": "of hidden layers"})
    output_activation: Activation = field(
        default="tanh", metadata={"description": "of the output layer"}
    )

    def parameter_count(self) -> int:
        """Weights plus biases of every layer (a JobSpec's model knows its inputs)."""
        if self.inputs is None:
            raise ValueError("the model's inputs come from its data: count a JobSpec's model")
        return sum((nin + 1) * nout for nin, nout in pairwise([self.inputs, *self.layers]))


@dataclass(frozen=True)
class InlineData:
    """Samples given in the request: one input row and one target (or target row) per sample."""

    __pydantic_config__ = PYDANTIC_CONFIG
    inputs: tuple[Row, ...] = field(metadata={**SAMPLES, "fail_fast": True})
    targets: Targets = field(
        metadata={**SAMPLES, "description": "a number per sample, or a list (one per output)"}
    )
    validation: Validation | None = field(default=None, metadata=VALIDATION_DOC)
    normalize: Normalize | None = field(default=None, metadata=NORMALIZE_DOC)

    def __post_init__(self) -> None:
        # A flat list is one target per sample: each becomes a row of one.
        object.__setattr__(self, "targets", target_rows(self.targets))

    @property
    def width(self) -> int:
        """Inputs per sample (of the first: checked() sees that the others agree)."""
        return len(self.inputs[0])

    def to_dict(self) -> dict[str, Any]:
        """Inputs and targets as lists; single targets as the flat list people write."""
        inputs = [list(row) for row in self.inputs]
        return {
            "inputs": inputs,
            "targets": targets_json(self.targets),
            **options_json(self.validation, self.normalize),
        }


@dataclass(frozen=True)
class GeneratedData:
    """Samples drawn by one of the engine's seeded generators (RNG derived from the job seed).

    The notebook generator has four fixed samples without noise: samples and noise given with it
    are checked like any others, then dropped (the stored spec shows the generator alone).
    """

    __pydantic_config__ = PYDANTIC_CONFIG
    generator: GeneratorName
    samples: int = field(default=100, metadata={"ge": 1, "le": MAX_SAMPLES})
    noise: float = field(
        default=0.1, metadata={"ge": 0, "description": "the Gaussian noise's standard deviation"}
    )
    classes: int = field(
        default=2,
        metadata={
            "ge": 2,
            "le": data.MAX_CLASSES,
            "description": "classes to draw (spiral and blobs; the others draw 2)",
        },
    )
    validation: Validation | None = field(default=None, metadata=VALIDATION_DOC)
    normalize: Normalize | None = field(default=None, metadata=NORMALIZE_DOC)

    def __post_init__(self) -> None:
        if self.generator in data.FIXED:
            object.__setattr__(self, "samples", data.FIXED[self.generator])
            object.__setattr__(self, "noise", 0.0)

    @property
    def width(self) -> int:
        """Inputs per sample."""
        return data.DIMENSIONS[self.generator]

    def to_dict(self) -> dict[str, Any]:
        """The generator and the settings it uses."""
        options = options_json(self.validation, self.normalize)
        if self.generator in data.FIXED:
            return {"generator": self.generator, **options}
        settings = {"generator": self.generator, "samples": self.samples, "noise": self.noise}
        if self.generator in data.MULTICLASS:
            settings["classes"] = self.classes
        return {**settings, **options}


@dataclass(frozen=True)
class DatasetData:
    """The samples of a stored dataset, by its id: the engine never reads a database, so the
    service checks it (as a StoredData) and the worker hands the engine its rows inline."""

    __pydantic_config__ = PYDANTIC_CONFIG
    dataset: str = field(
        metadata={"min_length": 1, "max_length": 64, "description": "a dataset's id"}
    )
    validation: Validation | None = field(default=None, metadata=VALIDATION_DOC)
    normalize: Normalize | None = field(default=None, metadata=NORMALIZE_DOC)

    @property
    def width(self) -> int | None:
        """Unknown until the service looks the dataset up."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The dataset's id: its rows are stored once, with the dataset, never in a job."""
        return {"dataset": self.dataset, **options_json(self.validation, self.normalize)}


@dataclass(frozen=True)
class StoredData(DatasetData):
    """A dataset with the shape its store holds: what checks and costs need, its rows aside."""

    samples: int = 0
    features: int = 0
    classes: int | None = None  # a classification dataset's class count; None: numbers

    @property
    def width(self) -> int:
        """Inputs per sample."""
        return self.features


if TYPE_CHECKING:  # the normal form, which __post_init__ leaves in every instance
    DataField = InlineData | GeneratedData | DatasetData
else:  # the forms a spec may use
    DataField = InlineData | GeneratedData | DatasetData | None


@dataclass(frozen=True)
class JobSpec:
    """A training job: the model, its data and how to train it."""

    __pydantic_config__ = PYDANTIC_CONFIG
    model: ModelSpec = field(default_factory=ModelSpec)
    # null (or no data) means the notebook's samples, which __post_init__ puts in its place.
    data: DataField = field(  # type: ignore[assignment]
        default=None,
        metadata={
            "description": "samples, a generator or a stored dataset; default: the notebook's "
            "four samples"
        },
    )
    training: TrainingSpec = field(default_factory=TrainingSpec)

    def __post_init__(self) -> None:
        if self.data is None:
            object.__setattr__(self, "data", GeneratedData("notebook"))
        if self.model.inputs is None and self.data.width is not None:
            object.__setattr__(self, "model", replace(self.model, inputs=self.data.width))

    def checked(self) -> JobSpec:
        """This spec's parts once they fit each other; SpecError naming the field if not."""
        model, d, loss = self.model, self.data, self.training.loss
        outputs = 1
        if isinstance(d, InlineData):
            _same_widths(d.inputs, "data.inputs")
            if len(d.targets) != len(d.inputs):
                message = f"data.targets has {len(d.targets)} targets for {len(d.inputs)} inputs"
                raise SpecError(message, "data.targets")
            outputs = _same_widths(d.targets, "data.targets")
            if loss in LABELS:
                check_labels(d.targets, loss)
        elif isinstance(d, StoredData):
            _dataset_classes(d, loss)
        elif isinstance(d, DatasetData):
            message = "data.dataset must be looked up (by the service) before it is checked"
            raise SpecError(message, "data.dataset")
        else:
            _classes(d, loss)
        if model.inputs != d.width:
            message = f"model.inputs is {model.inputs} but each data sample has {d.width} inputs"
            raise SpecError(message, "model.inputs")
        if loss in CLASS_LABELS:
            _class_labels(model.layers[-1], d, loss)
        elif model.layers[-1] != outputs:
            message = f"model.layers ends with {model.layers[-1]} outputs; targets have {outputs}"
            raise SpecError(message, "model.layers")
        needed = OUTPUT_ACTIVATIONS.get(loss, model.output_activation)
        if model.output_activation != needed:
            message = f"model.output_activation must be {needed!r} for {loss}"
            raise SpecError(message, "model.output_activation")
        shape = DataShape(d.width, _samples(d), d.classes if isinstance(d, StoredData) else None)
        check_validation(d.validation, shape, loss, outputs, model.layers[-1])
        # A plain JobSpec: a subclass's own fields (the API's name) are not the engine's.
        return JobSpec(model, d, self.training)

    def to_dict(self) -> dict[str, Any]:
        """The normal form as JSON, every default filled in; parse_spec reads it back as is."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(JobSpec)}


def parse_spec(spec: Mapping[str, Any] | JobSpec) -> JobSpec:
    """Read a job spec (parsed JSON, or a JobSpec) and check it; SpecError names the field."""
    return (spec if isinstance(spec, JobSpec) else read(JobSpec, spec)).checked()


def _classes(d: GeneratedData, loss: str) -> None:
    # Only spiral and blobs draw more than two classes, and only cross_entropy scores them.
    if d.classes != 2 and d.generator not in data.MULTICLASS:
        message = f"data.classes: {d.generator} draws 2 classes, not {d.classes}"
        raise SpecError(message, "data.classes")
    if d.classes > 2 and loss not in CLASS_LABELS:
        message = f"training.loss must be 'cross_entropy' for {d.classes} classes, not {loss!r}"
        raise SpecError(message, "training.loss")


def _dataset_classes(d: StoredData, loss: str) -> None:
    # A classification dataset labels its rows 0..k-1: a binary loss takes 2 classes (the worker
    # maps 0/1 to the loss's labels). Numeric targets are a regression's: no classifying loss.
    if d.classes is None and loss in CLASSIFIERS:
        message = (
            f"dataset {d.dataset} has a numeric target (regression), which {loss} cannot "
            "classify: upload the target as class names, or use a regression loss"
        )
        raise SpecError(message, "data.dataset")
    if d.classes is not None and d.classes != 2 and loss in LABELS:
        message = f"training.loss must be 'cross_entropy' for {d.classes} classes, not {loss!r}"
        raise SpecError(message, "training.loss")


def _samples(d: DataField) -> int:
    if isinstance(d, InlineData):
        return len(d.inputs)
    assert isinstance(d, GeneratedData | StoredData)
    return d.samples


def _class_labels(k: int, d: DataField, loss: str) -> None:
    # k outputs score k classes: at least 2, one per generated class, one integer label per sample.
    if k < 2:
        message = f"model.layers must end with 2 or more outputs (one per class) for {loss}"
        raise SpecError(message, "model.layers")
    if isinstance(d, GeneratedData):
        if d.classes != k:
            message = f"model.layers ends with {k} outputs; data has {d.classes} classes"
            raise SpecError(message, "model.layers")
        return
    if isinstance(d, StoredData):
        if d.classes is not None and d.classes != k:
            message = f"model.layers ends with {k} outputs; the dataset has {d.classes} classes"
            raise SpecError(message, "model.layers")
        return
    assert isinstance(d, InlineData)
    check_integer_labels(d.targets, k, loss, "data.targets")


def _same_widths(rows: tuple[tuple[float, ...], ...], where: str) -> int:
    # Every row as long as the first; that length.
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]):
            message = f"{where}.{i} has length {len(row)} but {where}.0 has {len(rows[0])}"
            raise SpecError(message, f"{where}.{i}")
    return len(rows[0])
