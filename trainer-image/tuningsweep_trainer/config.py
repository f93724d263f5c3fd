"""One trial's configuration, from the environment (the contract) and matching flags.

Everything a trial needs is resolved and checked here, before any data is read or
TensorFlow is imported: the architecture must be one the trainer builds, the
hyperparameters must be known to the shared presets table
(:mod:`tuningsweep.core.spec.presets`) and inside its ranges, the window must be two ISO
dates in order. Problems are collected and reported together in one line naming each
offending parameter, so a typo in a sweep fails its first trial in a second instead of
training with a default for hours.

A flag, when given, wins over its variable; the variable is what the operator and the
local executor set.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from tuningsweep.core.records.contract import (  # the contract's names, defined once
    ENV_ARCHITECTURE,
    ENV_DATA,
    ENV_MAX_EPOCHS,
    ENV_METRICS_FILE,
    ENV_MODEL_URI,
    ENV_NAMESPACE,
    ENV_PARAMS,
    ENV_PUSHGATEWAY,
    ENV_SWEEP,
    ENV_TF_THREADS,
    ENV_TRIAL,
    ENV_WINDOW_END,
    ENV_WINDOW_START,
)
from tuningsweep.core.spec import presets

from .columns import FIXED, ColumnSpec, parse_columns
from .errors import BadInputError

#: Optional: seed of weight initialisation and shuffling (default 0).
ENV_SEED = "TUNINGSWEEP_SEED"
#: Optional: ``1`` for TensorFlow's own logs and Keras progress output.
ENV_VERBOSE = "TUNINGSWEEP_VERBOSE"

#: Flag destination (argparse ``dest``) -> environment variable it mirrors.
FLAG_ENV: dict[str, str] = {
    "sweep": ENV_SWEEP,
    "namespace": ENV_NAMESPACE,
    "trial": ENV_TRIAL,
    "architecture": ENV_ARCHITECTURE,
    "params": ENV_PARAMS,
    "window_start": ENV_WINDOW_START,
    "window_end": ENV_WINDOW_END,
    "max_epochs": ENV_MAX_EPOCHS,
    "data": ENV_DATA,
    "model_uri": ENV_MODEL_URI,
    "pushgateway": ENV_PUSHGATEWAY,
    "metrics_file": ENV_METRICS_FILE,
    "tf_threads": ENV_TF_THREADS,
    "seed": ENV_SEED,
}

ParamValue = float | int | str


@dataclass(frozen=True)
class TrialConfig:
    """A trial, resolved and validated.

    ``params`` holds every hyperparameter of the architecture: the trial's values over
    the presets' defaults, with integer parameters as ``int``.
    """

    architecture: str
    params: dict[str, ParamValue]
    window_start: dt.date
    window_end: dt.date
    data: str
    model_uri: str
    sweep: str = ""
    namespace: str = "default"
    trial: str = ""
    max_epochs: int | None = None
    pushgateway: str | None = None
    metrics_file: str | None = None
    tf_threads: tuple[int, int] | None = None
    seed: int = 0
    verbose: bool = False
    given_params: dict[str, ParamValue] = field(default_factory=dict)
    columns: ColumnSpec = FIXED

    @property
    def epochs(self) -> int:
        """Epochs to train at most: ``epochs``, capped by ``TUNINGSWEEP_MAX_EPOCHS``."""
        epochs = int(self.params["epochs"])
        return min(epochs, self.max_epochs) if self.max_epochs is not None else epochs


def resolve(
    flags: Mapping[str, str | None], env: Mapping[str, str], *, verbose: bool = False,
    columns: Mapping[str, str | None] | None = None,
) -> TrialConfig:
    """Combine flags (by ``FLAG_ENV`` key; ``None`` = not given) and environment.

    ``columns`` holds the raw ``--target``/``--numeric``/``--categorical``/``--sequence``
    values (see :mod:`.columns`); without any, the fixed schema is read.

    Raises:
        BadInputError: one line naming every problem found.
    """
    def get(key: str) -> str:
        value = flags.get(key)
        if value is None:
            value = env.get(FLAG_ENV[key], "")
        return value.strip()

    problems: list[str] = []

    architecture = get("architecture")
    if not architecture:
        problems.append(f"no architecture: set {ENV_ARCHITECTURE} or pass --architecture")
    elif architecture not in presets.ARCHITECTURES:
        problems.append(f"unknown architecture {architecture!r}; known: "
                        f"{', '.join(presets.ARCHITECTURES)}")

    given = _parse_params(get("params"), problems)
    params: dict[str, ParamValue] = {}
    if architecture in presets.ARCHITECTURES:
        param_problems = presets.check_params(architecture, dict(given))
        problems.extend(param_problems)
        if not param_problems:
            params = _merge_params(architecture, given)

    start = _parse_date(get("window_start"), ENV_WINDOW_START, "--window-start", problems)
    end = _parse_date(get("window_end"), ENV_WINDOW_END, "--window-end", problems)
    if start is not None and end is not None and start > end:
        problems.append(f"window start {start} is after window end {end}")

    raw_columns = dict(columns or {})
    column_spec = parse_columns(
        raw_columns.get("target"), raw_columns.get("numeric"), raw_columns.get("categorical"),
        raw_columns.get("sequence"), architecture, problems)

    max_epochs = _parse_int(get("max_epochs"), ENV_MAX_EPOCHS, problems, minimum=1)
    seed = _parse_int(get("seed"), ENV_SEED, problems, minimum=0)
    threads = _parse_threads(get("tf_threads"), problems)

    data = get("data")
    if not data:
        problems.append(f"no data URI: set {ENV_DATA} or pass --data")
    model_uri = get("model_uri")
    if not model_uri:
        problems.append(f"no model URI: set {ENV_MODEL_URI} or pass --model-uri")

    if problems:
        raise BadInputError("; ".join(problems))
    assert start is not None and end is not None
    return TrialConfig(
        architecture=architecture,
        params=params,
        given_params=given,
        window_start=start,
        window_end=end,
        data=data,
        model_uri=model_uri,
        sweep=get("sweep"),
        namespace=get("namespace") or "default",
        trial=get("trial"),
        max_epochs=max_epochs,
        pushgateway=get("pushgateway") or None,
        metrics_file=get("metrics_file") or None,
        tf_threads=threads,
        seed=seed or 0,
        verbose=verbose or env.get(ENV_VERBOSE, "") not in ("", "0", "false"),
        columns=column_spec,
    )


def _parse_params(raw: str, problems: list[str]) -> dict[str, ParamValue]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        problems.append(f"{ENV_PARAMS} is not valid JSON ({err.msg} at column {err.colno})")
        return {}
    if not isinstance(value, dict):
        problems.append(f"{ENV_PARAMS} must be a JSON object, got {type(value).__name__}")
        return {}
    return value


def _merge_params(architecture: str, given: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    table = presets.hyperparameters(architecture)
    merged = presets.defaults(architecture)
    merged.update(given)
    for name, spec in table.items():
        if spec.kind == "int":
            merged[name] = int(merged[name])
        elif spec.kind == "float":
            merged[name] = float(merged[name])
    return merged


def _parse_date(raw: str, env_name: str, flag: str, problems: list[str]) -> dt.date | None:
    if not raw:
        problems.append(f"no {env_name}: set it or pass {flag} (an ISO date, YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{env_name} must be an ISO date (YYYY-MM-DD), got {raw!r}")
        return None


def _parse_int(raw: str, env_name: str, problems: list[str], *, minimum: int) -> int | None:
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{env_name} must be an integer, got {raw!r}")
        return None
    if value < minimum:
        problems.append(f"{env_name} must be >= {minimum}, got {value}")
        return None
    return value


def _parse_threads(raw: str, problems: list[str]) -> tuple[int, int] | None:
    if not raw:
        return None
    parts = raw.split(",")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or min(numbers) < 1:
        problems.append(f"{ENV_TF_THREADS} must be N or INTRA,INTER (positive integers), "
                        f"got {raw!r}")
        return None
    return (numbers[0], numbers[-1])
