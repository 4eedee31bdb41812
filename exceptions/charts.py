"""Server-rendered, accessible SVG charts: no JavaScript, no CDN.

``line_chart`` draws values over an ordered axis (weeks, days); ``bar_chart`` draws one bar per
category (a supplier) and series. Both lay the chart out here, in plain arithmetic, and render it
through ``templates/exceptions/_chart.html`` so every piece of text (titles, series names,
labels) is auto-escaped. The output is a ``<figure>`` holding the ``<svg>`` (``role="img"``, named
by its ``<title>`` and ``<desc>``) and a visually hidden data table, the screen reader's view of
the same numbers. Colours come from ``static/css/charts.css`` (link it from the page); without
it the chart still draws in the text colour, with dashes telling dashed series apart.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

KINDS = ("line", "step", "bar", "dashed")
TEMPLATE = "exceptions/_chart.html"
# A rough width of one character of the 12px chart font, for laying out labels and the legend
# without measuring text (the server has no fonts); generous so labels do not collide.
CHAR_WIDTH = 6.8
LEGEND_ROW = 18
TARGET_TICKS = 5
# Below this many units per x label, point markers would crowd the line: they are drawn transparent.
MIN_MARKED_SLOT = 14


@dataclass(frozen=True)
class Series:
    """One named run of values, one per x label (``None`` leaves a gap)."""

    name: str
    values: list[float | None]
    kind: str = "line"  # "line" | "step" | "bar" | "dashed"
    css_class: str = ""


@dataclass(frozen=True)
class Tick:
    pos: str
    label: str


@dataclass(frozen=True)
class Point:
    x: str
    y: str
    title: str
    dense: bool  # too many points to mark: drawn transparent, still there for their tooltips


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    title: str
    negative: bool


@dataclass(frozen=True)
class SeriesMarks:
    """What the template draws for one series: a path and its points, or bars."""

    name: str
    kind: str
    css: str
    path: str = ""
    points: list[Point] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)


@dataclass(frozen=True)
class LegendItem:
    """A swatch (18 wide) and its label; ``y`` is the label's baseline."""

    x: float
    y: float
    name: str
    kind: str
    css: str

    @property
    def left(self) -> str:
        return _px(self.x)

    @property
    def baseline(self) -> str:
        return _px(self.y)

    @property
    def swatch_end(self) -> str:
        return _px(self.x + 18)

    @property
    def line_y(self) -> str:
        return _px(self.y - 4)

    @property
    def box_y(self) -> str:
        return _px(self.y - 9)

    @property
    def text_x(self) -> str:
        return _px(self.x + 24)


@dataclass(frozen=True)
class Scale:
    """A linear value axis with round ticks, always including zero."""

    low: float
    high: float
    step: float

    @classmethod
    def fit(cls, values: Sequence[float]) -> "Scale":
        low, high = min([0.0, *values]), max([0.0, *values])
        if low == high:
            high = low + 1
        step = _nice_step((high - low) / TARGET_TICKS)
        if all(float(v).is_integer() for v in values):
            step = max(step, 1.0)  # counts: no ticks between whole numbers
        return cls(math.floor(low / step) * step, math.ceil(high / step) * step, step)

    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [round(self.low + i * self.step, 10) for i in range(count + 1)]

    def label(self, value: float) -> str:
        decimals = len(f"{self.step:.10f}".rstrip("0").split(".")[1])
        return f"{value:,.{decimals}f}"


def line_chart(
    *,
    title: str,
    x_labels: list[str],
    series: list[Series],
    y_label: str = "",
    width: int = 760,
    height: int = 280,
    desc: str = "",
    x_title: str = "Period",
    y_include: Sequence[float] = (),
) -> SafeString:
    """A chart of ``series`` over ``x_labels``; bars, lines, steps and dashed lines can mix.

    ``desc`` replaces the generated description; ``x_title`` heads the data table's first column;
    the value axis always covers zero and ``y_include`` (``(100,)`` keeps a percentage's full scale).
    """
    _check(x_labels, series)
    layout = _Layout(title, x_labels, series, y_label, (width, height), desc, "over", x_title, y_include)
    return _render(layout)


def bar_chart(
    *,
    title: str,
    categories: list[str],
    series: list[Series],
    y_label: str = "",
    width: int = 760,
    height: int = 280,
    desc: str = "",
    x_title: str = "Category",
) -> SafeString:
    """Grouped bars, one group per category (every series is drawn as bars)."""
    as_bars = [Series(s.name, s.values, "bar", s.css_class) for s in series]
    _check(categories, as_bars)
    return _render(_Layout(title, categories, as_bars, y_label, (width, height), desc, "by", x_title, ()))


def _check(x_labels: list[str], series: list[Series]) -> None:
    for s in series:
        if s.kind not in KINDS:
            raise ValueError(f"Series {s.name!r}: kind must be one of {', '.join(KINDS)}, not {s.kind!r}.")
        if len(s.values) != len(x_labels):
            raise ValueError(f"Series {s.name!r} has {len(s.values)} values for {len(x_labels)} labels.")


def _render(layout: "_Layout") -> SafeString:
    return SafeString(render_to_string(TEMPLATE, layout.context()))


def _nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at least ``raw``."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5):
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10 * magnitude


def format_value(value: float | None) -> str:
    """A value as the data table and tooltips show it: at most two decimals, no float noise."""
    if value is None:
        return "no data"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _shorten(label: str, room: int) -> str:
    return label if len(label) <= room else label[: room - 1] + "…"


def _px(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


class _Layout:
    """The chart's geometry: margins, scale, and the marks of every series, in SVG units."""

    def __init__(
        self,
        title: str,
        x_labels: list[str],
        series: list[Series],
        y_label: str,
        size: tuple[int, int],
        desc: str,
        relation: str,
        x_title: str,
        y_include: Sequence[float],
    ) -> None:
        self.title, self.x_labels, self.series = title, x_labels, series
        self.y_label, (self.width, self.height) = y_label, size
        self.relation, self.x_title = relation, x_title
        self.values = [v for s in series for v in s.values if v is not None]
        self.desc = desc or self._describe()
        self.scale = Scale.fit([*self.values, *y_include])
        self.legend = self._legend()
        legend_rows = len({item.y for item in self.legend})
        self.top = 18 + legend_rows * LEGEND_ROW
        label_width = max(len(self.scale.label(t)) for t in self.scale.ticks()) * CHAR_WIDTH
        self.left = label_width + 12 + (18 if y_label else 0)
        self.right = self.width - 12
        self.bottom = self.height - 28
        self.slot = (self.right - self.left) / max(1, len(x_labels))

    def context(self) -> dict[str, object]:
        digest = hashlib.sha1(  # noqa: S324 - an element id, not security
            "|".join([self.title, *self.x_labels, *(s.name for s in self.series)]).encode()
        ).hexdigest()[:10]
        return {
            "id": f"chart-{digest}",
            "title": self.title,
            "desc": self.desc,
            "width": self.width,
            "height": self.height,
            "empty": not self.values,
            "plot": {
                "left": _px(self.left),
                "right": _px(self.right),
                "top": _px(self.top),
                "bottom": _px(self.bottom),
                "width": _px(self.right - self.left),
                "height": _px(self.bottom - self.top),
            },
            "middle_x": _px((self.left + self.right) / 2),
            "middle_y": _px((self.top + self.bottom) / 2),
            "y_label": self.y_label,
            "y_label_x": _px(14),
            "y_tick_x": _px(self.left - 6),
            "x_title": self.x_title,
            "y_ticks": [Tick(_px(self._y(t)), self.scale.label(t)) for t in self.scale.ticks()],
            "zero_y": _px(self._y(0)) if self.scale.low < 0 else "",
            "x_ticks": self._x_ticks(),
            "x_label_y": _px(self.bottom + 18),
            "marks": self._marks(),
            "legend": self.legend,
            "headers": [s.name for s in self.series],
            "rows": [
                (label, [format_value(s.values[i]) for s in self.series]) for i, label in enumerate(self.x_labels)
            ],
        }

    def _describe(self) -> str:
        if not self.values:
            return "No data to show."
        names = ", ".join(s.name for s in self.series)
        span = f"{self.x_labels[0]} to {self.x_labels[-1]}" if self.relation == "over" else self.x_title.lower()
        unit = f" {self.y_label}" if self.y_label else ""
        return (
            f"{names} {self.relation} {span}; values from {format_value(min(self.values))} "
            f"to {format_value(max(self.values))}{unit}. The data table that follows lists every value."
        )

    def _y(self, value: float) -> float:
        share = (value - self.scale.low) / (self.scale.high - self.scale.low)
        return self.bottom - share * (self.bottom - self.top)

    def _x(self, index: int) -> float:
        return self.left + (index + 0.5) * self.slot

    def _x_ticks(self) -> list[Tick]:
        if self.relation == "by":
            # Every category needs its label: shorten long ones (the tooltip and table keep them whole).
            room = max(3, int(self.slot / CHAR_WIDTH) - 1)
            return [Tick(_px(self._x(i)), _shorten(label, room)) for i, label in enumerate(self.x_labels)]
        # Over time, thin the labels instead so neighbours never overlap.
        widest = max((len(label) for label in self.x_labels), default=0) * CHAR_WIDTH + 8
        every = max(1, math.ceil(widest / self.slot))
        return [Tick(_px(self._x(i)), label) for i, label in enumerate(self.x_labels) if i % every == 0]

    def _legend(self) -> list[LegendItem]:
        items, x, row = [], 12.0, 0
        for index, s in enumerate(self.series):
            item_width = 24 + len(s.name) * CHAR_WIDTH + 16
            if x + item_width > self.width - 12 and x > 12:
                x, row = 12.0, row + 1
            items.append(LegendItem(x, 14 + row * LEGEND_ROW, s.name, s.kind, self._css(index, s)))
            x += item_width
        return items

    def _css(self, index: int, s: Series) -> str:
        return " ".join(filter(None, [f"chart-s{index % 7}", f"chart-{s.kind}", s.css_class]))

    def _marks(self) -> list[SeriesMarks]:
        bar_count = sum(s.kind == "bar" for s in self.series)
        marks, bar_position = [], 0
        # Bars first so lines are drawn over them.
        for index, s in sorted(enumerate(self.series), key=lambda pair: pair[1].kind != "bar"):
            css = self._css(index, s)
            if s.kind == "bar":
                marks.append(SeriesMarks(s.name, s.kind, css, bars=self._bars(s, bar_position, bar_count)))
                bar_position += 1
            else:
                marks.append(SeriesMarks(s.name, s.kind, css, path=self._path(s), points=self._points(s)))
        return marks

    def _tooltip(self, s: Series, index: int) -> str:
        return f"{self.x_labels[index]}: {s.name} {format_value(s.values[index])}"

    def _points(self, s: Series) -> list[Point]:
        return [
            Point(_px(self._x(i)), _px(self._y(v)), self._tooltip(s, i), self.slot < MIN_MARKED_SLOT)
            for i, v in enumerate(s.values)
            if v is not None
        ]

    def _path(self, s: Series) -> str:
        """Line segments between known values; a ``None`` lifts the pen, leaving a gap."""
        parts, previous = [], None
        for i, v in enumerate(s.values):
            if v is None:
                previous = None
                continue
            y = _px(self._y(v))
            if s.kind == "step":
                # A step holds its value across the whole slot (a day's balance, a week's rate).
                start, end = _px(self.left + i * self.slot), _px(self.left + (i + 1) * self.slot)
                parts.append(f"V{y}H{end}" if previous is not None else f"M{start} {y}H{end}")
            else:
                parts.append(f"{'L' if previous is not None else 'M'}{_px(self._x(i))} {y}")
            previous = v
        return "".join(parts)

    def _bars(self, s: Series, position: int, count: int) -> list[Bar]:
        width = min(self.slot * 0.7 / count, 48)
        group = width * count
        zero = self._y(0)
        bars = []
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = self.left + i * self.slot + (self.slot - group) / 2 + position * width
            top = min(zero, self._y(v))
            bars.append(
                Bar(
                    _px(x),
                    _px(top),
                    _px(max(width - 1, 2)),
                    _px(abs(self._y(v) - zero)),
                    self._tooltip(s, i),
                    v < 0,
                )
            )
        return bars
