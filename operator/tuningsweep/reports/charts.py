"""Charts with numeric axes (trends, importance, parallel coordinates, learning curves),
drawn by matplotlib as inline SVG.

Hand-drawn axes got ticks and layout wrong (issue 14: ``2.18e+03`` three times on one
axis, a rotated axis title drawn over the tick labels). matplotlib's tick locators and
formatters choose distinct round ticks, and its constrained layout makes room for every
label. It writes static SVG, so the page keeps its properties: self-contained, no
script, no network, printable; each mark still carries a hover title (``<title>``) with
its values, and a stable id and class the browser test counts. Plotly would add zoom,
but only with several megabytes of inlined JavaScript per page.

The tables drawn as colour grids (window heatmap, interaction) have no numeric axes and
stay in :mod:`.plots`.

:func:`chart_svg` is the one place that turns a figure into page markup: it names the
``<svg>`` (id, classes, accessible label) and gives marks their class and title. A mark
is any artist given a ``gid``; matplotlib writes it as ``<g id="GID">``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

from tuningsweep.reports.svg import esc

#: Drawing settings: text stays text (searchable, small), no timestamp (stable output).
#: Typed Any: matplotlib types its keys as literals; rc_context checks them at run time.
STYLE: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "tuningsweep",
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.8,
    "axes.formatter.useoffset": False,  # an offset ("+2.18e3") is easy to misread
    "axes.formatter.limits": (-4, 5),
}
BEST = "#d62728"
MAIN = "#2171b5"
DARK = "#08306b"
_SVG_START = re.compile(r"<svg\b")
_NAMESPACE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


@dataclass(frozen=True)
class Mark:
    """A marked artist: the class it gets in the page and its hover text."""

    cls: str
    title: str = ""


@contextmanager
def figure(width: float, height: float) -> Iterator[Figure]:
    """A figure of ``width`` x ``height`` inches in the report's style (no pyplot state)."""
    with mpl.rc_context(STYLE):
        yield Figure(figsize=(width, height), layout="constrained")


def chart_svg(fig: Figure, element_id: str, cls: str, label: str,
              marks: Mapping[str, Mark]) -> str:
    """The figure as an ``<svg>`` element for the page.

    Args:
        fig: the drawn figure (saved inside the style it was drawn with).
        element_id: the ``<svg>``'s id.
        cls: its classes (``plot ...``).
        label: its accessible label.
        marks: per artist gid, its class and hover title.
    """
    out = io.StringIO()
    with mpl.rc_context(STYLE):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    start = _SVG_START.search(text)
    body = text[start.start():] if start else text
    # Inline in HTML the namespaces are implied (the HTML parser knows svg and xlink:href)
    # and the RDF metadata says nothing to a reader; without them the page holds no URL.
    body = _NAMESPACE.sub("", _METADATA.sub("", body))
    body = _SVG_START.sub(f'<svg id="{esc(element_id)}" class="{esc(cls)}" role="img" '
                          f'aria-label="{esc(label)}"', body, count=1)

    def named(match: re.Match[str]) -> str:
        gid = match.group(1)
        mark = marks.get(gid)
        if mark is None:
            return match.group(0)
        title = f"<title>{esc(mark.title)}</title>" if mark.title else ""
        return f'<g id="{gid}" class="{esc(mark.cls)}">{title}'

    return re.sub(r'<g id="([^"]+)">', named, body)
