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

from engine import data, parse_spec, predict
from engine.errors import SpecError
from engine.spec import GeneratedData, InlineData

# Grid cells per side, at most: 9,216 predictions, a fraction of a second for the examples'
# models. A large model gets fewer, so one picture costs about WORK weight multiplications.
RESOLUTION = 96
MIN_RESOLUTION = 16
WORK = 5_000_000
MAX_POINTS = 2000  # more dots than this add bytes, not insight
LARGEST = sys.float_info.max
COLOURS = {False: ("#cfe3f7", "#1f6fb5"), True: ("#fbdcc4", "#d9661f")}  # (area, dot) per class


@dataclass(frozen=True)
class Boundary:
    """A classifier's scores on a grid over its training points, and the points themselves."""

    x: tuple[float, float]
    y: tuple[float, float]
    threshold: float  # scores above it are the higher label's class
    scores: list[list[float]]  # scores[row][column], row 0 at the top (largest y)
    points: list[tuple[float, float, float, float | None]]  # (x, y, label, the model's score)


def training_points(spec: dict[str, Any]) -> tuple[list[list[float]], list[float]] | None:
    """The inputs and single labels a job trained on, or None when it has several outputs (or
    trained on a stored dataset, whose rows the dashboard does not read yet)."""
    given = spec.get("data") or {}
    if "dataset" in given:
        return None
    # Its points are all its samples, the held-out ones too: a validation dataset's id (which
    # only the service can look up) does not change them.
    given = {key: value for key, value in given.items() if key != "validation"}
    parsed = parse_spec({**spec, "data": given or None})
    if parsed.model.layers[-1] != 1:
        return None
    d = parsed.data
    if isinstance(d, GeneratedData):
        inputs, labels = data.generate(d.generator, d.samples, d.noise, parsed.training.seed)
        return inputs, data.labels_for(parsed.training.loss, labels)
    assert isinstance(d, InlineData)
    return [list(x) for x in d.inputs], [t[0] for t in d.targets]


def applies(spec: dict[str, Any]) -> bool:
    """True for a job with two inputs, one output and two labels: a boundary to draw."""
    try:
        found = training_points(spec)
    except SpecError:
        return False
    return found is not None and len(found[0][0]) == 2 and len(set(found[1])) == 2


def compute(
    spec: dict[str, Any], weights: dict[str, Any], resolution: int | None = None
) -> Boundary | None:
    """The boundary of a job with two inputs, one output and two labels; None for any other."""
    found = training_points(spec) if applies(spec) else None
    if found is None or weights.get("inputs") != 2:
        return None
    size = sum(len(row) for layer in weights["layers"] for row in layer["weights"])
    if resolution is None:
        resolution = max(MIN_RESOLUTION, min(RESOLUTION, math.isqrt(WORK // max(size, 1))))
    inputs, labels = found
    classes = sorted(set(labels))
    x = _padded([p[0] for p in inputs])
    y = _padded([p[1] for p in inputs])
    centres = [
        [_at(x[0], x[1], (i + 0.5) / resolution), _at(y[1], y[0], (j + 0.5) / resolution)]
        for j in range(resolution)
        for i in range(resolution)
    ]
    step = max(1, math.ceil(len(inputs) / MAX_POINTS))
    shown, shown_labels = inputs[::step], labels[::step]
    # Each point's own score rings the misclassified ones, when the model is cheap enough.
    own: list[float | None] = [None] * len(shown)
    try:
        flat = [float(s) for s in predict(weights, centres)]  # type: ignore[arg-type]
        if len(shown) * size <= WORK:
            own = [float(s) for s in predict(weights, shown)]  # type: ignore[arg-type]
    except ArithmeticError:
        return None  # the model overflows somewhere on the plane: no picture to draw
    scores = [flat[j * resolution : (j + 1) * resolution] for j in range(resolution)]
    points = [(p[0], p[1], t, s) for p, t, s in zip(shown, shown_labels, own, strict=True)]
    # Halfway between the labels: 0 for -1/+1 (tanh, linear, hinge), 0.5 for 0/1 (sigmoid).
    return Boundary(x, y, (classes[0] + classes[1]) / 2, scores, points)


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


def to_svg(boundary: Boundary, size: int = 420) -> str:
    """The boundary as a standalone SVG document, ``size`` pixels square."""
    b = boundary
    n = len(b.scores)
    cell = size / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img">',
        "<title>Decision boundary over the training points</title>",
    ]
    for j, row in enumerate(b.scores):
        # One rectangle per run of same-class cells keeps the file small.
        start = 0
        for i in range(1, n + 1):
            if i == n or (row[i] > b.threshold) != (row[start] > b.threshold):
                area = COLOURS[row[start] > b.threshold][0]
                parts.append(
                    f'<rect x="{start * cell:.2f}" y="{j * cell:.2f}" '
                    f'width="{(i - start) * cell + 0.5:.2f}" height="{cell + 0.5:.2f}" '
                    f'fill="{area}" shape-rendering="crispEdges"/>'
                )
                start = i
    for px, py, label, score in b.points:
        sx = _fraction(px, b.x[0], b.x[1]) * size
        sy = (1 - _fraction(py, b.y[0], b.y[1])) * size
        high = label > b.threshold
        wrong = score is not None and (score > b.threshold) != high
        stroke = 'stroke="#000" stroke-width="2"' if wrong else 'stroke="#fff" stroke-width="1"'
        parts.append(
            f'<circle cx="{sx:.1f}" cy="{sy:.1f}" r="3.5" fill="{COLOURS[high][1]}" {stroke}/>'
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
