"""The trainer contract, in one place: what a trial receives and how it reports back.

Both executors pass exactly this environment (DESIGN.md, "The trainer contract"), so any
image or command that reads it can be tuned locally and on a cluster alike. The same
module names what comes back: the Pushgateway job and gauges a trainer pushes (read by
the operator's Prometheus query), the JSON-lines metrics file (written by
:class:`tuningsweep.reporting.Reporter`, read by the local executor), and where a
trial's model and ``history.json`` go. The trainer, the executors, the Prometheus query
and the tests' fake trainers all import these names; none spells them itself.

Everything here is pure. It imports nothing heavy at run time (the plan and spec types
only for type checking), because :mod:`tuningsweep.reporting`, which users' own
trainers import, builds on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import layout

if TYPE_CHECKING:
    from ..planning.planner import Trial
    from ..spec.parse import Sweep

ENV_SWEEP = "TUNINGSWEEP_SWEEP"
ENV_NAMESPACE = "TUNINGSWEEP_NAMESPACE"
ENV_TRIAL = "TUNINGSWEEP_TRIAL"
ENV_ARCHITECTURE = "TUNINGSWEEP_ARCHITECTURE"
ENV_PARAMS = "TUNINGSWEEP_PARAMS"
ENV_WINDOW_START = "TUNINGSWEEP_WINDOW_START"
ENV_WINDOW_END = "TUNINGSWEEP_WINDOW_END"
ENV_MAX_EPOCHS = "TUNINGSWEEP_MAX_EPOCHS"
ENV_DATA = "TUNINGSWEEP_DATA"
ENV_MODEL_URI = "TUNINGSWEEP_MODEL_URI"
ENV_PUSHGATEWAY = "TUNINGSWEEP_PUSHGATEWAY"
ENV_METRICS_FILE = "TUNINGSWEEP_METRICS_FILE"
#: Optional: ``N`` (intra- and inter-op threads) or ``INTRA,INTER``; the local runner
#: sets it to split the machine's cores between concurrent trials.
ENV_TF_THREADS = "TUNINGSWEEP_TF_THREADS"
#: Optional: when the executor started the trial (Unix seconds), so that a trainer can
#: report its ``startup_seconds`` (process start and imports; near 0 in a warm worker).
ENV_TRIAL_STARTED = "TUNINGSWEEP_TRIAL_STARTED"
#: Optional: a local folder where a trainer may keep windows' data for the next trials
#: (the reference trainer does, keyed by the data's fingerprint; the local runner sets it).
ENV_DATA_CACHE = "TUNINGSWEEP_DATA_CACHE"
#: Optional retry knobs of the reporter's pushes.
ENV_PUSH_ATTEMPTS = "TUNINGSWEEP_PUSH_ATTEMPTS"
ENV_PUSH_BACKOFF = "TUNINGSWEEP_PUSH_BACKOFF_SECONDS"
ENV_PUSH_TIMEOUT = "TUNINGSWEEP_PUSH_TIMEOUT_SECONDS"

#: The Pushgateway ``job`` of every trial's group; the grouping key adds
#: ``{namespace, sweep, trial}``.
PUSH_JOB = "tuningsweep"
METRIC_GAUGE = "tuningsweep_trial_metric"  # label ``metric``: one series per metric
EPOCH_GAUGE = "tuningsweep_trial_epoch"  # the last epoch reported (1-based)
FINISHED_GAUGE = "tuningsweep_trial_finished"  # 1 once the final report is in

#: What a trainer saves under ``TUNINGSWEEP_MODEL_URI`` (the report reads the history,
#: named in :mod:`.layout` with the other files of a results folder).
MODEL_FILE = "model.keras"

RECORD_EPOCH = "epoch"
RECORD_FINAL = "final"


def params_json(trial: Trial) -> str:
    """The trial's parameters as compact, key-sorted JSON (stable for annotations)."""
    return json.dumps(dict(trial.params), sort_keys=True, separators=(",", ":"))


def trial_env(
    sweep: Sweep,
    trial: Trial,
    *,
    model_uri: str,
    data: str | None = None,
    pushgateway: str | None = None,
    metrics_file: str | None = None,
) -> dict[str, str]:
    """Return the contract's environment for one trial (user ``trainer.env`` excluded)."""
    env = {
        ENV_SWEEP: sweep.name,
        ENV_NAMESPACE: sweep.namespace,
        ENV_TRIAL: trial.id,
        ENV_ARCHITECTURE: sweep.spec.architecture,
        ENV_PARAMS: params_json(trial),
        ENV_WINDOW_START: trial.window.start.isoformat(),
        ENV_WINDOW_END: trial.window.end.isoformat(),
        ENV_DATA: data or sweep.spec.data,
        ENV_MODEL_URI: model_uri,
    }
    if sweep.spec.max_epochs is not None:
        env[ENV_MAX_EPOCHS] = str(sweep.spec.max_epochs)
    if pushgateway:
        env[ENV_PUSHGATEWAY] = pushgateway
    if metrics_file:
        env[ENV_METRICS_FILE] = metrics_file
    return env


def sweep_models_uri(sweep: Sweep, results_prefix: str, models_prefix: str | None) -> str:
    """The folder under which every trial of the sweep saves its model (see layout)."""
    return layout.sweep_models(sweep.namespace, sweep.name, results_prefix, models_prefix)


#: A trial's ``TUNINGSWEEP_MODEL_URI``: ``<sweep models folder>/<trial>``.
trial_model_uri = layout.trial_model


# -- the metrics file ----------------------------------------------------------------------


def metrics_record(kind: str, metrics: Mapping[str, float], at: float,
                   epoch: int | None = None) -> str:
    """One line of the metrics file: ``{"type", ["epoch"], "metrics", "time"}``.

    Non-finite values are written as ``null`` (JSON has no NaN); ``at`` is Unix seconds.
    """
    record: dict[str, Any] = {"type": kind}
    if epoch is not None:
        record["epoch"] = epoch
    record["metrics"] = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    record["time"] = at
    return json.dumps(record, allow_nan=False) + "\n"


@dataclass
class MetricsLog:
    """What a trial's metrics file says so far.

    Attributes:
        final: the metrics of the last ``final`` record, None before one is written. A
            ``null`` (non-finite) value reads as NaN, so "reported NaN" and "did not
            report" stay different.
        epochs: per epoch (1-based), the metrics of its latest record.
    """

    final: dict[str, float] | None = None
    epochs: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def last_epoch(self) -> int:
        """The highest epoch reported (0 for none)."""
        return max(self.epochs, default=0)


def _numbers(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, float] = {}
    for name, value in raw.items():
        if value is None:
            out[str(name)] = math.nan
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[str(name)] = float(value)
    return out


def parse_metrics_log(text: str) -> MetricsLog:
    """Read a metrics file's text; a line cut short by a crash is skipped."""
    log = MetricsLog()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("type") == RECORD_FINAL:
            log.final = _numbers(record.get("metrics"))
        elif record.get("type") == RECORD_EPOCH and isinstance(record.get("epoch"), int):
            log.epochs[record["epoch"]] = _numbers(record.get("metrics"))
    return log
