"""``tuningsweep report <results>/<namespace>/<name>`` on a recurring sweep: its history.

A recurring sweep's folder holds ``history.csv`` (one row per finished run, written by
``tuningsweep run``; core/recurring/history.py) and each run's own results under ``runs/<run>/``
(``report`` on such a folder gives that run's leaderboard as for any sweep). The history
report shows one line per run: its windows, the winner and its parameters, the
objective, trials trained and reused, and the verdict against the champion; the HTML
page adds the winner's objective over the runs. ``--format json`` gives
``{"runs": [...]}`` in run order.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..core.recurring.history import HistoryRow, parse_history
from ..core.recurring.runs import HISTORY_CSV
from ..io.errors import StorageError
from ..io.storage import open_store
from .sources import ReportInputError

_VERDICT_WORDS = {"first": "first run", "keep": "keep the champion", "new": "new winner",
                  "left": "champion left the race", "none": "no winner"}


def history_folder(location: str) -> str | None:
    """The location when it is a recurring sweep's folder (it has history.csv), else None."""
    text = location.strip()
    if text.endswith(".csv"):
        return None
    if not text.startswith("gs://"):
        local = Path(text.removeprefix("file://")).expanduser()
        return str(local) if (local / HISTORY_CSV).is_file() else None
    try:
        return text if open_store(text.rstrip("/")).exists(HISTORY_CSV) else None
    except StorageError:
        return None  # the results report says what is wrong with the location


def load_history(folder: str) -> list[HistoryRow]:
    """The runs of the recurring sweep in ``folder``.

    Raises:
        ReportInputError: history.csv is unreadable.
    """
    try:
        store = open_store(folder.rstrip("/"))
        text = store.read_text(HISTORY_CSV) or ""
        return parse_history(text)
    except (StorageError, ValueError) as exc:
        raise ReportInputError(f"{folder}/{HISTORY_CSV}: {exc}") from None


def _params(row: HistoryRow) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(row.best_params.items()))


def _objective(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _p(value: float | None) -> str:
    return "" if value is None else f" (p = {value:.3g})"


def render_history_table(rows: Sequence[HistoryRow], out: TextIO, color: bool = True) -> None:
    """One line per run, oldest first, then the last verdict in words."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, no_color=not color, width=200 if not out.isatty() else None)
    table = Table(title="runs of the recurring sweep", title_justify="left")
    for name, justify in (("run", "left"), ("best", "left"), ("parameters", "left"),
                          ("objective", "right"), ("trained", "right"),
                          ("reused", "right"), ("verdict", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r.run, r.best or "-", _params(r), _objective(r.objective),
                      str(r.trained), str(r.reused),
                      _VERDICT_WORDS.get(r.verdict, r.verdict) + _p(r.p_value))
    console.print(table)
    if rows:
        console.print(f"last run {rows[-1].run}: {rows[-1].verdict_text}", highlight=False)


def render_history_json(rows: Sequence[HistoryRow]) -> str:
    """``{"runs": [...]}`` in run order."""
    return json.dumps({"runs": [r.to_json() for r in rows]}, indent=2) + "\n"


def _objective_chart(rows: Sequence[HistoryRow]) -> str:
    from .charts import BEST, MAIN, Mark, chart_svg, figure

    points = [(i, r, r.objective) for i, r in enumerate(rows) if r.objective is not None]
    with figure(max(4.0, 0.7 * len(rows) + 1.5), 2.8) as fig:
        ax = fig.add_subplot()
        ax.plot([i for i, _, _ in points], [v for _, _, v in points], color=MAIN,
                marker="o", gid="winner-line")
        marks = {"winner-line": Mark("winner-line", "the winner's objective")}
        for i, r, value in points:
            if r.changed:
                gid = f"change-{r.run}"
                ax.plot([i], [value], marker="o", markersize=9, color=BEST,
                        linestyle="none", gid=gid)
                marks[gid] = Mark("change", f"{r.run}: {r.verdict_text}")
        ax.set_xticks(range(len(rows)), [r.run for r in rows], rotation=30, ha="right")
        ax.set_ylabel("winner's objective")
        return chart_svg(fig, "winner-over-runs", "plot history-plot",
                         "the winner's objective over the runs", marks)


def render_history_html(rows: Sequence[HistoryRow], source: str) -> str:
    """A self-contained page: the winner's objective over the runs, then the table."""
    esc = html.escape
    lines = "".join(
        f"<tr class=\"run\"><td>{esc(r.run)}</td><td>{esc(r.best or '-')}</td>"
        f"<td>{esc(_params(r))}</td><td>{_objective(r.objective)}</td><td>{r.trained}</td>"
        f"<td>{r.reused}</td><td>{esc(r.verdict_text)}</td></tr>" for r in rows)
    chart = _objective_chart(rows) if rows else "<p>No finished run yet.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>runs of {esc(source)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}</style></head>
<body><h1>Recurring sweep: {esc(source)}</h1>
<p>Red marks: the runs where the champion changed.</p>
{chart}
<table id="runs"><thead><tr><th>run</th><th>best</th><th>parameters</th><th>objective</th>
<th>trained</th><th>reused</th><th>verdict</th></tr></thead><tbody>{lines}</tbody></table>
</body></html>
"""
