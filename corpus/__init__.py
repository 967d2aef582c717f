"""Reading the news archive: event files in `news/YYYY/MM/D/<slug>.md`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from corpus.archive import EventFile, archive_root, find_event_files

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

ARCHIVE = {"EventFile", "archive_root", "find_event_files"}


def __getattr__(name: str) -> Any:
    """Scanning the archive's folders, imported when first asked for: the bot's answers never
    need it (nor the process pool it brings), and a new process starts sooner."""
    if name in ARCHIVE:
        import corpus.archive

        value = globals()[name] = getattr(corpus.archive, name)
        return value
    raise AttributeError(f"module 'corpus' has no attribute {name!r}")
