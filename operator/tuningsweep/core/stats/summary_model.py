"""The leaderboard's data: what :func:`tuningsweep.core.stats.summary.summarize` returns.

Kept apart from the computation so the renderers (``summary.csv``, the report, the
cluster status) depend on plain frozen records only. Differences are always
``this configuration - reference`` in the objective's units, so for a minimised
objective a positive difference means "worse than the reference".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tuningsweep.core.records.results import ParamValue
from tuningsweep.core.stats.significance import LOW_POWER_PAIRS, min_two_sided_p

Goal = Literal["minimize", "maximize"]
GOALS: tuple[Goal, ...] = ("minimize", "maximize")

#: Family-wise error rate of the significance claims (and 1 - the interval coverage).
ALPHA = 0.05

ALIVE = "alive"
ELIMINATED = "eliminated"


@dataclass(frozen=True)
class SignificanceTest:
    """How the claims "worse than the best" are decided, for the whole sweep.

    The paired mean difference over common windows is compared with the noise left
    after removing each configuration's level and each window's shift: the residual
    variance of the additive model (``residual_sd`` with ``df`` degrees of freedom),
    moderated per configuration with ``prior_df`` prior degrees of freedom (infinite
    when the configurations look equally noisy: then it is the pooled variance).
    Each p-value is multiplied by ``n_hypotheses``, the number of pairs of
    configurations: the best is chosen from the same data, so only a correction over
    every pair it could have been compared in keeps the rate of wrong claims at
    ``alpha`` (see ``docs/statistics.md``).
    """

    method: str
    alpha: float
    residual_sd: float
    df: int
    n_hypotheses: int
    prior_df: float
    #: ``linear`` (the metric's units) or ``log`` (ratios), and why
    #: (:mod:`tuningsweep.core.stats.robust`); ``residual_sd`` is on this scale.
    scale: str = "linear"
    scale_reason: str = ""
    #: Trials left out of the noise and the comparisons (diverged or broken).
    outliers: tuple[FlaggedTrial, ...] = ()
    #: Sentences saying where the model's assumptions visibly fail.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlaggedTrial:
    """A trial the additive model does not fit (diverged or broken), left out of the tests.

    ``value`` is its result and ``expected`` what the model fitted without it predicts,
    both in the objective's units; ``t`` its standardised prediction error on the
    comparison scale and ``p`` the Bonferroni-adjusted p-value that flagged it (NaN
    when the ratio rule flagged it: ``ratio`` is then its value over its window's median).
    """

    config: str
    window: str
    value: float
    expected: float
    t: float
    p: float
    #: Set when flagged by the ratio rule: the value over its window's median.
    ratio: float | None = None


@dataclass(frozen=True)
class Comparison:
    """A configuration paired with a reference configuration on their common windows.

    ``p_value`` is the adjusted p-value of the test that decides significance (None
    when no test is possible); ``ci_low``/``ci_high`` the 95% paired t-interval of the
    mean difference (None with fewer than 2 common windows); ``simultaneous_low/high``
    the interval that matches the claim (it excludes 0 exactly when ``significant``).
    The sign and Wilcoxon p-values describe consistency; they decide nothing.
    """

    reference: str
    n_pairs: int
    wins: int
    losses: int
    ties: int
    mean_difference: float
    ci_low: float | None
    ci_high: float | None
    sign_test_p: float
    wilcoxon_p: float
    p_value: float | None = None
    p_unadjusted: float | None = None
    significant: bool = False
    simultaneous_low: float | None = None
    simultaneous_high: float | None = None

    @property
    def n_nonzero(self) -> int:
        """Paired windows where the two differ (the rank tests' sample size)."""
        return self.wins + self.losses

    @property
    def low_power(self) -> bool:
        """True when too few windows differ for the sign test to reach p < 0.05."""
        return self.n_nonzero < LOW_POWER_PAIRS

    @property
    def min_attainable_p(self) -> float:
        """The smallest p-value the sign test could have given with this many windows."""
        return min_two_sided_p(self.n_nonzero)


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration's objective across windows, ranks, wins and comparison.

    ``windows_run`` counts the windows it has a row for (failed ones included);
    ``eliminated_at``/``elimination_reason`` are set when racing dropped it.
    """

    config: str
    params: Mapping[str, ParamValue]
    per_window: Mapping[str, float]
    ranks: Mapping[str, float]
    mean: float | None
    std: float | None
    windows_won: int
    wins_all_windows: bool
    complete: bool
    n_failed: int
    missing_windows: tuple[str, ...]
    comparison: Comparison | None = None
    windows_run: int = 0
    eliminated_at: str | None = None
    elimination_reason: str | None = None

    @property
    def n_windows(self) -> int:
        """Windows with a succeeded value of the objective."""
        return len(self.per_window)

    @property
    def status(self) -> str:
        """``eliminated`` when racing dropped the configuration, else ``alive``."""
        return ELIMINATED if self.eliminated_at is not None else ALIVE

    @property
    def p_value_vs_best(self) -> float | None:
        """Adjusted p-value against the best (the best's own: against every other)."""
        return self.comparison.p_value if self.comparison else None


@dataclass(frozen=True)
class Summary:
    """The leaderboard of a sweep: configurations in order, best first."""

    metric: str
    goal: Goal
    windows: tuple[str, ...]
    configs: tuple[ConfigSummary, ...]
    best: str | None
    runner_up: str | None
    n_trials: int
    n_failed: int
    n_missing_objective: int
    param_names: tuple[str, ...] = field(default=())
    test: SignificanceTest | None = None
    n_stopped: int = 0  # trials early stopping ended (by design: neither failed nor results)

    def config(self, config_id: str) -> ConfigSummary:
        """Return the summary of one configuration by id (KeyError if unknown)."""
        for c in self.configs:
            if c.config == config_id:
                return c
        raise KeyError(config_id)

    @property
    def n_complete(self) -> int:
        """How many configurations have a value in every window."""
        return sum(1 for c in self.configs if c.complete)

    @property
    def n_alive(self) -> int:
        """How many configurations racing has not eliminated."""
        return sum(1 for c in self.configs if c.eliminated_at is None)
