"""Sweeps with a known truth, to measure what the report's statistics claim.

A scenario draws, per sweep, each configuration's true mean ~ N(0.10, spread), each
window's shift ~ N(0, shift) (added to every configuration: a hard month), and per trial
noise ~ N(0, noise); the objective is minimised. The rows go through the real
:func:`~tuningsweep.core.stats.summary.summarize` and each figure compares what it says with
the truth:

* **coverage**: share of the 95% intervals of (configuration - best) that contain the
  true difference ``mu_config - mu_best``, where best is the configuration the summary
  selected (window shifts cancel in a paired difference, so this is the truth on any
  set of common windows); ``coverage_top5`` counts only the 5 configurations ranked
  right after the best, the comparisons a reader looks at;
* **claims**: configurations called significantly worse than the best, per sweep;
  a claim is **wrong** when in truth ``mu_config <= mu_best``. ``wrong_claim_share``
  is wrong claims / claims; ``sweeps_with_wrong_claim`` the share of sweeps with at
  least one (the family-wise error rate, the stronger guarantee);
* **top1**: the best is the truly best configuration;
* the same figures for what the summary replaced or could have used instead: the old
  percentile bootstrap interval, unadjusted tests and Holm over the ``k - 1``
  comparisons with the best (both ignore that the best was selected).

What real training does, as three departures from the additive normal model:

* ``multiplicative``: ``value = mu_config x window factor x exp(noise)``, with the
  window factor ``exp(N(0, multiplicative))`` (0.4: the hardest of 3 windows about 2-3x
  the easiest) and the relative noise ``noise / 0.10``; the truth of a comparison is the
  mean over the common windows of the difference of expected values, and a claim is
  wrong when ``mu_config <= mu_best`` (then it is worse in no window);
* ``heavy_tails``: Student's t noise with that many degrees of freedom, scaled to the
  same standard deviation;
* ``diverged``: that many trials per sweep, at random, diverge: their value is the
  expected one times a factor drawn from 5-20 (val_mse 121 where the others are 2-30).
  The truth is unchanged: a diverged trial says nothing about the configuration's mean.

``power`` is the share of the configurations truly worse than the selected best that
are claimed worse. ``robust=False`` measures what the report did before
:mod:`tuningsweep.core.stats.robust` (no scale choice, nothing flagged).

With ``racing`` a simple elimination stands in for the planner's: every configuration
runs the first window, the better half (on that window) the next two, and the 3 best
after three windows get 3 extra windows, so comparisons use 1 to 6 common windows.

Used by ``bench/statistics_sim.py`` (the figures in ``docs/statistics.md``) and by the
fast test in ``tests/core/test_significance_simulation.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.stats.summary import Summary, summarize

Matrix = npt.NDArray[np.float64]
ALPHA = 0.05
#: The closest contenders: the configurations ranked 2 to ``TOP + 1``.
TOP = 5
_BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Scenario:
    """One known-truth setting (the issue's scenario by default)."""

    name: str = "issue: 30 configs, 3 windows"
    configs: int = 30
    windows: int = 3
    spread: float = 0.01
    shift: float = 0.01
    noise: float = 0.004
    racing: bool = False
    #: sd of log(noise factor) per configuration: 0 = every configuration equally noisy.
    hetero: float = 0.0
    #: sd of the log window factor: 0 = additive window shifts (``shift``).
    multiplicative: float = 0.0
    #: degrees of freedom of Student's t noise: 0 = normal noise.
    heavy_tails: float = 0.0
    #: trials per sweep that diverge (their value x 5-20).
    diverged: int = 0


def _rows(values: Matrix) -> list[ResultRow]:
    rows = []
    for c in range(values.shape[0]):
        for w in range(values.shape[1]):
            if not np.isnan(values[c, w]):
                rows.append(ResultRow(
                    sweep="sim", trial=f"c{c:04d}-w{w}", config=f"c{c:04d}", window=f"w{w}",
                    window_start="", window_end="", status="succeeded",
                    params={"arm": c}, metrics={"val_mse": float(values[c, w])},
                ))
    return rows


def _race(values: Matrix, extra: int) -> Matrix:
    """Blank out what a simple racing planner would not have run (see module docstring)."""
    raced = values.copy()
    n_configs = values.shape[0]
    survivors = np.argsort(values[:, 0])[: max(2, n_configs // 2)]
    dropped = np.setdiff1d(np.arange(n_configs), survivors)
    raced[dropped, 1:] = np.nan
    base = values.shape[1] - extra
    contenders = survivors[np.argsort(values[survivors, :base].mean(axis=1))[:3]]
    others = np.setdiff1d(np.arange(n_configs), contenders)
    raced[np.ix_(others, np.arange(base, values.shape[1]))] = np.nan
    return raced


def draw_sweep(scenario: Scenario, rng: np.random.Generator) -> tuple[Matrix, Matrix]:
    """True means (per configuration) and observed values (configuration x window)."""
    return draw_sweep_with_truth(scenario, rng)[::2]


def draw_sweep_with_truth(scenario: Scenario,
                          rng: np.random.Generator) -> tuple[Matrix, Matrix, Matrix]:
    """True means, expected values (configuration x window) and observed values."""
    extra = 3 if scenario.racing else 0
    n_windows = scenario.windows + extra
    mu = rng.normal(0.10, scenario.spread, scenario.configs)
    shifts = rng.normal(0.0, scenario.shift, n_windows)
    scale = scenario.noise * np.exp(scenario.hetero * rng.normal(size=(scenario.configs, 1)))
    shape = (scenario.configs, n_windows)
    if scenario.heavy_tails:
        df = scenario.heavy_tails
        draws = rng.standard_t(df, size=shape) * np.sqrt((df - 2) / df)
    else:
        draws = rng.normal(size=shape)
    if scenario.multiplicative:
        factor = np.exp(rng.normal(0.0, scenario.multiplicative, n_windows))
        relative = scale / 0.10
        expected = mu[:, None] * factor[None, :] * np.exp(relative**2 / 2)
        values = mu[:, None] * factor[None, :] * np.exp(relative * draws)
    else:
        expected = np.broadcast_to(mu[:, None] + shifts[None, :], shape).copy()
        values = expected + scale * draws
    for cell in rng.choice(values.size, size=scenario.diverged, replace=False):
        i, j = np.unravel_index(int(cell), shape)
        values[i, j] = expected[i, j] * rng.uniform(5.0, 20.0)
    return mu, expected, (_race(values, extra) if scenario.racing else values)


def _holm(p: Matrix) -> Matrix:
    order = np.argsort(p)
    steps = np.maximum.accumulate(np.minimum(1.0, p[order] * (len(p) - np.arange(len(p)))))
    adjusted = np.empty_like(p)
    adjusted[order] = steps
    return adjusted


def _bootstrap_covers(diffs: Matrix, truth: float, rng: np.random.Generator) -> bool:
    """The replaced method: a 95% percentile bootstrap interval of the mean difference."""
    picks = rng.integers(0, len(diffs), size=(_BOOTSTRAP_RESAMPLES, len(diffs)))
    low, high = np.percentile(diffs[picks].mean(axis=1), [2.5, 97.5])
    return bool(low <= truth <= high)


@dataclass
class _Tally:
    sweeps: int = 0
    top1: int = 0
    intervals: int = 0
    covered: int = 0
    top_intervals: int = 0
    top_covered: int = 0
    no_interval: int = 0
    claims: int = 0
    wrong: int = 0
    sweeps_wrong: int = 0
    leader_significant: int = 0
    leader_wrong: int = 0
    simultaneous_covered: int = 0
    sweeps_simultaneous_all_cover: int = 0
    bootstrap_intervals: int = 0
    bootstrap_covered: int = 0
    naive_claims: int = 0
    naive_sweeps_wrong: int = 0
    holm_claims: int = 0
    holm_sweeps_wrong: int = 0
    truly_worse: int = 0
    truly_worse_claimed: int = 0
    flagged: int = 0
    log_scale: int = 0


def _score(summary: Summary, mu: Matrix, expected: Matrix, values: Matrix, tally: _Tally,
           rng: np.random.Generator, bootstrap: bool) -> None:
    tally.sweeps += 1
    assert summary.best is not None
    b = int(summary.best[1:])
    tally.top1 += int(b == int(np.argmin(mu)))
    raw, worse_truth, claimed_worse = [], [], []
    wrong_here = 0
    all_cover = True
    for rank, c in enumerate(summary.configs):
        comp = c.comparison
        i = int(c.config[1:])
        if comp is None or i == b:
            continue
        common = ~np.isnan(values[i]) & ~np.isnan(values[b])
        truth = float(np.mean(expected[i, common] - expected[b, common]))
        tally.truly_worse += int(mu[i] > mu[b])
        tally.truly_worse_claimed += int(mu[i] > mu[b] and comp.significant)
        if comp.ci_low is None or comp.ci_high is None:
            tally.no_interval += 1
        else:
            inside = comp.ci_low <= truth <= comp.ci_high
            tally.intervals += 1
            tally.covered += int(inside)
            if rank <= TOP:
                tally.top_intervals += 1
                tally.top_covered += int(inside)
        if comp.simultaneous_low is not None and comp.simultaneous_high is not None:
            inside = comp.simultaneous_low <= truth <= comp.simultaneous_high
            tally.simultaneous_covered += int(inside)
            all_cover = all_cover and inside
        if bootstrap and comp.n_pairs >= 2:
            tally.bootstrap_intervals += 1
            tally.bootstrap_covered += _bootstrap_covers(
                values[i, common] - values[b, common], truth, rng)
        if comp.significant:
            tally.claims += 1
            wrong_here += int(mu[i] <= mu[b])
        if comp.p_unadjusted is not None:
            raw.append(comp.p_unadjusted)
            worse_truth.append(mu[i] <= mu[b])
            claimed_worse.append(comp.mean_difference > 0)
    tally.wrong += wrong_here
    tally.sweeps_simultaneous_all_cover += int(all_cover and summary.test is not None)
    tally.sweeps_wrong += int(wrong_here > 0)
    leader = summary.config(summary.best).comparison
    if leader is not None and leader.significant:
        tally.leader_significant += 1
        tally.leader_wrong += int(b != int(np.argmin(mu)))
    if raw:
        p, wrong_truth, direction = np.asarray(raw), np.asarray(worse_truth), np.asarray(claimed_worse)
        naive = (p < ALPHA) & direction
        holm = (_holm(p) < ALPHA) & direction
        tally.naive_claims += int(naive.sum())
        tally.naive_sweeps_wrong += int((naive & wrong_truth).any())
        tally.holm_claims += int(holm.sum())
        tally.holm_sweeps_wrong += int((holm & wrong_truth).any())


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def simulate(scenario: Scenario, sweeps: int, seed: int = 1, bootstrap: bool = True,
             robust: bool = True) -> dict[str, Any]:
    """Run ``sweeps`` known-truth sweeps of ``scenario`` through ``summarize``; the figures.

    ``robust=False``: the report's statistics before the scale choice and the flagging of
    diverged trials (the same sweeps for the same seed, so the two compare pairwise).
    """
    rng = np.random.default_rng(seed)
    tally = _Tally()
    for _ in range(sweeps):
        mu, expected, values = draw_sweep_with_truth(scenario, rng)
        summary = summarize(_rows(values), "val_mse", "minimize", robust=robust)
        if summary.test is not None:
            tally.flagged += len(summary.test.outliers)
            tally.log_scale += int(summary.test.scale == "log")
        _score(summary, mu, expected, values, tally, rng, bootstrap)
    n = tally.sweeps
    return {
        "scenario": asdict(scenario),
        "sweeps": n,
        "robust": robust,
        "power": _share(tally.truly_worse_claimed, tally.truly_worse),
        "flagged_per_sweep": round(tally.flagged / n, 3),
        "log_scale_share": _share(tally.log_scale, n),
        "top1": _share(tally.top1, n),
        "coverage": _share(tally.covered, tally.intervals),
        "coverage_top5": _share(tally.top_covered, tally.top_intervals),
        "intervals": tally.intervals,
        "comparisons_without_interval": tally.no_interval,
        "claims_per_sweep": round(tally.claims / n, 3),
        "wrong_claims": tally.wrong,
        "wrong_claim_share": _share(tally.wrong, tally.claims),
        "sweeps_with_wrong_claim": _share(tally.sweeps_wrong, n),
        "leader_significant_share": _share(tally.leader_significant, n),
        "leader_significant_but_not_truly_best": tally.leader_wrong,
        "simultaneous_coverage": _share(
            tally.simultaneous_covered, tally.intervals + tally.no_interval),
        "sweeps_where_all_simultaneous_cover": _share(tally.sweeps_simultaneous_all_cover, n),
        "old_bootstrap_coverage": _share(tally.bootstrap_covered, tally.bootstrap_intervals),
        "unadjusted_claims_per_sweep": round(tally.naive_claims / n, 3),
        "unadjusted_sweeps_with_wrong_claim": _share(tally.naive_sweeps_wrong, n),
        "holm_k_minus_1_claims_per_sweep": round(tally.holm_claims / n, 3),
        "holm_k_minus_1_sweeps_with_wrong_claim": _share(tally.holm_sweeps_wrong, n),
    }
