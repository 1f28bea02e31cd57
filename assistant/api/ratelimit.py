"""Rate limits for the widget endpoints, on the maintained ``limits`` library.

One :class:`RateLimiter` per app; counters live in ``ASSISTANT_RATE_LIMIT_STORAGE``
(``memory://`` for one process, ``redis://…`` so several replicas share them). A moving window
means a burst cannot double up at a window edge. An exhausted limit raises a 429 whose
``Retry-After`` says how many seconds until the oldest counted request leaves the window.
"""

from __future__ import annotations

import math
import time

from fastapi import HTTPException
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


def parse_limits(value: str, setting: str) -> list[RateLimitItem]:
    """``"10/minute;100/hour"`` as limit items (empty: none), or a ValueError naming the setting."""
    if not value.strip():
        return []
    try:
        return parse_many(value)
    except ValueError as exc:
        raise ValueError(
            f"{setting}: {value!r} is not a rate limit (write e.g. '10/minute' or '10/minute;100/hour')"
        ) from exc


class RateLimiter:
    """Named groups of limits, each counted per key (a session, a client IP)."""

    def __init__(self, storage_uri: str, groups: dict[str, list[RateLimitItem]]) -> None:
        self.storage = storage_from_string(storage_uri)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.groups = groups

    def check(self, group: str, key: str, what: str) -> None:
        """Count one request of ``key`` against ``group``; 429 with ``Retry-After`` when over."""
        for item in self.groups.get(group, []):
            if not self.strategy.hit(item, group, key):
                reset_at, _ = self.strategy.get_window_stats(item, group, key)
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise HTTPException(
                    429,
                    f"too many {what} (limit {item}); try again in {retry_after} seconds",
                    headers={"Retry-After": str(retry_after)},
                )
