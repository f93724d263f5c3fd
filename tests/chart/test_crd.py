"""The chart ships the generated CRD, unchanged: one source, crds/tuningsweep.yaml.

``make crds`` writes crds/tuningsweep.yaml from the API schema; ``make chart`` copies it
into the chart (files/crds/), whose template renders it with chart labels and, by choice,
the keep annotation added to its metadata and nothing else changed.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.chart.render import CHART, REPO_ROOT, rendered, template

SOURCE = REPO_ROOT / "crds" / "tuningsweep.yaml"
CHART_COPY = CHART / "files" / "crds" / "tuningsweep.yaml"


def _canonical(value: Any) -> str:
    """JSON with sorted keys: equal only if values *and* types are (1 != 1.0 != "1")."""
    return json.dumps(value, sort_keys=True)


def test_chart_copy_is_byte_identical_to_the_generated_crd() -> None:
    assert CHART_COPY.read_bytes() == SOURCE.read_bytes(), (
        f"{CHART_COPY.relative_to(REPO_ROOT)} differs from crds/tuningsweep.yaml: "
        "run `make chart`")


def test_rendered_crd_is_the_generated_one_plus_chart_metadata() -> None:
    crd = rendered().one("CustomResourceDefinition", "tuningsweeps.tuningsweep.io")
    metadata = crd["metadata"]
    assert set(metadata) == {"name", "labels", "annotations"}
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    stripped = {**crd, "metadata": {"name": metadata["name"]}}
    assert _canonical(stripped) == _canonical(yaml.safe_load(SOURCE.read_text()))


def test_rendered_crd_text_is_the_file_with_metadata_lines_added() -> None:
    source_lines = SOURCE.read_text().splitlines()
    document = next(d for d in template().split("\n---\n")
                    if "# Source: tuningsweep/templates/crds.yaml" in d)
    rendered_lines = document.splitlines()[1:]  # without the "# Source:" line
    start = source_lines.index("metadata:") + 1
    added = len(rendered_lines) - len(source_lines)
    assert added > 0
    assert rendered_lines[:start] == source_lines[:start]
    assert rendered_lines[start + added:] == source_lines[start:]
    assert all(line.startswith("  ") for line in rendered_lines[start:start + added])
