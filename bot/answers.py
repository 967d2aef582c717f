"""What command handlers return: plain data, rendered later as Discord embeds or terminal text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corpus import Event, human_date

if TYPE_CHECKING:
    from store import IndexRun
    from store.follows import Follow
    from store.guilds import DailyPost, GuildSettings

PAGE_SIZE = 5


@dataclass(frozen=True)
class EventList:
    """A paged list of events: search results, a day, a topic timeline.

    `ids` is every event of the list, in order, by store id; `loaded` holds those fetched
    so far. A handler fetches the first page, `handlers.load_page` the others when someone
    pages, so a long list costs only what is shown; any of them can be let go and fetched
    again.
    """

    title: str
    ids: list[int]
    loaded: dict[int, Event]
    scores: list[float] | None = None  # for search results
    note: str | None = None  # shown above the list, e.g. why it is empty
    chart: TrendAnswer | None = None  # drawn above the list (a topic's events per month)
    highlight: frozenset[str] = frozenset()  # the archive words a search matched, shown in bold in headlines
    query: str | None = None  # the words searched for, as typed
    showing: str | None = None  # the query as searched, when a word of it was read as another archive word
    exact: bool = False  # a search of the words as typed, without spelling tolerance or other forms
    topic: str | None = None  # a search within one topic (its name)
    dates: tuple[dt.date | None, dt.date | None] = (None, None)  # a search's from and to, as read

    @classmethod
    def of(cls, title: str, events: Mapping[int, Event], note: str | None = None) -> EventList:
        """A list whose events are all at hand (by store id, in order)."""
        return cls(title, list(events), dict(events), note=note)

    @property
    def total(self) -> int:
        return len(self.ids)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def page_ids(self, number: int) -> list[int]:
        return self.ids[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]

    def page(self, number: int) -> list[Event]:
        """The events of one page (fetched by `handlers.load_page`)."""
        return [self.loaded[i] for i in self.page_ids(number) if i in self.loaded]

    @property
    def events(self) -> list[Event]:
        """Every event fetched so far, in order: all of them after `handlers.load_all`."""
        return [self.loaded[i] for i in self.ids if i in self.loaded]


@dataclass(frozen=True)
class EventDetail:
    """One event in full; `in_archive` holds the related paths that can be opened."""

    event: Event
    in_archive: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Refusal:
    """Bad input or nothing to show: a short message that says what to do instead."""

    message: str
    empty: bool = False  # the input was fine and nothing matched it (False: the input itself is wrong)


@dataclass(frozen=True)
class AskAnswer:
    """An answer to a plain question: one sentence (None when the archive does not have it)
    and the events behind it, best first (the closest ones when there is no answer)."""

    question: str
    answer: str | None
    date: dt.date | None
    evidence: dict[int, Event]  # by store id, best first
    confidence: float
    hint: str | None = None
    reason: str | None = None  # why the archive does not answer it, in one sentence
    recorded: str | None = None  # what the archive holds instead, labelled ("On 4 April 2018 the archive records: ...")

    NOT_FOUND = "I could not find that in the archive."

    @property
    def events(self) -> list[Event]:
        return list(self.evidence.values())

    def listing(self) -> EventList:
        """The evidence as a list of events, marked as only the closest when there is no answer."""
        if self.answer:
            return EventList.of(f"Q: {self.question}", self.evidence, note=f"A: {self.answer}")
        note = " ".join(part for part in (self.NOT_FOUND, self.reason, self.recorded, self.hint) if part)
        if self.evidence:
            note += " The closest events, which do not answer it:"
        return EventList.of(f"Q: {self.question}", self.evidence, note=note)


@dataclass(frozen=True)
class Usage:
    """One command as /help shows it: how it is typed, what it does, an example."""

    command: str  # "/events <words> [from] [to]": <needed>, [optional]
    does: str
    example: str | None = None
    console: bool = False  # `python -m bot console` has it too


@dataclass(frozen=True)
class Help:
    """What /help shows: how much the archive holds, and the commands by section."""

    events: int
    first_day: dt.date | None
    last_day: dt.date | None
    sections: tuple[tuple[str, tuple[Usage, ...]], ...]

    @property
    def holdings(self) -> str:
        if not self.events or not self.first_day or not self.last_day:
            return "The archive is empty: a moderator can load it with /reindex."
        span = f"{human_date(self.first_day)} to {human_date(self.last_day)}"
        return f"The archive holds {self.events:,} event{'s' if self.events != 1 else ''}, {span}."


@dataclass(frozen=True)
class TrendSeries:
    """One search's number of matching events in each period of a trend."""

    query: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def peak(self) -> int | None:
        """The period with the most events (the earliest of equals), None when it has none."""
        if not self.total:
            return None
        return max(range(len(self.counts)), key=lambda n: (self.counts[n], -n))


@dataclass(frozen=True)
class TrendAnswer:
    """How many events match each search per day, month or year, from `since` to `until`.

    `starts` holds each period's first day (the first period starts at `since`). Frozen and
    made of tuples, so an answer is its own cache key for the picture drawn from it.
    """

    title: str
    step: str  # "day", "month" or "year"
    starts: tuple[dt.date, ...]
    series: tuple[TrendSeries, ...]
    since: dt.date
    until: dt.date
    note: str | None = None
    searchable: bool = True  # each series is an /events search (a topic's chart is not)
    small: bool = False  # a short chart, drawn above a list

    def period(self, number: int) -> str:
        """The period as JSON gives it: 2022, 2022-02 or 2022-02-24."""
        start = self.starts[number]
        return {"year": f"{start:%Y}", "month": f"{start:%Y-%m}"}.get(self.step, start.isoformat())

    def period_name(self, number: int) -> str:
        """The period for people: 2022, February 2022 or 24 February 2022."""
        start = self.starts[number]
        return {"year": f"{start.year}", "month": f"{start:%B} {start.year}"}.get(self.step, human_date(start))

    def bounds(self, number: int) -> tuple[dt.date, dt.date]:
        """The first and last day of a period, within `since` and `until`."""
        first = max(self.starts[number], self.since)
        last = self.starts[number + 1] - dt.timedelta(days=1) if number + 1 < len(self.starts) else self.until
        return first, min(last, self.until)

    def open_command(self, series: TrendSeries, number: int) -> str:
        """The /events command that lists the events of one period of a series."""
        first, last = self.bounds(number)
        return f"/events {series.query} from:{first.isoformat()} to:{last.isoformat()}"

    def peak_words(self, series: TrendSeries) -> str:
        """ "most in March 2022, 1,234 events of 5,678", or "no events match"."""
        peak = series.peak
        if peak is None:
            return "no events match"
        count = series.counts[peak]
        at = "on" if self.step == "day" else "in"
        return f"most {at} {self.period_name(peak)}, {count:,} event{'s' if count != 1 else ''} of {series.total:,}"

    def peak_line(self, series: TrendSeries) -> str:
        """ "ukraine: most in March 2022, 1,234 events of 5,678 (`/events ...`)", or that it has none."""
        line = f"{series.query}: {self.peak_words(series)}"
        if series.peak is None:
            return line + "."
        return f"{line} (`{self.open_command(series, series.peak)}`)" if self.searchable else line


Answer = EventList | EventDetail | Refusal | AskAnswer | Help | TrendAnswer


# Server settings, status and re-indexing: plain data, rendered by the cogs that send them.


@dataclass(frozen=True)
class Notice:
    """A short message: a setting saved, or a daily post on a day with nothing to show."""

    message: str


@dataclass(frozen=True)
class ServerSettings:
    """What /settings show reports: the settings, the next and last daily post, the last index run."""

    settings: GuildSettings
    next_post: dt.datetime | None  # UTC
    last_post: DailyPost | None
    last_run: IndexRun | None


@dataclass(frozen=True)
class IndexProgress:
    """A running index: who asked, since when, files read of those to read (None until counted)."""

    requested_by: str
    started: dt.datetime
    done: int = 0
    total: int | None = None


@dataclass(frozen=True)
class Status:
    """What /status reports."""

    events: int
    first_day: dt.date | None
    last_day: dt.date | None
    last_run: IndexRun | None
    uptime: dt.timedelta
    version: str
    indexing: IndexProgress | None = None


# Follows: new events on a search or a topic, posted to a channel after index runs.


@dataclass(frozen=True)
class FollowAdded:
    """A follow just made, and the events of the archive's last days it would have posted."""

    follow: Follow
    rule: str  # what it matches, in words
    preview: EventList  # empty when nothing in those days matches
    since: dt.date | None  # the days the preview covers (None: the archive is empty)
    until: dt.date | None


@dataclass(frozen=True)
class FollowList:
    """A server's follows, and how many it may have."""

    follows: list[Follow]
    limit: int


@dataclass(frozen=True)
class FollowPost:
    """What one follow posts after an index run: its new matching events in date order, the
    first ones loaded; `more` lists the rest (past the cap of one post)."""

    follow_id: int
    rule: str
    events: EventList
    matched: int
    more: str | None
