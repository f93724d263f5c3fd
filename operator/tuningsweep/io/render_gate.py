"""How often a rendering of every row may run: a rate bounded by the rendering's cost.

Rendering all of a sweep's rows (results.csv, the summary) costs time in proportion to
the rows. Done after every trial, that made a sweep's bookkeeping quadratic; done on a
fixed timer, its share of the runner's time would still grow with the sweep. A
:class:`RenderGate` spaces renderings at least ``RENDER_FLOOR_S`` apart and at least
``RENDER_COST_FACTOR`` times the last rendering's own cost, so rendering never takes
more than about 1/``RENDER_COST_FACTOR`` of the time, whatever the size: a 250-row
summary (a few milliseconds) is refreshed every second, a 10,000-row one (about 0.3 s)
every 15 s or so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

RENDER_FLOOR_S = 1.0
RENDER_COST_FACTOR = 50.0


@dataclass
class RenderGate:
    """When the next rendering may run (monotonic time)."""

    next_at: float = -math.inf

    def due(self) -> bool:
        """Whether a rendering may run now."""
        return time.monotonic() >= self.next_at

    def ran(self, started: float) -> None:
        """A rendering that began at ``started`` (``time.monotonic()``) has just ended."""
        cost = time.monotonic() - started
        self.next_at = started + cost + max(RENDER_FLOOR_S, RENDER_COST_FACTOR * cost)
