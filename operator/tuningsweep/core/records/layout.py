"""Where a sweep's files live: the results folder and the models prefix, named once.

Everything the executors, the operator, ``tuningsweep report`` and the trainer read or
write is placed by these names and rules, so they cannot drift apart::

    <results>/<namespace>/<name>/          the sweep's results folder
        results.csv                        one row per finished trial
        summary.csv                        one row per configuration
        windows.json                       the windows pinned on the first run
        resolved-spec.yaml                 the validated manifest with its defaults
        models/<trial>/                    trial models, unless spec.output.models is set
    <models>/<namespace>/<name>/<trial>/   trial models when spec.output.models is set
        history.json                       per-epoch metrics (learning curves)

Pure string rules (no I/O, no imports beyond the standard library), so the trainer image
can use them as well as the operator side. Locations are URIs or paths joined with
``/``; a trailing ``/`` on a prefix is ignored.
"""

from __future__ import annotations

RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"
WINDOWS_JSON = "windows.json"
SPEC_YAML = "resolved-spec.yaml"
#: The folder of trial models inside the results folder (no ``spec.output.models``).
MODELS_FOLDER = "models"
#: Per-trial history file under each trial's model location.
HISTORY_JSON = "history.json"
#: The files of a results folder that a sweep owns (``run --fresh`` empties them).
SWEEP_FILES = (RESULTS_CSV, SUMMARY_CSV, WINDOWS_JSON, SPEC_YAML)


def join(prefix: str, *parts: str) -> str:
    """``prefix/part/...`` with one ``/`` between parts, whatever ``prefix`` ends with."""
    return "/".join([prefix.rstrip("/"), *parts])


def sweep_folder(namespace: str, name: str) -> str:
    """The sweep's folder relative to the results (and models) prefix: ``<ns>/<name>``."""
    return f"{namespace}/{name}"


def sweep_models(namespace: str, name: str, results: str, models: str | None) -> str:
    """The sweep's models location: ``<models>/<ns>/<name>``, else inside its results.

    Args:
        results: the results prefix (``spec.output.results`` or ``--results``).
        models: the models prefix (``spec.output.models`` or ``--models``), if any.
    """
    folder = sweep_folder(namespace, name)
    if models:
        return join(models, folder)
    return join(results, folder, MODELS_FOLDER)


def trial_model(sweep_models_uri: str, trial_id: str) -> str:
    """A trial's model location under its sweep's models location."""
    return join(sweep_models_uri, trial_id)
