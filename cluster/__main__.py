"""``python -m cluster up|down|status``: the local cluster's command line (``make cluster-up``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .processes import ClusterError, ProcessTable
from .up import REPO, UserCluster


def main(argv: list[str] | None = None) -> int:
    """Run ``up``, ``down`` or ``status``; exit 0 on success, 1 with a message otherwise."""
    parser = argparse.ArgumentParser(prog="python -m cluster",
                                     description="A real Kubernetes control plane on loopback, "
                                                 "with Kueue, stand-in GPU nodes and the operator.")
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state", type=Path, default=REPO / ".cluster",
                        help="folder for the cluster's state, logs and env (default: .cluster)")
    args = parser.parse_args(argv)
    cluster = UserCluster(args.state.resolve())
    try:
        if args.command == "up":
            cluster.up()
            print(f"cluster-up: ready. Try:\n  source {cluster.env_file}\n"
                  "  kubectl apply -f examples/fast.yaml\n  kubectl get sweeps -n ml -w",
                  file=sys.stderr)
        elif args.command == "down":
            cluster.down()
        else:
            running = ProcessTable(cluster.state, tie_to_parent=False).recorded()
            for proc in running:
                print(f"{proc.name:<26} pid {proc.pid:<8} log {proc.log}")
            if not cluster.running():
                print("cluster: not running (make cluster-up)", file=sys.stderr)
                return 1
    except ClusterError as exc:
        print(f"cluster-{args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
