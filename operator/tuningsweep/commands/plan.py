"""``tuningsweep plan FILE``: the windows and the trials with their parameter values.

With a data folder, each window also shows the days of it that have data and their
rows (counted where that is cheap, ``?`` elsewhere; :mod:`tuningsweep.io.data_check`), so a window the
data does not cover is seen before anything trains.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys

from rich.console import Console
from rich.table import Table

from ..core.planning.coverage import WindowCoverage
from ..core.planning.planner import Plan, adaptive_note, count_trials, plan_trials
from ..core.planning.windows import resolve_windows, windows_to_data
from ..core.spec.errors import InvalidSpec, SpecError
from ..core.spec.parse import DateWindow, Sweep
from ..io.data_check import check_data
from ..io.manifests import read_sweeps
from .common import EXIT_OK, Subparsers, add_today, print_warnings


def add_parser(sub: Subparsers) -> None:
    """Register ``plan``."""
    p = sub.add_parser("plan", help="show the windows and trials a sweep will run",
                       description="Show the windows and the trials with their parameters.")
    p.add_argument("file", metavar="FILE")
    add_today(p)
    p.add_argument("-o", "--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return plan_command(args.file, args.today, args.format)


def plan_command(path: str, today: dt.date | None, fmt: str) -> int:
    """Print the plan of the single sweep in ``path``; 0, or 2 on bad input."""
    sweeps = read_sweeps(path)
    if len(sweeps) != 1:
        raise InvalidSpec([SpecError("", f"holds {len(sweeps)} sweeps; plan shows one",
                                     "split the file, one sweep per file")], path)
    sweep = sweeps[0]
    anchor = today or dt.date.today()
    if sweep.spec.schedule is not None:  # a recurring sweep: the run of that day's slot
        from .run_recurring import pick_run

        anchor = pick_run(sweep, today).anchor
    windows = resolve_windows(sweep.spec, anchor)
    data = check_data(sweep, windows, rows=fmt != "csv", remote_required=False, source=path)
    print_warnings(data)
    coverage = {c.window.id: c for c in data.coverage}
    plan = plan_trials(sweep.spec, windows)
    if fmt == "table":
        _print_table(sweep, plan, coverage, windows)
        return EXIT_OK
    if fmt == "json":
        print(json.dumps(plan_json(sweep, plan, coverage), indent=2))
    elif fmt == "csv":
        _print_csv(plan)
    return EXIT_OK


def plan_json(sweep: Sweep, plan: Plan,
              coverage: dict[str, WindowCoverage] | None = None) -> dict[str, object]:
    """The plan as the documented JSON object (sweep, windows, trials, stage).

    A window the data was checked for also has ``days`` (with data), ``calendarDays``
    and ``rows`` (null when not cheaply known).
    """
    windows = {t.window.id: t.window for t in plan.trials}
    described: list[dict[str, object]] = []
    for w in windows_to_data(tuple(windows.values())):
        c = (coverage or {}).get(w["id"])
        extra = {} if c is None else {"days": c.days, "calendarDays": c.calendar_days,
                                      "rows": c.rows}
        described.append({**w, **extra})
    return {
        "sweep": sweep.name,
        "windows": described,
        "trials": [{"trial": t.id, "config": t.config, "window": t.window.id,
                    "params": dict(t.params)} for t in plan.trials],
        "stage": plan.stage,
    }


def _param_names(plan: Plan) -> list[str]:
    return list(dict.fromkeys(name for t in plan.trials for name in t.params))


def _print_csv(plan: Plan) -> None:
    names = _param_names(plan)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["trial", "config", "window", "window_start", "window_end", *names])
    for t in plan.trials:
        writer.writerow([t.id, t.config, t.window.id, t.window.start, t.window.end,
                         *(t.params.get(n, "") for n in names)])


def _print_table(sweep: Sweep, plan: Plan, coverage: dict[str, WindowCoverage],
                 windows: tuple[DateWindow, ...]) -> None:
    console = Console()
    spec = sweep.spec
    configs, total = count_trials(spec, windows)
    console.print(f"[bold]{sweep.key}[/bold]  {spec.architecture}, {spec.algorithm} search, "
                  f"{spec.mode} mode; objective: {spec.objective_goal} {spec.objective_metric}")
    wt = Table(title="windows", title_justify="left")
    data_cols = ("days with data", "rows") if coverage else ()
    for col in ("window", "start", "end", "months", *data_cols):
        wt.add_column(col, justify="right" if col in data_cols else "left")
    for w in windows:
        months = (w.end.year - w.start.year) * 12 + w.end.month - w.start.month + 1
        c = coverage.get(w.id)
        data = () if c is None else (f"{c.days}/{c.calendar_days}",
                                     "?" if c.rows is None else f"{c.rows:,}")
        wt.add_row(w.id, str(w.start), str(w.end), str(months), *data)
    console.print(wt)
    names = _param_names(plan)
    title = f"trials: {len(plan.trials)} planned"
    note = adaptive_note(spec, windows)
    if not plan.final and note:
        title += f" so far ({note})"
    tt = Table(title=title, title_justify="left")
    for col in ("trial", "window", *names):
        tt.add_column(col, justify="right" if col in names else "left")
    for t in plan.trials:
        tt.add_row(t.id, t.window.id, *(str(t.params.get(n, "")) for n in names))
    console.print(tt)
    per_config = total // max(1, configs)
    racing = "; racing runs fewer" if spec.racing is not None else ""
    console.print(f"{configs} configurations x {per_config} windows = {total} trials{racing}")
