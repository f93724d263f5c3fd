"""Kubernetes resource quantities (``1``, ``500m``, ``16Gi``, ``1e3``), read and written back
the way the API server writes them.

A manifest may give a quantity as a YAML integer (``nvidia.com/gpu: 1``), a float
(``cpu: 0.5``) or a string (``memory: 16Gi``). The API server accepts all three in a Pod,
but the kubernetes Python client types quantities as strings and refuses the numbers
before sending anything, so the Job builder must pass strings. We write the API server's
canonical form (``0.5`` -> ``500m``, ``1.5Gi`` -> ``1536Mi``, ``1000`` -> ``1k``) so a
rendered Job reads exactly like the one ``kubectl get -o yaml`` shows.

The rules follow ``k8s.io/apimachinery/pkg/api/resource``: the suffix kind of the input
(binary ``Ki``..``Ei``, decimal ``n``..``E``, or an ``e`` exponent) is kept; precision
below ``1n`` is rounded up; decimal forms use the largest exponent that is a multiple of
three and keeps the mantissa whole; binary forms fall back to decimal below 1024 or when
the value is not a whole number.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Literal

_PATTERN = re.compile(
    r"^([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
            "E": 18}
_DECIMAL_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
_NANO = 10**9

Format = Literal["binary", "decimal", "exponent"]


class QuantityError(ValueError):
    """The value is not a Kubernetes quantity."""


def canonical_quantity(value: object) -> str:
    """Return ``value`` (an int, a float or a quantity string) in canonical form.

    Raises:
        QuantityError: for anything else (booleans, mappings, ``16 GB``, ``inf``).
    """
    nanos, fmt = _parse(value)
    if nanos == 0:
        return "0"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if fmt == "binary" and nanos >= 1024 * _NANO and nanos % _NANO == 0:
        whole, power = nanos // _NANO, 0
        while whole % 1024 == 0 and power < 60:
            whole, power = whole // 1024, power + 10
        suffix = next((s for s, p in _BINARY.items() if p == power), "")
        return f"{sign}{whole}{suffix}"
    mantissa, exponent = nanos, -9
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    shift = exponent % 3  # Python's modulo is never negative: shift down to a multiple of 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt == "exponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    if exponent in _DECIMAL_SUFFIX:
        return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    # Beyond exa (no SI suffix left), as the API server does: an exponent.
    return f"{sign}{mantissa}e{exponent}"


def quantity_value(value: object) -> float:
    """The quantity as a number (``500m`` -> 0.5, ``1Ki`` -> 1024.0)."""
    nanos, _ = _parse(value)
    return nanos / _NANO


def _parse(value: object) -> tuple[int, Format]:
    """The quantity in nano units (rounded up, as the API server does) and its format."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return value * _NANO, "decimal"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a quantity")
        text = repr(value)
        return _nanos(Decimal(text)), "exponent" if "e" in text else "decimal"
    match = _PATTERN.match(value)
    if match is None:
        raise QuantityError(f"{value!r} is not a quantity")
    sign, digits, suffix = match[1], match[2], match[3] or ""
    number = Decimal(digits) * (-1 if sign == "-" else 1)
    if suffix in _BINARY:
        return _nanos(number * 2 ** _BINARY[suffix]), "binary"
    if len(suffix) > 1 and suffix[0] in "eE":  # "E" alone is exa
        return _nanos(number.scaleb(int(suffix[1:]))), "exponent"
    return _nanos(number.scaleb(_DECIMAL[suffix])), "decimal"


def _nanos(number: Decimal) -> int:
    scaled = number.scaleb(9)
    whole = int(scaled)
    if scaled != whole:  # below 1n: rounded up, away from zero
        whole += 1 if scaled > 0 else -1
    return whole
