"""``synthetic://ctr?seed=N``: click-through-like data for any date, deterministically.

Each day is generated from its own random stream, seeded by ``(seed, date ordinal)``,
so a day's rows are the same whichever window asks for it and whatever other days are
read: windows are reproducible and can be generated lazily, one day at a time. What is
shared between days (feature weights, token effects) comes from a stream seeded by
``seed`` alone.

The target behaves like a click-through rate: a sigmoid of a linear score over the
numeric features, the mean effect of the row's tokens and the recent history, plus

* **seasonality**: a yearly and a weekly cycle in the base rate, and
* **drift**: the numeric weights, the feature means and the base rate move along
  slow cycles several years long,

so two windows a few months apart really differ and a configuration that wins on one is
not guaranteed to win on another (which is what tuning across windows is for).

URI query parameters: ``seed`` (int, default 0) and ``rows_per_day`` (int, default 200:
small, so tests and the demo are quick; raise it for benchmarks).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import urllib.parse
from dataclasses import dataclass

import numpy as np

from . import schema
from .columns import FIXED, ColumnSpec
from .errors import BadInputError
from .examples import Examples
from .table import Table, from_examples

SCHEME = "synthetic"
DATASETS = ("ctr",)
DEFAULT_ROWS_PER_DAY = 200
MAX_ROWS_PER_DAY = 10_000_000

#: Months are counted from here for the drift term; any fixed date would do.
_DRIFT_ORIGIN = dt.date(2020, 1, 1)
_DRIFT_PERIOD_MONTHS = 40.0


@dataclass(frozen=True)
class SyntheticSource:
    """A parsed ``synthetic://`` URI."""

    dataset: str = "ctr"
    seed: int = 0
    rows_per_day: int = DEFAULT_ROWS_PER_DAY

    @classmethod
    def parse(cls, uri: str) -> SyntheticSource:
        """Parse ``synthetic://ctr?seed=N[&rows_per_day=K]``.

        Raises:
            BadInputError: unknown dataset, unknown query key or a non-integer value.
        """
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != SCHEME:
            raise BadInputError(f"not a synthetic data URI: {uri!r}")
        dataset = parts.netloc or parts.path.strip("/")
        if dataset not in DATASETS:
            raise BadInputError(
                f"unknown synthetic dataset {dataset!r} in {uri!r}; known: {', '.join(DATASETS)}"
            )
        values: dict[str, int] = {"seed": 0, "rows_per_day": DEFAULT_ROWS_PER_DAY}
        for key, raw in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if key not in values:
                raise BadInputError(
                    f"unknown query parameter {key!r} in data URI {uri!r}; "
                    "known: seed, rows_per_day"
                )
            try:
                values[key] = int(raw)
            except ValueError:
                raise BadInputError(
                    f"query parameter {key!r} in data URI {uri!r} must be an integer, got {raw!r}"
                ) from None
        if values["seed"] < 0:
            raise BadInputError(f"seed in data URI {uri!r} must be >= 0")
        if not 1 <= values["rows_per_day"] <= MAX_ROWS_PER_DAY:
            raise BadInputError(
                f"rows_per_day in data URI {uri!r} must be between 1 and {MAX_ROWS_PER_DAY}"
            )
        return cls(dataset=dataset, seed=values["seed"], rows_per_day=values["rows_per_day"])

    def day(self, date: dt.date) -> Examples:
        """Generate the rows of one day (identical on every call)."""
        return generate_day(self.seed, date, self.rows_per_day)

    def window(self, start: dt.date, end: dt.date) -> Examples:
        """Generate every day from ``start`` to ``end`` inclusive, in date order."""
        days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
        return Examples.concat([self.day(d) for d in days])

    def table(self, start: dt.date, end: dt.date, columns: ColumnSpec = FIXED) -> Table:
        """The window's rows as read from files: the columns ``columns`` names."""
        return from_examples(self.window(start, end), columns)


@dataclass(frozen=True)
class _World:
    """What every day of one seed shares: weights, their drift, and token effects."""

    weights: np.ndarray
    weight_drift: np.ndarray
    mean_drift: np.ndarray
    drift_phase: np.ndarray
    token_effect: np.ndarray
    token_popularity: np.ndarray


@functools.lru_cache(maxsize=8)
def _world(seed: int) -> _World:
    rng = np.random.default_rng([seed, 0x7E57])
    popularity = 1.0 / np.arange(1, schema.VOCAB_SIZE, dtype=np.float64) ** 1.1
    return _World(
        weights=rng.normal(0.0, 0.6, schema.NUM_NUMERIC),
        weight_drift=rng.normal(0.0, 0.4, schema.NUM_NUMERIC),
        mean_drift=rng.normal(0.0, 0.3, schema.NUM_NUMERIC),
        drift_phase=rng.uniform(0.0, 2 * math.pi, schema.NUM_NUMERIC),
        token_effect=np.concatenate([[0.0], rng.normal(0.0, 0.8, schema.VOCAB_SIZE - 1)]),
        token_popularity=popularity / popularity.sum(),
    )


def _months_since_origin(date: dt.date) -> float:
    return (date.year - _DRIFT_ORIGIN.year) * 12 + (date.month - 1) + (date.day - 1) / 31.0


def generate_day(seed: int, date: dt.date, rows: int) -> Examples:
    """Generate ``rows`` examples for ``date`` from the stream seeded by (seed, date)."""
    world = _world(seed)
    rng = np.random.default_rng([seed, date.toordinal()])
    months = _months_since_origin(date)
    # Drift: slow, bounded cycles (periods of several years) in the feature means and
    # weights, so nearby windows are similar and distant ones differ.
    drift = np.sin(2 * math.pi * months / _DRIFT_PERIOD_MONTHS + world.drift_phase)

    numeric = rng.normal(world.mean_drift * drift, 1.0, (rows, schema.NUM_NUMERIC))

    lengths = rng.integers(1, schema.NUM_TOKENS + 1, rows)
    ids = rng.choice(
        np.arange(1, schema.VOCAB_SIZE), size=(rows, schema.NUM_TOKENS), p=world.token_popularity
    )
    present = np.arange(schema.NUM_TOKENS)[None, :] < lengths[:, None]
    tokens = np.where(present, ids, schema.PAD_TOKEN)
    token_score = world.token_effect[tokens].sum(axis=1) / lengths

    # Each row's history is a noisy walk around a per-row latent propensity.
    propensity = rng.normal(0.0, 1.0, rows)
    steps = rng.normal(0.0, 0.3, (rows, schema.HISTORY_LENGTH))
    history = propensity[:, None] + np.cumsum(steps, axis=1) * 0.5
    recency = np.linspace(0.2, 1.0, schema.HISTORY_LENGTH)
    history_score = (history * recency).sum(axis=1) / recency.sum()

    day_of_year = date.timetuple().tm_yday
    season = 0.5 * math.sin(2 * math.pi * day_of_year / 365.25) + 0.15 * (date.weekday() >= 5)
    weights = world.weights + world.weight_drift * drift
    base = -2.2 + 0.3 * math.sin(2 * math.pi * months / (1.5 * _DRIFT_PERIOD_MONTHS))
    logit = base + season + 0.5 * numeric @ weights + 0.6 * token_score + 0.8 * history_score
    target = 1.0 / (1.0 + np.exp(-logit)) + rng.normal(0.0, 0.01, rows)

    return Examples(
        numeric=numeric.astype(np.float32),
        tokens=tokens.astype(np.int32),
        history=history.astype(np.float32),
        target=np.clip(target, 0.0, 1.0).astype(np.float32),
        day=np.full(rows, date.toordinal(), np.int32),
    )
