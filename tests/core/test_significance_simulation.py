"""The statistics against a known truth, fast: a few dozen simulated sweeps.

The full figures (200 sweeps, many scenarios) come from ``bench/statistics_sim.py`` and
are in ``docs/statistics.md``. Here the bounds are loose enough for 60 sweeps but still
tight enough to fail the methods they replaced: the old percentile bootstrap interval
(covered about 73%) and tests that ignore that the best is selected from the data.
"""

from __future__ import annotations

from typing import Any

from tests.report.known_truth import Scenario, simulate

SWEEPS = 60


def test_intervals_cover_and_claims_are_right_in_the_issues_scenario() -> None:
    figures = simulate(Scenario(), SWEEPS, seed=11)
    assert figures["coverage"] >= 0.92
    assert figures["old_bootstrap_coverage"] < 0.92  # the bound does tell them apart
    assert figures["claims_per_sweep"] > 5
    assert figures["wrong_claim_share"] <= 0.05
    assert figures["sweeps_with_wrong_claim"] <= 0.05


def test_no_wrong_claims_when_every_configuration_is_equal() -> None:
    # The least favourable truth for a best picked from the data: any claim is wrong.
    figures = simulate(Scenario(spread=0.0), SWEEPS, seed=12, bootstrap=False)
    assert figures["sweeps_with_wrong_claim"] <= 0.05
    assert figures["unadjusted_sweeps_with_wrong_claim"] > 0.5
    assert figures["holm_k_minus_1_sweeps_with_wrong_claim"] > 0.1


def test_racing_windows_are_compared_on_what_both_have() -> None:
    figures = simulate(Scenario(racing=True), SWEEPS, seed=13, bootstrap=False)
    assert figures["comparisons_without_interval"] > 0  # eliminated after one window
    assert figures["coverage"] >= 0.92
    assert figures["claims_per_sweep"] > 5 and figures["sweeps_with_wrong_claim"] <= 0.05


def test_a_noisier_configuration_is_judged_by_its_own_noise() -> None:
    # Noise x0.4-2.7 between configurations (one sd of the log): a pooled variance
    # alone made a wrong claim in about 10% of sweeps; moderated variances stay in bound.
    figures = simulate(Scenario(hetero=1.0), SWEEPS, seed=14, bootstrap=False)
    assert figures["sweeps_with_wrong_claim"] <= 0.05 and figures["claims_per_sweep"] > 1


# What real training does (issue 22): each scenario before (robust=False: the plain
# additive model) and after the scale choice and the flagging of diverged trials.
# The same seed draws the same sweeps for both, so the two compare pairwise.
ROBUST_SWEEPS = 40


def _before_after(scenario: Scenario, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    before = simulate(scenario, ROBUST_SWEEPS, seed=seed, bootstrap=False, robust=False)
    after = simulate(scenario, ROBUST_SWEEPS, seed=seed, bootstrap=False)
    return before, after


def test_one_diverged_trial_no_longer_hides_every_difference() -> None:
    before, after = _before_after(Scenario(diverged=1), seed=21)
    assert before["power"] < 0.2  # the issue: one trial x5-20 inflates the noise
    assert after["power"] > 0.6 and after["flagged_per_sweep"] >= 0.9
    assert after["sweeps_with_wrong_claim"] <= 0.05
    assert after["coverage"] >= 0.9


def test_multiplicative_windows_are_compared_on_the_log_scale() -> None:
    before, after = _before_after(Scenario(multiplicative=0.4), seed=22)
    assert after["log_scale_share"] >= 0.7
    assert after["power"] > before["power"] + 0.1
    assert after["sweeps_with_wrong_claim"] <= 0.05 and after["coverage"] >= 0.92


def test_heavy_tailed_noise_keeps_wrong_claims_in_bound() -> None:
    _, after = _before_after(Scenario(heavy_tails=3.0), seed=23)
    assert after["sweeps_with_wrong_claim"] <= 0.05 and after["claims_per_sweep"] > 5


def test_the_users_case_multiplicative_with_a_diverged_trial() -> None:
    # 8 configurations x 3 windows, errors scaling with the window, one diverged trial.
    scenario = Scenario(configs=8, spread=0.02, noise=0.01, multiplicative=0.4, diverged=1)
    before, after = _before_after(scenario, seed=24)
    assert before["claims_per_sweep"] < 0.5
    assert after["claims_per_sweep"] > 2 and after["power"] > 0.3
    assert after["sweeps_with_wrong_claim"] <= 0.05
