"""``summary.csv``: the leaderboard as one row per configuration.

Written by the local runner and the operator after every flush of ``results.csv``, and
read by scripts, so columns are only ever added: the original columns keep their names
(``p_value_vs_best`` is now the corrected p-value of the test that decides, and
``mean_diff_ci_low/high`` the 95% paired t-interval; see ``docs/statistics.md``).
"""

from __future__ import annotations

import csv
import io
import math

from tuningsweep.core.records.results import PARAM_PREFIX, ParamValue
from tuningsweep.core.stats.summary_model import Summary


def format_number(value: float | int | None) -> str:
    """Format a number for CSV: integral floats as ints for ranks, full precision else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return ""
    return repr(float(value))


def rank_number(rank: float) -> float | int:
    """A rank as an int when it is whole (``2``), else the average rank (``1.5``)."""
    return int(rank) if float(rank).is_integer() else rank


def _format_param(value: ParamValue | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return format_number(value)


def summary_columns(summary: Summary) -> list[str]:
    """The ``summary.csv`` header for a summary."""
    return [
        "config",
        *(PARAM_PREFIX + p for p in summary.param_names),
        "objective_mean",
        "objective_std",
        *(f"objective_{w}" for w in summary.windows),
        *(f"rank_{w}" for w in summary.windows),
        "windows_won",
        "wins_all_windows",
        "complete",
        "n_windows",
        "p_value_vs_best",
        "compared_with",
        "wilcoxon_p_vs_best",
        "mean_diff_vs_best",
        "mean_diff_ci_low",
        "mean_diff_ci_high",
        "n_failed",
        "significant",
        "p_value_unadjusted",
        "sign_test_p_vs_best",
        "windows_compared",
        "simultaneous_ci_low",
        "simultaneous_ci_high",
        "windows_run",
        "status",
        "eliminated_at",
        "elimination_reason",
    ]


def summary_csv(summary: Summary) -> str:
    """Render ``summary.csv``: one row per configuration, in leaderboard order.

    Columns: ``config``, ``param.<name>``..., ``objective_mean``, ``objective_std``,
    ``objective_<window>``..., ``rank_<window>``..., ``windows_won``,
    ``wins_all_windows``, ``complete``, ``n_windows``, ``p_value_vs_best`` (the corrected
    p-value of the test that decides; for the best, against its closest contender, named
    in ``compared_with``), ``wilcoxon_p_vs_best``, ``mean_diff_vs_best`` with its 95%
    paired t-interval, ``n_failed``, then ``significant`` (worse than the best; for
    the best: better than every other),
    ``p_value_unadjusted``, ``sign_test_p_vs_best``, ``windows_compared``, the
    simultaneous interval behind the claim, ``windows_run``, ``status``
    (alive/eliminated), ``eliminated_at`` and ``elimination_reason``. Empty cells mean
    "not available" (no value, single window, no best, no test possible).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(summary_columns(summary))
    for c in summary.configs:
        comp = c.comparison
        writer.writerow([
            c.config,
            *(_format_param(c.params.get(p)) for p in summary.param_names),
            format_number(c.mean),
            format_number(c.std),
            *(format_number(c.per_window.get(w)) for w in summary.windows),
            *(
                format_number(rank_number(c.ranks[w])) if w in c.ranks else ""
                for w in summary.windows
            ),
            str(c.windows_won),
            format_number(c.wins_all_windows),
            format_number(c.complete),
            str(c.n_windows),
            format_number(comp.p_value if comp else None),
            comp.reference if comp else "",
            format_number(comp.wilcoxon_p if comp else None),
            format_number(comp.mean_difference if comp else None),
            format_number(comp.ci_low if comp else None),
            format_number(comp.ci_high if comp else None),
            str(c.n_failed),
            format_number(comp.significant if comp else None),
            format_number(comp.p_unadjusted if comp else None),
            format_number(comp.sign_test_p if comp else None),
            str(comp.n_pairs) if comp else "",
            format_number(comp.simultaneous_low if comp else None),
            format_number(comp.simultaneous_high if comp else None),
            str(c.windows_run),
            c.status,
            c.eliminated_at or "",
            c.elimination_reason or "",
        ])
    return buffer.getvalue()


def recorded_eliminations(text: str) -> dict[str, tuple[str, str]] | None:
    """Racing's eliminations as a ``summary.csv`` records them, ``{config: (window,
    reason)}``; None when the text has no such columns (written before they existed).

    The runner writes the summary with the plan it ran, so this is the race as it was
    run (the seeds of a recurring sweep's run and the TPE batches included), with no
    need to replay the planner.
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "eliminated_at" not in reader.fieldnames:
        return None
    return {row["config"]: (row["eliminated_at"], row.get("elimination_reason") or "")
            for row in reader if row.get("eliminated_at")}
