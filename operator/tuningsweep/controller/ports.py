"""What the reconciler needs from the outside world, as small Protocols.

The reconciler is written against these, not against the kubernetes client, Prometheus
or the Pushgateway, so a reconcile step can be driven in a unit test with in-memory
fakes in milliseconds (the way Katib's experiment controller takes its Suggestion
client as an interface). The real implementations are :class:`.kube.KubeApi`,
:class:`.prom.PrometheusMetrics` and :class:`.prom.PushgatewayCleaner`; the end-to-end
tests run them against the API emulator and real Prometheus and Pushgateway servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.kube.packing import TrialRecord
from ..io.storage import Store


@dataclass
class TrialMetrics:
    """What the metrics source holds for one trial: its latest values, and whether the
    trainer's final report is among them."""

    metrics: dict[str, float] = field(default_factory=dict)
    finished: bool = False


class MetricsUnavailable(Exception):
    """The metrics source could not be asked; the caller retries later with backoff."""


class JobsApi(Protocol):
    """The API calls of a reconcile step (Jobs come from the Job watch, not from here)."""

    async def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create a Job; False when one of that name exists already."""

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the sweep's status."""

    async def delete_jobs(self, namespace: str, sweep: str, trials: Sequence[str]) -> None:
        """Delete the Jobs of these trials of one sweep with their pods, as few calls as
        the list allows (Jobs already gone are fine)."""

    async def failure_message(self, namespace: str, job: str) -> str:
        """The trainer's last error line from a failed Job's pods ("" when none)."""


class MetricsSource(Protocol):
    """Where trial metrics are read (Prometheus on a cluster)."""

    async def query_trials(self, namespace: str, sweep: str,
                           trials: list[str]) -> dict[str, TrialMetrics]:
        """The latest metrics of each trial the source knows; raises MetricsUnavailable."""

    async def query_curves(self, namespace: str, sweep: str, trials: list[str], metric: str,
                           since: float, until: float) -> dict[str, dict[int, float]]:
        """Each trial's ``metric`` per epoch between two Unix times (early stopping)."""


class GroupCleaner(Protocol):
    """Where trainers pushed (the Pushgateway): groups deleted once their rows are durable."""

    async def delete_groups(self, namespace: str, sweep: str, trials: Iterable[str]) -> None:
        """Delete the trials' groups (idempotent); raises OSError when unreachable."""

    async def leftover_groups(self, namespace: str, sweep: str) -> list[str]:
        """Trials of the sweep that still have a group; raises OSError when unreachable."""

    async def exit_records(self, namespace: str, sweep: str) -> dict[str, TrialRecord]:
        """Exit records packed pods pushed for the sweep's trials (core/kube/packing.py);
        raises OSError when unreachable."""


#: Opens the results location of a sweep (a local folder or a ``gs://`` prefix).
OpenStore = Callable[[str], Store]

#: Posts an Event on the sweep: (type, reason, message).
Emit = Callable[[str, str, str], None]
