"""Per-client message limits shared by the web page and the JSON API."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class RateLimiter:
    """A sliding one-minute window per client. Thread-safe: the Gradio queue and the API threads share one."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        if per_minute < 0:
            raise ValueError(f"rate limit must be 0 (off) or a positive number of messages, got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> int:
        """Count one message from `client`; 0 when allowed, else the whole seconds to wait before trying again."""
        if not self.per_minute:
            return 0
        now = self._clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients so the table stays small
                self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < WINDOW_SECONDS}
            hits = self._hits.setdefault(client, deque())
            while hits and now - hits[0] >= WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, math.ceil(WINDOW_SECONDS - (now - hits[0])))
            hits.append(now)
            return 0

    def message(self, wait: int) -> str:
        # Several people can share one address (a family, a school, a library): say what happened, blame no one.
        return (f"The guide is busy with a lot of questions from your connection just now. Please wait {wait} "
                "seconds and send your question again; it is still in the box.")


def too_long_message(length: int, limit: int) -> str | None:
    """The message shown when a question is over the length cap, else None."""
    if length <= limit:
        return None
    return (f"Your message is {length:,} characters long; the limit is {limit:,}. Please shorten it to the question "
            "you want answered (you don't need to paste whole letters).")
