#!/usr/bin/env python3
"""A Kubernetes API emulator for the operator tests: kmock plus the API semantics kopf relies on.

No kube-apiserver can be installed on the project's machines, so the operator is tested against
``kmock`` (by kopf's author). Its ``KubernetesEmulator`` served by ``kmock.Server`` supplies the
HTTP server, the request parsing, the API discovery documents (``/api``, ``/apis``,
``/apis/GROUP/VERSION``, ``/version``) and the Kubernetes-style error rendering. What it does not
supply is the behaviour a realistic operator test hits (see ``../shared/TESTBED.md``), so
:class:`ApiEmulator` takes over every *resource* request and fills these gaps:

* Server-managed metadata on stored objects: ``uid``, a monotonic ``resourceVersion`` (one
  cluster-wide counter, like etcd's revision), ``creationTimestamp``, and ``generation`` that
  starts at 1 and is bumped on changes outside ``metadata``/``status`` but not on status writes.
  A write that changes nothing is a no-op: no new ``resourceVersion``, no watch event.
* The status subresource: writes to ``/status`` change only ``.status``; writes to the main
  endpoint ignore ``.status``; ``.status`` in a create body is dropped.
* ``GET /api/v1/namespaces`` (kopf lists and watches namespaces for ``kopf run -n NS``):
  ``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease`` exist at start, and a
  namespace is created on first use (``auto_create_namespaces``; set it off for the real 404).
  Deleting a namespace terminates it (phase ``Terminating``, creates refused with 403), deletes
  its content and removes it once empty.
* Objects POSTed without ``metadata.namespace`` get the URL's namespace (kmock dropped them
  from namespaced watches); a body namespace that contradicts the URL is a 400.
* ``generateName`` (kopf posts events with it), create answers ``201``, a duplicate ``409
  AlreadyExists``; a missing object ``404 NotFound``; all errors are proper ``Status`` bodies.
* Optimistic concurrency: a ``metadata.resourceVersion`` in a PUT/merge-patch body that is
  not the current one is a ``409 Conflict``; a failed JSON-patch ``test`` op is a ``422`` (kopf
  relies on this for its finalizer patches); ``DeleteOptions.preconditions`` are honoured.
* PATCH in all the content types clients send: ``merge-patch+json`` (RFC 7386),
  ``json-patch+json`` (RFC 6902), ``strategic-merge-patch+json`` for built-in kinds (approximated:
  merge-patch plus merge-by-key for the usual lists: containers, env, conditions, ...; ``415``
  for custom resources, as the real server does) and ``415`` for server-side apply; PUT.
* Deletion: finalizers (``deletionTimestamp`` first, removal when the last finalizer goes),
  ``propagationPolicy`` Background (default), Foreground and Orphan, ``deletecollection``.
* Garbage collection by ownerReferences, as the kube-controller-manager does: a dependent whose
  owners (by uid, same namespace or cluster-scoped) are all gone is deleted, so deleting a
  TuningSweep deletes the Jobs it owns; dangling references next to live ones are removed.
* List: ``kind: <Kind>List``, ``apiVersion``, list ``resourceVersion``, ``limit``/``continue``
  pagination with ``remainingItemCount``; label selectors (``a=b``, ``a==b``, ``a!=b``, ``a``,
  ``!a``, ``a in (x,y)``, ``a notin (x,y)``) and field selectors (``metadata.name``,
  ``metadata.namespace`` and the few per-kind fields the real server supports; others are a
  400, as for real) on list, watch and deletecollection.
* Watch: resumes from ``resourceVersion`` by replaying a bounded event history (older than the
  history: an ``ERROR`` event with code 410, as after etcd compaction), honours
  ``timeoutSeconds``, ``allowWatchBookmarks`` (a BOOKMARK every ``bookmark_interval`` seconds
  of silence) and ``sendInitialEvents``; a label-selector watch sees ADDED/DELETED when an
  object starts/stops matching.
* Validation that catches real operator bugs: names (DNS-1123), label keys and values (63
  characters), ownerReferences (uid required, one controller), no new finalizers on an object
  being deleted; Jobs get the defaults the real API server sets (``backoffLimit: 6``,
  ``completions``, ``parallelism``, the ``job-name``/``controller-uid`` template labels and
  ``selector``, so an over-long Job name fails like it does on a cluster), need
  ``restartPolicy`` Never/OnFailure, and have an immutable pod template.
* CRDs loaded from files (``--crd``) or POSTed to ``customresourcedefinitions`` are served like
  an API server serves them: the schema's ``default`` values are applied, unknown fields are
  pruned (unless ``x-kubernetes-preserve-unknown-fields``), types/enums/required/min/max are
  validated (``422``), and the transition rule ``self == oldSelf`` is enforced. Other CEL rules
  are not evaluated. Without a CRD file a permissive built-in TuningSweep declaration is used.
* A request log for tests and the chart's RBAC test: one record per API request with the verb
  as Kubernetes RBAC names it (``get list watch create update patch delete deletecollection``),
  the API group, the resource with its subresource (``tuningsweeps/status``), namespace,
  name, response status and the client's User-Agent (kopf, the kubernetes client and the node
  agent each send their own).
* Control endpoints under ``/__emulator/`` (plain HTTP, so tests need no event loop):
  ``GET log?since=N``, ``POST reset``, ``POST close-watches`` (forces clients to reconnect),
  ``POST faults``/``DELETE faults`` (answer the next N matching requests with an error status,
  e.g. 500 or 429, or delay them), ``GET stats``, ``GET health``.

Not emulated: authentication and RBAC enforcement (the request log is the RBAC evidence),
admission webhooks, server-side apply, CEL rules other than ``self == oldSelf``, version
conversion (a multi-version CRD serves the stored object relabelled), the Job controller and
pods (``node_agent.py`` plays the node and the Job controller).

The emulator runs in its own process (``python tests/operator/emulator.py``, or
:class:`EmulatorProcess` from tests): a synchronous client in a test (the kubernetes client, or
kopf's sync handlers) would otherwise block an event loop shared with the server. It prints one
JSON line ``{"url": ..., "port": ..., "pid": ...}`` on stdout once it listens, logs to stderr, and
exits on SIGTERM/SIGINT or when its parent process goes away (``--parent-pid``).
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import copy
import dataclasses
import datetime
import functools
import json
import os
import random
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

import aiohttp.web
import attrs
import jsonpatch  # type: ignore[import-untyped]
import jsonpointer  # type: ignore[import-untyped]
import jsonschema
import kmock
import yaml

# ---------------------------------------------------------------------------------------------
# Resource declarations
# ---------------------------------------------------------------------------------------------

ALL_VERBS = ('create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch')

JsonObj = dict[str, Any]
GroupKind = tuple[str, str]  # (group, plural): the storage identity; versions share storage
ObjKey = tuple[str | None, str]  # (namespace or None for cluster-scoped, name)
NAMESPACES_GK: GroupKind = ('', 'namespaces')
CRDS_GK: GroupKind = ('apiextensions.k8s.io', 'customresourcedefinitions')


@dataclasses.dataclass(frozen=True)
class ResourceDef:
    """One served resource (group/version/plural) and what discovery says about it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ''
    shortnames: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    builtin: bool = True  # False for CRD-backed kinds: no strategic merge patch, schema applies
    schema: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    @property
    def api_version(self) -> str:
        return f'{self.group}/{self.version}' if self.group else self.version

    @property
    def gk(self) -> GroupKind:
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        """The name Kubernetes uses in messages: ``jobs.batch``, ``pods``."""
        return f'{self.plural}.{self.group}' if self.group else self.plural


TUNINGSWEEP = ResourceDef(
    group='tuningsweep.io', version='v1alpha1', plural='tuningsweeps', kind='TuningSweep',
    namespaced=True, singular='tuningsweep', shortnames=('sweep', 'sweeps'),
    categories=('all', 'ml'), subresources=('status',), builtin=False)

BUILTIN_RESOURCES: tuple[ResourceDef, ...] = (
    ResourceDef('', 'v1', 'namespaces', 'Namespace', False, 'namespace', ('ns',),
                subresources=('status',)),
    ResourceDef('', 'v1', 'events', 'Event', True, 'event', ('ev',)),
    ResourceDef('', 'v1', 'pods', 'Pod', True, 'pod', ('po',), ('all',), ('status',)),
    ResourceDef('', 'v1', 'configmaps', 'ConfigMap', True, 'configmap', ('cm',)),
    ResourceDef('', 'v1', 'secrets', 'Secret', True, 'secret'),
    ResourceDef('', 'v1', 'serviceaccounts', 'ServiceAccount', True, 'serviceaccount', ('sa',)),
    ResourceDef('batch', 'v1', 'jobs', 'Job', True, 'job', (), ('all',), ('status',)),
    ResourceDef('coordination.k8s.io', 'v1', 'leases', 'Lease', True, 'lease'),
    ResourceDef('apiextensions.k8s.io', 'v1', 'customresourcedefinitions',
                'CustomResourceDefinition', False, 'customresourcedefinition', ('crd', 'crds'),
                ('api-extensions',), ('status',)),
)

# kopf's peering resources; declared only on request (``peering=True``): with them declared and
# no ``--standalone``, kopf uses peering; without them, ``kopf run --standalone`` is the norm.
PEERING_RESOURCES: tuple[ResourceDef, ...] = (
    ResourceDef('kopf.dev', 'v1', 'kopfpeerings', 'KopfPeering', True, 'kopfpeering',
                builtin=False),
    ResourceDef('kopf.dev', 'v1', 'clusterkopfpeerings', 'ClusterKopfPeering', False,
                'clusterkopfpeering', builtin=False),
)

INITIAL_NAMESPACES = ('default', 'kube-system', 'kube-public', 'kube-node-lease')

# Field selectors the real API server accepts (everything else is "field label not supported").
COMMON_FIELDS = frozenset({'metadata.name', 'metadata.namespace'})
KIND_FIELDS: dict[GroupKind, frozenset[str]] = {
    ('batch', 'jobs'): frozenset({'status.successful'}),
    ('', 'namespaces'): frozenset({'status.phase'}),
    ('', 'pods'): frozenset({'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName',
                             'spec.serviceAccountName', 'status.phase', 'status.podIP',
                             'status.nominatedNodeName'}),
    ('', 'events'): frozenset({'involvedObject.kind', 'involvedObject.namespace',
                               'involvedObject.name', 'involvedObject.uid',
                               'involvedObject.apiVersion', 'involvedObject.resourceVersion',
                               'involvedObject.fieldPath', 'reason', 'reportingComponent',
                               'source', 'type'}),
    ('', 'secrets'): frozenset({'type'}),
}
FIELD_ALIASES = {'status.successful': 'status.succeeded', 'source': 'source.component'}


def crd_to_resource_defs(crd: Mapping[str, Any]) -> list[ResourceDef]:
    """The served versions of a CustomResourceDefinition, each with its schema."""
    spec = crd.get('spec') or {}
    names = spec.get('names') or {}
    result = []
    for version in spec.get('versions') or []:
        if not version.get('served', True):
            continue
        schema = (version.get('schema') or {}).get('openAPIV3Schema')
        result.append(ResourceDef(
            group=spec['group'], version=version['name'], plural=names['plural'],
            kind=names['kind'], namespaced=spec.get('scope', 'Namespaced') == 'Namespaced',
            singular=names.get('singular') or names['kind'].lower(),
            shortnames=tuple(names.get('shortNames') or ()),
            categories=tuple(names.get('categories') or ()),
            subresources=tuple(sorted((version.get('subresources') or {}).keys())),
            builtin=False, schema=schema))
    return result


def load_crd_documents(path: str | Path) -> list[JsonObj]:
    """Every CustomResourceDefinition document in a YAML (or JSON) file."""
    with open(path, encoding='utf-8') as f:
        docs = list(yaml.safe_load_all(f))
    return [d for d in docs if isinstance(d, dict) and d.get('kind') == 'CustomResourceDefinition']


# ---------------------------------------------------------------------------------------------
# Errors, selectors, patches, validation: pure helpers
# ---------------------------------------------------------------------------------------------

class ApiError(Exception):
    """An API failure rendered as a ``Status`` body, the way the real API server answers."""

    def __init__(self, code: int, reason: str, message: str,
                 details: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def status_body(self) -> JsonObj:
        body: JsonObj = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {},
                         'status': 'Failure', 'message': self.message, 'reason': self.reason,
                         'code': self.code}
        if self.details:
            body['details'] = self.details
        return body


def not_found(rdef: ResourceDef, name: str) -> ApiError:
    return ApiError(404, 'NotFound', f'{rdef.qualified} "{name}" not found',
                    {'name': name, 'group': rdef.group, 'kind': rdef.plural})


def invalid(rdef: ResourceDef, name: str, causes: Sequence[tuple[str, str]]) -> ApiError:
    """422 Invalid with ``causes`` of (field, message), like admission/validation failures."""
    text = '; '.join(f'{field}: {msg}' if field else msg for field, msg in causes)
    return ApiError(422, 'Invalid', f'{rdef.kind} "{name}" is invalid: {text}',
                    {'name': name, 'group': rdef.group, 'kind': rdef.kind,
                     'causes': [{'reason': 'FieldValueInvalid', 'message': msg, 'field': field}
                                for field, msg in causes]})


_LABEL_KEY_RE = r'[A-Za-z0-9_./-]+'


@dataclasses.dataclass(frozen=True)
class LabelRequirement:
    key: str
    op: Literal['=', '!=', 'in', 'notin', 'exists', '!']
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == 'exists':
            return present
        if self.op == '!':
            return not present
        if self.op in ('=', 'in'):
            return present and value in self.values
        return not present or value not in self.values  # '!=' and 'notin'


def parse_label_selector(text: str | None) -> tuple[LabelRequirement, ...]:
    """Parse an equality- or set-based label selector; raises ``ValueError`` if malformed."""
    if not text:
        return ()
    parts, depth, current = [], 0, ''
    for ch in text:
        depth += (ch == '(') - (ch == ')')
        if ch == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += ch
    parts.append(current)
    result = []
    for part in parts:
        part = part.strip()
        if m := re.fullmatch(rf'(!?)\s*({_LABEL_KEY_RE})', part):
            result.append(LabelRequirement(m[2], '!' if m[1] else 'exists'))
        elif m := re.fullmatch(rf'({_LABEL_KEY_RE})\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)', part):
            op: Literal['=', '!='] = '!=' if m[2] == '!=' else '='
            result.append(LabelRequirement(m[1], op, frozenset({m[3]})))
        elif m := re.fullmatch(rf'({_LABEL_KEY_RE})\s+(in|notin)\s*\(([^()]*)\)', part):
            values = frozenset(v.strip() for v in m[3].split(',') if v.strip())
            result.append(LabelRequirement(m[1], 'in' if m[2] == 'in' else 'notin', values))
        else:
            raise ValueError(f'unable to parse requirement: {part!r}')
    return tuple(result)


def parse_field_selector(text: str | None, gk: GroupKind) -> tuple[tuple[str, bool, str], ...]:
    """Parse ``a=b,c!=d`` into (path, negated, value); unsupported fields raise ``ValueError``."""
    if not text:
        return ()
    allowed = COMMON_FIELDS | KIND_FIELDS.get(gk, frozenset())
    result = []
    for part in text.split(','):
        m = re.fullmatch(r'\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*', part)
        if not m:
            raise ValueError(f'invalid field selector: {part!r}')
        if m[1] not in allowed:
            raise ValueError(f'field label not supported: {m[1]}')
        result.append((FIELD_ALIASES.get(m[1], m[1]), m[2] == '!=', m[3]))
    return tuple(result)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split('.'):
        value = value.get(part) if isinstance(value, Mapping) else None
    return '' if value is None else str(value)


@dataclasses.dataclass(frozen=True)
class Selector:
    """What a list/watch/deletecollection request selects within one resource."""

    namespace: str | None = None
    name: str | None = None
    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[tuple[str, bool, str], ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get('metadata') or {}
        if self.namespace is not None and meta.get('namespace') != self.namespace:
            return False
        if self.name is not None and meta.get('name') != self.name:
            return False
        labels = meta.get('labels') or {}
        if not all(req.matches(labels) for req in self.labels):
            return False
        return all((_field_value(obj, path) == value) != negated
                   for path, negated, value in self.fields)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: dicts merge recursively, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# patchMergeKey of the lists the Kubernetes built-in types merge by key in strategic merge patch.
SMP_MERGE_KEYS = {
    'containers': 'name', 'initContainers': 'name', 'ephemeralContainers': 'name',
    'env': 'name', 'ports': 'containerPort', 'volumes': 'name', 'volumeMounts': 'mountPath',
    'volumeDevices': 'devicePath', 'conditions': 'type', 'ownerReferences': 'uid',
    'imagePullSecrets': 'name', 'hostAliases': 'ip', 'topologySpreadConstraints': 'topologyKey',
}
SMP_SET_LISTS = frozenset({'finalizers'})


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """An approximation of strategic merge patch, enough for what clients send to built-ins.

    Merge-patch semantics, plus: lists with a known merge key (containers by ``name``,
    conditions by ``type``, ownerReferences by ``uid``, ...) merge item by item (``$patch:
    delete`` on an item removes it), ``finalizers`` merge as a set, ``$patch: replace`` on a map
    replaces it. Other ``$`` directives (``$setElementOrder``, ``$retainKeys``, ...) are ignored.
    """
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get('$patch') == 'replace':
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != '$patch'}
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if key.startswith('$'):
            continue
        old = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(old, list) and key in SMP_MERGE_KEYS:
            merge_key = SMP_MERGE_KEYS[key]
            merged = list(old)
            for item in value:
                if not isinstance(item, Mapping) or merge_key not in item:
                    merged.append(copy.deepcopy(item))
                    continue
                index = next((i for i, o in enumerate(merged)
                              if isinstance(o, Mapping) and o.get(merge_key) == item[merge_key]),
                             None)
                if item.get('$patch') == 'delete':
                    if index is not None:
                        del merged[index]
                elif index is None:
                    merged.append(strategic_merge_patch({}, item))
                else:
                    merged[index] = strategic_merge_patch(merged[index], item)
            result[key] = merged
        elif isinstance(value, list) and isinstance(old, list) and key in SMP_SET_LISTS:
            result[key] = list(old) + [v for v in value if v not in old]
        else:
            result[key] = strategic_merge_patch(old, value)
    return result


_DNS_LABEL = r'[a-z0-9]([-a-z0-9]*[a-z0-9])?'
_DNS_SUBDOMAIN_RE = re.compile(rf'{_DNS_LABEL}(\.{_DNS_LABEL})*')
_DNS_LABEL_RE = re.compile(_DNS_LABEL)
_QUALIFIED_NAME_RE = re.compile(r'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')
_LABEL_VALUE_RE = re.compile(r'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')


def _check_qualified_key(key: str, field: str) -> list[tuple[str, str]]:
    prefix, _, name = key.rpartition('/')
    errors = []
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(prefix)):
        errors.append((field, f'Invalid value: "{key}": prefix part must be a DNS-1123 subdomain'))
    if not name or len(name) > 63 or not _QUALIFIED_NAME_RE.fullmatch(name):
        errors.append((field, f'Invalid value: "{key}": name part must consist of alphanumeric '
                              "characters, '-', '_' or '.', must start and end with an "
                              'alphanumeric character and be no more than 63 characters'))
    return errors


def validate_labels(labels: Any, field: str) -> list[tuple[str, str]]:
    if labels is None:
        return []
    if not isinstance(labels, Mapping):
        return [(field, 'Invalid value: must be a map of strings')]
    errors = []
    for key, value in labels.items():
        errors += _check_qualified_key(str(key), field)
        if not isinstance(value, str):
            errors.append((f'{field}.{key}', 'Invalid value: must be a string'))
        elif len(value) > 63:
            errors.append((field, f'Invalid value: "{value}": must be no more than 63 characters'))
        elif not _LABEL_VALUE_RE.fullmatch(value):
            errors.append((field, f'Invalid value: "{value}": a valid label must be an empty '
                                  "string or consist of alphanumeric characters, '-', '_' or "
                                  "'.', and must start and end with an alphanumeric character"))
    return errors


def validate_metadata(rdef: ResourceDef, meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ObjectMeta checks the API server applies to every kind."""
    errors: list[tuple[str, str]] = []
    name = meta.get('name', '')
    if rdef.gk == NAMESPACES_GK:
        if len(name) > 63 or not _DNS_LABEL_RE.fullmatch(name):
            errors.append(('metadata.name', f'Invalid value: "{name}": a lowercase RFC 1123 '
                                            'label, at most 63 characters'))
    elif len(name) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(name):
        errors.append(('metadata.name', f'Invalid value: "{name}": a lowercase RFC 1123 '
                                        'subdomain, at most 253 characters'))
    errors += validate_labels(meta.get('labels'), 'metadata.labels')
    annotations = meta.get('annotations')
    if annotations is not None:
        if not isinstance(annotations, Mapping):
            errors.append(('metadata.annotations', 'Invalid value: must be a map of strings'))
        else:
            for key, value in annotations.items():
                errors += _check_qualified_key(str(key), 'metadata.annotations')
                if not isinstance(value, str):
                    errors.append((f'metadata.annotations.{key}', 'Invalid value: must be a string'))
            size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
            if size > 256 * 1024:
                errors.append(('metadata.annotations', 'Too long: must have at most 262144 bytes'))
    refs = meta.get('ownerReferences') or []
    controllers = 0
    for i, ref in enumerate(refs):
        for key in ('apiVersion', 'kind', 'name', 'uid'):
            if not isinstance(ref, Mapping) or not ref.get(key):
                errors.append((f'metadata.ownerReferences[{i}].{key}',
                               f'Invalid value: "": {key} must not be empty'))
        controllers += bool(isinstance(ref, Mapping) and ref.get('controller'))
    if controllers > 1:
        errors.append(('metadata.ownerReferences',
                       'Invalid value: Only one reference can have Controller set to true'))
    return errors


def apply_schema_defaults(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """Fill in the schema's ``default`` values where a parent object exists (structural defaulting)."""
    if not schema:
        return value
    if isinstance(value, dict):
        props = schema.get('properties') or {}
        for key, sub in props.items():
            if key not in value and 'default' in sub:
                value[key] = copy.deepcopy(sub['default'])
            if key in value:
                value[key] = apply_schema_defaults(value[key], sub)
        addl = schema.get('additionalProperties')
        if isinstance(addl, Mapping):
            for key in value:
                if key not in props:
                    value[key] = apply_schema_defaults(value[key], addl)
    elif isinstance(value, list) and isinstance(schema.get('items'), Mapping):
        return [apply_schema_defaults(item, schema['items']) for item in value]
    return value


def prune_unknown_fields(value: Any, schema: Mapping[str, Any] | None, *, root: bool = False) -> Any:
    """Drop fields the structural schema does not declare, as the API server does on writes.

    Unknown keys survive only under ``x-kubernetes-preserve-unknown-fields: true``. At the
    root, ``apiVersion``, ``kind`` and ``metadata`` are always kept. A classic operator pitfall
    this reproduces: status fields missing from the CRD schema silently disappear.
    """
    if schema is None or schema.get('x-kubernetes-int-or-string') \
            or schema.get('x-kubernetes-embedded-resource'):
        return value
    if isinstance(value, dict):
        props = schema.get('properties')
        addl = schema.get('additionalProperties')
        preserve = bool(schema.get('x-kubernetes-preserve-unknown-fields'))
        result = {}
        for key, item in value.items():
            if root and key in ('apiVersion', 'kind', 'metadata'):
                result[key] = item
            elif props is not None and key in props:
                result[key] = prune_unknown_fields(item, props[key])
            elif isinstance(addl, Mapping):
                result[key] = prune_unknown_fields(item, addl)
            elif preserve or addl is True:
                result[key] = item
        return result
    if isinstance(value, list) and isinstance(schema.get('items'), Mapping):
        return [prune_unknown_fields(item, schema['items']) for item in value]
    return value


def _openapi_to_jsonschema(schema: Any) -> Any:
    """Translate the OpenAPI v3 dialect of CRDs into draft-4 JSON Schema for validation."""
    if isinstance(schema, list):
        return [_openapi_to_jsonschema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    result: JsonObj = {}
    for key, value in schema.items():
        if key.startswith('x-kubernetes-') or key in ('default', 'description', 'example',
                                                       'format', 'nullable', 'metadata'):
            continue
        if key in ('properties', 'patternProperties', 'definitions'):
            result[key] = {k: _openapi_to_jsonschema(v) for k, v in value.items()}
        else:
            result[key] = _openapi_to_jsonschema(value)
    if schema.get('x-kubernetes-int-or-string'):
        result.pop('type', None)
        result['anyOf'] = [{'type': 'integer'}, {'type': 'string'}]
    if schema.get('nullable') and 'type' in result:
        result['type'] = [result['type'], 'null']
    props = result.get('properties')
    if isinstance(props, dict) and 'metadata' in (schema.get('properties') or {}):
        props['metadata'] = {'type': 'object'}  # ObjectMeta is validated separately
    return result


def check_transition_rules(new: Any, old: Any, schema: Mapping[str, Any] | None,
                           path: str) -> list[tuple[str, str]]:
    """Enforce the ``self == oldSelf`` immutability rule (the only CEL rule emulated)."""
    if not schema or old is None or new is None:
        return []
    errors = []
    for rule in schema.get('x-kubernetes-validations') or []:
        if re.fullmatch(r'\s*self\s*==\s*oldSelf\s*', rule.get('rule', '')) and new != old:
            errors.append((path, f'Invalid value: {rule.get("message") or "Value is immutable"}'))
    if isinstance(new, Mapping) and isinstance(old, Mapping):
        for key, sub in (schema.get('properties') or {}).items():
            if key in new and key in old:
                errors += check_transition_rules(new[key], old[key], sub, f'{path}.{key}'.lstrip('.'))
    return errors


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _strip_rv(obj: Mapping[str, Any]) -> JsonObj:
    meta = dict(obj.get('metadata') or {})
    meta.pop('resourceVersion', None)
    meta.pop('managedFields', None)
    return {**obj, 'metadata': meta}


def _spec_part(obj: Mapping[str, Any], has_status: bool) -> JsonObj:
    skip = {'metadata', 'apiVersion', 'kind'} | ({'status'} if has_status else set())
    return {k: v for k, v in obj.items() if k not in skip}


# ---------------------------------------------------------------------------------------------
# The emulator (server side)
# ---------------------------------------------------------------------------------------------

class RequestRecord(TypedDict):
    """One API request as the request log keeps it (also the JSON shape of ``/__emulator/log``)."""

    seq: int
    ts: float  # wall-clock time.time() when the request arrived
    method: str
    path: str
    query: str
    verb: str  # RBAC verb: get list watch create update patch delete deletecollection
    api_group: str | None  # None for non-resource URLs (discovery, /version)
    api_version: str | None
    resource: str | None  # RBAC resource incl. subresource: "tuningsweeps/status"
    namespace: str | None
    name: str | None
    status: int  # HTTP status (for watches: of the response headers)
    user_agent: str
    duration_ms: float  # for watches: until the stream started


@dataclasses.dataclass
class _Target:
    """A parsed resource URL."""

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None
    rdef: ResourceDef | None


@dataclasses.dataclass(eq=False)
class _Watcher:
    gk: GroupKind
    selector: Selector
    queue: asyncio.Queue[tuple[str, JsonObj] | None]

    def translate(self, etype: str, obj: JsonObj, old: JsonObj | None) -> str | None:
        """The event this watcher sees (selector transitions turn MODIFIED into ADDED/DELETED)."""
        now = self.selector.matches(obj)
        if etype == 'MODIFIED' and old is not None:
            was = self.selector.matches(old)
            if was and now:
                return 'MODIFIED'
            if was:
                return 'DELETED'
            return 'ADDED' if now else None
        return etype if now else None


@dataclasses.dataclass
class _Fault:
    verb: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    status: int
    count: int
    delay: float
    user_agent: str | None

    def matches(self, record: Mapping[str, Any]) -> bool:
        return all(want is None or record.get(key) == want for key, want in (
            ('verb', self.verb), ('resource', self.resource), ('namespace', self.namespace),
            ('name', self.name))) and (self.user_agent is None
                                       or self.user_agent in record.get('user_agent', ''))


_dumps = functools.partial(json.dumps, separators=(',', ':'))


def _json_response(body: Any, status: int = 200,
                   headers: Mapping[str, str] | None = None) -> aiohttp.web.Response:
    return aiohttp.web.Response(text=_dumps(body), status=status, headers=headers,
                                content_type='application/json')


@attrs.define(kw_only=True)
class ApiEmulator(kmock.KubernetesEmulator):
    """kmock's KubernetesEmulator with the API semantics listed in the module docstring.

    kmock keeps serving discovery and non-resource URLs; every request for a declared resource
    is handled here, synchronously against an in-memory store (no ``await`` between reading and
    writing state, so each request is atomic on the event loop, as etcd transactions are).
    """

    history_size: int = 10_000  # watch events kept per resource for resumption (then 410)
    bookmark_interval: float = 5.0  # seconds of silence before a BOOKMARK (if allowed)
    auto_create_namespaces: bool = True
    max_log_entries: int = 2_000_000

    _defs: dict[tuple[str, str, str], ResourceDef] = attrs.field(factory=dict, init=False)
    _store: dict[GroupKind, dict[ObjKey, JsonObj]] = attrs.field(factory=dict, init=False)
    _history: dict[GroupKind, deque[tuple[int, str, JsonObj, JsonObj | None]]] = attrs.field(
        factory=dict, init=False)
    _compacted: dict[GroupKind, int] = attrs.field(factory=dict, init=False)
    _watchers: dict[GroupKind, set[_Watcher]] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=1, init=False)
    _uids: dict[str, tuple[GroupKind, ObjKey]] = attrs.field(factory=dict, init=False)
    _dependents: dict[str, set[tuple[GroupKind, ObjKey]]] = attrs.field(factory=dict, init=False)
    _log: list[RequestRecord] = attrs.field(factory=list, init=False)
    _log_offset: int = attrs.field(default=0, init=False)
    _faults: list[_Fault] = attrs.field(factory=list, init=False)
    _gc_scheduled: bool = attrs.field(default=False, init=False)
    _gc_owners: set[tuple[GroupKind, ObjKey]] = attrs.field(factory=set, init=False)
    _gc_deps: set[tuple[GroupKind, ObjKey]] = attrs.field(factory=set, init=False)
    _validators: dict[int, jsonschema.Draft4Validator] = attrs.field(factory=dict, init=False)
    _builtin_crds: list[JsonObj] = attrs.field(factory=list, init=False)

    # -- declarations ------------------------------------------------------------------------

    def declare(self, rdef: ResourceDef) -> None:
        """Serve a resource: discovery (via kmock's ``resources``) and storage."""
        self._defs[rdef.group, rdef.version, rdef.plural] = rdef
        self._store.setdefault(rdef.gk, {})
        self._history.setdefault(rdef.gk, deque(maxlen=self.history_size))
        self._compacted.setdefault(rdef.gk, self._rv)  # older resourceVersions: 410 Gone
        self._watchers.setdefault(rdef.gk, set())
        self.resources[kmock.resource(rdef.group, rdef.version, rdef.plural)] = kmock.ResourceInfo(
            kind=rdef.kind, namespaced=rdef.namespaced, singular=rdef.singular or rdef.kind.lower(),
            verbs=set(ALL_VERBS), shortnames=set(rdef.shortnames),
            categories=set(rdef.categories), subresources=set(rdef.subresources))

    def undeclare(self, group: str, plural: str) -> None:
        for gvp in [k for k in self._defs if (k[0], k[2]) == (group, plural)]:
            del self._defs[gvp]
            del self.resources[kmock.resource(*gvp)]
        for watcher in self._watchers.pop((group, plural), set()):
            watcher.queue.put_nowait(None)
        for key in list(self._store.get((group, plural), {})):
            self._remove((group, plural), key)
        self._store.pop((group, plural), None)
        self._history.pop((group, plural), None)
        self._compacted.pop((group, plural), None)

    def setup(self, *, crds: Iterable[Mapping[str, Any]] = (), peering: bool = False) -> None:
        """Declare the built-ins, the given CRDs (or the built-in TuningSweep), the namespaces."""
        for rdef in BUILTIN_RESOURCES:
            self.declare(rdef)
        if peering:
            for rdef in PEERING_RESOURCES:
                self.declare(rdef)
        self._builtin_crds = [copy.deepcopy(dict(crd)) for crd in crds]
        self._populate()

    def _populate(self) -> None:
        crd_rdef = self._defs['apiextensions.k8s.io', 'v1', 'customresourcedefinitions']
        for crd in self._builtin_crds:
            self._create(crd_rdef, None, copy.deepcopy(crd))
        if not any(d.group == TUNINGSWEEP.group and d.plural == TUNINGSWEEP.plural
                   for d in self._defs.values()):
            self.declare(TUNINGSWEEP)
        ns_rdef = self._defs['', 'v1', 'namespaces']
        for name in INITIAL_NAMESPACES:
            self._create(ns_rdef, None, {'metadata': {'name': name}})

    def reset(self) -> None:
        """Forget all objects and the request log; end all watches; keep resourceVersions rising."""
        self.close_watches()
        for watchers in self._watchers.values():
            watchers.clear()
        for crd in list(self._store.get(CRDS_GK, {}).values()):
            self.undeclare(crd['spec']['group'], crd['spec']['names']['plural'])
        for gk in self._store:
            self._store[gk].clear()
            self._history[gk].clear()
            self._compacted[gk] = self._rv
        self._uids.clear()
        self._dependents.clear()
        self._gc_owners.clear()
        self._gc_deps.clear()
        self._faults.clear()
        self._log_offset += len(self._log)
        self._log.clear()
        self._requests.clear()
        self._populate()

    def close_watches(self) -> int:
        """End every open watch stream (clients then reconnect with their last resourceVersion)."""
        count = 0
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.queue.put_nowait(None)
                count += 1
        return count

    # -- HTTP entry point ------------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """The aiohttp entry point, replacing kmock's.

        kmock's request parser raises on ``/api/v1/namespaces`` (the 500 TESTBED.md mentions),
        so a request it cannot parse is rebuilt without its Kubernetes fields (this class parses
        resource URLs itself). kmock also keeps every request with its body for its assertion
        DSL (scanning them all on each match); this class keeps only the requests being served
        and its own smaller request log, so memory and latency stay flat in benchmarks.
        """
        try:
            request = await kmock.Request._parse(raw_request)
        except ValueError:
            body = await raw_request.read()
            try:
                data = json.loads(body) if body else None
            except ValueError:
                data = None
            request = kmock.Request(
                method=raw_request.method, url=raw_request.url, params=dict(raw_request.query),
                headers=dict(raw_request.headers), body=body,
                text=body.decode(errors='replace'), data=data, raw_request=raw_request)
        try:
            return await self._handle(request)
        except Exception as exc:  # pragma: no cover - a bug in the emulator itself
            traceback.print_exc(file=sys.stderr)
            return await self._render_error(exc)

    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        payload = await super()._serve_version(request)
        if isinstance(payload, dict) and str(payload.get('groupVersion', '')).startswith('/'):
            payload['groupVersion'] = payload['groupVersion'][1:]  # kmock says "/v1" for core
        return payload

    async def _serve_server_version(self, request: kmock.Request) -> kmock.Payload:
        return {'major': '1', 'minor': '33', 'gitVersion': 'v1.33.0-tuningsweep-emulator',
                'gitCommit': '', 'gitTreeState': 'clean', 'buildDate': '2025-04-23T00:00:00Z',
                'goVersion': 'go1.24', 'compiler': 'gc', 'platform': 'linux/amd64'}

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        path = request.url.path
        if path.startswith('/__emulator/'):
            return await self._serve_control(request, path.removeprefix('/__emulator/'))

        started = time.monotonic()
        ts = time.time()
        target = self._parse_target(path)
        record = self._new_record(request, target, ts)
        response: aiohttp.web.StreamResponse
        try:
            for fault in self._faults:
                if fault.count > 0 and fault.matches(record):
                    fault.count -= 1
                    if fault.delay:
                        await asyncio.sleep(fault.delay)
                    if fault.status:
                        headers = {'Retry-After': '1'} if fault.status == 429 else None
                        raise ApiError(fault.status, 'InjectedFault',
                                       f'fault injected by the test (status {fault.status})',
                                       headers=headers)
                    break
            if target is None:
                # Discovery and other non-resource URLs: kmock's scaffold (skipping kmock's own
                # object-tracking layer, which this class replaces). kmock's reactions find
                # their requests in the handler's request list, so it is there while it is
                # served, and only then (the list would otherwise grow, and its scans with it).
                self._requests.append(request)
                try:
                    response = await kmock.RawHandler._handle(self, request)
                finally:
                    self._requests.remove(request)
            elif record['verb'] == 'watch':
                return await self._stream_watch(request, target, record, started)
            else:
                response = self._dispatch(request, target, record['verb'])
        except ApiError as exc:
            response = _json_response(exc.status_body(), exc.code, exc.headers)
        except kmock.KubernetesError as exc:
            response = await self._render_error(exc)
        except Exception as exc:  # a bug here: answer 500 with the traceback, log it
            traceback.print_exc(file=sys.stderr)
            response = _json_response(ApiError(500, 'InternalError', repr(exc),
                                               {'traceback': traceback.format_exc()}).status_body(),
                                      500)
        self._append_record(record, response.status, started)
        return response

    def _new_record(self, request: kmock.Request, target: _Target | None, ts: float) -> RequestRecord:
        method = str(request.method.value).upper()
        params = request.params
        if target is None:
            verb = {'GET': 'get', 'HEAD': 'get', 'POST': 'create', 'PUT': 'update',
                    'PATCH': 'patch', 'DELETE': 'delete'}.get(method, method.lower())
        elif method == 'GET':
            if params.get('watch') in ('true', '1'):
                verb = 'watch'
            else:
                verb = 'get' if target.name is not None else 'list'
        elif method == 'DELETE':
            verb = 'delete' if target.name is not None else 'deletecollection'
        else:
            verb = {'POST': 'create', 'PUT': 'update', 'PATCH': 'patch'}.get(method, method.lower())
        resource = None
        if target is not None:
            resource = target.plural + (f'/{target.subresource}' if target.subresource else '')
        return RequestRecord(
            seq=0, ts=ts, method=method, path=request.url.path, query=request.url.query_string,
            verb=verb, api_group=None if target is None else target.group,
            api_version=None if target is None else target.version, resource=resource,
            namespace=None if target is None else target.namespace,
            name=None if target is None else target.name, status=0,
            user_agent=request.headers.get('User-Agent', ''), duration_ms=0.0)

    def _append_record(self, record: RequestRecord, status: int, started: float) -> None:
        record['status'] = status
        record['duration_ms'] = round((time.monotonic() - started) * 1000, 3)
        record['seq'] = self._log_offset + len(self._log)
        if len(self._log) < self.max_log_entries:
            self._log.append(record)

    def _parse_target(self, path: str) -> _Target | None:
        segs = [s for s in path.split('/') if s]
        if len(segs) >= 2 and segs[0] == 'api':
            group, version, rest = '', segs[1], segs[2:]
        elif len(segs) >= 3 and segs[0] == 'apis':
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return None
        if not rest:
            return None  # group/version discovery
        namespace = None
        if rest[0] == 'namespaces' and len(rest) >= 3 and rest[2] not in ('status', 'finalize'):
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = '/'.join(rest[2:]) or None
        return _Target(group, version, plural, namespace, name, sub,
                       self._defs.get((group, version, plural)))

    # -- control endpoints -------------------------------------------------------------------

    async def _serve_control(self, request: kmock.Request, what: str) -> aiohttp.web.StreamResponse:
        method = str(request.method.value).upper()
        if what == 'health':
            return _json_response({'ok': True})
        if what == 'log' and method == 'GET':
            since = int(request.params.get('since', '0'))
            start = max(0, since - self._log_offset)
            return _json_response({'entries': self._log[start:],
                                   'next': self._log_offset + len(self._log)})
        if what == 'reset' and method == 'POST':
            self.reset()
            return _json_response({'ok': True, 'resourceVersion': str(self._rv)})
        if what == 'close-watches' and method == 'POST':
            return _json_response({'closed': self.close_watches()})
        if what == 'faults' and method == 'POST':
            data = request.data or {}
            self._faults.append(_Fault(
                verb=data.get('verb'), resource=data.get('resource'),
                namespace=data.get('namespace'), name=data.get('name'),
                status=int(data.get('status', 500)), count=int(data.get('count', 1)),
                delay=float(data.get('delay', 0.0)), user_agent=data.get('user_agent')))
            return _json_response({'ok': True})
        if what == 'faults' and method == 'DELETE':
            self._faults.clear()
            return _json_response({'ok': True})
        if what == 'stats':
            return _json_response({
                'resourceVersion': self._rv,
                'objects': {'/'.join(filter(None, gk)): len(objs)
                            for gk, objs in self._store.items() if objs},
                'watchers': {'/'.join(filter(None, gk)): len(ws)
                             for gk, ws in self._watchers.items() if ws},
                'log_entries': self._log_offset + len(self._log),
            })
        return _json_response({'error': f'unknown control endpoint {method} {what}'}, 404)

    # -- dispatch ----------------------------------------------------------------------------

    def _resolve(self, target: _Target) -> ResourceDef:
        rdef = target.rdef
        if rdef is None:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if rdef.namespaced and target.namespace is None and target.name is not None:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if not rdef.namespaced and target.namespace is not None:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if target.subresource is not None and target.subresource not in rdef.subresources:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        return rdef

    def _dispatch(self, request: kmock.Request, target: _Target, verb: str) -> aiohttp.web.Response:
        rdef = self._resolve(target)
        ns = target.namespace if rdef.namespaced else None
        params = request.params
        if verb == 'get':
            assert target.name is not None
            return _json_response(self._relabel(self._get_or_404(rdef, ns, target.name), rdef))
        if verb == 'list':
            return _json_response(self._list(rdef, target, params))
        if verb == 'create':
            if target.name is not None:
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method '
                                                        'on the requested resource')
            if rdef.namespaced and ns is None:
                raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
            created = self._create(rdef, ns, request.data, dry_run='dryRun' in params)
            return _json_response(self._relabel(created, rdef), 201)
        if verb in ('patch', 'update'):
            if target.name is None:
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method '
                                                        'on the requested resource')
            content_type = request.headers.get('Content-Type', 'application/json')
            obj = self._write(rdef, ns, target.name, target.subresource, verb, request.data,
                              content_type, dry_run='dryRun' in params)
            return _json_response(self._relabel(obj, rdef))
        if verb == 'delete':
            assert target.name is not None
            options = request.data if isinstance(request.data, Mapping) else {}
            obj = self._delete(rdef, ns, target.name, options, params)
            return _json_response(self._relabel(obj, rdef))
        if verb == 'deletecollection':
            options = request.data if isinstance(request.data, Mapping) else {}
            selector = self._selector(rdef, ns, None, params)
            deleted = []
            for key, obj in sorted(self._store[rdef.gk].items(), key=_sort_key):
                if selector.matches(obj):
                    deleted.append(self._delete(rdef, key[0], key[1], options, params))
            return _json_response({'kind': f'{rdef.kind}List', 'apiVersion': rdef.api_version,
                                   'metadata': {'resourceVersion': str(self._rv)},
                                   'items': [self._relabel(o, rdef) for o in deleted]})
        raise ApiError(405, 'MethodNotAllowed',
                       'the server does not allow this method on the requested resource')

    @staticmethod
    def _relabel(obj: JsonObj, rdef: ResourceDef) -> JsonObj:
        """Serve the stored object under the requested version (no conversion emulated)."""
        if obj.get('apiVersion') == rdef.api_version:
            return obj
        return {**obj, 'apiVersion': rdef.api_version}

    def _get_or_404(self, rdef: ResourceDef, ns: str | None, name: str) -> JsonObj:
        obj = self._store[rdef.gk].get((ns, name))
        if obj is None:
            raise not_found(rdef, name)
        return obj

    def _selector(self, rdef: ResourceDef, ns: str | None, name: str | None,
                  params: Mapping[str, str]) -> Selector:
        try:
            labels = parse_label_selector(params.get('labelSelector'))
            fields = parse_field_selector(params.get('fieldSelector'), rdef.gk)
        except ValueError as exc:
            raise ApiError(400, 'BadRequest', str(exc)) from None
        return Selector(namespace=ns if rdef.namespaced else None, name=name, labels=labels,
                        fields=fields)

    # -- list & watch --------------------------------------------------------------------------

    def _list(self, rdef: ResourceDef, target: _Target, params: Mapping[str, str]) -> JsonObj:
        selector = self._selector(rdef, target.namespace, None, params)
        list_rv = self._rv
        after: tuple[str, str] | None = None
        if params.get('continue'):
            try:
                token = json.loads(base64.urlsafe_b64decode(params['continue']))
                list_rv, after = int(token['rv']), (token['ns'], token['name'])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, 'BadRequest', 'invalid continue token') from None
        items = [obj for key, obj in sorted(self._store[rdef.gk].items(), key=_sort_key)
                 if (after is None or _sort_key((key, obj)) > after) and selector.matches(obj)]
        meta: JsonObj = {'resourceVersion': str(list_rv)}
        limit = int(params.get('limit') or 0)
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]['metadata']
            token = {'rv': list_rv, 'ns': last.get('namespace') or '', 'name': last['name']}
            meta['continue'] = base64.urlsafe_b64encode(_dumps(token).encode()).decode()
            meta['remainingItemCount'] = len(items) - limit
            items = items[:limit]
        return {'kind': f'{rdef.kind}List', 'apiVersion': rdef.api_version, 'metadata': meta,
                'items': [self._relabel(obj, rdef) for obj in items]}

    async def _stream_watch(self, request: kmock.Request, target: _Target, record: RequestRecord,
                            started: float) -> aiohttp.web.StreamResponse:
        params = request.params
        try:
            rdef = self._resolve(target)
            ns = target.namespace if rdef.namespaced else None
            selector = self._selector(rdef, ns, target.name, params)
            since_text = params.get('resourceVersion') or ''
            send_initial = params.get('sendInitialEvents') == 'true'
            if since_text not in ('', '0') and not since_text.isdigit():
                raise ApiError(400, 'BadRequest', f'invalid resource version: {since_text!r}')
            timeout = float(params['timeoutSeconds']) if params.get('timeoutSeconds') else None
        except ApiError as exc:
            response = _json_response(exc.status_body(), exc.code)
            self._append_record(record, exc.code, started)
            return response
        bookmarks = params.get('allowWatchBookmarks') == 'true'

        # Snapshot and subscribe in one synchronous step: no event can fall in between.
        initial: list[tuple[str, JsonObj]] = []
        gone = False
        watcher = _Watcher(rdef.gk, selector, asyncio.Queue())
        if since_text in ('', '0') or send_initial:
            initial = [('ADDED', obj) for _, obj in sorted(self._store[rdef.gk].items(),
                                                             key=_sort_key)
                       if selector.matches(obj)]
        elif int(since_text) < self._compacted[rdef.gk]:
            gone = True
        else:
            since = int(since_text)
            for rv, etype, obj, old in self._history[rdef.gk]:
                if rv > since and (seen := watcher.translate(etype, obj, old)) is not None:
                    initial.append((seen, obj))
        if not gone:
            self._watchers[rdef.gk].add(watcher)

        raw_request = request._raw_request
        assert raw_request is not None
        stream = aiohttp.web.StreamResponse(status=200, headers={
            'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private'})
        stream.enable_chunked_encoding()
        try:
            await stream.prepare(raw_request)
            self._append_record(record, 200, started)
            if gone:
                error = ApiError(410, 'Expired', f'too old resource version: {since_text} '
                                                 f'({self._compacted[rdef.gk]})')
                await stream.write(_dumps({'type': 'ERROR', 'object': error.status_body()})
                                     .encode() + b'\n')
                return stream
            for etype, obj in initial:
                await stream.write(_dumps({'type': etype, 'object': self._relabel(obj, rdef)})
                                     .encode() + b'\n')
            if send_initial:
                await stream.write(_dumps(self._bookmark(rdef, initial_end=True)).encode() + b'\n')
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                wait = self.bookmark_interval if bookmarks else 1.0
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
                except TimeoutError:
                    transport = raw_request.transport
                    if transport is None or transport.is_closing():
                        break  # the client went away
                    if bookmarks and (deadline is None or time.monotonic() < deadline):
                        await stream.write(_dumps(self._bookmark(rdef)).encode() + b'\n')
                    continue
                if item is None:
                    break  # closed by reset/close-watches/shutdown
                etype, obj = item
                await stream.write(_dumps({'type': etype, 'object': self._relabel(obj, rdef)})
                                     .encode() + b'\n')
            await stream.write_eof()
        except ConnectionError:
            pass  # the client went away mid-write
        finally:
            self._watchers.get(rdef.gk, set()).discard(watcher)
        return stream

    def _bookmark(self, rdef: ResourceDef, *, initial_end: bool = False) -> JsonObj:
        meta: JsonObj = {'resourceVersion': str(self._rv)}
        if initial_end:
            meta['annotations'] = {'k8s.io/initial-events-end': 'true'}
        return {'type': 'BOOKMARK',
                'object': {'kind': rdef.kind, 'apiVersion': rdef.api_version, 'metadata': meta}}

    # -- state changes (all synchronous) -------------------------------------------------------

    def _commit(self, gk: GroupKind, key: ObjKey, new: JsonObj, old: JsonObj | None) -> JsonObj:
        self._rv += 1
        new['metadata']['resourceVersion'] = str(self._rv)
        self._store[gk][key] = new
        self._index(gk, key, new, old)
        self._emit(gk, 'ADDED' if old is None else 'MODIFIED', new, old)
        if new['metadata'].get('deletionTimestamp'):
            self._gc_owners.add((gk, key))
            self._schedule_gc()
        return new

    def _remove(self, gk: GroupKind, key: ObjKey) -> JsonObj:
        old = self._store[gk].pop(key)
        self._rv += 1
        gone = {**old, 'metadata': {**old['metadata'], 'resourceVersion': str(self._rv)}}
        self._index(gk, key, None, old)
        self._emit(gk, 'DELETED', gone, None)
        if gk == CRDS_GK:
            self.undeclare(old['spec']['group'], old['spec']['names']['plural'])
        if key[0] is not None:
            namespace = self._store[NAMESPACES_GK].get((None, key[0]))
            if namespace is not None and namespace['metadata'].get('deletionTimestamp'):
                self._gc_owners.add((NAMESPACES_GK, (None, key[0])))
                self._schedule_gc()
        return gone

    def _index(self, gk: GroupKind, key: ObjKey, new: JsonObj | None, old: JsonObj | None) -> None:
        """Keep the uid and owner->dependents indexes; mark what the GC must look at."""
        old_refs = [] if old is None else old['metadata'].get('ownerReferences') or []
        new_refs = [] if new is None else new['metadata'].get('ownerReferences') or []
        if old is not None and new is None:
            uid = old['metadata']['uid']
            self._uids.pop(uid, None)
            for dependent in self._dependents.get(uid, ()):
                self._gc_deps.add(dependent)  # its owner is gone
            for ref in old_refs:  # an owner waiting for its dependents in foreground deletion
                owner = self._uids.get(ref['uid'])
                if owner is not None:
                    self._gc_owners.add(owner)
            self._schedule_gc()
        if new is not None:
            self._uids[new['metadata']['uid']] = (gk, key)
        if old_refs == new_refs:
            return
        for ref in old_refs:
            deps = self._dependents.get(ref['uid'])
            if deps is not None:
                deps.discard((gk, key))
                if not deps:
                    del self._dependents[ref['uid']]
        for ref in new_refs:
            self._dependents.setdefault(ref['uid'], set()).add((gk, key))
        if new_refs:
            self._gc_deps.add((gk, key))
            self._schedule_gc()

    def _emit(self, gk: GroupKind, etype: str, obj: JsonObj, old: JsonObj | None) -> None:
        history = self._history[gk]
        if history.maxlen is not None and len(history) == history.maxlen:
            self._compacted[gk] = history[0][0]
        history.append((self._rv, etype, obj, old))
        for watcher in self._watchers.get(gk, ()):
            seen = watcher.translate(etype, obj, old)
            if seen is not None:
                watcher.queue.put_nowait((seen, obj))

    def _ensure_namespace(self, ns: str) -> None:
        namespace = self._store[NAMESPACES_GK].get((None, ns))
        if namespace is None:
            if not self.auto_create_namespaces:
                raise ApiError(404, 'NotFound', f'namespaces "{ns}" not found',
                               {'name': ns, 'kind': 'namespaces'})
            self._create(self._defs['', 'v1', 'namespaces'], None, {'metadata': {'name': ns}})
        elif namespace['metadata'].get('deletionTimestamp'):
            raise ApiError(403, 'Forbidden', f'unable to create new content in namespace {ns} '
                                             'because it is being terminated',
                           {'name': ns, 'kind': 'namespaces',
                            'causes': [{'reason': 'NamespaceTerminating', 'field':
                                        'metadata.namespace', 'message': f'namespace {ns} is '
                                        'being terminated'}]})

    def _create(self, rdef: ResourceDef, ns: str | None, body: Any, *,
                dry_run: bool = False) -> JsonObj:
        if not isinstance(body, Mapping):
            raise ApiError(400, 'BadRequest', 'the request body must be a JSON object')
        obj: JsonObj = copy.deepcopy(dict(body))
        meta: JsonObj = dict(obj.get('metadata') or {})
        if obj.get('kind') not in (None, rdef.kind):
            raise ApiError(400, 'BadRequest', f'the kind of the object ({obj["kind"]}) does not '
                                              f'match the resource ({rdef.kind})')
        if rdef.namespaced:
            if meta.get('namespace') not in (None, '', ns):
                raise ApiError(400, 'BadRequest', 'the namespace of the provided object does '
                                                  'not match the namespace sent on the request')
            meta['namespace'] = ns
        else:
            meta.pop('namespace', None)
        name = meta.get('name')
        if not name:
            prefix = meta.get('generateName')
            if not prefix:
                raise invalid(rdef, '', [('metadata.name',
                                          'Required value: name or generateName is required')])
            alphabet = 'bcdfghjklmnpqrstvwxz2456789'
            for _ in range(100):
                name = prefix[:58] + ''.join(random.choices(alphabet, k=5))
                if (ns, name) not in self._store[rdef.gk]:
                    break
            meta['name'] = name
        assert isinstance(name, str)
        if (ns, name) in self._store[rdef.gk]:
            raise ApiError(409, 'AlreadyExists', f'{rdef.qualified} "{name}" already exists',
                           {'name': name, 'group': rdef.group, 'kind': rdef.plural})
        if rdef.namespaced and ns is not None and not dry_run:
            self._ensure_namespace(ns)

        uid = str(uuid.uuid4())
        for field in ('resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds',
                      'managedFields', 'selfLink'):
            meta.pop(field, None)
        meta.update(uid=uid, creationTimestamp=now_rfc3339(), generation=1)
        obj = {'apiVersion': rdef.api_version, 'kind': rdef.kind, 'metadata': meta,
               **{k: v for k, v in obj.items() if k not in ('apiVersion', 'kind', 'metadata')}}
        if 'status' in rdef.subresources:
            obj.pop('status', None)
        self._default_builtin(rdef, obj)
        obj = self._apply_schema(rdef, obj, None)
        errors = validate_metadata(rdef, meta) + self._validate_builtin(rdef, obj, None)
        if errors:
            raise invalid(rdef, name, errors)
        if rdef.gk == CRDS_GK:
            self._validate_crd(obj)
        if dry_run:
            return obj
        created = self._commit(rdef.gk, (ns, name), obj, None)
        if rdef.gk == CRDS_GK:
            for crd_rdef in crd_to_resource_defs(obj):
                self.declare(crd_rdef)
        return created

    def _validate_crd(self, crd: JsonObj) -> None:
        try:
            rdefs = crd_to_resource_defs(crd)
        except (KeyError, TypeError) as exc:
            raise ApiError(422, 'Invalid', f'CustomResourceDefinition is invalid: {exc}') from None
        if rdefs and crd['metadata']['name'] != f'{rdefs[0].plural}.{rdefs[0].group}':
            raise ApiError(422, 'Invalid', 'CustomResourceDefinition metadata.name must be '
                                           'spec.names.plural+"."+spec.group')
        crd['status'] = {
            'acceptedNames': crd['spec']['names'],
            'storedVersions': [v['name'] for v in crd['spec']['versions'] if v.get('storage')],
            'conditions': [{'type': t, 'status': 'True', 'reason': r, 'message': m,
                            'lastTransitionTime': now_rfc3339()}
                           for t, r, m in (('NamesAccepted', 'NoConflicts', 'no conflicts found'),
                                           ('Established', 'InitialNamesAccepted',
                                            'the initial names have been accepted'))]}

    def _default_builtin(self, rdef: ResourceDef, obj: JsonObj) -> None:
        """Defaults the real API server sets on create for the kinds the operator uses."""
        meta = obj['metadata']
        if rdef.gk == NAMESPACES_GK:
            obj.setdefault('spec', {}).setdefault('finalizers', ['kubernetes'])
            obj['status'] = {'phase': 'Active'}
            meta.setdefault('labels', {})['kubernetes.io/metadata.name'] = meta['name']
        elif rdef.gk == ('batch', 'jobs') and isinstance(obj.get('spec'), dict):
            spec = obj['spec']
            spec.setdefault('parallelism', 1)
            spec.setdefault('completions', 1)
            spec.setdefault('backoffLimit', 6)
            spec.setdefault('completionMode', 'NonIndexed')
            spec.setdefault('suspend', False)
            spec.setdefault('podReplacementPolicy', 'TerminatingOrFailed')
            template = spec.setdefault('template', {})
            tmeta = template.setdefault('metadata', {})
            job_labels = {'batch.kubernetes.io/controller-uid': meta['uid'],
                          'batch.kubernetes.io/job-name': meta['name'],
                          'controller-uid': meta['uid'], 'job-name': meta['name']}
            tmeta['labels'] = {**(tmeta.get('labels') or {}), **job_labels}
            if not spec.get('manualSelector'):
                spec['selector'] = {'matchLabels': {
                    'batch.kubernetes.io/controller-uid': meta['uid']}}
            pod = template.setdefault('spec', {})
            pod.setdefault('terminationGracePeriodSeconds', 30)
            pod.setdefault('dnsPolicy', 'ClusterFirst')
            pod.setdefault('schedulerName', 'default-scheduler')

    def _validate_builtin(self, rdef: ResourceDef, obj: JsonObj,
                          old: JsonObj | None) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if rdef.gk != ('batch', 'jobs'):
            return errors
        spec = obj.get('spec')
        if not isinstance(spec, Mapping):
            return [('spec', 'Required value')]
        template = spec.get('template') or {}
        errors += validate_labels((template.get('metadata') or {}).get('labels'),
                                  'spec.template.labels')
        pod = template.get('spec') or {}
        if pod.get('restartPolicy') not in ('Never', 'OnFailure'):
            errors.append(('spec.template.spec.restartPolicy',
                           f'Required value: valid values: "OnFailure", "Never" '
                           f'(got {pod.get("restartPolicy")!r})'))
        containers = pod.get('containers') or []
        if not containers:
            errors.append(('spec.template.spec.containers', 'Required value'))
        for i, container in enumerate(containers):
            for key in ('name', 'image'):
                if not isinstance(container, Mapping) or not container.get(key):
                    errors.append((f'spec.template.spec.containers[{i}].{key}', 'Required value'))
        if old is not None:
            for field in ('template', 'selector', 'completionMode'):
                if spec.get(field) != (old.get('spec') or {}).get(field):
                    errors.append((f'spec.{field}', 'Invalid value: field is immutable'))
        return errors

    def _apply_schema(self, rdef: ResourceDef, obj: JsonObj, old: JsonObj | None) -> JsonObj:
        """Defaulting, pruning and validation against a CRD's structural schema."""
        schema = rdef.schema
        if not schema:
            return obj
        obj = apply_schema_defaults(obj, schema)
        obj = prune_unknown_fields(obj, schema, root=True)
        name = (obj.get('metadata') or {}).get('name', '')
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = jsonschema.Draft4Validator(_openapi_to_jsonschema(schema))
            self._validators[id(schema)] = validator
        errors = [('.'.join(str(p) for p in err.absolute_path), err.message)
                  for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))]
        if old is not None:
            errors += check_transition_rules(obj, old, schema, '')
        if errors:
            raise invalid(rdef, name, errors)
        return obj

    def _write(self, rdef: ResourceDef, ns: str | None, name: str, sub: str | None, verb: str,
               body: Any, content_type: str, *, dry_run: bool = False) -> JsonObj:
        old = self._get_or_404(rdef, ns, name)
        sent_rv: Any = None
        if verb == 'update':
            if not isinstance(body, Mapping):
                raise ApiError(400, 'BadRequest', 'the request body must be a JSON object')
            body_meta = body.get('metadata') or {}
            if body_meta.get('name') not in (None, name):
                raise ApiError(400, 'BadRequest', f'the name of the object ({body_meta["name"]}) '
                                                  f'does not match the name on the URL ({name})')
            candidate: JsonObj = copy.deepcopy(dict(body))
            sent_rv = body_meta.get('resourceVersion')
        else:
            candidate = self._apply_patch(rdef, old, body, content_type)
            if isinstance(body, Mapping):
                sent_rv = (body.get('metadata') or {}).get('resourceVersion')
        if sent_rv and sent_rv != old['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', f'Operation cannot be fulfilled on {rdef.qualified} '
                                            f'"{name}": the object has been modified; please '
                                            'apply your changes to the latest version and try '
                                            'again', {'name': name, 'group': rdef.group,
                                                      'kind': rdef.plural})
        if not isinstance(candidate, dict):
            raise ApiError(422, 'Invalid', 'the patched object is not a JSON object')

        has_status = 'status' in rdef.subresources
        if has_status and sub == 'status':
            new: JsonObj = copy.deepcopy(old)
            if candidate.get('status') is None:
                new.pop('status', None)
            else:
                new['status'] = copy.deepcopy(candidate['status'])
        else:
            new = copy.deepcopy(candidate)
            if has_status:
                if 'status' in old:
                    new['status'] = copy.deepcopy(old['status'])
                else:
                    new.pop('status', None)
            old_meta = old['metadata']
            meta: JsonObj = new['metadata'] if isinstance(new.get('metadata'), dict) else {}
            new['metadata'] = meta
            for field in ('name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp',
                          'deletionGracePeriodSeconds', 'generation', 'resourceVersion'):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if old_meta.get('deletionTimestamp'):
                added = [f for f in meta.get('finalizers') or []
                         if f not in (old_meta.get('finalizers') or [])]
                if added:
                    raise invalid(rdef, name, [('metadata.finalizers', 'Forbidden: no new '
                                                'finalizers can be added if the object is being '
                                                f'deleted, found new finalizers {added}')])
        new['apiVersion'] = old['apiVersion']
        new['kind'] = old['kind']
        new = self._apply_schema(rdef, new, old)
        errors = validate_metadata(rdef, new['metadata'])
        errors += self._validate_builtin(rdef, new, old)
        if errors:
            raise invalid(rdef, name, errors)

        if _strip_rv(new) == _strip_rv(old):
            return old  # a no-op write: no new resourceVersion, no event
        if _spec_part(new, has_status) != _spec_part(old, has_status):
            new['metadata']['generation'] = int(old['metadata'].get('generation', 1)) + 1
        if dry_run:
            return new
        committed = self._commit(rdef.gk, (ns, name), new, old)
        meta = committed['metadata']
        if meta.get('deletionTimestamp') and not meta.get('finalizers'):
            self._remove(rdef.gk, (ns, name))
            self._schedule_gc()
        return committed

    @staticmethod
    def _apply_patch(rdef: ResourceDef, old: JsonObj, body: Any, content_type: str) -> Any:
        ctype = content_type.split(';')[0].strip().lower()
        if ctype == 'application/json-patch+json':
            if not isinstance(body, list):
                raise ApiError(400, 'BadRequest', 'a JSON patch must be a list of operations')
            try:
                return jsonpatch.apply_patch(old, body, in_place=False)
            except jsonpatch.JsonPatchTestFailed as exc:
                raise invalid(rdef, old['metadata']['name'], [('', f'the server rejected our '
                                                                   f'request: {exc}')]) from None
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise invalid(rdef, old['metadata']['name'], [('', str(exc))]) from None
        if ctype == 'application/merge-patch+json':
            if not isinstance(body, Mapping):
                raise ApiError(400, 'BadRequest', 'a merge patch must be a JSON object')
            return merge_patch(old, body)
        if ctype == 'application/strategic-merge-patch+json':
            if not rdef.builtin:
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an '
                                                            'unknown format - accepted media '
                                                            'types include: '
                                                            'application/json-patch+json, '
                                                            'application/merge-patch+json, '
                                                            'application/apply-patch+yaml')
            if not isinstance(body, Mapping):
                raise ApiError(400, 'BadRequest', 'a strategic merge patch must be a JSON object')
            return strategic_merge_patch(old, body)
        raise ApiError(415, 'UnsupportedMediaType',
                       f'the body of the request was in an unknown format ({ctype}); server-side '
                       'apply is not emulated; accepted media types include: '
                       'application/json-patch+json, application/merge-patch+json, '
                       'application/strategic-merge-patch+json')

    def _delete(self, rdef: ResourceDef, ns: str | None, name: str, options: Mapping[str, Any],
                params: Mapping[str, str]) -> JsonObj:
        obj = self._get_or_404(rdef, ns, name)
        meta = obj['metadata']
        pre = options.get('preconditions') or {}
        for field in ('uid', 'resourceVersion'):
            if pre.get(field) and pre[field] != meta.get(field):
                raise ApiError(409, 'Conflict', f'Operation cannot be fulfilled on '
                                                f'{rdef.qualified} "{name}": Precondition '
                                                f'failed: {field}: {pre[field]}, object '
                                                f'{field}: {meta.get(field)}')
        policy = options.get('propagationPolicy') or params.get('propagationPolicy')
        if policy is None and (options.get('orphanDependents') is True
                               or params.get('orphanDependents') == 'true'):
            policy = 'Orphan'
        if policy not in (None, 'Background', 'Foreground', 'Orphan'):
            raise invalid(rdef, name, [('propagationPolicy', f'Unsupported value: "{policy}"')])
        if 'dryRun' in params or 'dryRun' in options:
            return obj
        return self._delete_object(rdef.gk, (ns, name), policy or 'Background')

    def _delete_object(self, gk: GroupKind, key: ObjKey, policy: str) -> JsonObj:
        obj = self._store[gk][key]
        meta = obj['metadata']
        if meta.get('deletionTimestamp'):
            return obj
        finalizers = list(meta.get('finalizers') or [])
        has_dependents = bool(self._dependents.get(meta['uid']))
        if policy == 'Orphan' and has_dependents and 'orphan' not in finalizers:
            finalizers.append('orphan')
        if policy == 'Foreground' and has_dependents and 'foregroundDeletion' not in finalizers:
            finalizers.append('foregroundDeletion')
        is_namespace = gk == NAMESPACES_GK
        if finalizers or is_namespace:
            new = copy.deepcopy(obj)
            new['metadata'].update(deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0,
                                   generation=int(meta.get('generation', 1)) + 1)
            if finalizers:
                new['metadata']['finalizers'] = finalizers
            if is_namespace:
                new['status'] = {'phase': 'Terminating'}
            return self._commit(gk, key, new, obj)
        gone = self._remove(gk, key)
        self._schedule_gc()
        return gone

    # -- garbage collection (the controller-manager's job) -------------------------------------
    #
    # Incremental: writes mark what needs a look (dependents whose owner references changed or
    # whose owner went away; owners being deleted with the orphan/foregroundDeletion finalizers;
    # terminating namespaces) and a callback scheduled on the loop processes just those, after
    # the response of the request that caused it, as the real controller works asynchronously.

    def _schedule_gc(self) -> None:
        if self._gc_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # set-up outside the loop: nothing can be owned yet
        self._gc_scheduled = True
        loop.call_soon(self._run_gc)

    def _run_gc(self) -> None:
        self._gc_scheduled = False
        for _ in range(1_000_000):
            if self._gc_owners:
                self._gc_owner(*self._gc_owners.pop())
            elif self._gc_deps:
                self._gc_dependent(*self._gc_deps.pop())
            else:
                break

    def _owner_alive(self, ref: Mapping[str, Any], dependent_ns: str | None) -> bool:
        """An owner exists by uid, cluster-scoped or in the dependent's namespace."""
        found = self._uids.get(ref.get('uid', ''))
        if found is None:
            return False
        owner_ns = found[1][0]
        return owner_ns is None or owner_ns == dependent_ns

    def _gc_dependent(self, gk: GroupKind, key: ObjKey) -> None:
        dep = self._store.get(gk, {}).get(key)
        if dep is None:
            return
        refs = dep['metadata'].get('ownerReferences') or []
        dead = {r['uid'] for r in refs if not self._owner_alive(r, key[0])}
        if not dead:
            return
        if len(dead) < len(refs):
            self._drop_owner_refs(gk, key, dead)  # other owners live: only unlink the dead ones
        elif not dep['metadata'].get('deletionTimestamp'):
            self._delete_object(gk, key, 'Background')

    def _gc_owner(self, gk: GroupKind, key: ObjKey) -> None:
        obj = self._store.get(gk, {}).get(key)
        if obj is None or not obj['metadata'].get('deletionTimestamp'):
            return
        meta = obj['metadata']
        finalizers = meta.get('finalizers') or []
        deps = [d for d in self._dependents.get(meta['uid'], set())
                if d[1] in self._store.get(d[0], {})]
        if 'orphan' in finalizers:
            for dep_gk, dep_key in deps:
                self._drop_owner_refs(dep_gk, dep_key, {meta['uid']})
            self._drop_finalizer(gk, key, 'orphan')
        elif 'foregroundDeletion' in finalizers:
            for dep_gk, dep_key in deps:
                if not self._store[dep_gk][dep_key]['metadata'].get('deletionTimestamp'):
                    self._delete_object(dep_gk, dep_key, 'Foreground')
            if not any(dep_key in self._store.get(dep_gk, {}) for dep_gk, dep_key in deps):
                self._drop_finalizer(gk, key, 'foregroundDeletion')
        elif gk == NAMESPACES_GK:
            self._terminate_namespace(key[1])

    def _terminate_namespace(self, ns: str) -> None:
        remaining = False
        for gk, objs in list(self._store.items()):
            for key in [k for k in objs if k[0] == ns]:
                remaining = True
                if key in objs and not objs[key]['metadata'].get('deletionTimestamp'):
                    self._delete_object(gk, key, 'Background')
        still = remaining and any(k[0] == ns for objs in self._store.values() for k in objs)
        if not still and (None, ns) in self._store[NAMESPACES_GK]:
            self._remove(NAMESPACES_GK, (None, ns))

    def _drop_owner_refs(self, gk: GroupKind, key: ObjKey, uids: set[str]) -> None:
        old = self._store[gk][key]
        new = copy.deepcopy(old)
        refs = [r for r in new['metadata'].get('ownerReferences') or [] if r['uid'] not in uids]
        if refs:
            new['metadata']['ownerReferences'] = refs
        else:
            new['metadata'].pop('ownerReferences', None)
        self._commit(gk, key, new, old)

    def _drop_finalizer(self, gk: GroupKind, key: ObjKey, finalizer: str) -> None:
        old = self._store[gk][key]
        new = copy.deepcopy(old)
        finalizers = [f for f in new['metadata'].get('finalizers') or [] if f != finalizer]
        if finalizers:
            new['metadata']['finalizers'] = finalizers
        else:
            new['metadata'].pop('finalizers', None)
        self._commit(gk, key, new, old)
        if not finalizers and gk != NAMESPACES_GK:
            self._remove(gk, key)


def _sort_key(item: tuple[ObjKey, JsonObj]) -> tuple[str, str]:
    (ns, name), _ = item
    return (ns or '', name)


# ---------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------

async def serve(*, host: str = '127.0.0.1', port: int | None = None,
                crd_files: Sequence[str] = (), peering: bool = False,
                history_size: int = 10_000, bookmark_interval: float = 5.0,
                auto_create_namespaces: bool = True, parent_pid: int | None = None,
                on_ready: Callable[[str, int], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or the parent process is gone)."""
    crds = [doc for path in crd_files for doc in load_crd_documents(path)]
    emulator = ApiEmulator(history_size=history_size, bookmark_interval=bookmark_interval,
                           auto_create_namespaces=auto_create_namespaces)
    emulator.setup(crds=crds, peering=peering)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def watch_parent() -> None:
        while parent_pid is not None and os.getppid() == parent_pid:
            await asyncio.sleep(0.5)
        stop.set()

    async with emulator, kmock.Server(emulator, host=host, port=port, user_agent='') as server:
        if on_ready is not None:
            on_ready(f'http://{host}:{server.port}', server.port)
        parent_task = asyncio.create_task(watch_parent()) if parent_pid else None
        await stop.wait()
        if parent_task is not None:
            parent_task.cancel()
        emulator.close_watches()
        await asyncio.sleep(0.05)  # let the streams see their end before the server closes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0] if __doc__ else None)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0, help='0: any free port (printed)')
    parser.add_argument('--crd', action='append', default=[], metavar='FILE',
                        help='a YAML file with CustomResourceDefinitions to serve (repeatable)')
    parser.add_argument('--peering', action='store_true', help="declare kopf's peering CRDs")
    parser.add_argument('--history-size', type=int, default=10_000)
    parser.add_argument('--bookmark-interval', type=float, default=5.0)
    parser.add_argument('--strict-namespaces', action='store_true',
                        help='404 for objects in missing namespaces instead of creating them')
    parser.add_argument('--parent-pid', type=int, default=None,
                        help='exit when this process is no longer our parent')
    args = parser.parse_args(argv)

    def ready(url: str, port: int) -> None:
        print(json.dumps({'url': url, 'port': port, 'pid': os.getpid()}), flush=True)

    asyncio.run(serve(host=args.host, port=args.port or None, crd_files=args.crd,
                      peering=args.peering, history_size=args.history_size,
                      bookmark_interval=args.bookmark_interval,
                      auto_create_namespaces=not args.strict_namespaces,
                      parent_pid=args.parent_pid, on_ready=ready))


# ---------------------------------------------------------------------------------------------
# The test side: a handle on the process and a small synchronous client
# ---------------------------------------------------------------------------------------------

class ApiClientError(Exception):
    """A non-2xx answer from the emulator, with the Status body."""

    def __init__(self, status: int, body: Any) -> None:
        reason = body.get('reason') if isinstance(body, Mapping) else None
        message = body.get('message') if isinstance(body, Mapping) else body
        super().__init__(f'{status} {reason}: {message}')
        self.status = status
        self.reason = reason
        self.body = body


def resource_path(resource: str, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """URL path of ``'batch/v1/jobs'``, ``'v1/namespaces'``, ``'tuningsweep.io/v1alpha1/tuningsweeps'``."""
    parts = resource.strip('/').split('/')
    base = f'/api/{parts[0]}' if len(parts) == 2 else f'/apis/{parts[0]}/{parts[1]}'
    path = base + (f'/namespaces/{namespace}' if namespace else '') + f'/{parts[-1]}'
    if name:
        path += f'/{name}'
    if subresource:
        path += f'/{subresource}'
    return path


class EmulatorClient:
    """A tiny synchronous client for tests and benchmarks (stdlib only, no event loop)."""

    def __init__(self, url: str, *, user_agent: str = 'tuningsweep-tests',
                 timeout: float = 10.0) -> None:
        self.url = url.rstrip('/')
        self.user_agent = user_agent
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, *,
                params: Mapping[str, str] | None = None,
                content_type: str = 'application/json') -> tuple[int, Any]:
        """One HTTP request; returns (status, decoded JSON) without raising on error statuses."""
        url = self.url + path + (('?' + urllib.parse.urlencode(params)) if params else '')
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={
            'Content-Type': content_type, 'Accept': 'application/json',
            'User-Agent': self.user_agent})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as rsp:
                status, raw = rsp.status, rsp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors='replace')

    def _ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, data = self.request(method, path, body, **kwargs)
        if status >= 300:
            raise ApiClientError(status, data)
        return data

    def create(self, resource: str, body: Mapping[str, Any], namespace: str | None = None) -> JsonObj:
        namespace = namespace or (body.get('metadata') or {}).get('namespace')
        return cast(JsonObj, self._ok('POST', resource_path(resource, namespace), body))

    def get(self, resource: str, name: str, namespace: str | None = None) -> JsonObj:
        return cast(JsonObj, self._ok('GET', resource_path(resource, namespace, name)))

    def get_or_none(self, resource: str, name: str, namespace: str | None = None) -> JsonObj | None:
        status, data = self.request('GET', resource_path(resource, namespace, name))
        if status == 404:
            return None
        if status >= 300:
            raise ApiClientError(status, data)
        return cast(JsonObj, data)

    def list(self, resource: str, namespace: str | None = None, *,
             label_selector: str | None = None, field_selector: str | None = None,
             limit: int | None = None, continue_token: str | None = None) -> JsonObj:
        params = {k: v for k, v in (('labelSelector', label_selector),
                                    ('fieldSelector', field_selector),
                                    ('limit', str(limit) if limit else None),
                                    ('continue', continue_token)) if v}
        return cast(JsonObj, self._ok('GET', resource_path(resource, namespace), params=params))

    def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
              subresource: str | None = None,
              content_type: str = 'application/merge-patch+json') -> JsonObj:
        return cast(JsonObj, self._ok('PATCH', resource_path(resource, namespace, name, subresource),
                                      patch, content_type=content_type))

    def delete(self, resource: str, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None) -> JsonObj:
        body = {'propagationPolicy': propagation_policy} if propagation_policy else None
        return cast(JsonObj, self._ok('DELETE', resource_path(resource, namespace, name), body))

    def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 10.0,
                 interval: float = 0.02, message: str = 'condition') -> Any:
        """Poll ``predicate`` until it returns something truthy; return it, or raise on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f'timed out after {timeout}s waiting for {message}')
            time.sleep(interval)


def write_kubeconfig(path: str | Path, url: str, namespace: str = 'default') -> Path:
    """A kubeconfig for the emulator: server ``url``, no credentials (user ``{}``)."""
    config = {
        'apiVersion': 'v1', 'kind': 'Config', 'preferences': {},
        'clusters': [{'name': 'emulator', 'cluster': {'server': url}}],
        'users': [{'name': 'emulator', 'user': {}}],
        'contexts': [{'name': 'emulator', 'context': {'cluster': 'emulator', 'user': 'emulator',
                                                      'namespace': namespace}}],
        'current-context': 'emulator',
    }
    path = Path(path)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding='utf-8')
    return path


class EmulatorProcess:
    """Runs the emulator in a child process and gives tests a handle on it.

    ``start()`` returns once the server listens; ``stop()`` terminates it (SIGTERM, then
    SIGKILL). The child also exits on its own when this process dies (``--parent-pid``), so
    an interrupted test run leaves no orphan. Use it as a context manager.
    """

    def __init__(self, *, workdir: str | Path | None = None, crd_files: Sequence[str | Path] = (),
                 peering: bool = False, strict_namespaces: bool = False,
                 extra_args: Sequence[str] = ()) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix='k8s-emulator-'))
        self.crd_files = [str(p) for p in crd_files]
        self.peering = peering
        self.strict_namespaces = strict_namespaces
        self.extra_args = list(extra_args)
        self.kubeconfig = self.workdir / 'kubeconfig'
        self.server_log = self.workdir / 'emulator.log'
        self._proc: subprocess.Popen[bytes] | None = None
        self._url: str | None = None
        self.client: EmulatorClient | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError('the emulator is not running')
        return self._url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(':', 1)[1])

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        cmd = [sys.executable, '-u', str(Path(__file__).resolve()), '--port', '0',
               '--parent-pid', str(os.getpid())]
        cmd += [arg for crd in self.crd_files for arg in ('--crd', crd)]
        cmd += ['--peering'] if self.peering else []
        cmd += ['--strict-namespaces'] if self.strict_namespaces else []
        cmd += self.extra_args
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.server_log, 'ab') as log:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.stop)
        assert self._proc.stdout is not None
        line = b''
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            if sel.select(timeout):
                line = self._proc.stdout.readline()
        self._proc.stdout.close()
        if not line:
            self.stop()
            raise RuntimeError(f'the emulator did not start within {timeout}s; see '
                               f'{self.server_log}:\n{self.server_log.read_text()[-3000:]}')
        self._url = json.loads(line)['url']
        write_kubeconfig(self.kubeconfig, self.url)
        self.client = EmulatorClient(self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _control(self, method: str, what: str, body: Any = None, **params: str) -> Any:
        assert self.client is not None, 'the emulator is not running'
        status, data = self.client.request(method, f'/__emulator/{what}', body,
                                           params=params or None)
        if status >= 300:
            raise ApiClientError(status, data)
        return data

    def request_log(self, since: int = 0) -> list[RequestRecord]:
        """API requests since sequence number ``since`` (see :meth:`log_mark`)."""
        return cast(list[RequestRecord], self._control('GET', 'log', since=str(since))['entries'])

    def log_mark(self) -> int:
        """The sequence number the next request will get: pass it to ``request_log(since=)``."""
        return int(self._control('GET', 'log', since=str(2**62))['next'])

    def reset(self) -> None:
        """Delete all objects, clear the log and faults, end open watches."""
        self._control('POST', 'reset')

    def close_watches(self) -> int:
        return int(self._control('POST', 'close-watches')['closed'])

    def inject_fault(self, *, status: int = 500, count: int = 1, verb: str | None = None,
                     resource: str | None = None, namespace: str | None = None,
                     name: str | None = None, delay: float = 0.0,
                     user_agent: str | None = None) -> None:
        """Answer the next ``count`` matching requests with ``status`` (0: only delay them).

        ``resource`` is the RBAC form (``jobs``, ``tuningsweeps/status``); ``user_agent`` is a
        substring of the client's User-Agent (``kopf``, ``OpenAPI-Generator``).
        """
        self._control('POST', 'faults', {'status': status, 'count': count, 'verb': verb,
                                         'resource': resource, 'namespace': namespace,
                                         'name': name, 'delay': delay, 'user_agent': user_agent})

    def clear_faults(self) -> None:
        self._control('DELETE', 'faults')

    def stats(self) -> JsonObj:
        return cast(JsonObj, self._control('GET', 'stats'))


if __name__ == '__main__':
    main()
