"""``tuningsweep operator``: run the kopf operator with the project's settings.

Flags follow kopf's and kubectl's (``--namespace`` repeatable, ``--all-namespaces``);
every setting's flag also has a ``TUNINGSWEEP_OPERATOR_*`` environment variable, which is
how the Helm chart configures the Deployment. Both come from the one settings definition
(:mod:`tuningsweep.controller.settings`), which also validates them.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..controller.settings import OperatorSettings, describe, flag_of, settable_fields
from .common import EXIT_OK, EXIT_USAGE, Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``operator``."""
    p = sub.add_parser("operator", help="run the Kubernetes operator",
                       description="Watch TuningSweeps and run their trials as Jobs.")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=None, metavar="NS",
                       help="watch this namespace (repeatable; env "
                            "TUNINGSWEEP_OPERATOR_NAMESPACES)")
    scope.add_argument("-A", "--all-namespaces", action="store_true",
                       help="watch every namespace (the default without --namespace)")
    for setting in settable_fields():
        p.add_argument(flag_of(setting), dest=setting.name, default=None,
                       metavar=setting.metadata["metavar"], help=describe(setting))
    p.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                   help="kopf liveness endpoint URL ('' = off)")
    p.add_argument("--peering", default=None, metavar="NAME",
                   help="use kopf peering with this name (default: standalone)")
    p.set_defaults(handler=operator_command)


def operator_command(args: argparse.Namespace) -> int:
    """Validate the settings, import the handlers, and run kopf until stopped."""
    settings = OperatorSettings.load(
        flags={s.name: getattr(args, s.name) for s in settable_fields()},
        environ=os.environ, namespaces=args.namespace, all_namespaces=args.all_namespaces)

    import kopf
    from kubernetes.config import ConfigException

    from ..controller import settings as settings_module

    settings_module.current = settings

    from ..controller import handlers  # noqa: F401  (registers the handlers with kopf)
    from ..controller.kube import load_credentials

    try:
        load_credentials()  # fail here, clearly, rather than in kopf's retry loop
    except ConfigException as exc:
        print(f"error: no Kubernetes credentials ({exc}): set KUBECONFIG or run in a pod "
              "with a ServiceAccount", file=sys.stderr)
        return EXIT_USAGE

    kopf.configure(verbose=False)
    kopf.run(
        standalone=args.peering is None,
        peering_name=args.peering,
        clusterwide=settings.all_namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=args.liveness or None,
    )
    return EXIT_OK
