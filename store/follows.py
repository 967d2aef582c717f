"""Follows: a server's standing searches, and the record of what each has posted.

Reads use the store's shared connection; each change is a transaction of its own (as in
store/guilds.py), so a change waits for a running index run without holding up searches.

Which events are new: event ids are never reused, so the events a follow has not looked at
yet are those with an id above its `seen_up_to`. Posting claims them (advances `seen_up_to`
and records each event) in one transaction before the message is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from store.backend import Changes, Row
from store.store import Store

MAX_FOLLOWS = 25  # per server
CHUNK = 500  # ids per IN (...) list
STOPPED = "the bot stopped before sending it"

FOLLOW_COLUMNS = (
    "id, guild_id, channel_id, query, topic, exclude, created_by, created_at, created_after, seen_up_to,"
    " paused, paused_at,"
    " (SELECT count(*) FROM follow_posts WHERE follow_id = follows.id AND sent_at IS NOT NULL),"
    " (SELECT max(sent_at) FROM follow_posts WHERE follow_id = follows.id)"
)
# The greater of two numbers in the SQL both databases speak (SQLite's max(a, b) is PostgreSQL's greatest).
HIGH_WATER = (
    "SELECT CASE WHEN given > kept THEN given ELSE kept END FROM (SELECT"
    " (SELECT coalesce(max(id), 0) FROM events) AS given,"
    " coalesce((SELECT CAST(value AS BIGINT) FROM settings WHERE key = 'last_event_id'), 0) AS kept) AS high"
)


@dataclass(frozen=True)
class Follow:
    """One follow: what it matches, where it posts, and how far it has looked."""

    id: int
    guild_id: int
    channel_id: int
    query: str | None
    topic: str | None
    exclude: str | None
    created_by: str
    created_at: dt.datetime
    created_after: int  # events with ids up to this were in the archive when it was created
    seen_up_to: int  # the highest event id it has looked at
    paused: str | None  # why it is paused; None while it is on
    paused_at: dt.datetime | None
    posted: int  # events posted so far
    last_posted: dt.datetime | None


@dataclass(frozen=True)
class PostRecord:
    """What became of one event for one follow."""

    claimed_at: dt.datetime
    sent_at: dt.datetime | None
    message_id: int | None
    error: str | None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _utc(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _follow(row: Sequence[object]) -> Follow:
    values = list(row)
    for at in (7, 11, 13):
        values[at] = _utc(values[at])  # type: ignore[arg-type]
    return Follow(*values)  # type: ignore[arg-type]


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK)]


class Follows:
    """The follows table and the record of posts, through the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _change(self) -> AbstractAsyncContextManager[Changes]:
        """A transaction of its own: COMMIT at the end, ROLLBACK on any error."""
        return self.store.backend.change()

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return await self.store.backend.fetch(sql, params)

    # Follows

    async def add(
        self,
        guild_id: int,
        channel_id: int,
        query: str | None,
        topic: str | None,
        exclude: str | None,
        now: dt.datetime,
        by: str,
    ) -> Follow | None:
        """A new follow that starts from now (the events in the store are never posted);
        None when the server has MAX_FOLLOWS already."""
        async with self._change() as conn:
            high = (await conn.fetch(HIGH_WATER))[0][0]
            added = await conn.fetch(
                "INSERT INTO follows (guild_id, channel_id, query, topic, exclude, created_by, created_at,"
                " created_after, seen_up_to) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?"
                " WHERE (SELECT count(*) FROM follows WHERE guild_id = ?) < ? RETURNING id",
                (guild_id, channel_id, query, topic, exclude, by, _iso(now), high, high, guild_id, MAX_FOLLOWS),
            )
            if not added:
                return None
        return await self.get(guild_id, added[0][0])

    async def get(self, guild_id: int, follow_id: int) -> Follow | None:
        sql = f"SELECT {FOLLOW_COLUMNS} FROM follows WHERE id = ? AND guild_id = ?"
        rows = await self._rows(sql, [follow_id, guild_id])
        return _follow(rows[0]) if rows else None

    async def of_guild(self, guild_id: int) -> list[Follow]:
        rows = await self._rows(f"SELECT {FOLLOW_COLUMNS} FROM follows WHERE guild_id = ? ORDER BY id", [guild_id])
        return [_follow(row) for row in rows]

    async def active(self) -> list[Follow]:
        """Every follow that is on, in every server."""
        rows = await self._rows(f"SELECT {FOLLOW_COLUMNS} FROM follows WHERE paused IS NULL ORDER BY id")
        return [_follow(row) for row in rows]

    async def remove(self, guild_id: int, follow_id: int) -> bool:
        async with self._change() as conn:
            changed = await conn.execute("DELETE FROM follows WHERE id = ? AND guild_id = ?", (follow_id, guild_id))
            return changed == 1

    async def pause(self, follow_id: int, reason: str, now: dt.datetime) -> bool:
        """Pause a follow that is on, saying why; False if it was paused already (or is gone)."""
        async with self._change() as conn:
            changed = await conn.execute(
                "UPDATE follows SET paused = ?, paused_at = ? WHERE id = ? AND paused IS NULL",
                (reason, _iso(now), follow_id),
            )
            return changed == 1

    async def resume(self, follow_id: int) -> bool:
        """Turn a paused follow on again, from now: what was added while it was paused is not posted."""
        async with self._change() as conn:
            changed = await conn.execute(
                "UPDATE follows SET paused = NULL, paused_at = NULL,"
                f" seen_up_to = CASE WHEN seen_up_to > ({HIGH_WATER}) THEN seen_up_to ELSE ({HIGH_WATER}) END"
                " WHERE id = ? AND paused IS NOT NULL",
                (follow_id,),
            )
            return changed == 1

    # Posting

    async def claim(self, follow: Follow, up_to: int, event_ids: Sequence[int], now: dt.datetime) -> bool:
        """Record that the follow has looked at every event up to `up_to` and posts `event_ids`,
        before anything is sent: True for exactly one caller, ever. Nothing is claimed if the
        follow was paused, removed or moved on meanwhile."""
        async with self._change() as conn:
            changed = await conn.execute(
                "UPDATE follows SET seen_up_to = ? WHERE id = ? AND seen_up_to = ? AND paused IS NULL",
                (up_to, follow.id, follow.seen_up_to),
            )
            if changed != 1:
                return False
            await conn.executemany(
                "INSERT INTO follow_posts (follow_id, event_id, batch, claimed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (follow_id, event_id) DO NOTHING",
                [(follow.id, event_id, up_to, _iso(now)) for event_id in event_ids],
            )
            return True

    async def finish(
        self, follow_id: int, batch: int, now: dt.datetime, message_id: int | None = None, error: str | None = None
    ) -> None:
        """Record that a claimed batch was sent (message_id) or why it was not (error)."""
        async with self._change() as conn:
            await conn.execute(
                "UPDATE follow_posts SET sent_at = ?, message_id = ?, error = ? WHERE follow_id = ? AND batch = ?",
                (_iso(now) if error is None else None, message_id, error, follow_id, batch),
            )

    async def close_abandoned(self) -> int:
        """Claims a previous run of the bot never finished (it stopped between claim and send):
        they are not sent again; marked with why. Call once at start, before posting."""
        async with self._change() as conn:
            changed = await conn.execute(
                "UPDATE follow_posts SET error = ? WHERE sent_at IS NULL AND error IS NULL", (STOPPED,)
            )
            return changed

    async def record(self, follow_id: int, event_id: int) -> PostRecord | None:
        rows = await self._rows(
            "SELECT claimed_at, sent_at, message_id, error FROM follow_posts WHERE follow_id = ? AND event_id = ?",
            [follow_id, event_id],
        )
        if not rows:
            return None
        claimed, sent, message_id, error = rows[0]
        return PostRecord(_utc(claimed) or dt.datetime.min, _utc(sent), message_id, error)

    # Reads about events, for matching

    async def high_water(self) -> int:
        """The highest event id ever given: events above it are added after now."""
        return (await self._rows(HIGH_WATER))[0][0]

    async def event_id(self, ref: str) -> int | None:
        """An event's store id from its id or its path."""
        ref = ref.strip()
        if ref.isascii() and ref.isdigit():
            rows = await self._rows("SELECT id FROM events WHERE id = ?", [int(ref)]) if len(ref) < 19 else []
        else:
            rows = await self._rows("SELECT id FROM events WHERE path = ?", [ref.lstrip("/")])
        return rows[0][0] if rows else None

    async def with_topic(
        self, topic: str | Sequence[str], since: dt.date | None = None, until: dt.date | None = None
    ) -> set[int]:
        """Ids of the events that have this topic, or any of these spellings of it, within the dates."""
        names = [topic] if isinstance(topic, str) else list(topic)
        rows = await self._rows(
            "SELECT event_id FROM topics JOIN events ON events.id = topics.event_id"
            f" WHERE topic IN ({','.join('?' * len(names))}) AND date >= ? AND date <= ?",
            [*names, (since or dt.date.min).isoformat(), (until or dt.date.max).isoformat()],
        )
        return {row[0] for row in rows}

    async def texts(self, ids: Sequence[int]) -> list[tuple[int, str, str]]:
        """(id, headline, topics joined by newlines) of these events, in date order (then path)."""
        found: list[tuple[str, str, int, str]] = []
        topics: dict[int, list[str]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            rows = await self._rows(f"SELECT date, path, id, headline FROM events WHERE id IN ({marks})", chunk)
            found += [(date, path, row_id, headline) for date, path, row_id, headline in rows]
            for event_id, topic in await self._rows(
                f"SELECT event_id, topic FROM topics WHERE event_id IN ({marks}) ORDER BY event_id, topic", chunk
            ):
                topics.setdefault(event_id, []).append(topic)
        return [(row_id, headline, "\n".join(topics.get(row_id, []))) for _, _, row_id, headline in sorted(found)]
