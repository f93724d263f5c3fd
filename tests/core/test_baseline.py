"""Each configuration against the trainer's naive baseline: relative, window by window."""

from __future__ import annotations

import dataclasses

import pytest

from tuningsweep.core.records.results import ResultRow
from tuningsweep.core.stats.baseline import VersusBaseline, compare_with_baseline


def rows(table: dict[str, list[float]], baselines: list[float],
         metric: str = "val_mse") -> list[ResultRow]:
    out = []
    for config, values in table.items():
        for w, (value, base) in enumerate(zip(values, baselines, strict=True)):
            out.append(ResultRow(sweep="s", trial=f"{config}-w{w}", config=config,
                                 window=f"w{w}", window_start="", window_end="",
                                 status="succeeded",
                                 metrics={metric: value, f"baseline_{metric}": base}))
    return out


def test_improvement_is_relative_to_each_windows_baseline() -> None:
    # The baseline doubles from w0 to w2 (a harder window); c01 halves it everywhere.
    result = compare_with_baseline(rows({"c01": [1.0, 1.5, 2.0], "c02": [2.2, 3.3, 4.4]},
                                        [2.0, 3.0, 4.0]), "val_mse", "minimize")
    assert result is not None and result.metric == "baseline_val_mse"
    assert result.per_window == {"w0": 2.0, "w1": 3.0, "w2": 4.0}
    assert result.configs["c01"] == VersusBaseline(pytest.approx(0.5), 3, 3)  # type: ignore[arg-type]
    c02 = result.configs["c02"]
    assert (c02.improvement, c02.beaten, c02.better) == (pytest.approx(-0.1), 0, False)


def test_maximize_median_per_window_and_no_baseline() -> None:
    data = rows({"c01": [0.8, 0.9]}, [0.5, 0.6], metric="val_auc")
    # One trial reported an odd baseline for w0: the window's median stands.
    data.append(dataclasses.replace(data[0], trial="c02-w0", config="c02",
                                    metrics={"val_auc": 0.4, "baseline_val_auc": 0.5}))
    data.append(dataclasses.replace(data[0], trial="c03-w0", config="c03",
                                    metrics={"val_auc": 0.7, "baseline_val_auc": 9.0}))
    result = compare_with_baseline(data, "val_auc", "maximize")
    assert result is not None and result.per_window["w0"] == 0.5
    assert result.configs["c01"].improvement == pytest.approx((0.6 + 0.5) / 2)
    assert result.configs["c02"].beaten == 0
    plain = [dataclasses.replace(r, metrics={"val_auc": 1.0}) for r in data]
    assert compare_with_baseline(plain, "val_auc", "maximize") is None
