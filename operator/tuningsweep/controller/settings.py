"""Operator settings: one validated object, from command-line flags or the environment.

Every setting is defined once, as a field of :class:`OperatorSettings` with its parser
and help text; from that one definition come the ``tuningsweep operator --flag`` (see
:mod:`tuningsweep.commands.operator`), the ``TUNINGSWEEP_OPERATOR_*`` variable (how the
Helm chart configures the Deployment) and the default, so the two ways cannot drift
apart, and ``tuningsweep render`` resolves the Pushgateway and results defaults exactly
as the operator does. A flag wins over the variable, the variable over the default; an
empty value means "not set". Flags and variables are parsed by the same function, and a
bad value is a :class:`SettingsError` naming the flag or variable and what to give
instead, never a bare ``ValueError`` from deep inside kopf's startup.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from ..core.spec.errors import UserError

ENV_PREFIX = "TUNINGSWEEP_OPERATOR_"
NAMESPACES_ENV = ENV_PREFIX + "NAMESPACES"


class SettingsError(UserError):
    """One or more settings have bad values; each line names the flag or variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("is not an http(s) URL; give one like http://host:port")
    return text


def _location(text: str) -> str:
    bucket = text[len("gs://"):].strip("/") if text.startswith("gs://") else ""
    if not bucket and not text.startswith("/"):
        raise ValueError("is not a results location; give gs://BUCKET/PREFIX (or an "
                         "absolute path on a mounted volume)")
    return text


def _number(text: str, minimum: float, inclusive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        bound = f"at least {minimum:g}" if inclusive else f"above {minimum:g}"
        raise ValueError(f"is not a number {bound}; give e.g. 5 or 0.5")
    return value


def _positive(text: str) -> float:
    return _number(text, 0.0, inclusive=False)


def _non_negative(text: str) -> float:
    return _number(text, 0.0, inclusive=True)


def _whole(text: str, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise ValueError(f"is not a whole number from {minimum} to {maximum}")
    return value


def _burst(text: str) -> int:
    return _whole(text, 1, 1_000_000)


def _port(text: str) -> int:
    return _whole(text, 0, 65535)


def _setting(default: Any, parse: Callable[[str], Any], metavar: str, help: str) -> Any:
    """A field read from ``--flag`` or ``TUNINGSWEEP_OPERATOR_FLAG`` through ``parse``."""
    return field(default=default, metadata={"parse": parse, "metavar": metavar, "help": help})


@dataclass
class OperatorSettings:
    """Everything the operator needs besides the cluster's credentials.

    ``namespaces`` (empty with ``all_namespaces`` = cluster-wide) come from ``-n``/``-A``
    or ``TUNINGSWEEP_OPERATOR_NAMESPACES``; every other field is a setting with a flag
    and a variable named after it (``api_burst``: ``--api-burst``,
    ``TUNINGSWEEP_OPERATOR_API_BURST``) and the help text below.
    """

    namespaces: list[str] = field(default_factory=list)
    all_namespaces: bool = True
    prometheus_url: str = _setting(
        "http://prometheus-operated.monitoring:9090", _url, "URL",
        "Prometheus URL the operator queries trial metrics from")
    pushgateway_url: str = _setting(
        "http://tuningsweep-pushgateway:9091", _url, "URL",
        "Pushgateway URL given to trainers (their in-cluster address)")
    pushgateway_admin_url: str | None = _setting(
        None, _url, "URL", "Pushgateway URL the operator deletes collected groups through, if "
        "different")
    results_default: str | None = _setting(
        None, _location, "PREFIX", "results prefix for sweeps without spec.output.results")
    api_rate_limit: float = _setting(
        20.0, _positive, "N", "API writes per second (client-side token bucket; kopf has none)")
    api_burst: int = _setting(30, _burst, "N", "API writes allowed in a burst")
    status_interval: float = _setting(
        5.0, _non_negative, "SECONDS", "minimum seconds between status patches of one sweep")
    tick_interval: float = _setting(
        2.0, _positive, "SECONDS", "longest wait in seconds between two reconciles of a sweep")
    collect_timeout: float = _setting(
        120.0, _positive, "SECONDS", "seconds a finished trial may wait for its final metrics in "
        "Prometheus before it is recorded as failed")
    job_retention: float = _setting(
        600.0, _non_negative, "SECONDS", "seconds a collected trial's Job (and its pods) is "
        "kept before the operator deletes it; its row in results.csv is the record")
    metrics_port: int = _setting(8000, _port, "PORT", "port of the operator's /metrics (0 = off)")

    @property
    def pushgateway_for_operator(self) -> str:
        """The Pushgateway URL the operator itself talks to."""
        return self.pushgateway_admin_url or self.pushgateway_url

    @classmethod
    def load(
        cls,
        flags: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
        namespaces: Sequence[str] | None = None,
        all_namespaces: bool = False,
    ) -> OperatorSettings:
        """Settings from flags (raw text by field name), else the environment, else defaults.

        ``namespaces`` (``-n``) or ``all_namespaces`` (``-A``) win over
        ``TUNINGSWEEP_OPERATOR_NAMESPACES`` (comma- or space-separated).

        Raises:
            SettingsError: every bad value at once, each naming its flag or variable.
        """
        flags = flags or {}
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for setting in settable_fields():
            source, raw = flag_of(setting), flags.get(setting.name)
            if not raw:
                source, raw = env_of(setting), environ.get(env_of(setting))
            if not raw:
                continue
            try:
                values[setting.name] = setting.metadata["parse"](raw)
            except ValueError as err:
                problems.append(f"{source}: {raw!r} {err}")
        if problems:
            raise SettingsError(problems)
        if namespaces:
            chosen = list(namespaces)
        elif all_namespaces:
            chosen = []
        else:
            chosen = environ.get(NAMESPACES_ENV, "").replace(",", " ").split()
        return cls(namespaces=chosen, all_namespaces=not chosen, **values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorSettings:
        """Settings from ``TUNINGSWEEP_OPERATOR_*`` variables alone, defaults otherwise."""
        return cls.load(environ=environ)


def settable_fields() -> Iterator[Field[Any]]:
    """The fields that have a flag and a variable (all but the namespace scope)."""
    return (f for f in fields(OperatorSettings) if "parse" in f.metadata)


def flag_of(setting: Field[Any]) -> str:
    """The command-line flag of a setting: ``--api-burst``."""
    return "--" + setting.name.replace("_", "-")


def env_of(setting: Field[Any]) -> str:
    """The environment variable of a setting: ``TUNINGSWEEP_OPERATOR_API_BURST``."""
    return ENV_PREFIX + setting.name.upper()


def describe(setting: Field[Any]) -> str:
    """Help text of a setting: what it is, its default and its variable."""
    default = setting.default if setting.default is not None else "none"
    return f"{setting.metadata['help']} (default {default}; env {env_of(setting)})"


# The settings of the running operator; set once by the CLI before kopf starts.
current = OperatorSettings()
