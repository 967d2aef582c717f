"""Reading the news archive: event files in `news/YYYY/MM/D/<slug>.md`."""

from corpus.archive import EventFile, archive_root, find_event_files
from corpus.dates import (
    DATE_FORMS,
    DateError,
    DateReading,
    human_date,
    human_month_day,
    long_date,
    parse_date,
    read_date,
)
from corpus.event import Event, ParseError, Related, Source, date_from_path, parse_bytes, parse_event, read_event

__all__ = [
    "DATE_FORMS",
    "DateError",
    "DateReading",
    "Event",
    "EventFile",
    "ParseError",
    "Related",
    "Source",
    "archive_root",
    "date_from_path",
    "find_event_files",
    "human_date",
    "human_month_day",
    "long_date",
    "parse_bytes",
    "parse_date",
    "parse_event",
    "read_date",
    "read_event",
]
