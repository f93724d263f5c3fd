"""A run of a recurring sweep on the cluster: the child TuningSweep's side.

The child (created by :mod:`.recurring`) is reconciled like any sweep, with three
differences, all taken from the same functions ``tuningsweep run`` uses
(:mod:`tuningsweep.io.recurring_runs`), so the two executors decide alike:

* its results folder is ``<results>/<namespace>/<parent>/runs/<run>/`` and its rolling
  windows are resolved against the run's date (the slot's), not the day it was created;
* its seeds and reuse record are pinned in that folder before its first trial
  (``warm-start.json``, ``reuse.json``) and read back on every later start, so a
  restarted operator plans the same trials;
* a trial an earlier run trained on the same window, data, trainer and parameters is
  not created as a Job: its row is copied with ``reused_from`` (see the reconciler).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from ..core.kube.resource import SweepBody
from ..core.planning.planner import Trial
from ..core.records.results import ResultRow
from ..core.recurring.runs import RunStart
from ..core.spec.errors import InvalidSpec
from ..core.spec.parse import DateWindow, Sweep, parse_spec
from ..io.partitions import DataFolderMissing
from ..io.recurring_runs import RecurringRun, begin, recurring_run
from ..io.storage import Store
from .recurring import ANNOTATION_SPEC, LABEL_PARENT, LABEL_RUN

log = logging.getLogger(__name__)
#: Marks data the operator could not list (its fingerprint is the URI, never reused).
UNLISTED = "unlisted:"
#: Returns a trial's row copied from an earlier run, or None to train it.
Reuse = Callable[[Trial], ResultRow | None]


def run_of(body: SweepBody, namespace: str) -> RecurringRun | None:
    """The recurring run this TuningSweep is (None: an ordinary sweep).

    The labels name the parent and the run; the annotation holds the parent's spec as it
    was when the run was created (warm start and reuse settings included).
    """
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    parent, run = labels.get(LABEL_PARENT), labels.get(LABEL_RUN)
    raw = (meta.get("annotations") or {}).get(ANNOTATION_SPEC)
    if not parent or not run or not raw:
        return None
    try:
        base = parse_spec(json.loads(raw), parent, namespace)
    except (InvalidSpec, ValueError):
        return None  # not written by the operator: run as an ordinary sweep
    if base.spec.schedule is None:
        return None
    return recurring_run(base, run)


def trainer_command(sweep: Sweep) -> list[str]:
    """What identifies the trainer of a Job: its image, command and arguments."""
    trainer = sweep.spec.trainer
    return [f"image={trainer.image}", *(trainer.command or ()), *trainer.args]


def start_child(picked: RecurringRun, store: Store, windows: tuple[DateWindow, ...]) -> RunStart:
    """The run's start, pinned on its first call (its ``lookup``: what is reused)."""
    data = picked.base.spec.data
    try:
        start = begin(picked, store, windows, trainer_command(picked.base), data, reuse=True)
    except DataFolderMissing:
        # A path the trainers' pods mount is not the operator's to list: without a
        # fingerprint of the data nothing can be shown to be the same, so nothing is
        # reused (warm start still is).
        log.warning("%s: %s cannot be listed by the operator: no trial is reused",
                    picked.sweep.key, data)
        start = begin(picked, store, windows, trainer_command(picked.base),
                      f"{UNLISTED}{data}", reuse=False)
    return start
