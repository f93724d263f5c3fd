"""``tuningsweep render FILE``: the Job manifests the operator would create, as YAML.

Uses the operator's own pure builder, so what a user reviews (or pipes into a policy
checker) is exactly what the cluster will get. The ownerReference is left out because
the sweep's uid exists only once the API server has stored it.
"""

from __future__ import annotations

import datetime as dt
import sys

import yaml

from ..core.jobs import build_job, model_uri_for
from ..core.planner import plan_trials
from ..core.windows import resolve_windows
from ..io.manifests import read_sweeps
from .common import Subparsers, add_today


def add_parser(sub: Subparsers) -> None:
    """Register ``render``."""
    p = sub.add_parser("render", help="print the Job manifests the operator would create",
                       description="Print the Jobs of the first (or only) stage as a YAML "
                                   "stream, as the operator would create them.")
    p.add_argument("file", metavar="FILE")
    add_today(p)
    p.add_argument("--pushgateway-url", default="http://pushgateway.monitoring:9091",
                   help="Pushgateway URL passed to trainers")
    p.set_defaults(handler=lambda args: render_command(args.file, args.today,
                                                       args.pushgateway_url))


def render_command(path: str, today: dt.date | None, pushgateway: str) -> int:
    """Print every planned Job of every sweep in ``path``."""
    documents = []
    for sweep in read_sweeps(path):
        windows = resolve_windows(sweep.spec, today or dt.date.today())
        results = sweep.spec.results or "gs://RESULTS-BUCKET/tuning"
        for trial in plan_trials(sweep.spec, windows).trials:
            documents.append(build_job(sweep, trial, owner_uid=None, pushgateway=pushgateway,
                                       model_uri=model_uri_for(sweep, trial.id, results)))
    yaml.safe_dump_all(documents, sys.stdout, sort_keys=False)
    return 0
