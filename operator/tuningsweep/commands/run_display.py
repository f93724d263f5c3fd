"""What ``tuningsweep run`` shows: the progress bar (or a line per trial), the leaderboard.

Built on rich, which is loaded only when there is something to show: ``run -q`` starts
its first trial without it (about 25 ms less on a two-core machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..core.planning.planner import Plan, Trial
from ..core.records.results import ResultRow
from ..core.stats.time_split import time_split
from ..executors.local import Events
from ..io.results_store import ResultsStore

if TYPE_CHECKING:  # the statistics load numpy: only once there are rows to summarise
    from ..core.stats.summary import ConfigSummary, Summary

LEADERBOARD_ROWS = 10


def make_console() -> Console:
    """The console to print on; logs and CI captures get a wide one, not 80 columns."""
    console = Console()
    if not console.is_terminal:
        # Logs and CI captures have no width; do not squeeze the leaderboard into 80 columns.
        console = Console(width=200)
    return console


def _fmt(value: float | None) -> str:
    """Four significant digits: enough to compare configurations at a glance."""
    return "" if value is None else f"{value:.4g}"


class ProgressEvents(Events):
    """A rich progress bar on a terminal, one line per trial otherwise."""

    def __init__(self, console: Console, results: ResultsStore, total: int,
                 done: int) -> None:
        self.console = console
        self.results = results
        self.total = total
        self.done = done
        self.failed = sum(1 for r in results.rows if r.status == "failed")
        self.reused = sum(1 for r in results.rows if r.reused_from)  # a recurring sweep's
        self.time = time_split(results.rows)  # where the trials' time went, kept up to date
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("running {task.fields[running]}"),
            TextColumn("failed {task.fields[failed]}"),
            TextColumn("best {task.fields[best]}"),
            TextColumn("overhead {task.fields[overhead]}"), TimeRemainingColumn(),
            console=console, disable=not self.live,
        )
        self.task = self.progress.add_task(self._description(), total=total, completed=done,
                                           running=0, failed=self.failed, best=self._best(),
                                           overhead=self._overhead())

    def _description(self) -> str:
        name = self.results.sweep.name
        return f"{name} ({self.reused} reused)" if self.reused else name

    def _best(self) -> str:
        summary = self.results.summary
        if summary is None or summary.best is None:
            return "-"
        best = summary.config(summary.best)
        return f"{summary.best} {summary.metric}={_fmt(best.mean)}"

    def _overhead(self) -> str:
        """The share of trial time not spent training so far ("-" until a trainer says)."""
        share = self.time.overhead_share
        return "-" if share is None else f"{share:.2f}"

    def started(self, trial: Trial, running: int) -> None:
        self.progress.update(self.task, running=running)

    def finished(self, row: ResultRow, running: int) -> None:
        self.done += 1
        if row.status == "failed":
            self.failed += 1
        self.reused += bool(row.reused_from)
        self.time.add(row)
        self.progress.update(self.task, completed=self.done, running=running,
                             failed=self.failed, best=self._best(),
                             description=self._description(), overhead=self._overhead())
        if not self.live:
            metric = self.results.sweep.spec.objective_metric
            value = row.metrics.get(metric)
            shown = f"{metric}={value:.6g}" if value is not None else row.error
            how = (f"reused from run {row.reused_from}" if row.reused_from
                   else f"{row.duration_seconds:.1f}s")
            overhead = "" if self.time.overhead_share is None else (
                f"; sweep overhead {self._overhead()}")
            print(f"[{self.done}/{self.total}] {row.trial} {row.status} {shown} "
                  f"({how}{overhead})", flush=True)

    def planned(self, plan: Plan) -> None:
        if plan.stage > 0:
            self.console.print(f"auto mode: stage {plan.stage + 1} planned "
                               "(learning-rate values fixed at the best of stage 1)")


def _versus_best(c: ConfigSummary, best: str | None) -> str:
    """The paired mean difference to the best with its 95% interval ("" for the best)."""
    comp = c.comparison
    if comp is None or c.config == best:
        return ""
    shown = f"{comp.mean_difference:+.3g}"
    if comp.ci_low is not None and comp.ci_high is not None:
        shown += f" [{comp.ci_low:+.3g}, {comp.ci_high:+.3g}]"
    return shown + ("*" if comp.significant else "")


def leaderboard(summary: Summary, limit: int = LEADERBOARD_ROWS) -> Table:
    """The top configurations: objective per window, mean, the paired difference to the
    best (what to compare them by: a hard month shifts every configuration alike), wins.

    ``*`` marks a configuration significantly worse than the best (docs/statistics.md).
    """
    table = Table(title=f"leaderboard ({summary.goal} {summary.metric})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("config")
    for name in summary.param_names:
        table.add_column(name, justify="right")
    for window in summary.windows:
        table.add_column(window, justify="right")
    for col in ("mean", "std", "vs best [95%]", "won", "all windows"):
        table.add_column(col, justify="right")
    for i, c in enumerate(summary.configs[:limit], start=1):
        table.add_row(
            str(i) if c.complete else "-", c.config,
            *(str(c.params.get(n, "")) for n in summary.param_names),
            *(_fmt(c.per_window.get(w)) for w in summary.windows),
            _fmt(c.mean), _fmt(c.std), _versus_best(c, summary.best),
            f"{c.windows_won}/{len(summary.windows)}",
            "yes" if c.wins_all_windows else ("incomplete" if not c.complete else "no"),
        )
    return table
