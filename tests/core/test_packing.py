"""Packing trials into pods (issue 24, item 3): which trials share a pod, what a packed
Job's state means for each of its trials."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tuningsweep.core.kube.jobs import JobState, Phase, build_job, job_state
from tuningsweep.core.kube.packing import (
    ENV_PACK,
    TrialRecord,
    build_pack_job,
    decode_trials,
    encode_trials,
    pack_env_json,
    pack_trials,
    pack_view,
    parse_pack_env,
    trial_states,
)
from tuningsweep.core.planning.planner import Trial, plan_trials
from tuningsweep.core.planning.windows import resolve_windows
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.parse import DateWindow, Sweep

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


# -- a packed Job read as its trials -----------------------------------------------------

def packed_job(phase: Phase, **fields: Any) -> JobState:
    return JobState("a", phase, start=100.0, end=200.0 if phase != "active" else 0.0,
                    owner="uid", trials=PACK, **fields)


def by_trial(states: list[JobState]) -> dict[str, JobState]:
    return {s.trial: s for s in states}


def test_a_running_pack_reads_as_done_trials_one_running_and_the_rest_queued_in_the_pod(
        ) -> None:
    states = by_trial(trial_states(packed_job("active"), {
        "a": TrialRecord(0, 101.0, 120.0), "b": TrialRecord(0, 120.0, 140.0)}))
    assert set(states) == set(PACK)
    assert states["a"][:4] == ("a", "succeeded", 101.0, 120.0)
    assert states["b"][:4] == ("b", "succeeded", 120.0, 140.0)
    # One trial trains now, from the previous trial's end; the last waits in the pod:
    # it holds its place but no slot of parallelism and no budget time.
    assert states["c"].running and states["c"].start == 140.0
    assert not states["d"].running and not states["d"].finished and states["d"].start == 0.0
    assert all(s.pack == "a" and s.owner == "uid" for s in states.values())


def test_a_failed_pack_fails_its_current_trial_with_the_jobs_reason_and_drops_the_rest(
        ) -> None:
    states = by_trial(trial_states(
        packed_job("failed", reason="PodFailurePolicy", message="exit 2"),
        {"a": TrialRecord(0, 101.0, 120.0)}))
    assert set(states) == {"a", "b"}  # c and d go back to the plan
    assert states["b"].phase == "failed" and states["b"].bad_input
    assert (states["b"].start, states["b"].end) == (120.0, 200.0)


def test_a_succeeded_pack_is_every_trial_succeeded_times_from_the_job_until_records_come(
        ) -> None:
    states = trial_states(packed_job("succeeded"), {})
    assert [s.trial for s in states] == list(PACK)
    assert all(s.phase == "succeeded" and s.end == 200.0 for s in states)


def test_a_queued_pack_is_all_queued() -> None:
    states = trial_states(packed_job("active", suspended=True), {})
    assert len(states) == 4 and not any(s.running or s.finished for s in states)


def test_a_job_of_one_trial_reads_as_itself() -> None:
    job = JobState("x", "failed", 1.0, 2.0, "Failed", "m", owner="u")
    assert trial_states(job, {}) == [job._replace(pack="x")]


# -- the packed Job -------------------------------------------------------------------

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: pk, namespace: ml}
spec:
  architecture: mlp
  mode: fast
  parameters:
    learning_rate: {values: [0.01, 0.02, 0.03]}
  trainer:
    image: example.org/trainer:1
%s  output: {results: gs://b/r, models: gs://b/m}
"""


def sweep(trainer: str = "") -> Sweep:
    return load_sweeps(MANIFEST % trainer)[0]


def test_a_pack_job_is_the_lead_trials_job_running_every_trial_of_the_pack() -> None:
    s = sweep()
    plan = plan_trials(s.spec, resolve_windows(s.spec, dt.date(2026, 11, 27))).trials
    pack = pack_trials(plan, 3, 1)[0]
    assert len(pack) == 3
    job = build_pack_job(s, pack, models_uri="gs://b/m/ml/pk", owner_uid="u",
                         pushgateway="http://pgw:9091")
    single = build_job(s, pack[0], model_uri="gs://b/m/ml/pk/" + pack[0].id, owner_uid="u",
                       pushgateway="http://pgw:9091")
    assert job["metadata"]["name"] == single["metadata"]["name"] == f"pk-{pack[0].id}"
    assert job["metadata"]["labels"] == single["metadata"]["labels"]
    listed = job["metadata"]["annotations"]["tuningsweep.io/trials"]
    assert listed == ",".join(t.id for t in pack)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "tuningsweep.executors.pack_runner",
                                    "tuningsweep_trainer.cli:main"]
    env = {e["name"]: e["value"] for e in container["env"]}
    entries = parse_pack_env(env["TUNINGSWEEP_PACK"])
    assert [e.trial for e in entries] == [t.id for t in pack]
    for entry, trial in zip(entries, pack, strict=True):
        assert entry.env["TUNINGSWEEP_MODEL_URI"] == f"gs://b/m/ml/pk/{trial.id}"
        assert json.loads(entry.env["TUNINGSWEEP_PARAMS"]) == dict(trial.params)
    assert env["TUNINGSWEEP_DATA_CACHE"].startswith("/tmp/")
    # Read back as the watch reads it: the pack's trials, in order.
    assert job_state(job).trials == tuple(t.id for t in pack)
    # A pack of one is the Job of one trial.
    assert build_pack_job(s, pack[:1], models_uri="gs://b/m/ml/pk", owner_uid="u",
                          pushgateway="http://pgw:9091") == single


def test_a_function_trainer_is_called_per_trial_and_a_plain_command_cannot_be_packed() -> None:
    s = sweep("    function: mytrainer:train\n")
    plan = plan_trials(s.spec, resolve_windows(s.spec, dt.date(2026, 11, 27))).trials
    pack = pack_trials(plan, 2, 1)[0]
    job = build_pack_job(s, pack, models_uri="m", owner_uid=None, pushgateway=None)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "mytrainer:train"
    s = sweep("    command: [python, train.py]\n")
    with pytest.raises(ValueError, match=r"spec\.trainer\.function"):
        build_pack_job(s, pack, models_uri="m", owner_uid=None, pushgateway=None)
