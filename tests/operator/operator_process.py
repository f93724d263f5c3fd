"""Running the real operator (``tuningsweep operator``) as a process against the emulator.

A separate process, not an in-process KopfRunner, because the crash-safety tests SIGKILL
it at arbitrary points, as a node failure or an OOM kill would, and start it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

REPO = Path(__file__).resolve().parents[2]


class OperatorProcess:
    """``python -m tuningsweep.cli operator`` with the test services' URLs."""

    def __init__(self, kubeconfig: Path, prometheus: str, pushgateway: str, workdir: Path,
                 namespace: str = "team", extra_args: tuple[str, ...] = ()) -> None:
        self.kubeconfig = kubeconfig
        self.args = [
            sys.executable, "-m", "tuningsweep.cli", "operator", "-n", namespace,
            "--prometheus-url", prometheus, "--pushgateway-url", pushgateway,
            "--status-interval", "1", "--metrics-port", "0", "--liveness", "",
            *extra_args,
        ]
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_file(self) -> Path:
        return self.workdir / f"operator-{self.starts}.log"

    def start(self) -> Self:
        self.starts += 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig),
               "TUNINGSWEEP_OPERATOR_TICK_INTERVAL": "1",
               "TUNINGSWEEP_OPERATOR_COLLECT_TIMEOUT": os.environ.get(
                   "TEST_COLLECT_TIMEOUT", "30")}
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(self.args, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=REPO)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (kopf shuts down gracefully)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return "\n".join(
            (self.workdir / f"operator-{i}.log").read_text(errors="replace")
            for i in range(1, self.starts + 1))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = ""):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
