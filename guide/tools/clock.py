"""The guide's one clock: "today" comes from GUIDE_TODAY when it is set, so tests and evals never depend on the
calendar."""

from __future__ import annotations

import datetime as dt


def today(fixed: str | dt.date | None = None) -> dt.date:
    """`fixed` (an ISO date or a date) if given, else the real date today."""
    if isinstance(fixed, dt.date):
        return fixed
    if fixed:
        return dt.date.fromisoformat(fixed)
    return dt.date.today()
