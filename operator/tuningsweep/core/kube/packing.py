"""Packing trials into pods: which trials share a Job, and what a packed Job's state means.

Pure rules for ``spec.trainer.trialsPerPod`` (issue 24, item 3), written before the
operator carries them out so that they can be tested without a cluster. A packed Job
runs several trials of the same window one after another in one pod, in one warm
trainer process (:mod:`tuningsweep.executors.pack_runner`): the image, CUDA's start and
the window's data are paid once per pod instead of once per trial.

The rules:

* *What shares a pod* (:func:`pack_trials`): the trials the decision core says may start,
  taken in plan order; each pack is led by the earliest trial not packed yet and filled
  with the next trials of the same window, up to ``size``. Plan order is kept for the
  leads, so the trial the plan wants first still starts first.
* *Names stay deterministic*: a pack's Job is named after its lead trial
  (:func:`tuningsweep.core.records.naming.job_name`), and the Job lists its trials in order in
  the :data:`ANNOTATION_TRIALS` annotation (:func:`encode_trials`). A restarted operator
  reads the list back from the Jobs it watches: every listed trial is covered, none is
  packed twice.
* *Where the truth is* (:func:`pack_view`): the pod runs its trials in order; after
  each it pushes the trial's exit status (:data:`EXIT_GAUGE`) into the trial's own
  Pushgateway group, and it stops at the first trial that fails, exiting with that
  trial's status (so the pod failure policy and the failed row are those of a Job per
  trial). A trial with exit record 0 is done (collected at once, while the pod goes on);
  the first listed trial without one is the trial the pod is running (or, once the Job
  has failed, the trial that failed it, whether it exited non-zero or took the pod down);
  the trials after it have not started. A retried pod skips the trials with record 0. A failed Job's unstarted trials hold no row and no Job, so the
  decision core offers them again and they are packed into a new Job, led (and named)
  by the first of them: a failed pod retries only its unfinished trials, and no trial
  runs twice to completion.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..planning.planner import Trial
from ..records.contract import (
    ENV_DATA_CACHE,
    ENV_MODEL_URI,
    ENV_PARAMS,
    ENV_TRIAL,
    PUSH_JOB,
    trial_env,
    trial_model_uri,
)
from ..spec.parse import Sweep, Trainer
from .jobs import ANNOTATION_TRIALS, JobState, build_job

__all__ = ["ANNOTATION_TRIALS"]  # re-exported: the annotation is read in .jobs
#: The pod's environment variable with each packed trial's own environment (JSON).
ENV_PACK = "TUNINGSWEEP_PACK"
#: The gauge the pod pushes into a trial's own Pushgateway group once the trial returned:
#: its exit status. It tells the operator the trial is over while the pod goes on, and a
#: retried pod (an evicted one, or ``backoffLimit``) which trials to skip (status 0).
EXIT_GAUGE = "tuningsweep_trial_exit_status"
#: When the pod started and ended the trial (Unix seconds), pushed with its exit status:
#: a packed trial's row has its own times, so ``gpu_seconds`` and the trial-hours budget
#: count the trial, not the pod.
STARTED_GAUGE = "tuningsweep_trial_started_seconds"
ENDED_GAUGE = "tuningsweep_trial_ended_seconds"


def pack_trials(candidates: Sequence[Trial], size: int, pods: int) -> list[tuple[Trial, ...]]:
    """Group the trials that may start into at most ``pods`` packs of one window each.

    Args:
        candidates: trials the decision core offers, in plan order (none running).
        size: the most trials one pod runs (``spec.trainer.trialsPerPod``, >= 1).
        pods: how many packs may start now (free slots of ``parallelism``).

    Returns:
        Packs in the order their leads appear in ``candidates``; each holds trials of one
        window in plan order, and no trial is in two packs.

    Raises:
        ValueError: ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"trials per pod must be at least 1, got {size}")
    packs: list[tuple[Trial, ...]] = []
    taken: set[str] = set()
    for index, lead in enumerate(candidates):
        if len(packs) >= pods:
            break
        if lead.id in taken:
            continue
        pack = [lead]
        taken.add(lead.id)
        for trial in _same_window(candidates, index + 1, lead):
            if len(pack) >= size:
                break
            if trial.id not in taken:
                pack.append(trial)
                taken.add(trial.id)
        packs.append(tuple(pack))
    return packs


def _same_window(candidates: Sequence[Trial], start: int, lead: Trial) -> Iterator[Trial]:
    for trial in candidates[start:]:
        if trial.window == lead.window:
            yield trial


def encode_trials(trial_ids: Sequence[str]) -> str:
    """The :data:`ANNOTATION_TRIALS` value for a pack (comma-separated, in run order)."""
    for trial_id in trial_ids:
        if not trial_id or "," in trial_id:
            raise ValueError(f"trial id {trial_id!r} cannot be listed in a pack")
    return ",".join(trial_ids)


def decode_trials(text: str | None) -> tuple[str, ...]:
    """The trials a Job's :data:`ANNOTATION_TRIALS` lists (empty for a Job of one trial)."""
    if not text:
        return ()
    return tuple(part for part in (p.strip() for p in text.split(",")) if part)


def pack_env_json(envs: Sequence[tuple[str, dict[str, str]]]) -> str:
    """:data:`ENV_PACK`'s value: ``[{"trial": ID, "env": {...}}, ...]`` in run order.

    Each entry holds what differs between the pack's trials (the trial's id, parameters,
    model location...); the container's own environment is common to them all.
    """
    return json.dumps([{"trial": trial_id, "env": env} for trial_id, env in envs],
                      sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PackEntry:
    """One trial of a pack as the pod reads it from :data:`ENV_PACK`."""

    trial: str
    env: dict[str, str]


def parse_pack_env(text: str) -> list[PackEntry]:
    """Read :data:`ENV_PACK` back (see :func:`pack_env_json`).

    Raises:
        ValueError: the text is not such a list (named in the message).
    """
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{ENV_PACK} is not JSON: {err}") from None
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{ENV_PACK} must be a non-empty list of {{trial, env}} entries")
    entries = []
    for item in raw:
        env = item.get("env") if isinstance(item, dict) else None
        trial = item.get("trial") if isinstance(item, dict) else None
        if not isinstance(trial, str) or not trial or not isinstance(env, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ValueError(f"{ENV_PACK} entry {item!r} is not {{trial: str, env: {{str: str}}}}")
        entries.append(PackEntry(trial, dict(env)))
    ids = [e.trial for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{ENV_PACK} lists a trial twice: {', '.join(ids)}")
    return entries


JobPhase = Literal["active", "succeeded", "failed"]


@dataclass(frozen=True)
class PackView:
    """What each trial of a packed Job is, from the Job's phase and the pod's exit records.

    Attributes:
        done: trials the pod ran to the end with exit status 0: collected now, while the
            pod goes on with the next (their final metrics are read as a single trial's).
        current: the trial the pod runs now (Job active), or the trial the pod was running
            when the Job failed (it failed, exited non-zero or took the pod down with it);
            None once nothing is left.
        unstarted: trials after ``current``. While the Job is active they wait in the pod;
            once it failed they go back to the plan (a new Job led by the first of them).
    """

    done: tuple[str, ...]
    current: str | None
    unstarted: tuple[str, ...]


def pack_view(trials: Sequence[str], exits: Mapping[str, int], phase: JobPhase) -> PackView:
    """Classify a packed Job's trials (see the module docstring for why this is the truth).

    Args:
        trials: the Job's trials in run order (its :data:`ANNOTATION_TRIALS`).
        exits: the pod's exit records seen so far (:data:`EXIT_GAUGE`), by trial.
        phase: the Job's phase.
    """
    if phase == "succeeded":
        # The pod exits 0 only after every trial exited 0: a record not seen yet is a
        # scrape not done yet, and the final metrics say the rest (as for one trial).
        return PackView(tuple(trials), None, ())
    done = tuple(t for t in trials if exits.get(t) == 0)
    rest = [t for t in trials if exits.get(t) != 0]
    if not rest:
        return PackView(done, None, ())
    return PackView(done, rest[0], tuple(rest[1:]))


@dataclass(frozen=True)
class TrialRecord:
    """A packed trial's exit record as the pod pushed it (times in Unix seconds, 0.0 when
    not known)."""

    status: int
    started: float = 0.0
    ended: float = 0.0


def parse_exit_records(body: Any, namespace: str, sweep: str) -> dict[str, TrialRecord]:
    """The exit records of one sweep's trials in the Pushgateway's ``/api/v1/metrics``
    answer (every group with its metrics).

    The operator and a retried pod read them from the Pushgateway itself, not from
    Prometheus: a pod's pushes are there before the pod ends, so a failed Job is never
    judged on a scrape that has not happened yet.

    Raises:
        ValueError: the answer is not the API's JSON.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError("the Pushgateway's /api/v1/metrics answer has no data list")
    records: dict[str, TrialRecord] = {}
    for group in body["data"]:
        labels = group.get("labels") or {} if isinstance(group, dict) else {}
        if (labels.get("job") != PUSH_JOB or labels.get("namespace") != namespace
                or labels.get("sweep") != sweep or not labels.get("trial")):
            continue
        status = _gauge(group, EXIT_GAUGE)
        if status is not None:
            records[str(labels["trial"])] = TrialRecord(
                int(status), _gauge(group, STARTED_GAUGE) or 0.0,
                _gauge(group, ENDED_GAUGE) or 0.0)
    return records


def _gauge(group: dict[str, Any], name: str) -> float | None:
    for sample in (group.get(name) or {}).get("metrics") or []:
        try:
            return float(sample.get("value"))
        except (TypeError, ValueError):
            return None
    return None


def trial_states(job: JobState, records: Mapping[str, TrialRecord]) -> list[JobState]:
    """One :class:`JobState` per trial of a packed Job, as a Job per trial would be seen.

    The rest of the operator (the decision core, collection, budgets, status) reads
    trials, not pods, so a packed Job is read as its trials (:func:`pack_view`):

    * a done trial is a succeeded one, with its own start and end from its record;
    * the current trial is active (the Job runs) or failed with the Job's reason (the Job
      failed), from the previous trial's end (or the pod's start) on;
    * while the Job runs, the trials after it are *queued in the pod*: they hold their
      place (nothing else starts them) but are not running (``suspended``, no start), so
      ``parallelism`` counts trials training at once (one per pod) and the budgets count
      no time for them; once the Job failed they are left out, back to the plan.

    Each state's ``pack`` names the Job's lead trial (the Job is named after it).
    """
    lead = job.trials[0] if job.trials else job.trial
    view = pack_view(job.trials or (job.trial,),
                     {t: r.status for t, r in records.items()}, job.phase)
    states: list[JobState] = []
    previous_end = job.start
    for trial in view.done:
        record = records.get(trial)
        start = record.started if record and record.started else previous_end
        end = record.ended if record and record.ended else job.end
        states.append(JobState(trial, "succeeded", start, end, owner=job.owner, pack=lead))
        previous_end = end or previous_end
    if view.current is not None:
        if job.phase == "failed":
            states.append(JobState(view.current, "failed", previous_end, job.end, job.reason,
                                   job.message, owner=job.owner, pack=lead))
        else:
            states.append(JobState(view.current, "active", previous_end if not job.suspended
                                   else 0.0, owner=job.owner, suspended=job.suspended,
                                   pack=lead))
    if job.phase == "active":
        states.extend(JobState(t, "active", owner=job.owner, suspended=True, pack=lead)
                      for t in view.unstarted)
    return states


#: The trainer function a pack calls when the spec names none and runs the reference
#: trainer image (no ``command``): its command-line entry point, called once per trial.
REFERENCE_FUNCTION = "tuningsweep_trainer.cli:main"
#: The pod's command for a pack (followed by the trainer function).
PACK_COMMAND = ("python", "-m", "tuningsweep.executors.pack_runner")
#: Where a packed pod's trainer keeps windows' data between its trials (the writable
#: emptyDir at /tmp; the reference trainer's window cache also keeps them in memory).
POD_DATA_CACHE = "/tmp/tuningsweep-data-cache"
#: What differs between a pack's trials (the window is the same for all).
_PER_TRIAL = (ENV_TRIAL, ENV_PARAMS, ENV_MODEL_URI)


def pack_function(trainer: Trainer) -> str | None:
    """The function a packed pod calls per trial; None for a plain command (a program
    cannot be called twice in one process)."""
    if trainer.function:
        return trainer.function
    return None if trainer.command else REFERENCE_FUNCTION


def build_pack_job(sweep: Sweep, trials: Sequence[Trial], *, models_uri: str,
                   owner_uid: str | None, pushgateway: str | None) -> dict[str, Any]:
    """The Job manifest of a pack: the lead trial's Job, running every trial of the pack.

    A pack of one trial is exactly :func:`tuningsweep.core.kube.jobs.build_job`'s Job.

    Raises:
        ValueError: the pack is empty, mixes windows, or the trainer is a plain command.
    """
    if not trials:
        raise ValueError("a pack holds at least one trial")
    lead = trials[0]
    job = build_job(sweep, lead, model_uri=trial_model_uri(models_uri, lead.id),
                    owner_uid=owner_uid, pushgateway=pushgateway)
    if len(trials) == 1:
        return job
    if any(t.window != lead.window for t in trials):
        raise ValueError("a pack's trials share one window")
    function = pack_function(sweep.spec.trainer)
    if function is None:
        raise ValueError("spec.trainer.command cannot be packed: set spec.trainer.function")
    envs = []
    for trial in trials:
        env = trial_env(sweep, trial, model_uri=trial_model_uri(models_uri, trial.id),
                        pushgateway=pushgateway)
        envs.append((trial.id, {k: env[k] for k in _PER_TRIAL}))
    job["metadata"]["annotations"][ANNOTATION_TRIALS] = encode_trials([t.id for t in trials])
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"] = [*PACK_COMMAND, function]
    names = {e["name"] for e in container["env"]}
    container["env"].append({"name": ENV_PACK, "value": pack_env_json(envs)})
    if ENV_DATA_CACHE not in names:
        container["env"].append({"name": ENV_DATA_CACHE, "value": POD_DATA_CACHE})
    return job
