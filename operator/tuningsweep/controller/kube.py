"""The operator's Kubernetes API calls: Jobs, a failed trial's pods, the sweep's status.

The synchronous ``kubernetes`` client runs in worker threads so the kopf event loop never
blocks; responses are not deserialised into models (``_preload_content=False``): the
reconciler needs none but a failed trial's pods, read as plain JSON. Jobs are never listed
here: :mod:`.jobwatch` keeps them, from its own list and watch. Every call is counted by
verb and result on /metrics; every write first takes a token from the bucket.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from typing import Any

import pydantic
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from .. import __version__
from ..core.kube.jobs import LABEL_JOB_NAME, LABEL_SWEEP, LABEL_TRIAL, pod_failure_message
from ..core.spec import api
from . import metrics
from .ratelimit import TokenBucket

DELETE_BATCH = 50  # trials per deletecollection: keeps the selector (the URL) short


class JobRefused(ApiException):  # type: ignore[misc]
    """The kubernetes client refused a Job body before sending it (wrong types, unknown fields).

    The client validates request bodies against the API's types; a body it refuses would
    be refused on every retry, exactly like the API server's 422, so it is raised as one:
    callers that end a sweep on 422 treat both alike. Validation of ``spec.trainer``
    (``core/spec/podspec.py``) keeps user mistakes from getting here; this is the safety net.
    """

    def __init__(self, error: pydantic.ValidationError) -> None:
        problems = "; ".join(f"{_job_path(e['loc'])}: {e['msg']}" for e in error.errors()[:5])
        message = f"the kubernetes client refused the Job: {problems}"
        super().__init__(status=422, reason="Invalid", body=json.dumps({"message": message}))


def _job_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a field path: ``spec.template.spec.containers[0]...``."""
    path = ""
    for part in loc[1:]:  # loc[0] is the argument's position in the call
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".")


def load_credentials() -> None:
    """In-cluster credentials when running in a pod, else the local kubeconfig."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]


class KubeApi:
    """The handful of API calls the reconciler makes."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self._api_client = client.ApiClient()
        # A user agent of our own tells the operator's calls from kopf's in audit logs.
        self._api_client.user_agent = f"tuningsweep-operator/{__version__}"
        self._batch = client.BatchV1Api(self._api_client)
        self._custom = client.CustomObjectsApi(self._api_client)
        self._core = client.CoreV1Api(self._api_client)

    async def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create a Job; False when it already exists (a restart re-creating it is fine)."""
        await self.bucket.acquire()
        try:
            await self._call("create", "jobs",
                             lambda: self._batch.create_namespaced_job(
                                 namespace, body,  # type: ignore[arg-type]
                                 _preload_content=False))
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        except pydantic.ValidationError as exc:
            raise JobRefused(exc) from exc
        return True

    async def failure_message(self, namespace: str, job: str) -> str:
        """The trainer's last error line, from the Job's failed pods ("" when none).

        One ``list pods`` by the Job controller's label: call it once per failed trial,
        when its row is written, not on every reconcile.
        """
        response = await self._call("list", "pods", lambda: self._core.list_namespaced_pod(
            namespace, label_selector=f"{LABEL_JOB_NAME}={job}", _preload_content=False))
        return pod_failure_message(json.loads(response.data).get("items") or [])

    async def delete_jobs(self, namespace: str, sweep: str, trials: Sequence[str]) -> None:
        """Delete the Jobs of ``trials`` of one sweep with their pods (Background
        propagation): one ``deletecollection`` by label per ``DELETE_BATCH`` trials.

        Removing recorded trials' Jobs one call each doubled the operator's API writes
        per trial (create, delete) and, at the client's write rate, paced short trials.
        Jobs already gone are simply not matched.
        """
        for i in range(0, len(trials), DELETE_BATCH):
            selector = (f"{LABEL_SWEEP}={sweep},"
                        f"{LABEL_TRIAL} in ({','.join(trials[i:i + DELETE_BATCH])})")
            await self.bucket.acquire()
            await self._call("deletecollection", "jobs", functools.partial(
                self._batch.delete_collection_namespaced_job, namespace,
                label_selector=selector, propagation_policy="Background",
                _preload_content=False))

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the sweep's status subresource."""
        await self.bucket.acquire()
        await self._call("patch", "tuningsweeps/status",
                         lambda: self._custom.patch_namespaced_custom_object_status(
                             api.GROUP, api.VERSION, namespace, api.PLURAL, name,
                             {"status": status}, _preload_content=False))

    async def _call(self, verb: str, resource: str, fn: Any) -> Any:
        try:
            result = await asyncio.to_thread(fn)
        except ApiException as exc:
            metrics.API_CALLS.labels(verb, resource, str(exc.status)).inc()
            raise
        except Exception:
            metrics.API_CALLS.labels(verb, resource, "error").inc()
            raise
        metrics.API_CALLS.labels(verb, resource, "ok").inc()
        return result
