"""Tiny SVG building blocks for the HTML report's colour grids: colours, text, cells.

Plots with numeric axes are drawn by matplotlib (:mod:`.charts`), which gets ticks and
layout right; the colour grids (objective by window, interaction) have no axes and are
written here. Every function returns markup text; all user text passes through
:func:`esc`.
"""

from __future__ import annotations

import html
import re

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


def text(x: float, y: float, content: object, *, anchor: str = "middle", cls: str = "",
         size: int = 11, rotate: float | None = None, weight: str = "") -> str:
    """A ``<text>`` element."""
    transform = f' transform="rotate({num(rotate)} {num(x)} {num(y)})"' if rotate else ""
    css = f' class="{cls}"' if cls else ""
    bold = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{size}"'
            f'{css}{bold}{transform}>{esc(content)}</text>')


def svg(element_id: str, cls: str, width: float, height: float, body: str, label: str) -> str:
    """Wrap ``body`` in an ``<svg>`` with an id, classes, a size and an accessible label."""
    return (f'<svg id="{esc(element_id)}" class="{esc(cls)}" '
            f'width="{num(width)}" height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}" '
            f'role="img" aria-label="{esc(label)}">{body}</svg>')
