"""Reading the dates people type, and writing days the way answers show them.

Full dates (`2016-04-03`, `3 April 2016`, `April 3, 2016`, `3rd of April 2016`, `Sunday 3 April 2016`),
numeric ones (`3/4/2016`, `3.4.2016`: day first when both numbers could be the month, with the other
reading kept so an answer can offer it) and days relative to today (`today`, `yesterday`, `3 days ago`,
`last Friday`, `Friday`). The rules are our own rather than a general parser's (dateparser): they
cover what people type in chat, say when a form is ambiguous, and refuse the rest with the forms
that work; a general parser picks one reading silently and accepts text that is not a day at all.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

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
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS = {
    **{spelling: number for number, name in enumerate(WEEKDAY_NAMES) for spelling in (name.lower(), name.lower()[:3])},
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
WEEKDAY = "(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\.?"
DATE_FORMS = "2016-04-03, 3 April 2016, April 3, 2016, 3/4/2016 (day first), yesterday or last Friday"

ORDINAL = r"(?:st|nd|rd|th)?"
ON_WEEKDAY = rf"(?:{WEEKDAY}\s*,?\s+)?"  # "Sunday 3 April 2016": checked against the date
ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
NUMERIC = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$")
DAY_MONTH_YEAR = re.compile(
    rf"^{ON_WEEKDAY}(?:the\s+)?(\d{{1,2}}){ORDINAL}\s+(?:of\s+)?{MONTH}\s*,?\s+(\d{{4}})$", re.I
)
MONTH_DAY_YEAR = re.compile(rf"^{ON_WEEKDAY}{MONTH}\s+(?:the\s+)?(\d{{1,2}}){ORDINAL}\s*,?\s+(\d{{4}})$", re.I)
DAYS_AGO = re.compile(r"^(\d{1,5}|an?|one|two|three|four|five|six|seven)\s+(days?|weeks?)\s+ago$", re.I)
LAST_WEEKDAY = re.compile(rf"^(?:(last|this|on)\s+)?{WEEKDAY}$", re.I)
RELATIVE_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1, "the day before yesterday": -2}
COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


class DateError(ValueError):
    """A date that cannot be read; the message says which forms work."""


@dataclass(frozen=True)
class DateReading:
    """The day understood from what was typed, and how it was read."""

    day: dt.date
    other: dt.date | None = None  # the other reading of an ambiguous form such as 3/4/2016 (then 4 March)
    relative: bool = False  # read against today: yesterday, last Friday, 3 days ago

    @property
    def ambiguous(self) -> bool:
        return self.other is not None


def read_date(text: str, today: dt.date | None = None) -> DateReading:
    """The day `text` names; relative forms count from `today` (default: this machine's today)."""
    cleaned = " ".join(text.strip().split())
    lowered = cleaned.lower()
    shown = text.strip()
    if match := ISO.match(cleaned):
        return DateReading(_day(shown, int(match[1]), int(match[2]), int(match[3])))
    if match := NUMERIC.match(cleaned):
        first, second, year = int(match[1]), int(match[3]), int(match[4])
        if first > 12 or second > 12 or first == second:  # one reading only
            day, month = (second, first) if second > 12 else (first, second)
            return DateReading(_day(shown, year, month, day))
        return DateReading(_day(shown, year, second, first), other=_day(shown, year, first, second))
    if match := DAY_MONTH_YEAR.match(cleaned):
        return DateReading(_named(shown, match[1], int(match[4]), MONTHS[match[3].lower()], int(match[2])))
    if match := MONTH_DAY_YEAR.match(cleaned):
        return DateReading(_named(shown, match[1], int(match[4]), MONTHS[match[2].lower()], int(match[3])))
    today = today or dt.date.today()
    if lowered in RELATIVE_DAYS:
        return DateReading(today + dt.timedelta(days=RELATIVE_DAYS[lowered]), relative=True)
    if match := DAYS_AGO.match(cleaned):
        count = int(match[1]) if match[1].isdigit() else COUNTS[match[1].lower()]
        days = count * (7 if match[2].lower().startswith("week") else 1)
        return DateReading(today - dt.timedelta(days=days), relative=True)  # at most 99,999 weeks: year 110
    if match := LAST_WEEKDAY.match(cleaned):
        back = (today.weekday() - WEEKDAYS[match[2].lower()]) % 7
        if match[1] and match[1].lower() == "last" and back == 0:
            back = 7  # "last Friday" on a Friday is a week ago; "Friday" is today
        return DateReading(today - dt.timedelta(days=back), relative=True)
    raise DateError(f"'{shown}' is not a date I can read. Try {DATE_FORMS}.")


def parse_date(text: str, today: dt.date | None = None) -> dt.date:
    """The day `text` names (the first reading of an ambiguous one); see `read_date`."""
    return read_date(text, today).day


def _day(shown: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(
            f"'{shown}' is not a real day (check the month and day). Dates look like {DATE_FORMS}."
        ) from None


def _named(shown: str, weekday: str | None, year: int, month: int, day: int) -> dt.date:
    """A date written with its month's name, and the weekday it was given with, if any."""
    date = _day(shown, year, month, day)
    if weekday and WEEKDAYS[weekday.lower()] != date.weekday():
        raise DateError(f"'{shown}': {human_date(date)} was a {WEEKDAY_NAMES[date.weekday()]}. Which day did you mean?")
    return date


def human_date(day: dt.date) -> str:
    """`3 April 2016`, the way answers write a day: in English whatever the machine's locale."""
    return f"{human_month_day(day.month, day.day)} {day.year}"


def long_date(day: dt.date) -> str:
    """`Sunday 3 April 2016`: a day with its weekday, for saying which day was understood."""
    return f"{WEEKDAY_NAMES[day.weekday()]} {human_date(day)}"


def human_month_day(month: int, day: int) -> str:
    """`3 April`."""
    return f"{day} {MONTH_NAMES[month - 1]}"


def archive_date(day: dt.date) -> str:
    """The archive's own spelling: day without zero padding, e.g. `2016-04-3`."""
    return f"{day.year:04d}-{day.month:02d}-{day.day}"
