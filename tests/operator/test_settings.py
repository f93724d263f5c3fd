"""Operator settings: flags and environment read alike, bad values named, render agrees."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tuningsweep.cli import main
from tuningsweep.controller.settings import (
    OperatorSettings,
    SettingsError,
    env_of,
    flag_of,
    settable_fields,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"prometheus_url": "http://prom:9090", "pushgateway_url": "https://pgw.example:9091",
        "pushgateway_admin_url": "http://pgw-admin:9091", "results_default": "gs://b/tuning/",
        "api_rate_limit": "7.5", "api_burst": "9", "status_interval": "0",
        "tick_interval": "0.5", "collect_timeout": "300", "job_retention": "0",
        "metrics_port": "9100", "clock_file": "/tmp/now"}


def test_every_setting_is_covered_here() -> None:
    assert {f.name for f in settable_fields()} == set(GOOD)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_flag_and_its_variable_give_the_same_value(name: str) -> None:
    setting = next(f for f in settable_fields() if f.name == name)
    from_flag = OperatorSettings.load(flags={name: GOOD[name]}, environ={})
    from_env = OperatorSettings.load(environ={env_of(setting): GOOD[name]})
    assert from_flag == from_env
    assert getattr(from_flag, name) != getattr(OperatorSettings(), name)


def test_flag_wins_over_variable_and_empty_means_unset() -> None:
    env = {"TUNINGSWEEP_OPERATOR_API_BURST": "5", "TUNINGSWEEP_OPERATOR_METRICS_PORT": ""}
    settings = OperatorSettings.load(flags={"api_burst": "8"}, environ=env)
    assert settings.api_burst == 8 and settings.metrics_port == 8000
    assert OperatorSettings.load(environ=env).api_burst == 5


def test_namespaces_from_flags_or_environment() -> None:
    env = {"TUNINGSWEEP_OPERATOR_NAMESPACES": "ml, team"}
    from_env = OperatorSettings.load(environ=env)
    assert from_env.namespaces == ["ml", "team"] and not from_env.all_namespaces
    flagged = OperatorSettings.load(environ=env, namespaces=["a"])
    assert flagged.namespaces == ["a"] and not flagged.all_namespaces
    everything = OperatorSettings.load(environ=env, all_namespaces=True)
    assert everything.namespaces == [] and everything.all_namespaces


def test_bad_values_name_the_flag_or_variable_all_at_once() -> None:
    env = {"TUNINGSWEEP_OPERATOR_API_RATE_LIMIT": "fast",
           "TUNINGSWEEP_OPERATOR_PROMETHEUS_URL": "prometheus:9090"}
    with pytest.raises(SettingsError) as caught:
        OperatorSettings.load(flags={"metrics_port": "70000"}, environ=env)
    assert caught.value.lines() == [
        "TUNINGSWEEP_OPERATOR_PROMETHEUS_URL: 'prometheus:9090' is not an http(s) URL; "
        "give one like http://host:port",
        "TUNINGSWEEP_OPERATOR_API_RATE_LIMIT: 'fast' is not a number above 0; give e.g. 5 "
        "or 0.5",
        "--metrics-port: '70000' is not a whole number from 0 to 65535",
    ]


def test_operator_command_refuses_a_bad_flag_without_a_traceback(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["operator", "--api-burst", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --api-burst: '0' is not a whole number from 1 to 1000000\n"


def test_every_setting_has_its_flag_on_the_operator_command() -> None:
    from tuningsweep.cli import build_parser

    argv = ["operator"]
    for setting in settable_fields():
        argv += [flag_of(setting), GOOD[setting.name]]
    args = build_parser().parse_args(argv)
    assert {f.name: getattr(args, f.name) for f in settable_fields()} == GOOD


def _pushgateways(capsys: pytest.CaptureFixture[str], *extra: str) -> set[str]:
    manifest = str(ROOT / "examples" / "grid.yaml")
    assert main(["render", manifest, "--today", "2026-11-27", *extra]) == 0
    jobs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    return {e["value"] for job in jobs for e in job["spec"]["template"]["spec"]["containers"][0]
            ["env"] if e["name"] == "TUNINGSWEEP_PUSHGATEWAY"}


def test_render_uses_the_operators_pushgateway(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNINGSWEEP_OPERATOR_PUSHGATEWAY_URL", raising=False)
    assert _pushgateways(capsys) == {OperatorSettings().pushgateway_url}
    monkeypatch.setenv("TUNINGSWEEP_OPERATOR_PUSHGATEWAY_URL", "http://pgw.ops:9091")
    assert _pushgateways(capsys) == {"http://pgw.ops:9091"}
    assert _pushgateways(capsys, "--pushgateway-url", "http://flag:9091") == {"http://flag:9091"}


def test_render_shows_packed_jobs_when_trials_share_pods(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (ROOT / "examples" / "grid.yaml").read_text()
    body = yaml.safe_load(text)
    body["spec"].setdefault("trainer", {})["trialsPerPod"] = 2
    body["spec"]["trainer"].pop("command", None)
    manifest = tmp_path / "packed.yaml"
    manifest.write_text(yaml.safe_dump(body))
    assert main(["render", str(manifest), "--today", "2026-11-27"]) == 0
    jobs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    listed = [j["metadata"]["annotations"].get("tuningsweep.io/trials", "") for j in jobs]
    trials = [t for entry in listed for t in entry.split(",") if t]
    assert len(trials) == len(set(trials)) and all(1 <= len(e.split(",")) <= 2 for e in listed)
    assert any(len(e.split(",")) == 2 for e in listed)
