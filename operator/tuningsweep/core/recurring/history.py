"""A recurring sweep's history: one row per finished run, ``history.csv``.

Each row is written once its run is over (every planned trial has a row) and is keyed
by the run's id, so writing it again after a crash replaces it rather than adding a
second one; the file itself is replaced whole and atomically. It is also what the next
run reads to find the champion, and what ``tuningsweep report`` shows. Pure: text in,
rows out.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..records.results import ParamValue
from ..records.reuse import ReuseCounts

if TYPE_CHECKING:  # the verdict's statistics load numpy: only once a run is over
    from .verdict import Verdict

COLUMNS = (
    "run", "windows", "best", "best_params", "objective", "verdict", "changed",
    "significant", "p_value", "difference", "ci_low", "ci_high", "champion_params",
    "trained", "reused", "gpu_seconds_saved", "trial_seconds_saved", "verdict_text",
)


@dataclass(frozen=True)
class HistoryRow:
    """One run of a recurring sweep: its winner, the verdict, what it trained."""

    run: str
    windows: tuple[str, ...]  # "start..end", most recent first
    best: str | None
    best_params: Mapping[str, ParamValue] = field(default_factory=dict)
    objective: float | None = None
    verdict: str = ""  # first, keep, new, left, none (core/recurring/verdict.py)
    changed: bool = False
    significant: bool = False
    p_value: float | None = None
    difference: float | None = None
    ci: tuple[float, float] | None = None
    champion_params: Mapping[str, ParamValue] | None = None
    trained: int = 0
    reused: int = 0
    gpu_seconds_saved: float = 0.0
    trial_seconds_saved: float = 0.0
    verdict_text: str = ""

    def to_json(self) -> dict[str, object]:
        """The run as ``report --format json`` gives it."""
        return {"run": self.run, "windows": list(self.windows), "best": self.best,
                "best_params": dict(self.best_params), "objective": self.objective,
                "changed": self.changed, "significant": self.significant,
                "p_value": self.p_value, "trained": self.trained, "reused": self.reused,
                "verdict": self.verdict, "verdict_text": self.verdict_text,
                "difference": self.difference,
                "ci": list(self.ci) if self.ci is not None else None,
                "champion_params": (dict(self.champion_params)
                                    if self.champion_params is not None else None),
                "gpu_seconds_saved": self.gpu_seconds_saved,
                "trial_seconds_saved": self.trial_seconds_saved}


def history_row(run: str, windows: Sequence[str], verdict: Verdict,
                counts: ReuseCounts) -> HistoryRow:
    """The history row of a finished run."""
    return HistoryRow(
        run=run, windows=tuple(windows), best=verdict.best, best_params=verdict.best_params,
        objective=verdict.objective, verdict=verdict.kind, changed=verdict.changed,
        significant=verdict.significant, p_value=verdict.p_value,
        difference=verdict.difference, ci=verdict.ci, champion_params=verdict.champion,
        trained=counts.trained, reused=counts.reused,
        gpu_seconds_saved=counts.gpu_seconds_saved,
        trial_seconds_saved=counts.trial_seconds_saved, verdict_text=verdict.text)


def _number(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def _float(text: str) -> float | None:
    return float(text) if text else None


def render_history(rows: Iterable[HistoryRow]) -> str:
    """``history.csv``: one row per run, in run order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in sorted(rows, key=lambda r: r.run):
        writer.writerow([
            r.run, ";".join(r.windows), r.best or "",
            json.dumps(dict(r.best_params), sort_keys=True), _number(r.objective), r.verdict,
            str(r.changed).lower(), str(r.significant).lower(), _number(r.p_value),
            _number(r.difference), _number(r.ci[0] if r.ci else None),
            _number(r.ci[1] if r.ci else None),
            json.dumps(dict(r.champion_params), sort_keys=True)
            if r.champion_params is not None else "",
            r.trained, r.reused, _number(r.gpu_seconds_saved),
            _number(r.trial_seconds_saved), r.verdict_text])
    return out.getvalue()


def parse_history(text: str) -> list[HistoryRow]:
    """Read ``history.csv`` back.

    Raises:
        ValueError: the text is not a history this version wrote.
    """
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "run" not in reader.fieldnames:
        raise ValueError("not a history.csv: no run column")
    rows: list[HistoryRow] = []
    for line, cells in enumerate(reader, start=2):
        try:
            low, high = _float(cells.get("ci_low", "")), _float(cells.get("ci_high", ""))
            champion = cells.get("champion_params", "")
            rows.append(HistoryRow(
                run=cells["run"], windows=tuple(w for w in cells["windows"].split(";") if w),
                best=cells["best"] or None, best_params=json.loads(cells["best_params"] or "{}"),
                objective=_float(cells["objective"]), verdict=cells["verdict"],
                changed=cells["changed"] == "true", significant=cells["significant"] == "true",
                p_value=_float(cells["p_value"]), difference=_float(cells["difference"]),
                ci=(low, high) if low is not None and high is not None else None,
                champion_params=json.loads(champion) if champion else None,
                trained=int(cells["trained"] or 0), reused=int(cells["reused"] or 0),
                gpu_seconds_saved=_float(cells["gpu_seconds_saved"]) or 0.0,
                trial_seconds_saved=_float(cells.get("trial_seconds_saved") or "") or 0.0,
                verdict_text=cells.get("verdict_text", "")))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"history.csv line {line}: {exc}") from exc
    return sorted(rows, key=lambda r: r.run)


def upsert(rows: Iterable[HistoryRow], row: HistoryRow) -> list[HistoryRow]:
    """The history with ``row`` in place of any earlier row of the same run."""
    return sorted([*(r for r in rows if r.run != row.run), row], key=lambda r: r.run)


def champion_before(rows: Sequence[HistoryRow], run: str) -> Mapping[str, ParamValue] | None:
    """The champion a run is compared with: that of the last run before it."""
    earlier = [r for r in rows if r.run < run and r.champion_params is not None]
    return earlier[-1].champion_params if earlier else None


def earlier_champions(rows: Sequence[HistoryRow], run: str) -> list[Mapping[str, ParamValue]]:
    """The champions of the runs before ``run``, newest first (for warm start)."""
    return [r.champion_params for r in reversed(rows)
            if r.run < run and r.champion_params is not None]
