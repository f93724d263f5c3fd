"""A token bucket for API writes: kopf has no client-side rate limit of its own.

A sweep of thousands of trials must not flood the API server when it starts or when many
Jobs finish at once. Writes wait for a token (``rate`` per second, up to ``burst``
saved); reads are not limited, since the reconciler reads once per tick.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """An asyncio token bucket; ``await acquire()`` before each write."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait until a token is available and take it."""
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1
