"""Model-based search with Optuna's TPE sampler, replayed from the results so far.

The planner stays a pure function of (spec, results): configurations are asked in
batches of ``search.batchSize``; batch ``b`` is asked once every configuration of the
earlier batches has a value, from a fresh in-memory study into which those values are
replayed (``study.add_trial``, in configuration order) and whose sampler is seeded by
the sweep's seed and the batch number. Adding finished trials does not draw from the
sampler's random state, so the same results give the same configurations on any
machine and after any restart of the runner or the operator. Within a batch the
sampler's ``constant_liar`` keeps the asked-but-unfinished configurations apart, so a
batch has no duplicates. A batch whose configurations have all run is not asked again
at all: its rows recorded what was asked (:func:`recorded_batch`), so a restarted
executor asks only the batch still running, instead of replaying every batch.

What the sampler learns from must be comparable between configurations that ran on
different windows (racing gives contenders more windows and stops the rest after one):
windows differ a lot in level, and "ran only on an easy month" must not look like "is
good". Each configuration's value is its level in the additive model ``value = level of
the configuration + shift of the window + noise`` fitted by least squares to every
result, so the window shifts are estimated from the configurations that share windows
and taken out.

Optuna is imported only when a sweep uses ``tpe``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..records.naming import config_id
from ..records.results import ResultRow, format_value, parse_value
from ..spec.parse import Parameter, ParamValue, Spec


def config_levels(values: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """Each configuration's level once window shifts are taken out (least squares).

    ``values`` maps (configuration, window) to the objective, lower is better. A
    configuration sharing no window with the others is still given a level: its mean
    less the shifts estimated elsewhere (zero for a window nobody else ran).
    """
    import numpy as np  # only sweeps that use tpe pay for it

    configs = sorted({c for c, _ in values})
    windows = sorted({w for _, w in values})
    if not configs:
        return {}
    ci = {c: i for i, c in enumerate(configs)}
    wi = {w: i for i, w in enumerate(windows)}
    # Unknowns: a level per configuration and a shift per window but the first (its
    # shift is the reference, zero), which makes the system identifiable.
    design = np.zeros((len(values), len(configs) + len(windows) - 1))
    target = np.zeros(len(values))
    for row, ((c, w), value) in enumerate(sorted(values.items())):
        design[row, ci[c]] = 1.0
        if wi[w] > 0:
            design[row, len(configs) + wi[w] - 1] = 1.0
        target[row] = value
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return {c: float(solution[ci[c]]) for c in configs}


def _distribution(p: Parameter) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if p.values is not None:
        return CategoricalDistribution(list(p.values))
    assert p.min is not None and p.max is not None
    if p.type == "int":
        return IntDistribution(math.ceil(p.min), math.floor(p.max), log=p.scale == "log")
    return FloatDistribution(p.min, p.max, log=p.scale == "log")


def _oriented_values(rows: Sequence[ResultRow], spec: Spec) -> dict[tuple[str, str], float]:
    sign = 1.0 if spec.objective_goal == "minimize" else -1.0
    out: dict[tuple[str, str], float] = {}
    for r in rows:
        value = r.metrics.get(spec.objective_metric)
        if r.status == "succeeded" and value is not None and math.isfinite(value):
            out[r.config, r.window] = sign * value
    return out


def ask_batch(spec: Spec, batch: int, earlier: Sequence[tuple[str, Mapping[str, ParamValue]]],
              rows: Sequence[ResultRow], size: int) -> list[dict[str, ParamValue]]:
    """The ``size`` configurations of batch ``batch``, given the earlier ones' results.

    Args:
        earlier: (config id, params) of every configuration of the earlier batches.
        rows: their results (configurations without a value are left out: a failed
            configuration teaches the sampler nothing it can rank).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {p.name: _distribution(p) for p in spec.parameters}
    sampler = optuna.samplers.TPESampler(
        seed=(spec.seed * 1_000_003 + batch) % (2**32), constant_liar=True,
        n_startup_trials=min(10, max(2, spec.max_configs or 10) // 2))
    study = optuna.create_study(sampler=sampler, direction="minimize")
    levels = config_levels(_oriented_values(rows, spec))
    for config, params in earlier:
        if config in levels:
            study.add_trial(optuna.trial.create_trial(
                params=dict(params), distributions=distributions, value=levels[config]))
    asked = [study.ask(distributions) for _ in range(size)]
    return [dict(trial.params) for trial in asked]


def recorded_batch(spec: Spec, first: int, count: int,
                   params_of: Mapping[str, Mapping[str, ParamValue]],
                   ) -> list[dict[str, ParamValue]] | None:
    """Configurations ``first .. first + count - 1`` as their rows recorded them, or None
    unless every one of them has a row whose values are plainly what was asked.

    Asking a batch again after a restart replays every earlier configuration into a new
    study (over half a second per configuration at 1,000 results on a two-core machine,
    for each batch); a batch whose configurations have all run is already written down.
    The rows hold what was asked: numbers round-trip exactly, and a categorical value is
    mapped back to the one spec choice that reads back the same (results.csv reads
    ``true`` back as ``1`` and the string ``"1e-3"`` as ``0.001``). Where that is not
    certain (two choices that read back alike, an empty choice, a missing value) the
    batch is asked again, as before. So the plan is the same, and stays what actually
    ran even if a new Optuna would now ask differently.
    """
    parameters = {p.name: p for p in spec.parameters}
    found = []
    for index in range(first, first + count):
        recorded = params_of.get(config_id(index))
        if recorded is None or recorded.keys() != parameters.keys():
            return None
        config = {}
        for name, value in recorded.items():
            asked = _as_asked(parameters[name], value)
            if asked is None:
                return None
            config[name] = asked
        found.append(config)
    return found


def _read_back(value: ParamValue) -> str:
    """What ``value`` is once written to results.csv and read back (as text)."""
    return format_value(parse_value(format_value(value)))


def _as_asked(p: Parameter, value: ParamValue) -> ParamValue | None:
    """The value the sampler gave for ``p``, from what a row holds (None: not certain)."""
    if p.values is not None:
        text = _read_back(value)
        matches = [v for v in p.values if _read_back(v) == text]
        return matches[0] if len(matches) == 1 else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if p.type == "int":
        return value if isinstance(value, int) else None
    return float(value)


_CACHE: dict[tuple[Any, ...], list[dict[str, ParamValue]]] = {}
_CACHE_SIZE = 256


def cached_batch(spec: Spec, batch: int,
                 earlier: Sequence[tuple[str, Mapping[str, ParamValue]]],
                 rows: Sequence[ResultRow], size: int) -> list[dict[str, ParamValue]]:
    """:func:`ask_batch`, remembered by its inputs.

    The planner replays every batch on every decision; a batch whose inputs did not
    change is asked once per process, not once per finished trial. Memoisation only:
    the answer is the same either way.
    """
    ids = {c for c, _ in earlier}
    values = _oriented_values([r for r in rows if r.config in ids], spec)
    key = (repr(spec.parameters), spec.seed, spec.max_configs, spec.objective_metric,
           spec.objective_goal, batch, size,
           tuple((c, tuple(sorted(p.items()))) for c, p in earlier),
           tuple(sorted(values.items())))
    found = _CACHE.get(key)
    if found is None:
        found = ask_batch(spec, batch, earlier, rows, size)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = found
    return [dict(p) for p in found]
