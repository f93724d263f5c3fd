"""The pure core imports no I/O or heavy library (DESIGN.md: dependencies point one way)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "operator" / "tuningsweep" / "core"
FORBIDDEN = ("kopf", "kubernetes", "google", "prometheus_client", "tensorflow", "keras",
             "requests", "urllib", "socket", "subprocess", "os", "time", "pathlib", "shutil")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
            assert not node.module.startswith(("io", "executors", "handlers", "operator")), (
                f"{path.name} imports an edge module: {node.module}")
    return found


def test_core_is_pure() -> None:
    offenders = {
        p.name: sorted(imported_modules(p) & set(FORBIDDEN)) for p in CORE.glob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
