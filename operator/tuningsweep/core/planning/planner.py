"""The planner: a pure function from (spec, windows, results so far) to trials.

Both executors (local processes and Kubernetes Jobs) call :func:`plan_trials` and run
whatever it returns that has no result yet; neither keeps its own idea of what a sweep
is. Because the planner sees results, staged algorithms fit the same loop: auto mode
returns only its first stage until every trial of that stage has a result, then the
next stage with the best learning-rate values fixed. Same inputs, same trials, on any
machine.

Trials are ordered configuration-major (``c0000-w0, c0000-w1, c0001-w0, ...``) so the
first configurations complete on every window early and the leaderboard fills in while
the sweep runs.
"""

from __future__ import annotations

import functools
import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

from ..records import naming
from ..records.results import ResultRow
from ..search.racing import Elimination, race_order, regular_count, run_race
from ..search.spaces import auto_stages, grid_configs, random_configs, stage_configs
from ..search.tpe import cached_batch, recorded_batch
from ..search.warm_start import dated, with_seeds
from ..spec import presets
from ..spec.parse import DateWindow, ParamValue, Spec


class Trial(NamedTuple):
    """One configuration trained on one window.

    A NamedTuple rather than a frozen dataclass: plans of tens of thousands of trials are
    built on every reconcile, and tuple construction is several times cheaper.
    """

    id: str
    config: str
    window: DateWindow
    params: Mapping[str, ParamValue]
    stage: int = 0


@dataclass(frozen=True)
class Plan:
    """The trials known so far.

    Attributes:
        trials: every trial of the stages planned so far, finished or not.
        stage: the latest stage planned (0-based; always 0 for grid and random).
        final: no further stage will be added, whatever the results.
        configs: number of configurations in ``trials``.
        eliminated: configurations racing took out of the race, and why.
    """

    trials: tuple[Trial, ...]
    stage: int
    final: bool
    configs: int
    eliminated: Mapping[str, Elimination] = field(default_factory=dict)

    @functools.cached_property
    def by_id(self) -> Mapping[str, Trial]:
        """The trials by id (built once per plan: a final plan lives for the whole sweep)."""
        return {t.id: t for t in self.trials}

    def pending(self, done: Iterable[str]) -> list[Trial]:
        """The trials without a result among ``done`` trial ids, in plan order."""
        finished = set(done)
        return [t for t in self.trials if t.id not in finished]


def _expand(
    configs: Iterable[Mapping[str, ParamValue]], windows: Sequence[DateWindow], first: int,
    stage: int,
) -> Iterator[Trial]:
    for offset, params in enumerate(configs):
        config = naming.config_id(first + offset)
        for window in windows:
            yield Trial(f"{config}-{window.id}", config, window, params, stage)


def best_config_params(
    rows: Iterable[ResultRow], metric: str, goal: str, configs: set[str] | None = None
) -> Mapping[str, ParamValue] | None:
    """The params of the configuration with the best mean objective over its windows.

    Only configurations whose every trial succeeded with a value are eligible; returns
    None when none is.
    """
    values: dict[str, list[float]] = {}
    params: dict[str, Mapping[str, ParamValue]] = {}
    broken: set[str] = set()
    for r in rows:
        if configs is not None and r.config not in configs:
            continue
        value = r.metrics.get(metric)
        if r.status != "succeeded" or value is None or not math.isfinite(value):
            broken.add(r.config)
            continue
        values.setdefault(r.config, []).append(value)
        params[r.config] = r.params
    means = {c: statistics.fmean(v) for c, v in values.items() if c not in broken}
    if not means:
        return None
    sign = 1.0 if goal == "minimize" else -1.0
    best = min(sorted(means), key=lambda c: sign * means[c])
    return params[best]


def plan_trials(
    spec: Spec, windows: Sequence[DateWindow], results: Iterable[ResultRow] = ()
) -> Plan:
    """Return the trials of ``spec`` over ``windows`` given the results so far."""
    return algorithm_of(spec).plan(spec, windows, list(results))


def _settled(stage: _Stage, rows: Sequence[ResultRow], first_window: str | None) -> bool:
    """Whether every configuration of the stage so far has taught the sampler something.

    Without racing: every planned trial has a result. With racing, a configuration's
    result on the race's first window is enough: the race may keep it going for long.
    """
    done = {r.trial for r in rows}
    if first_window is None:
        return all(t.id in done for t in stage.trials)
    configs = {t.config for t in stage.trials}
    return all(f"{c}-{first_window}" in done for c in configs)


def _plan_tpe(spec: Spec, windows: Sequence[DateWindow], rows: list[ResultRow]) -> Plan:
    """Batches of configurations from the TPE sampler (see :mod:`.search_tpe`)."""
    total = spec.max_configs or 1
    size = spec.batch_size
    first_window = race_order(windows)[0].id if spec.racing is not None and windows else None
    # A batch learns from what the earlier configurations had when it was first asked,
    # so that replaying it later gives the same configurations: with racing, their
    # results on the race's first window (every configuration runs it; contenders' later
    # windows come after); without, all their results (they are complete by then).
    learn = rows if first_window is None else [r for r in rows if r.window == first_window]
    # A recurring sweep's run learns from the previous runs' results too: windows are
    # then named by their dates so the same months line up across runs.
    prior_configs: list[tuple[str, Mapping[str, ParamValue]]] = []
    if spec.prior:
        prior = [r for r in spec.prior if isinstance(r, ResultRow)]
        prior_configs = list({r.config: r.params for r in prior}.items())
        learn = [*prior, *dated(learn)]
    params_of = {r.config: r.params for r in rows}
    configs: list[Mapping[str, ParamValue]] = list(spec.seeds[:total])
    batch = 0
    if configs and len(configs) < total:
        # The seeds run first: the sampler is asked once it has their results.
        seeded = _plan_stage(spec, configs, windows, rows, 0, 0)
        if not _settled(seeded, rows, first_window):
            return seeded.plan(False)
    while True:
        count = min(size, total - len(configs))
        if count <= 0:
            return _plan_stage(spec, configs, windows, rows, 0, 0).plan(True)
        recorded = recorded_batch(spec, len(configs), count, params_of)
        if recorded is None:  # not all run yet: ask (once per process, then cached)
            earlier = [*prior_configs,
                       *((naming.config_id(i), p) for i, p in enumerate(configs))]
            recorded = cached_batch(spec, batch, earlier, learn, count)
        configs.extend(recorded)
        stage = _plan_stage(spec, configs, windows, rows, 0, 0)
        if len(configs) >= total:
            return stage.plan(True)
        if not _settled(stage, rows, first_window):
            return stage.plan(False)
        batch += 1


@dataclass
class _Stage:
    """One stage's trials: every window for each configuration, or as racing decides."""

    trials: list[Trial]
    stage: int
    configs: int
    final: bool  # no more trials will be added to this stage
    complete: bool  # final, and every trial has a result
    contenders: set[str]  # configurations that may win the stage
    eliminated: dict[str, Elimination]

    def plan(self, last: bool) -> Plan:
        return Plan(tuple(self.trials), self.stage, self.final and last, self.configs,
                    self.eliminated)


def _plan_stage(spec: Spec, configs: Sequence[Mapping[str, ParamValue]],
                windows: Sequence[DateWindow], rows: Sequence[ResultRow], first: int,
                stage: int) -> _Stage:
    ids = [naming.config_id(first + i) for i in range(len(configs))]
    if spec.racing is None:
        trials = list(_expand(configs, windows, first, stage))
        done = {r.trial for r in rows}
        return _Stage(trials, stage, len(configs), True, all(t.id in done for t in trials),
                      set(ids), {})
    regular = regular_count(spec.racing, windows,
                            spec.rolling.count if spec.rolling is not None else None)
    ours = set(ids)
    race = run_race(list(zip(ids, configs, strict=True)), windows,
                    [r for r in rows if r.config in ours], spec.racing, regular,
                    spec.objective_metric, spec.objective_goal)
    params = dict(zip(ids, configs, strict=True))
    # Window-major: every racer on the newest window first, then the survivors on the next.
    depth = max((len(v) for v in race.windows.values()), default=0)
    trials = [Trial(f"{c}-{race.windows[c][k].id}", c, race.windows[c][k], params[c], stage)
              for k in range(depth) for c in ids if len(race.windows[c]) > k]
    # The race is final only once every racer has its results on its last window.
    return _Stage(trials, stage, len(configs), race.final, race.final, set(race.alive),
                  dict(race.eliminated))


def _plan_auto(spec: Spec, windows: Sequence[DateWindow], results: list[ResultRow]) -> Plan:
    stages = auto_stages(spec.architecture, spec.parameters, spec.max_configs or 2)
    trials: list[Trial] = []
    eliminated: dict[str, Elimination] = {}
    fixed: Mapping[str, ParamValue] = {}
    first = 0
    for stage in stages:
        configs: list[Mapping[str, ParamValue]] = list(stage_configs(stage, spec.seed, fixed))
        if stage.index == 0 and spec.seeds:
            # Warm start: the seeds join the first stage (on top of its own points), so
            # a previous champion can win it and fix its learning-rate group.
            configs = list(with_seeds(spec.seeds, configs, None))
        planned = _plan_stage(spec, configs, windows, results, first, stage.index)
        trials.extend(planned.trials)
        eliminated.update(planned.eliminated)
        first += len(configs)
        last = stage.index == len(stages) - 1
        if last or not planned.complete:
            return Plan(tuple(trials), stage.index, last and planned.final, first, eliminated)
        best = best_config_params(results, spec.objective_metric, spec.objective_goal,
                                  planned.contenders)
        group = {p.name for p in stage.parameters}
        if best is None:
            # No configuration of the stage succeeded everywhere: carry on from the
            # trainer's defaults rather than from a half-measured winner.
            best = {k: v for k, v in presets.defaults(spec.architecture).items() if k in group}
        fixed = {**fixed, **{k: v for k, v in best.items() if k in group}}
    return Plan(tuple(trials), len(stages) - 1, True, first, eliminated)


def count_trials(spec: Spec, windows: Sequence[DateWindow]) -> tuple[int, int]:
    """(configurations, trials) the sweep will run in total, auto stages included.

    With racing the total depends on the results; this counts every configuration on
    the regular windows (racing runs fewer, its contenders' extra windows aside).
    """
    configs = algorithm_of(spec).total_configs(spec, windows)
    per_config = len(windows)
    if spec.racing is not None:
        per_config = regular_count(spec.racing, windows,
                                   spec.rolling.count if spec.rolling is not None else None)
    return configs, configs * per_config


def adaptive_note(spec: Spec, windows: Sequence[DateWindow]) -> str:
    """How the plan grows with the results ("" when it is fixed from the start)."""
    notes = []
    note = algorithm_of(spec).note(spec)
    if note:
        notes.append(note)
    if spec.racing is not None:
        regular = regular_count(spec.racing, windows,
                                spec.rolling.count if spec.rolling is not None else None)
        order = [w.id for w in race_order(windows)]
        extra = order[regular:]
        notes.append(
            f"racing: every configuration on {order[0]} first; after each window the best "
            f"{spec.racing.keep_fraction:.0%} go on (and the significantly behind stop)"
            + (f"; after {regular} windows, contenders get up to {len(extra)} more "
               f"({', '.join(extra)})" if extra else ""))
    return "; ".join(notes)


class SearchAlgorithm(ABC):
    """How a sweep's configurations are chosen: one subclass per ``search.algorithm``.

    Every algorithm hands its configurations to the same stage machinery (windows,
    racing, plan order), so what differs is only where configurations come from and
    whether the results so far shape them.
    """

    #: The ``search.algorithm`` value that selects it.
    name: ClassVar[str]

    @abstractmethod
    def plan(self, spec: Spec, windows: Sequence[DateWindow],
             rows: list[ResultRow]) -> Plan:
        """The trials known so far, given every row so far."""

    def total_configs(self, spec: Spec, windows: Sequence[DateWindow]) -> int:
        """How many configurations the sweep will try in all."""
        return self.plan(spec, windows, []).configs

    def note(self, spec: Spec) -> str:
        """How the plan grows with the results ("" when the configurations are fixed)."""
        return ""

    @staticmethod
    def _race_rows(spec: Spec, rows: list[ResultRow]) -> list[ResultRow]:
        # Only racing looks at the results of a fixed set of configurations.
        return rows if spec.racing is not None else []


class GridSearch(SearchAlgorithm):
    """Every combination of the value lists, in a seeded order, up to ``maxConfigs``."""

    name = "grid"

    def plan(self, spec: Spec, windows: Sequence[DateWindow],
             rows: list[ResultRow]) -> Plan:
        # A recurring sweep's warm start: its seeds come first, within maxConfigs.
        seeds = spec.seeds
        configs = list(with_seeds(seeds, grid_configs(
            spec.parameters, spec.seed, None if seeds else spec.max_configs),
            spec.max_configs))
        return _plan_stage(spec, configs, windows, self._race_rows(spec, rows), 0, 0).plan(True)


class RandomSearch(SearchAlgorithm):
    """``maxConfigs`` seeded draws from the parameters' values and ranges."""

    name = "random"

    def plan(self, spec: Spec, windows: Sequence[DateWindow],
             rows: list[ResultRow]) -> Plan:
        seeds = spec.seeds
        limit = spec.max_configs or 1
        configs = list(with_seeds(seeds, random_configs(
            spec.parameters, spec.seed, limit + len(seeds)), limit))
        return _plan_stage(spec, configs, windows, self._race_rows(spec, rows), 0, 0).plan(True)


class TpeSearch(SearchAlgorithm):
    """Batches from Optuna's TPE sampler, each learning from the results before it."""

    name = "tpe"

    def plan(self, spec: Spec, windows: Sequence[DateWindow],
             rows: list[ResultRow]) -> Plan:
        return _plan_tpe(spec, windows, rows)

    def total_configs(self, spec: Spec, windows: Sequence[DateWindow]) -> int:
        return spec.max_configs or 1

    def note(self, spec: Spec) -> str:
        return (f"tpe: {spec.max_configs} configurations, asked {spec.batch_size} at a "
                "time from the results so far")


class AutoSearch(SearchAlgorithm):
    """The architecture's built-in ranges in stages, the learning-rate group first."""

    name = "auto"

    def plan(self, spec: Spec, windows: Sequence[DateWindow],
             rows: list[ResultRow]) -> Plan:
        return _plan_auto(spec, windows, rows)

    def total_configs(self, spec: Spec, windows: Sequence[DateWindow]) -> int:
        return sum(s.configs for s in auto_stages(
            spec.architecture, spec.parameters, spec.max_configs or 2))

    def note(self, spec: Spec) -> str:
        return "auto mode: the second stage follows the first stage's results"


#: The search algorithms by ``search.algorithm``.
ALGORITHMS: Mapping[str, SearchAlgorithm] = {
    a.name: a for a in (GridSearch(), RandomSearch(), TpeSearch(), AutoSearch())}


def algorithm_of(spec: Spec) -> SearchAlgorithm:
    """The search algorithm ``spec`` names."""
    return ALGORITHMS[spec.algorithm]
