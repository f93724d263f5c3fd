"""How ``tuningsweep run`` ends: its exit status and the lines that explain it.

pytest's habit: 0 only when every planned trial succeeded, and every other ending has
its own status and a summary a person reads in one line (``3 of 18 trials failed:
c0001-w0: ...``). Racing's eliminations are decisions, not failures: an eliminated
configuration's remaining trials are never planned, so they are not counted. The
statuses are defined in :mod:`.common`.

A resume that fails again as before is the case issue 14 met: the cause was the windows
an earlier run pinned (no data there), and only ``--fresh`` re-resolves them. When a
trial fails with the error it had before, the hint says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core.planning.decisions import REASON_BAD_INPUT, REASON_BUDGET
from ..core.planning.outcomes import first_line
from ..core.planning.status import FAILED, SUSPENDED
from ..core.records.results import ResultRow
from ..core.spec.parse import DateWindow
from .common import EXIT_FAILED, EXIT_FAILURE_BUDGET, EXIT_OK, EXIT_SUSPENDED, EXIT_USAGE

ALSO_LISTED = 8


@dataclass(frozen=True)
class RunEnd:
    """The exit status and what to print on stderr (each line already prefixed)."""

    status: int
    lines: tuple[str, ...] = ()


def run_end(key: str, phase: str, stopped_reason: str | None, rows: Sequence[ResultRow],
            earlier_failures: Mapping[str, str], windows: Sequence[DateWindow],
            results_uri: str, reason: str = "") -> RunEnd:
    """The ending of one sweep's run.

    Args:
        key: the sweep's ``namespace/name``.
        phase: the decision core's last phase (Succeeded, Failed, Suspended...).
        stopped_reason: why the sweep was stopped (the failure budget), if it was.
        rows: every result row now recorded.
        earlier_failures: trials that had failed before this run, with their errors.
        windows: the pinned windows.
        results_uri: where ``results.csv`` is, for the hint.
        reason: the decision core's reason for the phase: a trial that failed on bad
            input (``BadInput``) ends the run with exit status 2, like bad input found
            before training.
    """
    if phase == SUSPENDED:
        return RunEnd(EXIT_SUSPENDED, (
            f"suspended: sweep {key} has spec.suspend: true, so no trial started; set "
            "spec.suspend: false (or remove it) and run again",))
    failed = {r.trial: r.error for r in rows if r.status == "failed"}
    again = _failed_again(failed, earlier_failures, windows)
    hint = (f"hint: each failed trial's error is in the error column of {results_uri}; "
            "fix the cause and run again with --retry-failed")
    if phase == FAILED and reason == REASON_BAD_INPUT:
        return RunEnd(EXIT_USAGE, (
            f"error: sweep {key} stopped: {stopped_reason}",
            "hint: fix the input (spec.trainer.args, spec.data, spec.parameters) and run "
            "again with --retry-failed", *again))
    if phase == FAILED or stopped_reason is not None:
        return RunEnd(EXIT_FAILURE_BUDGET, (
            f"error: sweep {key} stopped: {stopped_reason}", hint, *again))
    if not failed:
        return RunEnd(EXIT_OK)
    (first, error), *rest = sorted(failed.items())
    error = first_line(error)
    also = ""
    if rest:
        names = [t for t, _ in rest[:ALSO_LISTED]]
        more = f" and {len(rest) - ALSO_LISTED} more" if len(rest) > ALSO_LISTED else ""
        also = f" (also failed: {', '.join(names)}{more})"
    summary = f"error: {len(failed)} of {len(rows)} trials failed: {first}: {error}{also}"
    return RunEnd(EXIT_FAILED, (summary, hint, *again))


def _failed_again(failed: Mapping[str, str], earlier: Mapping[str, str],
                  windows: Sequence[DateWindow]) -> tuple[str, ...]:
    same = sorted(t for t, error in failed.items() if earlier.get(t) == error)
    if not same:
        return ()
    pinned = ", ".join(f"{w.id} {w.start}..{w.end}" for w in windows)
    return (f"hint: {', '.join(same[:ALSO_LISTED])} failed again with the same error; if "
            f"the windows pinned by the first run ({pinned}) are the cause, --fresh "
            "(with --today D for rolling windows) discards the results and resolves the "
            "windows again",)


def by_design(reason: str, message: str, rows: Sequence[ResultRow]) -> tuple[str, ...]:
    """Lines about trials that did not run to their end by design (exit status 0).

    Early stopping's ``stopped`` trials and a spent budget are decisions the user asked
    for, not failures; a person still wants to know they happened.
    """
    lines = []
    stopped = sum(1 for r in rows if r.status == "stopped")
    if stopped:
        lines.append(f"early stopping: {stopped} of {len(rows)} trials stopped "
                     "(status 'stopped' in results.csv, the reason in its error column)")
    if reason == REASON_BUDGET:
        lines.append(f"budget: {message}; no further trial was started")
    return tuple(lines)


def racing_saved(total: int, configs: int, eliminated: int,
                 rows: Sequence[ResultRow], regular: Sequence[str]) -> str:
    """What racing saved, for the end of a racing run ("" without rows).

    ``total`` is every configuration on the regular windows (the progress bar's count,
    ``count_trials``); trials on racing's extra windows (contenders only) are trained on
    top of it, so they are named apart.
    """
    if not rows:
        return ""
    on_regular = sum(1 for r in rows if r.window in regular)
    extra = len(rows) - on_regular
    shown = f", {extra} on extra windows" if extra else ""
    return (f"racing: {len(rows)} of {total} trials trained{shown}, {total - on_regular} "
            f"skipped ({eliminated} of {configs} configurations eliminated)")
