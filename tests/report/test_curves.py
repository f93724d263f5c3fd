"""Learning curves: history shapes, median/IQR per epoch, convergence epoch."""

from __future__ import annotations

import pytest

from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.stats.curves import (
    HistoryFormatError,
    converged_epoch,
    curve_metric,
    learning_curves,
    normalize_history,
    windowed_learning_curves,
)
from tuningsweep.reports.model import build_report
from tuningsweep.reports.verdict import verdict


def test_trainer_list_form() -> None:
    raw = [{"epoch": 1, "loss": 2.0, "val_mse": 1.5, "note": "x"}, {"epoch": 2, "val_mse": 1.0}]
    assert normalize_history(raw) == [
        {"epoch": 1.0, "loss": 2.0, "val_mse": 1.5}, {"epoch": 2.0, "val_mse": 1.0}]


def test_keras_dict_of_lists_and_wrapped_forms() -> None:
    keras = {"loss": [3.0, 2.0], "val_mse": [2.0, float("nan")]}
    expected = [{"epoch": 1.0, "loss": 3.0, "val_mse": 2.0}, {"epoch": 2.0, "loss": 2.0}]
    assert normalize_history(keras) == expected
    assert normalize_history({"history": keras}) == expected
    assert normalize_history([{"loss": 1.0}]) == [{"epoch": 1.0, "loss": 1.0}]


@pytest.mark.parametrize("raw", [42, "text", {"loss": 1.0}, [1, 2]])
def test_unusable_histories_are_refused(raw: object) -> None:
    with pytest.raises(HistoryFormatError):
        normalize_history(raw)


def test_curve_metric_preference() -> None:
    assert curve_metric([[{"epoch": 1, "val_mse": 1, "val_loss": 1}]], "val_mse") == "val_mse"
    assert curve_metric([[{"epoch": 1, "val_loss": 1, "val_auc": 1}]], "auc") == "val_loss"
    assert curve_metric([[{"epoch": 1, "val_b": 1, "val_a": 1}]], "auc") == "val_a"
    assert curve_metric([[{"epoch": 1, "loss": 1}]], "auc") == "loss"
    assert curve_metric([[{"epoch": 1}]], "auc") is None


def test_median_and_iqr_per_epoch() -> None:
    histories = {
        f"t{i}": [{"epoch": 1.0, "val_mse": 10.0 + i}, {"epoch": 2.0, "val_mse": 5.0 + i}]
        for i in range(5)  # epoch 1: 10..14, epoch 2: 5..9
    }
    curves = learning_curves(histories, "val_mse", "minimize")
    assert curves is not None and curves.n_trials == 5
    first, second = curves.points
    assert (first.epoch, first.median, first.q25, first.q75, first.count) == (1, 12.0, 11.0, 13.0, 5)
    assert second.median == 7.0


def test_convergence_epoch() -> None:
    # Improvement 10 -> 1 (total 9); after epoch 4 the curve gains at most 0.1 (1.1%).
    medians = [10.0, 5.0, 2.0, 1.1, 1.05, 1.02, 1.0]
    assert converged_epoch(list(range(1, 8)), medians, "minimize", 0.02) == 4
    assert converged_epoch(list(range(1, 8)), medians, "minimize", 0.001) == 7
    assert converged_epoch([1, 2, 3], [1.0, 2.0, 3.0], "minimize", 0.02) == 1  # never improves
    assert converged_epoch([1, 2, 3], [1.0, 2.0, 2.0], "maximize", 0.02) == 2
    assert converged_epoch([], [], "minimize", 0.02) is None


def test_epochs_reached_by_few_trials_do_not_decide_convergence() -> None:
    common = [{"epoch": float(e), "val_mse": 10.0 / e} for e in range(1, 6)]
    long_tail = [*common, {"epoch": 6.0, "val_mse": 0.1}]  # one long-running trial
    histories = {"a": common, "b": common, "c": long_tail}
    curves = learning_curves(histories, "val_mse", "minimize")
    assert curves is not None and curves.points[-1].epoch == 6
    assert curves.converged_epoch is not None and curves.converged_epoch <= 5


def test_no_trial_recorded_the_metric() -> None:
    assert learning_curves({"a": [{"epoch": 1.0, "loss": 1.0}]}, "val_mse", "minimize") is None


def _steady(level: float, epochs: int, spread: float) -> list[dict[str, float]]:
    """Improving by 1% of ``level`` every epoch until the last."""
    return [{"epoch": float(e), "val_mse": level * (1 + 0.01 * (16 - e)) * spread}
            for e in range(1, epochs + 1)]


def issue_14_sweep() -> tuple[dict[str, list[dict[str, float]]], dict[str, str]]:
    """Issue 14's case: a hard window 4x higher, whose trials stop at epoch 5 (early
    stopping), and an easy one whose trials train to 15, improving all the way."""
    histories, window_of = {}, {}
    for i in range(4):
        histories[f"c{i}-w0"] = _steady(1.0, 15, 1 + 0.05 * i)
        histories[f"c{i}-w1"] = _steady(4.0, 5, 1 + 0.05 * i)
        window_of[f"c{i}-w0"], window_of[f"c{i}-w1"] = "w0", "w1"
    return histories, window_of


def test_pooling_windows_of_different_levels_misleads() -> None:
    # What the report did before: pooled, the drop from the hard window's level to the
    # easy one's counts as the "total improvement", and the easy window's real gains
    # look negligible beside it: "converged" well before 15, though every trial
    # still improves there.
    histories, _ = issue_14_sweep()
    pooled = learning_curves(histories, "val_mse", "minimize")
    assert pooled is not None and pooled.converged_epoch is not None
    assert pooled.converged_epoch <= 12


def test_windowed_curves_compare_a_trial_only_within_its_window() -> None:
    histories, window_of = issue_14_sweep()
    curves = windowed_learning_curves(histories, window_of, "val_mse", "minimize")
    assert curves is not None and curves.relative == "ratio"
    w0, w1 = curves.windows
    assert (w0.window, w1.window) == ("w0", "w1")
    assert w1.level == pytest.approx(4.0 * 1.11 * 1.075)  # the median of its trials' bests
    assert w0.curves.converged_epoch == 15 and w0.still_improving
    assert w1.curves.converged_epoch == 5 and w1.still_improving
    assert curves.converged_epoch == 15  # the latest window's: none is cut short
    # The relative curve is on one scale: trials end near their window's level, 1.
    assert curves.points[-1].median == pytest.approx(1.0, abs=0.05)
    assert curves.points[4].median == pytest.approx(1.06, abs=0.05)


def test_the_report_says_per_window_where_curves_converge() -> None:
    histories, window_of = issue_14_sweep()
    rows = [ResultRow(sweep="s", trial=t, config=t[:2], window=w, window_start="",
                      window_end="", status="succeeded", params={"x": int(t[1])},
                      metrics={"val_mse": histories[t][-1]["val_mse"]})
            for t, w in window_of.items()]
    report = build_report(rows, "val_mse", "minimize", histories=histories)
    text = " ".join(verdict(report))
    assert ("Within each window, the median val_mse stops improving meaningfully at epoch "
            "15 (w0, still improving at its last epoch), 5 (w1, still improving at its last "
            "epoch); w0 and w1 might gain from more epochs.") in text
    assert "over 8 trials stops improving" not in text


def test_windowed_curves_with_one_window_are_the_plain_curves() -> None:
    histories = {"a": _steady(1.0, 5, 1.0), "b": _steady(1.0, 5, 1.1)}
    plain = learning_curves(histories, "val_mse", "minimize")
    assert windowed_learning_curves(histories, {"a": "w0", "b": "w0"}, "val_mse",
                                    "minimize") == plain


def test_non_positive_values_are_relative_by_difference() -> None:
    histories = {"a": [{"epoch": 1.0, "val_x": -1.0}, {"epoch": 2.0, "val_x": -2.0}],
                 "b": [{"epoch": 1.0, "val_x": 5.0}, {"epoch": 2.0, "val_x": 4.0}]}
    curves = windowed_learning_curves(histories, {"a": "w0", "b": "w1"}, "val_x", "minimize")
    assert curves is not None and curves.relative == "difference"
    assert [p.median for p in curves.points] == [1.0, 0.0]
