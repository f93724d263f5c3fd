"""The scale, the diverged trials and the model checks (tuningsweep.core.stats.robust)."""

from __future__ import annotations

import numpy as np
import pytest

from tuningsweep.core.search.racing import behind_p_values
from tuningsweep.core.stats.robust import (
    OUTLIER_ALPHA,
    choose_scale,
    dominant_window,
    flag_outliers,
    leverages,
    model_warnings,
    nonadditivity_p,
    prepare,
    studentized_residuals,
)

# The issue's case, shaped: 8 configurations x 3 windows whose errors scale with the
# window (the hardest about 3x the easiest), one learning rate that diverged on w1.
LEVELS = np.asarray([2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2, 3.4])
FACTORS = np.asarray([1.0, 2.0, 3.0])


def _issue_matrix(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = LEVELS[:, None] * FACTORS[None, :] * np.exp(rng.normal(0.0, 0.03, (8, 3)))
    values[6, 1] = 121.0
    return values


def _dummy_hat(present: np.ndarray) -> np.ndarray:
    cells = np.argwhere(present)
    design = np.zeros((len(cells), present.shape[0] + present.shape[1]))
    for k, (i, j) in enumerate(cells):
        design[k, i] = design[k, present.shape[0] + j] = 1.0
    return np.diag(design @ np.linalg.pinv(design))


def test_leverages_match_the_hat_matrix_of_a_dummy_variable_fit() -> None:
    present = np.ones((6, 4), dtype=bool)
    present[1, 2:] = present[3, 1] = present[5, 1:] = False  # racing-like gaps
    assert leverages(present)[present] == pytest.approx(_dummy_hat(present))
    full = leverages(np.ones((8, 3), dtype=bool))
    assert full == pytest.approx(np.full((8, 3), 1 / 8 + 1 / 3 - 1 / 24))


def test_studentized_residuals_match_refitting_without_the_cell() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(7, 3))
    result = studentized_residuals(values)
    assert result is not None
    t, df = result
    assert df == 7 * 3 - 7 - 2 - 1
    # By hand for one cell: predict it from the fit without it, scale by that fit's noise.
    from tuningsweep.core.stats.noise import additive_fit

    without = values.copy()
    without[2, 1] = np.nan
    fit = additive_fit(without)
    predicted = fit.levels[2] + fit.shifts[1]
    s2 = float(np.sum(fit.residual**2)) / fit.df
    h = leverages(np.ones((7, 3), dtype=bool))[2, 1]
    # Deleted residual variance: s2 * (1 + h / (1 - h)) = s2 / (1 - h).
    assert t[2, 1] == pytest.approx((values[2, 1] - predicted) / np.sqrt(s2 / (1 - h)))


def test_the_diverged_trial_is_flagged_first_and_rarely_anything_else() -> None:
    extra = 0
    for seed in range(20):
        flagged = flag_outliers(np.log(_issue_matrix(seed)))
        assert flagged[0][:2] == (6, 1) and flagged[0][3] < 1e-3
        assert all(p < OUTLIER_ALPHA for _, _, _, p in flagged)
        extra += len(flagged) - 1
    # Each further flag is a normal draw beyond the 1% Bonferroni bound (one in 20 here).
    assert extra <= 2


def test_normal_noise_rarely_flags_anything() -> None:
    rng = np.random.default_rng(7)
    sweeps = 300
    flagged = sum(bool(flag_outliers(rng.normal(size=(30, 3)))) for _ in range(sweeps))
    assert flagged / sweeps <= 0.03  # designed for 1%; 3% leaves room for sampling


def test_a_configuration_on_one_window_is_never_flagged() -> None:
    # Its only value is fitted exactly by its own level: nothing says it is odd.
    values = np.asarray([[0.9, 0.95, 0.92], [1.0, 1.05, 1.01], [1.1, 1.2, 1.15],
                         [0.5, np.nan, np.nan], [1.2, 1.22, 1.3]])
    assert flag_outliers(values) == [] and flag_outliers(np.log(values)) == []


def test_log_scale_for_multiplicative_errors_linear_for_additive_ones() -> None:
    values = _issue_matrix()
    values[6, 1] = LEVELS[6] * FACTORS[1]
    assert choose_scale(values, "minimize")[0] == "log"
    rng = np.random.default_rng(1)
    additive = 10.0 + LEVELS[:, None] + 3.0 * FACTORS[None, :] + rng.normal(0, 0.05, (8, 3))
    assert choose_scale(additive, "minimize")[0] == "linear"
    # Accuracy (maximised, positive): negated it is not positive, so its own units.
    assert choose_scale(1.0 - values / 100, "maximize")[0] == "linear"
    # A negated error maximised is the same error minimised: the same scale.
    assert choose_scale(-values, "maximize")[0] == "log"
    assert choose_scale(values - 5.0, "minimize")[0] == "linear"  # values <= 0


def test_prepare_on_the_issues_case() -> None:
    prepared = prepare(_issue_matrix(), "minimize", ["w0", "w1", "w2"])
    assert prepared.scale == "log" and "Box-Cox" in prepared.scale_reason
    [outlier] = prepared.outliers
    assert (outlier.row, outlier.column, outlier.value) == (6, 1, 121.0)
    assert outlier.expected == pytest.approx(LEVELS[6] * FACTORS[1], rel=0.1)
    assert np.isnan(prepared.kept[6, 1]) and np.isnan(prepared.scaled[6, 1])
    assert np.sum(np.isnan(prepared.kept)) == 1
    plain = prepare(_issue_matrix(), "minimize", robust=False)
    assert plain.scale == "linear" and plain.outliers == () and not np.isnan(plain.kept).any()


def test_tukey_sees_multiplicative_windows_on_the_linear_scale_only() -> None:
    values = _issue_matrix()
    values[6, 1] = LEVELS[6] * FACTORS[1]
    linear = nonadditivity_p(values)
    assert linear is not None and linear[0] < 0.001 and linear[1] > 0  # gaps grow
    logged = nonadditivity_p(np.log(values))
    assert logged is not None and logged[0] > 0.01
    warnings = model_warnings(values, ["w0", "w1", "w2"], "linear")
    assert any("grow with the window's level" in w for w in warnings)
    assert model_warnings(np.log(values), ["w0", "w1", "w2"], "log") == ()


def test_one_dominating_window() -> None:
    rng = np.random.default_rng(5)
    values = LEVELS[:, None] + rng.normal(0.0, 0.02, (8, 3))
    values[:, 0] += 5.0 * (LEVELS - LEVELS.mean())  # w0 alone separates them
    found = dominant_window(values)
    assert found is not None and found[0] == 0 and found[1] > 4
    assert dominant_window(LEVELS[:, None] + rng.normal(0.0, 0.02, (8, 3))) is None


def test_racing_uses_the_reports_test_a_diverged_trial_does_not_save_the_field() -> None:
    # Lower is better; row 0 leads. Without the flag, row 6's divergence inflates the
    # noise so much that nobody is behind; with it, the clearly worse rows are.
    values = _issue_matrix()
    p = behind_p_values(values, 0, "minimize")
    assert p[7] < 0.01 and p[1] > p[7]
    from tuningsweep.core.stats.comparisons import behind_p_values as plain_test

    assert plain_test(values, 0, "minimize", robust=False)[7] > 0.05
