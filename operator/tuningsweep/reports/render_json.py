"""``report --format json``: one object, the documented schema plus a few extra keys.

The keys the issue defines are always present with exactly those names::

    {"objective": {"metric": M, "goal": G}, "best": ID,
     "configs": [{"config", "params", "per_window", "mean", "std", "ranks",
                  "windows_won", "wins_all_windows", "complete", "p_value_vs_best"}],
     "trends": {"PARAM": [{"value", "mean", "count"}]},
     "importance": {"PARAM": share}}

Extras, which consumers may ignore: top-level ``windows``, ``runner_up``, ``counts``,
``significance`` (the test that decides: method, alpha, residual sd, degrees of freedom,
number of hypotheses corrected for, prior degrees of freedom of the moderated variances,
``null`` when pooled; ``scale`` (``linear`` or ``log``) and ``scale_reason``;
``outliers``, the trials left out of the comparisons; ``warnings``, failed model checks), ``interactions``, ``curves``, ``verdict``,
``notes``, ``source``; per configuration ``comparison`` (the paired comparison behind
``p_value_vs_best``), ``n_failed``, ``windows_run``, ``status`` (alive/eliminated),
``eliminated_at`` and ``elimination_reason``; per trend level ``std``, ``median`` (what decides the best value) and, for binned
parameters, ``low``/``high``. Ranks are integers unless tied (average rank). Missing
numbers are ``null``; never NaN, which is not JSON.

``p_value_vs_best`` is the adjusted p-value of the test that decides significance
(``comparison.adjusted`` says so), and ``comparison.mean_difference_ci95`` the 95%
paired t-interval of (configuration - best) over ``comparison.windows`` common windows;
``[null, null]`` with fewer than 2. Fields are only added, never renamed.

Also extras: ``failures`` lists every failed trial (``trial``, ``config``, ``window``,
``error``); ``curves`` has, with several windows, ``relative`` (``ratio`` or
``difference``: its ``epochs`` are relative to each window's level) and ``windows``
(each window's own curve, level and convergence epoch). ``time`` says where the trials'
time went: ``trials`` (those that reported ``train_seconds``), ``trial_seconds``,
``startup_seconds``, ``data_seconds``, ``train_seconds`` and ``overhead_share``
(``1 - train / trial``; ``null`` when no trainer reported its training time).

When the trainer reported a naive baseline (``baseline_<metric>``, see
:mod:`tuningsweep.core.stats.baseline`), top-level ``baseline`` has its ``metric``, its
``per_window`` value and, per configuration in ``configs``, the mean relative
``improvement`` over it (0.23: 23% better; negative: worse than doing nothing), the
windows in which it was ``beaten`` and the ``windows`` compared. Absent otherwise.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tuningsweep.core.stats.baseline import BaselineComparison
from tuningsweep.core.stats.curves import LearningCurves
from tuningsweep.core.stats.summary import (
    Comparison,
    ConfigSummary,
    SignificanceTest,
    rank_number,
)
from tuningsweep.core.stats.trends import Interaction, Level, Trends
from tuningsweep.reports.model import Report
from tuningsweep.reports.verdict import verdict


def _num(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _comparison(comp: Comparison) -> dict[str, Any]:
    return {
        "against": comp.reference,
        "windows": comp.n_pairs,
        "wins": comp.wins,
        "losses": comp.losses,
        "ties": comp.ties,
        "sign_test_p": comp.sign_test_p,
        "wilcoxon_p": comp.wilcoxon_p,
        "mean_difference": _num(comp.mean_difference),
        "mean_difference_ci95": [_num(comp.ci_low), _num(comp.ci_high)],
        "interval_method": "paired t",
        "low_power": comp.low_power,
        "min_attainable_p": comp.min_attainable_p,
        "p_value": comp.p_value,
        "p_value_unadjusted": comp.p_unadjusted,
        "adjusted": comp.p_value is not None,
        "significant": comp.significant,
        "simultaneous_ci95": [_num(comp.simultaneous_low), _num(comp.simultaneous_high)],
    }


def _significance(test: SignificanceTest | None) -> dict[str, Any] | None:
    if test is None:
        return None
    return {
        "method": test.method,
        "alpha": test.alpha,
        "residual_sd": _num(test.residual_sd),
        "df": test.df,
        "hypotheses": test.n_hypotheses,
        "prior_df": _num(test.prior_df),
        "scale": test.scale,
        "scale_reason": test.scale_reason,
        "outliers": [{"config": t.config, "window": t.window, "value": _num(t.value),
                      "expected": _num(t.expected), "studentized_residual": _num(t.t),
                      "p_value": _num(t.p), "window_median_ratio": _num(t.ratio)}
                     for t in test.outliers],
        "warnings": list(test.warnings),
    }


def config_json(c: ConfigSummary) -> dict[str, Any]:
    """One configuration in the JSON schema."""
    return {
        "config": c.config,
        "params": dict(c.params),
        "per_window": {w: _num(v) for w, v in c.per_window.items()},
        "mean": _num(c.mean),
        "std": _num(c.std),
        "ranks": {w: rank_number(r) for w, r in c.ranks.items()},
        "windows_won": c.windows_won,
        "wins_all_windows": c.wins_all_windows,
        "complete": c.complete,
        "p_value_vs_best": c.p_value_vs_best,
        "comparison": _comparison(c.comparison) if c.comparison else None,
        "n_failed": c.n_failed,
        "windows_run": c.windows_run,
        "status": c.status,
        "eliminated_at": c.eliminated_at,
        "elimination_reason": c.elimination_reason,
    }


def _level(level: Level) -> dict[str, Any]:
    item: dict[str, Any] = {
        "value": level.value,
        "mean": _num(level.mean),
        "median": _num(level.centre),
        "count": level.count,
        "std": _num(level.std),
    }
    if level.low is not None:
        item["low"] = level.low
        item["high"] = level.high
    return item


def _interaction(interaction: Interaction | None) -> list[dict[str, Any]]:
    if interaction is None:
        return []
    a, b = interaction.params
    cells = [
        {a: row, b: column, "mean": _num(mean), "count": count}
        for row, means, counts in zip(
            interaction.row_values, interaction.means, interaction.counts, strict=True
        )
        for column, mean, count in zip(interaction.column_values, means, counts, strict=True)
    ]
    return [{"params": [a, b], "cells": cells}]


def _points(curves: LearningCurves) -> list[dict[str, Any]]:
    return [{"epoch": p.epoch, "median": p.median, "q25": p.q25, "q75": p.q75, "count": p.count}
            for p in curves.points]


def _curves(curves: LearningCurves | None) -> dict[str, Any] | None:
    if curves is None:
        return None
    return {
        "metric": curves.metric,
        "trials": curves.n_trials,
        "converged_epoch": curves.converged_epoch,
        # "" when one window; "ratio"/"difference": epochs are relative to each window's level.
        "relative": curves.relative,
        "epochs": _points(curves),
        "windows": [{"window": w.window, "level": _num(w.level),
                     "converged_epoch": w.curves.converged_epoch,
                     "still_improving": w.still_improving, "trials": w.curves.n_trials,
                     "epochs": _points(w.curves)} for w in curves.windows],
    }


def _trends(trends: Trends) -> dict[str, list[dict[str, Any]]]:
    return {p.name: [_level(lv) for lv in p.levels] for p in sorted(trends.parameters, key=lambda p: p.name)}


def _baseline(baseline: BaselineComparison) -> dict[str, Any]:
    return {"metric": baseline.metric,
            "per_window": {w: _num(v) for w, v in baseline.per_window.items()},
            "configs": {c: {"improvement": _num(v.improvement), "beaten": v.beaten,
                            "windows": v.windows} for c, v in baseline.configs.items()}}


def report_dict(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring for the schema)."""
    out = _report_dict(report)
    if report.baseline is not None:
        out["baseline"] = _baseline(report.baseline)
    return out


def _report_dict(report: Report) -> dict[str, Any]:
    s = report.summary
    return {
        "objective": {"metric": s.metric, "goal": s.goal},
        "best": s.best,
        "configs": [config_json(c) for c in s.configs],
        "trends": _trends(report.trends),
        "importance": {
            p.name: p.importance for p in sorted(report.trends.parameters, key=lambda p: p.name)
        },
        "windows": list(s.windows),
        "runner_up": s.runner_up,
        "counts": {
            "trials": s.n_trials,
            "failed": s.n_failed,
            "stopped": s.n_stopped,
            "missing_objective": s.n_missing_objective,
            "configs": len(s.configs),
            "complete": s.n_complete,
            "alive": s.n_alive,
        },
        "significance": _significance(s.test),
        "importance_basis": report.trends.basis,
        "interactions": _interaction(report.trends.interaction),
        "curves": _curves(report.curves),
        "verdict": verdict(report),
        "failures": [{"trial": f.trial, "config": f.config, "window": f.window,
                      "error": f.error} for f in report.failures],
        "notes": list(report.notes),
        "source": report.source,
        "time": _time(report),
    }


def _time(report: Report) -> dict[str, Any]:
    """Where the trials' time went (the trials that reported their training time)."""
    t = report.time
    share = t.overhead_share
    return {"trials": t.trials, "trial_seconds": round(t.duration, 3),
            "startup_seconds": round(t.startup, 3), "data_seconds": round(t.data, 3),
            "train_seconds": round(t.train, 3),
            "overhead_share": None if share is None else round(share, 4)}


def render_json(report: Report) -> str:
    """Render the report as indented JSON text (ending in a newline)."""
    return json.dumps(report_dict(report), indent=2, allow_nan=False) + "\n"
