"""The local cluster's certificates and keys, made with the ``openssl`` command.

One CA signs everything: the API server's serving certificate, Kueue's webhook serving
certificate, and a client certificate per identity. The identities are the ones a
kubeadm cluster uses, so the API server's built-in RBAC policy and the Node authorizer
apply to them unchanged: ``admin`` in ``system:masters`` (setting up, and the tests'
own requests), ``system:kube-controller-manager``, ``system:kube-scheduler``,
``system:node:<name>`` in ``system:nodes`` (one per stand-in node). Kueue runs as
``kueue``, bound by :mod:`cluster.kueue` to its own ClusterRole. The operator gets no
certificate: it authenticates with a ServiceAccount token (:mod:`cluster.up`).

Keys are RSA 2048; certificates are valid for ten years (the folder is thrown away with
``make cluster-down``).
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .processes import ClusterError

DAYS = "3650"


@dataclass(frozen=True)
class Pair:
    """A certificate and its private key, PEM files."""

    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {result.stderr.strip()}")


class Pki:
    """Certificates under one folder, made on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ca = Pair(folder / "ca.crt", folder / "ca.key")
        if not self.ca.cert.exists():
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
                     "-subj", "/CN=tuningsweep-local-ca", "-keyout", str(self.ca.key),
                     "-out", str(self.ca.cert),
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")

    def serving(self, name: str, *, ips: tuple[str, ...] = ("127.0.0.1",),
                dns: tuple[str, ...] = ("localhost",)) -> Pair:
        """A TLS server certificate for ``ips`` and ``dns`` names."""
        sans = ",".join([f"IP:{ip}" for ip in ips] + [f"DNS:{d}" for d in dns])
        return self._signed(name, f"/CN={name}", "serverAuth", sans)

    def client(self, name: str, user: str, groups: tuple[str, ...] = ()) -> Pair:
        """A client certificate: CN is the user name, each O a group."""
        subject = "".join(f"/O={g}" for g in groups) + f"/CN={user}"
        return self._signed(name, subject, "clientAuth", None)

    def service_account_key(self) -> Pair:
        """The key pair that signs ServiceAccount tokens (``cert`` is the public key)."""
        pair = Pair(self.folder / "sa.pub", self.folder / "sa.key")
        if not pair.key.exists():
            _openssl("genrsa", "-out", str(pair.key), "2048")
            _openssl("rsa", "-in", str(pair.key), "-pubout", "-out", str(pair.cert))
        return pair

    def _signed(self, name: str, subject: str, usage: str, sans: str | None) -> Pair:
        pair = Pair(self.folder / f"{name}.crt", self.folder / f"{name}.key")
        if pair.cert.exists():
            return pair
        csr = self.folder / f"{name}.csr"
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                 "-keyout", str(pair.key), "-out", str(csr))
        extensions = [f"extendedKeyUsage={usage}", "keyUsage=critical,digitalSignature,keyEncipherment"]
        if sans:
            extensions.append(f"subjectAltName={sans}")
        with tempfile.NamedTemporaryFile("w", suffix=".ext", dir=self.folder) as ext:
            ext.write("\n".join(extensions) + "\n")
            ext.flush()
            # A random serial, not -CAcreateserial's shared counter file: certificates
            # are made from several threads at once (Kueue's and the nodes').
            _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca.cert),
                     "-CAkey", str(self.ca.key), "-set_serial", str(secrets.randbits(120)),
                     "-days", DAYS,
                     "-extfile", ext.name, "-out", str(pair.cert))
        csr.unlink()
        return pair
