"""``tuningsweep-trainer``: the console entry point of the reference trainer.

Usage::

    tuningsweep-trainer [train] [--architecture A --params JSON --window-start D ...]
    tuningsweep-trainer --describe [--json]
    tuningsweep-trainer make-data --start D --end D --out DIR|gs://... [--data URI]

``train`` (the default, so a container's ``ENTRYPOINT`` needs no arguments) reads the
trainer contract's ``TUNINGSWEEP_*`` variables; each has a flag that overrides it.

Exit status: ``0`` success; ``2`` bad input (unknown or out-of-range hyperparameter,
bad data URI, a window without data, malformed flags); ``1`` training failed (including
saving the model, or the final metrics reaching no sink). Errors are one line on stderr
starting ``tuningsweep-trainer: error:``; tracebacks are printed only for unexpected
failures, which are bugs or infrastructure problems rather than user errors.

The order of work is chosen so that bad input fails fast: configuration and
hyperparameters are checked, then the window's data is read (numpy only), and only then
is TensorFlow imported and the model built. On success the final metrics are also
printed to stdout as one line, ``TUNINGSWEEP_RESULT {...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from tuningsweep import reporting
from tuningsweep.core.records.contract import ENV_DATA, ENV_DATA_CACHE, ENV_TRIAL_STARTED
from tuningsweep.core.spec import presets

from . import config
from .errors import EXIT_OK, BadInputError, TrainerError, TrainingFailedError

PROG = "tuningsweep-trainer"
RESULT_PREFIX = "TUNINGSWEEP_RESULT "

log = logging.getLogger("tuningsweep_trainer")


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train one trial of a TuningSweep (the default command). Every flag "
                    "overrides the TUNINGSWEEP_* variable named in its help.",
        epilog="Other command: make-data (write synthetic data as daily partitions). "
               "Exit status: 0 ok, 2 bad input, 1 training failed.",
    )
    flag = parser.add_argument
    flag("--describe", action="store_true",
         help="print the architectures' hyperparameters, defaults and ranges, then exit")
    flag("--json", action="store_true", help="with --describe: print JSON")
    flag("--verbose", action="store_true",
         help="TensorFlow logs and Keras progress (TUNINGSWEEP_VERBOSE=1)")
    for dest, env in config.FLAG_ENV.items():
        flag(f"--{dest.replace('_', '-')}", dest=dest, default=None, metavar=_METAVARS.get(dest),
             help=f"{_HELP[dest]} ({env})")
    table = parser.add_argument_group(
        "your own table", "name the columns to read (also as a sweep's spec.trainer.args); "
        "other columns are ignored. Without these, the fixed schema num_*, tok_*, hist_*, "
        "target is read")
    table.add_argument("--target", default=None, metavar="COL",
                       help="the column to predict (numbers); rows without a value are dropped")
    table.add_argument("--numeric", default=None, metavar="COL,COL...",
                       help="numeric inputs, normalised on the training split; missing values "
                            "take the training mean")
    table.add_argument("--categorical", default=None, metavar="COL,COL...",
                       help="categorical inputs (any text), embedded by every architecture; "
                            "vocabulary from the training split")
    table.add_argument("--sequence", default=None, metavar="COL,COL...",
                       help="one ordered numeric series, oldest first; needed by cnn and lstm")
    return parser


_HELP = {
    "sweep": "sweep name",
    "namespace": "sweep namespace",
    "trial": "trial id, e.g. c0007-w1",
    "architecture": f"model family: {', '.join(presets.ARCHITECTURES)}",
    "params": "hyperparameters as a JSON object; see --describe",
    "window_start": "first day of the window, YYYY-MM-DD",
    "window_end": "last day of the window (inclusive), YYYY-MM-DD",
    "max_epochs": "cap on epochs (fast mode)",
    "data": "synthetic://ctr?seed=N, gs://bucket/prefix/ or a local folder",
    "model_uri": "local folder or gs:// prefix for model.keras, history.json, tensorboard/",
    "pushgateway": "Pushgateway URL to push metrics to",
    "metrics_file": "JSON-lines file to append metrics to",
    "tf_threads": "TensorFlow threads: N or INTRA,INTER",
    "seed": "random seed of initialisation and shuffling (default 0)",
}
_COLUMN_ROLES = ("target", "numeric", "categorical", "sequence")
_METAVARS = {"params": "JSON", "window_start": "DATE", "window_end": "DATE",
             "max_epochs": "N", "data": "URI", "model_uri": "URI", "pushgateway": "URL",
             "metrics_file": "PATH", "tf_threads": "N[,M]", "seed": "N"}


def _make_data_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} make-data",
        description="Write synthetic data as daily partitions <out>/date=YYYY-MM-DD/part-0.csv.",
    )
    parser.add_argument("--data", default=None, metavar="URI",
                        help="synthetic source (default: TUNINGSWEEP_DATA, else "
                             "synthetic://ctr?seed=0)")
    parser.add_argument("--start", required=True, metavar="DATE", help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, metavar="DATE", help="last day (inclusive)")
    parser.add_argument("--out", required=True, metavar="URI", help="local folder or gs:// prefix")
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"),
                        help="file format (parquet needs pyarrow)")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the trainer; return the exit status (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if env is None else env
    _configure_logging()
    try:
        if args[:1] == ["make-data"]:
            return _make_data(_parse(_make_data_parser(), args[1:]), environ)
        if args[:1] == ["train"]:
            args = args[1:]
        parsed = _parse(_train_parser(), args)
        if parsed.describe:
            _describe(as_json=parsed.json)
            return EXIT_OK
        flags = {dest: getattr(parsed, dest) for dest in config.FLAG_ENV}
        columns = {role: getattr(parsed, role) for role in _COLUMN_ROLES}
        trial = config.resolve(flags, environ, verbose=parsed.verbose, columns=columns)
        return _train(trial, environ)
    except _Quiet as err:
        return err.exit_code
    except BrokenPipeError:
        # stdout closed early (``--describe | head``): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return TrainingFailedError.exit_code
    except TrainerError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:
        traceback.print_exc()
        print(f"{PROG}: error: training failed: {type(err).__name__}: {err}", file=sys.stderr)
        return TrainingFailedError.exit_code


def _parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace:
    try:
        return parser.parse_args(args)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            raise
        # argparse already printed usage and the error line.
        raise _Quiet(str(exit_.code)) from None


class _Quiet(BadInputError):
    """Bad flags: argparse has already printed the message."""


class _StderrHandler(logging.Handler):
    """Write records to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _configure_logging() -> None:
    """Send the trainer's and the reporter's INFO logs to stderr, once per process."""
    for name in ("tuningsweep_trainer", "tuningsweep"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
            logger.addHandler(handler)


def _describe(*, as_json: bool) -> None:
    table = presets.describe()
    if as_json:
        print(json.dumps(table, indent=2))
        return
    for arch, rows in table.items():
        print(f"{arch}:")
        for row in rows:
            bounds = f"[{_fmt(row['low'])}, {_fmt(row['high'])}]"
            if row["choices"]:
                bounds = "{" + ", ".join(map(str, row["choices"])) + "}"  # type: ignore[call-overload]
            auto = row["auto"]
            auto_text = f"  auto {auto}" if auto else ""
            log_text = " log" if row["log"] else ""
            print(f"  {row['name']:<24} {row['kind']:<6} default {_fmt(row['default']):<8} "
                  f"{bounds}{log_text}{auto_text}  ({row['group']}) {row['description']}")


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _trial_started(env: Mapping[str, str]) -> float:
    """When the trial started (Unix seconds): as the executor says, else this process's
    start (Linux), else now."""
    with contextlib.suppress(ValueError):
        return float(env.get(ENV_TRIAL_STARTED, ""))
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return time.time() - up + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def _train(trial: config.TrialConfig, env: Mapping[str, str]) -> int:
    from .baseline import naive_baselines
    from .outputs import ModelOutput
    from .window_cache import prepared_window

    try:
        reporter = reporting.Reporter.from_env(
            env, pushgateway_url=trial.pushgateway, metrics_file=trial.metrics_file,
            namespace=trial.namespace, sweep=trial.sweep, trial=trial.trial,
        )
    except ValueError as err:
        raise BadInputError(str(err)) from None
    output = ModelOutput(trial.model_uri)

    log.info("trial %s: %s on %s..%s from %s, up to %d epoch(s), params %s",
             trial.trial or "(unnamed)", trial.architecture, trial.window_start,
             trial.window_end, trial.data, trial.epochs, json.dumps(trial.given_params))
    data_started = time.time()
    startup = data_started - _trial_started(env)
    prepared, came_from = prepared_window(trial.data, trial.window_start, trial.window_end,
                                          trial.columns, env.get(ENV_DATA_CACHE) or None)
    data_seconds = time.time() - data_started
    train_part, val_part = prepared.train, prepared.validation
    log.info("%d training and %d validation examples (validation from %s; window %s)",
             len(train_part), len(val_part), dt.date.fromordinal(int(val_part.day[0])),
             {"read": "read", "memory": "kept in memory", "disk": "from the cache"}[came_from])
    for line in prepared.report.lines():
        log.info("data: %s", line)

    from . import tf_runtime

    tf_started = time.time()
    tf = tf_runtime.import_tensorflow(verbose=trial.verbose, threads=trial.tf_threads,
                                      seed=trial.seed)
    from . import training

    startup += time.time() - tf_started
    train_started = time.time()

    log.info("training on %s", tf_runtime.device_summary(tf))
    with output:
        result = training.train(
            tf, trial.architecture, trial.params, train_part, val_part,
            epochs=trial.epochs, seed=trial.seed, tensorboard_dir=output.tensorboard_dir,
            callbacks=[reporting.ReportingCallback(reporter)], verbose=trial.verbose,
            layout=prepared.layout,
        )
        result.metrics["missing_values"] = float(prepared.report.missing_values)
        result.metrics.update(naive_baselines(train_part.target, val_part.target))
        # Where the trial's time went (results.csv's startup/data/train_seconds).
        result.metrics.update({"startup_seconds": max(0.0, startup),
                               "data_seconds": data_seconds,
                               "train_seconds": time.time() - train_started})
        document = _result_document(trial, result)
        document["data_report"] = prepared.report.as_dict()
        model_file = output.save(result.model, result.history, document,
                                 preprocessing=prepared.preprocessing)
    log.info("saved %s", model_file)

    try:
        reporter.report_final(result.metrics)
    except reporting.ReportingError as err:
        raise TrainingFailedError(str(err)) from None
    print(RESULT_PREFIX + json.dumps(result.metrics, sort_keys=True), flush=True)
    return EXIT_OK


def _result_document(trial: config.TrialConfig, result: Any) -> dict[str, Any]:
    return {
        "sweep": trial.sweep, "namespace": trial.namespace, "trial": trial.trial,
        "architecture": trial.architecture, "params": trial.params,
        "window": {"start": trial.window_start.isoformat(), "end": trial.window_end.isoformat()},
        "data": trial.data, "epochs": trial.epochs, "metrics": result.metrics,
    }


def _make_data(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .data_files import write_partitions
    from .data_synthetic import SyntheticSource

    uri = args.data or env.get(ENV_DATA) or "synthetic://ctr?seed=0"
    if not uri.startswith("synthetic://"):
        raise BadInputError(f"make-data generates synthetic data; --data must be "
                            f"synthetic://ctr?seed=N, got {uri!r}")
    source = SyntheticSource.parse(uri)
    try:
        start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    except ValueError as err:
        raise BadInputError(f"--start/--end must be ISO dates (YYYY-MM-DD): {err}") from None
    if start > end:
        raise BadInputError(f"--start {start} is after --end {end}")
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    written = write_partitions(((d, source.day(d)) for d in days), args.out, args.format)
    log.info("wrote %d day(s), %d rows each, to %s", len(written), source.rows_per_day, args.out)
    return EXIT_OK
