"""Command handlers: one function per command, shared by Discord, the console and the CLI."""

from __future__ import annotations

import datetime as dt

from bot.answers import AskAnswer, EventDetail, EventList, Refusal
from bot.ask import answer_question
from corpus import DATE_FORMS, DateError, parse_date
from store import Store
from store.tokens import tokenize, variant_key

MAX_QUERY_LENGTH = 200
MAX_RESULTS = 50
MAX_TIMELINE = 100


def human_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def parse_bound(text: str | None, end: bool = False) -> dt.date | None:
    """A `from`/`to` filter: a date, or a bare year (its first or last day)."""
    if not text or not text.strip():
        return None
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) == 4:
        if int(text) < dt.MINYEAR:
            raise DateError(f"'{text}' is not a year the archive can hold.")
        return dt.date(int(text), 12, 31) if end else dt.date(int(text), 1, 1)
    return parse_date(text)


async def search_events(
    store: Store,
    query: str,
    since: str | None = None,
    until: str | None = None,
    limit: int = MAX_RESULTS,
) -> EventList | Refusal:
    query = " ".join(query.split())
    if not query:
        return Refusal("Type some words to search for, e.g. `/events al-qaryatain`.")
    if len(query) > MAX_QUERY_LENGTH:
        return Refusal(f"That search is {len(query)} characters long; keep it under {MAX_QUERY_LENGTH}.")
    try:
        low, high = parse_bound(since), parse_bound(until, end=True)
    except DateError as error:
        return Refusal(f"{error} A year such as 2016 works too.")
    if low and high and low > high:
        return Refusal(f"The range is empty: {human_date(low)} is after {human_date(high)}.")
    found = await store.search(query, limit, low, high)
    window = _window(low, high)
    if not found:
        return Refusal(f"No events match “{query}”{window}. Try fewer or other words, or a wider date range.")
    return EventList(
        f"Events matching “{query}”{window}",
        [f.event for f in found],
        scores=[f.score for f in found],
    )


def _window(low: dt.date | None, high: dt.date | None) -> str:
    if low and high:
        return f" from {human_date(low)} to {human_date(high)}"
    if low:
        return f" since {human_date(low)}"
    if high:
        return f" until {human_date(high)}"
    return ""


async def day_events(store: Store, date_text: str) -> EventList | Refusal:
    try:
        day = parse_date(date_text)
    except DateError as error:
        return Refusal(str(error))
    events = await store.events_on(day)
    if events:
        return EventList(f"Events on {human_date(day)}", events)
    before, after = await store.nearest_days(day)
    nearest = " and ".join(
        f"{label} {human_date(d)} (`/on {d.isoformat()}`)" for label, d in (("before:", before), ("after:", after)) if d
    )
    if not nearest:
        return Refusal(f"No events on {human_date(day)}, and the archive is empty: ask a moderator to index it.")
    return Refusal(f"No events on {human_date(day)}. Nearest days with events, {nearest}.")


async def show_event(store: Store, path: str) -> EventDetail | Refusal:
    event = await store.event(path)
    if event is None:
        return Refusal(
            f"No event at `{path.strip()[:150]}`. Find one with `/events` (words) or `/on` (a day: {DATE_FORMS})."
        )
    return EventDetail(event, frozenset(await store.existing(link.path for link in event.related)))


async def ask(store: Store, question: str, today: dt.date | None = None) -> AskAnswer | Refusal:
    question = " ".join(question.split())
    if not question:
        return Refusal("Ask a question, e.g. `/ask when did the Syrian army retake al-Qaryatayn?`")
    if len(question) > MAX_QUERY_LENGTH:
        return Refusal(f"That question is {len(question)} characters long; keep it under {MAX_QUERY_LENGTH}.")
    return await answer_question(store, question, today)


def closest_topics(names: list[str], text: str, limit: int = 25) -> list[str]:
    """Topic names for what someone typed: exact, then prefix, then containing it, then
    the same with spellings folded (so "hizbollah" finds "Israel–Hezbollah conflict")."""
    wanted = " ".join(text.casefold().split())
    if not wanted:
        return names[:limit]
    typed = [variant_key(word) for word in tokenize(wanted)]
    tiers: list[list[str]] = [[], [], [], []]
    for name in names:
        lower = name.casefold()
        if lower == wanted:
            tiers[0].append(name)
        elif lower.startswith(wanted):
            tiers[1].append(name)
        elif wanted in lower:
            tiers[2].append(name)
        elif typed and all(any(_alike(key, variant_key(w)) for w in tokenize(lower)) for key in typed):
            tiers[3].append(name)
    return [name for tier in tiers for name in tier][:limit]


def _alike(typed: str, word: str) -> bool:
    """Equal folded spellings, a prefix of a word, or one edit apart in a long word."""
    if word.startswith(typed):
        return True
    if len(typed) < 5 or abs(len(typed) - len(word)) > 1:
        return False
    if len(typed) == len(word):
        return sum(a != b for a, b in zip(typed, word)) <= 1
    short, long = sorted((typed, word), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


async def topic_timeline(store: Store, name: str, newest_first: bool = False) -> EventList | Refusal:
    topics = [topic for topic, _ in await store.topic_names()]
    matches = closest_topics(topics, name, limit=5)
    if not matches:
        return Refusal(f"No topic like “{name.strip()[:100]}”. Start typing and pick one of the suggestions.")
    topic = matches[0]
    total, events = await store.events_with_topic(topic, newest_first, MAX_TIMELINE)
    order = "newest first" if newest_first else "oldest first"
    note = None
    if total > len(events):
        which = "newest" if newest_first else "oldest"
        note = f"Showing the {which} {len(events)} of {total}; use /events with from/to to look at other years."
    return EventList(f"Timeline of {topic} ({order})", events, note=note)
