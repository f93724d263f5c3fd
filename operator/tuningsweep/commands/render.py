"""``tuningsweep render FILE``: the Job manifests the operator would create, as YAML.

Uses the operator's own pure builder, so what a user reviews (or pipes into a policy
checker) is exactly what the cluster will get. The ownerReference is left out because
the sweep's uid exists only once the API server has stored it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

import yaml

from ..controller.settings import OperatorSettings
from ..core.kube.jobs import build_job, model_uri_for
from ..core.kube.packing import build_pack_job, pack_trials
from ..core.planning.planner import plan_trials
from ..core.planning.windows import resolve_windows
from ..core.records import layout
from ..io.manifests import read_sweeps
from .common import Subparsers, add_today


def add_parser(sub: Subparsers) -> None:
    """Register ``render``."""
    p = sub.add_parser("render", help="print the Job manifests the operator would create",
                       description="Print the Jobs of the first (or only) stage as a YAML "
                                   "stream, as the operator would create them.")
    p.add_argument("file", metavar="FILE")
    add_today(p)
    p.add_argument("--pushgateway-url", default=None,
                   help="Pushgateway URL passed to trainers (default: the operator's, from "
                        "TUNINGSWEEP_OPERATOR_PUSHGATEWAY_URL or its built-in default)")
    p.add_argument("--results-default", default=None,
                   help="results prefix for sweeps without spec.output.results (default: "
                        "the operator's, from TUNINGSWEEP_OPERATOR_RESULTS_DEFAULT)")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    # The same settings object, flags and environment the operator reads, so the Jobs
    # printed are the ones it would create with that configuration.
    settings = OperatorSettings.load(flags={"pushgateway_url": args.pushgateway_url,
                                            "results_default": args.results_default})
    return render_command(args.file, args.today, settings.pushgateway_url,
                          settings.results_default)


def render_command(path: str, today: dt.date | None, pushgateway: str,
                   results_default: str | None = None) -> int:
    """Print every planned Job of every sweep in ``path``.

    A sweep without ``spec.output.results`` and no default gets a placeholder bucket in
    its model locations (the operator would refuse it until one is set).
    """
    documents: list[dict[str, Any]] = []
    for sweep in read_sweeps(path):
        windows = resolve_windows(sweep.spec, today or dt.date.today())
        results = sweep.spec.results or results_default or "gs://RESULTS-BUCKET/tuning"
        trials = plan_trials(sweep.spec, windows).trials
        size = sweep.spec.trainer.trials_per_pod
        if size > 1:
            # Packs as the operator fills them when every pod is free; which trials share
            # a pod depends on what runs when (core/kube/packing.py).
            models = layout.sweep_models(sweep.namespace, sweep.name, results,
                                         sweep.spec.models)
            documents.extend(build_pack_job(sweep, pack, models_uri=models, owner_uid=None,
                                            pushgateway=pushgateway)
                             for pack in pack_trials(trials, size, len(trials)))
            continue
        for trial in trials:
            documents.append(build_job(sweep, trial, owner_uid=None, pushgateway=pushgateway,
                                       model_uri=model_uri_for(sweep, trial.id, results)))
    yaml.safe_dump_all(documents, sys.stdout, sort_keys=False)
    return 0
