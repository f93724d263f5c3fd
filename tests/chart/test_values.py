"""values.yaml and values.schema.json: every value documented, typed, and closed to typos.

cert-manager's habits: each value has a comment above it in values.yaml; the schema sets
``additionalProperties: false`` on every object the chart defines, so an unknown or
misspelt key fails ``helm install``. Free-form maps (labels, annotations, nodeSelector)
type their values instead, and the few Kubernetes structures passed through as they are
(security contexts, affinity, tolerations, env) are listed here by path; the rendered
manifests are then validated strictly against Kubernetes' own schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import yaml

from tests.chart.render import CHART

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()

# Kubernetes structures passed through to the pod spec as they are.
PASS_THROUGH = {"global", "podSecurityContext", "containerSecurityContext", "affinity",
                "tolerations[]", "operator.extraEnv[]", "pushgateway.tolerations[]"}
# Chart-defined objects whose keys are Kubernetes' own (requests/limits).
KUBERNETES_SHAPED = {"resources", "pushgateway.resources"}


def _schema_nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for key, child in node.get("properties", {}).items():
        yield from _schema_nodes(child, f"{path}.{key}" if path else key)
    if isinstance(node.get("items"), dict):
        yield from _schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _schema_nodes(node["additionalProperties"], f"{path}.*")


def test_default_values_match_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(yaml.safe_load(VALUES_TEXT), SCHEMA)


def test_every_object_in_the_schema_is_closed_or_a_typed_map() -> None:
    problems = []
    for path, node in _schema_nodes(SCHEMA):
        if node.get("type") != "object":
            continue
        additional = node.get("additionalProperties")
        if "properties" in node:
            if additional is not False:
                problems.append(f"{path or '<root>'}: additionalProperties must be false")
        elif isinstance(additional, dict):
            continue  # a map with typed values
        elif path not in PASS_THROUGH:
            problems.append(f"{path}: an open object; close it, type it as a map, or list it "
                            "in PASS_THROUGH if it is a Kubernetes structure")
    assert not problems, "\n".join(problems)


def test_every_schema_property_is_described() -> None:
    missing = [path for path, node in _schema_nodes(SCHEMA)
               if path and not path.endswith(("[]", ".*")) and not node.get("description")]
    assert not missing, missing


def _key_lines(node: yaml.Node, path: str = "") -> Iterator[tuple[str, int]]:
    """(path, 0-based line) of every mapping key in values.yaml."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            yield child, key.start_mark.line
            yield from _key_lines(value, child)


def _schema_at(path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = SCHEMA
    for key in path.split("."):
        node = (node or {}).get("properties", {}).get(key)
    return node


def test_every_value_has_a_comment_above_it() -> None:
    lines = VALUES_TEXT.splitlines()
    undocumented = []
    root = yaml.compose(VALUES_TEXT)
    assert root is not None
    for path, line in _key_lines(root):
        parent = path.rpartition(".")[0]
        if parent and ("properties" not in (_schema_at(parent) or {})
                       or parent in KUBERNETES_SHAPED):
            continue  # an entry of a map or of a Kubernetes structure, documented above it
        node = _schema_at(path)
        assert node is not None, f"values.yaml has {path}, the schema does not"
        if "properties" in node:
            continue  # a group; its values carry the comments
        if not lines[line - 1].strip().startswith("#"):
            undocumented.append(f"values.yaml:{line + 1}: {path}")
    assert not undocumented, "values without a comment:\n" + "\n".join(undocumented)


def test_schema_defines_nothing_values_yaml_lacks() -> None:
    values = yaml.safe_load(VALUES_TEXT)
    missing = []
    for path, node in _schema_nodes(SCHEMA):
        if not path or "[]" in path or ".*" in path or path == "global":
            continue
        parent: Any = values
        for key in path.split("."):
            parent = parent.get(key) if isinstance(parent, dict) else None
        if parent is None and node.get("type") != "object":
            missing.append(path)
    assert not missing, f"in the schema but without a default in values.yaml: {missing}"


def test_values_named_in_the_docs_exist() -> None:
    docs = (CHART.parents[1] / "docs" / "install.md").read_text()
    top = "|".join(SCHEMA["properties"])
    named = set(re.findall(rf"`((?:{top})\.[A-Za-z.]+)[`:=\s]", docs))
    assert len(named) > 10
    unknown = sorted(path for path in named if _schema_at(path) is None)
    assert not unknown, f"docs/install.md names values the chart does not have: {unknown}"
