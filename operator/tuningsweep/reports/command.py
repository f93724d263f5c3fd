"""``tuningsweep report RESULTS [--format table|json|html] [--out FILE]``.

The edge of the report: read the inputs, compute, render, write. Every user mistake
(a missing file, a file that is not a results CSV, an unknown metric or goal) ends with
one ``error:`` line on stderr and exit status 2, never a traceback. Heavy imports (numpy,
rich, the storage client) happen inside :func:`report_command`, so registering the
subcommand keeps ``tuningsweep --help`` fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuningsweep.reports.model import Report

FORMATS = ("table", "json", "html")
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _compute(results: str, metric: str | None, goal: str | None, curves: bool,
             max_curves: int) -> Report:
    from tuningsweep.core.records.results import parse_csv
    from tuningsweep.core.stats.summary import summarize
    from tuningsweep.reports.model import build_report
    from tuningsweep.reports.objective import resolve_objective
    from tuningsweep.reports.sources import (
        load_histories,
        load_results,
        pick_history_trials,
        racing_eliminations,
        spec_objective,
    )

    source = load_results(results)
    rows = parse_csv(source.text) if source.text.strip() else []
    available = {m for r in rows for m in r.metrics}
    spec_metric, spec_goal = spec_objective(source.spec)
    chosen_metric, chosen_goal = resolve_objective(available, metric, goal, spec_metric, spec_goal)
    notes = list(source.notes)
    windows = list(source.windows)
    eliminated = racing_eliminations(source.spec, rows, source.summary_text)
    if eliminated is not None:
        windows = []  # with racing, complete means "the race finished with it"
    summary = summarize(rows, chosen_metric, chosen_goal, windows or None, eliminated)
    histories = None
    if curves and max_curves > 0:
        # The best configuration's trials are always read (they are drawn on the curves).
        best = summary.best
        picked = pick_history_trials(rows, max_curves, [best] if best else [])
        loaded = load_histories(picked, source.folder)
        histories = loaded.histories
        if picked and loaded.unreadable:
            notes.append(f"{loaded.unreadable} trial histories could not be read or parsed")
    return build_report(
        rows, chosen_metric, chosen_goal,
        source=source.uri, windows=windows, histories=histories, notes=notes, summary=summary,
    )


def report_command(
    results: str,
    fmt: str = "table",
    out: str | None = None,
    metric: str | None = None,
    goal: str | None = None,
    *,
    top: int | None = None,
    curves: bool = True,
    max_curves: int | None = None,
) -> int:
    """Make the report of a sweep's results and print it or write it to ``out``.

    Args:
        results: a ``results.csv`` or results folder, local or ``gs://``; a recurring
            sweep's folder (with ``history.csv``) gives the history of its runs.
        fmt: ``table``, ``json`` or ``html``.
        out: file to write; stdout when None or ``-``.
        metric, goal: the objective, overriding the sweep's spec and the default.
        top: leaderboard rows in table/HTML (default 20 / 50).
        curves: read trial histories for learning curves.
        max_curves: at most this many histories are read (default 200).

    Returns:
        0 on success, 2 for bad input (with an ``error:`` line on stderr), 1 when the
        output cannot be written.
    """
    from tuningsweep.core.records.results import ResultsFormatError
    from tuningsweep.reports.objective import ObjectiveError
    from tuningsweep.reports.sources import DEFAULT_MAX_HISTORIES, ReportInputError

    if fmt not in FORMATS:
        return _error(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if top is not None and top < 1:
        return _error("--top must be at least 1")
    from tuningsweep.reports.history_report import history_folder

    folder = history_folder(results)
    if folder is not None:  # a recurring sweep's folder: the history of its runs
        return _write_history(folder, fmt, out)
    try:
        report = _compute(results, metric, goal, curves,
                          DEFAULT_MAX_HISTORIES if max_curves is None else max_curves)
    except ReportInputError as err:
        return _error(str(err))
    except ResultsFormatError as err:
        return _error(f"{results} is not a results CSV: {err}")
    except ObjectiveError as err:
        return _error(str(err))
    return _write(report, fmt, out, top)


def _write(report: Report, fmt: str, out: str | None, top: int | None) -> int:
    from tuningsweep.reports.render_json import render_json
    from tuningsweep.reports.render_table import DEFAULT_TOP, render_table

    if fmt == "table":
        def table(handle: TextIO, to_file: bool) -> None:
            if to_file:
                render_table(report, handle, top=top or DEFAULT_TOP, color=False)
            else:
                render_table(report, handle, top=top or DEFAULT_TOP)
        return _emit(out, table)
    if fmt == "json":
        text = render_json(report)
    else:
        # Only the page draws plots: matplotlib loads for it alone.
        from tuningsweep.reports.render_html import DEFAULT_HTML_TOP, render_html

        text = render_html(report, top=top or DEFAULT_HTML_TOP)
    return _emit(out, lambda handle, _: _put(handle, text))


def _write_history(folder: str, fmt: str, out: str | None) -> int:
    from tuningsweep.reports.history_report import (
        load_history,
        render_history_html,
        render_history_json,
        render_history_table,
    )
    from tuningsweep.reports.sources import ReportInputError

    try:
        rows = load_history(folder)
    except ReportInputError as err:
        return _error(str(err))
    if fmt == "table":
        def table(handle: TextIO, to_file: bool) -> None:
            if to_file:
                render_history_table(rows, handle, color=False)
            else:
                render_history_table(rows, handle)
        return _emit(out, table)
    text = render_history_json(rows) if fmt == "json" else render_history_html(rows, folder)
    return _emit(out, lambda handle, _: _put(handle, text))


def _put(handle: TextIO, text: str) -> None:
    handle.write(text)


def _emit(out: str | None, write: Callable[[TextIO, bool], None]) -> int:
    """Write to standard output (``out`` None or ``-``) or to the file ``out``:
    ``write(handle, to_file)``; a file that cannot be written is an error (EXIT_FAILED)."""
    try:
        if out is None or out == "-":
            write(sys.stdout, False)
        else:
            with open(out, "w", encoding="utf-8") as handle:
                write(handle, True)
    except OSError as err:
        print(f"error: cannot write {out}: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _run(args: argparse.Namespace) -> int:
    return report_command(
        args.results, args.format, args.out, args.metric, args.goal,
        top=args.top, curves=not args.no_curves, max_curves=args.max_curves,
    )


def add_report_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` on the CLI's subparsers (a registrar for ``commands.registry``)."""
    p = subparsers.add_parser(
        "report",
        help="which configuration wins: leaderboard, significance, trends, curves",
        description="Summarise a sweep's results across windows: per configuration the "
                    "objective per window, mean and std, ranks, windows won, a paired test "
                    "against the best; parameter trends and importance; learning curves.",
    )
    p.add_argument("results", metavar="RESULTS",
                   help="results.csv or results folder (local path or gs://)")
    p.add_argument("-o", "--format", choices=FORMATS, default="table",
                   help="table (terminal), json (one object) or html (self-contained page)")
    p.add_argument("--out", metavar="FILE", default=None, help="write here instead of stdout")
    p.add_argument("--metric", default=None,
                   help="objective metric (default: the sweep's spec, else val_mse)")
    p.add_argument("--goal", choices=("minimize", "maximize"), default=None,
                   help="objective goal (default: the sweep's spec, else from the metric name)")
    p.add_argument("--top", type=_count, default=None,
                   help="leaderboard rows in table/html output (default 20 / 50)")
    p.add_argument("--no-curves", action="store_true",
                   help="do not read trial histories (no learning curves)")
    p.add_argument("--max-curves", type=_count, default=None, metavar="N",
                   help="read at most N trial histories for learning curves (default 200)")
    p.set_defaults(handler=_run)
