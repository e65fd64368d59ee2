"""When to send a request again, and how long to wait first."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

# Harbor or a proxy in front of it is busy or restarting: worth another try.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# For requests that create something, only answers that say "not done" are safe to repeat:
# a 502/504 may come after Harbor already acted.
RETRY_STATUSES_UNSAFE = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff; a server's Retry-After wins, up to `max_retry_after`."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based) when the server gave no hint."""
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def delay(self, attempt: int, retry_after: str | None) -> float | None:
        """Seconds to wait before retry `attempt`, or None when retrying is pointless."""
        if attempt >= self.attempts:
            return None
        asked = parse_retry_after(retry_after, time.time())
        if asked is None:
            return self.backoff(attempt)
        return asked if asked <= self.max_retry_after else None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def may_retry_status(method: str, status: int) -> bool:
    """Whether an answer with this status is worth repeating the request for."""
    allowed = RETRY_STATUSES if method in IDEMPOTENT_METHODS else RETRY_STATUSES_UNSAFE
    return status in allowed
