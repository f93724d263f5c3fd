"""A recurring sweep's runs: what one run starts from and what it leaves behind.

A sweep with ``spec.schedule`` runs once per slot (core/spec/schedule.py). Each run is a sweep
of its own, ``<name>-<run>`` (``ctr-mlp-2026-07-01``), with its windows resolved against
the slot's date, its results in ``<results>/<namespace>/<name>/runs/<run>/``, and three
things from the runs before it:

* warm-start seeds (core/search/warm_start.py): the champion and the previous best configurations
  enter its plan first; tpe learns from their results too;
* reuse (core/records/reuse.py): a trial an earlier run trained on the same window, data and
  trainer is copied instead of trained;
* the champion it is judged against (core/recurring/verdict.py), whose verdict becomes its row of
  ``history.csv`` (core/recurring/history.py).

Both executors and the known-truth benchmark go through :func:`start_run` and
:func:`finish_run`, so what is measured is what runs. Pure: the earlier runs' rows, the
data fingerprints and the history are read at the edge and passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..planning.planner import Trial
from ..records.results import ParamValue, ResultRow
from ..records.reuse import ReuseContext, ReuseIndex, reuse_counts
from ..search.warm_start import carry_over, choose_seeds, prior_rows, ranked_configs
from ..spec.parse import DateWindow, Sweep
from .history import HistoryRow, champion_before, earlier_champions, history_row

RUNS_FOLDER = "runs"
HISTORY_CSV = "history.csv"
REUSE_JSON = "reuse.json"
WARM_START_JSON = "warm-start.json"
#: ``<name>-<run>`` must stay a DNS label (63 characters); a run id is 10.
MAX_RECURRING_NAME = 63 - 11


@dataclass(frozen=True)
class EarlierRun:
    """A finished earlier run: what it was trained with, and its rows."""

    context: ReuseContext
    rows: tuple[ResultRow, ...]


@dataclass(frozen=True)
class RunStart:
    """What a run starts from.

    Attributes:
        run: the run's id (its slot's date).
        sweep: the run's sweep, ``<name>-<run>``, with its seeds (and prior) pinned.
        context: what its trials are trained with (recorded as ``reuse.json``).
        champion: the champion its winner is judged against (None on a first run).
        index: the earlier runs' trials to reuse (None: reuse is off).
    """

    run: str
    sweep: Sweep
    context: ReuseContext
    champion: Mapping[str, ParamValue] | None
    index: ReuseIndex | None

    @property
    def lookup(self) -> Callable[[Trial], ResultRow | None] | None:
        """:meth:`reuse` when reuse is on, else None (every trial is trained)."""
        return self.reuse if self.index is not None else None

    def reuse(self, trial: Trial) -> ResultRow | None:
        """The trial's row copied from an earlier run, or None to train it."""
        if self.index is None:
            return None
        return self.index.find(self.context, self.sweep.key, trial.id, trial.config,
                               trial.window, trial.params)


def run_sweep(sweep: Sweep, run: str) -> Sweep:
    """The run's own sweep: named ``<name>-<run>``, its spec the recurring one's."""
    return dataclasses.replace(sweep, name=f"{sweep.name}-{run}")


def choose_run_seeds(sweep: Sweep, run: str, history: Sequence[HistoryRow],
                     earlier: Sequence[EarlierRun]) -> tuple[dict[str, ParamValue], ...]:
    """The seeds of a run (none without ``search.warmStart``): pinned once, at its start."""
    warm = sweep.spec.warm_start
    if warm is None or warm.keep == 0:
        return ()
    before = sorted((e for e in earlier if e.context.run < run), key=lambda e: e.context.run)
    ranking = (ranked_configs(before[-1].rows, sweep.spec.objective_metric,
                              sweep.spec.objective_goal) if before else [])
    return choose_seeds(champion_before(history, run), ranking,
                        earlier_champions(history, run), warm.keep, sweep.spec.parameters)


def start_run(sweep: Sweep, run: str, windows: Sequence[DateWindow],
              history: Sequence[HistoryRow], earlier: Sequence[EarlierRun],
              seeds: Sequence[Mapping[str, ParamValue]], trainer: str,
              fingerprints: Mapping[str, str], reuse: bool = True) -> RunStart:
    """What run ``run`` of ``sweep`` starts from.

    Args:
        windows: the run's pinned windows.
        history: the history so far (runs after ``run`` are ignored).
        earlier: the finished earlier runs.
        seeds: the run's pinned seeds (:func:`choose_run_seeds` on its first start).
        trainer: :func:`tuningsweep.core.records.reuse.trainer_identity` of this run.
        fingerprints: the data fingerprint of each window, by window id.
        reuse: reuse earlier trials (``--no-reuse`` and ``warmStart.reuse: false`` turn
            it off).
    """
    before = [e for e in earlier if e.context.run < run]
    spec = sweep.spec
    if spec.warm_start is not None:
        prior = prior_rows([(e.context.run, e.rows) for e in before])
        spec = carry_over(spec, seeds, prior)
    context = ReuseContext(run, trainer, dict(fingerprints), tuple(windows))
    enabled = reuse and (spec.warm_start is None or spec.warm_start.reuse)
    index = ReuseIndex((e.context, e.rows) for e in before) if enabled else None
    return RunStart(run, dataclasses.replace(run_sweep(sweep, run), spec=spec), context,
                    champion_before(history, run), index)


def finish_run(start: RunStart, rows: Sequence[ResultRow], windows: Sequence[DateWindow]
               ) -> HistoryRow:
    """The history row of a run that is over: its winner and the verdict."""
    # The statistics (numpy) load once the run is over, not before its first trial.
    from ..planning.racing_summary import summarize_sweep
    from .verdict import judge

    summary = summarize_sweep(start.sweep, rows, windows=windows)
    verdict = judge(summary, start.champion)
    return history_row(start.run, [f"{w.start}..{w.end}" for w in windows], verdict,
                       reuse_counts(rows))
