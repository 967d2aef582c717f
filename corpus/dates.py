"""Reading the dates people type: `2016-04-03`, `2016-04-3`, `3 April 2016`, `April 3, 2016`."""

from __future__ import annotations

import datetime as dt
import re

# Each month's spellings, the full name first.
MONTH_SPELLINGS = (
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may",),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sep", "sept"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
)
MONTHS = {name: number for number, names in enumerate(MONTH_SPELLINGS, start=1) for name in names}
MONTH_NAMES = tuple(names[0].capitalize() for names in MONTH_SPELLINGS)
MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
DATE_FORMS = "2016-04-03, 2016-04-3, 3 April 2016 or April 3, 2016"

ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
DAY_MONTH_YEAR = re.compile(rf"^(\d{{1,2}})(?:st|nd|rd|th)?\s+{MONTH}\s*,?\s+(\d{{4}})$", re.I)
MONTH_DAY_YEAR = re.compile(rf"^{MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(\d{{4}})$", re.I)


class DateError(ValueError):
    """A date that cannot be read; the message says which forms work."""


def parse_date(text: str) -> dt.date:
    cleaned = " ".join(text.strip().split())
    year = month = day = None
    if match := ISO.match(cleaned):
        year, month, day = (int(part) for part in match.groups())
    elif match := DAY_MONTH_YEAR.match(cleaned):
        day, month, year = int(match[1]), MONTHS[match[2].lower()], int(match[3])
    elif match := MONTH_DAY_YEAR.match(cleaned):
        month, day, year = MONTHS[match[1].lower()], int(match[2]), int(match[3])
    else:
        raise DateError(f"'{text.strip()}' is not a date I can read. Try {DATE_FORMS}.")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(
            f"'{text.strip()}' is not a real day (check the month and day). Dates look like {DATE_FORMS}."
        ) from None


def human_date(day: dt.date) -> str:
    """`3 April 2016`, the way answers write a day: in English whatever the machine's locale."""
    return f"{human_month_day(day.month, day.day)} {day.year}"


def human_month_day(month: int, day: int) -> str:
    """`3 April`."""
    return f"{day} {MONTH_NAMES[month - 1]}"


def archive_date(day: dt.date) -> str:
    """The archive's own spelling: day without zero padding, e.g. `2016-04-3`."""
    return f"{day.year:04d}-{day.month:02d}-{day.day}"
