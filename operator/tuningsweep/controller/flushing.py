"""Making collected rows durable, then (only then) deleting their Pushgateway groups.

Flushing waits out GCS's per-object write interval (2 s); doing it inline would hold
back the next Jobs by that much after every collection, so it runs in the background.
Only the order matters for safety: a group is deleted after its row is durable, so a
crash at any point loses nothing (the trial is collected again from its group) and
leaves at most groups of durable rows, which the next start deletes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping

from ..core.records.results import ResultRow
from ..io.render_gate import RenderGate
from ..io.results_store import ResultsStore
from . import metrics
from .ports import GroupCleaner

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 60.0


class Flusher:
    """One sweep's background flushes and Pushgateway clean-up."""

    def __init__(self, results: ResultsStore, cleaner: GroupCleaner, namespace: str,
                 name: str, on_durable: Callable[[list[str]], None] | None = None,
                 held: Callable[[], Collection[str]] | None = None) -> None:
        self.results = results
        self.on_durable = on_durable
        # Trials whose groups must stay although their rows are durable: packed trials
        # whose pod may run again (an eviction), which reads their exit records there.
        self.held = held
        self.cleaner = cleaner
        self.namespace = namespace
        self.name = name
        self._uncleaned: set[str] = set()  # collected, not yet durable
        self._ended: dict[str, float] = {}  # of those: when their Jobs ended
        self._to_delete: set[str] = set()  # durable rows whose groups remain
        self._task: asyncio.Task[None] | None = None
        self._summary_behind = False  # rows collected that results.summary does not show
        self._summary_gate = RenderGate()

    def collected(self, rows: Collection[ResultRow], ended: Mapping[str, float]) -> None:
        """Merge freshly collected rows (published by the next flush)."""
        self.results.add(rows, publish=False)
        self._summary_behind = True
        self._uncleaned.update(r.trial for r in rows)
        self._ended.update(ended)

    def start(self, final: bool = False) -> None:
        """Flush what was collected in the background, unless a flush is under way.

        The summary, which costs time in proportion to all rows, is rendered with a
        flush only when its :class:`~tuningsweep.io.render_gate.RenderGate` allows
        (or ``final``); results.csv, which makes rows durable, with every flush.
        """
        summary = self._summary_behind and (final or self._summary_gate.due())
        if ((not self._uncleaned and not summary)
                or (self._task is not None and not self._task.done())):
            return
        task, self._task = self._task, None
        if task is not None:
            task.result()  # surface a failed earlier flush (StorageError); it is retried
        trials = sorted(self._uncleaned)
        ended = {t: self._ended.pop(t) for t in trials if t in self._ended}
        self._uncleaned.difference_update(trials)
        snapshot = list(self.results.rows)
        if summary:
            self._summary_behind = False  # rows collected from now on set it again
        self._task = asyncio.create_task(
            self._durable_then_clean(trials, ended, snapshot, summary))

    async def finish(self) -> None:
        """Wait for the background flush, then flush whatever was collected since."""
        task, self._task = self._task, None
        if task is not None:
            await task
        if self._uncleaned or self._summary_behind:
            self.start(final=True)
            await self.finish()

    async def _durable_then_clean(self, trials: list[str], ended: dict[str, float],
                                  snapshot: list[ResultRow], summary: bool) -> None:
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.results.publish, snapshot, summary)
            if summary:
                self._summary_gate.ran(started)
            await asyncio.to_thread(self.results.flush, FLUSH_TIMEOUT_S)
        except BaseException:
            # Not durable: keep the groups and retry with the next flush.
            self._summary_behind = self._summary_behind or summary
            self._uncleaned.update(trials)
            self._ended.update(ended)
            raise
        metrics.FLUSH_LATENCY.observe(time.monotonic() - started)
        if self.on_durable is not None:
            self.on_durable(trials)
        now = time.time()
        for at in ended.values():
            if at:  # 0.0: the Job did not say when it ended
                metrics.COLLECTION_LAG.observe(max(0.0, now - at))
        if trials:
            self._to_delete.update(trials)
            await self.retry_deletes()

    @property
    def deletes_pending(self) -> bool:
        """Whether groups of durable rows wait to be deleted."""
        return bool(self._to_delete)

    async def retry_deletes(self) -> None:
        """Delete the groups of durable rows; what fails is tried again next step."""
        keep = self.held() if self.held is not None else ()
        trials = sorted(t for t in self._to_delete if t not in keep)
        if not trials:
            return
        try:
            await self.cleaner.delete_groups(self.namespace, self.name, trials)
        except (OSError, ValueError) as exc:
            log.warning("%s/%s: could not delete Pushgateway groups (will retry): %s",
                        self.namespace, self.name, exc)
            return
        self._to_delete.difference_update(trials)

    async def clean_leftovers(self) -> None:
        """Delete groups of durable rows left by a crash between flush and delete."""
        collected = {r.trial for r in self.results.rows}
        try:
            groups = await self.cleaner.leftover_groups(self.namespace, self.name)
        except (OSError, ValueError) as exc:
            log.warning("could not list Pushgateway groups: %s", exc)
            return
        self._to_delete.update(t for t in groups if t in collected)
        await self.retry_deletes()
