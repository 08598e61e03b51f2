"""The decision boundary of a trained 2-D classifier over its training points, as an SVG image.

Drawn server-side with our own code rather than a chart library: the picture is a coloured grid
and some dots, the grid needs the model (engine.predict runs it on every cell centre), and an
SVG string is easy to test and shows with no script at all. It is what the micrograd demo plots:
the plane coloured by the predicted class, the training points on top, misclassified ones ringed.
"""

import math
import sys
from dataclasses import dataclass
from html import escape
from typing import Any

from engine import parse_spec, predict
from engine.errors import SpecError
from engine.losses import CLASS_LABELS, argmax
from engine.train import samples

# Grid cells per side, at most: 9,216 predictions, a fraction of a second for the examples'
# models. A large model gets fewer, so one picture costs about WORK weight multiplications.
RESOLUTION = 96
MIN_RESOLUTION = 16
WORK = 5_000_000
MAX_POINTS = 2000  # more dots than this add bytes, not insight
LARGEST = sys.float_info.max
# (area, dot) per class, in label order: light areas so the dots of every class stand out on all.
COLOURS = [
    ("#cfe3f7", "#1f6fb5"),  # blue
    ("#fbdcc4", "#d9661f"),  # orange
    ("#d3ecd6", "#2e8540"),  # green
    ("#f4cfd6", "#c0392b"),  # red
    ("#e2d7f0", "#6f42a8"),  # purple
    ("#e9dccf", "#8a5a2b"),  # brown
    ("#f7d8ec", "#c2409a"),  # pink
    ("#dfe1e4", "#5f6670"),  # grey
    ("#eeefc9", "#9a9a1f"),  # olive
    ("#cfeef2", "#1f97a8"),  # cyan
]


@dataclass(frozen=True)
class Boundary:
    """A classifier's predicted class on a grid over its training points, and the points."""

    x: tuple[float, float]
    y: tuple[float, float]
    labels: list[float]  # the classes' labels; a class is drawn as its index in this list
    cells: list[list[int]]  # cells[row][column]: the predicted class, row 0 at the top (largest y)
    points: list[tuple[float, float, int, int | None]]  # (x, y, class, the model's class)


def training_points(spec: dict[str, Any]) -> tuple[list[list[float]], list[float]] | None:
    """The inputs and single labels a job trained on, or None when a sample has several targets
    (or it trained on a stored dataset, whose rows the dashboard does not read yet)."""
    if "dataset" in (spec.get("data") or {}):
        return None
    inputs, targets = samples(parse_spec(_without_validation(spec)))
    if any(len(t) != 1 for t in targets):
        return None
    return inputs, [t[0] for t in targets]


def _without_validation(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` without its validation: the points are all the samples, the held-out ones too,
    and a validation dataset's id (which only the service can look up) does not change them."""
    given = {key: value for key, value in (spec.get("data") or {}).items() if key != "validation"}
    return {**spec, "data": given or None}


def classes_of(spec: dict[str, Any]) -> list[float] | None:
    """The labels of a job with two inputs whose classes a boundary can show, else None.

    One output scoring two labels (hinge, binary cross-entropy, or a regression on two values),
    or k outputs whose argmax is the class (cross-entropy, labels 0..k-1).
    """
    try:
        found = training_points(spec)
        parsed = parse_spec(_without_validation(spec))
    except SpecError:
        return None
    if found is None or len(found[0][0]) != 2:
        return None
    outputs = parsed.model.layers[-1]
    if parsed.training.loss in CLASS_LABELS:
        return [float(c) for c in range(outputs)]
    labels = sorted(set(found[1]))
    return labels if outputs == 1 and len(labels) == 2 else None


def applies(spec: dict[str, Any]) -> bool:
    """True for a 2-D classification job: a boundary to draw."""
    return classes_of(spec) is not None


def compute(
    spec: dict[str, Any], weights: dict[str, Any], resolution: int | None = None
) -> Boundary | None:
    """The boundary of a 2-D classification job (see ``classes_of``); None for any other."""
    labels = classes_of(spec)
    found = training_points(spec) if labels is not None else None
    if labels is None or found is None or weights.get("inputs") != 2:
        return None
    size = sum(len(row) for layer in weights["layers"] for row in layer["weights"])
    if resolution is None:
        resolution = max(MIN_RESOLUTION, min(RESOLUTION, math.isqrt(WORK // max(size, 1))))
    inputs, targets = found
    x = _padded([p[0] for p in inputs])
    y = _padded([p[1] for p in inputs])
    centres = [
        [_at(x[0], x[1], (i + 0.5) / resolution), _at(y[1], y[0], (j + 0.5) / resolution)]
        for j in range(resolution)
        for i in range(resolution)
    ]
    step = max(1, math.ceil(len(inputs) / MAX_POINTS))
    shown, shown_labels = inputs[::step], targets[::step]
    # Each point's own class rings the misclassified ones, when the model is cheap enough.
    own: list[int | None] = [None] * len(shown)
    try:
        flat = _classes(predict(weights, centres), labels)
        if len(shown) * size <= WORK:
            own = list(_classes(predict(weights, shown), labels))
    except ArithmeticError:
        return None  # the model overflows somewhere on the plane: no picture to draw
    cells = [flat[j * resolution : (j + 1) * resolution] for j in range(resolution)]
    index = {label: i for i, label in enumerate(labels)}
    points = [(p[0], p[1], index[t], c) for p, t, c in zip(shown, shown_labels, own, strict=True)]
    return Boundary(x, y, labels, cells, points)


def _classes(outputs: list[float] | list[list[float]], labels: list[float]) -> list[int]:
    """Each output's class index: the argmax of k scores, or which side of halfway a score is
    (0 for -1/+1 labels, 0.5 for 0/1)."""
    if len(labels) > 2 or (outputs and isinstance(outputs[0], list)):
        return [argmax(row) for row in outputs]  # type: ignore[arg-type]
    threshold = (labels[0] + labels[1]) / 2
    return [int(float(s) > threshold) for s in outputs]  # type: ignore[arg-type]


def _padded(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    # Tenth of the span, from half spans: the span of inputs near the largest float overflows.
    margin = max(high / 2 - low / 2, 5e-7) * 0.2
    return max(low - margin, -LARGEST), min(high + margin, LARGEST)


def _at(start: float, end: float, fraction: float) -> float:
    """The point ``fraction`` of the way from ``start`` to ``end``, without overflowing."""
    return max(-LARGEST, min(LARGEST, start * (1 - fraction) + end * fraction))


def _fraction(value: float, low: float, high: float) -> float:
    """How far ``value`` lies from ``low`` to ``high`` (halves, so no difference overflows)."""
    return (value / 2 - low / 2) / (high / 2 - low / 2)


def to_svg(boundary: Boundary, size: int = 420, names: list[str] | None = None) -> str:
    """The boundary as a standalone SVG document, ``size`` pixels square; the legend calls the
    classes ``names`` (by default their labels)."""
    b = boundary
    n = len(b.cells)
    cell = size / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img">',
        "<title>Decision boundary over the training points</title>",
    ]
    for j, row in enumerate(b.cells):
        # One rectangle per run of same-class cells keeps the file small.
        start = 0
        for i in range(1, n + 1):
            if i == n or row[i] != row[start]:
                area = COLOURS[row[start] % len(COLOURS)][0]
                parts.append(
                    f'<rect x="{start * cell:.2f}" y="{j * cell:.2f}" '
                    f'width="{(i - start) * cell + 0.5:.2f}" height="{cell + 0.5:.2f}" '
                    f'fill="{area}" shape-rendering="crispEdges"/>'
                )
                start = i
    for px, py, label, predicted in b.points:
        sx = _fraction(px, b.x[0], b.x[1]) * size
        sy = (1 - _fraction(py, b.y[0], b.y[1])) * size
        wrong = predicted is not None and predicted != label
        stroke = 'stroke="#000" stroke-width="2"' if wrong else 'stroke="#fff" stroke-width="1"'
        dot = COLOURS[label % len(COLOURS)][1]
        parts.append(f'<circle cx="{sx:.1f}" cy="{sy:.1f}" r="3.5" fill="{dot}" {stroke}/>')
    shown = names or [f"{label:g}" for label in b.labels]
    for k, name in enumerate(shown):  # the legend: each class's colour and name, top right
        parts.append(
            f'<text x="{size - 6}" y="{16 + 14 * k}" text-anchor="end" font-family="sans-serif" '
            f'font-size="12" fill="{COLOURS[k % len(COLOURS)][1]}">{escape(name[:40])} '
            "\u25cf</text>"
        )
    parts.append(
        f'<rect x="0.5" y="0.5" width="{size - 1}" height="{size - 1}" fill="none" stroke="#888"/>'
    )
    parts.append(
        f'<text x="6" y="{size - 6}" font-family="sans-serif" font-size="11" fill="#444">'
        f"{escape(_range_label(b))}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _range_label(b: Boundary) -> str:
    return f"x {b.x[0]:.2g}..{b.x[1]:.2g}, y {b.y[0]:.2g}..{b.y[1]:.2g}"
