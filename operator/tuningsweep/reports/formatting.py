"""Number formatting shared by the text, table and HTML renderers."""

from __future__ import annotations

import math

from tuningsweep.core.records.results import ParamValue
from tuningsweep.core.stats.trends import Trends

#: Shown for a number that does not exist (an en dash).
MISSING = "\u2013"


def fmt_value(value: float | None, digits: int = 5) -> str:
    """An objective value with ``digits`` significant digits; an en dash when missing."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:.{digits}g}"


def fmt_signed(value: float | None, digits: int = 3) -> str:
    """A difference with an explicit sign (``+0.0012``)."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:+.{digits}g}"


def fmt_p(p: float | None) -> str:
    """A p-value: two significant digits, ``<0.0001`` for tiny ones."""
    if p is None:
        return MISSING
    if p < 1e-4:
        return "<0.0001"
    text = f"{p:.2g}"
    return text if "." in text or "e" in text else text + ".0"


def fmt_rank(rank: float | None) -> str:
    """A rank: ``3`` or ``2.5`` for an average rank of tied values."""
    if rank is None:
        return MISSING
    return str(int(rank)) if float(rank).is_integer() else f"{rank:g}"


def fmt_param(value: ParamValue | None) -> str:
    """A parameter value as a user wrote it (``0.001``, ``128``, ``adam``)."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fmt_share(share: float) -> str:
    """A share in [0, 1] as a percentage."""
    return f"{100.0 * share:.0f}%"


def basis_text(trends: Trends) -> str:
    """Which configurations the trends are over, in words (after their count)."""
    if trends.basis == "complete":
        return "complete configurations"
    if trends.basis == "adjusted":
        return ("configurations (means adjusted for the windows each ran, so those racing "
                "eliminated or with a failed trial count on the windows they ran)")
    return "configurations (plain means: their windows share no configuration)"
