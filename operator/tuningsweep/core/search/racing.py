"""Racing across windows: the clearly-behind stop early, the contenders get more windows.

Every configuration first trains on the most recent window. After each window, once
every configuration still in the race has its result there, the race decides who goes
on to the next window:

* **Regular windows** (``windows.rolling.count``; with ``ranges``, the first
  ``min(3, len(ranges))`` by recency): successive halving keeps the best
  ``keepFraction`` of the configurations by mean over the windows run so far (at least
  two), and drops any configuration *significantly* behind the leader even if it is
  within that fraction.
* **Extra windows** (older months continuing the rolling sequence, up to
  ``maxWindows``): after the regular windows, only configurations that are not
  significantly behind the leader go on, one more window at a time, until the leader is
  significantly better than every other or the windows run out.

Comparisons are paired by construction: every configuration in the race has run on the
same windows, so a hard month shifts all of them and eliminates nobody by itself.
"Significantly behind" uses the test of the report (:mod:`.comparisons`): the paired
mean difference over the sweep's residual noise (the additive model ``value = level of
the configuration + shift of the window + noise`` fitted to the racers' results, on the
same scale as the report's, with diverged trials left out and the noise moderated per
configuration), here one-sided and Bonferroni-corrected over the pairs of racers at
``racing.alpha``. With one window there is no noise estimate, so only the halving acts.

A configuration with a failed trial leaves the race (it cannot be a winner); its rows
stay. Everything here is a pure function of (configurations, windows, rows): the same
results give the same next trials on any machine and after any restart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..records.results import ResultRow
from ..spec.parse import DateWindow, ParamValue, Racing

if TYPE_CHECKING:
    import numpy as np

RANGES_REGULAR = 3  # with explicit ranges, how many (most recent first) every config runs
MIN_KEEP = 2


@dataclass(frozen=True)
class Elimination:
    """Why a configuration left the race: after which window, in words."""

    window: str
    reason: str


@dataclass(frozen=True)
class RaceResult:
    """The race so far.

    Attributes:
        windows: per configuration, the windows it is to run on so far (in race order).
        final: no configuration will get another window, whatever the results.
        eliminated: configurations out of the race and why.
        alive: configurations still racing (the leader among them).
    """

    windows: Mapping[str, tuple[DateWindow, ...]]
    final: bool
    eliminated: Mapping[str, Elimination]
    alive: tuple[str, ...]


def race_order(windows: Sequence[DateWindow]) -> list[DateWindow]:
    """Windows in the order configurations race on them: most recent first."""
    return sorted(windows, key=lambda w: (w.end, w.start), reverse=True)


def regular_count(racing: Racing, windows: Sequence[DateWindow], rolling_count: int | None) -> int:
    """How many windows every surviving configuration runs before extra windows."""
    if rolling_count is not None:
        return min(rolling_count, len(windows))
    return min(RANGES_REGULAR, len(windows))


def _objective(rows: Iterable[ResultRow], metric: str,
               sign: float) -> dict[tuple[str, str], float | None]:
    """(config, window) -> oriented objective (lower is better); None for a failure."""
    out: dict[tuple[str, str], float | None] = {}
    for r in rows:
        value = r.metrics.get(metric)
        ok = r.status == "succeeded" and value is not None and math.isfinite(value)
        out[r.config, r.window] = sign * value if ok and value is not None else None
    return out


def behind_p_values(matrix: np.ndarray, leader: int, goal: str = "minimize") -> np.ndarray:
    """One-sided p-values of "row is worse than the leader" (lower is better), per row.

    The report's test (:func:`.comparisons.behind_p_values`): the same scale, outlying
    trials left out, moderated residual noise of the racers' matrix; NaN where no test
    is possible (one column, or no residual freedom).
    """
    # numpy and the statistics load only when a race compares: the planner is imported
    # by every command, and numpy costs a tenth of a second before the first trial.
    from ..stats.comparisons import behind_p_values as report_test

    return report_test(matrix, leader, goal)


def behind_the_leader(p_values: Mapping[str, float], racers: int, alpha: float) -> set[str]:
    """The racers significantly behind the leader, at family-wise error rate ``alpha``.

    The leader is selected from the same data, so it is lucky on average and every
    difference to it is inflated by that luck; a test per pair, even Holm-corrected for
    the ``k - 1`` comparisons, would eliminate the truly best too often. As in the
    report (:mod:`.comparisons`), each p-value is multiplied by the number of pairs of
    racers, ``k (k - 1) / 2``: all pairwise claims then hold at once, those with the
    selected leader included.
    """
    pairs = max(1, racers * (racers - 1) // 2)
    return {name for name, p in p_values.items() if p * pairs < alpha}


def run_race(
    configs: Sequence[tuple[str, Mapping[str, ParamValue]]],
    windows: Sequence[DateWindow],
    rows: Sequence[ResultRow],
    racing: Racing,
    regular: int,
    metric: str,
    goal: str,
) -> RaceResult:
    """Replay the race on the results so far (see the module docstring)."""
    order = race_order(windows)[:max(1, racing.max_windows)]
    values = _objective(rows, metric, 1.0 if goal == "minimize" else -1.0)
    alive = [c for c, _ in configs]
    runs: dict[str, list[DateWindow]] = {c: [] for c in alive}
    eliminated: dict[str, Elimination] = {}
    for k, window in enumerate(order):
        for c in alive:
            runs[c].append(window)
        if any((c, window.id) not in values for c in alive):
            return _result(runs, False, eliminated, alive)
        for c in alive:
            if values[c, window.id] is None:
                eliminated[c] = Elimination(window.id, f"its trial on {window.id} failed")
        alive = [c for c in alive if c not in eliminated]
        if len(alive) <= 1:
            break
        seen = [w.id for w in order[:k + 1]]
        import numpy as np

        matrix = np.array([[values[c, w] for w in seen] for c in alive], dtype=np.float64)
        means = matrix.mean(axis=1)
        ranking = sorted(range(len(alive)), key=lambda i: (means[i], alive[i]))
        leader = ranking[0]
        p = behind_p_values(matrix, leader, goal)
        tested = {alive[i]: float(p[i]) for i in range(len(alive))
                  if i != leader and not math.isnan(p[i])}
        behind = behind_the_leader(tested, len(alive), racing.alpha)
        last_regular = k + 1 >= regular
        keep = max(MIN_KEEP, math.ceil(racing.keep_fraction * len(alive)))
        for rank, i in enumerate(ranking):
            c = alive[i]
            if c in behind:
                eliminated[c] = Elimination(window.id, (
                    f"significantly behind {alive[leader]} after {k + 1} windows "
                    f"(one-sided p = {tested[c]:.2g} before correcting for "
                    f"{len(alive)} racers; alpha {racing.alpha:g})"))
            elif not last_regular and rank >= keep:
                eliminated[c] = Elimination(window.id, (
                    f"rank {rank + 1} of {len(alive)} after {k + 1} window(s); "
                    f"the best {keep} went on"))
        alive = [c for c in alive if c not in eliminated]
        if len(alive) <= 1:
            break
    return _result(runs, True, eliminated, alive)


def _result(runs: dict[str, list[DateWindow]], final: bool,
            eliminated: dict[str, Elimination], alive: list[str]) -> RaceResult:
    return RaceResult({c: tuple(w) for c, w in runs.items()}, final, dict(eliminated),
                      tuple(alive))
