"""The trainer contract: the environment every trial's trainer receives.

Both executors pass exactly this environment (DESIGN.md, "The trainer contract"), so any
image or command that reads it can be tuned locally and on a cluster alike. Building it is
pure: identity, parameters and window come from the plan; where models and metrics go is
decided by the executor and passed in.
"""

from __future__ import annotations

import json

from .planner import Trial
from .spec import Sweep

ENV_SWEEP = "TUNINGSWEEP_SWEEP"
ENV_NAMESPACE = "TUNINGSWEEP_NAMESPACE"
ENV_TRIAL = "TUNINGSWEEP_TRIAL"
ENV_ARCHITECTURE = "TUNINGSWEEP_ARCHITECTURE"
ENV_PARAMS = "TUNINGSWEEP_PARAMS"
ENV_WINDOW_START = "TUNINGSWEEP_WINDOW_START"
ENV_WINDOW_END = "TUNINGSWEEP_WINDOW_END"
ENV_MAX_EPOCHS = "TUNINGSWEEP_MAX_EPOCHS"
ENV_DATA = "TUNINGSWEEP_DATA"
ENV_MODEL_URI = "TUNINGSWEEP_MODEL_URI"
ENV_PUSHGATEWAY = "TUNINGSWEEP_PUSHGATEWAY"
ENV_METRICS_FILE = "TUNINGSWEEP_METRICS_FILE"
#: Optional: ``N`` (intra- and inter-op threads) or ``INTRA,INTER``; the local runner
#: sets it to split the machine's cores between concurrent trials.
ENV_TF_THREADS = "TUNINGSWEEP_TF_THREADS"


def params_json(trial: Trial) -> str:
    """The trial's parameters as compact, key-sorted JSON (stable for annotations)."""
    return json.dumps(dict(trial.params), sort_keys=True, separators=(",", ":"))


def trial_env(
    sweep: Sweep,
    trial: Trial,
    *,
    model_uri: str,
    data: str | None = None,
    pushgateway: str | None = None,
    metrics_file: str | None = None,
) -> dict[str, str]:
    """Return the contract's environment for one trial (user ``trainer.env`` excluded)."""
    env = {
        ENV_SWEEP: sweep.name,
        ENV_NAMESPACE: sweep.namespace,
        ENV_TRIAL: trial.id,
        ENV_ARCHITECTURE: sweep.spec.architecture,
        ENV_PARAMS: params_json(trial),
        ENV_WINDOW_START: trial.window.start.isoformat(),
        ENV_WINDOW_END: trial.window.end.isoformat(),
        ENV_DATA: data or sweep.spec.data,
        ENV_MODEL_URI: model_uri,
    }
    if sweep.spec.max_epochs is not None:
        env[ENV_MAX_EPOCHS] = str(sweep.spec.max_epochs)
    if pushgateway:
        env[ENV_PUSHGATEWAY] = pushgateway
    if metrics_file:
        env[ENV_METRICS_FILE] = metrics_file
    return env

