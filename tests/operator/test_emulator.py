"""The operator test infrastructure, proven: the API emulator, the node agent, and kopf on them.

Three groups of tests:

* API semantics the emulator adds to kmock (each one a behaviour a real API server has and an
  operator depends on), through its small client and through the kubernetes client.
* The node agent: Jobs run as local processes, Job status written like the Job controller.
* A throwaway kopf operator defined in the test, run for real with ``kopf.testing.KopfRunner``
  against the emulator: TuningSweep -> Job (adopted) -> agent runs it -> sweep status; deleting
  the sweep cascades to its Job; the request log shows what kopf called.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, cast

import kopf
import kubernetes
import pytest
from kopf.testing import KopfRunner

from tests.operator.emulator import (
    ApiClientError,
    EmulatorClient,
    EmulatorProcess,
    RequestRecord,
    parse_label_selector,
    resource_path,
)
from tests.operator.node_agent import NodeAgent

pytestmark = pytest.mark.timeout(120)

SWEEPS = 'tuningsweep.io/v1alpha1/tuningsweeps'
JOBS = 'batch/v1/jobs'
NS = 'ml'
PY = sys.executable


def sweep(name: str, **spec: Any) -> dict[str, Any]:
    """A minimal valid TuningSweep (the project CRD requires only ``spec.architecture``)."""
    return {'apiVersion': 'tuningsweep.io/v1alpha1', 'kind': 'TuningSweep',
            'metadata': {'name': name}, 'spec': {'architecture': 'mlp', **spec}}


def job(name: str, command: list[str], *, labels: dict[str, str] | None = None,
        env: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {'apiVersion': 'batch/v1', 'kind': 'Job',
            'metadata': {'name': name, 'labels': labels or {}},
            'spec': {'backoffLimit': 0, **spec, 'template': {'spec': {
                'restartPolicy': 'Never',
                'containers': [{'name': 'main', 'image': 'example.org/trainer:1',
                                'command': command,
                                'env': [{'name': k, 'value': v}
                                        for k, v in (env or {}).items()]}]}}}}


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c['type']: c for c in (obj.get('status') or {}).get('conditions') or []}


class Watch:
    """A watch stream read in a thread, for asserting what a watcher sees."""

    def __init__(self, url: str, path: str, **params: str) -> None:
        query = '&'.join(f'{k}={v}' for k, v in {'watch': 'true', **params}.items())
        self.events: list[dict[str, Any]] = []
        request = urllib.request.Request(f'{url}{path}?{query}',
                                         headers={'User-Agent': 'tuningsweep-tests'})
        self._rsp = urllib.request.urlopen(request, timeout=10)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            for line in self._rsp:
                if line.strip():
                    self.events.append(json.loads(line))

    def seen(self) -> list[tuple[str, str]]:
        return [(e['type'], e['object']['metadata'].get('name', '')) for e in self.events
                if e['type'] != 'BOOKMARK']

    def wait(self, count: int, timeout: float = 5.0) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.seen()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.seen()

    def finished(self, timeout: float = 5.0) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._rsp.close()


@pytest.fixture
def api(k8s_emulator: EmulatorProcess) -> EmulatorClient:
    assert k8s_emulator.client is not None
    return k8s_emulator.client


@pytest.fixture
def watches(k8s_emulator: EmulatorProcess) -> Iterator[Callable[..., Watch]]:
    opened: list[Watch] = []

    def open_watch(path: str, **params: str) -> Watch:
        opened.append(Watch(k8s_emulator.url, path, **params))
        return opened[-1]

    yield open_watch
    for w in opened:
        w.close()


# ---------------------------------------------------------------------------------------------
# API semantics
# ---------------------------------------------------------------------------------------------

def test_server_managed_metadata_and_generation(api: EmulatorClient) -> None:
    body = sweep('s1')  # no metadata.namespace: it comes from the URL
    created = api.create(SWEEPS, body, namespace=NS)
    meta = created['metadata']
    assert meta['namespace'] == NS
    assert len(meta['uid']) == 36 and meta['generation'] == 1
    assert meta['creationTimestamp'].endswith('Z')
    rv1 = int(meta['resourceVersion'])

    spec_changed = api.patch(SWEEPS, 's1', {'spec': {'parallelism': 7}}, NS)
    assert spec_changed['metadata']['generation'] == 2
    rv2 = int(spec_changed['metadata']['resourceVersion'])
    assert rv2 > rv1

    status_changed = api.patch(SWEEPS, 's1', {'status': {'phase': 'Running'}}, NS,
                               subresource='status')
    assert status_changed['status'] == {'phase': 'Running'}
    assert status_changed['metadata']['generation'] == 2  # status writes keep the generation
    rv3 = int(status_changed['metadata']['resourceVersion'])
    assert rv3 > rv2

    # The main endpoint ignores .status; a write that changes nothing is a no-op.
    same = api.patch(SWEEPS, 's1', {'status': {'phase': 'Hacked'}}, NS)
    assert same['status'] == {'phase': 'Running'}
    assert int(same['metadata']['resourceVersion']) == rv3
    # The /status endpoint ignores everything but .status.
    api.patch(SWEEPS, 's1', {'metadata': {'labels': {'x': 'y'}}, 'spec': {'parallelism': 1}},
              NS, subresource='status')
    fetched = api.get(SWEEPS, 's1', NS)
    assert fetched['spec']['parallelism'] == 7 and 'labels' not in fetched['metadata']
    assert int(fetched['metadata']['resourceVersion']) == rv3


def test_create_answers_201_then_409_and_generates_names(api: EmulatorClient) -> None:
    status, created = api.request('POST', resource_path(SWEEPS, NS), sweep('dup'))
    assert status == 201 and created['kind'] == 'TuningSweep'
    status, conflict = api.request('POST', resource_path(SWEEPS, NS), sweep('dup'))
    assert status == 409
    assert conflict['kind'] == 'Status' and conflict['reason'] == 'AlreadyExists'
    assert conflict['details'] == {'name': 'dup', 'group': 'tuningsweep.io', 'kind': 'tuningsweeps'}

    status, missing = api.request('GET', resource_path(SWEEPS, NS, 'nope'))
    assert status == 404 and missing['reason'] == 'NotFound'

    names = {api.create('v1/events', {'metadata': {'generateName': 'kopf-event-'},
                                      'reason': 'Test', 'message': 'hi'}, NS)['metadata']['name']
             for _ in range(5)}
    assert len(names) == 5 and all(n.startswith('kopf-event-') for n in names)

    status, bad = api.request('POST', resource_path(SWEEPS, 'other'),
                              {**sweep('x'), 'metadata': {'name': 'x', 'namespace': NS}})
    assert status == 400 and 'does not match the namespace' in bad['message']


def test_namespaces_are_listed_and_created_on_first_use(api: EmulatorClient) -> None:
    listing = api.list('v1/namespaces')
    assert listing['kind'] == 'NamespaceList' and listing['apiVersion'] == 'v1'
    assert {'default', 'kube-system'} <= {n['metadata']['name'] for n in listing['items']}
    assert NS not in {n['metadata']['name'] for n in listing['items']}
    api.create(SWEEPS, sweep('s'), NS)
    namespace = api.get('v1/namespaces', NS)
    assert namespace['status'] == {'phase': 'Active'}

    # Deleting a namespace terminates it: its content goes, then the namespace itself.
    api.delete('v1/namespaces', NS)
    api.wait_for(lambda: api.get_or_none('v1/namespaces', NS) is None, timeout=5)
    assert api.list(SWEEPS, NS)['items'] == []


def test_label_and_field_selectors_on_list(api: EmulatorClient) -> None:
    for name, labels in [('a', {'tuningsweep.io/sweep': 's1', 'tier': 'gpu'}),
                         ('b', {'tuningsweep.io/sweep': 's1'}),
                         ('c', {'tuningsweep.io/sweep': 's2', 'tier': 'cpu'})]:
        api.create(JOBS, job(name, ['true'], labels=labels), NS)

    def names(selector: str) -> list[str]:
        return [j['metadata']['name'] for j in api.list(JOBS, NS, label_selector=selector)['items']]

    assert names('tuningsweep.io/sweep=s1') == ['a', 'b']
    assert names('tuningsweep.io/sweep==s1,tier') == ['a']
    assert names('tuningsweep.io/sweep=s1,!tier') == ['b']
    assert names('tier in (gpu,cpu)') == ['a', 'c']
    assert names('tier notin (gpu)') == ['b', 'c']
    assert names('tuningsweep.io/sweep!=s1') == ['c']
    listing = api.list(JOBS, NS, field_selector='metadata.name=b')
    assert listing['kind'] == 'JobList' and [j['metadata']['name'] for j in listing['items']] == ['b']
    with pytest.raises(ApiClientError) as exc:
        api.list(SWEEPS, NS, field_selector='status.phase=Running')  # not selectable on CRs
    assert exc.value.status == 400
    with pytest.raises(ValueError):
        parse_label_selector('a in b')


def test_list_pagination(api: EmulatorClient) -> None:
    for i in range(5):
        api.create(JOBS, job(f'j{i}', ['true']), NS)
    first = api.list(JOBS, NS, limit=2)
    assert [j['metadata']['name'] for j in first['items']] == ['j0', 'j1']
    assert first['metadata']['remainingItemCount'] == 3
    rest = api.list(JOBS, NS, limit=10, continue_token=first['metadata']['continue'])
    assert [j['metadata']['name'] for j in rest['items']] == ['j2', 'j3', 'j4']
    assert 'continue' not in rest['metadata']


def test_watch_selectors_resumption_and_expiry(k8s_emulator: EmulatorProcess, api: EmulatorClient,
                                               watches: Callable[..., Watch]) -> None:
    path = resource_path(JOBS, NS)
    api.create(JOBS, job('before', ['true'], labels={'app': 'x'}), NS)
    listed_rv = api.list(JOBS, NS)['metadata']['resourceVersion']

    everything = watches(path)  # no resourceVersion: the current state first, as ADDED
    selected = watches(path, labelSelector='app=x', resourceVersion=listed_rv)
    assert everything.wait(1) == [('ADDED', 'before')]

    api.create(JOBS, job('other', ['true'], labels={'app': 'y'}), NS)
    api.patch(JOBS, 'before', {'metadata': {'labels': {'app': 'z'}}}, NS)  # stops matching
    api.patch(JOBS, 'other', {'metadata': {'labels': {'app': 'x'}}}, NS)  # starts matching
    api.delete(JOBS, 'other', NS)
    assert selected.wait(3) == [('DELETED', 'before'), ('ADDED', 'other'), ('DELETED', 'other')]
    assert everything.wait(5)[1:] == [('ADDED', 'other'), ('MODIFIED', 'before'),
                                      ('MODIFIED', 'other'), ('DELETED', 'other')]

    # A watch resumed from the list's resourceVersion replays exactly what happened since.
    resumed = watches(path, resourceVersion=listed_rv, timeoutSeconds='1')
    assert resumed.wait(4) == everything.seen()[1:]
    assert resumed.finished(timeout=3), 'timeoutSeconds must end the stream'

    # close-watches ends every stream (clients reconnect from their last resourceVersion).
    assert k8s_emulator.close_watches() >= 2
    assert everything.finished() and selected.finished()

    # After a reset (like etcd compaction), old resourceVersions are gone: ERROR 410.
    k8s_emulator.reset()
    expired = watches(path, resourceVersion=listed_rv)
    assert expired.finished()
    assert expired.events[0]['type'] == 'ERROR' and expired.events[0]['object']['code'] == 410

    # Bookmarks and the initial-events stream (kopf's settings.watching.initial_streaming).
    api.create(JOBS, job('again', ['true']), NS)
    initial = watches(path, sendInitialEvents='true', allowWatchBookmarks='true',
                      timeoutSeconds='1')
    assert initial.finished()
    assert [e['type'] for e in initial.events] == ['ADDED', 'BOOKMARK']
    assert initial.events[1]['object']['metadata']['annotations'] == {
        'k8s.io/initial-events-end': 'true'}


def test_garbage_collection_by_owner_references(api: EmulatorClient) -> None:
    owner = api.create(SWEEPS, sweep('owner'), NS)
    ref = {'apiVersion': 'tuningsweep.io/v1alpha1', 'kind': 'TuningSweep', 'name': 'owner',
           'uid': owner['metadata']['uid'], 'controller': True, 'blockOwnerDeletion': True}
    for name in ('owned-1', 'owned-2'):
        body = job(name, ['true'])
        body['metadata']['ownerReferences'] = [ref]
        api.create(JOBS, body, NS)
    unrelated = api.create(JOBS, job('unrelated', ['true']), NS)

    api.delete(SWEEPS, 'owner', NS)  # background propagation, like kubectl delete
    api.wait_for(lambda: not api.list(JOBS, NS, field_selector='metadata.name=owned-1')['items'],
                 timeout=5)
    assert [j['metadata']['name'] for j in api.list(JOBS, NS)['items']] == ['unrelated']
    assert unrelated['metadata']['uid'] == api.get(JOBS, 'unrelated', NS)['metadata']['uid']

    # A dependent whose owner never existed is collected too (a wrong uid loses your Jobs).
    body = job('dangling', ['true'])
    body['metadata']['ownerReferences'] = [{**ref, 'uid': '00000000-0000-0000-0000-000000000000'}]
    api.create(JOBS, body, NS)
    api.wait_for(lambda: api.get_or_none(JOBS, 'dangling', NS) is None, timeout=5)

    # Orphan propagation keeps the dependents and removes their references.
    owner = api.create(SWEEPS, sweep('owner2'), NS)
    body = job('kept', ['true'])
    body['metadata']['ownerReferences'] = [{**ref, 'name': 'owner2',
                                            'uid': owner['metadata']['uid']}]
    api.create(JOBS, body, NS)
    api.delete(SWEEPS, 'owner2', NS, propagation_policy='Orphan')
    api.wait_for(lambda: api.get_or_none(SWEEPS, 'owner2', NS) is None, timeout=5)
    assert 'ownerReferences' not in api.get(JOBS, 'kept', NS)['metadata']

    # Foreground propagation: the owner waits, with a finalizer, until its dependents are gone.
    owner = api.create(SWEEPS, sweep('owner3'), NS)
    body = job('fg', ['true'])
    body['metadata']['ownerReferences'] = [{**ref, 'name': 'owner3',
                                            'uid': owner['metadata']['uid']}]
    body['metadata']['finalizers'] = ['test.example.com/hold']
    api.create(JOBS, body, NS)
    api.delete(SWEEPS, 'owner3', NS, propagation_policy='Foreground')
    held = api.wait_for(lambda: api.get(JOBS, 'fg', NS)['metadata'].get('deletionTimestamp'))
    assert held
    assert api.get(SWEEPS, 'owner3', NS)['metadata']['finalizers'] == ['foregroundDeletion']
    api.patch(JOBS, 'fg', {'metadata': {'finalizers': None}}, NS)
    api.wait_for(lambda: api.get_or_none(SWEEPS, 'owner3', NS) is None, timeout=5)


def test_finalizers_block_deletion(api: EmulatorClient) -> None:
    api.create(SWEEPS, {**sweep('f'), 'metadata': {'name': 'f', 'finalizers': ['x.io/f']}}, NS)
    deleting = api.delete(SWEEPS, 'f', NS)
    assert deleting['metadata']['deletionTimestamp']
    assert api.get(SWEEPS, 'f', NS)['metadata']['finalizers'] == ['x.io/f']
    with pytest.raises(ApiClientError) as exc:
        api.patch(SWEEPS, 'f', {'metadata': {'finalizers': ['x.io/f', 'x.io/g']}}, NS)
    assert exc.value.status == 422 and 'no new finalizers' in str(exc.value)
    api.patch(SWEEPS, 'f', {'metadata': {'finalizers': []}}, NS)
    assert api.get_or_none(SWEEPS, 'f', NS) is None


def test_patch_flavours_and_optimistic_concurrency(api: EmulatorClient) -> None:
    created = api.create(JOBS, job('p', ['true'], env={'A': '1'}), NS)
    rv = created['metadata']['resourceVersion']
    api.patch(JOBS, 'p', {'metadata': {'annotations': {'a': '1'}}}, NS)

    # JSON patch with a failing "test" op (how kopf guards its finalizer patches): 422.
    stale = [{'op': 'test', 'path': '/metadata/resourceVersion', 'value': rv},
             {'op': 'add', 'path': '/metadata/finalizers', 'value': ['x.io/f']}]
    with pytest.raises(ApiClientError) as exc:
        api.patch(JOBS, 'p', stale, NS, content_type='application/json-patch+json')
    assert exc.value.status == 422
    # A stale resourceVersion in a merge patch: 409 Conflict.
    with pytest.raises(ApiClientError) as exc:
        api.patch(JOBS, 'p', {'metadata': {'resourceVersion': rv, 'labels': {'a': 'b'}}}, NS)
    assert exc.value.status == 409 and exc.value.reason == 'Conflict'
    # Strategic merge patch: lists with merge keys merge (env by name, conditions by type).
    smp = 'application/strategic-merge-patch+json'
    api.patch(JOBS, 'p', {'status': {'conditions': [{'type': 'A', 'status': 'True'}]}}, NS,
              subresource='status', content_type=smp)
    patched = api.patch(JOBS, 'p', {'status': {'conditions': [{'type': 'B', 'status': 'True'}]}},
                        NS, subresource='status', content_type=smp)
    assert set(conditions(patched)) == {'A', 'B'}
    # ... but custom resources do not support it, as on a real cluster: 415.
    api.create(SWEEPS, sweep('smp'), NS)
    with pytest.raises(ApiClientError) as exc:
        api.patch(SWEEPS, 'smp', {'spec': {'parallelism': 2}}, NS, content_type=smp)
    assert exc.value.status == 415
    # The pod template of a Job is immutable.
    with pytest.raises(ApiClientError) as exc:
        api.patch(JOBS, 'p', {'spec': {'template': {'spec': {'restartPolicy': 'OnFailure'}}}}, NS)
    assert exc.value.status == 422 and 'immutable' in str(exc.value)


def test_job_defaults_and_validation(api: EmulatorClient) -> None:
    created = api.create(JOBS, job('defaults', ['true']), NS)
    spec = created['spec']
    assert spec['completions'] == 1 and spec['parallelism'] == 1 and spec['backoffLimit'] == 0
    assert spec['template']['metadata']['labels']['batch.kubernetes.io/job-name'] == 'defaults'
    assert spec['selector'] == {'matchLabels': {
        'batch.kubernetes.io/controller-uid': created['metadata']['uid']}}
    assert 'status' not in created
    no_backoff = job('unset', ['true'])
    del no_backoff['spec']['backoffLimit']
    assert api.create(JOBS, no_backoff, NS)['spec']['backoffLimit'] == 6

    for body, fragment in [
        (job('x' * 64, ['true']), 'must be no more than 63 characters'),
        (job('Upper', ['true']), 'RFC 1123'),
        (job('bad-label', ['true'], labels={'k': 'v' * 64}), 'no more than 63'),
        ({**job('always', ['true']), 'spec': {'template': {'spec': {
            'restartPolicy': 'Always', 'containers': [{'name': 'c', 'image': 'i'}]}}}},
         'restartPolicy'),
    ]:
        with pytest.raises(ApiClientError) as exc:
            api.create(JOBS, body, NS)
        assert exc.value.status == 422 and exc.value.reason == 'Invalid'
        assert fragment in str(exc.value)
    bad_owner = job('bad-owner', ['true'])
    bad_owner['metadata']['ownerReferences'] = [{'apiVersion': 'v1', 'kind': 'X', 'name': 'x'}]
    with pytest.raises(ApiClientError) as exc:
        api.create(JOBS, bad_owner, NS)
    assert 'uid must not be empty' in str(exc.value)


def test_crd_schema_defaulting_pruning_validation(api: EmulatorClient) -> None:
    """A CRD POSTed at run time is served at once, with the schema applied like a real server."""
    schema = {'type': 'object', 'properties': {
        'spec': {'type': 'object', 'required': ['size'], 'properties': {
            'size': {'type': 'integer', 'minimum': 1},
            'color': {'type': 'string', 'enum': ['red', 'blue'], 'default': 'red',
                      'x-kubernetes-validations': [{'rule': 'self == oldSelf',
                                                    'message': 'color is immutable'}]}}},
        'status': {'type': 'object', 'properties': {'phase': {'type': 'string'}}}}}
    api.create('apiextensions.k8s.io/v1/customresourcedefinitions', {
        'metadata': {'name': 'widgets.example.com'},
        'spec': {'group': 'example.com', 'scope': 'Namespaced',
                 'names': {'plural': 'widgets', 'kind': 'Widget', 'singular': 'widget'},
                 'versions': [{'name': 'v1', 'served': True, 'storage': True,
                               'subresources': {'status': {}},
                               'schema': {'openAPIV3Schema': schema}}]}})
    discovery = api.request('GET', '/apis/example.com/v1')[1]
    assert {r['name'] for r in discovery['resources']} == {'widgets', 'widgets/status'}

    widgets = 'example.com/v1/widgets'
    created = api.create(widgets, {'metadata': {'name': 'w'}, 'spec': {'size': 2, 'extra': 1}}, NS)
    assert created['spec'] == {'size': 2, 'color': 'red'}  # defaulted, unknown field pruned
    status = api.patch(widgets, 'w', {'status': {'phase': 'Ready', 'undeclared': 1}}, NS,
                       subresource='status')
    assert status['status'] == {'phase': 'Ready'}  # status fields not in the schema vanish
    for patch, fragment in [({'spec': {'size': 0}}, 'minimum'),
                            ({'spec': {'color': 'green'}}, 'is not one of'),
                            ({'spec': {'color': 'blue'}}, 'color is immutable'),
                            ({'spec': {'size': 'big'}}, "is not of type 'integer'")]:
        with pytest.raises(ApiClientError) as exc:
            api.patch(widgets, 'w', patch, NS)
        assert exc.value.status == 422 and fragment in str(exc.value)

    api.delete('apiextensions.k8s.io/v1/customresourcedefinitions', 'widgets.example.com')
    assert api.request('GET', resource_path(widgets, NS))[0] == 404


def test_request_log_records_rbac_verbs(k8s_emulator: EmulatorProcess, api: EmulatorClient,
                                        watches: Callable[..., Watch]) -> None:
    mark = k8s_emulator.log_mark()
    api.create(SWEEPS, sweep('log'), NS)
    api.get(SWEEPS, 'log', NS)
    api.list(SWEEPS)
    watches(resource_path(SWEEPS, NS), timeoutSeconds='1').finished()
    api.patch(SWEEPS, 'log', {'status': {'phase': 'Running'}}, NS, subresource='status')
    status, _ = api.request('PUT', resource_path(SWEEPS, NS, 'log'), api.get(SWEEPS, 'log', NS))
    assert status == 200
    api.delete(SWEEPS, 'log', NS)
    api.request('DELETE', resource_path(JOBS, NS))
    api.request('GET', '/apis')
    records = k8s_emulator.request_log(since=mark)
    assert [(r['verb'], r['resource'], r['namespace'], r['status']) for r in records] == [
        ('create', 'tuningsweeps', NS, 201),
        ('get', 'tuningsweeps', NS, 200),
        ('list', 'tuningsweeps', None, 200),
        ('watch', 'tuningsweeps', NS, 200),
        ('patch', 'tuningsweeps/status', NS, 200),
        ('get', 'tuningsweeps', NS, 200),
        ('update', 'tuningsweeps', NS, 200),
        ('delete', 'tuningsweeps', NS, 200),
        ('deletecollection', 'jobs', NS, 200),
        ('get', None, None, 200),  # discovery: a non-resource URL
    ]
    assert all(r['user_agent'] == 'tuningsweep-tests' for r in records)
    assert records[0]['api_group'] == 'tuningsweep.io' and records[-2]['api_group'] == 'batch'
    assert [r['seq'] for r in records] == list(range(mark, mark + len(records)))


def test_fault_injection(k8s_emulator: EmulatorProcess, api: EmulatorClient) -> None:
    k8s_emulator.inject_fault(status=500, count=1, verb='create', resource='jobs')
    with pytest.raises(ApiClientError) as exc:
        api.create(JOBS, job('f', ['true']), NS)
    assert exc.value.status == 500
    api.create(JOBS, job('f', ['true']), NS)  # only the first one failed
    k8s_emulator.inject_fault(status=429, count=5, resource='jobs')
    assert api.request('GET', resource_path(JOBS, NS, 'f'))[0] == 429
    k8s_emulator.clear_faults()
    assert api.request('GET', resource_path(JOBS, NS, 'f'))[0] == 200


def test_kubernetes_client_against_the_emulator(k8s_emulator: EmulatorProcess,
                                                k8s_api_client: Any) -> None:
    batch = kubernetes.client.BatchV1Api(k8s_api_client)
    custom = kubernetes.client.CustomObjectsApi(k8s_api_client)
    owner: dict[str, Any] = custom.create_namespaced_custom_object(
        'tuningsweep.io', 'v1alpha1', NS, 'tuningsweeps', sweep('k'))  # type: ignore[assignment]
    body = job('k-trial', ['true'], labels={'tuningsweep.io/sweep': 'k'})
    kopf.adopt(body, owner=kopf.Body(cast(Any, owner)))  # needs the owner's uid
    created = batch.create_namespaced_job(NS, body)  # type: ignore[arg-type]
    assert created.to_dict()['metadata']['owner_references'][0]['uid'] == owner['metadata']['uid']
    with pytest.raises(kubernetes.client.ApiException) as exc:
        batch.create_namespaced_job(NS, body)  # type: ignore[arg-type]
    assert exc.value.status == 409
    listed = batch.list_namespaced_job(NS, label_selector='tuningsweep.io/sweep=k')
    assert [j.to_dict()['metadata']['name'] for j in listed.items] == ['k-trial']
    batch.patch_namespaced_job('k-trial', NS, {'metadata': {'annotations': {'done': 'yes'}}})
    custom.patch_namespaced_custom_object_status('tuningsweep.io', 'v1alpha1', NS, 'tuningsweeps',
                                                 'k', {'status': {'phase': 'Running'}})
    namespaces = kubernetes.client.CoreV1Api(k8s_api_client).list_namespace()
    assert NS in {n.to_dict()['metadata']['name'] for n in namespaces.items}
    custom.delete_namespaced_custom_object('tuningsweep.io', 'v1alpha1', NS, 'tuningsweeps', 'k')
    k8s_emulator.client.wait_for(  # type: ignore[union-attr]
        lambda: not batch.list_namespaced_job(NS).items, timeout=5, message='GC of k-trial')
    agents = {r['user_agent'].split('/')[0] for r in k8s_emulator.request_log()}
    assert agents == {'OpenAPI-Generator'}
    assert ('patch', 'jobs') in {(r['verb'], r['resource']) for r in k8s_emulator.request_log()}


# ---------------------------------------------------------------------------------------------
# The node agent
# ---------------------------------------------------------------------------------------------

def test_agent_runs_jobs_and_writes_job_controller_status(
        api: EmulatorClient, node_agent: NodeAgent) -> None:
    script = 'import os, sys; print("greeting", os.environ["GREETING"]); sys.exit(int(sys.argv[1]))'
    api.create(JOBS, job('ok', [PY, '-c', script, '0'],
                         env={'WHO': 'world', 'GREETING': 'hello $(WHO)'}), NS)
    api.create(JOBS, job('bad', [PY, '-c', script, '3'], env={'GREETING': 'x'},
                         backoffLimit=1), NS)

    ok = node_agent.wait_for_job(NS, 'ok', timeout=20)
    assert ok.phase == 'succeeded' and ok.exit_codes == [0], node_agent.log_tail(NS, 'ok')
    assert 'greeting hello world' in node_agent.log_tail(NS, 'ok')
    assert ok.env == {'WHO': 'world', 'GREETING': 'hello world'}
    done = api.wait_for(lambda: 'Complete' in conditions(j := api.get(JOBS, 'ok', NS)) and j)
    status = done['status']
    assert status['succeeded'] == 1 and 'active' not in status and status['ready'] == 0
    assert status['startTime'] <= status['completionTime']
    assert conditions(done)['SuccessCriteriaMet']['status'] == 'True'
    assert conditions(done)['Complete']['reason'] == 'CompletionsReached'

    bad = node_agent.wait_for_job(NS, 'bad', timeout=20)
    assert bad.phase == 'failed' and bad.exit_codes == [3, 3]  # backoffLimit 1: two attempts
    failed = api.wait_for(lambda: 'Failed' in conditions(j := api.get(JOBS, 'bad', NS)) and j)
    assert failed['status']['failed'] == 2 and 'completionTime' not in failed['status']
    assert conditions(failed)['Failed']['reason'] == 'BackoffLimitExceeded'
    assert conditions(failed)['Failed']['message'] == 'Job has reached the specified backoff limit'
    assert {'FailureTarget', 'Failed'} == set(conditions(failed))


def test_agent_respects_capacity_and_kills_deleted_jobs(
        api: EmulatorClient, node_agent_factory: Callable[..., NodeAgent], tmp_path: Any) -> None:
    agent = node_agent_factory(max_concurrency=2, kill_grace_seconds=0.5)
    pids = tmp_path / 'pids'
    pids.mkdir()
    sleeper = ('import os, sys, time; open(os.path.join(sys.argv[1], os.environ["JOB"]), "w")'
               '.write(str(os.getpid())); time.sleep(float(sys.argv[2]))')
    for name, seconds in [('long-0', '60'), ('long-1', '60')]:
        api.create(JOBS, job(name, [PY, '-c', sleeper, str(pids), seconds], env={'JOB': name}), NS)
    api.wait_for(lambda: (pids / 'long-0').exists() and (pids / 'long-1').exists()
                 and (pids / 'long-0').read_text() and (pids / 'long-1').read_text(), timeout=10)
    api.create(JOBS, job('short', [PY, '-c', sleeper, str(pids), '0.1'], env={'JOB': 'short'}), NS)

    # No free slot: the Job's pod is pending, reported as the Job controller does.
    pending = api.wait_for(lambda: (j := api.get(JOBS, 'short', NS)).get('status') and j)
    assert pending['status']['active'] == 1 and pending['status']['ready'] == 0
    time.sleep(0.3)
    run = agent.run_for(NS, 'short')
    assert run is not None and run.phase == 'pending'

    pid = int((pids / 'long-0').read_text())
    api.delete(JOBS, 'long-0', NS)  # its process dies with it, and frees a slot
    assert agent.wait_for_job(NS, 'long-0', timeout=10).phase == 'killed'
    api.wait_for(lambda: not _alive(pid), timeout=5, message='the deleted job process to exit')
    assert agent.wait_for_job(NS, 'short', timeout=20).phase == 'succeeded'
    assert agent.max_running == 2


def test_agent_deadline_suspend_and_image_entrypoints(
        api: EmulatorClient, node_agent_factory: Callable[..., NodeAgent]) -> None:
    agent = node_agent_factory(image_commands={'example.org/echo': [PY, '-c',
                                                                    'import sys; print(sys.argv)']})
    api.create(JOBS, job('slow', [PY, '-c', 'import time; time.sleep(60)'],
                         activeDeadlineSeconds=1), NS)
    no_command = job('entry', [])
    container = no_command['spec']['template']['spec']['containers'][0]
    del container['command']
    container.update(image='example.org/echo:2.0', args=['a', 'b'])
    api.create(JOBS, no_command, NS)
    api.create(JOBS, job('later', [PY, '-c', 'pass'], suspend=True), NS)

    entry = agent.wait_for_job(NS, 'entry', timeout=20)
    assert entry.phase == 'succeeded' and "'a', 'b'" in agent.log_tail(NS, 'entry')
    slow = agent.wait_for_job(NS, 'slow', timeout=20)
    assert slow.phase == 'failed' and slow.reason == 'DeadlineExceeded'
    assert conditions(api.get(JOBS, 'slow', NS))['Failed']['reason'] == 'DeadlineExceeded'
    assert agent.run_for(NS, 'later') is None  # suspended: not started
    api.patch(JOBS, 'later', {'spec': {'suspend': False}}, NS)
    assert agent.wait_for_job(NS, 'later', timeout=20).phase == 'succeeded'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError), open(f'/proc/{pid}/stat') as f:
        return f.read().split(')')[-1].split()[0] != 'Z'  # a zombie is as good as dead
    return True


# ---------------------------------------------------------------------------------------------
# kopf, for real
# ---------------------------------------------------------------------------------------------

GROUP, VERSION, PLURAL = 'tuningsweep.io', 'v1alpha1', 'tuningsweeps'
TRIAL_SCRIPT = 'import os; print("training", os.environ["ARCH"])'


def throwaway_operator(api_client: Any) -> kopf.OperatorRegistry:
    """A toy operator: one Job per TuningSweep, its outcome copied into the sweep's status.

    Built on its own registry (not kopf's global one), so it needs its own login handler.
    The Job watcher is ``on.event``: ``on.field``/``on.update`` on Jobs would make kopf
    annotate every Job with its last-handled state, one extra PATCH per Job.
    """
    registry = kopf.OperatorRegistry()
    batch = kubernetes.client.BatchV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> Any:
        return kopf.login_via_client(**kwargs)

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    def create_trial(body: kopf.Body, name: str, namespace: str | None, spec: kopf.Spec,
                     patch: kopf.Patch, **_: Any) -> None:
        assert namespace is not None
        trial = job(f'{name}-c0000-w0', [PY, '-c', TRIAL_SCRIPT],
                    labels={'tuningsweep.io/sweep': name}, env={'ARCH': spec['architecture']})
        kopf.adopt(trial, owner=body)
        try:
            batch.create_namespaced_job(namespace, trial)  # type: ignore[arg-type]
        except kubernetes.client.ApiException as exc:
            if exc.status != 409:  # deterministic names: creating twice is a no-op
                raise
        patch.status['phase'] = 'Running'
        # kopf 1.45 posts Events only when asked (settings.posting.loggers is False).
        kopf.info(body, reason='TrialsCreated', message=f'created {trial["metadata"]["name"]}')

    @kopf.on.event('batch', 'v1', 'jobs', labels={'tuningsweep.io/sweep': kopf.PRESENT},
                   registry=registry)
    def trial_event(type: str, body: kopf.Body, namespace: str | None, labels: kopf.Labels,
                    **_: Any) -> None:
        found = conditions(dict(body))
        phase = ('Succeeded' if 'Complete' in found else 'Failed' if 'Failed' in found else None)
        if type == 'DELETED' or phase is None or namespace is None:
            return
        try:
            custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, labels['tuningsweep.io/sweep'],
                {'status': {'phase': phase, 'trials': {'succeeded': int(phase == 'Succeeded')}}})
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:  # the sweep is being deleted
                raise

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def delete_sweep(**_: Any) -> None:
        pass  # its existence makes kopf put a finalizer on every sweep

    return registry


def _first(records: list[RequestRecord], **match: Any) -> RequestRecord:
    for record in records:
        if all(record.get(k) == v for k, v in match.items()):
            return record
    raise AssertionError(f'no request {match} in the log')


def test_kopf_operator_round_trip(k8s_emulator: EmulatorProcess, api: EmulatorClient,
                                  node_agent: NodeAgent, k8s_api_client: Any,
                                  kopf_settings: Any) -> None:
    registry = throwaway_operator(k8s_api_client)
    args = ['run', '--standalone', '--namespace', NS, '--verbose']
    with KopfRunner(args, registry=registry, settings=kopf_settings, timeout=30) as runner:
        # kopf lists and watches namespaces for -n, then watches sweeps and jobs in NS once
        # the namespace exists: creating the first object creates it.
        api.create(SWEEPS, sweep('rt'), NS)
        trial = api.wait_for(lambda: api.get_or_none(JOBS, 'rt-c0000-w0', NS), timeout=15,
                             message='the trial Job')
        owner_uid = api.get(SWEEPS, 'rt', NS)['metadata']['uid']
        ref = trial['metadata']['ownerReferences'][0]
        assert (ref['uid'], ref['kind'], ref['controller']) == (owner_uid, 'TuningSweep', True)
        assert trial['metadata']['labels']['tuningsweep.io/sweep'] == 'rt'

        run = node_agent.wait_for_job(NS, 'rt-c0000-w0', timeout=20)
        assert run.phase == 'succeeded' and 'training mlp' in node_agent.log_tail(NS, run.name)
        done = api.wait_for(lambda: (s := api.get(SWEEPS, 'rt', NS)).get('status', {})
                            .get('phase') == 'Succeeded' and s, timeout=15,
                            message='the sweep status')
        assert done['status']['trials'] == {'succeeded': 1}
        assert 'kopf.zalando.org/KopfFinalizerMarker' in done['metadata']['finalizers']
        # kopf posts its events asynchronously: wait for one before stopping it.
        events = api.wait_for(lambda: api.list('v1/events', NS)['items'], timeout=10,
                              message='an event')
        assert events[0]['involvedObject']['uid'] == owner_uid
        assert events[0]['reason'] == 'TrialsCreated'

        # Deleting the sweep: kopf runs the delete handler and releases its finalizer; the
        # GC then deletes the Job it owns.
        api.delete(SWEEPS, 'rt', NS)
        api.wait_for(lambda: api.get_or_none(SWEEPS, 'rt', NS) is None, timeout=15,
                     message='kopf to release the sweep')
        api.wait_for(lambda: api.get_or_none(JOBS, 'rt-c0000-w0', NS) is None, timeout=15,
                     message='the GC to delete the Job')
    assert runner.exception is None, runner.output[-3000:]

    records = k8s_emulator.request_log()
    sweep_created = _first(records, verb='create', resource='tuningsweeps')['ts']
    job_created = _first(records, verb='create', resource='jobs', status=201)['ts']
    job_done = [r['ts'] for r in records if r['verb'] == 'patch' and r['resource'] == 'jobs/status'
                and r['user_agent'].startswith('tuningsweep-test-node-agent')][-1]
    status_patched = next(r['ts'] for r in records if r['resource'] == 'tuningsweeps/status'
                          and r['user_agent'].startswith('OpenAPI-Generator'))
    timings = {'sweep -> Job': job_created - sweep_created,
               'Job complete -> sweep status': status_patched - job_done}
    logging.getLogger(__name__).warning('kopf round trip: %s',
                                        {k: f'{v * 1000:.0f} ms' for k, v in timings.items()})
    assert all(0 <= v < 5 for v in timings.values()), timings

    kopf_calls = {(r['verb'], r['resource']) for r in records if r['user_agent'].startswith('kopf/')}
    assert {('list', 'namespaces'), ('watch', 'namespaces'),
            ('list', 'customresourcedefinitions'), ('watch', 'customresourcedefinitions'),
            ('list', 'tuningsweeps'), ('watch', 'tuningsweeps'), ('patch', 'tuningsweeps'),
            ('patch', 'tuningsweeps/status'), ('list', 'jobs'), ('watch', 'jobs'),
            ('create', 'events')} <= kopf_calls
    assert ('patch', 'jobs') not in kopf_calls  # on.event handlers leave the Jobs alone
    assert all(r['status'] < 500 for r in records), [r for r in records if r['status'] >= 500]


def test_kopf_cluster_wide_survives_watch_reconnects(
        k8s_emulator: EmulatorProcess, api: EmulatorClient, node_agent: NodeAgent,
        k8s_api_client: Any, kopf_settings: Any) -> None:
    registry = throwaway_operator(k8s_api_client)
    with KopfRunner(['run', '--standalone', '--all-namespaces'], registry=registry,
                    settings=kopf_settings, timeout=30) as runner:
        api.create(SWEEPS, sweep('first'), 'team-a')
        api.wait_for(lambda: api.get_or_none(JOBS, 'first-c0000-w0', 'team-a'), timeout=15)
        assert k8s_emulator.close_watches() >= 3  # kopf's sweeps/jobs/CRDs + the agent's jobs
        api.create(SWEEPS, sweep('second'), 'team-b')
        api.wait_for(lambda: api.get_or_none(JOBS, 'second-c0000-w0', 'team-b'), timeout=15,
                     message='kopf to reconnect and see the second sweep')
        api.wait_for(lambda: api.get(SWEEPS, 'second', 'team-b').get('status', {})
                     .get('phase') == 'Succeeded', timeout=20)
    assert runner.exception is None, runner.output[-3000:]
    kopf_calls = {(r['verb'], r['resource'], r['namespace']) for r in k8s_emulator.request_log()
                  if r['user_agent'].startswith('kopf/')}
    assert ('watch', 'tuningsweeps', None) in kopf_calls  # -A: cluster-wide list and watch
    assert ('list', 'namespaces', None) not in kopf_calls  # ... and no namespace scanning
