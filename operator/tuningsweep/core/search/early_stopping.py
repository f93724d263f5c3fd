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

import bisect
import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import ClassVar

from ..spec.parse import EarlyStopping

DENSE_EPOCHS = 1000  # a finished curve reaching further is kept sparse (see EpochCurves)

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


def _best_by_epoch(curve: Mapping[int, float]) -> Iterator[tuple[int, float]]:
    """``(e, best_so_far(curve, e))`` for each epoch ``1..max(curve)`` that has one."""
    items = sorted(curve.items())
    best, i = math.inf, 0
    for epoch in range(1, max(curve, default=0) + 1):
        while i < len(items) and items[i][0] <= epoch:
            if math.isfinite(items[i][1]):
                best = min(best, items[i][1])
            i += 1
        if best < math.inf:
            yield epoch, best


def _kth(big: Sequence[float], small: Sequence[float], k: int) -> float:
    """The ``k``-th smallest (0-based) of two sorted lists together, in O(len(small))."""
    for i in range(min(k, len(small)) + 1):
        j = k - i  # take j from big and i from small: the k-th is the next one
        if j > len(big):
            continue
        if (j == 0 or i == len(small) or big[j - 1] <= small[i]) and (
                i == 0 or j == len(big) or small[i - 1] <= big[j]):
            candidates = ([big[j]] if j < len(big) else []) + (
                [small[i]] if i < len(small) else [])
            return min(candidates)
    raise IndexError(k)  # k beyond both lists


def _median(big: Sequence[float], small: Sequence[float]) -> float:
    """``statistics.median`` of both sorted lists together, without merging them."""
    n = len(big) + len(small)
    if n % 2:
        return _kth(big, small, n // 2)
    return (_kth(big, small, n // 2 - 1) + _kth(big, small, n // 2)) / 2


class EpochCurves:
    """Every trial's curve, kept so that judging costs about the same at any sweep size.

    A finished trial's curve (succeeded, failed or stopped) never changes, so
    :meth:`finish` folds it once into sorted best-so-far values per window and epoch; a
    running trial is then judged with a bisect or two against those, plus a pass over
    the other running trials (:meth:`set_running`, given afresh at each read). Before,
    every decision walked every finished curve: O(rows) per step with early stopping on.
    Values are kept oriented (lower is better).

    Levels are kept for every epoch up to a curve's last, so a curve whose epochs are
    numbered sparsely and high (a trainer reporting its step count as the epoch) would
    cost memory per number, not per record: one reaching past ``DENSE_EPOCHS`` is kept
    as it is instead and walked at each judgement, like a running trial's.
    """

    def __init__(self, maximize: bool = False, dense_epochs: int = DENSE_EPOCHS) -> None:
        self.sign = -1.0 if maximize else 1.0  # oriented values: sign * value, lower is better
        self._dense_epochs = dense_epochs
        self._finished: set[str] = set()
        self._levels: dict[str, dict[int, list[float]]] = {}  # window -> epoch -> sorted
        self._sparse: dict[str, dict[str, dict[int, float]]] = {}  # window -> trial -> curve
        self._running: dict[str, tuple[str, dict[int, float]]] = {}

    @classmethod
    def of(cls, curves: Curves, window_of: Mapping[str, str], running: Collection[str],
           maximize: bool = False) -> EpochCurves:
        """A table from plain curves: those of ``running`` trials live, the others
        finished; trials ``window_of`` does not know are left out."""
        table = cls(maximize=maximize)
        for trial, curve in curves.items():
            if trial in window_of and trial not in running:
                table.finish(trial, window_of[trial], curve)
        table.set_running({t: (window_of[t], curves[t]) for t in running
                           if t in window_of and t in curves})
        return table

    def __contains__(self, trial: object) -> bool:
        """Whether ``trial``'s finished curve is folded in already."""
        return trial in self._finished

    def finish(self, trial: str, window: str, curve: Mapping[int, float]) -> None:
        """Fold a finished trial's curve in (once; later calls for it change nothing)."""
        if trial in self._finished:
            return
        self._finished.add(trial)
        self._running.pop(trial, None)
        oriented = {e: self.sign * v for e, v in curve.items()}
        if max(oriented, default=0) > self._dense_epochs:
            self._sparse.setdefault(window, {})[trial] = oriented
            return
        epochs = self._levels.setdefault(window, {})
        for epoch, best in _best_by_epoch(oriented):
            bisect.insort(epochs.setdefault(epoch, []), best)

    def set_running(self, curves: Mapping[str, tuple[str, Mapping[int, float]]]) -> None:
        """The running trials' windows and curves so far (replacing the last ones)."""
        self._running = {t: (w, {e: self.sign * v for e, v in c.items()})
                         for t, (w, c) in curves.items() if t not in self._finished}

    def curve(self, trial: str) -> Mapping[int, float]:
        """A running trial's curve as last set (in the objective's own direction)."""
        _, oriented = self._running.get(trial, ("", {}))
        return {e: self.sign * v for e, v in oriented.items()}

    def peers(self, trial: str, window: str, epoch: int) -> tuple[list[float], list[float]]:
        """Best-so-far values at ``epoch`` of the window's other trials that reached it
        (oriented: lower is better):
        the finished ones (a kept sorted list: do not change it) and the rest (running
        trials, and finished ones kept sparse), sorted."""
        walked = [*((t, c) for t, (w, c) in self._running.items() if w == window),
                  *self._sparse.get(window, {}).items()]
        rest = sorted(v for t, c in walked if t != trial and max(c, default=0) >= epoch
                      for v in (best_so_far(c, epoch),) if v is not None)
        return self._levels.get(window, {}).get(epoch, []), rest

    def stops(self, rule: EarlyStopping, running: Iterable[str]) -> dict[str, str]:
        """The trials among ``running`` to stop now, with the reason for each."""
        judge = RULES[rule.rule].judge
        stops: dict[str, str] = {}
        for trial in sorted(running):
            if trial not in self._running:
                continue
            window, curve = self._running[trial]
            reason = judge(self, rule, trial, window, curve)
            if reason is not None:
                stops[trial] = reason
        return stops


def trials_to_stop(rule: EarlyStopping, running: Curves,
                   by_window: Mapping[str, Curves],
                   window_of: Mapping[str, str]) -> dict[str, str]:
    """The running trials to stop, with the reason for each.

    Args:
        running: the running trials' curves so far (oriented: lower is better).
        by_window: every trial's curve (running and finished, stopped included), by window.
        window_of: each running trial's window.
    """
    windows = {t: w for w, curves in by_window.items() for t in curves} | dict(window_of)
    every = {t: c for curves in by_window.values() for t, c in curves.items()} | dict(running)
    return EpochCurves.of(every, windows, running).stops(rule, running)


class StoppingRule(ABC):
    """How a running trial is judged against the trials of its window: one subclass per
    ``search.earlyStopping.rule``."""

    #: The ``rule`` value that selects it.
    name: ClassVar[str]

    @abstractmethod
    def judge(self, curves: EpochCurves, rule: EarlyStopping, trial: str, window: str,
              curve: Mapping[int, float]) -> str | None:
        """Why ``trial`` (its oriented ``curve`` so far) stops now; None: it goes on."""


class MedianRule(StoppingRule):
    """Stop a trial whose best so far is worse than the median of its window's trials at
    the same epoch (after ``graceEpochs``, with at least ``minTrials`` to compare)."""

    name = "median"

    def judge(self, curves: EpochCurves, rule: EarlyStopping, trial: str, window: str,
              curve: Mapping[int, float]) -> str | None:
        epoch = max(curve, default=0)
        if epoch < rule.grace_epochs:
            return None
        mine = best_so_far(curve, epoch)
        finished, live = curves.peers(trial, window, epoch)
        count = len(finished) + len(live)
        if mine is None or count < rule.min_trials:
            return None
        median = _median(finished, live)
        if mine > median:
            sign = curves.sign
            return (f"stopped at epoch {epoch}: best {sign * mine:.6g} is worse than "
                    f"the median {sign * median:.6g} of {count} trials of its window "
                    "at that epoch")
        return None


class AshaRule(StoppingRule):
    """Successive halving: at each rung epoch only the best 1/``reductionFactor`` of the
    window's trials that reached it go on (asynchronous: judged as trials arrive)."""

    name = "asha"

    def judge(self, curves: EpochCurves, rule: EarlyStopping, trial: str, window: str,
              curve: Mapping[int, float]) -> str | None:
        epoch = max(curve, default=0)
        for rung in reversed(_rungs(rule, epoch)):
            mine = best_so_far(curve, rung)
            finished, live = curves.peers(trial, window, rung)
            count = len(finished) + len(live)
            if mine is None or count < rule.min_trials:
                continue
            better = bisect.bisect_left(finished, mine) + sum(1 for v in live if v < mine)
            keep = max(1, (count + 1) // rule.reduction_factor)
            if better >= keep:
                return (f"stopped at rung epoch {rung}: {better} of {count} trials of its "
                        f"window were better there, and only the best {keep} go on")
            return None  # judged at its highest rung: it goes on
        return None


#: The stopping rules by ``search.earlyStopping.rule``.
RULES: Mapping[str, StoppingRule] = {r.name: r for r in (MedianRule(), AshaRule())}
