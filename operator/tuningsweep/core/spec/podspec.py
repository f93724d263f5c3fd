"""The Kubernetes fields a sweep passes through to its Jobs, checked as Kubernetes would.

``spec.trainer`` carries pieces of a pod spec (resources, tolerations, volumes, volume
mounts, nodeSelector) that the Job builder copies into every trial's Job. A mistake that
reached the Job would be refused by the kubernetes client (it checks types and unknown
fields before sending) or by the API server (422), once per trial, long after the user
looked away. So they are checked here, at validation time, for ``tuningsweep validate``
and the operator alike, and every mistake becomes an ``InvalidSpec`` error naming the
field and the fix. The CRD states the same schemas (:data:`POD_FIELDS`, with the rules
CEL can afford), so ``kubectl apply`` refuses most mistakes at once; what it cannot state
(a quantity's syntax, requests within limits, a mount naming a declared volume) is left
to these checks, and the operator fails the sweep with them.

The schema below is the subset of ``core/v1`` these fields use (Kubernetes 1.29-1.33),
with the API server's own rules for them: resource names and quantities, requests within
limits, whole numbers for extended resources such as GPUs, toleration operators and
effects, one source per volume, mounts that name a declared volume. Quantities are
normalised to the canonical strings the API server writes (:mod:`.quantity`). Volume
sources are those trial pods use (claims, config maps, secrets, emptyDir, CSI such as
GKE's Cloud Storage FUSE, NFS, hostPath); another source is an error that lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import SpecError
from .quantity import quantity_value
from .schema import Field, Rule, validate

LineOf = Callable[[str], "int | None"]

# Names as the API server validates them (k8s.io/apimachinery/pkg/util/validation). The
# patterns are anchored and free of lookaheads so the CRD can carry them (the API server's
# regular expressions are RE2); the lengths go with them as Field.max_length.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
_NAME_PART = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"


def is_qualified_name(text: str) -> bool:
    """A label or taint key: ``name`` or ``prefix/name`` (prefix a DNS subdomain)."""
    prefix, _, name = text.rpartition("/")
    if prefix and (len(prefix) > 253 or not re.match(DNS_SUBDOMAIN, prefix)):
        return False
    return len(name) <= 63 and re.match(_NAME_PART, name) is not None


# Volume and mount the builder adds to every pod (the root filesystem is read-only).
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"

_STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_QUANTITIES = Field("object", "resource name -> quantity",
                    values=Field("quantity", "a quantity such as 2, 500m or 16Gi"))
RESOURCES = Field("object", "container resources", properties={
    "limits": _QUANTITIES,
    "requests": _QUANTITIES,
    "claims": Field("array", "dynamic resource claims", items=Field("object", properties={
        "name": Field("string", "the name of a pod resource claim", required=True),
        "request": Field("string", "the request within the claim"),
    })),
})

TOLERATION = Field("object", "a pod toleration", properties={
    "key": Field("string", "the taint key; empty with operator Exists matches every taint"),
    "operator": Field("string", "how the value is compared", enum=("Exists", "Equal")),
    "value": Field("string", "the taint value (operator Equal)"),
    "effect": Field("string", "the taint effect to tolerate; empty matches all",
                    enum=("NoSchedule", "PreferNoSchedule", "NoExecute", "")),
    "tolerationSeconds": Field("integer", "how long a NoExecute taint is tolerated"),
}, rules=(
    # The CRD's copies of _check_tolerations (the key's syntax stays there: a regular
    # expression over a string of unbounded length in a list of unbounded length is
    # beyond the API server's cost budget for CEL).
    Rule("(has(self.key) && self.key != '') || (has(self.operator) && self.operator == "
         "'Exists')", "must be Exists when the key is empty: add the taint's key, or "
         "operator: Exists to tolerate every taint", ".operator"),
    Rule("!has(self.operator) || self.operator != 'Exists' || !has(self.value) || "
         "self.value == ''", "must be empty with operator Exists: remove the value, or use "
         "operator: Equal", ".value"),
    Rule("!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
         "applies only to effect NoExecute: remove tolerationSeconds, or set effect: "
         "NoExecute", ".tolerationSeconds"),
))

def _object_name(description: str, required: bool = False) -> Field:
    return Field("string", f"{description} (lowercase letters, digits, '-', '.')",
                 required=required, pattern=DNS_SUBDOMAIN, max_length=253)


_KEY_TO_PATH = Field("array", "keys to project as files", items=Field("object", properties={
    "key": Field("string", "the key", required=True),
    "path": Field("string", "the relative file path", required=True),
    "mode": Field("integer", "file mode bits", minimum=0),
}))
_REFERENCE = Field("object", "a reference to a secret", properties={
    "name": _object_name("the secret's name")})
_SOURCES: dict[str, Field] = {
    "persistentVolumeClaim": Field("object", "a PersistentVolumeClaim", properties={
        "claimName": _object_name("the claim's name", required=True),
        "readOnly": Field("boolean", "mount read-only"),
    }),
    "configMap": Field("object", "a ConfigMap's keys as files", properties={
        "name": _object_name("the ConfigMap's name"),
        "items": _KEY_TO_PATH,
        "defaultMode": Field("integer", "file mode bits", minimum=0),
        "optional": Field("boolean", "whether the ConfigMap may be missing"),
    }),
    "secret": Field("object", "a Secret's keys as files", properties={
        "secretName": _object_name("the Secret's name"),
        "items": _KEY_TO_PATH,
        "defaultMode": Field("integer", "file mode bits", minimum=0),
        "optional": Field("boolean", "whether the Secret may be missing"),
    }),
    "emptyDir": Field("object", "a scratch directory", properties={
        "medium": Field("string", "empty for the node's disk, Memory for tmpfs",
                        enum=("", "Memory")),
        "sizeLimit": Field("quantity", "the most it may hold, e.g. 10Gi"),
    }),
    "csi": Field("object", "a CSI volume (e.g. GKE's Cloud Storage FUSE)", properties={
        "driver": Field("string", "the CSI driver's name", required=True),
        "readOnly": Field("boolean", "mount read-only"),
        "fsType": Field("string", "the filesystem type"),
        "volumeAttributes": Field("object", "driver options", values=Field("string", "value")),
        "nodePublishSecretRef": _REFERENCE,
    }),
    "nfs": Field("object", "an NFS export", properties={
        "server": Field("string", "the NFS server", required=True),
        "path": Field("string", "the exported path", required=True),
        "readOnly": Field("boolean", "mount read-only"),
    }),
    "hostPath": Field("object", "a path on the node", properties={
        "path": Field("string", "the path on the node", required=True),
        "type": Field("string", "what must be at the path",
                      enum=("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File",
                            "Socket", "CharDevice", "BlockDevice")),
    }),
}
VOLUME = Field("object", "a pod volume", properties={
    "name": Field("string", "a DNS label: lowercase letters, digits and '-'", required=True,
                  pattern=DNS_LABEL, max_length=63),
    **_SOURCES,
}, rules=(
    # The CRD's copies of _check_volumes' per-volume rules (names unique across the list
    # stay there).
    Rule(f"[{', '.join(f'has(self.{k})' for k in _SOURCES)}].exists_one(x, x)",
         f"give exactly one source: one of {', '.join(_SOURCES)}"),
    Rule(f"self.name != '{TMP_VOLUME}'", f"'{TMP_VOLUME}' is already used by the trials' "
         "writable /tmp: choose another name", ".name"),
))

VOLUME_MOUNT = Field("object", "a container volume mount", properties={
    "name": Field("string", "the name of a volume in spec.trainer.volumes", required=True),
    "mountPath": Field("string", "where the volume appears in the container", required=True),
    "readOnly": Field("boolean", "mount read-only"),
    "subPath": Field("string", "a path inside the volume to mount instead of its root"),
    "subPathExpr": Field("string", "subPath with $(VAR) references"),
    "mountPropagation": Field("string", "mount propagation",
                              enum=("None", "HostToContainer", "Bidirectional")),
    "recursiveReadOnly": Field("string", "recursive read-only mounts",
                               enum=("Disabled", "IfPossible", "Enabled")),
}, rules=(
    # _check_volumes also refuses '/tmp//' and a path mounted twice; the CRD states the
    # common case only (no regular expressions, no comparing items: see TOLERATION).
    Rule(f"self.mountPath != '{TMP_PATH}' && self.mountPath != '{TMP_PATH}/'",
         f"'{TMP_PATH}' is already mounted: choose another path ({TMP_PATH} is the trials' "
         "scratch space)", ".mountPath"),
))

# The pod fields of spec.trainer. The API schema (core/spec/api.py) names these as the content
# of its open fields, so the CRD states them too and the API server refuses what
# check_trainer's schema pass refuses.
POD_FIELDS: dict[str, Field] = {
    "resources": RESOURCES,
    "tolerations": Field("array", "pod tolerations", items=TOLERATION),
    "volumes": Field("array", "pod volumes", items=VOLUME),
    "volumeMounts": Field("array", "container volume mounts", items=VOLUME_MOUNT),
    "nodeSelector": Field("object", "node labels", values=Field(
        "string", "a label value: at most 63 letters, digits, '-', '_' or '.'",
        pattern=LABEL_VALUE, max_length=63)),
}


def check_trainer(trainer: Mapping[str, Any], locate: LineOf,
                  path: str = "spec.trainer") -> tuple[dict[str, Any], list[SpecError]]:
    """Check the pod fields of ``spec.trainer``; return them normalised, and every error.

    The returned mapping has ``resources``, ``tolerations``, ``volumes``, ``volumeMounts``
    and ``nodeSelector`` (empty when absent), quantities in canonical form.
    """
    out: dict[str, Any] = {}
    errors: list[SpecError] = []
    for name, schema in POD_FIELDS.items():
        empty: Any = {} if schema.type == "object" else []
        value, found = validate(schema, trainer.get(name) or empty, f"{path}.{name}", locate)
        out[name] = value
        errors += found
    if errors:
        return out, errors  # the rules below need well-typed input

    def err(field: str, message: str, fix: str) -> None:
        errors.append(SpecError(f"{path}.{field}", message, fix, locate(f"{path}.{field}")))

    _check_resources(out["resources"], err)
    _check_tolerations(out["tolerations"], err)
    _check_volumes(out["volumes"], out["volumeMounts"], err)
    for key in out["nodeSelector"]:
        if not is_qualified_name(key):
            err(f"nodeSelector.{key}", "is not a valid label key",
                "use a node label such as cloud.google.com/gke-accelerator")
    return out, errors


Err = Callable[[str, str, str], None]


def _check_resources(resources: Mapping[str, Any], err: Err) -> None:
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for section, quantities in (("limits", limits), ("requests", requests)):
        for name, amount in quantities.items():
            field = f"resources.{section}.{name}"
            extended = "/" in name and not name.startswith(("kubernetes.io/", "requests."))
            if not (name in _STANDARD_RESOURCES or name.startswith("hugepages-") or extended):
                err(field, "is not a resource a container can request",
                    "use cpu, memory, ephemeral-storage, hugepages-<size>, or an extended "
                    "resource with its domain, e.g. nvidia.com/gpu")
            elif quantity_value(amount) < 0:
                err(field, f"{amount} is negative", "use zero or more")
            elif extended and not quantity_value(amount).is_integer():
                err(field, f"{amount} is not a whole number",
                    f"{name} is counted in whole devices: use 1, 2, ...")
    for name, amount in requests.items():
        limit = limits.get(name)
        extended = "/" in name
        if extended and limit is None:
            err(f"resources.requests.{name}", "is requested without a limit",
                f"set resources.limits.{name} (for devices a request must equal the limit)")
        elif limit is not None and extended and quantity_value(amount) != quantity_value(limit):
            err(f"resources.requests.{name}", f"{amount} differs from the limit {limit}",
                "set the request equal to the limit, or give only the limit")
        elif limit is not None and quantity_value(amount) > quantity_value(limit):
            err(f"resources.requests.{name}", f"{amount} is more than the limit {limit}",
                "lower the request or raise the limit")


def _check_tolerations(tolerations: list[dict[str, Any]], err: Err) -> None:
    for i, toleration in enumerate(tolerations):
        field = f"tolerations[{i}]"
        operator = toleration.get("operator", "Equal")
        if not toleration.get("key") and operator != "Exists":
            err(f"{field}.operator", "must be Exists when the key is empty",
                "add the taint's key, or operator: Exists to tolerate every taint")
        if operator == "Exists" and toleration.get("value"):
            err(f"{field}.value", "must be empty with operator Exists",
                "remove the value, or use operator: Equal")
        if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
            err(f"{field}.tolerationSeconds", "applies only to effect NoExecute",
                "remove tolerationSeconds, or set effect: NoExecute")
        if toleration.get("key") and not is_qualified_name(toleration["key"]):
            err(f"{field}.key", f"{toleration['key']!r} is not a valid taint key",
                "use the taint's key, e.g. nvidia.com/gpu")


def _check_volumes(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]],
                   err: Err) -> None:
    names = {TMP_VOLUME}
    for i, volume in enumerate(volumes):
        sources = [k for k in volume if k != "name"]
        if len(sources) != 1:
            err(f"volumes[{i}]", f"has {len(sources)} sources ({', '.join(sources) or 'none'})",
                f"give exactly one of {', '.join(_SOURCES)}")
        if volume["name"] in names:
            taken = ("the trials' writable /tmp" if volume["name"] == TMP_VOLUME
                     else "another volume")
            err(f"volumes[{i}].name", f"{volume['name']!r} is already used by {taken}",
                "choose another name")
        names.add(volume["name"])
    paths = {TMP_PATH}
    for i, mount in enumerate(mounts):
        if mount["name"] not in names:
            err(f"volumeMounts[{i}].name", f"{mount['name']!r} is not a volume",
                "add it to spec.trainer.volumes, or fix the name")
        if mount["mountPath"].rstrip("/") in paths:
            err(f"volumeMounts[{i}].mountPath", f"{mount['mountPath']!r} is already mounted",
                f"choose another path ({TMP_PATH} is the trials' scratch space)")
        paths.add(mount["mountPath"].rstrip("/"))
