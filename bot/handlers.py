"""Command handlers: one function per command, shared by Discord, the console and the CLI."""

from __future__ import annotations

import datetime as dt
import functools
import re
import shlex
import zoneinfo
from collections.abc import Sequence

from bot.answers import (
    PAGE_SIZE,
    AskAnswer,
    EventDetail,
    EventList,
    FollowAdded,
    FollowList,
    Help,
    IndexProgress,
    Notice,
    Refusal,
    ServerSettings,
    Status,
    TrendAnswer,
    TrendSeries,
)
from bot.follows import Rule, matching, why_not
from bot.naming import CLI, DISCORD, Naming
from bot.periods import choose_step, count_per_period, period_starts
from bot.scheduler import ReindexJob, next_post, parse_clock, zone
from bot.topics import topic_names
from bot.usage import sections
from corpus import DATE_FORMS, DateError, DateReading, human_date, human_month_day, long_date, read_date
from store import Store
from store.follows import MAX_FOLLOWS, Follow, Follows
from store.guilds import Guilds

MAX_QUERY_LENGTH = 200
MAX_RESULTS = 50
MAX_TIMELINE = 100
SQLITE_MAX_ID = 2**63 - 1
MAX_LINES = 6  # searches in one chart


def read_bound(text: str | None, end: bool = False, today: dt.date | None = None) -> DateReading | None:
    """A `from`/`to` filter: a date, or a bare year (its first or last day)."""
    if not text or not text.strip():
        return None
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) == 4:
        if int(text) < dt.MINYEAR:
            raise DateError(f"'{text}' is not a year the archive can hold.")
        return DateReading(dt.date(int(text), 12, 31) if end else dt.date(int(text), 1, 1))
    return read_date(text, today)


def parse_bound(text: str | None, end: bool = False, today: dt.date | None = None) -> dt.date | None:
    reading = read_bound(text, end, today)
    return reading.day if reading else None


def reading_note(typed: str, reading: DateReading, naming: Naming, command: str) -> str | None:
    """For an ambiguous date such as 3/4/2016: how it was read, and the command for the other reading."""
    if reading.other is None:
        return None
    other = f"{command} {reading.other.isoformat()}"  # plain: a list's note is shown with Markdown escaped
    return f"Read {typed.strip()} as day/month, {long_date(reading.day)}; for {long_date(reading.other)}: {other}."


async def search_events(
    store: Store,
    query: str,
    since: str | None = None,
    until: str | None = None,
    limit: int = MAX_RESULTS,
    naming: Naming = DISCORD,
    today: dt.date | None = None,
    exact: bool = False,
    topic: str | None = None,
) -> EventList | Refusal:
    """Events matching `query`; `since`/`until` as typed, relative ones counted from `today`;
    `exact`: the words as typed only (no other spellings or forms); `topic`: only events of the
    topic closest to that name."""
    query = " ".join(query.split())
    if not query:
        return Refusal(f"Type some words to search for, e.g. {naming.code(naming.search + ' al-qaryatain')}.")
    if len(query) > MAX_QUERY_LENGTH:
        return Refusal(f"That search is {len(query)} characters long; keep it under {MAX_QUERY_LENGTH}.")
    try:
        low_reading, high_reading = read_bound(since, today=today), read_bound(until, end=True, today=today)
    except DateError as error:
        return Refusal(f"{error} A year such as 2016 works too.")
    low, high = (reading.day if reading else None for reading in (low_reading, high_reading))
    readings = [
        f"{label} {typed.strip()} is read as day/month, {human_date(reading.day)} (not {human_date(reading.other)})."
        for label, typed, reading in (("From:", since, low_reading), ("To:", until, high_reading))
        if reading and reading.other and typed
    ]
    if low and high and low > high:
        return Refusal(f"The range is empty: {human_date(low)} is after {human_date(high)}.")
    within, in_topic = None, ""
    if topic is not None and topic.strip():
        names = await topic_names(store)
        matches = names.closest(topic, limit=1)
        if not matches:
            return Refusal(f"No topic like “{topic.strip()[:100]}”. {naming.find_topic}", empty=True)
        topic = matches[0]
        within, in_topic = await store.topic_event_ids(names.spellings[topic]), f" in the topic {topic}"
    else:
        topic = None
    ranked = await store.find(query, limit, low, high, tolerant=not exact, within=within)
    hits, window = ranked.hits, in_topic + _window(low, high) + _query_window(ranked.since, ranked.until)
    if not hits and ranked.unknown:
        words = ", ".join(f"“{word}”" for word in ranked.unknown)
        return Refusal(
            f"The archive never uses {words}, nor anything spelt close to it. Check the spelling, or try other words.",
            empty=True,
        )
    if not hits:
        return Refusal(
            f"No events match “{query}”{window}. Try fewer or other words, or a wider date range.", empty=True
        )
    notes = readings
    if ranked.showing:
        notes.append(f"Showing results for “{ranked.showing}”. {search_instead(query, naming)}")
    elif ranked.unknown:
        notes.append(f"The archive never uses {', '.join(f'“{word}”' for word in ranked.unknown)}.")
    if ranked.matched > len(hits):
        notes.append(f"The best {len(hits)} of {ranked.matched:,} matches; more words or a date range narrow them.")
    note = " ".join(notes) or None
    listing = EventList(
        f"Events matching “{query}”{window}" + (" (as typed)" if exact else ""),
        [h.event_id for h in hits],
        {},
        scores=[h.score for h in hits],
        note=note,
        highlight=ranked.terms,
        showing=ranked.showing,
        query=query,
        exact=exact,
        topic=topic,
        dates=(low, high),
    )
    return await load_page(store, listing, 0)


async def search_as_typed(store: Store, listing: EventList, naming: Naming = DISCORD) -> EventList | Refusal:
    """A search again with its words as typed, no other spellings or forms ("Search instead for")."""
    low, high = (day.isoformat() if day else None for day in listing.dates)
    return await search_events(store, listing.query or "", low, high, naming=naming, exact=True, topic=listing.topic)


def search_instead(query: str, naming: Naming) -> str:
    """How to search for the words as typed, after a word of them was read as another."""
    if naming is DISCORD:
        return f"Search instead for “{query}” with the button below."
    exact = f"{naming.search} {shlex.quote(query)} --exact" if naming is CLI else f"{naming.search} {query} exact:yes"
    return f"Search instead for “{query}”: {exact}"


# Mentions (<@1>, <@&2>, <#3>), custom emoji (<:name:4>) and links: not words to search for.
NOT_WORDS = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>|https?://\S+")


async def search_message(store: Store, text: str) -> EventList | Refusal:
    """The message menu "Search the archive": the message's words as a search, a long one cut to the query limit."""
    words = " ".join(NOT_WORDS.sub(" ", text).split())
    if not words:
        return Refusal(
            "That message has no words to search for (only links, mentions or pictures). "
            "Search with words of your own: `/events al-qaryatain`."
        )
    if len(words) > MAX_QUERY_LENGTH:
        cut = words[: MAX_QUERY_LENGTH + 1]
        words = cut.rsplit(" ", 1)[0] if " " in cut else cut[:MAX_QUERY_LENGTH]
    return await search_events(store, words)


async def load_page(store: Store, listing: EventList, page: int) -> EventList:
    """Fetch the events of one page of a list, if they are not at hand yet."""
    missing = [i for i in listing.page_ids(page) if i not in listing.loaded]
    listing.loaded.update(await store.events_by_id(missing))
    return listing


async def load_all(store: Store, listing: EventList) -> EventList:
    """Fetch every event of a list (for the command line and JSON)."""
    listing.loaded.update(await store.events_by_id([i for i in listing.ids if i not in listing.loaded]))
    return listing


def _query_window(since: dt.date | None, until: dt.date | None) -> str:
    """The dates read from the query itself ("floods march 2014"), as the list's title says them."""
    if not since or not until:
        return ""
    if since == until:
        return f" on {long_date(since)}"
    if (since.month, since.day, until.month, until.day) == (1, 1, 12, 31) and since.year == until.year:
        return f" in {since.year}"
    if since.day == 1 and (since.year, since.month) == (until.year, until.month):
        return f" in {since:%B %Y}"
    return f" from {human_date(since)} to {human_date(until)}"


def _window(low: dt.date | None, high: dt.date | None) -> str:
    if low and high:
        return f" from {human_date(low)} to {human_date(high)}"
    if low:
        return f" since {human_date(low)}"
    if high:
        return f" until {human_date(high)}"
    return ""


async def day_events(
    store: Store, date_text: str, naming: Naming = DISCORD, today: dt.date | None = None
) -> EventList | Refusal:
    """Every event of the day typed (relative days counted from `today`), titled with the day understood."""
    if not date_text.strip():
        return Refusal(f"Which day? e.g. {naming.code(naming.day + ' 3 April 2016')}. Dates look like {DATE_FORMS}.")
    try:
        reading = read_date(date_text, today)
    except DateError as error:
        return Refusal(str(error))
    day, note = reading.day, reading_note(date_text, reading, naming, naming.day)
    ids = await store.ids_on(day)
    if ids:
        return await load_page(store, EventList(f"Events on {long_date(day)}", ids, {}, note=note), 0)
    before, after = await store.nearest_days(day)
    nearest = " and ".join(
        f"{label} {human_date(d)} ({naming.code(f'{naming.day} {d.isoformat()}')})"
        for label, d in (("before:", before), ("after:", after))
        if d
    )
    also = f" {note}" if note else ""
    if not nearest:
        return Refusal(f"No events on {long_date(day)}, and the archive is empty: ask a moderator to index it.{also}")
    return Refusal(f"No events on {long_date(day)}. Nearest days with events, {nearest}.{also}", empty=True)


def _store_ref(ref: str) -> str | None:
    """What the store may look up: a path, or a store id in ASCII digits that SQLite can hold."""
    if ref.isdigit() and not (ref.isascii() and int(ref) <= SQLITE_MAX_ID):
        return None  # "２" or a number past SQLite's integers: no event has it
    return ref


async def show_event(store: Store, path: str, naming: Naming = DISCORD) -> EventDetail | Refusal:
    ref = path.strip()
    if not ref:
        return Refusal(f"Which event? Give {naming.find_event}")
    found = await store.event(key) if (key := _store_ref(ref)) is not None else None
    if found is None:
        search, day = naming.code(naming.search), naming.code(naming.day)
        return Refusal(
            f"No event at {naming.code(ref[:150])}. Find one with {search} (words) or {day} (a day: {DATE_FORMS}).",
            empty=True,
        )
    return EventDetail(*found)


async def best_event(store: Store, words: str, naming: Naming = DISCORD) -> EventDetail | Refusal:
    """The event whose headline best matches `words`, as the first suggestion of /event's autocomplete."""
    words = " ".join(words.split())[:MAX_QUERY_LENGTH]
    found = await store.search(words, limit=1) if words else []
    if not found:
        return Refusal(f"No event matches “{words}”. Give {naming.find_event}", empty=True)
    return await show_event(store, str(found[0].event_id), naming)


async def ask(
    store: Store, question: str, today: dt.date | None = None, naming: Naming = DISCORD
) -> AskAnswer | Refusal:
    question = " ".join(question.split())
    if not question:
        return Refusal(
            f"Ask a question, e.g. {naming.code(naming.ask + ' when did the Syrian army retake al-Qaryatayn?')}"
        )
    if len(question) > MAX_QUERY_LENGTH:
        return Refusal(f"That question is {len(question)} characters long; keep it under {MAX_QUERY_LENGTH}.")
    from bot.ask import answer_question  # here: its lexicons cost every other command's start ~10 ms

    return await answer_question(store, question, today)


async def topic_timeline(
    store: Store,
    name: str,
    newest_first: bool = False,
    naming: Naming = DISCORD,
    since: str | None = None,
    until: str | None = None,
    today: dt.date | None = None,
) -> EventList | Refusal:
    """The events of the topic closest to `name` (any case of it), in date order, within the
    dates typed; the note says which name it matched, and offers the close ones."""
    if not name.strip():
        return Refusal(f"Which topic? e.g. {naming.code(naming.topic + ' Syrian Civil War')}.")
    try:
        low, high = parse_bound(since, today=today), parse_bound(until, end=True, today=today)
    except DateError as error:
        return Refusal(f"{error} A year such as 2016 works too.")
    if low and high and low > high:
        return Refusal(f"The range is empty: {human_date(low)} is after {human_date(high)}.")
    names = await topic_names(store)
    matches = names.closest(name, limit=6)
    if not matches:
        return Refusal(f"No topic like “{name.strip()[:100]}”. {naming.find_topic}", empty=True)
    topic, spellings = matches[0], names.spellings[matches[0]]
    total, ids = await store.events_with_topic(spellings, newest_first, MAX_TIMELINE, low, high)
    order = "newest first" if newest_first else "oldest first"
    notes = []
    if " ".join(name.casefold().split()) != topic.casefold():
        notes.append(f"The topic “{topic}” is the closest to “{' '.join(name.split())[:100]}”.")
    if len(spellings) > 1:
        notes.append("Also written " + ", ".join(f"“{other}”" for other in spellings[1:3]) + ".")
    if len(matches) > 1:
        notes.append("Close names: " + ", ".join(f"“{other}”" for other in matches[1:]) + ".")
    if total > len(ids):
        which = "newest" if newest_first else "oldest"
        notes.append(f"Showing the {which} {len(ids)} of {total}; add {naming.range_options} to look at other years.")
    if not total:
        return Refusal(f"No events of the topic “{topic}”{_window(low, high)}. Try a wider date range.", empty=True)
    chart = topic_chart(topic, await store.topic_months(spellings)) if total and not (low or high) else None
    title = f"Timeline of {topic}{_window(low, high)} ({order})"
    listing = EventList(title, ids, {}, note=" ".join(notes) or None, chart=chart)
    return await load_page(store, listing, 0)


def topic_chart(topic: str, months: list[tuple[str, int]]) -> TrendAnswer:
    """A topic's events per month, from its first month to its last (months without any count 0)."""
    first = dt.date.fromisoformat(months[0][0] + "-01")
    last_month = dt.date.fromisoformat(months[-1][0] + "-01")
    until = (last_month + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    starts = period_starts(first, until, "month")
    by_month = dict(months)
    counts = tuple(by_month.get(f"{start:%Y-%m}", 0) for start in starts)
    series = TrendSeries(topic, counts)
    return TrendAnswer(f"{topic}: events per month", "month", tuple(starts), (series,), first, until, None, False, True)


async def trend(store: Store, words: str, since: str | None = None, until: str | None = None) -> TrendAnswer | Refusal:
    """/trend: how many events match each comma-separated search per day, month or year.

    A period's count is the number of events /events finds for the search in it (the same
    words, spellings and dates: the search index's matches, counted by their days)."""
    queries: list[str] = []
    for part in words.split(","):
        query = " ".join(part.split())
        if query and query.casefold() not in (q.casefold() for q in queries):
            queries.append(query)
    if not queries:
        return Refusal("Type some words to chart, e.g. `/trend ukraine` or `/trend ukraine, syria, iraq`.")
    if len(queries) > MAX_LINES:
        return Refusal(f"That is {len(queries)} searches; a chart holds at most {MAX_LINES}. Leave some out.")
    for query in queries:
        if len(query) > MAX_QUERY_LENGTH:
            return Refusal(
                f"“{query[:40]}…” is {len(query)} characters long; keep each search under {MAX_QUERY_LENGTH}."
            )
    try:
        low, high = parse_bound(since), parse_bound(until, end=True)
    except DateError as error:
        return Refusal(f"{error} A year such as 2016 works too.")
    if low and high and low > high:
        return Refusal(f"The range is empty: {human_date(low)} is after {human_date(high)}.")
    stats = await store.stats()
    if not stats.first_day or not stats.last_day:
        return Refusal("The archive is empty: ask a moderator to index it.")
    first, last = max(low or stats.first_day, stats.first_day), min(high or stats.last_day, stats.last_day)
    if first > last:
        held = f"{human_date(stats.first_day)} to {human_date(stats.last_day)}"
        return Refusal(f"The archive holds events from {held}; pick dates in that range.")
    step = choose_step(first, last)
    starts = period_starts(first, last, step)
    series: tuple[TrendSeries, ...] = ()
    for query in queries:
        series += (TrendSeries(query, count_per_period(await store.matched_days(query, first, last), starts, step)),)
    window = _window(first, last)
    if not any(line.total for line in series):
        searched = ", ".join(f"“{query}”" for query in queries)
        return Refusal(f"No events match {searched}{window}. Try fewer or other words, or a wider date range.")
    missing = [f"“{line.query}”" for line in series if not line.total]
    note = f"No events match {', '.join(missing)}." if missing else None
    title = f"Events per {step} matching " + ", ".join(f"“{query}”" for query in queries)
    return TrendAnswer(title, step, tuple(starts), series, first, last, note)


async def help_answer(store: Store, console: bool = False) -> Help:
    """The commands (with `console`, those the console has) and how much the archive holds."""
    stats = await store.stats()
    return Help(stats.events, stats.first_day, stats.last_day, sections(console))


# On this day, server settings, status and re-indexing

NEED_MANAGE_SERVER = "Only members with the Manage Server permission can change these settings. Ask a moderator."
DAY_FORMS = "3 April, April 3, 04-03 or a full date"


def parse_month_day(text: str, today: dt.date | None = None) -> tuple[int, int, int | None]:
    """A day with or without its year: (month, day, year or None)."""
    try:
        day = read_date(text, today).day
        return day.month, day.day, day.year
    except DateError:
        pass
    cleaned = " ".join(text.split())
    for form in (f"{cleaned} 2000", f"2000-{cleaned}"):  # 2000 is a leap year: 29 February works
        try:
            day = read_date(form).day
            return day.month, day.day, None
        except DateError:
            continue
    raise DateError(f"'{text.strip()[:50]}' is not a day I can read. Try {DAY_FORMS}.")


def spread_years(events: Sequence[tuple[int, dt.date, int]], limit: int) -> list[int]:
    """Ids of (id, date, weight) events: newest year first, one event per year in turn; within
    a year the heaviest (most sources and related lines) first, then in the order given."""
    by_year: dict[int, list[tuple[int, dt.date, int]]] = {}
    for event in events:
        by_year.setdefault(event[1].year, []).append(event)
    queues = [sorted(by_year[year], key=lambda event: event[2], reverse=True) for year in sorted(by_year, reverse=True)]
    rounds = max(map(len, queues), default=0)
    return [queue[rank][0] for rank in range(rounds) for queue in queues if rank < len(queue)][:limit]


async def on_this_day(
    store: Store, date_text: str | None, today: dt.date, limit: int = MAX_RESULTS
) -> EventList | Refusal:
    """Events of a month and day in the years before (today's, or the one given)."""
    month, day, before = today.month, today.day, today.year
    if date_text and date_text.strip():
        try:
            month, day, year = parse_month_day(date_text, today)
        except DateError as error:
            return Refusal(str(error))
        before = year or today.year
    label = human_month_day(month, day)
    events = [event for event in await store.month_day(month, day) if event[1].year < before]
    if not events:
        return Refusal(f"The archive has no events on {label} before {before}. Try another day: `/onthisday 3 April`.")
    years = len({date.year for _, date, _ in events})
    picked = spread_years(events, limit)
    shown = f"; showing {len(picked)}" if len(picked) < len(events) else ""
    note = f"{len(events)} events from {years} year{'s' if years != 1 else ''}{shown}, newest year first."
    title = f"On this day, {label}" + (f", before {before}" if before != today.year else "")
    return await load_page(store, EventList(title, picked, {}, note=note), 0)


async def daily_post(store: Store, day: dt.date, late_for: str | None = None) -> EventList | Notice:
    """The daily post for a local day: the first page of /onthisday, or a short note if it has nothing."""
    answer = await on_this_day(store, None, day)
    late = f"Posted late: the bot was offline at {late_for}. " if late_for else ""
    if isinstance(answer, Refusal):
        label = human_month_day(day.month, day.day)
        return Notice(f"{late}On this day, {label}: the archive has no events on this date in past years.")
    more = f"All {answer.total} with /onthisday." if answer.total > PAGE_SIZE else ""
    first_page = {event_id: answer.loaded[event_id] for event_id in answer.page_ids(0) if event_id in answer.loaded}
    return EventList.of(answer.title, first_page, note=f"{late}{more}".strip() or None)


async def save_daily(
    store: Store,
    guild_id: int,
    may_manage: bool,
    channel_id: int,
    bot_can_post: bool,
    time_text: str,
    timezone: str | None,
    now: dt.datetime,
    by: str,
) -> Notice | Refusal:
    """/settings daily set: where and when the daily post goes (in the server's saved time zone if none given)."""
    if not may_manage:
        return Refusal(NEED_MANAGE_SERVER)
    guilds = Guilds(store)
    timezone = timezone or (await guilds.get(guild_id)).timezone
    time, tz = parse_clock(time_text), zone(timezone)
    if time is None:
        return Refusal(f"'{time_text.strip()[:20]}' is not a time of day. Use 24-hour HH:MM, e.g. 08:00 or 18:30.")
    if tz is None:
        return Refusal(
            f"'{timezone.strip()[:60]}' is not a time zone I know. Pick one from the list as you type, "
            "e.g. Europe/Berlin, America/New_York or UTC."
        )
    if not bot_can_post:
        return Refusal(
            f"I may not post in <#{channel_id}>. Give me View Channel, Send Messages and Embed Links there, "
            "or pick another channel."
        )
    await guilds.set_daily(guild_id, channel_id, f"{time:%H:%M}", tz.key, now, by)
    settings = await guilds.get(guild_id)
    assert settings.daily is not None
    first = next_post(settings.daily, now, await guilds.posted(guild_id, now.astimezone(tz).date()))
    return Notice(
        f"The daily post goes to <#{channel_id}> at {time:%H:%M} ({tz.key}), from "
        f"<t:{int(first.timestamp())}:F>. Turn it off with `/settings daily off`."
    )


async def daily_off(store: Store, guild_id: int, may_manage: bool, now: dt.datetime, by: str) -> Notice | Refusal:
    """/settings daily off."""
    if not may_manage:
        return Refusal(NEED_MANAGE_SERVER)
    if not await Guilds(store).daily_off(guild_id, now, by):
        return Notice("The daily post was already off. Turn it on with `/settings daily set`.")
    return Notice("The daily post is off. Turn it on again with `/settings daily set`.")


async def set_reindex_role(
    store: Store, guild_id: int, may_manage: bool, role_id: int | None, now: dt.datetime, by: str
) -> Notice | Refusal:
    """/settings reindex-role: a role whose members may /reindex, besides those with Manage Server."""
    if not may_manage:
        return Refusal(NEED_MANAGE_SERVER)
    await Guilds(store).set_reindex_role(guild_id, role_id, now, by)
    if role_id is None:
        return Notice("Only members with Manage Server can `/reindex` now.")
    return Notice(f"Members with <@&{role_id}> can `/reindex` now, as well as those with Manage Server.")


async def show_settings(store: Store, guild_id: int, may_manage: bool, now: dt.datetime) -> ServerSettings | Refusal:
    """/settings show."""
    if not may_manage:
        return Refusal(NEED_MANAGE_SERVER)
    guilds = Guilds(store)
    settings = await guilds.get(guild_id)
    upcoming = None
    if settings.daily is not None and zone(settings.daily.timezone) is not None:
        today = now.astimezone(zone(settings.daily.timezone)).date()
        upcoming = next_post(settings.daily, now, await guilds.posted(guild_id, today))
    return ServerSettings(settings, upcoming, await guilds.last_post(guild_id), await store.last_run())


async def status(store: Store, uptime: dt.timedelta, version: str, indexing: IndexProgress | None) -> Status:
    """/status: what is in the store, the last index run, and the bot itself."""
    stats = await store.stats()
    return Status(stats.events, stats.first_day, stats.last_day, stats.last_run, uptime, version, indexing)


async def server_today(store: Store, guild_id: int | None, now: dt.datetime) -> dt.date:
    """Today in the server's time zone (set with /settings daily), else in UTC: what `yesterday` counts from."""
    timezone = (await Guilds(store).get(guild_id)).timezone if guild_id else "UTC"
    return now.astimezone(zone(timezone) or dt.UTC).date()


def describe_progress(progress: IndexProgress, now: dt.datetime) -> str:
    """'asked by X 2 min ago: 1,000 of 3,000 files read' (the files that changed since the last run)."""
    minutes = int((now - progress.started).total_seconds() // 60)
    ago = f"{minutes} min ago" if minutes else "under a minute ago"
    if progress.total is None:
        done = "scanning the archive for changes"
    else:
        done = f"{progress.done:,} of {progress.total:,} changed files read"
    return f"asked by {progress.requested_by} {ago}: {done}"


async def start_reindex(
    store: Store,
    job: ReindexJob,
    guild_id: int,
    manage_guild: bool,
    role_ids: list[int],
    by: str,
    now: dt.datetime,
    allow_shrink: bool = False,
) -> IndexProgress | Refusal:
    """/reindex: start the run in the background if the asker may and none is running."""
    role_id = (await Guilds(store).get(guild_id)).reindex_role_id
    if not manage_guild and (role_id is None or role_id not in role_ids):
        return Refusal(
            "Only members with Manage Server, or the role set with `/settings reindex-role`, can re-index. "
            "Ask a moderator."
        )
    running = job.running  # checked and started with no await in between: one run at a time
    if running is not None:
        return Refusal(
            f"A re-index is already running ({describe_progress(running, now)}). "
            "Wait for it to finish; `/status` shows how far it got."
        )
    job.start(by, now, allow_shrink)
    assert job.progress is not None
    return job.progress


COMMON_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"]


@functools.cache
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _city(zone_name: str) -> str:
    return zone_name.lower().rsplit("/", 1)[-1]


def zone_choices(current: str, limit: int = 25) -> list[str]:
    """IANA time zones for autocomplete: names or cities starting with what was typed, then containing it."""
    typed = current.strip().lower().replace(" ", "_")
    if not typed:
        return COMMON_ZONES[:limit]
    names = _zone_names()
    first = [name for name in names if any(part.startswith(typed) for part in (name.lower(), _city(name)))]
    rest = [name for name in names if typed in name.lower() and name not in first]
    return (first + rest)[:limit]


# Follows: new events on a search or a topic, posted to a channel after index runs

PREVIEW_DAYS = 30  # a new follow's preview: what it would have posted over the archive's last days
PREVIEW_SHOWN = 10  # events of the preview shown in the reply
NEED_FOLLOW_RIGHTS = (
    "Only members with Manage Server, or the role set with `/settings reindex-role`, can change follows. "
    "Ask a moderator."
)


async def may_follow(store: Store, guild_id: int, manage_guild: bool, role_ids: Sequence[int]) -> bool:
    """Follows are for members with Manage Server, or with the role that may /reindex."""
    if manage_guild:
        return True
    role_id = (await Guilds(store).get(guild_id)).reindex_role_id
    return role_id is not None and role_id in role_ids


async def follow_rule(
    store: Store, query: str | None, topic: str | None, exclude: str | None, naming: Naming = DISCORD
) -> Rule | Refusal:
    """The filters as typed, checked: words to search for, a topic (the closest name), words to leave out."""
    query, topic, exclude = (" ".join((text or "").split()) or None for text in (query, topic, exclude))
    if query is None and topic is None:
        example = naming.code("/follow add channel:#news query:earthquake" if naming.backticks else naming.search)
        return Refusal(f"Give words to follow (query), a topic, or both, e.g. {example}.")
    for label, text in (("query", query), ("exclude", exclude)):
        if text and len(text) > MAX_QUERY_LENGTH:
            return Refusal(f"That {label} is {len(text)} characters long; keep it under {MAX_QUERY_LENGTH}.")
    if query and not Rule(query, None, None).words:
        return Refusal(f"“{query[:100]}” has no words to look for (only signs); use words, e.g. earthquake.")
    if exclude and not Rule(None, None, exclude).excluded:
        return Refusal(f"“{exclude}” has no words to leave out; give words such as football, sport.")
    if topic is not None:
        matches = (await topic_names(store)).closest(topic, limit=5)
        if not matches:
            return Refusal(f"No topic like “{topic[:100]}”. {naming.find_topic}")
        topic = matches[0]
    return Rule(query, topic, exclude)


async def _preview_window(store: Store) -> tuple[dt.date, dt.date] | None:
    stats = await store.stats()
    if not stats.last_day:
        return None
    return stats.last_day - dt.timedelta(days=PREVIEW_DAYS - 1), stats.last_day


async def add_follow(
    store: Store,
    guild_id: int,
    manage_guild: bool,
    role_ids: Sequence[int],
    channel_id: int,
    bot_can_post: bool,
    query: str | None,
    topic: str | None,
    exclude: str | None,
    now: dt.datetime,
    by: str,
) -> FollowAdded | Refusal:
    """/follow add: a new follow, from now on, with a preview of what it would have posted lately."""
    if not await may_follow(store, guild_id, manage_guild, role_ids):
        return Refusal(NEED_FOLLOW_RIGHTS)
    rule = await follow_rule(store, query, topic, exclude)
    if isinstance(rule, Refusal):
        return rule
    if not bot_can_post:
        return Refusal(
            f"I may not post in <#{channel_id}>. Give me View Channel, Send Messages and Embed Links there, "
            "or pick another channel."
        )
    follow = await Follows(store).add(guild_id, channel_id, rule.query, rule.topic, rule.exclude, now, by)
    if follow is None:
        return Refusal(
            f"This server has {MAX_FOLLOWS} follows, the most it may have. "
            "Remove one first (`/follow list` shows them)."
        )
    window = await _preview_window(store)
    ids = await matching(store, rule, since=window[0], until=window[1]) if window else []
    since, until = window if window else (None, None)
    days = f"{human_date(since)} to {human_date(until)}" if since and until else "none: the archive is empty"
    shown = await store.events_by_id(ids[:PREVIEW_SHOWN])
    listing = EventList(f"the archive's last {PREVIEW_DAYS} days ({days})", ids, shown)
    return FollowAdded(follow, rule.describe(), listing, since, until)


async def list_follows(
    store: Store, guild_id: int, manage_guild: bool, role_ids: Sequence[int]
) -> FollowList | Refusal:
    """/follow list: the server's follows, what they match, where and how much they posted."""
    if not await may_follow(store, guild_id, manage_guild, role_ids):
        return Refusal(NEED_FOLLOW_RIGHTS)
    return FollowList(await Follows(store).of_guild(guild_id), MAX_FOLLOWS)


async def _server_follow(
    store: Store, guild_id: int, manage_guild: bool, role_ids: Sequence[int], follow_id: int
) -> tuple[Follows, Follow] | Refusal:
    """The server's follow with this id, if the asker may change follows."""
    if not await may_follow(store, guild_id, manage_guild, role_ids):
        return Refusal(NEED_FOLLOW_RIGHTS)
    follows = Follows(store)
    follow = await follows.get(guild_id, follow_id)
    if follow is None:
        return Refusal(f"This server has no follow #{follow_id}. `/follow list` shows their ids.")
    return follows, follow


async def change_follow(
    store: Store,
    guild_id: int,
    manage_guild: bool,
    role_ids: Sequence[int],
    follow_id: int,
    action: str,
    now: dt.datetime,
    by: str,
) -> Notice | Refusal:
    """/follow remove, pause and resume (`action`)."""
    found = await _server_follow(store, guild_id, manage_guild, role_ids, follow_id)
    if isinstance(found, Refusal):
        return found
    follows, follow = found
    rule = Rule.of(follow).describe()
    if action == "remove":
        await follows.remove(guild_id, follow_id)
        return Notice(f"Follow #{follow_id} ({rule}) is removed: nothing more goes to <#{follow.channel_id}>.")
    if action == "pause":
        if not await follows.pause(follow_id, f"paused by {by}", now):
            return Notice(f"Follow #{follow_id} was paused already. Turn it on with `/follow resume id:{follow_id}`.")
        return Notice(f"Follow #{follow_id} ({rule}) is paused. `/follow resume id:{follow_id}` turns it on again.")
    if not await follows.resume(follow_id):
        return Notice(f"Follow #{follow_id} is on already.")
    return Notice(
        f"Follow #{follow_id} ({rule}) is on again, from now: events added while it was paused are not posted. "
        f"New ones go to <#{follow.channel_id}>."
    )


async def why_follow(
    store: Store, guild_id: int, manage_guild: bool, role_ids: Sequence[int], follow_id: int, event_ref: str
) -> Notice | Refusal:
    """/follow why: whether an event matched a follow, and if not, why."""
    found = await _server_follow(store, guild_id, manage_guild, role_ids, follow_id)
    if isinstance(found, Refusal):
        return found
    follows, follow = found
    event_id = await follows.event_id(event_ref)
    if event_id is None:
        return Refusal(f"No event at `{event_ref.strip()[:150]}`. Start typing words from its headline and pick one.")
    event = (await store.events_by_id([event_id]))[event_id]
    rule = Rule.of(follow).describe()
    about = f"“{event.headline[:150]}” ({human_date(event.date)}) and follow #{follow.id} ({rule})"
    record = await follows.record(follow.id, event_id)
    if record is not None:
        if record.sent_at is not None:
            sent = f"<t:{int(record.sent_at.timestamp())}:R>"
            return Notice(f"{about}: it matched and was posted in <#{follow.channel_id}> {sent}.")
        return Notice(f"{about}: it matched but was not posted: {record.error or 'it is being sent now'}.")
    reason = await why_not(store, follow, event_id)
    if event_id <= follow.created_after:
        also = f" It would not match anyway: {reason}." if reason else " It matches the filters."
        created = f"<t:{int(follow.created_at.timestamp())}:f>"
        return Notice(
            f"{about}: not posted: it was in the archive before the follow was created ({created}); a follow posts "
            f"only events added after that.{also}"
        )
    if reason:
        return Notice(f"{about}: it does not match: {reason}.")
    if event_id > follow.seen_up_to:
        state = "the follow is paused" if follow.paused else "it goes out with the next post"
        return Notice(f"{about}: it matches and is new; {state}.")
    return Notice(f"{about}: it matches, but it was added while the follow was paused, so it was not posted.")


async def follow_check(
    store: Store, query: str | None, topic: str | None, exclude: str | None, since: str | None
) -> EventList | Refusal:
    """`python -m bot follow-check`: the events dated from `since` (default: the archive's last
    30 days) that a follow with these filters would post, oldest first."""
    rule = await follow_rule(store, query, topic, exclude, CLI)
    if isinstance(rule, Refusal):
        return rule
    try:
        low = parse_bound(since)
    except DateError as error:
        return Refusal(f"{error} A year such as 2016 works too.")
    window = await _preview_window(store)
    if window is None:
        return Refusal("The archive is empty: index it first with python -m bot index.")
    low = low or window[0]
    ids = await matching(store, rule, since=low)
    title = f"A follow of {rule.describe()} would post, of the events dated from {human_date(low)}"
    note = "A real follow posts only events added to the archive after it was made, in date order, as they come."
    return await load_all(store, EventList(title, ids, {}, note=note))
