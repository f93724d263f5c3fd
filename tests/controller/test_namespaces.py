"""Namespace patterns select what kopf's documented rules select."""

from __future__ import annotations

import pytest

from tuningsweep.controller.namespaces import matches, matches_any


@pytest.mark.parametrize(("pattern", "selected", "not_selected"), [
    ("team-a", ["team-a"], ["team-b", "team-a-x"]),
    ("team-*", ["team-a", "team-"], ["teams", "other"]),
    ("team-?", ["team-a"], ["team-ab"]),
    ("!kube-*", ["team-a", "default"], ["kube-system"]),  # an implied * first
    # The examples of kopf's documentation.
    ("myapp-*, !*-pr-*, *pr-123", ["myapp-test", "myapp-live", "myapp-pr-123"],
     ["myapp-pr-456", "otherapp-pr-123"]),
    ("!*-pr-*, *pr-123", ["myapp-test", "anyapp-anything", "otherapp-pr-123"],
     ["myapp-pr-456"]),
    ("Team-A", ["Team-A"], ["team-a"]),  # case-sensitive, as namespace names are
])
def test_patterns_follow_kopfs_rules(pattern: str, selected: list[str],
                                     not_selected: list[str]) -> None:
    assert all(matches(ns, pattern) for ns in selected)
    assert not any(matches(ns, pattern) for ns in not_selected)


def test_several_patterns_select_their_union() -> None:
    assert matches_any("b", ["a", "b*"])
    assert not matches_any("c", ["a", "b*"])
