"""The client-side token bucket that limits the operator's API writes."""

from __future__ import annotations

import asyncio
import time

import pytest

from tuningsweep.controller.ratelimit import TokenBucket


def test_burst_then_rate() -> None:
    async def run() -> tuple[float, float]:
        bucket = TokenBucket(rate=50.0, burst=10)
        started = time.monotonic()
        for _ in range(10):
            await bucket.acquire()
        burst = time.monotonic() - started
        for _ in range(25):
            await bucket.acquire()
        return burst, time.monotonic() - started

    burst, total = asyncio.run(run())
    assert burst < 0.05  # the burst goes through at once
    assert total >= 25 / 50 * 0.9  # then 50 per second


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
