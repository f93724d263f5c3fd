"""The TuningSweep model: the typed records a validated manifest becomes.

Plain frozen dataclasses, filled in by :mod:`tuningsweep.core.spec.parse` (which re-exports
them); every other module reads a sweep through these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ParamValue = float | int | str

#: A trainer reports a metric's naive baseline as ``baseline_<metric>``.
BASELINE_PREFIX = "baseline_"


@dataclass(frozen=True)
class Parameter:
    """One search dimension: a value list, or a min/max range with a scale."""

    name: str
    values: tuple[ParamValue, ...] | None = None
    min: float | None = None
    max: float | None = None
    scale: Literal["linear", "log"] = "linear"
    type: Literal["float", "int", "string"] | None = None

    @property
    def is_range(self) -> bool:
        """Whether this parameter is a min/max range rather than a value list."""
        return self.values is None


@dataclass(frozen=True)
class DateWindow:
    """An inclusive date range with its stable id (``w0`` is the most recent)."""

    id: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Rolling:
    """Windows relative to the anchor date."""

    count: int
    months: int
    step_months: int


@dataclass(frozen=True)
class Racing:
    """``search.racing``: drop the clearly-behind after each window (see core/search/racing.py).

    Attributes:
        alpha: family-wise error rate of "significantly behind the leader" (Holm).
        max_windows: windows a contender may run on, extra windows included.
        keep_fraction: share of configurations kept after each regular window.
    """

    alpha: float
    max_windows: int
    keep_fraction: float


@dataclass(frozen=True)
class EarlyStopping:
    """``search.earlyStopping`` (see core/search/early_stopping.py)."""

    rule: Literal["median", "asha"]
    grace_epochs: int
    min_trials: int
    reduction_factor: int


@dataclass(frozen=True)
class WarmStart:
    """``search.warmStart`` of a recurring sweep (see core/recurring/runs.py).

    Attributes:
        keep: previous runs' best configurations carried into a run's plan.
        reuse: copy trials an earlier run trained on the same window, data and trainer.
    """

    keep: int = 5
    reuse: bool = True


@dataclass(frozen=True)
class Budget:
    """``budget``: no new trial once the trials have used this much (None: no limit)."""

    gpu_hours: float | None
    trial_hours: float | None


@dataclass(frozen=True)
class Trainer:
    """The trainer container (cluster) or command (local)."""

    image: str
    command: tuple[str, ...] | None
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    resources: Mapping[str, Any]  # quantities as canonical strings
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    service_account_name: str | None
    volumes: tuple[Mapping[str, Any], ...]
    volume_mounts: tuple[Mapping[str, Any], ...]
    backoff_limit: int
    active_deadline_seconds: int
    priority_class_name: str | None = None
    queue_name: str | None = None  # Kueue LocalQueue: Jobs are created suspended
    automount_service_account_token: bool = False  # no API token in trial pods unless asked
    function: str | None = None  # a Python trainer, MODULE:FUNCTION, called per trial
    trials_per_pod: int = 1  # trials of one window run in one Job's pod (core/kube/packing.py)

    @property
    def reference(self) -> bool:
        """Whether trials run the reference trainer (no command and no function of the
        user's own): only then do its hyperparameter table and data layout apply."""
        return self.command is None and self.function is None


@dataclass(frozen=True)
class Spec:
    """A validated ``spec`` with every default filled in."""

    architecture: str
    mode: Literal["full", "fast"]
    fast_months: int
    fast_max_epochs: int
    rolling: Rolling | None
    ranges: tuple[tuple[dt.date, dt.date], ...]
    algorithm: Literal["grid", "random", "auto", "tpe"]
    max_configs: int | None
    seed: int
    parameters: tuple[Parameter, ...]
    objective_metric: str
    objective_goal: Literal["minimize", "maximize"]
    metrics: tuple[str, ...]
    parallelism: int
    max_failed_trials: int
    suspend: bool
    trainer: Trainer
    data: str
    results: str | None
    models: str | None
    racing: Racing | None = None
    early_stopping: EarlyStopping | None = None
    budget: Budget | None = None
    batch_size: int = 4
    schedule: str | None = None  # a cron expression: the sweep is recurring
    warm_start: WarmStart | None = None
    history_limit: int = 3  # a recurring sweep's finished runs kept on a cluster
    # What a recurring sweep's run carries over from the runs before it, pinned when the
    # run starts (not manifest fields): configurations entering the plan first, and the
    # earlier results tpe learns from besides the run's own (window ids replaced by
    # their dates, config ids by ``<run>/<config>``, so they never clash with the run's).
    seeds: tuple[Mapping[str, ParamValue], ...] = ()
    prior: tuple[Any, ...] = ()  # ResultRow (core/records/results.py), kept untyped here

    @property
    def max_epochs(self) -> int | None:
        """The epoch cap passed to trainers (fast mode only)."""
        return self.fast_max_epochs if self.mode == "fast" else None

    @property
    def recorded_metrics(self) -> tuple[str, ...]:
        """The objective followed by the other metrics, then the objective's naive
        baseline (``baseline_<objective>``, when the trainer reports one: the report shows
        each configuration's distance from it), without duplicates."""
        seen = dict.fromkeys((self.objective_metric, *self.metrics,
                              BASELINE_PREFIX + self.objective_metric))
        return tuple(seen)


@dataclass(frozen=True)
class Sweep:
    """A validated TuningSweep: identity plus spec, and the normalised raw spec."""

    name: str
    namespace: str
    spec: Spec
    raw_spec: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """``namespace/name``, the sweep's identity in logs and results paths."""
        return f"{self.namespace}/{self.name}"


LineOf = Callable[[str], "int | None"]
