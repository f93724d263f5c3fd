"""Trial metrics reporting: the part of the trainer contract any trainer can import.

A trainer reports each epoch's metrics and, once, its final metrics. Two sinks, used
together or alone, chosen by the executor through the environment:

* **Pushgateway** (``TUNINGSWEEP_PUSHGATEWAY``, on a cluster): every report *replaces*
  the trial's group (``PUT``; job ``tuningsweep``, grouping key ``{namespace, sweep,
  trial}``) with a handful of gauges: ``tuningsweep_trial_metric{metric=...}`` for each
  metric, ``tuningsweep_trial_epoch`` and ``tuningsweep_trial_finished`` (``1`` once the
  final report is in). Replacing rather than adding keeps the series count per trial
  small and constant, with no per-epoch labels; Prometheus scrapes the gateway and the
  operator queries Prometheus. Each push builds a fresh ``CollectorRegistry``, so a
  metric absent from the final report is not left over from an epoch.
* **Metrics file** (``TUNINGSWEEP_METRICS_FILE``, locally): JSON lines, appended and
  fsynced, one per report: ``{"type": "epoch", "epoch": N, "metrics": {...}, "time": T}``
  and ``{"type": "final", "metrics": {...}, "time": T}`` (``T`` in Unix seconds;
  non-finite values are written as ``null``). The local runner reads the last
  ``final`` record.

A trainer that can compute a naive baseline (the metric of a prediction that learned
nothing, on the same validation rows: the training mean for a regression, the majority
class for a classifier) reports it in the final metrics as ``baseline_<metric>``
(:func:`baseline_metric`); the report measures every configuration from it.

Failure policy. Per-epoch reports are best effort: an unreachable Pushgateway costs a
few bounded retries with exponential backoff and a warning on stderr, after which
epoch pushes are tried once each until one succeeds again, so a dead gateway cannot
stall training. The final report is never dropped silently: it is written to the file
first, then pushed with the full retries; if the push still fails an error is logged,
and if *no* configured sink received it :class:`ReportingError` is raised, which the
reference trainer turns into exit status 1 (the trial's result would otherwise be lost
while the Job looked successful).

Only ``prometheus_client`` is imported here. :class:`ReportingCallback` (a Keras
callback) is created on first access, so importing this module never imports
TensorFlow or Keras.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from .core.records.contract import (
    ENV_METRICS_FILE,
    ENV_NAMESPACE,
    ENV_PUSH_ATTEMPTS,
    ENV_PUSH_BACKOFF,
    ENV_PUSH_TIMEOUT,
    ENV_PUSHGATEWAY,
    ENV_SWEEP,
    ENV_TRIAL,
    EPOCH_GAUGE,
    FINISHED_GAUGE,
    METRIC_GAUGE,
    PUSH_JOB,
    RECORD_EPOCH,
    RECORD_FINAL,
    metrics_record,
)
from .core.stats.baseline import baseline_metric as baseline_metric  # re-exported for trainers

log = logging.getLogger(__name__)

JOB_NAME = PUSH_JOB  # kept for trainers that imported it from here

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 0.5
DEFAULT_TIMEOUT_SECONDS = 5.0


class ReportingError(RuntimeError):
    """The final metrics reached none of the configured sinks."""


@dataclass(frozen=True)
class FinalDelivery:
    """Where the final report went: ``None`` for a sink that is not configured."""

    written: bool | None
    pushed: bool | None


class Reporter:
    """Records a trial's per-epoch and final metrics to a Pushgateway and/or a file.

    Args:
        pushgateway_url: ``http://host:port`` (or ``host:port``); ``None`` to not push.
        metrics_file: JSON-lines file to append to; ``None`` to not write one.
        namespace, sweep, trial: the grouping key of the trial's Pushgateway group.
        attempts: tries per push (at least 1); the final push always gets all of them.
        backoff_seconds: sleep before the second try, doubled before each later one.
        timeout_seconds: HTTP timeout of one push.
        sleep: how to wait between tries (tests pass a recorder).
    """

    def __init__(
        self,
        pushgateway_url: str | None = None,
        metrics_file: str | os.PathLike[str] | None = None,
        *,
        namespace: str = "default",
        sweep: str = "",
        trial: str = "",
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self.pushgateway_url = pushgateway_url or None
        self.metrics_file = Path(metrics_file) if metrics_file else None
        self.namespace = namespace
        self.sweep = sweep
        self.trial = trial
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._sleep = sleep
        self._gateway_failing = False
        self._last_epoch = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Reporter:
        """Build a reporter from the ``TUNINGSWEEP_*`` variables of the trainer contract.

        Reads the sinks (``TUNINGSWEEP_PUSHGATEWAY``, ``TUNINGSWEEP_METRICS_FILE``), the
        identity (``TUNINGSWEEP_NAMESPACE``, ``_SWEEP``, ``_TRIAL``) and the optional
        retry knobs (``TUNINGSWEEP_PUSH_ATTEMPTS``, ``_PUSH_BACKOFF_SECONDS``,
        ``_PUSH_TIMEOUT_SECONDS``). Keyword ``overrides`` win over the environment.

        Raises:
            ValueError: a retry knob is not a number.
        """
        env = os.environ if env is None else env
        kwargs: dict[str, Any] = {
            "pushgateway_url": env.get(ENV_PUSHGATEWAY) or None,
            "metrics_file": env.get(ENV_METRICS_FILE) or None,
            "namespace": env.get(ENV_NAMESPACE) or "default",
            "sweep": env.get(ENV_SWEEP, ""),
            "trial": env.get(ENV_TRIAL, ""),
            "attempts": _env_number(env, ENV_PUSH_ATTEMPTS, DEFAULT_ATTEMPTS, int),
            "backoff_seconds": _env_number(env, ENV_PUSH_BACKOFF, DEFAULT_BACKOFF_SECONDS, float),
            "timeout_seconds": _env_number(env, ENV_PUSH_TIMEOUT, DEFAULT_TIMEOUT_SECONDS, float),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def grouping_key(self) -> dict[str, str]:
        """The trial's Pushgateway grouping key."""
        return {"namespace": self.namespace, "sweep": self.sweep, "trial": self.trial}

    def report_epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """Record the metrics of epoch ``epoch`` (1-based). Never raises on sink errors."""
        values = _numeric(metrics)
        self._last_epoch = epoch
        if self.metrics_file is not None:
            try:
                self._append(RECORD_EPOCH, values, epoch)
            except OSError as err:
                log.warning("could not write epoch %d metrics to %s: %s",
                            epoch, self.metrics_file, err)
        if self.pushgateway_url is not None:
            attempts = 1 if self._gateway_failing else self.attempts
            error = self._push(values, epoch, finished=False, attempts=attempts)
            if error is None:
                if self._gateway_failing:
                    log.warning("Pushgateway %s is reachable again", self.pushgateway_url)
                self._gateway_failing = False
            elif not self._gateway_failing:
                self._gateway_failing = True
                log.warning(
                    "epoch %d metrics not pushed to Pushgateway %s after %d attempt(s): %s; "
                    "training continues, later epochs are tried once each",
                    epoch, self.pushgateway_url, attempts, error,
                )

    def report_final(self, metrics: Mapping[str, Any]) -> FinalDelivery:
        """Record the trial's final metrics: file first, then the Pushgateway.

        Returns:
            Which configured sinks received the record.

        Raises:
            ReportingError: at least one sink is configured and none received it.
        """
        values = _numeric(metrics)
        written: bool | None = None
        pushed: bool | None = None
        problems: list[str] = []
        if self.metrics_file is not None:
            try:
                self._append(RECORD_FINAL, values)
                written = True
            except OSError as err:
                written = False
                problems.append(f"metrics file {self.metrics_file}: {err}")
                log.error("FINAL metrics NOT written to %s: %s", self.metrics_file, err)
        if self.pushgateway_url is not None:
            epoch = int(values.get("epochs_run", self._last_epoch))
            error = self._push(values, epoch, finished=True, attempts=self.attempts)
            pushed = error is None
            if error is not None:
                problems.append(f"Pushgateway {self.pushgateway_url}: {error}")
                where = (f"they are in the metrics file {self.metrics_file}" if written
                         else "and no metrics file has them")
                log.error("FINAL metrics of trial %r NOT pushed to Pushgateway %s after %d "
                          "attempt(s): %s; %s", self.trial, self.pushgateway_url,
                          self.attempts, error, where)
        if written is None and pushed is None:
            log.info("no Pushgateway or metrics file configured: final metrics not recorded")
        elif not written and not pushed:
            raise ReportingError("final metrics reached no sink: " + "; ".join(problems))
        return FinalDelivery(written=written, pushed=pushed)

    def _append(self, kind: str, values: Mapping[str, float], epoch: int | None = None) -> None:
        assert self.metrics_file is not None
        line = metrics_record(kind, values, time.time(), epoch)
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        with self.metrics_file.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _push(
        self, values: Mapping[str, float], epoch: int, *, finished: bool, attempts: int
    ) -> str | None:
        """Push one report, retrying; return None on success, else the last error."""
        assert self.pushgateway_url is not None
        registry = CollectorRegistry()
        metric = Gauge(METRIC_GAUGE, "Latest reported value of a trial metric",
                       ["metric"], registry=registry)
        for name, value in values.items():
            metric.labels(metric=name).set(value)
        Gauge(EPOCH_GAUGE, "Last epoch the trial reported (1-based)",
              registry=registry).set(epoch)
        Gauge(FINISHED_GAUGE, "1 once the trial reported its final metrics",
              registry=registry).set(1 if finished else 0)
        delay = self.backoff_seconds
        error = ""
        for attempt in range(1, attempts + 1):
            try:
                push_to_gateway(self.pushgateway_url, job=PUSH_JOB, registry=registry,
                                grouping_key=self.grouping_key, timeout=self.timeout_seconds)
                return None
            except OSError as err:  # URLError, timeouts, and non-2xx answers
                error = f"{type(err).__name__}: {err}"
            if attempt < attempts:
                log.warning("Pushgateway %s unreachable (attempt %d/%d): %s; retrying in %.2gs",
                            self.pushgateway_url, attempt, attempts, error, delay)
                self._sleep(delay)
                delay *= 2
        return error


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Keep the values that are numbers (Keras logs may carry other things)."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _env_number(env: Mapping[str, str], name: str, default: Any, kind: type) -> Any:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _build_reporting_callback() -> type:
    import keras

    class ReportingCallback(keras.callbacks.Callback):  # type: ignore[misc]
        """Keras callback reporting each epoch's logs through a :class:`Reporter`.

        Epochs are reported 1-based (Keras counts from 0), matching ``history.json``.
        """

        def __init__(self, reporter: Reporter) -> None:
            super().__init__()
            self.reporter = reporter

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            self.reporter.report_epoch(epoch + 1, dict(logs or {}))

    return ReportingCallback


def __getattr__(name: str) -> Any:
    """Create :class:`ReportingCallback` on first use, importing Keras only then."""
    if name == "ReportingCallback":
        cls = _build_reporting_callback()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
