"""The TuningSweep status: computed purely from the plan, the rows and the Jobs.

The status stays small whatever the number of trials: counters, the best
configuration, the pinned windows, conditions. No per-trial lists (Katib's status hit
etcd's object size limit at about 14,500 trials); the per-trial record is the CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..spec.parse import DateWindow
from .windows import windows_to_data

if TYPE_CHECKING:  # the phases are imported by every command; the statistics are not
    from ..stats.summary import Summary

PENDING, RUNNING, SUCCEEDED, FAILED, SUSPENDED = (
    "Pending", "Running", "Succeeded", "Failed", "Suspended")
TERMINAL = (SUCCEEDED, FAILED)


def set_condition(
    conditions: Sequence[dict[str, Any]], type_: str, status: bool, reason: str, message: str,
    now: str,
) -> list[dict[str, Any]]:
    """Return ``conditions`` with one condition set; its transition time moves only on change."""
    out = [dict(c) for c in conditions if c.get("type") != type_]
    previous = next((c for c in conditions if c.get("type") == type_), None)
    value = "True" if status else "False"
    since = now
    if previous is not None and previous.get("status") == value:
        since = previous.get("lastTransitionTime", now)
    out.append({
        "type": type_, "status": value, "reason": reason, "message": message,
        "lastTransitionTime": since,
    })
    return sorted(out, key=lambda c: str(c["type"]))


def best_status(summary: Summary | None) -> dict[str, Any] | None:
    """The best configuration for status and the ``Best`` printer column."""
    if summary is None or summary.best is None:
        return None
    best = summary.config(summary.best)
    if best.mean is None:
        return None
    return {
        "config": best.config,
        "params": {k: v for k, v in best.params.items()},
        "objective": round(best.mean, 6),
        "windowsWon": best.windows_won,
        "display": f"{best.config} {summary.metric}={best.mean:.4g}",
    }


def build_status(
    *,
    phase: str,
    total: int,
    succeeded: int,
    failed: int,
    running: int,
    windows: Sequence[DateWindow],
    summary: Summary | None,
    results_uri: str,
    conditions: Sequence[dict[str, Any]],
    observed_generation: int | None,
    queued: int = 0,
    stopped: int = 0,
    gpu_hours: float | None = None,
    racing: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The status object (merge-patched onto the sweep).

    ``running`` counts Jobs that may run (admitted); ``queued`` those a Kueue queue holds
    suspended. Both take a place in ``parallelism``; only the first use resources.
    """
    done = succeeded + failed + stopped
    status: dict[str, Any] = {
        "phase": phase,
        "progress": f"{done}/{total}",
        "windows": windows_to_data(tuple(windows)),
        "trials": {"total": total, "pending": max(0, total - done - running - queued),
                   "queued": queued, "running": running, "succeeded": succeeded,
                   "failed": failed, "stopped": stopped},
        "resultsURI": results_uri,
        "conditions": list(conditions),
    }
    best = best_status(summary)
    if best is not None:
        status["best"] = best
    if gpu_hours is not None:
        status["gpuHours"] = round(gpu_hours, 3)
    if racing:
        status["racing"] = dict(racing)
    if observed_generation is not None:
        status["observedGeneration"] = observed_generation
    return status
