"""The operator image (operator/Dockerfile), checked without a container engine.

No engine is installed here, so the build is checked by what decides whether it works:
the Dockerfile's instructions (slim base, non-root numeric user matching the chart, the
operator entrypoint, no TensorFlow), a build context that holds everything it copies, and
the dependencies: ``pip install .[operator]`` must bring every third-party module the
package imports, or the container crashes at start while the tests, run in a fuller
virtualenv, pass.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import json
import re
import sys

import yaml

from tests.chart.render import CHART, REPO_ROOT

DOCKERFILE = REPO_ROOT / "operator" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / "operator" / "Dockerfile.dockerignore"
PACKAGE = REPO_ROOT / "operator" / "tuningsweep"
# Imported only inside the trainer's Keras integration, never by the operator.
TRAINER_ONLY_MODULES = {"keras", "tensorflow"}


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_runtime_image_is_slim_python_without_tensorflow() -> None:
    instructions = _instructions()
    bases = [args for op, args in instructions if op == "FROM"]
    assert bases and all(re.match(r"python:\$\{PYTHON_VERSION\}-slim\b", b) for b in bases)
    (install,) = [args for op, args in instructions if op == "RUN" and "pip install" in args]
    assert '".[operator]"' in install and "trainer" not in install.split("&&")[0]
    assert "tensorflow" not in install.split("&&")[0]


def test_image_runs_the_operator_as_the_charts_non_root_user() -> None:
    instructions = _instructions()
    (entrypoint,) = [args for op, args in instructions if op == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["tuningsweep", "operator"]
    user = [args for op, args in instructions if op == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root user lets runAsNonRoot verify"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert values["podSecurityContext"]["runAsGroup"] == int(gid)
    exposed = {int(p) for op, args in instructions if op == "EXPOSE" for p in args.split()}
    assert exposed == {values["operator"]["metricsPort"], values["operator"]["healthPort"]}


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or fnmatch.fnmatch(path, pattern):
            ignored = not negate
    return ignored


def test_build_context_holds_what_the_dockerfile_copies_and_no_virtualenv() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    sources = [src for op, args in _instructions() if op == "COPY" and "--from" not in args
               for src in args.split()[:-1]]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        files = [source] if (REPO_ROOT / source).is_file() else [
            p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / source).rglob("*.py")]
        assert files and not any(_ignored(f, patterns) for f in files), source
    for heavy in (".venv/bin/python", ".tools/bin/helm", "tests/conftest.py", "bench/x.py"):
        assert _ignored(heavy, patterns), heavy


def _third_party_imports() -> dict[str, str]:
    """Top-level module -> a file importing it, for every non-stdlib import in the package."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "tuningsweep":
                    found.setdefault(top, path.relative_to(REPO_ROOT).as_posix())
    return found


def _operator_install_closure() -> set[str]:
    """Distributions ``pip install .[operator]`` installs (from the installed metadata)."""
    def requirements(dist: str, extras: set[str]) -> list[tuple[str, set[str]]]:
        out = []
        for req in importlib.metadata.requires(dist) or []:
            spec, _, marker = req.partition(";")
            extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
            if extra and extra.group(1) not in extras:
                continue
            name = re.split(r"[\s<>=!~\[;(]", spec.strip(), maxsplit=1)[0]
            wanted = set(re.findall(r"\[([^\]]+)\]", spec)[0].split(",")) if "[" in spec else set()
            out.append((name, {e.strip() for e in wanted}))
        return out

    seen: set[str] = set()
    todo = [("tuningsweep", {"operator"})]
    while todo:
        name, extras = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            todo += requirements(name, extras)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional dependency not installed here
    return seen


def test_operator_install_brings_every_module_the_package_imports() -> None:
    closure = _operator_install_closure()
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for module, where in _third_party_imports().items():
        if module in TRAINER_ONLY_MODULES:
            continue
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])}
        if not dists & closure:
            missing[module] = where
    assert not missing, (
        "imported by the package but not installed by `pip install .[operator]` (the "
        f"operator image would crash at start): {missing}; add them to "
        "[project].dependencies in pyproject.toml")


def test_trainer_only_modules_stay_out_of_the_operator_install() -> None:
    closure = _operator_install_closure()
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & closure
