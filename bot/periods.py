"""Periods of a trend: which step (day, month or year) a date range is counted in, and the counts per period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

YEARS_OVER = 3653  # days: a range longer than ten years is counted per year
DAYS_UNDER = 92  # days: a range shorter than three months is counted per day


def choose_step(since: dt.date, until: dt.date) -> str:
    """ "year" for ranges over ten years, "day" for ranges under three months, else "month"."""
    days = (until - since).days + 1
    if days > YEARS_OVER:
        return "year"
    return "day" if days < DAYS_UNDER else "month"


def period_starts(since: dt.date, until: dt.date, step: str) -> list[dt.date]:
    """The first day of every period from `since` to `until`; the first period starts at `since`."""
    if step == "day":
        return [since + dt.timedelta(days=n) for n in range((until - since).days + 1)]
    if step == "year":
        return [since, *(dt.date(year, 1, 1) for year in range(since.year + 1, until.year + 1))]
    months = (until.year - since.year) * 12 + until.month - since.month
    starts = [since]
    for n in range(1, months + 1):
        year, month = divmod(since.month - 1 + n, 12)
        starts.append(dt.date(since.year + year, month + 1, 1))
    return starts


def period_key(days: np.ndarray | int, step: str) -> np.ndarray | int:
    """YYYYMMDD day numbers as the period they fall in: YYYYMMDD, YYYYMM or YYYY."""
    return {"day": days, "month": days // 100, "year": days // 10000}[step]


def count_per_period(days: np.ndarray, starts: Sequence[dt.date], step: str) -> tuple[int, ...]:
    """How many of these days (YYYYMMDD, all within the periods) fall in each period."""
    keys = np.array([period_key(start.year * 10000 + start.month * 100 + start.day, step) for start in starts])
    slots = np.searchsorted(keys, period_key(np.asarray(days, dtype=np.int64), step))
    return tuple(int(count) for count in np.bincount(slots, minlength=len(keys))[: len(keys)])
