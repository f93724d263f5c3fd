"""Kubeconfig files for the local cluster's identities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .pki import Pair

CONTEXT = "tuningsweep-local"


def write_kubeconfig(path: Path, server: str, ca: Path, *, cert: Pair | None = None,
                     token: str | None = None, namespace: str | None = None) -> Path:
    """Write a kubeconfig for ``server`` with a client certificate or a bearer token."""
    user: dict[str, Any] = {}
    if cert is not None:
        user = {"client-certificate": str(cert.cert), "client-key": str(cert.key)}
    elif token is not None:
        user = {"token": token}
    context: dict[str, Any] = {"cluster": CONTEXT, "user": CONTEXT}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server,
                                                   "certificate-authority": str(ca)}}],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [{"name": CONTEXT, "context": context}],
        "current-context": CONTEXT,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
