"""A small synchronous client for the tests' own requests to the real API server.

The tests speak to the cluster as its administrator (the ``admin`` client certificate,
group ``system:masters``) to set up and to read back; the operator under test has only
its ServiceAccount's token. Resources are named as ``'batch/v1/jobs'``, ``'v1/pods'``,
``'tuningsweep.io/v1alpha1/tuningsweeps'``. The audit log is the record of what every
identity did (user, verb, resource, status), read by :func:`audit_events`.
"""

from __future__ import annotations

import builtins
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonObj = dict[str, Any]
USER_AGENT = "tuningsweep-tests"


class ApiError(Exception):
    """A non-2xx answer from the API server, with its Status body."""

    def __init__(self, status: int, body: Any) -> None:
        reason = body.get("reason") if isinstance(body, Mapping) else None
        message = body.get("message") if isinstance(body, Mapping) else body
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.body = body


def resource_path(resource: str, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """URL path of ``'batch/v1/jobs'``, ``'v1/namespaces'`` and the like."""
    parts = resource.strip("/").split("/")
    base = f"/api/{parts[0]}" if len(parts) == 2 else f"/apis/{parts[0]}/{parts[1]}"
    path = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{parts[-1]}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


class KubeClient:
    """JSON over HTTPS with a client certificate; errors raise :class:`ApiError`."""

    def __init__(self, server: str, context: ssl.SSLContext, timeout: float = 30.0,
                 token: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.context = context
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, body: Any = None, *,
                params: Mapping[str, str] | None = None,
                content_type: str = "application/json") -> tuple[int, Any, list[str]]:
        """One request; returns (status, decoded JSON, Warning headers) without raising."""
        url = self.server + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Content-Type": content_type, "Accept": "application/json",
            "User-Agent": USER_AGENT, **self.headers})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as rsp:
                status, raw, warnings = rsp.status, rsp.read(), rsp.headers.get_all("Warning")
        except urllib.error.HTTPError as exc:
            status, raw, warnings = exc.code, exc.read(), exc.headers.get_all("Warning")
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        return status, decoded, list(warnings or [])

    def _ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, data, _ = self.request(method, path, body, **kwargs)
        if status >= 300:
            raise ApiError(status, data)
        return data

    def create(self, resource: str, body: Mapping[str, Any],
               namespace: str | None = None) -> JsonObj:
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        result: JsonObj = self._ok("POST", resource_path(resource, namespace), body,
                                   params={"fieldValidation": "Strict"})
        return result

    def dry_run_create(self, resource: str, body: Mapping[str, Any],
                       namespace: str | None = None) -> tuple[int, Any, list[str]]:
        """Create with ``dryRun=All`` and ``fieldValidation=Strict``: everything the API
        server would do (defaulting, validation, admission, webhooks) but store it.

        Returns (status, decoded body, Warning headers) without raising, as
        :meth:`request` does: the warnings are what ``kubectl apply`` would print.
        """
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        return self.request("POST", resource_path(resource, namespace), body,
                            params={"dryRun": "All", "fieldValidation": "Strict"})

    def get(self, resource: str, name: str, namespace: str | None = None) -> JsonObj:
        result: JsonObj = self._ok("GET", resource_path(resource, namespace, name))
        return result

    def get_or_none(self, resource: str, name: str,
                    namespace: str | None = None) -> JsonObj | None:
        status, data, _ = self.request("GET", resource_path(resource, namespace, name))
        if status == 404:
            return None
        if status >= 300:
            raise ApiError(status, data)
        return dict(data)

    def list(self, resource: str, namespace: str | None = None, *,
             label_selector: str | None = None, field_selector: str | None = None) -> JsonObj:
        params = {k: v for k, v in (("labelSelector", label_selector),
                                    ("fieldSelector", field_selector)) if v}
        result: JsonObj = self._ok("GET", resource_path(resource, namespace), params=params)
        return result

    def items(self, resource: str, namespace: str | None = None,
              **selectors: str) -> builtins.list[JsonObj]:
        """The ``items`` of a list."""
        return builtins.list(self.list(resource, namespace, **selectors)["items"])

    def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
              subresource: str | None = None,
              content_type: str = "application/merge-patch+json") -> JsonObj:
        result: JsonObj = self._ok("PATCH", resource_path(resource, namespace, name, subresource),
                                   patch, content_type=content_type)
        return result

    def delete(self, resource: str, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None) -> JsonObj:
        body = {"propagationPolicy": propagation_policy} if propagation_policy else None
        result: JsonObj = self._ok("DELETE", resource_path(resource, namespace, name), body)
        return result


@dataclass(frozen=True)
class AuditEvent:
    """One request, as the API server's audit log records it."""

    user: str
    verb: str
    resource: str  # with its subresource: ``tuningsweeps/status``
    group: str
    namespace: str
    name: str
    code: int
    annotations: Mapping[str, str]
    stage_ts: str


def audit_events(log: Path, *, user: str | None = None, offset: int = 0,
                 stages: tuple[str, ...] = ("ResponseComplete",)) -> Iterator[AuditEvent]:
    """The audit log's completed requests from byte ``offset`` on, optionally of one user.

    ``stages`` may add ``ResponseStarted``: a watch is logged then, and completes only when
    it is closed.
    """
    with log.open("rb") as f:
        f.seek(offset)
        for line in f:
            event = json.loads(line)
            if event.get("stage") not in stages:
                continue
            who = event.get("user", {}).get("username", "")
            if user is not None and who != user:
                continue
            ref = event.get("objectRef") or {}
            resource = ref.get("resource", "")
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            yield AuditEvent(
                user=who, verb=event.get("verb", ""), resource=resource,
                group=ref.get("apiGroup", ""), namespace=ref.get("namespace", ""),
                name=ref.get("name", ""),
                code=int((event.get("responseStatus") or {}).get("code", 0)),
                annotations=event.get("annotations") or {},
                stage_ts=event.get("stageTimestamp", ""))


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2,
               what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)
