"""The TuningSweep model: typed, validated, defaults filled in.

:func:`parse_sweep` turns one raw document (a dict from YAML or JSON) into a
:class:`Sweep`, or raises :class:`~tuningsweep.core.spec.errors.InvalidSpec` listing every
problem at once. Structural checks (types, unknown fields, enums, minimums) come from the
schema in :mod:`tuningsweep.core.spec.api`; the cross-field rules a schema cannot express
(min below max, exactly one window kind, grid needs value lists, ...) live here, with the
same field paths and fixes.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from . import api, presets
from .errors import InvalidSpec, SpecError
from .model import (
    Budget,
    DateWindow,
    EarlyStopping,
    LineOf,
    Parameter,
    ParamValue,
    Racing,
    Rolling,
    Spec,
    Sweep,
    Trainer,
    WarmStart,
)
from .podspec import check_trainer
from .schema import validate
from .sections import (
    Err,
    budget_section,
    check_fast_without_fast_mode,
    early_stopping_section,
    parameters_section,
    racing_section,
    warm_start_section,
    windows_section,
)

__all__ = [
    "Budget",
    "DateWindow",
    "EarlyStopping",
    "Err",
    "LineOf",
    "ParamValue",
    "Parameter",
    "Racing",
    "Rolling",
    "Spec",
    "Sweep",
    "Trainer",
    "WarmStart",
    "build_spec",
    "parse_spec",
    "parse_sweep",
    "with_live_fields",
]

#: The spec fields that may change while a sweep runs (api.MUTABLE_SPEC_FIELDS), by the
#: :class:`Spec` attribute each sets. Everything else is pinned when the sweep starts.
_MUTABLE_ATTRIBUTES = {"parallelism": "parallelism", "suspend": "suspend",
                       "maxFailedTrials": "max_failed_trials"}
assert tuple(_MUTABLE_ATTRIBUTES) == api.MUTABLE_SPEC_FIELDS

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

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
    if spec is not None and spec.schedule is not None and len(name) > 52:
        # A recurring sweep's runs are sweeps named <name>-<run date> (11 more characters).
        errors.append(SpecError("metadata.name", f"{name!r} is too long for a recurring sweep",
                                "use at most 52 characters: each run is named "
                                "<name>-YYYY-MM-DD", locate("metadata.name")))
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

    parameters = parameters_section(raw["parameters"], algorithm, architecture, err)
    rolling, ranges = windows_section(raw["windows"], err)

    max_configs = search.get("maxConfigs")
    if max_configs is None and algorithm in ("random", "tpe"):
        max_configs = 10 if algorithm == "random" else 20
    if max_configs is None and algorithm == "auto":
        max_configs = 16
    if algorithm == "auto" and max_configs is not None and max_configs < 2:
        err("search.maxConfigs", "auto mode needs at least 2 configurations (one per stage)",
            "set maxConfigs: 2 or more")

    racing = racing_section(search.get("racing"), raw["mode"], rolling, ranges, err)
    schedule = raw.get("schedule")
    warm_start = warm_start_section(search.get("warmStart"), schedule, err)
    history_limit = raw.get("historyLimit")
    if history_limit is not None and schedule is None:
        err("historyLimit", "is how many runs of a recurring sweep are kept, and this sweep "
            "is not recurring", "add spec.schedule (e.g. '0 6 1 * *'), or remove historyLimit")
    check_fast_without_fast_mode(raw, err)
    if raw["trainer"].get("function") and raw["trainer"].get("command"):
        err("trainer.function", "is set together with trainer.command",
            "give the command of a program or the function of a Python trainer, not both")
    per_pod = raw["trainer"].get("trialsPerPod") or 1
    if per_pod > api.MAX_TRIALS_PER_POD:
        err("trainer.trialsPerPod", f"is more than {api.MAX_TRIALS_PER_POD}: a pod's failure "
            "would cost that many trials a new pod", f"use {api.MAX_TRIALS_PER_POD} or fewer")
    packed = per_pod > 1
    if packed and raw["trainer"].get("command"):
        err("trainer.trialsPerPod", "packs trials into one process, and a program cannot be "
            "called twice in one", "set trainer.function (MODULE:FUNCTION) in place of "
            "trainer.command, or trialsPerPod: 1")
    if packed and search.get("earlyStopping"):
        err("trainer.trialsPerPod", "cannot be combined with search.earlyStopping (a packed "
            "pod cannot stop one of its trials)", "remove search.earlyStopping, or set "
            "trialsPerPod: 1")

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
            automount_service_account_token=bool(trainer.get("automountServiceAccountToken")),
            function=trainer.get("function") or None,
            trials_per_pod=trainer.get("trialsPerPod") or 1,
        ),
        data=raw["data"],
        results=output.get("results") or None,
        models=output.get("models") or None,
        racing=racing,
        early_stopping=early_stopping_section(search.get("earlyStopping")),
        budget=budget_section(raw.get("budget")),
        batch_size=search["batchSize"],
        schedule=schedule,
        warm_start=warm_start,
        history_limit=3 if history_limit is None else history_limit,
    )


def with_live_fields(pinned: Sweep, live: Sweep | None) -> Sweep:
    """The sweep as started, with the fields that may change taken from its live spec.

    ``live`` is the current spec, parsed (and so defaulted) like the first; None keeps
    the pinned values (the live spec did not validate: the API server should have
    refused it, and a sweep is never steered by a spec it cannot read).
    """
    if live is None:
        return pinned
    changes = {attr: getattr(live.spec, attr) for attr in _MUTABLE_ATTRIBUTES.values()}
    return dataclasses.replace(pinned, spec=dataclasses.replace(pinned.spec, **changes))
