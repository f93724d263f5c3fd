"""The TuningSweep model: typed, validated, defaults filled in.

:func:`parse_sweep` turns one raw document (a dict from YAML or JSON) into a
:class:`Sweep`, or raises :class:`~tuningsweep.core.errors.InvalidSpec` listing every
problem at once. Structural checks (types, unknown fields, enums, minimums) come from the
schema in :mod:`tuningsweep.core.api`; the cross-field rules a schema cannot express
(min below max, exactly one window kind, grid needs value lists, ...) live here, with the
same field paths and fixes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import api, presets
from .errors import InvalidSpec, SpecError
from .podspec import check_trainer
from .schema import validate

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

ParamValue = float | int | str


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
    """``search.racing``: drop the clearly-behind after each window (see core/racing.py).

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
    """``search.earlyStopping`` (see core/early_stopping.py)."""

    rule: Literal["median", "asha"]
    grace_epochs: int
    min_trials: int
    reduction_factor: int


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

    @property
    def max_epochs(self) -> int | None:
        """The epoch cap passed to trainers (fast mode only)."""
        return self.fast_max_epochs if self.mode == "fast" else None

    @property
    def recorded_metrics(self) -> tuple[str, ...]:
        """The objective followed by the other metrics, without duplicates."""
        seen = dict.fromkeys((self.objective_metric, *self.metrics))
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


def parse_sweep(doc: Any, source: str = "", line_of: LineOf | None = None) -> Sweep:
    """Validate one TuningSweep manifest and return the model.

    Args:
        doc: the parsed document (``apiVersion``, ``kind``, ``metadata``, ``spec``).
        source: the file name, used in error messages.
        line_of: maps a field path to its line in the file, when known.

    Raises:
        InvalidSpec: with every problem found.
    """
    locate = line_of or (lambda _p: None)
    if not isinstance(doc, dict):
        raise InvalidSpec([SpecError("", f"expected a TuningSweep mapping, got {doc!r:.60}",
                                     "start the document with apiVersion: and kind:")], source)
    normalised, errors = validate(api.MANIFEST, doc, "", locate)
    if any(e.path in ("apiVersion", "kind") for e in errors):
        raise InvalidSpec(errors, source)
    if normalised["apiVersion"] != api.API_VERSION:
        errors.append(SpecError("apiVersion", f"{normalised['apiVersion']!r} is not supported",
                                f"use {api.API_VERSION}", locate("apiVersion")))
    if normalised["kind"] != api.KIND:
        errors.append(SpecError("kind", f"{normalised['kind']!r} is not a sweep",
                                f"use {api.KIND}", locate("kind")))
    metadata = normalised.get("metadata")
    name, namespace = _identity(metadata, errors, locate)
    raw_spec = normalised.get("spec")
    if raw_spec is None:
        errors.append(SpecError("spec", "is required", "add a spec with at least an architecture"))
        raise InvalidSpec(errors, source)
    spec: Spec | None = None
    structural = len(errors)
    try:
        spec = build_spec(raw_spec, errors, locate)
    except (KeyError, TypeError, AttributeError, ValueError):
        # The spec's structure is broken; the schema errors already say how, and the
        # cross-field rules cannot run on it.
        del errors[structural:]
        if not errors:
            raise
    if errors or spec is None:
        raise InvalidSpec(errors, source)
    return Sweep(name=name, namespace=namespace, spec=spec, raw_spec=raw_spec)


def parse_spec(raw: Any, name: str, namespace: str = "default") -> Sweep:
    """Validate a bare ``spec`` mapping (as the operator reads it from the API server).

    Raises:
        InvalidSpec: with every problem found, paths starting at ``spec``.
    """
    doc = {"apiVersion": api.API_VERSION, "kind": api.KIND,
           "metadata": {"name": name, "namespace": namespace}, "spec": raw}
    return parse_sweep(doc)


def _identity(metadata: Any, errors: list[SpecError], locate: LineOf) -> tuple[str, str]:
    if not isinstance(metadata, dict):
        errors.append(SpecError("metadata.name", "is required",
                                "add metadata: {name: my-sweep}", locate("metadata")))
        return "", "default"
    name = metadata.get("name")
    namespace = metadata.get("namespace") or "default"
    if not isinstance(name, str) or not name:
        errors.append(SpecError("metadata.name", "is required", "add metadata.name: my-sweep",
                                locate("metadata")))
        name = ""
    elif len(name) > 63 or not DNS1123_LABEL.match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63] or "my-sweep"
        errors.append(SpecError(
            "metadata.name", f"{name!r} is not a valid name",
            f"use lowercase letters, digits and '-', at most 63 characters, e.g. {suggestion!r}",
            locate("metadata.name")))
    if not isinstance(namespace, str) or not DNS1123_LABEL.match(namespace):
        errors.append(SpecError("metadata.namespace", f"{namespace!r} is not a valid namespace",
                                "use lowercase letters, digits and '-'",
                                locate("metadata.namespace")))
        namespace = "default"
    return name, namespace


def build_spec(raw: dict[str, Any], errors: list[SpecError], locate: LineOf) -> Spec | None:
    """Apply the cross-field rules to a schema-checked spec and build the model.

    Appends to ``errors``; returns None when the spec cannot be built.
    """
    def err(path: str, message: str, fix: str = "") -> None:
        errors.append(SpecError(f"spec.{path}", message, fix, locate(f"spec.{path}")))

    search = raw["search"]
    algorithm = search["algorithm"]
    architecture = raw["architecture"]
    if not architecture:
        err("architecture", "must not be empty", "name the model family, e.g. mlp")
    if algorithm == "auto" and architecture not in presets.ARCHITECTURES:
        err("architecture", f"auto mode has no built-in ranges for {architecture!r}",
            f"use one of {', '.join(presets.ARCHITECTURES)}, or search.algorithm: grid/random "
            "with your own parameters")

    parameters = _parameters(raw["parameters"], algorithm, architecture, err)
    rolling, ranges = _windows(raw["windows"], err)

    max_configs = search.get("maxConfigs")
    if max_configs is None and algorithm in ("random", "tpe"):
        max_configs = 10 if algorithm == "random" else 20
    if max_configs is None and algorithm == "auto":
        max_configs = 16
    if algorithm == "auto" and max_configs is not None and max_configs < 2:
        err("search.maxConfigs", "auto mode needs at least 2 configurations (one per stage)",
            "set maxConfigs: 2 or more")

    racing = _racing(search.get("racing"), raw["mode"], rolling, ranges, err)
    _fast_without_fast_mode(raw, err)

    objective = raw["objective"]
    trainer = raw["trainer"]
    pod, pod_errors = check_trainer(trainer, locate)
    errors += pod_errors
    output = raw["output"]
    if errors:
        return None
    return Spec(
        architecture=architecture,
        mode=raw["mode"],
        fast_months=raw["fast"]["months"],
        fast_max_epochs=raw["fast"]["maxEpochs"],
        rolling=rolling,
        ranges=ranges,
        algorithm=algorithm,
        max_configs=max_configs,
        seed=search["seed"],
        parameters=parameters,
        objective_metric=objective["metric"],
        objective_goal=objective["goal"],
        metrics=tuple(raw["metrics"]),
        parallelism=raw["parallelism"],
        max_failed_trials=raw["maxFailedTrials"],
        suspend=raw["suspend"],
        trainer=Trainer(
            image=trainer["image"],
            command=tuple(trainer["command"]) if trainer.get("command") else None,
            args=tuple(trainer["args"]),
            env=tuple((e["name"], e["value"]) for e in trainer["env"]),
            resources=pod["resources"],
            node_selector=pod["nodeSelector"],
            tolerations=tuple(pod["tolerations"]),
            service_account_name=trainer.get("serviceAccountName"),
            volumes=tuple(pod["volumes"]),
            volume_mounts=tuple(pod["volumeMounts"]),
            backoff_limit=trainer["backoffLimit"],
            active_deadline_seconds=trainer["activeDeadlineSeconds"],
            priority_class_name=trainer.get("priorityClassName"),
            queue_name=trainer.get("queueName"),
        ),
        data=raw["data"],
        results=output.get("results") or None,
        models=output.get("models") or None,
        racing=racing,
        early_stopping=_early_stopping(search.get("earlyStopping")),
        budget=_budget(raw.get("budget")),
        batch_size=search["batchSize"],
    )


def _early_stopping(raw: dict[str, Any] | None) -> EarlyStopping | None:
    if raw is None:
        return None
    return EarlyStopping(rule=raw["rule"], grace_epochs=raw["graceEpochs"],
                         min_trials=raw["minTrials"], reduction_factor=raw["reductionFactor"])


def _budget(raw: dict[str, Any] | None) -> Budget | None:
    if not raw:
        return None
    return Budget(gpu_hours=raw.get("gpuHours"), trial_hours=raw.get("trialHours"))


def _fast_without_fast_mode(raw: dict[str, Any], err: Err) -> None:
    """Refuse ``spec.fast`` settings that would be ignored (mode is not fast).

    Compared with the schema's defaults rather than by the field's presence: the CRD
    writes the defaults into every sweep on a cluster, and a default ``fast`` changes
    nothing, whereas ``fast: {maxEpochs: 8}`` in full mode is a user expecting 8 epochs.
    """
    if raw["mode"] == "fast":
        return
    default = api.SPEC.properties["fast"].default
    changed = sorted(k for k, v in raw["fast"].items() if default.get(k) != v)
    if changed:
        err("fast", f"{', '.join(f'fast.{k}' for k in changed)} is set but spec.mode is "
            f"{raw['mode']!r}, so it would be ignored",
            "add mode: fast to train on one window with capped epochs, or remove spec.fast")


RACING_EXTRA_WINDOWS = 3  # rolling: maxWindows defaults to count + 3


def _racing(raw: dict[str, Any] | None, mode: str, rolling: Rolling | None,
            ranges: tuple[tuple[dt.date, dt.date], ...], err: Err) -> Racing | None:
    """The racing settings with their defaults, checked against the windows."""
    if raw is None:
        return None
    if mode == "fast":
        err("search.racing", "needs several windows, and fast mode trains on one",
            "remove search.racing, or use mode: full")
        return None
    alpha, keep = raw["alpha"], raw["keepFraction"]
    if not 0.0 < alpha < 1.0:
        err("search.racing.alpha", f"{alpha} is not between 0 and 1", "use e.g. 0.05")
    if not 0.0 < keep < 1.0:
        err("search.racing.keepFraction", f"{keep} is not between 0 and 1",
            "use e.g. 0.34 (a third of the configurations go on after each window)")
    if rolling is not None:
        max_windows = raw.get("maxWindows", rolling.count + RACING_EXTRA_WINDOWS)
        if max_windows < rolling.count:
            err("search.racing.maxWindows", f"{max_windows} is fewer than the "
                f"{rolling.count} windows of windows.rolling.count",
                f"set it to {rolling.count} or more (extra windows go to contenders)")
    else:
        max_windows = raw.get("maxWindows", len(ranges))
        if max_windows > len(ranges):
            err("search.racing.maxWindows", f"{max_windows} is more than the "
                f"{len(ranges)} windows.ranges given", "with ranges, the given ranges are "
                "the limit: add ranges or lower maxWindows")
    return Racing(alpha=alpha, max_windows=max_windows, keep_fraction=keep)


Err = Callable[..., None]


def _parameters(
    raw: dict[str, Any], algorithm: str, architecture: str, err: Err
) -> tuple[Parameter, ...]:
    table = presets.hyperparameters(architecture) if architecture in presets.ARCHITECTURES else {}
    out: list[Parameter] = []
    for name, p in raw.items():
        path = f"parameters.{name}"
        has_values = "values" in p
        has_min, has_max = "min" in p, "max" in p
        if has_values and (has_min or has_max):
            err(path, "has both values and a min/max range", "keep one of them")
            continue
        if not has_values and not (has_min and has_max):
            missing = "max" if has_min else "min" if has_max else "values, or min and max"
            err(path, f"needs {missing}", "give values: [...] or both min: and max:")
            continue
        kind = p.get("type")
        if algorithm == "auto" and table and name not in table:
            err(path, f"{name!r} is not a hyperparameter of the {architecture!r} preset",
                f"known: {', '.join(sorted(table))}")
        if has_values:
            values = tuple(p["values"])
            if kind == "int" and not all(
                isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v in values
            ):
                err(f"{path}.values", "has non-integer values but type is int",
                    "remove type: int or use whole numbers")
                continue
            if kind == "int":
                values = tuple(int(v) for v in values)  # type: ignore[arg-type]
            if kind == "float":
                if not all(isinstance(v, (int, float)) for v in values):
                    err(f"{path}.values", "has non-numeric values but type is float",
                        "remove type: float or use numbers")
                    continue
                values = tuple(float(v) for v in values)
            if kind == "string":
                values = tuple(str(v) for v in values)
            if len(set(values)) != len(values):
                err(f"{path}.values", "lists a value more than once", "remove the duplicates")
            out.append(Parameter(name=name, values=values, type=kind))
            continue
        lo, hi = float(p["min"]), float(p["max"])
        scale = p.get("scale", "linear")
        if lo > hi:
            err(f"{path}.max", f"max ({p['max']}) is below min ({p['min']})",
                "swap them or raise max")
            continue
        if scale == "log" and lo <= 0:
            err(f"{path}.min", f"a log-scale range needs min > 0, got {p['min']}",
                "raise min above 0 or use scale: linear")
            continue
        if kind == "string":
            err(f"{path}.type", "a min/max range cannot be of type string",
                "use values: [...] for strings")
            continue
        if kind == "int" and math.ceil(lo) > math.floor(hi):
            err(path, f"the integer range {p['min']}..{p['max']} contains no integer",
                "widen it to include a whole number, or drop type: int")
            continue
        if algorithm == "grid":
            err(path, "is a min/max range, but a grid needs a list of values",
                "give values: [...] or use search.algorithm: random")
            continue
        out.append(Parameter(name=name, min=lo, max=hi, scale=scale, type=kind))
    return tuple(out)


def _windows(
    raw: dict[str, Any], err: Err
) -> tuple[Rolling | None, tuple[tuple[dt.date, dt.date], ...]]:
    has_rolling, has_ranges = "rolling" in raw, "ranges" in raw
    if has_rolling == has_ranges:
        which = "both" if has_rolling else "neither"
        err("windows", f"gives {which} of rolling and ranges",
            "give exactly one: rolling: {count: 3, months: 3} or ranges: [{start:, end:}]")
        return None, ()
    if has_rolling:
        r = raw["rolling"]
        return Rolling(r["count"], r["months"], r["stepMonths"]), ()
    ranges: list[tuple[dt.date, dt.date]] = []
    for i, item in enumerate(raw["ranges"]):
        try:
            start = dt.date.fromisoformat(item["start"])
            end = dt.date.fromisoformat(item["end"])
        except (TypeError, ValueError):
            continue  # the schema already reported the malformed date
        if end < start:
            err(f"windows.ranges[{i}].end", f"{end} is before start {start}",
                "swap start and end")
            continue
        ranges.append((start, end))
    return None, tuple(ranges)
