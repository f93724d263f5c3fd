"""``tuningsweep validate FILE...``: check manifests and show what each would run.

Besides the manifest itself, a sweep's data folder is checked against its windows
(:mod:`tuningsweep.io.data_check`): a missing folder or a window without data is an error, a window
reaching outside the data or with days missing inside it a warning. With the reference
trainer (no ``spec.trainer.command``) the checks ``run`` makes before training are made
here too: the hyperparameters' names and ranges against its table, and the columns named
in ``spec.trainer.args`` against a sample of the data (present; numbers where
``--numeric`` says so).
"""

from __future__ import annotations

import argparse
import datetime as dt

from ..core.planning.planner import count_trials
from ..core.planning.windows import resolve_windows
from ..core.spec.errors import InvalidSpec
from ..io.data_check import check_data
from ..io.manifests import read_sweeps
from .common import EXIT_OK, EXIT_USAGE, Subparsers, add_today, print_error, print_warnings
from .run_checks import check_reference_params


def add_parser(sub: Subparsers) -> None:
    """Register ``validate``."""
    p = sub.add_parser("validate", help="check sweep manifests",
                       description="Check sweep manifests; print each sweep's trial count.")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON manifest ('-' = stdin)")
    add_today(p)
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return validate_command(args.files, args.today)


def validate_command(files: list[str], today: dt.date | None) -> int:
    """Print ``ok: NAME: C configurations x W windows = T trials`` or every error; 0 or 2."""
    anchor = today or dt.date.today()
    failed = False
    for path in files:
        try:
            sweeps = read_sweeps(path)
        except InvalidSpec as exc:
            # Every file is checked, so one run reports all the files' problems.
            failed = True
            print_error(exc)
            continue
        for sweep in sweeps:
            windows = resolve_windows(sweep.spec, anchor)
            try:
                if sweep.spec.trainer.reference:
                    check_reference_params(sweep)
                print_warnings(check_data(sweep, windows, remote_required=False, source=path))
            except InvalidSpec as exc:
                failed = True
                print_error(exc)
                continue
            configs, trials = count_trials(sweep.spec, windows)
            stages = " (auto: 2 stages)" if sweep.spec.algorithm == "auto" else ""
            if sweep.spec.racing is not None:
                stages = (f" before racing ({len(windows)} windows pinned: contenders may "
                          "get the extra ones)")
            per_config = trials // max(1, configs)
            plural = "s" if per_config != 1 else ""
            print(f"ok: {sweep.name}: {configs} configurations x {per_config} window{plural} "
                  f"= {trials} trials{stages}")
    return EXIT_USAGE if failed else EXIT_OK
