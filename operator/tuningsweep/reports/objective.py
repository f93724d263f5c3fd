"""Which metric to rank by, and in which direction.

Order of precedence: ``--metric``/``--goal`` given on the command line (a user may want
to look at another metric than the sweep optimised), then the sweep's resolved spec
found next to the CSV, then the project default ``val_mse``/minimize when the results
have it, then the only metric in the results. A goal that cannot be known (a metric the
spec does not name, whose name says nothing) is an error asking for ``--goal`` rather
than a guess: ranking in the wrong direction would crown the worst configuration.
"""

from __future__ import annotations

from collections.abc import Collection

from tuningsweep.core.stats.summary import GOALS, Goal

DEFAULT_METRIC = "val_mse"
DEFAULT_GOAL: Goal = "minimize"

_MINIMIZE_HINTS = ("loss", "mse", "mae", "rmse", "mape", "error", "err", "perplexity",
                   "time", "seconds", "latency")
_MAXIMIZE_HINTS = ("f1", "map", "r2", "reward", "score", "hits")
_MAXIMIZE_PREFIXES = ("acc", "auc", "precision", "recall", "ndcg")


class ObjectiveError(ValueError):
    """The objective cannot be determined; the message says what to pass."""


def infer_goal(metric: str) -> Goal | None:
    """Guess the goal from a metric's name when it is unambiguous (``val_loss``, ``auc``)."""
    words = metric.lower().replace("-", "_").split("_")
    minimize = any(w in _MINIMIZE_HINTS for w in words)
    maximize = any(w in _MAXIMIZE_HINTS or w.startswith(_MAXIMIZE_PREFIXES) for w in words)
    if minimize and not maximize:
        return "minimize"
    if maximize and not minimize:
        return "maximize"
    return None


def _checked_goal(goal: str, source: str) -> Goal:
    for known in GOALS:
        if goal == known:
            return known
    raise ObjectiveError(f"{source}: goal {goal!r} is not one of minimize, maximize")


def resolve_objective(
    available: Collection[str],
    metric: str | None = None,
    goal: str | None = None,
    spec_metric: str | None = None,
    spec_goal: str | None = None,
) -> tuple[str, Goal]:
    """Return ``(metric, goal)`` for the report.

    Args:
        available: metric names present in the results (may be empty for a new sweep).
        metric, goal: command-line options, if given.
        spec_metric, spec_goal: the objective of the sweep's spec, if found.

    Raises:
        ObjectiveError: the metric is not in the results, or it or its goal is ambiguous.
    """
    listing = ", ".join(sorted(available)) or "none"
    chosen = metric or spec_metric
    if chosen is None:
        if DEFAULT_METRIC in available or not available:
            chosen = DEFAULT_METRIC
        elif len(available) == 1:
            chosen = next(iter(available))
        else:
            raise ObjectiveError(
                f"cannot tell which metric to rank by (results have: {listing}); "
                "pass --metric NAME --goal minimize|maximize"
            )
    if available and chosen not in available:
        raise ObjectiveError(f"metric {chosen!r} is not in the results (they have: {listing})")
    if goal is not None:
        return chosen, _checked_goal(goal, "--goal")
    if spec_goal is not None and chosen == spec_metric:
        return chosen, _checked_goal(spec_goal, "spec.objective.goal")
    if chosen == DEFAULT_METRIC:
        return chosen, DEFAULT_GOAL
    guessed = infer_goal(chosen)
    if guessed is None:
        raise ObjectiveError(
            f"cannot tell whether {chosen!r} should be minimized or maximized; "
            "pass --goal minimize|maximize"
        )
    return chosen, guessed
