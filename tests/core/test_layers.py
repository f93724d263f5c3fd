"""Dependencies point one way (DESIGN.md): the import contracts hold, and core does no I/O.

The layer contracts live in pyproject.toml (``[tool.importlinter]``) and are checked by
import-linter, which follows every import (absolute, relative, inside functions) across
the whole package and the trainer. What import-linter does not see, the standard-library
modules that would give the core I/O, the clock or the environment, is checked here on
the source.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "operator" / "tuningsweep" / "core"
IO_MODULES = ("requests", "urllib", "urllib3", "socket", "subprocess", "os", "time",
              "pathlib", "shutil", "tempfile", "threading", "asyncio", "http")


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), "import-linter is missing: pip install -e '.[dev]'"
    paths = [str(ROOT / "operator"), str(ROOT / "trainer-image")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def absolute_imports(path: Path, package: str = "tuningsweep.core") -> set[str]:
    """Every module ``path`` imports, relative imports resolved against its package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_core_imports_no_io_module_and_nothing_outside_core() -> None:
    offenders: dict[str, list[str]] = {}
    for path in sorted(CORE.rglob("*.py")):
        package = ".".join(["tuningsweep", *path.relative_to(CORE.parent).parent.parts])
        bad = sorted(
            name for name in absolute_imports(path, package)
            if name.split(".")[0] in IO_MODULES
            or (name.startswith("tuningsweep.") and not name.startswith("tuningsweep.core"))
        )
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_the_source_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os.path\nfrom ..io import storage\nfrom . import spec\n"
                      "from tuningsweep.executors.local import LocalExecutor\n")
    found = absolute_imports(sample)
    assert {"os.path", "tuningsweep.io.storage", "tuningsweep.core.spec",
            "tuningsweep.executors.local.LocalExecutor"} <= found


def third_party_imports(root: Path) -> dict[str, set[str]]:
    """Top-level modules imported by the files under ``root`` that are neither the
    standard library's nor the project's, with the files importing each."""
    found: dict[str, set[str]] = {}
    own = {"tuningsweep", "tuningsweep_trainer"}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top and top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(name, set()).add(path.name)
    return found


def declared_distributions() -> set[str]:
    """The distributions pyproject.toml declares (dependencies and every extra)."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"],
             *(s for extra in project["optional-dependencies"].values() for s in extra)]
    return {re.split(r"[ <>=!~;\[]", s, maxsplit=1)[0].lower().replace("_", "-")
            for s in specs}


def test_what_the_package_imports_is_declared_and_public() -> None:
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    declared = declared_distributions()
    imports = {**third_party_imports(ROOT / "operator"),
               **third_party_imports(ROOT / "trainer-image")}
    undeclared = {}
    for name, files in imports.items():
        dists = {d.lower().replace("_", "-") for d in providers.get(name.split(".")[0], [])}
        # tensorflow is declared as tensorflow-cpu (or the CUDA build in the image).
        if dists and not dists & declared and not (name.startswith("tensorflow")
                                                   and "tensorflow-cpu" in declared):
            undeclared[name] = sorted(files)
    assert undeclared == {}, "imported but not declared in pyproject.toml"
    # Underscored modules of another package are its internals: they change without notice.
    private = {n: sorted(f) for n, f in imports.items()
               if any(part.startswith("_") for part in n.split(".")[1:])}
    assert private == {}
