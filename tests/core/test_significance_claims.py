"""Claims "significantly worse than the best": direction, corner cases, the error rate knob."""

from __future__ import annotations

import pytest

from tests.report.synthetic import rows_from_table
from tuningsweep.core.stats.summary import Summary, summarize

NOISY = {
    "c01": [1.00, 1.21, 1.09],
    "c02": [1.05, 1.24, 1.17],
    "c03": [1.30, 1.55, 1.38],
    "c04": [1.01, 1.23, 1.08],
}


def _summary(table: dict[str, list[float]], goal: str = "minimize", **kwargs: float) -> Summary:
    return summarize(rows_from_table(table), "val_mse", goal, **kwargs)


def test_only_clearly_worse_configurations_are_claimed() -> None:
    s = _summary(NOISY)
    assert s.best == "c01"
    claimed = {c.config for c in s.configs if c.comparison and c.comparison.significant
               and c.config != s.best}
    assert claimed == {"c03"}
    c04 = s.config("c04").comparison
    assert c04 is not None and c04.p_value == 1.0 and not c04.significant
    # The simultaneous interval is the one behind the claim: it excludes 0 iff claimed.
    for c in s.configs:
        comp = c.comparison
        if c.config == s.best or comp is None:
            continue
        assert comp.simultaneous_low is not None and comp.simultaneous_high is not None
        assert comp.significant == (comp.simultaneous_low > 0)


def test_maximizing_claims_the_configurations_with_lower_values() -> None:
    negated = {c: [-v for v in values] for c, values in NOISY.items()}
    s = _summary(negated, goal="maximize")
    assert s.best == "c01"
    c03 = s.config("c03").comparison
    assert c03 is not None and c03.significant and c03.mean_difference < 0
    assert c03.p_value == _summary(NOISY).config("c03").p_value_vs_best


def test_a_smaller_alpha_claims_less() -> None:
    strict = _summary(NOISY, alpha=1e-6)
    assert strict.test is not None and strict.test.alpha == 1e-6
    assert not any(c.comparison and c.comparison.significant for c in strict.configs)


def test_noise_free_results_decide_every_difference() -> None:
    # Exactly additive values leave no residual noise: any difference is certain, and
    # identical configurations are never claimed.
    s = _summary({"c01": [1.0, 2.0, 3.0], "c02": [1.0, 2.0, 3.0], "c03": [1.5, 2.5, 3.5]})
    assert s.test is not None and s.test.residual_sd == pytest.approx(0.0, abs=1e-12)
    c02, c03 = s.config("c02").comparison, s.config("c03").comparison
    assert c02 is not None and c02.p_value == 1.0 and not c02.significant
    assert c03 is not None and c03.significant
    # The best's closest contender is its twin: not better than everyone.
    best = s.config("c01").comparison
    assert best is not None and best.reference == "c02" and not best.significant


def test_the_best_is_significant_only_when_every_other_is_claimed() -> None:
    s = _summary({c: NOISY[c] for c in ("c01", "c03")})
    best = s.config("c01").comparison
    assert best is not None and best.reference == "c03" and best.significant
    assert best.p_value == s.config("c03").p_value_vs_best
    assert best.mean_difference == pytest.approx(-s.config("c03").comparison.mean_difference)  # type: ignore[union-attr]


def test_p_values_against_a_reference_are_the_reports_unadjusted_ones() -> None:
    import numpy as np

    from tuningsweep.core.stats.comparisons import p_values_against

    s = _summary(NOISY)
    matrix = np.asarray([NOISY[c] for c in sorted(NOISY)])
    p = p_values_against(matrix, 0)
    assert np.isnan(p[0])
    for i, config in enumerate(sorted(NOISY)[1:], start=1):
        comp = s.config(config).comparison
        assert comp is not None and p[i] == pytest.approx(comp.p_unadjusted)
    assert np.all(np.isnan(p_values_against(matrix[:, :1], 0)))
