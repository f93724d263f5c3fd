"""``tuningsweep operator``: run the kopf operator with the project's settings.

Flags follow kopf's and kubectl's (``--namespace`` repeatable, ``--all-namespaces``);
every flag also has a ``TUNINGSWEEP_OPERATOR_*`` environment variable, which is how the
Helm chart configures the Deployment.
"""

from __future__ import annotations

import argparse
import sys

from .common import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``operator``."""
    p = sub.add_parser("operator", help="run the Kubernetes operator",
                       description="Watch TuningSweeps and run their trials as Jobs.")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=None, metavar="NS",
                       help="watch this namespace (repeatable; env NAMESPACES)")
    scope.add_argument("-A", "--all-namespaces", action="store_true",
                       help="watch every namespace (the default without --namespace)")
    p.add_argument("--prometheus-url", default=None, help="env PROMETHEUS_URL")
    p.add_argument("--pushgateway-url", default=None,
                   help="Pushgateway URL given to trainers (env PUSHGATEWAY_URL)")
    p.add_argument("--pushgateway-admin-url", default=None,
                   help="Pushgateway URL the operator deletes groups through, if different")
    p.add_argument("--results-default", default=None,
                   help="results prefix for sweeps without spec.output.results")
    p.add_argument("--api-rate-limit", type=float, default=None,
                   help="API writes per second (default 20; env API_RATE_LIMIT)")
    p.add_argument("--api-burst", type=int, default=None, help="API write burst (default 30)")
    p.add_argument("--status-interval", type=float, default=None,
                   help="minimum seconds between status patches of a sweep (default 5)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="port of /metrics (default 8000, 0 = off)")
    p.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                   help="kopf liveness endpoint URL ('' = off)")
    p.add_argument("--peering", default=None, metavar="NAME",
                   help="use kopf peering with this name (default: standalone)")
    p.set_defaults(handler=operator_command)


def operator_command(args: argparse.Namespace) -> int:
    """Configure the settings, import the handlers, and run kopf until stopped."""
    import kopf

    from ..controller import settings as settings_module

    settings = settings_module.OperatorSettings.from_env()
    if args.namespace:
        settings.namespaces, settings.all_namespaces = list(args.namespace), False
    elif args.all_namespaces:
        settings.namespaces, settings.all_namespaces = [], True
    overrides = {
        "prometheus_url": args.prometheus_url, "pushgateway_url": args.pushgateway_url,
        "pushgateway_admin_url": args.pushgateway_admin_url,
        "results_default": args.results_default, "api_rate_limit": args.api_rate_limit,
        "api_burst": args.api_burst, "status_interval": args.status_interval,
        "metrics_port": args.metrics_port,
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    settings_module.current = settings

    from kubernetes.config import ConfigException

    from ..controller import handlers  # noqa: F401  (registers the handlers with kopf)
    from ..controller.kube import load_credentials

    try:
        load_credentials()  # fail here, clearly, rather than in kopf's retry loop
    except ConfigException as exc:
        print(f"error: no Kubernetes credentials ({exc}): set KUBECONFIG or run in a pod "
              "with a ServiceAccount", file=sys.stderr)
        return 2

    kopf.configure(verbose=False)
    kopf.run(
        standalone=args.peering is None,
        peering_name=args.peering,
        clusterwide=settings.all_namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=args.liveness or None,
    )
    return 0
