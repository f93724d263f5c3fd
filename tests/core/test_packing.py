"""Packing trials into pods (issue 24, item 3): which trials share a pod, what a packed
Job's state means for each of its trials."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tuningsweep.core.packing import (
    ENV_PACK,
    decode_trials,
    encode_trials,
    pack_env_json,
    pack_trials,
    pack_view,
    parse_pack_env,
)
from tuningsweep.core.planner import Trial
from tuningsweep.core.spec import DateWindow

W0 = DateWindow("w0", dt.date(2024, 1, 1), dt.date(2024, 1, 31))
W1 = DateWindow("w1", dt.date(2024, 2, 1), dt.date(2024, 2, 29))


def trials(configs: int, windows: tuple[DateWindow, ...] = (W0, W1)) -> list[Trial]:
    """Trials in plan order: configuration-major, as the planner orders them."""
    return [Trial(f"c{c:04d}-{w.id}", f"c{c:04d}", w, {"lr": c}) for c in range(configs)
            for w in windows]


def ids(packs: list[tuple[Trial, ...]]) -> list[list[str]]:
    return [[t.id for t in pack] for pack in packs]


def test_packs_hold_one_window_each_and_leads_keep_plan_order() -> None:
    packs = pack_trials(trials(4), size=3, pods=10)
    assert ids(packs) == [["c0000-w0", "c0001-w0", "c0002-w0"],
                          ["c0000-w1", "c0001-w1", "c0002-w1"],
                          ["c0003-w0"], ["c0003-w1"]]


def test_every_trial_is_packed_once_and_no_more_pods_than_allowed() -> None:
    offered = trials(7, (W0,)) + trials(3, (W1,))
    for size in (1, 2, 3, 5):
        for pods in (0, 1, 2, 4, 20):
            packs = pack_trials(offered, size, pods)
            flat = [t.id for pack in packs for t in pack]
            assert len(flat) == len(set(flat))
            assert len(packs) <= pods
            assert all(len(pack) <= size for pack in packs)
            assert all(len({t.window for t in pack}) == 1 for pack in packs)
            if pods >= len(offered):
                assert sorted(flat) == sorted(t.id for t in offered)


def test_one_trial_per_pod_is_a_job_per_trial_in_plan_order() -> None:
    offered = trials(3)
    assert ids(pack_trials(offered, 1, 4)) == [[t.id] for t in offered[:4]]


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        pack_trials(trials(1), 0, 1)


def test_the_trials_annotation_reads_back_in_order() -> None:
    listed = ["c0002-w1", "c0000-w1", "c0001-w1"]
    assert decode_trials(encode_trials(listed)) == tuple(listed)
    assert decode_trials(None) == ()
    assert decode_trials("") == ()
    with pytest.raises(ValueError, match="cannot be listed"):
        encode_trials(["a,b"])


def test_the_pack_environment_reads_back_and_bad_ones_name_the_variable() -> None:
    text = pack_env_json([("t1", {"TUNINGSWEEP_PARAMS": '{"lr":1}'}), ("t2", {})])
    entries = parse_pack_env(text)
    assert [(e.trial, e.env) for e in entries] == [("t1", {"TUNINGSWEEP_PARAMS": '{"lr":1}'}),
                                                    ("t2", {})]
    for bad in ("", "{", "[]", json.dumps([{"trial": "t1"}]),
                json.dumps([{"trial": "t1", "env": {"A": 1}}]),
                json.dumps([{"trial": "t1", "env": {}}, {"trial": "t1", "env": {}}])):
        with pytest.raises(ValueError, match=ENV_PACK):
            parse_pack_env(bad)


PACK = ("a", "b", "c", "d")


def test_an_active_pack_gives_its_finished_trials_at_once() -> None:
    view = pack_view(PACK, {"a": 0, "b": 0}, "active")
    assert view.done == ("a", "b")
    assert view.current == "c"
    assert view.unstarted == ("d",)


def test_a_failed_pack_blames_the_trial_it_was_running_and_returns_the_rest() -> None:
    # The pod died during "b" (no exit record): "b" failed, "c" and "d" never started.
    view = pack_view(PACK, {"a": 0}, "failed")
    assert (view.done, view.current, view.unstarted) == (("a",), "b", ("c", "d"))
    # "b" exited 1 (its record says so) and the pod stopped there: the same view.
    assert pack_view(PACK, {"a": 0, "b": 1}, "failed") == view


def test_a_retried_pod_that_finished_the_failed_trial_moves_the_blame_on() -> None:
    # backoffLimit retried the pod, which skipped "a", ran "b" to 0 and died in "c".
    view = pack_view(PACK, {"a": 0, "b": 0}, "failed")
    assert (view.current, view.unstarted) == ("c", ("d",))


def test_a_succeeded_pack_is_done_whatever_records_have_been_scraped() -> None:
    assert pack_view(PACK, {}, "succeeded").done == PACK
    assert pack_view(PACK, {}, "succeeded").current is None


def test_a_pack_with_every_record_in_has_nothing_running() -> None:
    view = pack_view(PACK, dict.fromkeys(PACK, 0), "active")
    assert (view.done, view.current, view.unstarted) == (PACK, None, ())
