"""A small PNG chart writer: stacked time-series panels with shaded phases.

Drawn with Pillow rather than matplotlib: the demo needs one fixed kind of chart, and
Pillow is a single self-contained wheel where matplotlib brings ten packages and a font
cache. Lines are drawn at twice the size and scaled down, which smooths them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

__all__ = ["Series", "Panel", "Band", "Chart", "nice_ticks", "render_chart"]

Color = tuple[int, int, int]

_BACKGROUND: Color = (255, 255, 255)
_FRAME: Color = (120, 120, 120)
_GRID: Color = (228, 228, 228)
_TEXT: Color = (30, 30, 30)
_MUTED: Color = (110, 110, 110)


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``(x, y)`` points in x order; ``y=None`` (or a jump in x larger than
    ``max_gap``) breaks the line."""

    label: str
    color: Color
    points: Sequence[tuple[float, float | None]]
    max_gap: float = math.inf


@dataclass(frozen=True, slots=True)
class Panel:
    """One plot area sharing the chart's x axis."""

    title: str
    series: Sequence[Series]
    y_min: float | None = None
    """Fixed bottom of the y axis (else from the data)."""
    y_max: float | None = None
    """Fixed top of the y axis (else from the data)."""
    empty_text: str = "no data"


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded stretch of x across every panel, labelled in the first one."""

    label: str
    start: float
    end: float
    color: Color


@dataclass(frozen=True, slots=True)
class Chart:
    """The whole picture."""

    title: str
    panels: Sequence[Panel]
    x_max: float
    subtitle: str = ""
    x_label: str = "seconds"
    bands: Sequence[Band] = field(default_factory=tuple)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering low..high.

    Args:
        low: the axis minimum.
        high: the axis maximum (above ``low``).
        count: about how many ticks.

    Returns:
        The ticks within ``low..high``, ascending.
    """
    span = high - low
    if not span > 0 or not math.isfinite(span):
        return [low]
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:g}"


def _y_range(panel: Panel) -> tuple[float, float]:
    values = [y for s in panel.series for _, y in s.points if y is not None and math.isfinite(y)]
    low = panel.y_min if panel.y_min is not None else min(values, default=0.0)
    high = panel.y_max if panel.y_max is not None else max(values, default=1.0)
    if panel.y_max is None:
        high += (high - low) * 0.1 or 1.0
    if high <= low:
        high = low + 1.0
    return low, high


class _Canvas:
    def __init__(self, chart: Chart, width: int, scale: int) -> None:
        self.chart = chart
        self.s = scale
        self.left, self.right, self.top = 70 * scale, 24 * scale, 78 * scale
        self.panel_height, self.gap, self.bottom = 190 * scale, 46 * scale, 56 * scale
        count = max(1, len(chart.panels))
        self.width = width * scale
        self.height = self.top + count * self.panel_height + (count - 1) * self.gap + self.bottom
        self.image = Image.new("RGB", (self.width, self.height), _BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.font = ImageFont.load_default(size=13 * scale)
        self.small = ImageFont.load_default(size=11 * scale)
        self.big = ImageFont.load_default(size=18 * scale)

    def x_pixel(self, x: float) -> float:
        span = self.chart.x_max or 1.0
        return self.left + (x / span) * (self.width - self.left - self.right)

    def panel_box(self, index: int) -> tuple[int, int, int, int]:
        top = self.top + index * (self.panel_height + self.gap)
        return self.left, top, self.width - self.right, top + self.panel_height

    def text_width(self, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> float:
        return self.draw.textlength(text, font=font)


def _draw_bands(canvas: _Canvas, box: tuple[int, int, int, int], label: bool) -> None:
    left, top, right, bottom = box
    overlay = Image.new("RGBA", canvas.image.size, (0, 0, 0, 0))
    shade = ImageDraw.Draw(overlay)
    for band in canvas.chart.bands:
        x0 = max(left, canvas.x_pixel(band.start))
        x1 = min(right, canvas.x_pixel(band.end))
        if x1 <= x0:
            continue
        shade.rectangle((x0, top, x1, bottom), fill=(*band.color, 46))
    canvas.image.paste(Image.alpha_composite(canvas.image.convert("RGBA"), overlay).convert("RGB"))
    canvas.draw = ImageDraw.Draw(canvas.image)
    if label:
        for band in canvas.chart.bands:
            x0 = max(left, canvas.x_pixel(band.start))
            canvas.draw.text(
                (x0 + 3 * canvas.s, top + 3 * canvas.s),
                band.label,
                fill=band.color,
                font=canvas.small,
            )


def _draw_panel(canvas: _Canvas, index: int, panel: Panel) -> None:
    s = canvas.s
    draw = canvas.draw
    left, top, right, bottom = canvas.panel_box(index)
    low, high = _y_range(panel)

    def y_pixel(y: float) -> float:
        clamped = min(max(y, low), high)
        return bottom - (clamped - low) / (high - low) * (bottom - top)

    for tick in nice_ticks(low, high, 4):
        y = y_pixel(tick)
        draw.line((left, y, right, y), fill=_GRID, width=s)
        text = _label(tick)
        draw.text(
            (left - 6 * s - canvas.text_width(text, canvas.small), y - 7 * s),
            text,
            fill=_MUTED,
            font=canvas.small,
        )
    for tick in nice_ticks(0.0, canvas.chart.x_max, 10):
        x = canvas.x_pixel(tick)
        draw.line((x, top, x, bottom), fill=_GRID, width=s)
    _draw_bands(canvas, (left, top, right, bottom), label=index == 0)
    draw = canvas.draw
    draw.text((left, top - 20 * s), panel.title, fill=_TEXT, font=canvas.font)
    drawn = False
    # Earlier series are drawn wider, so one hidden under a later identical one shows.
    widths = [(2 + len(panel.series) - 1 - i) * s for i in range(len(panel.series))]
    for series, line_width in zip(panel.series, widths, strict=True):
        run: list[tuple[float, float]] = []
        previous_x: float | None = None
        for x, value in [*series.points, (math.inf, None)]:
            broken = value is None or not math.isfinite(value)
            if previous_x is not None and x - previous_x > series.max_gap:
                broken = True
            if broken and run:
                if len(run) > 1:
                    draw.line(run, fill=series.color, width=line_width, joint="curve")
                else:
                    cx, cy = run[0]
                    draw.ellipse(
                        (cx - 2 * s, cy - 2 * s, cx + 2 * s, cy + 2 * s), fill=series.color
                    )
                drawn = True
                run = []
            if value is not None and math.isfinite(value) and math.isfinite(x):
                run.append((canvas.x_pixel(x), y_pixel(value)))
            previous_x = x
    if not drawn:
        text = panel.empty_text
        draw.text(
            ((left + right) / 2 - canvas.text_width(text, canvas.font) / 2, (top + bottom) / 2),
            text,
            fill=_MUTED,
            font=canvas.font,
        )
    legend_x = float(right)
    legend_y = top - 13 * s
    for series in reversed(panel.series):
        width = canvas.text_width(series.label, canvas.small)
        legend_x -= width + 30 * s
        draw.line((legend_x, legend_y, legend_x + 18 * s, legend_y), fill=series.color, width=3 * s)
        draw.text(
            (legend_x + 22 * s, legend_y - 7 * s), series.label, fill=_TEXT, font=canvas.small
        )
    draw.rectangle((left, top, right, bottom), outline=_FRAME, width=s)


def render_chart(
    chart: Chart, path: str | os.PathLike[str], *, width: int = 1100, scale: int = 2
) -> None:
    """Draw ``chart`` and write it to ``path`` as a PNG.

    Args:
        chart: what to draw.
        path: the file to (over)write.
        width: pixels across.
        scale: drawing resolution multiple before smoothing down.

    Raises:
        OSError: the file cannot be written.
    """
    canvas = _Canvas(chart, width, scale)
    s = scale
    canvas.draw.text((canvas.left, 14 * s), chart.title, fill=_TEXT, font=canvas.big)
    if chart.subtitle:
        canvas.draw.text((canvas.left, 38 * s), chart.subtitle, fill=_MUTED, font=canvas.font)
    for index, panel in enumerate(chart.panels):
        _draw_panel(canvas, index, panel)
    last_bottom = canvas.panel_box(len(chart.panels) - 1)[3]
    for tick in nice_ticks(0.0, chart.x_max, 10):
        text = _label(tick)
        x = canvas.x_pixel(tick) - canvas.text_width(text, canvas.small) / 2
        canvas.draw.text((x, last_bottom + 6 * s), text, fill=_MUTED, font=canvas.small)
    label_width = canvas.text_width(chart.x_label, canvas.font)
    canvas.draw.text(
        ((canvas.width - label_width) / 2, last_bottom + 26 * s),
        chart.x_label,
        fill=_TEXT,
        font=canvas.font,
    )
    image = canvas.image.resize((canvas.width // s, canvas.height // s), Image.Resampling.LANCZOS)
    image.save(path, format="PNG", optimize=True)
