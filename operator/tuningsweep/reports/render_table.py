"""``report --format table``: the leaderboard, verdict, trends and curves for a terminal.

Only the first ``top`` configurations of the leaderboard are printed (a sweep can have
thousands; the JSON output and ``summary.csv`` hold all of them), followed by the
verdict in sentences, per-parameter trends with their importance, the interaction of
the two most important parameters, and a condensed learning curve.
"""

from __future__ import annotations

from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table

from tuningsweep.core.stats.baseline import BaselineComparison
from tuningsweep.core.stats.curves import LearningCurves
from tuningsweep.core.stats.summary import ConfigSummary, Summary
from tuningsweep.core.stats.trends import Interaction, ParameterTrend
from tuningsweep.reports.baseline_text import HEADER, fmt_improvement
from tuningsweep.reports.formatting import (
    MISSING,
    basis_text,
    fmt_p,
    fmt_param,
    fmt_rank,
    fmt_share,
    fmt_signed,
    fmt_value,
)
from tuningsweep.reports.model import Report
from tuningsweep.reports.verdict import verdict

DEFAULT_TOP = 20
_CURVE_ROWS = 12
_WIDE_CONSOLE = 140


def _caption(summary: Summary, baseline: BaselineComparison | None = None) -> str:
    text = ("Δ vs best: paired mean difference to the best over common windows, with its "
            "95% t-interval (the best: to its closest contender)")
    if baseline is not None:
        text += (f"; {HEADER}: mean relative improvement over the trainer's naive "
                 f"baseline ({baseline.metric}; + is better), windows where it is better")
    if summary.test is not None:
        scale = " (on the log scale)" if summary.test.scale == "log" else ""
        text += (f"; p{scale}: corrected for {summary.test.n_hypotheses} pairs of "
                 "configurations, * = significantly worse at 5%")
        if summary.test.outliers:
            text += f"; {len(summary.test.outliers)} diverged trial(s) left out (see below)"
    return text


def _delta(c: ConfigSummary) -> str:
    comp = c.comparison
    if comp is None:
        return MISSING
    # One common window has no spread, hence no interval: say so rather than leave a gap.
    interval = " (1 window)"
    if comp.ci_low is not None and comp.ci_high is not None:
        interval = f" [{fmt_signed(comp.ci_low, 2)}, {fmt_signed(comp.ci_high, 2)}]"
    return f"{fmt_signed(comp.mean_difference)}{interval}"


def _leaderboard(summary: Summary, top: int, with_params: bool,
                 failed: frozenset[tuple[str, str]] = frozenset(),
                 baseline: BaselineComparison | None = None) -> Table:
    table = Table(
        title=f"Leaderboard: {summary.metric} ({summary.goal}) per window, #rank in that window",
        caption=_caption(summary, baseline),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
        pad_edge=False,
        padding=(0, 1, 0, 0),
        collapse_padding=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("config", no_wrap=True)
    for w in summary.windows:
        table.add_column(w, justify="right", no_wrap=True)
    table.add_column("mean±std", justify="right", no_wrap=True)
    table.add_column("won", justify="right", no_wrap=True)
    # The interval may wrap under its difference when the terminal is narrow.
    table.add_column("Δ vs best [95%]", justify="right", min_width=9)
    table.add_column("p", justify="right", no_wrap=True)
    if baseline is not None:
        table.add_column(HEADER, justify="right", no_wrap=True)
    if with_params:
        table.add_column("parameters", overflow="fold", min_width=16)
    for position, c in enumerate(summary.configs[:top], start=1):
        style = "bold" if c.config == summary.best else ("dim" if not c.complete else None)
        cells = _leaderboard_row(summary, c, position, failed)
        if baseline is not None:
            cells.append(fmt_improvement(baseline.configs.get(c.config)))
        if with_params:
            cells.append(_params_text(summary, c))
        table.add_row(*cells, style=style)
    return table


def _params_text(summary: Summary, c: ConfigSummary) -> str:
    return " ".join(f"{p}={fmt_param(c.params.get(p))}" for p in summary.param_names)


def _parameter_table(summary: Summary, top: int) -> Table:
    table = Table(title="Parameters of the leaderboard", box=box.SIMPLE_HEAD,
                  title_justify="left", pad_edge=False)
    table.add_column("config", no_wrap=True)
    for name in summary.param_names:
        table.add_column(name, justify="right", overflow="fold")
    for c in summary.configs[:top]:
        table.add_row(c.config, *(fmt_param(c.params.get(p)) for p in summary.param_names))
    return table


def _leaderboard_row(summary: Summary, c: ConfigSummary, position: int,
                     failed: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """One configuration's cells; ``failed``: its (config, window) trials that failed
    (a window it never ran, racing's or one not run yet, is MISSING, not ``failed``)."""
    marks = " ★" if c.config == summary.best else ""
    marks += " all" if c.wins_all_windows else ""
    if c.eliminated_at is not None:
        marks += f" (eliminated at {c.eliminated_at})"
    elif not c.complete:
        marks += " (incomplete)"
    cells = [str(position) if c.complete else MISSING, c.config + marks]
    for w in summary.windows:
        if w in c.per_window:
            cells.append(f"{fmt_value(c.per_window[w], 4)} #{fmt_rank(c.ranks.get(w))}")
        else:
            cells.append("failed" if (c.config, w) in failed else MISSING)
    std = f"±{fmt_value(c.std, 2)}" if c.std is not None else ""
    cells.append(f"{fmt_value(c.mean, 4)}{std}")
    cells.append(f"{c.windows_won}/{len(summary.windows)}")
    cells.append(_delta(c))
    comp = c.comparison
    cells.append(fmt_p(comp.p_value) + ("*" if comp.significant else "") if comp else MISSING)
    return cells


def _trend_table(trend: ParameterTrend, metric: str) -> Table:
    kind = " (quantile bins)" if trend.binned else ""
    table = Table(
        title=f"{trend.name}{kind}: importance {fmt_share(trend.importance)}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column("value", justify="right")
    table.add_column(f"median {metric}", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    table.add_column("configs", justify="right")
    for level in trend.levels:
        best = level.value == trend.best_value
        table.add_row(
            fmt_param(level.value) + (" ★" if best else ""),
            fmt_value(level.centre),
            fmt_value(level.mean),
            fmt_value(level.std, 2),
            str(level.count),
            style="bold" if best else None,
        )
    return table


def _interaction_table(interaction: Interaction, metric: str) -> Table:
    a, b = interaction.params
    table = Table(
        title=f"Interaction: mean {metric} by {a} (rows) x {b} (columns)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column(f"{a} \\ {b}", justify="right")
    for column in interaction.column_values:
        table.add_column(fmt_param(column), justify="right")
    for row, means in zip(interaction.row_values, interaction.means, strict=True):
        table.add_row(fmt_param(row), *(fmt_value(m) for m in means))
    return table


def _curve_table(curves: LearningCurves) -> Table:
    relative = {"ratio": " / its window's level", "difference": " - its window's level"}
    title = f"Learning curve: median {curves.metric}{relative.get(curves.relative, '')} " \
            f"over {curves.n_trials} trials"
    caption = None
    if curves.windows:
        caption = "converged per window: " + ", ".join(
            f"{w.window} epoch {w.curves.converged_epoch}"
            f"{' (still improving)' if w.still_improving else ''}" for w in curves.windows)
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("epoch", justify="right")
    table.add_column("median", justify="right")
    table.add_column("IQR", justify="right")
    table.add_column("trials", justify="right")
    points = curves.points
    step = max(1, -(-len(points) // _CURVE_ROWS))
    shown = list(points[::step])
    converged = next((p for p in points if p.epoch == curves.converged_epoch), None)
    if points[-1] not in shown:
        shown.append(points[-1])
    if converged is not None and converged not in shown:
        shown = sorted([*shown, converged], key=lambda p: p.epoch)
    for p in shown:
        mark = " ← converged" if p.epoch == curves.converged_epoch else ""
        table.add_row(
            f"{p.epoch}{mark}",
            fmt_value(p.median),
            f"{fmt_value(p.q25)} to {fmt_value(p.q75)}",
            str(p.count),
            style="bold" if mark else None,
        )
    return table


def _failures_table(report: Report, top: int) -> Table:
    """Every failed trial's error (the first ``top``): why, not only how many."""
    failures = report.failures
    more = len(failures) - top
    table = Table(title=f"Failed trials ({len(failures)})", box=box.SIMPLE_HEAD,
                  title_justify="left",
                  caption=f"… {more} more: --format json lists all" if more > 0 else None)
    table.add_column("trial", no_wrap=True)
    table.add_column("error", overflow="fold")
    for f in failures[:top]:
        table.add_row(f.trial, f.error)
    return table


def render_table(report: Report, file: IO[str], *, top: int = DEFAULT_TOP, color: bool = True) -> None:
    """Print the report to ``file`` as rich tables and a verdict.

    Args:
        report: what to show.
        file: where to write (a terminal or a text file).
        top: how many leaderboard rows to print.
        color: allow colours and styles (off when writing to a file).
    """
    console = Console(
        file=file,
        width=None if color else 160,
        color_system="auto" if color else None,
        force_terminal=None if color else False,
        highlight=False,
    )
    summary = report.summary
    console.print(f"[bold]Sweep results[/bold] {report.source}", markup=True, soft_wrap=True)
    console.print(
        f"{len(summary.configs)} configurations ({summary.n_alive} alive), "
        f"{summary.n_complete} complete, "
        f"{summary.n_trials} trials ({summary.n_failed} failed, {summary.n_stopped} stopped "
        "early), windows: "
        f"{', '.join(summary.windows) or 'none'} (w0 = most recent)"
    )
    if report.time.text():
        console.print(f"time: {report.time.text()}", markup=False, highlight=False)
    if summary.configs:
        # Parameters beside the numbers when the terminal is wide enough, else below them.
        wide = console.width >= _WIDE_CONSOLE
        failed = frozenset((f.config, f.window) for f in report.failures)
        console.print(_leaderboard(summary, top, with_params=wide, failed=failed,
                                   baseline=report.baseline))
        if not wide and summary.param_names:
            console.print(_parameter_table(summary, top))
        hidden = len(summary.configs) - top
        if hidden > 0:
            console.print(
                f"… {hidden} more configurations (all of them: --format json, or summary.csv)"
            )
    if report.failures:
        console.print(_failures_table(report, top))
    console.print("[bold]Verdict[/bold]", markup=True)
    for sentence in verdict(report):
        console.print(f"  {sentence}", markup=False, highlight=False)
    for note in report.notes:
        console.print(f"  note: {note}", markup=False, style="dim")
    if report.trends.parameters:
        console.print()
        console.print(
            f"[bold]Trends[/bold] over {report.trends.n_configs} {basis_text(report.trends)} "
            "(importance = share of the variance of the configurations' ranks explained; "
            "★ = best median)",
            markup=True,
        )
        for trend in report.trends.parameters:
            console.print(_trend_table(trend, summary.metric))
        if report.trends.interaction is not None:
            console.print(_interaction_table(report.trends.interaction, summary.metric))
    if report.curves is not None:
        console.print(_curve_table(report.curves))
