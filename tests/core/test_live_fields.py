"""Which spec fields a running sweep takes from its live object, decided in one place."""

from __future__ import annotations

from typing import Any

from tuningsweep.core.spec import api
from tuningsweep.core.spec.parse import parse_spec, with_live_fields


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"architecture": "mlp", "output": {"results": "gs://b/t"},
                            "parameters": {"learning_rate": {"values": [0.01, 0.1]}}}
    return {**base, **changes}


def test_only_the_mutable_fields_come_from_the_live_spec() -> None:
    pinned = parse_spec(spec(parallelism=2), "s", "ns")
    live = parse_spec(spec(parallelism=5, suspend=True, maxFailedTrials=9,
                           search={"algorithm": "grid", "seed": 11}), "s", "ns")
    sweep = with_live_fields(pinned, live)
    assert (sweep.spec.parallelism, sweep.spec.suspend, sweep.spec.max_failed_trials) == (
        5, True, 9)
    assert sweep.spec.seed == pinned.spec.seed  # immutable: the sweep as started
    assert set(api.MUTABLE_SPEC_FIELDS) == {"parallelism", "suspend", "maxFailedTrials"}


def test_a_field_removed_from_the_live_spec_falls_back_to_its_default() -> None:
    pinned = parse_spec(spec(parallelism=6, suspend=True), "s", "ns")
    sweep = with_live_fields(pinned, parse_spec(spec(), "s", "ns"))
    # The same defaults as any manifest gets (docs/design.md): 2 and not suspended.
    assert (sweep.spec.parallelism, sweep.spec.suspend) == (2, False)


def test_an_unreadable_live_spec_changes_nothing() -> None:
    pinned = parse_spec(spec(parallelism=3), "s", "ns")
    assert with_live_fields(pinned, None) == pinned
