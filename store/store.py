"""The store as the bot sees it: events, days, search and index runs, all async."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from corpus import Event, Related, Source
from store.backend import Backend, Row, Target, open_backend
from store.search import Hit, IndexRows, ParsedQuery, Ranked, SearchIndex, parse_query
from store.sqlite import load_search_index
from store.synonyms import synonyms
from store.tokens import QUERY_STOPWORDS, tokenize

if TYPE_CHECKING:
    from store.ingest import IndexReport, Progress

__all__ = ["Found", "IndexRun", "Stats", "Store", "load_search_index"]

log = logging.getLogger("newsbot.store")

ADJACENT_DEPTH = 20  # the best hits of a search re-ranked by whether its words are next to each other
ADJACENT_BOOST = 0.2  # the share of its score a hit gains when every two consecutive query words are adjacent

# An event's sources and related lines as JSON arrays of [position, ...] rows, sorted by
# position once read (neither database's JSON aggregate promises an order). A related row ends
# with {in_store}: whether its event is in the store too (LINKED), or 0 where that is not asked.
EVENTS_SQL = {
    "sqlite": """
SELECT id, path, date, headline,
    (SELECT json_group_array(json_array(position, name, url)) FROM sources WHERE event_id = events.id),
    (SELECT json_group_array(json_array(position, path, headline, contexts, {in_store}))
        FROM related WHERE event_id = events.id)
FROM events WHERE {where} ORDER BY {order}
""",
    "postgres": """
SELECT id, path, date, headline,
    (SELECT coalesce(json_agg(json_build_array(position, name, url)), '[]')::text
        FROM sources WHERE event_id = events.id),
    (SELECT coalesce(json_agg(json_build_array(position, path, headline, contexts, {in_store})), '[]')::text
        FROM related WHERE event_id = events.id)
FROM events WHERE {where} ORDER BY {order}
""",
}
LINKED = "EXISTS (SELECT 1 FROM events AS linked WHERE linked.path = related.path)"


@dataclass(frozen=True)
class Found:
    event: Event
    score: float
    event_id: int


@dataclass(frozen=True)
class IndexRun:
    id: int
    started_at: str
    finished_at: str | None
    requested_by: str | None
    scanned: int
    added: int
    updated: int
    removed: int
    rejected: int
    archive: str = ""


@dataclass(frozen=True)
class Stats:
    events: int
    first_day: dt.date | None
    last_day: dt.date | None
    last_run: IndexRun | None


class Store:
    """Owns the database (an SQLite file or PostgreSQL, see store/backend.py) and the in-memory
    search index loaded from it.

    The index is replaced whole when an index run (in this process or another) commits a new
    generation: `refresh` looks, at most every `REFRESH_EVERY` seconds when called often; with
    PostgreSQL, the run also announces it (NOTIFY) and `backend.index_changed` is set."""

    REFRESH_EVERY = 1.0

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.target = backend.target
        self.index = SearchIndex(IndexRows([], []))
        self.generation = -1
        self._checked = 0.0
        self._topics: list[tuple[str, int]] | None = None

    @classmethod
    async def open(cls, target: Target) -> Store:
        """The process's store (a file path or a postgresql:// URL), opened, its search index loaded."""
        store = cls(await open_backend(target))
        try:
            await store.backend.listen()
            await store.reload_search()
        except BaseException:
            await store.backend.close()
            raise
        return store

    async def close(self) -> None:
        await self.backend.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return await self.backend.fetch(sql, params)

    async def reload_search(self) -> None:
        """Load the posting lists written by the last index run, in a worker thread; searches
        use the old index until the new one is ready, then the new one whole."""
        self.generation, self.index = await asyncio.to_thread(self._load_search_index)
        self._topics = None
        self._checked = time.monotonic()

    def _load_search_index(self) -> tuple[int, SearchIndex]:
        """In the worker thread: the posting lists, and the tables queries look words up in
        (built here rather than by the first query, on the event loop)."""
        number, index = self.backend.load_search_index()
        return number, index.prepare()

    async def refresh(self, force: bool = False) -> bool:
        """Load the search index again if another run has committed a new generation since."""
        if not force and time.monotonic() - self._checked < self.REFRESH_EVERY:
            return False
        self._checked = time.monotonic()
        self.backend.index_changed.clear()
        rows = await self._rows("SELECT value FROM settings WHERE key = 'index_generation'")
        if (int(rows[0][0]) if rows else 0) == self.generation:
            return False
        before = self.generation
        await self.reload_search()
        log.info("search index reloaded: generation %s -> %s, %s events", before, self.generation, self.index.size)
        return True

    async def index_archive(
        self,
        archive: str | Path,
        requested_by: str = "cli",
        progress: Progress | None = None,
        allow_shrink: bool = False,
    ) -> IndexReport:
        """Run an index in a worker thread; searches keep using the old index until it commits."""
        from store.ingest import index_archive  # here: a search never needs the index run's modules

        report = await asyncio.to_thread(index_archive, self.target, archive, requested_by, progress, allow_shrink)
        if report.generation != self.generation:
            await self.reload_search()
        return report

    # Events

    async def search(
        self,
        query: str | Sequence[str],
        limit: int = 10,
        since: dt.date | None = None,
        until: dt.date | None = None,
        tolerant: bool = True,
        inflect: bool = True,
        also: Mapping[str, Sequence[str]] | None = None,
        plain: bool = False,
    ) -> list[Found]:
        """`query` is text, or tokens to use as given (see SearchIndex.search)."""
        hits = self.index.search(query, limit, since, until, tolerant, inflect, also, plain).hits
        events = await self._events(f"id IN ({_marks(hits)})", [h.event_id for h in hits], by_key=True)
        by_id = dict(zip((row_id for row_id, _ in events), (event for _, event in events)))
        return [Found(by_id[hit.event_id], hit.score, hit.event_id) for hit in hits if hit.event_id in by_id]

    async def find(
        self,
        query: str,
        limit: int = 10,
        since: dt.date | None = None,
        until: dt.date | None = None,
        tolerant: bool = True,
        within: Sequence[int] | None = None,
    ) -> Ranked:
        """Search without fetching the events: ids and scores, and how many matched in all;
        `within` keeps only those event ids, `tolerant=False` only the words as typed."""
        keep = np.unique(np.asarray(within, dtype=np.int64)) if within is not None else None
        parsed = parse_query(query)
        depth = max(limit, ADJACENT_DEPTH) if len(parsed.words) > 1 else limit
        ranked = self.index.search(query, depth, since, until, tolerant=tolerant, within=keep)
        if len(parsed.words) > 1 and len(ranked.hits) > 1:
            ids = [hit.event_id for hit in ranked.hits[:ADJACENT_DEPTH]]
            sql = f"SELECT id, headline FROM events WHERE id IN ({_marks(ids)})"
            headlines = dict(await self.backend.lookup(sql, ids))
            ranked = favour_adjacent(self.index, parsed, ranked, headlines, tolerant)
        return replace(ranked, hits=ranked.hits[:limit])

    async def matched_days(self, query: str, since: dt.date | None = None, until: dt.date | None = None) -> np.ndarray:
        """The day (YYYYMMDD) of every event `find` counts as a match (see SearchIndex.matched_days)."""
        return self.index.matched_days(query, since, until)

    async def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        return dict(await self._events(f"id IN ({_marks(ids)})", list(ids), by_key=True)) if ids else {}

    async def ids_on(self, day: dt.date) -> list[int]:
        """The events of one day, most important first: those with the most sources and related
        lines (other events that refer to them), then in archive (path) order."""
        rows = await self._rows(
            "SELECT id FROM events WHERE date = ? ORDER BY"
            " (SELECT count(*) FROM sources WHERE event_id = events.id)"
            " + (SELECT count(*) FROM related WHERE event_id = events.id) DESC, path",
            [day.isoformat()],
        )
        return [row[0] for row in rows]

    async def event(self, ref: str) -> tuple[Event, frozenset[str]] | None:
        """An event by its path, or by its store id (the form autocomplete uses), with the paths
        of its related events that are in the store too."""
        ref = ref.strip()
        where, key = ("id = ?", int(ref)) if ref.isdigit() else ("path = ?", ref.lstrip("/"))
        sql = EVENTS_SQL[self.backend.dialect].format(where=where, order="id", in_store=LINKED)
        rows = await self._rows(sql, [key])
        if not rows:
            return None
        _, event, related = _event(rows[0])
        return event, frozenset(path for _, path, _, _, in_store in related if in_store)

    async def events_on(self, day: dt.date) -> dict[int, Event]:
        """The events of one day by id, in archive (path) order."""
        return dict(await self._events("date = ?", [day.isoformat()], order="path"))

    async def month_day(self, month: int, day: int) -> list[tuple[int, dt.date, int]]:
        """Every event of this month and day in any year, newest first, without reading the
        events: (id, date, how many sources and related lines it has)."""
        rows = await self._rows(
            "SELECT id, date, (SELECT count(*) FROM sources WHERE event_id = events.id)"
            " + (SELECT count(*) FROM related WHERE event_id = events.id)"
            " FROM events WHERE substr(date, 6) = ? ORDER BY date DESC, path",  # events_by_month_day
            [f"{month:02d}-{day:02d}"],
        )
        return [(row_id, dt.date.fromisoformat(text), weight) for row_id, text, weight in rows]

    async def nearest_days(self, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
        """The closest earlier and later days that have events."""
        sql = "SELECT (SELECT max(date) FROM events WHERE date < ?), (SELECT min(date) FROM events WHERE date > ?)"
        before, after = (await self._rows(sql, [day.isoformat()] * 2))[0]
        return _date(before), _date(after)

    async def existing(self, paths: Iterable[str]) -> set[str]:
        """Which of these paths are events in the store."""
        paths = list(paths)
        if not paths:
            return set()
        rows = await self._rows(f"SELECT path FROM events WHERE path IN ({_marks(paths)})", paths)
        return {row[0] for row in rows}

    async def _events(
        self, where: str, params: Sequence[object], order: str = "id", by_key: bool = False
    ) -> list[tuple[int, Event]]:
        """Events with their sources and related lines, in one query (one trip to the database
        thread): each event's sources and related lines come as JSON arrays of its rows.
        `by_key`: a few events by id, read as a lookup (Backend.lookup)."""
        sql = EVENTS_SQL[self.backend.dialect].format(where=where, order=order, in_store="0")
        rows = await (self.backend.lookup if by_key else self.backend.fetch)(sql, params)
        return [_event(row)[:2] for row in rows]

    # Topics

    async def events_with_topic(
        self,
        topic: str | Sequence[str],
        newest_first: bool,
        limit: int,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> tuple[int, list[int]]:
        """(how many events have this topic, or any of these spellings of it, within the dates,
        the ids of the first `limit` of them in date order)."""
        names = [topic] if isinstance(topic, str) else list(topic)
        where = f"id IN (SELECT event_id FROM topics WHERE topic IN ({_marks(names)}))"
        params: list[object] = list(names)
        for bound, sign in ((since, ">="), (until, "<=")):
            if bound:
                where += f" AND date {sign} ?"
                params.append(bound.isoformat())
        total = (await self._rows(f"SELECT count(*) FROM events WHERE {where}", params))[0][0]
        order = "date DESC, path" if newest_first else "date, path"
        rows = await self._rows(f"SELECT id FROM events WHERE {where} ORDER BY {order} LIMIT {int(limit)}", params)
        return total, [row[0] for row in rows]

    async def topic_event_ids(self, topic: str | Sequence[str]) -> list[int]:
        """The ids of every event with this topic, or any of these spellings of it, ascending."""
        names = [topic] if isinstance(topic, str) else list(topic)
        sql = f"SELECT DISTINCT event_id FROM topics WHERE topic IN ({_marks(names)}) ORDER BY event_id"
        return [row[0] for row in await self._rows(sql, names)]

    async def topic_months(self, topic: str | Sequence[str]) -> list[tuple[str, int]]:
        """How many events of a topic (or of any of these spellings of it) each month has, oldest
        first: ("2016-04", 12), months with none left out."""
        names = [topic] if isinstance(topic, str) else list(topic)
        rows = await self._rows(
            "SELECT substr(date, 1, 7) AS month, count(*) FROM events"
            f" WHERE id IN (SELECT event_id FROM topics WHERE topic IN ({_marks(names)})) GROUP BY month"
            " ORDER BY month",
            names,
        )
        return [(row[0], row[1]) for row in rows]

    async def topic_names(self) -> list[tuple[str, int]]:
        """Every topic with its number of events, most events first (kept until the next index)."""
        if self._topics is None:
            rows = await self._rows("SELECT topic, count(*) AS n FROM topics GROUP BY topic ORDER BY n DESC, topic")
            self._topics = [(row[0], row[1]) for row in rows]
        return self._topics

    # Runs and totals

    async def stats(self) -> Stats:
        count, first, last = (await self._rows("SELECT count(*), min(date), max(date) FROM events"))[0]
        return Stats(count, _date(first), _date(last), await self.last_run())

    async def last_run(self) -> IndexRun | None:
        rows = await self._rows(
            "SELECT id, started_at, finished_at, requested_by, scanned, added, updated, removed, rejected, archive"
            " FROM index_runs ORDER BY id DESC LIMIT 1"
        )
        return IndexRun(*rows[0]) if rows else None

    async def setting(self, key: str) -> str | None:
        rows = await self._rows("SELECT value FROM settings WHERE key = ?", [key])
        return rows[0][0] if rows else None

    async def set_setting(self, key: str, value: str) -> None:
        await self.backend.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def favour_adjacent(
    index: SearchIndex, query: ParsedQuery, ranked: Ranked, headlines: Mapping[int, str], tolerant: bool = True
) -> Ranked:
    """`ranked` with its first ADJACENT_DEPTH hits re-ordered: a hit whose headline has two
    consecutive query words next to each other and in order ("car bomb", in any form the search
    matches them in; stopwords between them skipped, not a comma or other break) gains
    ADJACENT_BOOST of its score, shared over the query's pairs. The index keeps no positions,
    so the hits' headlines (by event id) are read here; `matched` is unchanged."""
    words = query.words
    if len(words) < 2:
        return ranked
    query_words: dict[str, set[int]] = defaultdict(set)  # an archive word: which query words it is a form of
    for number, word in enumerate(words):
        others = () if word in query.required else synonyms(word)  # "quoted words" as they are, as in the search
        forms = [index.term_text[term] for term, _ in index.matches(word, True, others)] if tolerant else [word]
        for form in forms:
            query_words[form].add(number)
    rescored = []
    for hit in ranked.hits[:ADJACENT_DEPTH]:
        tokens = tokenize(headlines.get(hit.event_id, ""), breaks=True)
        found = [query_words.get(token) for token in tokens if token not in QUERY_STOPWORDS]
        joined = set()  # the query's pairs, by their first word's number, found next to each other
        for here, after in pairwise(found):
            if here and after:
                joined.update(number for number in here if number + 1 in after)
        rescored.append(Hit(hit.event_id, hit.score * (1 + ADJACENT_BOOST * len(joined) / (len(words) - 1)), hit.day))
    rescored.sort(key=lambda hit: -hit.score)  # stable: equal scores keep the search's order
    return replace(ranked, hits=rescored + ranked.hits[ADJACENT_DEPTH:])


def _event(row: Sequence[object]) -> tuple[int, Event, list[list[object]]]:
    """(store id, event, its related rows) from a row of EVENTS_SQL."""
    row_id, path, day, headline, sources, related = row
    related_rows = sorted(json.loads(related))
    event = Event(
        path,
        dt.date.fromisoformat(day),
        headline,
        [Source(name, url) for _, name, url in sorted(json.loads(sources))],
        [Related(to, text, _contexts(shared)) for _, to, text, shared, _ in related_rows],
    )
    return row_id, event, related_rows


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _marks(values: Sequence[object]) -> str:
    """Placeholders for an IN (...) list."""
    return ",".join("?" * len(values))


def _contexts(text: str) -> tuple[str, ...]:
    """A related line's shared topics, stored comma-separated."""
    return tuple(part for part in map(str.strip, text.split(",")) if part)
