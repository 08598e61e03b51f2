"""Hypothesis strategies for job specs, shared by the engine's tests and the API's."""

from typing import Any

from hypothesis import strategies as st

from engine.activations import ACTIVATIONS
from engine.data import DIMENSIONS, GENERATORS, MAX_CLASSES, MULTICLASS
from engine.losses import CLASS_LABELS, LABELS, LOSSES, OUTPUT_ACTIVATIONS
from engine.optim import OPTIMIZERS, SCHEDULES

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
unit = st.floats(min_value=0.0, max_value=0.999)


def _rows(size: int, item: Any) -> Any:
    return st.lists(item, min_size=size, max_size=size)


def _some(draw: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Some of the optional fields, each drawn from its strategy."""
    chosen = draw(st.lists(st.sampled_from(sorted(options)), unique=True))
    return {name: draw(options[name]) for name in sorted(chosen)}


@st.composite
def raw_specs(draw: Any) -> dict[str, Any]:
    """Valid job specs in every form the spec accepts: shorthands, nulls and omissions."""
    loss = draw(st.sampled_from(list(LOSSES)))
    labels = LABELS.get(loss)
    # cross_entropy: k outputs, one label per sample from 0 to k - 1 (or k generated classes)
    k = draw(st.integers(2, 4)) if loss in CLASS_LABELS else None
    if draw(st.booleans()):
        generator = draw(st.sampled_from(list(GENERATORS)))
        options = {"samples": st.integers(1, 50), "noise": st.floats(0, 1)}
        if generator in MULTICLASS:
            if k is not None:
                k = draw(st.integers(2, MAX_CLASSES))
            options["classes"] = st.just(k or 2)
        data: Any = {"generator": generator, **_some(draw, options)}
        k = k and data.get("classes", 2)
        if generator == "notebook":
            data = draw(st.sampled_from([None, data]))
        width, outputs = DIMENSIONS[generator], k or 1
    else:
        n, width = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        outputs = 1 if labels or k else draw(st.integers(1, 3))
        if k:
            label = st.integers(0, k - 1).flatmap(lambda c: st.sampled_from([c, float(c)]))
        else:
            label = st.sampled_from(labels) if labels else finite
        inputs = draw(_rows(n, _rows(width, finite)))
        rows = draw(_rows(n, _rows(outputs, label)))
        targets = [row[0] for row in rows] if outputs == 1 and draw(st.booleans()) else rows
        data = {"inputs": inputs, "targets": targets}
        outputs = k or outputs
    layers = [*draw(st.lists(st.integers(1, 5), max_size=2)), outputs]
    output = OUTPUT_ACTIVATIONS.get(loss) or draw(st.sampled_from(list(ACTIVATIONS)))
    model = {"layers": layers, "output_activation": output}
    activation = st.sampled_from(list(ACTIVATIONS))
    model |= _some(draw, {"inputs": st.sampled_from([width, None]), "activation": activation})
    optimizer = st.one_of(
        st.sampled_from(list(OPTIMIZERS)),
        st.builds(lambda b: {"name": "momentum", "beta": b}, unit),
        st.builds(lambda b, e: {"name": "adam", "beta2": b, "eps": e}, unit, st.floats(1e-9, 1)),
    )
    schedule = st.one_of(
        st.sampled_from(list(SCHEDULES)),
        st.builds(lambda f: {"name": "linear_decay", "final_fraction": f}, st.floats(0, 1)),
    )
    training = {"loss": loss} | _some(
        draw,
        {
            "epochs": st.integers(1, 10**6),
            "learning_rate": st.floats(1e-6, 10),
            "optimizer": optimizer,
            "schedule": schedule,
            "l2": st.floats(0, 1),
            "batch_size": st.one_of(st.none(), st.integers(1, 64)),
            "seed": st.integers(0, 2**63 - 1),
        },
    )
    return {"model": model, "data": data, "training": training}
