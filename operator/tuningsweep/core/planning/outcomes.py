"""From how a trial ended to its result row: one rule for both executors.

An executor observes a trial's end in its own way (a process's exit status and metrics
file locally; a Job's condition and Prometheus's series on a cluster) and describes it
as a :class:`TrialEnd`. :func:`trial_row` alone decides what that becomes: succeeded or
failed, with which error text, which metrics are recorded, and the GPU time it cost.
Before this module each executor had its own copy of these rules, and they disagreed
(a NaN objective was "did not report" locally and "diverged" on the cluster).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..records.results import ResultRow, TrialStatus
from ..spec.parse import Sweep
from .planner import Trial

#: Error texts are cut to this many characters (the CSV stays readable; the end of a
#: trainer's output, where the error is, is kept).
ERROR_CHARS = 1500

#: How a failed trial's error starts when the trainer said its input is wrong (exit
#: status 2, the trainer contract): no retry can fix it, so the decision core stops the
#: sweep at once (:func:`tuningsweep.core.planning.decisions.decide`). Kept in the error text, so
#: a resumed run reads it back from results.csv without a column of its own.
BAD_INPUT_PREFIX = "bad input: "

#: What joins the lines of a trainer's output in an error text (results.csv keeps one
#: line per trial); the first line is the error's own message.
LINE_JOIN = " | "


def mark_bad_input(error: str) -> str:
    """``error`` marked as a bad-input failure (once)."""
    return error if error.startswith(BAD_INPUT_PREFIX) else BAD_INPUT_PREFIX + error


def is_bad_input(error: str) -> bool:
    """Whether a failed trial's error says its input is wrong (see BAD_INPUT_PREFIX)."""
    return error.startswith(BAD_INPUT_PREFIX)


def first_line(error: str) -> str:
    """The first line of an error text: what a summary shows of it, never cut inside."""
    return error.split("\n", 1)[0].split(LINE_JOIN, 1)[0].strip()


@dataclass(frozen=True)
class TrialEnd:
    """What an executor saw when one trial's process or Job ended.

    Attributes:
        trial: the planned trial.
        exited_ok: the process exited 0 / the Job completed.
        failure: when it did not, how it failed (exit status or Job condition, with the
            trainer's last error line when the executor has it).
        final: the final metrics the trainer reported; None when it reported none.
            A non-finite value is kept as NaN: it was reported, and it is not a result.
        no_final: what to say when ``final`` is None (where the executor looked).
        started_at, finished_at: RFC 3339 timestamps ("" when unknown).
        duration_seconds: wall time of the trial.
        gpus: GPUs the trial held (0 for CPU-only).
        model_uri: where the trainer saved its model.
        job: the Job's name, or ``local``.
        stopped: why early stopping ended the trial ("" when it ran to its end); its
            ``final`` metrics are then the last epoch's.
        bad_input: the trainer exited with status 2, bad input (the Job's pod failure
            policy failed it): the error is marked so (:data:`BAD_INPUT_PREFIX`).
    """

    trial: Trial
    exited_ok: bool
    failure: str = ""
    final: Mapping[str, float] | None = None
    no_final: str = "the trainer exited 0 without reporting final metrics"
    started_at: str = ""
    finished_at: str = ""
    duration_seconds: float = 0.0
    gpus: float = 0.0
    model_uri: str = ""
    job: str = ""
    stopped: str = ""
    bad_input: bool = False


def failure_text(end: TrialEnd, objective: str) -> str:
    """Why the trial is a failure, or "" when it succeeded."""
    if not end.exited_ok:
        return end.failure or "the trainer failed"
    if end.final is None:
        return end.no_final
    value = end.final.get(objective)
    if value is None:
        return (f"the trainer did not report the objective metric {objective!r} "
                f"(it reported: {', '.join(sorted(end.final)) or 'nothing'})")
    if not math.isfinite(value):
        return f"the objective {objective} is {value}: training diverged?"
    return ""


def _seconds(value: float | None) -> float:
    """A reported duration for a ``*_seconds`` column (NaN: not reported or not valid)."""
    if value is None or not math.isfinite(value) or value < 0:
        return math.nan
    return round(float(value), 3)


def trial_row(sweep: Sweep, end: TrialEnd) -> ResultRow:
    """The result row of a finished trial (see the module docstring)."""
    spec = sweep.spec
    final = end.final or {}
    trial = end.trial
    status: TrialStatus = "stopped"
    if end.stopped:
        error = end.stopped[-ERROR_CHARS:]  # a stopped trial is neither a failure nor a result
    else:
        error = failure_text(end, spec.objective_metric)[-ERROR_CHARS:]
        status = "failed" if error else "succeeded"
        if error and end.bad_input and not end.exited_ok:
            error = mark_bad_input(error[-(ERROR_CHARS - len(BAD_INPUT_PREFIX)):])
    return ResultRow(
        sweep=sweep.name, trial=trial.id, config=trial.config, window=trial.window.id,
        window_start=trial.window.start.isoformat(), window_end=trial.window.end.isoformat(),
        status=status,
        params=trial.params,  # shared with the plan, not copied per row
        metrics={m: final[m] for m in spec.recorded_metrics
                 if m in final and math.isfinite(final[m])},
        started_at=end.started_at, finished_at=end.finished_at,
        duration_seconds=round(end.duration_seconds, 3),
        gpu_seconds=round(end.duration_seconds * end.gpus, 3),
        startup_seconds=_seconds(final.get("startup_seconds")),
        data_seconds=_seconds(final.get("data_seconds")),
        train_seconds=_seconds(final.get("train_seconds")),
        model_uri=end.model_uri if status == "succeeded" else "", job=end.job, error=error,
    )
