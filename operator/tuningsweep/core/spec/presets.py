"""The hyperparameter table shared by the planner's auto mode and the reference trainer.

One table says, per architecture, which hyperparameters exist, their defaults, the range
the trainer accepts, and the range auto mode searches. The trainer validates a trial's
parameters against it before training (a typo must not burn GPU hours), and the planner
draws auto-mode configurations from it, so the two can never disagree.

Auto mode tunes the ``learning_rate`` group first (initial learning rate, decay factor,
early-stopping patience), then the ``model`` group with the best learning-rate values
fixed; that ordering follows how the original tuning script was used in practice.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

ParamKind = Literal["float", "int", "choice"]
ParamGroup = Literal["learning_rate", "model", "fixed"]


@dataclass(frozen=True)
class HyperParameter:
    """One hyperparameter the reference trainer understands.

    ``low``/``high`` bound what the trainer accepts; ``auto_low``/``auto_high`` (or
    ``auto_values``) are what auto mode searches. ``group`` orders auto-mode stages;
    ``fixed`` parameters are never tuned automatically.
    """

    name: str
    kind: ParamKind
    default: float | int | str
    description: str
    group: ParamGroup
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[str, ...] = ()
    auto_low: float | None = None
    auto_high: float | None = None
    auto_values: tuple[float | int | str, ...] = ()

    def check(self, value: object) -> str | None:
        """Return why ``value`` is not acceptable for this parameter, or None if it is."""
        if self.kind == "choice":
            if value not in self.choices:
                return f"must be one of {list(self.choices)}, got {value!r}"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if self.kind == "int" and float(value) != int(value):
            return f"must be an integer, got {value!r}"
        if self.low is not None and value < self.low:
            return f"must be >= {self.low}, got {value!r}"
        if self.high is not None and value > self.high:
            return f"must be <= {self.high}, got {value!r}"
        return None


_COMMON: tuple[HyperParameter, ...] = (
    HyperParameter(
        "learning_rate", "float", 1e-3, "initial Adam learning rate", "learning_rate",
        low=1e-6, high=1.0, log=True, auto_low=1e-4, auto_high=3e-2,
    ),
    HyperParameter(
        "decay_factor", "float", 0.95, "exponential learning-rate decay per epoch",
        "learning_rate", low=0.05, high=1.0, log=True, auto_low=0.5, auto_high=0.99,
    ),
    HyperParameter(
        "early_stopping_patience", "int", 5, "epochs without val_loss improvement before stopping",
        "learning_rate", low=0, high=1000, auto_values=(2, 3, 5, 8),
    ),
    HyperParameter(
        "batch_size", "int", 256, "examples per gradient step", "model",
        low=1, high=1 << 16, auto_values=(128, 256, 512),
    ),
    HyperParameter(
        "dropout", "float", 0.1, "dropout rate before the output layer", "model",
        low=0.0, high=0.95, auto_low=0.0, auto_high=0.5,
    ),
    HyperParameter(
        "epochs", "int", 30, "maximum epochs (capped by TUNINGSWEEP_MAX_EPOCHS in fast mode)",
        "fixed", low=1, high=100_000,
    ),
)

_ARCHITECTURE_SPECIFIC: dict[str, tuple[HyperParameter, ...]] = {
    "mlp": (
        HyperParameter(
            "hidden_units", "int", 128, "units per hidden dense layer", "model",
            low=1, high=8192, auto_values=(64, 128, 256, 512),
        ),
        HyperParameter(
            "num_layers", "int", 2, "number of hidden dense layers", "model",
            low=1, high=16, auto_values=(1, 2, 3, 4),
        ),
    ),
    "bow": (
        HyperParameter(
            "embedding_dim", "int", 32, "token embedding size", "model",
            low=1, high=1024, auto_values=(16, 32, 64),
        ),
        HyperParameter(
            "hidden_units", "int", 64, "units of the dense layer after pooling", "model",
            low=1, high=8192, auto_values=(32, 64, 128),
        ),
    ),
    "cnn": (
        HyperParameter(
            "filters", "int", 32, "convolution filters over the history sequence", "model",
            low=1, high=1024, auto_values=(16, 32, 64),
        ),
        HyperParameter(
            "kernel_size", "int", 3, "convolution kernel width", "model",
            low=1, high=16, auto_values=(2, 3, 5),
        ),
        HyperParameter(
            "hidden_units", "int", 64, "units of the dense head", "model",
            low=1, high=8192, auto_values=(32, 64, 128),
        ),
    ),
    "lstm": (
        HyperParameter(
            "lstm_units", "int", 32, "LSTM units over the history sequence", "model",
            low=1, high=1024, auto_values=(16, 32, 64),
        ),
        HyperParameter(
            "hidden_units", "int", 64, "units of the dense head", "model",
            low=1, high=8192, auto_values=(32, 64, 128),
        ),
    ),
}

ARCHITECTURES: tuple[str, ...] = tuple(_ARCHITECTURE_SPECIFIC)

#: Auto mode's stages, in the order they run.
AUTO_STAGES: tuple[ParamGroup, ...] = ("learning_rate", "model")


def hyperparameters(architecture: str) -> dict[str, HyperParameter]:
    """Return the hyperparameters of ``architecture``, by name.

    Raises:
        KeyError: the architecture is not one the reference trainer builds.
    """
    specific = _ARCHITECTURE_SPECIFIC[architecture]
    return {p.name: p for p in (*_COMMON, *specific)}


def defaults(architecture: str) -> dict[str, float | int | str]:
    """Return the default value of every hyperparameter of ``architecture``."""
    return {name: p.default for name, p in hyperparameters(architecture).items()}


def check_params(architecture: str, params: dict[str, object]) -> list[str]:
    """Return one message per unknown or out-of-range parameter (empty when all are fine)."""
    table = hyperparameters(architecture)
    problems: list[str] = []
    for name, value in params.items():
        spec = table.get(name)
        if spec is None:
            known = ", ".join(sorted(table))
            close = difflib.get_close_matches(name, table, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown hyperparameter {name!r} for {architecture!r}{hint}; "
                            f"known: {known}")
            continue
        why = spec.check(value)
        if why is not None:
            problems.append(f"hyperparameter {name!r} {why}")
    return problems


def describe() -> dict[str, list[dict[str, object]]]:
    """Return the whole table as plain data (for ``--describe --json`` and docs)."""
    out: dict[str, list[dict[str, object]]] = {}
    for arch in ARCHITECTURES:
        rows: list[dict[str, object]] = []
        for p in hyperparameters(arch).values():
            rows.append({
                "name": p.name, "kind": p.kind, "default": p.default, "group": p.group,
                "low": p.low, "high": p.high, "log": p.log, "choices": list(p.choices),
                "auto": list(p.auto_values) if p.auto_values else (
                    [p.auto_low, p.auto_high] if p.auto_low is not None else None),
                "description": p.description,
            })
        out[arch] = rows
    return out
