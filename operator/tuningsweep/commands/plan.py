"""``tuningsweep plan FILE``: the windows and the trials with their parameter values."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys

from rich.console import Console
from rich.table import Table

from ..core.errors import InvalidSpec, SpecError
from ..core.planner import Plan, count_trials, plan_trials
from ..core.spec import Sweep
from ..core.windows import resolve_windows, windows_to_data
from ..io.manifests import read_sweeps
from .common import EXIT_OK, Subparsers, add_today


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
    windows = resolve_windows(sweep.spec, today or dt.date.today())
    plan = plan_trials(sweep.spec, windows)
    if fmt == "json":
        print(json.dumps(plan_json(sweep, plan), indent=2))
    elif fmt == "csv":
        _print_csv(plan)
    else:
        _print_table(sweep, plan)
    return EXIT_OK


def plan_json(sweep: Sweep, plan: Plan) -> dict[str, object]:
    """The plan as the documented JSON object (sweep, windows, trials, stage)."""
    windows = {t.window.id: t.window for t in plan.trials}
    return {
        "sweep": sweep.name,
        "windows": windows_to_data(tuple(windows.values())),
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


def _print_table(sweep: Sweep, plan: Plan) -> None:
    console = Console()
    spec = sweep.spec
    windows = list({t.window.id: t.window for t in plan.trials}.values())
    configs, total = count_trials(spec, windows)
    console.print(f"[bold]{sweep.key}[/bold]  {spec.architecture}, {spec.algorithm} search, "
                  f"{spec.mode} mode; objective: {spec.objective_goal} {spec.objective_metric}")
    wt = Table(title="windows", title_justify="left")
    for col in ("window", "start", "end", "months"):
        wt.add_column(col)
    for w in windows:
        months = (w.end.year - w.start.year) * 12 + w.end.month - w.start.month + 1
        wt.add_row(w.id, str(w.start), str(w.end), str(months))
    console.print(wt)
    names = _param_names(plan)
    title = f"trials: {len(plan.trials)} planned"
    if not plan.final:
        title += f" (auto stage {plan.stage + 1}; later stages follow its results, {total} in all)"
    tt = Table(title=title, title_justify="left")
    for col in ("trial", "window", *names):
        tt.add_column(col, justify="right" if col in names else "left")
    for t in plan.trials:
        tt.add_row(t.id, t.window.id, *(str(t.params.get(n, "")) for n in names))
    console.print(tt)
    console.print(f"{configs} configurations x {len(windows)} windows = {total} trials")
