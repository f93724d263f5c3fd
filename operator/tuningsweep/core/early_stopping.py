"""Early stopping: which running trials to stop, from per-epoch metrics.

Trainers already report every epoch's metrics (the metrics file locally, the per-epoch
gauge through Prometheus on a cluster). A running trial is compared **only with trials
of the same window at the same epoch**: windows differ a lot in level (the validation
MSE of one model was ~950 in one month and ~3,650 in another), so a trial on a hard
window must not be stopped for being behind trials on an easy one.

Two rules, both common in the peers (Vizier's and Optuna's median rule, ASHA from Ray
Tune and Katib):

* ``median``: at an epoch ``e >= graceEpochs``, a trial whose best value so far is worse
  than the median, at epoch ``e``, of the best-so-far values of the window's other trials
  that reached ``e`` is stopped (at least ``minTrials`` of them must have reached it).
* ``asha``: rungs at ``graceEpochs * reductionFactor^k`` epochs; a trial reaching a rung
  goes on only if it is in the top ``1/reductionFactor`` of the window's trials that
  reached that rung (again at least ``minTrials`` of them); asynchronous, as in ASHA:
  a trial is judged when it gets to the rung, against those that got there before.

A stopped trial becomes a row with status ``stopped`` and the last metrics it reported:
neither a failure (it does not count against ``maxFailedTrials``) nor a candidate
winner. Pure: the executors read the epochs and carry the decision out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

from .spec import EarlyStopping

#: per trial: epoch (1-based) -> objective value at that epoch, lower is better
Curves = Mapping[str, Mapping[int, float]]


def best_so_far(curve: Mapping[int, float], epoch: int) -> float | None:
    """The best value up to ``epoch`` (None if nothing finite was reported by then)."""
    values = [v for e, v in curve.items() if e <= epoch and math.isfinite(v)]
    return min(values) if values else None


def _rungs(rule: EarlyStopping, upto: int) -> list[int]:
    rungs, epoch = [], rule.grace_epochs
    while epoch <= upto:
        rungs.append(epoch)
        epoch *= rule.reduction_factor
    return rungs


def _stop_median(rule: EarlyStopping, trial: str, curve: Mapping[int, float],
                 peers: Curves) -> str | None:
    epoch = max(curve, default=0)
    if epoch < rule.grace_epochs:
        return None
    mine = best_so_far(curve, epoch)
    others = [v for t, c in peers.items() if t != trial and max(c, default=0) >= epoch
              for v in (best_so_far(c, epoch),) if v is not None]
    if mine is None or len(others) < rule.min_trials:
        return None
    median = statistics.median(others)
    if mine > median:
        return (f"stopped at epoch {epoch}: best {mine:.6g} is worse than the median "
                f"{median:.6g} of {len(others)} trials of its window at that epoch")
    return None


def _stop_asha(rule: EarlyStopping, trial: str, curve: Mapping[int, float],
               peers: Curves) -> str | None:
    epoch = max(curve, default=0)
    for rung in reversed(_rungs(rule, epoch)):
        mine = best_so_far(curve, rung)
        others = [v for t, c in peers.items() if t != trial and max(c, default=0) >= rung
                  for v in (best_so_far(c, rung),) if v is not None]
        if mine is None or len(others) < rule.min_trials:
            continue
        better = sum(1 for v in others if v < mine)
        keep = max(1, (len(others) + 1) // rule.reduction_factor)
        if better >= keep:
            return (f"stopped at rung epoch {rung}: {better} of {len(others)} trials of its "
                    f"window were better there, and only the best {keep} go on")
        return None  # judged at its highest rung: it goes on
    return None


def trials_to_stop(rule: EarlyStopping, running: Curves,
                   by_window: Mapping[str, Curves],
                   window_of: Mapping[str, str]) -> dict[str, str]:
    """The running trials to stop, with the reason for each.

    Args:
        running: the running trials' curves so far (oriented: lower is better).
        by_window: every trial's curve (running and finished, stopped included), by window.
        window_of: each running trial's window.
    """
    judge = _stop_median if rule.rule == "median" else _stop_asha
    stops: dict[str, str] = {}
    for trial, curve in sorted(running.items()):
        reason = judge(rule, trial, curve, by_window.get(window_of[trial], {}))
        if reason is not None:
            stops[trial] = reason
    return stops
