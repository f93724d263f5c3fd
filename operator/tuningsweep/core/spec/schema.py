"""A small declarative schema: one description of the TuningSweep API, used twice.

The same tree of :class:`Field` objects drives validation of user input (with field
paths, did-you-mean suggestions and defaults) and generates the CRD's OpenAPI v3 schema,
so the CLI and the API server can never disagree on what a valid sweep is. We do not use
pydantic here because the messages must name the field and the fix in our words, and the
OpenAPI output must be a *structural* Kubernetes schema (no ``$ref``, no ``anyOf`` with
null), which is easier to produce from a tree we own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from .errors import SpecError
from .quantity import QuantityError, canonical_quantity

FieldType = Literal["string", "integer", "number", "boolean", "object", "array", "date", "any",
                    "quantity"]

_MISSING: Any = object()


class Rule(NamedTuple):
    """A CEL rule of the CRD (``x-kubernetes-validations``).

    ``message`` says what is wrong and the fix, as the Python-side check does;
    ``field_path`` (``.max``, relative to the field holding the rule) is where the API
    server reports it, so a rule over several fields still names the one to change.
    """

    rule: str
    message: str
    field_path: str = ""


@dataclass(frozen=True)
class Field:
    """The description of one field of the API.

    Attributes:
        type: JSON type; ``date`` is a ``YYYY-MM-DD`` string; ``any`` accepts any scalar;
            ``quantity`` a Kubernetes quantity (number or string), normalised to its
            canonical string.
        description: shown in ``kubectl explain`` and in error fixes.
        default: filled in when the field is absent (a copy is made for containers).
        properties: the fields of an object; unknown keys are errors unless ``open``.
        pattern / max_length: constraints on a string (the pattern is searched, as
            OpenAPI does: anchor it); a mismatch's fix is the description.
        items: the schema of array items.
        values: the schema of map values (an object whose keys are user-chosen).
        open: pass through without checking (Kubernetes types such as tolerations).
        content: for an ``open`` field, the schema another pass checks its value against
            while the value is kept as written (the trainer's pod fields, which
            :mod:`.podspec` checks and normalises into the model, not into the raw spec);
            the CRD states it, so the API server refuses what that pass would.
        immutable: refuse changes after creation (a CEL transition rule in the CRD).
        rules: extra CEL rules for the CRD (:class:`Rule`); each has its Python-side
            equivalent in the spec model's semantic checks (same field, same fix), so
            the API server never refuses what ``tuningsweep validate`` accepts.
        one_of_required: groups of property names of which an object must hold exactly
            one group (an OpenAPI ``oneOf`` of ``required`` lists in the CRD), for rules
            CEL cannot state; the Python side checks them in the spec model too.
    """

    type: FieldType
    description: str = ""
    default: Any = _MISSING
    required: bool = False
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    min_items: int | None = None
    pattern: str | None = None
    max_length: int | None = None
    properties: Mapping[str, Field] = field(default_factory=dict)
    items: Field | None = None
    values: Field | None = None
    open: bool = False
    content: Field | None = None
    immutable: bool = False
    rules: tuple[Rule, ...] = ()
    one_of_required: tuple[tuple[str, ...], ...] = ()

    @property
    def has_default(self) -> bool:
        """Whether a default is filled in when the field is absent."""
        return self.default is not _MISSING


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, dt.date):
        return "date"
    return type(value).__name__


LineOf = Callable[[str], "int | None"]


@dataclass
class _Checker:
    line_of: LineOf
    errors: list[SpecError] = field(default_factory=list)

    def error(self, path: str, message: str, fix: str = "") -> None:
        self.errors.append(SpecError(path, message, fix, self.line_of(path)))

    def check(self, schema: Field, value: Any, path: str) -> Any:
        """Return ``value`` normalised (defaults filled, dates as ISO strings)."""
        if schema.open:
            return value
        kind = schema.type
        if kind == "object":
            return self._object(schema, value, path)
        if kind == "array":
            return self._array(schema, value, path)
        if kind == "date":
            return self._date(value, path)
        if kind == "quantity":
            try:
                return canonical_quantity(value)
            except QuantityError:
                self.error(path, f"{value!r} is not a Kubernetes quantity",
                           "write a number or a string such as 2, 500m or 16Gi")
                return value
        if kind == "any":
            if isinstance(value, (dict, list)) or value is None:
                self.error(path, f"must be a number or a string, got a {_type_name(value)}")
            return value
        return self._scalar(schema, value, path)

    def _scalar(self, schema: Field, value: Any, path: str) -> Any:
        kind = schema.type
        ok = (
            (kind == "string" and isinstance(value, str))
            or (kind == "boolean" and isinstance(value, bool))
            or (kind == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
        )
        if not ok:
            wanted = {"string": "a string", "boolean": "true or false",
                      "integer": "an integer", "number": "a number"}[kind]
            self.error(path, f"must be {wanted}, got {_type_name(value)} {value!r}")
            return value
        if schema.enum and value not in schema.enum:
            options = " | ".join(str(e) for e in schema.enum)
            close = difflib.get_close_matches(str(value), [str(e) for e in schema.enum], n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"use one of {options}"
            self.error(path, f"{value!r} is not one of {options}", fix)
        if schema.minimum is not None and isinstance(value, (int, float)) and value < schema.minimum:
            self.error(path, f"must be at least {schema.minimum:g}, got {value!r}")
        if isinstance(value, str) and (
                (schema.pattern and not re.search(schema.pattern, value))
                or (schema.max_length is not None and len(value) > schema.max_length)):
            self.error(path, f"{value!r} is not valid", schema.description)
        return value

    def _date(self, value: Any, path: str) -> Any:
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        self.error(path, f"{value!r} is not a date", "write it as YYYY-MM-DD, e.g. 2026-01-31")
        return value

    def _array(self, schema: Field, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            self.error(path, f"must be a list, got {_type_name(value)} {value!r}")
            return value
        if schema.min_items is not None and len(value) < schema.min_items:
            self.error(path, f"must have at least {schema.min_items} item(s), got {len(value)}",
                       "add a value or remove the field")
        if schema.items is None:
            return list(value)
        return [self.check(schema.items, item, f"{path}[{i}]") for i, item in enumerate(value)]

    def _object(self, schema: Field, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, got {_type_name(value)} {value!r}")
            return value
        out: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        if schema.values is not None:
            for key, item in value.items():
                out[str(key)] = self.check(schema.values, item, f"{prefix}{key}")
            return out
        for key, item in value.items():
            sub = schema.properties.get(str(key))
            if sub is None:
                known = list(schema.properties)
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                fix = (f"did you mean {close[0]!r}?" if close
                       else f"known fields: {', '.join(known)}")
                self.error(f"{prefix}{key}", "unknown field", fix)
                continue
            out[str(key)] = self.check(sub, item, f"{prefix}{key}")
        for key, sub in schema.properties.items():
            if key in out:
                continue
            if sub.required:
                self.error(f"{prefix}{key}", "is required", sub.description)
            elif sub.has_default:
                # Check the default too, so an object default gets its nested defaults.
                out[key] = self.check(sub, _copy(sub.default), f"{prefix}{key}")
        return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def validate(
    schema: Field, value: Any, path: str = "", line_of: LineOf | None = None
) -> tuple[Any, list[SpecError]]:
    """Check ``value`` against ``schema``; return it normalised and every error found."""
    checker = _Checker(line_of or (lambda _p: None))
    normalised = checker.check(schema, value, path)
    return normalised, checker.errors


def to_openapi(schema: Field) -> dict[str, Any]:
    """Return the structural OpenAPI v3 schema of ``schema`` for a CRD."""
    if schema.open and schema.content is not None:
        return to_openapi(dataclasses.replace(
            schema.content, description=schema.description or schema.content.description,
            default=schema.default, immutable=schema.immutable,
            rules=(*schema.content.rules, *schema.rules)))
    out: dict[str, Any] = {}
    if schema.open:
        out["x-kubernetes-preserve-unknown-fields"] = True
        if schema.type == "array":
            out["type"] = "array"
            out["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        elif schema.type == "object":
            out["type"] = "object"
    elif schema.type == "date":
        out.update(type="string", format="date")
    elif schema.type in ("any", "quantity"):
        # Parameter values may be numbers or strings; a structural schema needs a type or
        # this marker, and int-or-string would reject floats.
        out["x-kubernetes-preserve-unknown-fields"] = True
    else:
        out["type"] = schema.type
    if schema.description:
        out["description"] = schema.description
    if schema.has_default:
        out["default"] = _copy(schema.default)
    if schema.enum:
        out["enum"] = list(schema.enum)
    if schema.minimum is not None:
        out["minimum"] = schema.minimum
    if schema.min_items is not None:
        out["minItems"] = schema.min_items
    if schema.pattern:
        out["pattern"] = schema.pattern
    if schema.max_length is not None:
        out["maxLength"] = schema.max_length
    elif schema.enum and all(isinstance(e, str) for e in schema.enum):
        # Implied by the enum, so no stricter; stating it lets the API server estimate a
        # CEL rule comparing the string as cheap (it assumes unbounded strings are huge).
        out["maxLength"] = max(len(e) for e in schema.enum)
    if not schema.open:
        if schema.properties:
            out["properties"] = {k: to_openapi(v) for k, v in schema.properties.items()}
            required = [k for k, v in schema.properties.items() if v.required]
            if required:
                out["required"] = required
        if schema.items is not None:
            out["items"] = to_openapi(schema.items)
        if schema.values is not None:
            out["additionalProperties"] = to_openapi(schema.values)
    if schema.one_of_required:
        out["oneOf"] = [{"required": list(group)} for group in schema.one_of_required]
    rules = [rule_openapi(r) for r in schema.rules]
    if schema.immutable:
        rules.append({"rule": "self == oldSelf", "message": "is immutable once the sweep exists; "
                      "create a new sweep instead"})
    if rules:
        out["x-kubernetes-validations"] = rules
    return out


def rule_openapi(rule: Rule) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry."""
    out = {"rule": rule.rule, "message": rule.message}
    if rule.field_path:
        out["fieldPath"] = rule.field_path
    return out
