"""Warm start of a recurring sweep's run: what the previous runs hand on to the next.

* **Seeds**: the previous runs' best configurations, the last champion first, then the
  previous run's ranking, then earlier champions (``search.warmStart.keep`` of them, 5
  by default). They enter the run's plan first whatever the algorithm
  (:func:`with_seeds`), within ``maxConfigs``, so last month's winner is measured on
  this month's windows from the start; with racing they race like the others.
* **Prior results** for tpe: the previous runs' rows, with window ids replaced by the
  windows' dates (so the same months line up across runs and their shifts are taken
  out by the same least-squares fit tpe uses today) and configuration ids prefixed by
  their run.

A previous configuration is a seed only if it is a point of the current search space (a
value the list has, a number in the range): a changed space must not smuggle in
configurations the user removed. Pure: the runs' rows are read at the edge.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

from ..records.results import ParamValue, ResultRow
from ..records.reuse import params_key, read_back
from ..spec.parse import Parameter, Spec
from .tpe import config_levels

#: Runs whose results tpe learns from (the newest ones): enough to learn the space's
#: shape, few enough that months long gone do not outweigh the current ones.
PRIOR_RUNS = 6


def _in_space(params: Mapping[str, ParamValue], parameters: Sequence[Parameter]
              ) -> dict[str, ParamValue] | None:
    """``params`` as values of the current space, or None if it is not a point of it."""
    if set(params) != {p.name for p in parameters}:
        return None
    out: dict[str, ParamValue] = {}
    for p in parameters:
        value = params[p.name]
        if p.values is not None:
            matches = [v for v in p.values if read_back(v) == read_back(value)]
            if not matches:
                return None
            out[p.name] = matches[0]
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        assert p.min is not None and p.max is not None
        if not p.min <= float(value) <= p.max or not math.isfinite(float(value)):
            return None
        if p.type == "int":
            if float(value) != int(value):
                return None
            out[p.name] = int(value)
        else:
            out[p.name] = float(value)
    return out


def ranked_configs(rows: Sequence[ResultRow], metric: str, goal: str
                   ) -> list[Mapping[str, ParamValue]]:
    """A run's configurations, best first, by level (window shifts taken out).

    Only configurations whose every trial succeeded are ranked (a failing one is no
    seed); racing's partial configurations are ranked by their level like tpe does.
    """
    sign = 1.0 if goal == "minimize" else -1.0
    values: dict[tuple[str, str], float] = {}
    broken: set[str] = set()
    params: dict[str, Mapping[str, ParamValue]] = {}
    for r in rows:
        value = r.metrics.get(metric)
        if r.status == "stopped":
            continue
        if r.status != "succeeded" or value is None or not math.isfinite(value):
            broken.add(r.config)
            continue
        values[r.config, r.window] = sign * value
        params[r.config] = r.params
    levels = {c: v for c, v in config_levels(values).items() if c not in broken}
    return [params[c] for c in sorted(levels, key=lambda c: (levels[c], c))]


def choose_seeds(champion: Mapping[str, ParamValue] | None,
                 previous_ranking: Sequence[Mapping[str, ParamValue]],
                 earlier_champions: Sequence[Mapping[str, ParamValue]], keep: int,
                 parameters: Sequence[Parameter]) -> tuple[dict[str, ParamValue], ...]:
    """The run's seeds: the champion, the previous run's best, earlier champions.

    Args:
        champion: the champion after the previous run (None on a first run).
        previous_ranking: the previous run's configurations, best first.
        earlier_champions: the champions of older runs, newest first.
        keep: how many seeds at most (``search.warmStart.keep``).
        parameters: the current search space (seeds outside it are dropped).
    """
    seeds: list[dict[str, ParamValue]] = []
    seen: set[str] = set()
    candidates: Iterable[Mapping[str, ParamValue] | None] = itertools.chain(
        [champion], previous_ranking, earlier_champions)
    for candidate in candidates:
        if len(seeds) >= keep:
            break
        if candidate is None:
            continue
        point = _in_space(candidate, parameters)
        if point is None or params_key(point) in seen:
            continue
        seen.add(params_key(point))
        seeds.append(point)
    return tuple(seeds)


def with_seeds(seeds: Sequence[Mapping[str, ParamValue]],
               configs: Iterable[Mapping[str, ParamValue]], limit: int | None
               ) -> Iterator[Mapping[str, ParamValue]]:
    """The seeds first, then ``configs`` without the seeds, ``limit`` in all (None: all)."""
    seen = {params_key(s) for s in seeds}
    out = itertools.chain(seeds, (c for c in configs if params_key(c) not in seen))
    return itertools.islice(out, limit)


def prior_rows(runs: Sequence[tuple[str, Sequence[ResultRow]]]) -> tuple[ResultRow, ...]:
    """The previous runs' rows as tpe learns from them (the newest :data:`PRIOR_RUNS`).

    Reused rows are left out: the run that trained them has them already.
    """
    out: list[ResultRow] = []
    for run, rows in sorted(runs)[-PRIOR_RUNS:]:
        out.extend(dataclasses.replace(r, config=f"{run}/{r.config}",
                                       window=f"{r.window_start}..{r.window_end}")
                   for r in rows if not r.reused_from)
    return tuple(out)


def dated(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """Rows with their window ids replaced by their dates (to line up with the prior)."""
    return [dataclasses.replace(r, window=f"{r.window_start}..{r.window_end}") for r in rows]


def carry_over(spec: Spec, seeds: Sequence[Mapping[str, ParamValue]],
               prior: Sequence[ResultRow]) -> Spec:
    """The run's spec: the sweep's, with its seeds and (tpe only) prior results pinned."""
    return dataclasses.replace(spec, seeds=tuple(dict(s) for s in seeds),
                               prior=tuple(prior) if spec.algorithm == "tpe" else ())
