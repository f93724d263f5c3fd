"""Parsing the sections of a spec that need more than the schema: the cross-field rules.

Each function takes a schema-checked section and reports problems through ``err`` with
the field's path and the fix, as :func:`tuningsweep.core.spec.parse.build_spec` collects them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from . import api, presets
from .model import Budget, EarlyStopping, Parameter, Racing, Rolling, WarmStart
from .schedule import ScheduleError, parse_schedule

Err = Callable[..., None]

def early_stopping_section(raw: dict[str, Any] | None) -> EarlyStopping | None:
    if raw is None:
        return None
    return EarlyStopping(rule=raw["rule"], grace_epochs=raw["graceEpochs"],
                         min_trials=raw["minTrials"], reduction_factor=raw["reductionFactor"])


def warm_start_section(raw: dict[str, Any] | None, schedule: str | None,
                       err: Err) -> WarmStart | None:
    """``spec.schedule`` checked, and ``search.warmStart`` with its defaults.

    A recurring sweep reuses earlier trials unless ``warmStart.reuse`` is false, with or
    without ``warmStart`` (reuse changes what is trained, never what is measured);
    carrying configurations over is what ``warmStart`` itself turns on.
    """
    if schedule is not None:
        try:
            parse_schedule(schedule)
        except ScheduleError as exc:
            err("schedule", f"{schedule!r} {exc}",
                "use a 5-field cron expression in UTC, e.g. '0 6 1 * *' (06:00 on the "
                "first of every month)")
    if raw is None:
        return None
    if schedule is None:
        err("search.warmStart", "carries configurations over from earlier runs, and this "
            "sweep has no runs: it is not recurring",
            "add spec.schedule (e.g. '0 6 1 * *'), or remove search.warmStart")
        return None
    return WarmStart(keep=raw["keep"], reuse=raw["reuse"])


def budget_section(raw: dict[str, Any] | None) -> Budget | None:
    if not raw:
        return None
    return Budget(gpu_hours=raw.get("gpuHours"), trial_hours=raw.get("trialHours"))


def check_fast_without_fast_mode(raw: dict[str, Any], err: Err) -> None:
    """Refuse ``spec.fast`` settings that would be ignored (mode is not fast).

    Compared with the schema's defaults rather than by the field's presence: the CRD
    writes the defaults into every sweep on a cluster, and a default ``fast`` changes
    nothing, whereas ``fast: {maxEpochs: 8}`` in full mode is a user expecting 8 epochs.
    """
    if raw["mode"] == "fast":
        return
    default = api.SPEC.properties["fast"].default
    changed = sorted(k for k, v in raw["fast"].items() if default.get(k) != v)
    if changed:
        err("fast", f"{', '.join(f'fast.{k}' for k in changed)} is set but spec.mode is "
            f"{raw['mode']!r}, so it would be ignored",
            "add mode: fast to train on one window with capped epochs, or remove spec.fast")


RACING_EXTRA_WINDOWS = 3  # rolling: maxWindows defaults to count + 3


def racing_section(raw: dict[str, Any] | None, mode: str, rolling: Rolling | None,
            ranges: tuple[tuple[dt.date, dt.date], ...], err: Err) -> Racing | None:
    """The racing settings with their defaults, checked against the windows."""
    if raw is None:
        return None
    if mode == "fast":
        err("search.racing", "needs several windows, and fast mode trains on one",
            "remove search.racing, or use mode: full")
        return None
    alpha, keep = raw["alpha"], raw["keepFraction"]
    if not 0.0 < alpha < 1.0:
        err("search.racing.alpha", f"{alpha} is not between 0 and 1", "use e.g. 0.05")
    if not 0.0 < keep < 1.0:
        err("search.racing.keepFraction", f"{keep} is not between 0 and 1",
            "use e.g. 0.34 (a third of the configurations go on after each window)")
    if rolling is not None:
        max_windows = raw.get("maxWindows", rolling.count + RACING_EXTRA_WINDOWS)
        if max_windows < rolling.count:
            err("search.racing.maxWindows", f"{max_windows} is fewer than the "
                f"{rolling.count} windows of windows.rolling.count",
                f"set it to {rolling.count} or more (extra windows go to contenders)")
    else:
        max_windows = raw.get("maxWindows", len(ranges))
        if max_windows > len(ranges):
            err("search.racing.maxWindows", f"{max_windows} is more than the "
                f"{len(ranges)} windows.ranges given", "with ranges, the given ranges are "
                "the limit: add ranges or lower maxWindows")
    return Racing(alpha=alpha, max_windows=max_windows, keep_fraction=keep)




def parameters_section(
    raw: dict[str, Any], algorithm: str, architecture: str, err: Err
) -> tuple[Parameter, ...]:
    table = presets.hyperparameters(architecture) if architecture in presets.ARCHITECTURES else {}
    out: list[Parameter] = []
    for name, p in raw.items():
        path = f"parameters.{name}"
        has_values = "values" in p
        has_min, has_max = "min" in p, "max" in p
        if has_values and (has_min or has_max):
            err(path, "has both values and a min/max range", "keep one of them")
            continue
        if not has_values and not (has_min and has_max):
            missing = "max" if has_min else "min" if has_max else "values, or min and max"
            err(path, f"needs {missing}", "give values: [...] or both min: and max:")
            continue
        kind = p.get("type")
        if algorithm == "auto" and table and name not in table:
            err(path, f"{name!r} is not a hyperparameter of the {architecture!r} preset",
                f"known: {', '.join(sorted(table))}")
        if has_values:
            values = tuple(p["values"])
            if kind == "int" and not all(
                isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v in values
            ):
                err(f"{path}.values", "has non-integer values but type is int",
                    "remove type: int or use whole numbers")
                continue
            if kind == "int":
                values = tuple(int(v) for v in values)  # type: ignore[arg-type]
            if kind == "float":
                if not all(isinstance(v, (int, float)) for v in values):
                    err(f"{path}.values", "has non-numeric values but type is float",
                        "remove type: float or use numbers")
                    continue
                values = tuple(float(v) for v in values)
            if kind == "string":
                values = tuple(str(v) for v in values)
            if len(set(values)) != len(values):
                err(f"{path}.values", "lists a value more than once", "remove the duplicates")
            out.append(Parameter(name=name, values=values, type=kind))
            continue
        lo, hi = float(p["min"]), float(p["max"])
        scale = p.get("scale", "linear")
        if lo > hi:
            err(f"{path}.max", f"max ({p['max']}) is below min ({p['min']})",
                "swap them or raise max")
            continue
        if scale == "log" and lo <= 0:
            err(f"{path}.min", f"a log-scale range needs min > 0, got {p['min']}",
                "raise min above 0 or use scale: linear")
            continue
        if kind == "string":
            err(f"{path}.type", "a min/max range cannot be of type string",
                "use values: [...] for strings")
            continue
        if kind == "int" and math.ceil(lo) > math.floor(hi):
            err(path, f"the integer range {p['min']}..{p['max']} contains no integer",
                "widen it to include a whole number, or drop type: int")
            continue
        if algorithm == "grid":
            err(path, "is a min/max range, but a grid needs a list of values",
                "give values: [...] or use search.algorithm: random")
            continue
        out.append(Parameter(name=name, min=lo, max=hi, scale=scale, type=kind))
    return tuple(out)


def windows_section(
    raw: dict[str, Any], err: Err
) -> tuple[Rolling | None, tuple[tuple[dt.date, dt.date], ...]]:
    has_rolling, has_ranges = "rolling" in raw, "ranges" in raw
    if has_rolling == has_ranges:
        which = "both" if has_rolling else "neither"
        err("windows", f"gives {which} of rolling and ranges",
            "give exactly one: rolling: {count: 3, months: 3} or ranges: [{start:, end:}]")
        return None, ()
    if has_rolling:
        r = raw["rolling"]
        return Rolling(r["count"], r["months"], r["stepMonths"]), ()
    ranges: list[tuple[dt.date, dt.date]] = []
    for i, item in enumerate(raw["ranges"]):
        try:
            start = dt.date.fromisoformat(item["start"])
            end = dt.date.fromisoformat(item["end"])
        except (TypeError, ValueError):
            continue  # the schema already reported the malformed date
        if end < start:
            err(f"windows.ranges[{i}].end", f"{end} is before start {start}",
                "swap start and end")
            continue
        ranges.append((start, end))
    return None, tuple(ranges)
