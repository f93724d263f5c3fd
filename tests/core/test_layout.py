"""The results-folder and model layout: one set of rules, the same answer everywhere."""

from __future__ import annotations

import pytest

from tuningsweep.core.kube.jobs import model_uri_for
from tuningsweep.core.records import layout
from tuningsweep.core.spec.manifest import load_sweeps

MANIFEST = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {{name: ctr, namespace: ml}}
spec:
  architecture: mlp
  parameters:
    learning_rate: {{values: [0.01]}}
  output: {output}
"""


def test_sweep_folder_and_models_rules() -> None:
    assert layout.sweep_folder("ml", "ctr") == "ml/ctr"
    assert layout.sweep_models("ml", "ctr", "gs://b/r/", None) == "gs://b/r/ml/ctr/models"
    assert layout.sweep_models("ml", "ctr", "gs://b/r", "gs://b/m/") == "gs://b/m/ml/ctr"
    assert layout.sweep_models("ml", "ctr", "/tmp/out", None) == "/tmp/out/ml/ctr/models"
    assert layout.trial_model("gs://b/m/ml/ctr/", "c0001-w0") == "gs://b/m/ml/ctr/c0001-w0"
    assert layout.join("gs://b/", "ml", layout.RESULTS_CSV) == "gs://b/ml/results.csv"


def test_sweep_files_are_the_documented_names() -> None:
    assert layout.SWEEP_FILES == ("results.csv", "summary.csv", "windows.json",
                                  "resolved-spec.yaml")
    assert layout.HISTORY_JSON == "history.json"


@pytest.mark.parametrize("output", ["{results: gs://b/r}", "{results: gs://b/r, models: gs://b/m/}"])
def test_operator_model_uri_follows_the_layout(output: str) -> None:
    """The operator's Job builder places models where the layout says (no second rule)."""
    sweep = load_sweeps(MANIFEST.format(output=output))[0]
    expected = layout.trial_model(
        layout.sweep_models(sweep.namespace, sweep.name, "gs://b/r", sweep.spec.models),
        "c0001-w0")
    assert model_uri_for(sweep, "c0001-w0", "gs://b/r") == expected
