"""Kubernetes Job manifests for trials: a pure builder shared by the operator and ``render``.

One Job per trial, named deterministically from the sweep and trial id, so creating it
twice is a no-op and a restarted operator recognises its own Jobs. The pod runs the
trainer image with the trainer contract's environment, requests the trainer's resources
(a GPU by default), and is locked down by default (non-root, no privilege escalation,
all capabilities dropped, RuntimeDefault seccomp, read-only root with a writable /tmp,
no Kubernetes API token unless ``spec.trainer.automountServiceAccountToken`` asks for one).
``restartPolicy: Never`` and ``backoffLimit`` from the spec (0 by default) mean a failed
trial is reported, not silently retried on the same GPU budget.

Two kinds of pod failure are not the trial's fault or not worth a retry, and the Job's
``podFailurePolicy`` tells them apart (Kubernetes 1.26+, GA in 1.31): a pod evicted or
preempted (spot GPUs reclaimed, a higher-priority Job, a node drained) carries the
``DisruptionTarget`` condition and is ``Ignore``d: the Job controller starts a new pod
without counting the failure against ``backoffLimit``, so even the default of 0 retries
disruptions. Trainer exit code 2 means bad input (a parameter the trainer rejects, data
that does not resolve): ``FailJob`` ends the Job at once, whatever retries are left.
``FallbackToLogsOnError`` makes the container's termination message its last log lines
when the trainer wrote none, so the reason a trial failed can be read from its pod.

With ``spec.trainer.queueName`` the Job is created suspended with Kueue's queue label:
Kueue admits it (unsuspends it) when the queue has quota, and until then it is queued.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any, Literal, NamedTuple

from ..planning.planner import Trial
from ..records import layout, naming
from ..records.contract import params_json, trial_env
from ..spec import api
from ..spec.parse import Sweep
from ..spec.podspec import TMP_PATH, TMP_VOLUME
from ..spec.quantity import QuantityError, quantity_value

LABEL_SWEEP = "tuningsweep.io/sweep"
LABEL_TRIAL = "tuningsweep.io/trial"
LABEL_CONFIG = "tuningsweep.io/config"
ANNOTATION_PARAMS = "tuningsweep.io/params"
ANNOTATION_WINDOW = "tuningsweep.io/window"
#: A packed Job's trials in the order its pod runs them (``spec.trainer.trialsPerPod``;
#: :mod:`.packing`). A Job of one trial has none.
ANNOTATION_TRIALS = "tuningsweep.io/trials"
LABEL_QUEUE = "kueue.x-k8s.io/queue-name"
MANAGED_BY = {"app.kubernetes.io/managed-by": "tuningsweep"}
EXIT_BAD_INPUT = 2  # the trainer contract: retrying cannot help
#: The Failed condition's reason when a pod failure policy rule failed the Job: ours has
#: one FailJob rule, the trainer's exit code 2 (bad input).
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
CONTAINER = "trainer"
#: The container's command for ``spec.trainer.function`` (the image's Python runs it).
FUNCTION_COMMAND = ("python", "-m", "tuningsweep.executors.warm_worker", "--once")

# Evicted and preempted pods are retried without counting; bad input fails the Job at once.
_POD_FAILURE_POLICY: dict[str, Any] = {"rules": [
    {"action": "FailJob",
     "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": [EXIT_BAD_INPUT]}},
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
]}

_POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def trial_labels(sweep: Sweep, trial: Trial) -> dict[str, str]:
    """Labels that let the operator list a sweep's Jobs and users filter them."""
    return {LABEL_SWEEP: sweep.name, LABEL_TRIAL: trial.id, LABEL_CONFIG: trial.config,
            **MANAGED_BY}


def owner_reference(sweep: Sweep, uid: str) -> dict[str, Any]:
    """The ownerReference that makes deleting a sweep delete its Jobs."""
    return {"apiVersion": api.API_VERSION, "kind": api.KIND, "name": sweep.name, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


def build_job(
    sweep: Sweep,
    trial: Trial,
    *,
    model_uri: str,
    owner_uid: str | None,
    pushgateway: str | None,
) -> dict[str, Any]:
    """Return the Job manifest of one trial.

    ``owner_uid`` is None only for ``tuningsweep render``, where the sweep does not exist
    yet; the operator always passes the sweep's uid.
    """
    spec = sweep.spec
    trainer = spec.trainer
    env = trial_env(sweep, trial, model_uri=model_uri, pushgateway=pushgateway)
    env_list = [{"name": k, "value": v} for k, v in env.items()]
    env_list += [{"name": k, "value": v} for k, v in trainer.env]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": trainer.image,
        "env": env_list,
        # Quantities are canonical strings already (core/spec/podspec.py): the client needs them so.
        "resources": json.loads(json.dumps(trainer.resources)),
        "securityContext": dict(_CONTAINER_SECURITY),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": TMP_PATH},
                         *(dict(m) for m in trainer.volume_mounts)],
    }
    if trainer.command:
        container["command"] = list(trainer.command)
    elif trainer.function:
        # One trial per pod: the function called once, as a process per trial would.
        container["command"] = [*FUNCTION_COMMAND, trainer.function]
    if trainer.args:
        container["args"] = list(trainer.args)
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": dict(_POD_SECURITY),
        "containers": [container],
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {}}, *(dict(v) for v in trainer.volumes)],
        # Explicit either way: the pod's setting wins over its ServiceAccount's.
        "automountServiceAccountToken": trainer.automount_service_account_token,
    }
    if trainer.service_account_name:
        pod["serviceAccountName"] = trainer.service_account_name
    if trainer.priority_class_name:
        pod["priorityClassName"] = trainer.priority_class_name
    if trainer.node_selector:
        pod["nodeSelector"] = dict(trainer.node_selector)
    if trainer.tolerations:
        pod["tolerations"] = [dict(t) for t in trainer.tolerations]
    labels = trial_labels(sweep, trial)
    job_labels = dict(labels)
    if trainer.queue_name:
        job_labels[LABEL_QUEUE] = trainer.queue_name
    metadata: dict[str, Any] = {
        "name": naming.job_name(sweep.name, trial.id),
        "namespace": sweep.namespace,
        "labels": job_labels,
        "annotations": {
            ANNOTATION_PARAMS: params_json(trial),
            ANNOTATION_WINDOW: f"{trial.window.start.isoformat()}/{trial.window.end.isoformat()}",
        },
    }
    if owner_uid is not None:
        metadata["ownerReferences"] = [owner_reference(sweep, owner_uid)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": trainer.backoff_limit,
            "activeDeadlineSeconds": trainer.active_deadline_seconds,
            "podFailurePolicy": json.loads(json.dumps(_POD_FAILURE_POLICY)),
            # Kueue admits a queued Job by unsuspending it; without a queue it starts at once.
            "suspend": bool(trainer.queue_name),
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


def model_uri_for(sweep: Sweep, trial_id: str, results: str) -> str:
    """A trial's model location: ``<models>/<ns>/<name>/<trial>`` or beside the results."""
    return layout.trial_model(
        layout.sweep_models(sweep.namespace, sweep.name, results, sweep.spec.models), trial_id)


Phase = Literal["active", "succeeded", "failed"]


class JobState(NamedTuple):
    """What the operator needs to know about one observed Job, kept small.

    The operator holds one of these for every Job of every sweep it watches, finished
    ones included (completed Jobs stay in the cluster until their sweep is deleted), so
    it is a tuple of a few scalars: times as epoch seconds rather than strings, the
    Job's name left out (it follows from sweep and trial), and the owning sweep's uid a
    shared, interned string.
    """

    trial: str
    phase: Phase
    start: float = 0.0  # epoch seconds; 0.0 when unknown
    end: float = 0.0  # when it completed or failed; 0.0 while active or unknown
    reason: str = ""  # the Failed condition's reason and message
    message: str = ""
    owner: str = ""  # uid of the TuningSweep that owns the Job ("" when none)
    suspended: bool = False  # unfinished and suspended: queued (Kueue has not admitted it)
    trials: tuple[str, ...] = ()  # a packed Job's trials in run order (none: one trial)
    pack: str = ""  # one trial of a packed Job (core/kube/packing.py): the Job's lead trial

    @property
    def finished(self) -> bool:
        """Complete or Failed, as the Job controller reports it."""
        return self.phase != "active"

    @property
    def bad_input(self) -> bool:
        """Failed by the pod failure policy: the trainer exited 2 (bad input)."""
        return self.phase == "failed" and self.reason == REASON_POD_FAILURE_POLICY

    @property
    def running(self) -> bool:
        """Active and not held back by a queue (its pod may still wait for a node)."""
        return self.phase == "active" and not self.suspended

    @property
    def started_at(self) -> str:
        """The start as an RFC 3339 timestamp ("" when unknown)."""
        return format_timestamp(self.start)

    @property
    def finished_at(self) -> str:
        """The end as an RFC 3339 timestamp ("" when unknown)."""
        return format_timestamp(self.end)

    def duration_seconds(self) -> float:
        """Seconds from start to finish (0 when either is unknown)."""
        if not self.start or not self.end:
            return 0.0
        return max(0.0, self.end - self.start)


def parse_timestamp(text: str | None) -> float:
    """An RFC 3339 timestamp as epoch seconds; 0.0 for none or an unreadable one."""
    if not text:
        return 0.0
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:  # Kubernetes always writes UTC; never the local zone
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def format_timestamp(seconds: float) -> str:
    """Epoch seconds as Kubernetes writes them (whole seconds, ``Z``); "" for 0.0."""
    if not seconds:
        return ""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    if moment.microsecond:
        return moment.isoformat().replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def job_owner(metadata: dict[str, Any]) -> str:
    """The uid of the TuningSweep among a Job's ownerReferences ("" when none)."""
    for ref in metadata.get("ownerReferences") or []:
        if ref.get("kind") == api.KIND and str(ref.get("apiVersion", "")).startswith(
                api.GROUP + "/"):
            # Interned: every Job of a sweep carries the same uid, kept once in memory.
            return sys.intern(str(ref.get("uid", "")))
    return ""


def job_state(job: dict[str, Any]) -> JobState:
    """Read a Job object (as the API returns it) into a :class:`JobState`."""
    metadata = job.get("metadata") or {}
    status = job.get("status") or {}
    phase: Phase = "active"
    reason = message = ""
    finished_at = None
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            phase = "succeeded"
            finished_at = status.get("completionTime") or condition.get("lastTransitionTime")
        elif condition.get("type") == "Failed":
            phase = "failed"
            reason = condition.get("reason", "")
            message = condition.get("message", "")
            finished_at = condition.get("lastTransitionTime")
    return JobState(
        trial=(metadata.get("labels") or {}).get(LABEL_TRIAL, ""),
        phase=phase,
        start=parse_timestamp(status.get("startTime") or metadata.get("creationTimestamp")),
        end=parse_timestamp(finished_at),
        reason=reason,
        message=message,
        owner=job_owner(metadata),
        suspended=phase == "active" and (job.get("spec") or {}).get("suspend") is True,
        trials=_listed_trials((metadata.get("annotations") or {}).get(ANNOTATION_TRIALS)),
    )


def _listed_trials(text: str | None) -> tuple[str, ...]:
    """A packed Job's trials from its annotation (interned: the ids recur in the plan)."""
    if not text:
        return ()
    return tuple(sys.intern(part.strip()) for part in text.split(",") if part.strip())


LABEL_JOB_NAME = "batch.kubernetes.io/job-name"  # the Job controller labels its pods so


def pod_failure_message(pods: list[dict[str, Any]]) -> str:
    """The trainer's last words from the most recent failed pod of a Job ("" when none).

    ``terminationMessagePolicy: FallbackToLogsOnError`` makes a failed container's
    termination message its last log lines; the last non-empty one is the error the
    trainer printed (``BadInputError: ...``), which is what a results row needs.
    """
    latest = ("", "")
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            if container.get("name") != CONTAINER:
                continue
            terminated = (container.get("state") or {}).get("terminated") or {}
            lines = [ln.strip() for ln in str(terminated.get("message") or "").splitlines()]
            lines = [ln for ln in lines if ln]
            if terminated.get("exitCode") not in (None, 0) and lines:
                # RFC 3339 in UTC sorts as text; the latest attempt speaks last.
                latest = max(latest, (str(terminated.get("finishedAt") or ""), lines[-1]))
    return latest[1][:500]


def gpus_requested(sweep: Sweep) -> float:
    """GPUs each trial requests (for the gpu_seconds column)."""
    resources = sweep.spec.trainer.resources
    for section in ("limits", "requests"):
        value = (resources.get(section) or {}).get("nvidia.com/gpu")
        if value is not None:
            try:
                return quantity_value(value)
            except QuantityError:
                return 0.0
    return 0.0
