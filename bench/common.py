"""Shared helpers for the benchmarks: where figures go and how they are printed."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def machine() -> dict[str, Any]:
    """The machine a figure was measured on (figures are only comparable on the same one)."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}


def write(name: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` (plus the machine) to ``bench/out/<name>.json`` and print them."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **figures}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    return path


def ratio(figures: list[dict[str, Any]], key: str) -> float:
    """``key`` of the largest size over that of the smallest (the scaling figure)."""
    return round(figures[-1][key] / figures[0][key], 3)
