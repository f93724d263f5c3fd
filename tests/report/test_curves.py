"""Learning curves: history shapes, median/IQR per epoch, convergence epoch."""

from __future__ import annotations

import pytest

from tuningsweep.core.curves import (
    HistoryFormatError,
    converged_epoch,
    curve_metric,
    learning_curves,
    normalize_history,
)


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
