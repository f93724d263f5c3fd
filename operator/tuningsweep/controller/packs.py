"""Packed Jobs in the reconcile step: read as trials, started as packs, removed whole.

With ``spec.trainer.trialsPerPod`` above 1 a Job runs several trials of one window in one
pod (:mod:`tuningsweep.core.kube.packing` has the rules). The rest of the step reads trials,
not pods, so this module stands between the two:

* :meth:`PackedJobs.as_trials` turns each packed Job into its trials' states
  (:func:`~tuningsweep.core.kube.packing.trial_states`), reading the pods' exit records from
  the Pushgateway (one call per step while packs have unrecorded trials; not from
  Prometheus, whose scrape may not have happened yet when a failed Job is seen): a trial
  the pod finished is collected while the pod goes on with the next. A recorded trial
  counts as finished whether or not its group is still there;
* :func:`pod_slots` and :func:`packs_to_start` turn the decision core's trials to start
  into packs, so that ``parallelism`` counts trials training at once (one per pod);
* :meth:`PackedJobs.running_trials` holds back the deletion of a packed trial's
  Pushgateway group until its Job has ended, so that a replacement pod (an eviction)
  still finds the trial's exit record and skips it;
* :func:`removable_packs` says which packed Jobs may go: finished, and every trial it
  lists recorded durably (a Job removed earlier would leave a trial without its row and
  without its Job after a crash).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from ..core.kube.jobs import JobState
from ..core.kube.packing import TrialRecord, pack_trials, trial_states
from ..core.planning.planner import Trial
from .ports import GroupCleaner


class PackedJobs:
    """One sweep's packed Jobs and the exit records of their trials."""

    def __init__(self, groups: GroupCleaner, namespace: str, name: str) -> None:
        self.groups = groups
        self.namespace = namespace
        self.name = name
        self.packs: list[JobState] = []  # the packed Jobs of the last step, as observed

    async def as_trials(self, jobs: Sequence[JobState], done: Collection[str],
                        failed: Collection[str] = ()) -> list[JobState]:
        """``jobs`` with each packed Job replaced by its trials' states.

        ``done`` are the trials with a row and ``failed`` those whose row says failed: a
        recorded trial's group (and exit record) may be gone, and the row says the same.

        Jobs of one trial are kept as they are; the packed ones are kept in
        :attr:`packs` for :func:`removable_packs`.
        """
        self.packs = [j for j in jobs if j.trials]
        if not self.packs:
            return list(jobs)
        records: dict[str, TrialRecord] = {}
        if any(j.phase != "succeeded" and not all(t in done for t in j.trials)
               for j in self.packs):
            records = await self.groups.exit_records(self.namespace, self.name)
        out = [j for j in jobs if not j.trials]
        for job in self.packs:
            # A recorded trial is finished (its group may be gone once its row is durable).
            known = {t: TrialRecord(1 if t in failed else 0) for t in job.trials
                     if t in done}
            known.update((t, records[t]) for t in job.trials if t in records)
            out.extend(trial_states(job, known))
        return out

    def running_trials(self) -> set[str]:
        """Trials of packed Jobs not finished yet: their Pushgateway groups (with the exit
        records a replacement pod reads to skip them) stay until the Job ends."""
        return {t for j in self.packs if not j.finished for t in j.trials}


def busy_pods(states: Iterable[JobState], in_flight_packs: int) -> int:
    """Pods holding a slot: Jobs with an unfinished trial, and those just created."""
    return len({s.pack or s.trial for s in states if not s.finished}) + in_flight_packs


def pod_slots(parallelism: int, busy: int) -> int:
    """How many new pods may start (``parallelism`` counts trials training at once)."""
    return max(0, parallelism - busy)


def offer_size(busy_trials: int, free_pods: int, size: int, windows: int) -> int:
    """How many trials to ask the decision core for, so that ``free_pods`` packs can be
    filled: up to ``size`` trials of one window each, and plan order spreads
    consecutive trials over the windows."""
    return busy_trials + free_pods * size * max(1, windows)


def packs_to_start(offered: Sequence[Trial], size: int, free_pods: int
                   ) -> list[tuple[Trial, ...]]:
    """The packs to create now from the trials the decision core offers."""
    return pack_trials(offered, size, free_pods)


def removable_packs(packs: Iterable[JobState], durable: Callable[[str], bool]
                    ) -> list[JobState]:
    """Finished packed Jobs whose every listed trial is durably recorded.

    A failed pack's unstarted trials are recorded by a later Job; its Job waits for them
    too, which keeps the rule one line (it costs a little retention, nothing else).
    """
    return [j for j in packs if j.finished and all(durable(t) for t in j.trials)]
