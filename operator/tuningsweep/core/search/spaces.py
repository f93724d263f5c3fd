"""Search spaces: grid, random and the stages of auto mode, all seeded and lazy.

A grid is never materialised. Its points are numbered in mixed radix, and the shuffled
order is a keyed pseudo-random permutation of ``range(size)`` (a Feistel network with
cycle walking), so the first ``maxConfigs`` points of a 10^10-point grid cost
``maxConfigs`` steps and constant memory. The original tuning script drew its
experiments randomly out of the grid; a seeded permutation keeps that property while
making every prefix stable: raising ``maxConfigs`` later extends the sweep, it does not
reshuffle it.

Random draws are seeded per configuration index, so configuration ``c0007`` has the same
values on every machine and in every run, whatever else was drawn before it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..spec import presets
from ..spec.parse import Parameter, ParamValue

_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread bijection on 64-bit integers."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class Permutation:
    """A seeded bijection of ``range(size)`` evaluated one index at a time."""

    _ROUNDS = 4

    def __init__(self, size: int, seed: int) -> None:
        if size < 1:
            raise ValueError("size must be positive")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._keys = [_mix64((seed & _M64) * 8 + r + 1) for r in range(self._ROUNDS)]

    def _feistel(self, x: int) -> int:
        left, right = x >> self._half, x & self._mask
        for key in self._keys:
            left, right = right, left ^ (_mix64(right ^ key) & self._mask)
        return (left << self._half) | right

    def __call__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(index)
        x = index
        # Cycle walking: the Feistel domain is at most 4x the size, so few steps are needed.
        while True:
            x = self._feistel(x)
            if x < self.size:
                return x


def grid_size(parameters: Sequence[Parameter]) -> int:
    """The number of points of a grid over value-list parameters."""
    return math.prod(len(p.values or ()) for p in parameters)


def _strides(parameters: Sequence[Parameter]) -> list[tuple[str, tuple[ParamValue, ...], int]]:
    """(name, values, stride) per parameter; the last parameter varies fastest."""
    out: list[tuple[str, tuple[ParamValue, ...], int]] = []
    stride = 1
    for p in reversed(parameters):
        values = p.values or ()
        out.append((p.name, values, stride))
        stride *= len(values)
    out.reverse()
    return out


def grid_point(parameters: Sequence[Parameter], index: int) -> dict[str, ParamValue]:
    """The grid point with mixed-radix number ``index`` (last parameter varies fastest)."""
    return {name: values[(index // stride) % len(values)]
            for name, values, stride in _strides(parameters)}


def grid_configs(
    parameters: Sequence[Parameter], seed: int, limit: int | None
) -> Iterator[dict[str, ParamValue]]:
    """Yield grid points in the seeded shuffled order, at most ``limit`` of them."""
    size = grid_size(parameters)
    count = size if limit is None else min(limit, size)
    order = Permutation(size, seed)
    strides = _strides(parameters)
    for i in range(count):
        index = order(i)
        yield {name: values[(index // stride) % len(values)] for name, values, stride in strides}


def _round(value: float) -> float:
    # Six significant digits keep CSVs and tables readable; no tuning result depends on
    # the seventh digit of a learning rate.
    return float(f"{value:.6g}")


def draw(p: Parameter, rng: random.Random) -> ParamValue:
    """Draw one value of ``p``: a choice from its values, or from its range."""
    if p.values is not None:
        return p.values[rng.randrange(len(p.values))]
    lo, hi = float(p.min or 0.0), float(p.max or 0.0)
    if p.scale == "log":
        value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        value = rng.uniform(lo, hi)
    if p.type == "int":
        return min(max(round(value), math.ceil(lo)), math.floor(hi))
    return _round(value)


def random_configs(
    parameters: Sequence[Parameter], seed: int, limit: int, stream: str = ""
) -> Iterator[dict[str, ParamValue]]:
    """Yield up to ``limit`` distinct random configurations.

    Each draw is seeded by (seed, stream, draw number), so the sequence is the same on any
    machine. A small discrete space may yield fewer than ``limit`` distinct points.
    """
    seen: set[tuple[ParamValue, ...]] = set()
    attempts = 0
    produced = 0
    max_attempts = limit * 20 + 100
    while produced < limit and attempts < max_attempts:
        rng = random.Random(f"{seed}:{stream}:{attempts}")
        attempts += 1
        config = {p.name: draw(p, rng) for p in parameters}
        key = tuple(config.values())
        if key in seen:
            continue
        seen.add(key)
        produced += 1
        yield config


@dataclass(frozen=True)
class AutoStage:
    """One stage of auto mode: the parameters it tunes and its share of configurations."""

    index: int
    group: presets.ParamGroup
    parameters: tuple[Parameter, ...]
    configs: int


def _preset_parameter(hp: presets.HyperParameter) -> Parameter:
    if hp.auto_values:
        return Parameter(hp.name, values=tuple(hp.auto_values))
    kind: Literal["int", "float"] = "int" if hp.kind == "int" else "float"
    return Parameter(hp.name, min=hp.auto_low, max=hp.auto_high,
                     scale="log" if hp.log else "linear", type=kind)


def auto_stages(
    architecture: str, overrides: Sequence[Parameter], max_configs: int
) -> tuple[AutoStage, ...]:
    """Auto mode's stages: the learning-rate group first, then the rest.

    The built-in ranges come from the shared presets table; a user-given parameter of the
    same name replaces the built-in range. Half of ``max_configs`` (rounded up) goes to the
    first stage.
    """
    table = presets.hyperparameters(architecture)
    given = {p.name: p for p in overrides}
    groups: dict[presets.ParamGroup, list[Parameter]] = {g: [] for g in presets.AUTO_STAGES}
    for name, hp in table.items():
        if hp.group == "fixed" and name not in given:
            continue
        group: presets.ParamGroup = hp.group if hp.group != "fixed" else "model"
        groups[group].append(given.get(name) or _preset_parameter(hp))
    first = math.ceil(max_configs / 2)
    shares = (first, max_configs - first)
    return tuple(
        AutoStage(i, group, tuple(groups[group]), shares[i])
        for i, group in enumerate(presets.AUTO_STAGES)
    )


def stage_configs(
    stage: AutoStage, seed: int, fixed: Mapping[str, ParamValue]
) -> Iterator[dict[str, ParamValue]]:
    """Yield a stage's configurations: its own draws plus the values fixed before it."""
    for drawn in random_configs(stage.parameters, seed, stage.configs, stream=f"auto{stage.index}"):
        yield {**fixed, **drawn}
