"""Per-server settings and the record of daily posts.

Reads use the store's shared connection; each change is a transaction of its own (see
store/sqlite.py and store/postgres.py). Claims are INSERT ... ON CONFLICT DO NOTHING on a
unique row, so of several processes that see the same server, one posts.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from store.backend import Changes, Row
from store.store import Store


@dataclass(frozen=True)
class DailySettings:
    """Where and when a server gets its daily post."""

    guild_id: int
    channel_id: int
    time: str  # HH:MM, local
    timezone: str  # IANA name
    since: dt.datetime  # UTC: days whose posting time came before this are not caught up


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    daily: DailySettings | None
    timezone: str  # kept when the daily post is turned off; /onthisday uses it for "today"
    reindex_role_id: int | None


@dataclass(frozen=True)
class DailyPost:
    """One day's post: claimed, then sent or failed."""

    guild_id: int
    day: dt.date
    channel_id: int
    claimed_at: dt.datetime
    sent_at: dt.datetime | None
    message_id: int | None
    late_min: int
    error: str | None


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _utc(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


class Guilds:
    """Server settings and daily posts in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _change(self) -> AbstractAsyncContextManager[Changes]:
        """A transaction of its own: COMMIT at the end, ROLLBACK on any error."""
        return self.store.backend.change()

    async def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        return await self.store.backend.fetch(sql, params)

    # Settings

    async def get(self, guild_id: int) -> GuildSettings:
        rows = await self._rows(
            "SELECT daily_channel_id, daily_time, timezone, daily_since, reindex_role_id"
            " FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        if not rows:
            return GuildSettings(guild_id, None, "UTC", None)
        channel_id, time, timezone, since, role_id = rows[0]
        daily = DailySettings(guild_id, channel_id, time, timezone, _utc(since) or EPOCH) if channel_id else None
        return GuildSettings(guild_id, daily, timezone, role_id)

    async def daily_all(self) -> list[DailySettings]:
        """Every server with the daily post on."""
        rows = await self._rows(
            "SELECT guild_id, daily_channel_id, daily_time, timezone, daily_since FROM guild_settings"
            " WHERE daily_channel_id IS NOT NULL ORDER BY guild_id"
        )
        return [DailySettings(g, c, t, z, _utc(s) or EPOCH) for g, c, t, z, s in rows]

    async def set_daily(
        self, guild_id: int, channel_id: int, time: str, timezone: str, now: dt.datetime, by: str
    ) -> None:
        async with self._change() as conn:
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, daily_channel_id, daily_time, timezone, daily_since,"
                " updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET daily_channel_id = excluded.daily_channel_id,"
                " daily_time = excluded.daily_time, timezone = excluded.timezone,"
                " daily_since = excluded.daily_since, updated_by = excluded.updated_by,"
                " updated_at = excluded.updated_at",
                (guild_id, channel_id, time, timezone, _iso(now), by, _iso(now)),
            )

    async def daily_off(self, guild_id: int, now: dt.datetime, by: str) -> bool:
        """Turn the daily post off; False if it was not on."""
        async with self._change() as conn:
            changed = await conn.execute(
                "UPDATE guild_settings SET daily_channel_id = NULL, updated_by = ?, updated_at = ?"
                " WHERE guild_id = ? AND daily_channel_id IS NOT NULL",
                (by, _iso(now), guild_id),
            )
            return changed == 1

    async def set_reindex_role(self, guild_id: int, role_id: int | None, now: dt.datetime, by: str) -> None:
        async with self._change() as conn:
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, reindex_role_id, updated_by, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET reindex_role_id = excluded.reindex_role_id,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (guild_id, role_id, by, _iso(now)),
            )

    # Daily posts

    async def posted(self, guild_id: int, day: dt.date) -> bool:
        """Whether the day's post was claimed already (sent, failed or under way)."""
        rows = await self._rows("SELECT 1 FROM daily_posts WHERE guild_id = ? AND day = ?", (guild_id, day.isoformat()))
        return bool(rows)

    async def claim_post(self, daily: DailySettings, day: dt.date, now: dt.datetime, late_min: int) -> bool:
        """Claim the day's post before sending it: True for exactly one caller, ever.

        Nothing is claimed if the post was turned off or moved to another channel meanwhile.
        """
        async with self._change() as conn:
            changed = await conn.execute(
                "INSERT INTO daily_posts (guild_id, day, channel_id, claimed_at, late_min)"
                " SELECT guild_id, ?, daily_channel_id, ?, ? FROM guild_settings"
                " WHERE guild_id = ? AND daily_channel_id = ?"
                " ON CONFLICT (guild_id, day) DO NOTHING",
                (day.isoformat(), _iso(now), late_min, daily.guild_id, daily.channel_id),
            )
            return changed == 1

    async def finish_post(
        self, guild_id: int, day: dt.date, now: dt.datetime, message_id: int | None = None, error: str | None = None
    ) -> None:
        """Record that the claimed post was sent (message_id) or why it was not (error)."""
        async with self._change() as conn:
            await conn.execute(
                "UPDATE daily_posts SET sent_at = ?, message_id = ?, error = ? WHERE guild_id = ? AND day = ?",
                (_iso(now) if error is None else None, message_id, error, guild_id, day.isoformat()),
            )

    async def last_post(self, guild_id: int) -> DailyPost | None:
        rows = await self._rows(
            "SELECT guild_id, day, channel_id, claimed_at, sent_at, message_id, late_min, error"
            " FROM daily_posts WHERE guild_id = ? ORDER BY day DESC LIMIT 1",
            (guild_id,),
        )
        if not rows:
            return None
        guild, day, channel, claimed, sent, message, late, error = rows[0]
        return DailyPost(guild, dt.date.fromisoformat(day), channel, _utc(claimed), _utc(sent), message, late, error)
