"""The Kubernetes fields passed through to Jobs: quantities written as the API server writes
them, and every mistake in spec.trainer's pod fields an InvalidSpec naming the field."""

from __future__ import annotations

import pytest

from tuningsweep.core.spec.errors import InvalidSpec
from tuningsweep.core.spec.manifest import load_sweeps
from tuningsweep.core.spec.quantity import QuantityError, canonical_quantity, quantity_value

BASE = """\
apiVersion: tuningsweep.io/v1alpha1
kind: TuningSweep
metadata: {name: ctr, namespace: ml}
spec:
  architecture: mlp
  parameters:
    learning_rate: {values: [0.01]}
  trainer:
"""


@pytest.mark.parametrize(("given", "canonical"), [
    # As the API server stores them (k8s.io/apimachinery resource.Quantity.String()).
    (1, "1"), (0, "0"), (0.5, "500m"), (2.0, "2"), (1000, "1k"), ("4", "4"), ("0.1", "100m"),
    ("1000m", "1"), ("100m", "100m"), ("16Gi", "16Gi"), ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"), ("1024Mi", "1Gi"), ("1.5Ki", "1536"), ("2048", "2048"),
    ("100M", "100M"), ("1e3", "1e3"), ("1E3", "1e3"), ("1.5e3", "1500"), ("12e6", "12e6"),
    ("10E", "10E"), (".5", "500m"), ("5.", "5"), ("0.0000000001", "1n"), ("-1", "-1"),
])
def test_quantities_are_written_in_canonical_form(given: object, canonical: str) -> None:
    assert canonical_quantity(given) == canonical
    assert canonical_quantity(canonical) == canonical  # canonical is a fixed point
    assert quantity_value(canonical) == pytest.approx(quantity_value(given))


@pytest.mark.parametrize("bad", [True, None, [1], {"a": 1}, "16 GB", "1.2.3", "Gi", "1e",
                                 "1Gb", float("inf"), ""])
def test_non_quantities_are_refused(bad: object) -> None:
    with pytest.raises(QuantityError):
        canonical_quantity(bad)


def test_defaults_and_numbers_become_strings_the_client_accepts() -> None:
    (sweep,) = load_sweeps(BASE.replace("  trainer:\n", ""))
    assert sweep.spec.trainer.resources == {"limits": {"nvidia.com/gpu": "1"}}
    (sweep,) = load_sweeps(BASE + "    resources: {requests: {cpu: 0.5, memory: 1.5Gi}, "
                                  "limits: {cpu: 2, memory: 2Gi, nvidia.com/gpu: 2}}\n")
    assert sweep.spec.trainer.resources == {
        "requests": {"cpu": "500m", "memory": "1536Mi"},
        "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "2"}}


def errors_of(trainer_yaml: str) -> list[str]:
    with pytest.raises(InvalidSpec) as info:
        load_sweeps(BASE + trainer_yaml)
    return [e.render() for e in info.value.errors]


@pytest.mark.parametrize(("trainer", "expected"), [
    ("    resources: {limits: {memory: 16 GB}}",
     "spec.trainer.resources.limits.memory: '16 GB' is not a Kubernetes quantity; write a "
     "number or a string such as 2, 500m or 16Gi"),
    ("    resources: {limit: {cpu: 1}}", "spec.trainer.resources.limit: unknown field; did you "
     "mean 'limits'?"),
    ("    resources: {limits: {gpu: 1}}", "spec.trainer.resources.limits.gpu: is not a resource "
     "a container can request; use cpu, memory, ephemeral-storage, hugepages-<size>, or an "
     "extended resource with its domain, e.g. nvidia.com/gpu"),
    ("    resources: {limits: {nvidia.com/gpu: 0.5}}",
     "spec.trainer.resources.limits.nvidia.com/gpu: 500m is not a whole number"),
    ("    resources: {requests: {nvidia.com/gpu: 1}}",
     "spec.trainer.resources.requests.nvidia.com/gpu: is requested without a limit"),
    ("    resources: {requests: {memory: 4Gi}, limits: {memory: 2Gi}}",
     "spec.trainer.resources.requests.memory: 4Gi is more than the limit 2Gi"),
    ("    resources: {limits: {cpu: -1}}", "spec.trainer.resources.limits.cpu: -1 is negative"),
    ("    tolerations: [{key: nvidia.com/gpu, operator: exists}]",
     "spec.trainer.tolerations[0].operator: 'exists' is not one of Exists | Equal; did you "
     "mean 'Exists'?"),
    ("    tolerations: [{key: nvidia.com/gpu, efect: NoSchedule}]",
     "spec.trainer.tolerations[0].efect: unknown field; did you mean 'effect'?"),
    ("    tolerations: [{operator: Equal, value: x}]",
     "spec.trainer.tolerations[0].operator: must be Exists when the key is empty"),
    ("    tolerations: [{key: a, operator: Exists, value: x}]",
     "spec.trainer.tolerations[0].value: must be empty with operator Exists"),
    ("    tolerations: [{key: a, effect: NoSchedule, tolerationSeconds: 60}]",
     "spec.trainer.tolerations[0].tolerationSeconds: applies only to effect NoExecute"),
    ("    tolerations: {key: a}", "spec.trainer.tolerations: must be a list"),
    ("    volumes: [{name: data, persistentVolumeClaim: {claimName: d}, emptyDir: {}}]",
     "spec.trainer.volumes[0]: has 2 sources (persistentVolumeClaim, emptyDir)"),
    ("    volumes: [{name: data, pvc: {claimName: d}}]",
     "spec.trainer.volumes[0].pvc: unknown field"),
    ("    volumes: [{name: Data, emptyDir: {}}]", "spec.trainer.volumes[0].name: 'Data' is not "
     "valid; a DNS label"),
    ("    volumes: [{name: tmp, emptyDir: {}}]",
     "spec.trainer.volumes[0].name: 'tmp' is already used by the trials' writable /tmp"),
    ("    volumes: [{name: scratch, emptyDir: {sizeLimit: lots}}]",
     "spec.trainer.volumes[0].emptyDir.sizeLimit: 'lots' is not a Kubernetes quantity"),
    ("    volumeMounts: [{name: data, mountPath: /data}]",
     "spec.trainer.volumeMounts[0].name: 'data' is not a volume; add it to "
     "spec.trainer.volumes"),
    ("    volumes: [{name: data, emptyDir: {}}]\n    volumeMounts: [{name: data, mountPath: /tmp}]",
     "spec.trainer.volumeMounts[0].mountPath: '/tmp' is already mounted"),
    ("    volumeMounts: [{name: tmp}]", "spec.trainer.volumeMounts[0].mountPath: is required"),
    ("    nodeSelector: {cloud.google.com/gke-accelerator: nvidia l4}",
     "spec.trainer.nodeSelector.cloud.google.com/gke-accelerator: 'nvidia l4' is not valid"),
    ("    nodeSelector: {'bad key!': x}", "spec.trainer.nodeSelector.bad key!: is not a valid "
     "label key"),
    ("    serviceAccountName: Trainer_SA", "spec.trainer.serviceAccountName: 'Trainer_SA' is "
     "not valid"),
    ("    queueName: gpu queue", "spec.trainer.queueName: 'gpu queue' is not valid"),
    ("    priorityClassName: High", "spec.trainer.priorityClassName: 'High' is not valid"),
    ("    image: ''", "spec.trainer.image: '' is not valid"),
    ("    env: [{name: MY VAR, value: x}]", "spec.trainer.env[0].name: 'MY VAR' is not valid; "
     "variable name: letters, digits"),
])
def test_pod_field_mistakes_name_the_field_and_the_fix(trainer: str, expected: str) -> None:
    messages = errors_of(trainer + "\n")
    assert any(expected in m for m in messages), messages


def test_every_pod_field_mistake_is_reported_at_once() -> None:
    with pytest.raises(InvalidSpec) as info:
        load_sweeps(BASE + "    resources: {limits: {memory: lots}}\n"
                           "    tolerations: [{key: a, operator: Sometimes}]\n"
                           "    volumes: [{name: data, pvc: {}}]\n")
    assert [(e.path, e.line) for e in info.value.errors] == [
        ("spec.trainer.resources.limits.memory", 9), ("spec.trainer.tolerations[0].operator", 10),
        ("spec.trainer.volumes[0].pvc", 11)]


def test_the_volumes_trial_pods_use_are_accepted() -> None:
    (sweep,) = load_sweeps(BASE + """\
    volumes:
      - {name: data, persistentVolumeClaim: {claimName: ctr-data, readOnly: true}}
      - {name: config, configMap: {name: trainer-config, items: [{key: a, path: a.json}]}}
      - {name: creds, secret: {secretName: gcs-key, defaultMode: 0400}}
      - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 1.5Gi}}
      - name: gcs
        csi: {driver: gcsfuse.csi.storage.gke.io, volumeAttributes: {bucketName: b}}
    volumeMounts:
      - {name: data, mountPath: /data, readOnly: true}
      - {name: scratch, mountPath: /scratch}
    tolerations:
      - {key: cloud.google.com/gke-spot, operator: Equal, value: "true", effect: NoSchedule}
      - {operator: Exists}
    nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}
""")
    trainer = sweep.spec.trainer
    assert trainer.volumes[3] == {"name": "scratch",
                                  "emptyDir": {"medium": "Memory", "sizeLimit": "1536Mi"}}
    assert [m["name"] for m in trainer.volume_mounts] == ["data", "scratch"]
    assert len(trainer.tolerations) == 2
