"""Deterministic, DNS-1123-valid names for configurations, trials and Jobs.

Names are a pure function of the sweep name and trial id, so creating a trial's Job twice
is a no-op (the second create answers 409) and a restarted operator finds the Jobs it
made. Long sweep names are shortened with a hash suffix so two long names that share a
prefix still get distinct Job names within Kubernetes' 63-character limit.
"""

from __future__ import annotations

import hashlib

MAX_NAME = 63


def config_id(index: int) -> str:
    """``c0007``: four digits, more when a sweep has over 10,000 configurations."""
    return f"c{index:04d}"


def trial_id(config: str, window: str) -> str:
    """``c0007-w1``: one configuration on one window."""
    return f"{config}-{window}"


def window_of(trial: str) -> str:
    """The window id of a trial id (``c0007-w1`` -> ``w1``; window ids hold no ``-``)."""
    return trial.rpartition("-")[2]


def job_name(sweep: str, trial: str) -> str:
    """The Job name of a trial: ``<sweep>-<trial>``, shortened to 63 characters if needed."""
    name = f"{sweep}-{trial}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(sweep.encode()).hexdigest()[:6]
    keep = MAX_NAME - len(trial) - len(digest) - 2
    prefix = sweep[:keep].rstrip("-")
    return f"{prefix}-{digest}-{trial}"
