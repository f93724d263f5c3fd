"""Reading manifest text into documents, with line numbers and duplicate-key checks.

PyYAML's loaders silently keep the last of two duplicate keys, and their errors are hard
to map back to a field. So we compose YAML into nodes ourselves: that gives every field
path its line (for messages such as ``sweep.yaml:12: spec.parameters.dropout.max: ...``)
and lets duplicate keys be reported instead of swallowed. JSON is parsed by the same code
(YAML 1.1 reads it), so both formats get the same messages.

Three input shapes are accepted: full manifests (several documents are several sweeps), a
bare ``spec`` mapping, and the original tuning script's shorthand JSON (``architecture``,
``date-range`` as ``[start, end]`` pairs, ``parameters`` as value lists). The latter two
become manifests named after the file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import api
from .errors import InvalidSpec, SpecError
from .parse import Sweep, parse_sweep


@dataclass
class Document:
    """One parsed document: its data and the line of each field path (1-based)."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    start_line: int = 1

    def line_of(self, path: str) -> int | None:
        """Return the line of ``path`` or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.start_line


class _Composer:
    def __init__(self) -> None:
        self._constructor = yaml.SafeLoader("")
        self.errors: list[SpecError] = []

    def convert(self, node: yaml.Node, path: str, lines: dict[str, int]) -> Any:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            self._constructor.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    key = str(key)
                key_path = f"{path}.{key}" if path else str(key)
                if key in out:
                    self.errors.append(SpecError(
                        key_path, f"is given twice (first on line {lines[key_path]})",
                        "remove one of them", key_node.start_mark.line + 1))
                    continue
                lines[key_path] = key_node.start_mark.line + 1
                out[key] = self.convert(value_node, key_path, lines)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, f"{path}[{i}]", lines) for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except ValueError:
            # A scalar that looks like a date or number but is not one (2026-13-01):
            # keep the text so validation can name the field and the fix.
            return node.value


def parse_documents(text: str, source: str = "") -> list[Document]:
    """Parse YAML or JSON text into documents.

    Raises:
        InvalidSpec: a syntax error (with its line) or duplicate keys.
    """
    composer = _Composer()
    documents: list[Document] = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            lines: dict[str, int] = {}
            data = composer.convert(node, "", lines)
            documents.append(Document(data, lines, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InvalidSpec([SpecError("", f"YAML syntax error: {problem}",
                                     "check the indentation and quoting on that line",
                                     line)], source) from None
    except yaml.YAMLError as exc:
        raise InvalidSpec([SpecError("", f"YAML syntax error: {exc}")], source) from None
    if composer.errors:
        raise InvalidSpec(composer.errors, source)
    if not documents:
        raise InvalidSpec([SpecError("", "the file holds no document",
                                     "write a TuningSweep manifest (see examples/)")], source)
    return documents


def name_from_source(source: str) -> str:
    """Derive a DNS-1123 sweep name from a file name (``My Sweep.json`` -> ``my-sweep``)."""
    stem = re.split(r"[\\/]", source)[-1].rsplit(".", 1)[0] if source else "sweep"
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")[:63].strip("-")
    return name or "sweep"


def _is_shorthand(data: dict[str, Any]) -> bool:
    if "date-range" in data:
        return True
    params = data.get("parameters")
    return isinstance(params, dict) and any(isinstance(v, list) for v in params.values())


def _from_shorthand(data: dict[str, Any], source: str) -> tuple[dict[str, Any], list[SpecError]]:
    """Translate the original script's JSON into a spec mapping."""
    errors: list[SpecError] = []
    spec: dict[str, Any] = {}
    for key, value in data.items():
        if key == "date-range":
            ranges = []
            if not isinstance(value, list):
                errors.append(SpecError("date-range", "must be a list of [start, end] pairs",
                                        'e.g. [["2026-01-01", "2026-03-31"]]'))
                continue
            for i, pair in enumerate(value):
                if not isinstance(pair, list) or len(pair) != 2:
                    errors.append(SpecError(f"date-range[{i}]", f"{pair!r} is not a [start, end] pair",
                                            'write ["2026-01-01", "2026-03-31"]'))
                    continue
                start, end = (p.isoformat() if isinstance(p, dt.date) else p for p in pair)
                ranges.append({"start": start, "end": end})
            spec["windows"] = {"ranges": ranges}
        elif key == "parameters" and isinstance(value, dict):
            spec["parameters"] = {
                name: {"values": v} if isinstance(v, list) else v for name, v in value.items()
            }
        else:
            spec[key] = value
    return spec, errors


def _as_manifest(doc: Document, source: str) -> tuple[dict[str, Any], Document]:
    data = doc.data
    if not isinstance(data, dict) or "kind" in data or "apiVersion" in data:
        return data, doc
    if _is_shorthand(data):
        spec, errors = _from_shorthand(data, source)
        if errors:
            raise InvalidSpec(errors, source)
        # Shorthand keys are not spec paths; point every error at the document itself.
        located = Document(spec, {}, doc.start_line)
    else:
        spec = data
        located = Document(spec, {f"spec.{k}": v for k, v in doc.lines.items() if k},
                           doc.start_line)
    manifest = {"apiVersion": api.API_VERSION, "kind": api.KIND,
                "metadata": {"name": name_from_source(source)}, "spec": spec}
    return manifest, located


def load_sweeps(text: str, source: str = "") -> list[Sweep]:
    """Parse and validate every sweep in ``text``.

    Raises:
        InvalidSpec: every problem of every document, each with its line where known.
    """
    errors: list[SpecError] = []
    sweeps: list[Sweep] = []
    for doc in parse_documents(text, source):
        try:
            manifest, located = _as_manifest(doc, source)
            sweeps.append(parse_sweep(manifest, source, located.line_of))
        except InvalidSpec as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidSpec(errors, source)
    return sweeps
