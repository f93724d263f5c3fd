"""Tiny SVG building blocks for the HTML report: scales, ticks, colours, axes.

The HTML report must open without a network, so instead of a charting library (which
would have to be inlined, hundreds of kilobytes of JavaScript) the plots are plain SVG
written here. Static SVG also prints, diffs, and is checked by a test in a real browser.
Every function returns markup text; all user text passes through :func:`esc`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Sequential colour ramp from "worst" (light) to "best" (dark blue).
_RAMP: tuple[tuple[int, int, int], ...] = (
    (247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107),
)
CHAR_WIDTH = 6.2  # average width of an 11px sans-serif character, for layout
_SLUG = re.compile(r"[^a-zA-Z0-9_-]+")


def esc(text: object) -> str:
    """Escape text for HTML/SVG content and attributes."""
    return html.escape(str(text), quote=True)


def slug(text: str) -> str:
    """An id-safe version of a name (``learning_rate`` stays, ``a b`` -> ``a-b``)."""
    return _SLUG.sub("-", text).strip("-") or "x"


def num(value: float) -> str:
    """A coordinate with two decimals (keeps the SVG small)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def goodness_color(goodness: float) -> str:
    """Colour for a goodness in [0, 1] (1 = best = dark blue)."""
    g = min(1.0, max(0.0, goodness)) * (len(_RAMP) - 1)
    i = min(int(g), len(_RAMP) - 2)
    t = g - i
    r, gr, b = (round(a + (c - a) * t) for a, c in zip(_RAMP[i], _RAMP[i + 1], strict=True))
    return f"#{r:02x}{gr:02x}{b:02x}"


def text_color(goodness: float) -> str:
    """Black or white text, whichever reads on :func:`goodness_color`."""
    return "#ffffff" if goodness > 0.55 else "#1a1a1a"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (about ``count`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


@dataclass(frozen=True)
class LinearScale:
    """Maps a data interval onto a pixel interval (``log`` for positive data)."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        lo, hi, v = self.low, self.high, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(max(value, self.low))
        if hi == lo:
            return (self.start + self.end) / 2
        return self.start + (v - lo) / (hi - lo) * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        """Tick values: round numbers, or powers of ten on a log scale."""
        if not self.log:
            return nice_ticks(self.low, self.high, count)
        first = math.floor(math.log10(self.low))
        last = math.ceil(math.log10(self.high))
        multiples = (1.0,) if last - first > 3 else (1.0, 2.0, 5.0)
        found = [m * 10.0**e for e in range(first, last + 1) for m in multiples]
        inside = [t for t in found if self.low <= t * (1 + 1e-9) and t <= self.high * (1 + 1e-9)]
        return inside or [self.low, self.high]


def padded(low: float, high: float, share: float = 0.06) -> tuple[float, float]:
    """Widen ``[low, high]`` by ``share`` on each side (a point never sits on an axis)."""
    if high == low:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * share
    return low - pad, high + pad


def tick_label(value: float) -> str:
    """A compact tick label (``0.001``, ``2.5e-05``, ``120``)."""
    return f"{value:.3g}"


def text(x: float, y: float, content: object, *, anchor: str = "middle", cls: str = "",
         size: int = 11, rotate: float | None = None, weight: str = "") -> str:
    """A ``<text>`` element."""
    transform = f' transform="rotate({num(rotate)} {num(x)} {num(y)})"' if rotate else ""
    css = f' class="{cls}"' if cls else ""
    bold = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{size}"'
            f'{css}{bold}{transform}>{esc(content)}</text>')


def polyline(points: Sequence[tuple[float, float]], *, cls: str, stroke: str,
             width: float = 1.5, opacity: float = 1.0, title: str = "") -> str:
    """An unfilled ``<polyline>`` with an optional hover title."""
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    tip = f"<title>{esc(title)}</title>" if title else ""
    fade = f' stroke-opacity="{num(opacity)}"' if opacity < 1 else ""
    return (f'<polyline class="{cls}" points="{coords}" fill="none" stroke="{stroke}" '
            f'stroke-width="{num(width)}"{fade}>{tip}</polyline>')


def y_axis(scale: LinearScale, x: float, *, ticks: int = 5, label: str = "",
           grid_to: float | None = None) -> str:
    """A vertical axis at ``x`` with ticks, optional grid lines and a rotated label."""
    parts = [f'<line class="axis" x1="{num(x)}" y1="{num(scale.start)}" x2="{num(x)}" '
             f'y2="{num(scale.end)}" stroke="#555"/>']
    for value in scale.ticks(ticks):
        y = scale(value)
        parts.append(f'<line x1="{num(x - 4)}" y1="{num(y)}" x2="{num(x)}" y2="{num(y)}" stroke="#555"/>')
        if grid_to is not None:
            parts.append(f'<line class="grid" x1="{num(x)}" y1="{num(y)}" x2="{num(grid_to)}" '
                         f'y2="{num(y)}" stroke="#e4e4e4"/>')
        parts.append(text(x - 6, y + 4, tick_label(value), anchor="end", size=10))
    if label:
        middle = (scale.start + scale.end) / 2
        parts.append(text(x - 46, middle, label, rotate=-90, size=11))
    return "".join(parts)


def svg(element_id: str, cls: str, width: float, height: float, body: str, label: str) -> str:
    """Wrap ``body`` in an ``<svg>`` with an id, classes, a size and an accessible label."""
    return (f'<svg id="{esc(element_id)}" class="{esc(cls)}" '
            f'width="{num(width)}" height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}" '
            f'role="img" aria-label="{esc(label)}">{body}</svg>')
