"""``tuningsweep run FILE``: the embedded default, every trial as a local process.

Everything a user could get wrong is checked before the first trial starts: the
manifest (same messages as ``validate``), the hyperparameters against the reference
trainer's table, the results location (writable, bucket exists), the trainer command.
Then the sweep runs with a progress bar (or one line per trial when output is not a
terminal), the CSVs are rewritten as trials finish, and a leaderboard closes the run.
Running the same command again resumes; ``--fresh`` starts over.

The exit status follows pytest's habit, so a script or a CI job can trust it
(:mod:`.common` defines the numbers): 0 only when every planned trial succeeded; 1 with
a one-line summary when trials failed; 3 when the failure budget stopped the sweep; 4
when the sweep is suspended; 2 for bad input, found before anything trains (the
manifest, the trainer, the results location, the data against the windows, a
``--today`` that contradicts the windows an earlier run pinned).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ..core.planning.planner import count_trials
from ..core.planning.status import SUSPENDED, TERMINAL
from ..core.records import layout
from ..core.records.contract import sweep_models_uri
from ..core.recurring.runs import HISTORY_CSV
from ..core.spec.parse import DateWindow, Sweep
from ..executors.local import Events, LocalExecutor, LocalSettings, default_workdir
from ..io.data_check import check_data
from ..io.manifests import read_sweeps
from ..io.opening import open_results
from ..io.results_store import ResultsStore
from ..io.storage import StorageError, open_store
from .common import (
    EXIT_INTERRUPTED,
    ResultsLocationError,
    Subparsers,
    parse_today,
    print_warnings,
)
from .run_checks import (
    check_reference_params,
    today_conflict,
    trainer_command,
    warm_settings,
    working_folder,
)
from .run_outcome import by_design, racing_saved, run_end
from .run_recurring import RecurringRun, begin, describe_end, describe_start, finish, pick_run

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_RESULTS = "./tuningsweep-results"


def add_parser(sub: Subparsers) -> None:
    """Register ``run``."""
    p = sub.add_parser(
        "run", help="run a sweep on this machine (trials as local processes)",
        description="Run every trial of the sweep(s) in FILE as local processes, keeping "
                    "results.csv and summary.csv up to date. Run again to resume.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--today", type=parse_today, default=None,
                   help="anchor date for rolling windows on a first run (default: today); "
                        "on a resume it must give the windows already pinned")
    p.add_argument("--results", metavar="DIR|gs://BUCKET/PREFIX", default=None,
                   help=f"results location (default: spec.output.results, else {DEFAULT_RESULTS})")
    p.add_argument("--models", metavar="DIR|gs://BUCKET/PREFIX", default=None,
                   help="where trials save models (default: spec.output.models, or beside "
                        "the results when --results is given)")
    p.add_argument("--parallel", type=_positive, default=None, metavar="N",
                   help="trials at once (default: GPUs if any, else CPU cores)")
    p.add_argument("--data", metavar="URI", default=None, help="override spec.data")
    p.add_argument("--trainer-command", metavar="CMD", default=None,
                   help="command run per trial (default: spec.trainer.command, else the "
                        "reference TensorFlow trainer)")
    p.add_argument("--fresh", action="store_true", help="discard earlier results and start over")
    p.add_argument("--retry-failed", action="store_true", help="run failed trials again")
    p.add_argument("--no-reuse", action="store_true",
                   help="recurring sweeps: train every trial, reusing none of earlier runs'")
    p.add_argument("--no-warm", dest="warm", action="store_false",
                   help="a new trainer process per trial, each reading its window's data "
                        "(default: each slot keeps a warm trainer that trains trial after "
                        "trial and keeps the windows' data; not for spec.trainer.command)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=_handle)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _handle(args: argparse.Namespace) -> int:
    return run_command(args)


# -- machine ------------------------------------------------------------------------------


def detect_gpus() -> list[str]:
    """GPU indices visible to this process (via nvidia-smi), or none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# -- the command ----------------------------------------------------------------------------


def today() -> dt.date:
    """The default anchor date (a function, so a test can move the clock)."""
    return dt.date.today()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_command(args: argparse.Namespace) -> int:
    """Run every sweep in the file; the exit status of the last one that did not succeed."""
    console: Console | None = None  # -q shows nothing: rich is not even loaded
    if not args.quiet:
        from .run_display import make_console
        console = make_console()
    status = 0
    for sweep in read_sweeps(args.file):
        status = _run_sweep(sweep, args, console) or status
    return status


def _run_sweep(sweep: Sweep, args: argparse.Namespace, console: Console | None) -> int:
    folder = Path.cwd() if args.file == "-" else Path(args.file).absolute().parent
    if args.data and "://" not in args.data:
        # Typed on this command line, so relative to this folder (trials may run in the
        # manifest's folder).
        args.data = os.path.abspath(os.path.expanduser(args.data))
    command, reference, cwd = trainer_command(sweep, args.trainer_command, folder)
    if reference:
        check_reference_params(sweep)
    # A recurring sweep runs its latest slot at or before --today, as a sweep of its own.
    picked = pick_run(sweep, args.today) if sweep.spec.schedule is not None else None
    location = args.results or sweep.spec.results or DEFAULT_RESULTS
    is_local = not location.startswith("gs://")
    if is_local:
        location = str(Path(location).expanduser().resolve())
    try:
        store = open_store(location)
        store.check_writable()
    except StorageError as exc:
        # Storage messages already say what to do (create the bucket, log in, ...).
        raise ResultsLocationError("--results" if args.results else "spec.output.results",
                                   str(exc)) from None
    results = ResultsStore(store, picked.sweep if picked else sweep,
                           min_interval=0.0 if is_local else 2.0,
                           folder=picked.folder if picked else None)
    models_uri = _models_uri(sweep, args, results)
    try:
        with working_folder(cwd):
            return _run_with_store(picked.sweep if picked else sweep, args, console, command,
                                   results, is_local, location, models_uri, reference,
                                   picked)
    finally:
        results.close()


def _models_uri(sweep: Sweep, args: argparse.Namespace, results: ResultsStore) -> str:
    """This sweep's models folder, checked writable before anything trains.

    ``--results`` alone moves the models beside the results too: a user redirecting a
    run's output to a local folder does not expect the models to go to the manifest's
    bucket (and fail there after every trial's training).
    """
    prefix = args.models or (sweep.spec.models if args.results is None else None)
    if prefix is None:  # inside the results folder (a recurring sweep's: the run's)
        return layout.join(results.store.uri, results.folder, layout.MODELS_FOLDER)
    if not prefix.startswith("gs://"):
        prefix = str(Path(prefix).expanduser().resolve())
    try:
        open_store(prefix).check_writable()
    except StorageError as exc:
        field = "--models" if args.models else "spec.output.models"
        raise ResultsLocationError(field, str(exc), "or pass --models DIR") from None
    return sweep_models_uri(sweep, results.store.uri, prefix)


def _run_with_store(sweep: Sweep, args: argparse.Namespace, console: Console | None,
                    command: list[str], results: ResultsStore, is_local: bool,
                    location: str, models_uri: str, reference: bool,
                    picked: RecurringRun | None = None) -> int:
    anchor = picked.anchor if picked else args.today or today()

    def vet(planned: Sweep, resolved: tuple[DateWindow, ...],
            windows: tuple[DateWindow, ...]) -> None:
        if args.today is not None and picked is None and windows != resolved:
            raise today_conflict(args.today, resolved, windows,
                                 results.store.uri_for(results.folder))
        data = check_data(planned, windows, data=args.data, source=args.file,
                          layout_required=reference)
        if console is not None:
            print_warnings(data)

    # The run's trainer identity and data, fingerprinted on its first start.
    start_run = None if picked is None else functools.partial(
        begin, picked, results.store, runner=[*command, *sweep.spec.trainer.args],
        data=args.data or sweep.spec.data, reuse=not args.no_reuse, fresh=args.fresh)
    # Locally the trainer is a command the user may fix and resume with (and the image,
    # irrelevant here, has a release-pinned default): only the search counts.
    opened = open_results(results, anchor, fresh=args.fresh, ignore=("output", "trainer"),
                          vet=vet, begin=start_run)
    earlier_failures = {r.trial: r.error for r in results.rows if r.status == "failed"}
    sweep, windows, start = opened.sweep, opened.windows, opened.start
    if console is not None and picked is not None and start is not None:
        for line in describe_start(picked, start):
            console.print(f"{sweep.key}: {line}")
    gpus = detect_gpus()
    parallel = args.parallel or max(1, len(gpus) or _cores())
    tf_threads = None if gpus else max(1, _cores() // parallel)
    folder = Path(location) / results.folder if is_local else None
    workdir = default_workdir(is_local, folder)
    settings = LocalSettings(
        parallel=parallel, command=command, models_uri=models_uri,
        workdir=workdir, tf_threads=tf_threads,
        gpus=gpus[:parallel], data=args.data, retry_failed=args.retry_failed,
        reuse=start.lookup if start is not None else None,
        warm=warm_settings(sweep, reference, args.trainer_command) if args.warm else None,
        data_cache=workdir / "data-cache" if args.warm else None)
    _, total = count_trials(sweep.spec, windows)
    done = sum(1 for r in results.rows if r.status == "succeeded" or not args.retry_failed)
    events = Events()
    showing: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if console is not None:
        from .run_display import ProgressEvents
        resumed = f", resuming with {done} done" if done else ""
        warm = " (warm trainers)" if settings.warm is not None else ""
        console.print(f"[bold]{sweep.key}[/bold]: {total} trials on {len(windows)} window(s), "
                      f"{parallel} at a time{warm}{resumed}; results: {results.results_uri}")
        events = ProgressEvents(console, results, total, done)
        showing = events.progress
    executor = LocalExecutor(sweep, results, windows, settings, events)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with showing:
            outcome = executor.run()
    except KeyboardInterrupt:
        results.flush()
        print(f"interrupted: {len(results.rows)} trials recorded in "
              f"{results.results_uri}; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    results.flush()
    if console is not None and results.summary is not None and outcome.phase != SUSPENDED:
        from .run_display import leaderboard
        console.print(leaderboard(results.summary))
        console.print(f"results: {results.results_uri}")
        console.print(f"summary: {results.store.uri_for(results.path('summary.csv'))}")
        console.print(f"next:    tuningsweep report {results.store.uri_for(results.folder)} "
                      "(--format html --out report.html for plots)")
    if console is not None:
        for line in by_design(outcome.reason, outcome.message, results.rows):
            console.print(line)
        if sweep.spec.racing is not None and outcome.phase != SUSPENDED:
            configs, _ = count_trials(sweep.spec, windows)
            regular = [w.id for w in windows[:total // max(1, configs)]]
            eliminated = sum(1 for c in results.summary.configs if c.eliminated_at) \
                if results.summary is not None else 0
            saved = racing_saved(total, configs, eliminated, results.rows, regular)
            if saved:
                console.print(saved)
    if picked is not None and start is not None and outcome.phase in TERMINAL:
        row = finish(picked, results.store, start, list(results.rows), windows)
        if console is not None:
            for line in describe_end(row):
                console.print(line)
            history = results.store.uri_for(layout.join(picked.top, HISTORY_CSV))
            console.print(f"history: {history} (tuningsweep report "
                          f"{results.store.uri_for(picked.top)})")
    end = run_end(sweep.key, outcome.phase, outcome.stopped_reason, results.rows,
                  earlier_failures, windows, results.results_uri, outcome.reason)
    for line in end.lines:
        print(line, file=sys.stderr)
    return end.status
