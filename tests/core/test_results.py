"""The results CSV: rows survive a round trip, merging never duplicates a trial."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuningsweep.core.records.results import (
    CsvLines,
    ResultRow,
    ResultsFormatError,
    merge_rows,
    parse_csv,
    render_csv,
)

names = st.sampled_from(["learning_rate", "hidden_units", "act"])
values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                   st.sampled_from(["relu", "tanh", "a,b", 'q"uote', "two\nlines"]))
rows = st.builds(
    ResultRow,
    sweep=st.just("s"), trial=st.from_regex(r"c[0-9]{4}-w[0-3]", fullmatch=True),
    config=st.just("c0000"), window=st.sampled_from(["w0", "w1"]),
    window_start=st.just("2026-01-01"), window_end=st.just("2026-01-31"),
    status=st.sampled_from(["succeeded", "failed"]),
    params=st.dictionaries(names, values, max_size=3),
    metrics=st.dictionaries(st.sampled_from(["val_mse", "loss"]),
                            st.floats(allow_nan=False, allow_infinity=False), max_size=2),
    duration_seconds=st.floats(0, 1e6), error=st.text(max_size=30),
)


@given(st.lists(rows, max_size=20))
def test_round_trip(items: list[ResultRow]) -> None:
    merged = merge_rows((), items)
    parsed = parse_csv(render_csv(merged))
    assert [r.trial for r in parsed] == [r.trial for r in merged]
    for a, b in zip(parsed, merged, strict=True):
        assert a.params == b.params and a.metrics == b.metrics and a.status == b.status
        assert a.error == b.error.replace("\r\n", "\n").replace("\r", "\n")


def test_merge_replaces_by_trial_and_is_idempotent() -> None:
    a = ResultRow("s", "c0001-w0", "c0001", "w0", "", "", "failed")
    b = ResultRow("s", "c0001-w0", "c0001", "w0", "", "", "succeeded", metrics={"val_mse": 1.0})
    c = ResultRow("s", "c0000-w0", "c0000", "w0", "", "", "succeeded")
    merged = merge_rows([a, c], [b])
    assert [r.trial for r in merged] == ["c0000-w0", "c0001-w0"] and merged[1] is b
    assert merge_rows(merged, merged) == merged


def test_not_a_results_csv() -> None:
    with pytest.raises(ResultsFormatError, match="missing column"):
        parse_csv("a,b\n1,2\n")
    with pytest.raises(ResultsFormatError, match="line 2"):
        parse_csv("trial,config,status\nc0000-w0,c0000,running\n")


few_trials = rows.map(lambda r: dataclasses.replace(r, trial=f"c000{len(r.error) % 4}-w0"))


@given(st.lists(few_trials, max_size=12), st.lists(few_trials, min_size=1, max_size=6))
def test_kept_lines_render_what_a_fresh_render_does(first: list[ResultRow],
                                                   later: list[ResultRow]) -> None:
    # The operator re-renders results.csv each flush from kept lines (issue 16): a row
    # replaced since (a retried trial) and a new column must show as a fresh render has.
    lines = CsvLines()
    before = merge_rows((), first)
    params = sorted({p for r in before for p in r.params})
    assert lines.render(before, params, ["val_mse"]) == render_csv(before, params, ["val_mse"])
    after = merge_rows(before, later)
    params = sorted({p for r in after for p in r.params})
    for metrics in (["val_mse"], ["val_mse", "loss"]):
        assert lines.render(after, params, metrics) == render_csv(after, params, metrics)
