"""`make bench` runs every benchmark in bench/, as docs/benchmarks.md says it does."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _listed() -> list[str]:
    tree = ast.parse((BENCH / "run_all.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "BENCHMARKS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("bench/run_all.py has no BENCHMARKS list")


def test_every_script_that_writes_figures_is_run_by_make_bench() -> None:
    # A benchmark is a script writing bench/out/<name>.json through common.write.
    writers = sorted(p.name for p in BENCH.glob("*.py")
                     if re.search(r"^from common import .*\bwrite\b", p.read_text(), re.M))
    listed = _listed()
    assert writers, "no benchmark found: the pattern above no longer matches bench/"
    assert sorted(set(listed)) == sorted(listed), "a benchmark is listed twice"
    assert [w for w in writers if w not in listed] == []
    assert [name for name in listed if not (BENCH / name).exists()] == []
