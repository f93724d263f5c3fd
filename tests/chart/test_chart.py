"""The Helm chart: lint, render with value combinations, validate every manifest, and check
what each combination promises (RBAC scope, Pushgateway, ServiceMonitors, CRD, credentials,
peering, a hardened pod). The RBAC rules themselves are checked against a real operator run
in test_rbac_matches_operator.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.manifests import validate_manifest
from tests.chart.render import (
    CHART,
    NAMESPACE,
    RELEASE,
    HelmError,
    Rendered,
    rendered,
    run_helm,
    template,
)
from tuningsweep.cli import build_parser
from tuningsweep.controller.settings import (
    NAMESPACES_ENV,
    OperatorSettings,
    env_of,
    settable_fields,
)

FULLNAME = f"{RELEASE}-tuningsweep"
EXTERNAL_PUSHGATEWAY = "http://pushgateway.monitoring.svc:9091"
GSA = "tuning@my-project.iam.gserviceaccount.com"

CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced-rbac": {"operator": {"watchNamespaces": ["ml", "team"]}},
    "external-pushgateway": {"pushgateway": {"enabled": False, "url": EXTERNAL_PUSHGATEWAY,
                                             "adminURL": "http://pushgateway-admin:9091"}},
    "servicemonitors": {"metrics": {"serviceMonitor": {"enabled": True,
                                                       "labels": {"release": "kps"}}},
                        "pushgateway": {"serviceMonitor": {"enabled": True,
                                                           "labels": {"release": "kps"}}}},
    "crds-off": {"crds": {"enabled": False}},
    "crds-not-kept": {"crds": {"keep": False}},
    "secret-credentials": {"gcs": {"credentialsSecret": {"name": "gcs-key", "key": "sa.json"}}},
    "workload-identity": {"gcs": {"workloadIdentity": {"gcpServiceAccount": GSA}}},
    "peering": {"operator": {"peering": {"enabled": True}}},
    "peering-namespaced": {"operator": {"peering": {"enabled": True},
                                        "watchNamespaces": ["ml"]}},
    "long-names": {"fullnameOverride":
                   "a-release-name-that-is-exactly-sixty-three-characters-long-xyz0",
                   "operator": {"watchNamespaces": ["ml"], "peering": {"enabled": True}}},
    "peering-without-crds": {"operator": {"peering": {"enabled": True, "installCRDs": False}}},
    "everything-else": {
        "fullnameOverride": "sweeps",
        "commonLabels": {"team": "ml-platform"},
        "image": {"digest": "sha256:" + "a" * 64},
        "imagePullSecrets": [{"name": "regcred"}],
        "operator": {"resultsDefault": "gs://bucket/tuning/", "apiRateLimit": 7.5,
                     "apiBurst": 9, "statusInterval": 3, "tickInterval": 0.5,
                     "collectTimeout": 300, "metricsPort": 9100, "healthPort": 9200,
                     "extraArgs": ["--status-interval=4"],
                     "extraEnv": [{"name": "LOG_FORMAT", "value": "json"}]},
        "serviceAccount": {"create": False, "name": "existing-operator"},
        "rbac": {"create": False},
        "pushgateway": {"persistence": {"enabled": True, "size": "2Gi",
                                        "storageClassName": "standard-rwo"},
                        "tolerations": [{"key": "pool", "operator": "Exists"}]},
        "podAnnotations": {"example.org/owner": "ml"},
        "podLabels": {"example.org/tier": "control"},
        "tolerations": [{"key": "pool", "operator": "Equal", "value": "system",
                         "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "In", "values": ["system"]}]}]}}},
        "priorityClassName": "system-cluster-critical",
        "metrics": {"service": {"annotations": {"example.org/scrape": "true"}}},
        "livenessProbe": {"enabled": False},
        "dashboard": {"namespace": "monitoring", "annotations": {"grafana_folder": "ML"}},
    },
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, Rendered]:
    """Each value combination, rendered once for the module."""
    name: str = request.param
    return name, rendered(CASES[name])


def _operator_deployment(chart: Rendered) -> dict[str, Any]:
    return next(d for d in chart.of_kind("Deployment")
                if d["metadata"]["labels"]["app.kubernetes.io/component"] == "operator")


def _container(chart: Rendered, deployment: str = FULLNAME) -> dict[str, Any]:
    return chart.one("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def _rules(role: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
            for r in rule["resources"] for v in rule["verbs"]}


# -- lint and schema ------------------------------------------------------------------


def test_helm_lint_is_clean_in_strict_mode() -> None:
    output = run_helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in output
    assert "[WARNING]" not in output and "[ERROR]" not in output, output


@pytest.mark.parametrize("name", ["everything-else", "namespaced-rbac", "servicemonitors"])
def test_helm_lint_accepts_the_combinations(name: str) -> None:
    run_helm("lint", "--strict", str(CHART), "--values", "-", stdin=yaml.safe_dump(CASES[name]))


@pytest.mark.parametrize(("values", "message"), [
    ({"operater": {}}, "additional properties 'operater' not allowed"),
    ({"operator": {"watchNamespace": ["ml"]}}, "additional properties 'watchNamespace'"),
    ({"pushgateway": {"serviceMonitor": {"honorLabels": False}}}, "'honorLabels' not allowed"),
    ({"resources": {"limit": {"memory": "1Gi"}}}, "additional properties 'limit' not allowed"),
    ({"resources": {"limits": {"memory": "lots"}}}, "does not match pattern"),
    ({"operator": {"watchNamespaces": ["ML_team"]}}, "does not match pattern"),
    ({"operator": {"apiRateLimit": 0}}, "apiRateLimit"),
    ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else v)
def test_schema_rejects_unknown_and_invalid_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match="schema") as failure:
        rendered(values)
    assert message in str(failure.value)


@pytest.mark.parametrize(("values", "message"), [
    ({"pushgateway": {"enabled": False}}, "pushgateway.url is required"),
    ({"gcs": {"workloadIdentity": {"gcpServiceAccount": GSA},
              "credentialsSecret": {"name": "gcs-key"}}}, "not both"),
    ({"pushgateway": {"enabled": False, "url": EXTERNAL_PUSHGATEWAY,
                      "serviceMonitor": {"enabled": True}}}, "needs the in-chart Pushgateway"),
    ({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
     "needs metrics.service.enabled"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
], ids=["external-pushgateway-without-url", "two-credentials", "pushgateway-monitor-external",
        "monitor-without-service", "existing-sa-without-name"])
def test_contradictory_values_fail_with_the_fix(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=message):
        rendered(values)


# -- every manifest of every combination is valid ----------------------------------------


def test_every_manifest_is_valid_for_kubernetes_1_29_and_1_33(
        case: tuple[str, Rendered]) -> None:
    name, chart = case
    problems = [p for manifest in chart for p in validate_manifest(manifest)]
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_resource_names_are_unique_and_namespaced_ones_have_a_namespace(
        case: tuple[str, Rendered]) -> None:
    _, chart = case
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                      "ClusterKopfPeering"}
    keys = [(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) for m in chart]
    assert len(keys) == len(set(keys))
    for kind, namespace, name in keys:
        assert (namespace is None) == (kind in cluster_scoped), (kind, name)
        assert kind == "CustomResourceDefinition" or len(name) <= 63, name


def test_every_resource_carries_the_chart_labels(case: tuple[str, Rendered]) -> None:
    _, chart = case
    for manifest in chart:
        labels = manifest["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/instance") == RELEASE, manifest["metadata"]
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", manifest["metadata"]


# -- the operator Deployment -------------------------------------------------------------


def test_operator_pod_is_hardened_and_single(case: tuple[str, Rendered]) -> None:
    _, chart = case
    deployment = _operator_deployment(chart)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/tmp" in mounts, "a read-only root filesystem needs a writable /tmp"


def test_probes_target_the_liveness_endpoint_the_operator_serves(
        case: tuple[str, Rendered]) -> None:
    name, chart = case
    deployment = _operator_deployment(chart)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    liveness = next(a for a in container["args"] if a.startswith("--liveness="))
    assert liveness == f"--liveness=http://0.0.0.0:{ports['healthz']}/healthz"
    probes = [container[k] for k in ("livenessProbe", "readinessProbe") if k in container]
    assert probes and all(p["httpGet"] == {"path": "/healthz", "port": "healthz"}
                          for p in probes)
    assert ("livenessProbe" in container) == (name != "everything-else")
    assert _env(container)["TUNINGSWEEP_OPERATOR_METRICS_PORT"] == str(ports["http-metrics"])


def test_operator_args_parse_with_the_real_command_line(case: tuple[str, Rendered]) -> None:
    _, chart = case
    deployment = _operator_deployment(chart)
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    parsed = build_parser().parse_args(["operator", *args])
    assert parsed.handler.__name__ == "operator_command"


def test_operator_env_is_what_the_settings_read(monkeypatch: pytest.MonkeyPatch) -> None:
    chart = rendered(CASES["everything-else"])
    container = _container(chart, "sweeps")
    env = _env(container)
    known = {env_of(f) for f in settable_fields()} | {NAMESPACES_ENV}
    for name in env:
        if name.startswith("TUNINGSWEEP_OPERATOR_"):
            assert name in known, f"{name} is not a setting"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings.from_env()
    assert settings.namespaces == [] and settings.all_namespaces
    assert settings.pushgateway_url == f"http://sweeps-pushgateway.{NAMESPACE}.svc:9091"
    assert settings.prometheus_url == "http://prometheus-operated.monitoring.svc:9090"
    assert settings.results_default == "gs://bucket/tuning/"
    assert (settings.api_rate_limit, settings.api_burst) == (7.5, 9)
    assert (settings.status_interval, settings.tick_interval) == (3.0, 0.5)
    assert (settings.collect_timeout, settings.metrics_port) == (300.0, 9100)
    assert env["LOG_FORMAT"] == "json"
    assert container["args"][-1] == "--status-interval=4"
    assert container["image"] == "ghcr.io/tuningsweep/operator@sha256:" + "a" * 64
    assert chart.one("Deployment", "sweeps")["spec"]["template"]["spec"][
        "serviceAccountName"] == "existing-operator"


def test_default_image_is_the_app_version() -> None:
    chart_meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    container = _container(rendered())
    assert container["image"] == f"ghcr.io/tuningsweep/operator:{chart_meta['appVersion']}"


def test_watched_namespaces_reach_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(_container(rendered(CASES["namespaced-rbac"])))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings.from_env()
    assert settings.namespaces == ["ml", "team"] and not settings.all_namespaces


# -- RBAC scope ------------------------------------------------------------------------


def test_all_namespaces_get_one_cluster_role() -> None:
    chart = rendered()
    assert not chart.of_kind("Role") and not chart.of_kind("RoleBinding")
    binding = chart.one("ClusterRoleBinding", FULLNAME)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME,
                                    "namespace": NAMESPACE}]
    rules = _rules(chart.one("ClusterRole", FULLNAME))
    assert ("batch", "jobs", "create") in rules
    assert ("", "namespaces", "list") not in rules, "kopf lists namespaces only when listed"


def test_listed_namespaces_get_a_role_each_and_cluster_reads_only() -> None:
    chart = rendered(CASES["namespaced-rbac"])
    assert {r["metadata"]["namespace"] for r in chart.of_kind("Role")} == {"ml", "team"}
    assert {b["metadata"]["namespace"] for b in chart.of_kind("RoleBinding")} == {"ml", "team"}
    cluster = _rules(chart.one("ClusterRole", FULLNAME))
    assert {verb for _, _, verb in cluster} == {"list", "watch"}
    assert {resource for _, resource, _ in cluster} == {"namespaces",
                                                        "customresourcedefinitions"}
    for role in chart.of_kind("Role"):
        assert ("batch", "jobs", "create") in _rules(role)


def test_user_roles_aggregate_into_view_and_edit() -> None:
    chart = rendered()
    view = chart.one("ClusterRole", f"{FULLNAME}-view")
    edit = chart.one("ClusterRole", f"{FULLNAME}-edit")
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in edit["metadata"]["labels"]
    assert not any(b["roleRef"]["name"] in (f"{FULLNAME}-view", f"{FULLNAME}-edit")
                   for b in chart.of_kind("ClusterRoleBinding"))


def test_rbac_and_service_account_can_be_left_out() -> None:
    chart = rendered(CASES["everything-else"])
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert not chart.of_kind(kind), kind


# -- CRD ------------------------------------------------------------------------------


def test_crd_is_installed_and_kept_by_default() -> None:
    crd = rendered().one("CustomResourceDefinition", "tuningsweeps.tuningsweep.io")
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_crd_can_be_left_out_or_not_kept() -> None:
    assert not rendered(CASES["crds-off"]).of_kind("CustomResourceDefinition")
    crd = rendered(CASES["crds-not-kept"]).one("CustomResourceDefinition")
    assert "annotations" not in crd["metadata"]


# -- Pushgateway, metrics, ServiceMonitors ---------------------------------------------------


def test_in_chart_pushgateway_is_given_to_trainers_by_its_cluster_dns_name() -> None:
    chart = rendered()
    service = chart.one("Service", f"{FULLNAME}-pushgateway")
    env = _env(_container(chart))
    assert env["TUNINGSWEEP_OPERATOR_PUSHGATEWAY_URL"] == (
        f"http://{FULLNAME}-pushgateway.{NAMESPACE}.svc:{service['spec']['ports'][0]['port']}")
    assert "TUNINGSWEEP_OPERATOR_PUSHGATEWAY_ADMIN_URL" not in env
    pushgateway = _container(chart, f"{FULLNAME}-pushgateway")
    assert pushgateway["image"].startswith("prom/pushgateway:")
    assert pushgateway["securityContext"]["readOnlyRootFilesystem"] is True


def test_external_pushgateway_replaces_the_in_chart_one() -> None:
    chart = rendered(CASES["external-pushgateway"])
    assert [d["metadata"]["name"] for d in chart.of_kind("Deployment")] == [FULLNAME]
    env = _env(_container(chart))
    assert env["TUNINGSWEEP_OPERATOR_PUSHGATEWAY_URL"] == EXTERNAL_PUSHGATEWAY
    assert env["TUNINGSWEEP_OPERATOR_PUSHGATEWAY_ADMIN_URL"] == "http://pushgateway-admin:9091"


def test_pushgateway_persistence_mounts_a_claim() -> None:
    chart = rendered(CASES["everything-else"])
    claim = chart.one("PersistentVolumeClaim", "sweeps-pushgateway")
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    container = _container(chart, "sweeps-pushgateway")
    assert "--persistence.file=/data/pushgateway.db" in container["args"]


def test_service_monitors_select_the_services_and_honor_labels() -> None:
    chart = rendered(CASES["servicemonitors"])
    monitors = {m["metadata"]["name"]: m for m in chart.of_kind("ServiceMonitor")}
    assert set(monitors) == {FULLNAME, f"{FULLNAME}-pushgateway"}
    for monitor in monitors.values():
        assert monitor["metadata"]["labels"]["release"] == "kps"
        (endpoint,) = monitor["spec"]["endpoints"]
        # Pushed and per-sweep series carry namespace/sweep labels of their own.
        assert endpoint["honorLabels"] is True
        selector = monitor["spec"]["selector"]["matchLabels"]
        services = [s for s in chart.of_kind("Service")
                    if selector.items() <= s["metadata"]["labels"].items()]
        assert len(services) == 1, monitor["metadata"]["name"]
        assert endpoint["port"] in {p["name"] for p in services[0]["spec"]["ports"]}


def test_services_select_their_pods() -> None:
    chart = rendered()
    for service in chart.of_kind("Service"):
        selector = service["spec"]["selector"]
        pods = [d for d in chart.of_kind("Deployment")
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(pods) == 1, service["metadata"]["name"]
        container_ports = {p["name"] for p in pods[0]["spec"]["template"]["spec"]
                           ["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports


# -- GCS credentials -----------------------------------------------------------------------


def test_workload_identity_annotates_the_service_account() -> None:
    chart = rendered(CASES["workload-identity"])
    account = chart.one("ServiceAccount", FULLNAME)
    assert account["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": GSA}
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in _env(_container(chart))


def test_secret_credentials_are_mounted_read_only_and_pointed_at() -> None:
    chart = rendered(CASES["secret-credentials"])
    container = _container(chart)
    path = _env(container)["GOOGLE_APPLICATION_CREDENTIALS"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "gcs-credentials")
    assert mount["readOnly"] is True and path == f"{mount['mountPath']}/sa.json"
    volume = next(v for v in chart.one("Deployment", FULLNAME)["spec"]["template"]["spec"]
                  ["volumes"] if v["name"] == "gcs-credentials")
    assert volume["secret"] == {"secretName": "gcs-key",
                                "items": [{"key": "sa.json", "path": "sa.json"}]}
    assert "annotations" not in chart.one("ServiceAccount", FULLNAME)["metadata"]


# -- peering ---------------------------------------------------------------------------------


def test_standalone_by_default() -> None:
    chart = rendered()
    assert not any(a.startswith("--peering") for a in _container(chart)["args"])
    assert not [m for m in chart if m["apiVersion"].startswith("kopf.dev")]


def test_peering_cluster_wide() -> None:
    chart = rendered(CASES["peering"])
    assert "--peering=tuningsweep" in _container(chart)["args"]
    crds = {c["metadata"]["name"] for c in chart.of_kind("CustomResourceDefinition")}
    assert {"kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"} <= crds
    peering = chart.one("ClusterKopfPeering", "tuningsweep")
    assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert ("kopf.dev", "clusterkopfpeerings", "patch") in _rules(
        chart.one("ClusterRole", FULLNAME))


def test_peering_in_listed_namespaces() -> None:
    chart = rendered(CASES["peering-namespaced"])
    assert [p["metadata"]["namespace"] for p in chart.of_kind("KopfPeering")] == ["ml"]
    assert not chart.of_kind("ClusterKopfPeering")
    (role,) = chart.of_kind("Role")
    assert ("kopf.dev", "kopfpeerings", "patch") in _rules(role)


def test_peering_crds_can_be_left_to_another_release() -> None:
    chart = rendered(CASES["peering-without-crds"])
    assert [c["metadata"]["name"] for c in chart.of_kind("CustomResourceDefinition")] == [
        "tuningsweeps.tuningsweep.io"]
    assert chart.of_kind("ClusterKopfPeering")


# -- dashboard and notes -------------------------------------------------------------------


def test_dashboard_config_map_carries_the_sidecar_label_and_the_json() -> None:
    chart = rendered(CASES["everything-else"])
    config_map = chart.one("ConfigMap", "sweeps-dashboard")
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "ML"}
    dashboard = json.loads(config_map["data"]["tuningsweep.json"])
    source = json.loads((CHART / "dashboards" / "tuningsweep.json").read_text())
    assert dashboard == source


def test_dashboard_can_be_left_out() -> None:
    assert not rendered({"dashboard": {"enabled": False}}).of_kind("ConfigMap")


def test_notes_say_what_to_do_next() -> None:
    notes = run_helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
                     "--values", "-", stdin=yaml.safe_dump(CASES["crds-off"]))
    assert "kubectl get sweeps -A" in notes
    assert "did not install the TuningSweep CRD" in notes
    assert "honor_labels: true" in notes


def test_packaged_chart_renders_like_the_folder(tmp_path: Path) -> None:
    run_helm("package", str(CHART), "--destination", str(tmp_path))
    (package,) = tmp_path.glob("tuningsweep-*.tgz")
    packaged = run_helm("template", RELEASE, str(package), "--namespace", NAMESPACE)
    assert packaged == template()
