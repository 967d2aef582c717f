"""Following a story: which events match a follow, why one does not, and posting the new ones.

A follow matches an event when the event has every word of its query (in any spelling the
search accepts for that word, as /events finds it), has its topic, and has none of its
excluded words. The poster runs after each index run the bot sees (its own /reindex, or
`python -m bot index` run by another process): for each follow that is on, the events added
since it last looked are matched, claimed in the store (committed) and then sent, in date
order, one message per follow and run. Like the daily post, it sends through a `send`
callable the cog provides, so tests drive `FollowPoster.tick` directly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.answers import EventList, FollowPost
from bot.scheduler import BackgroundLoop, PostError
from bot.topics import topic_names
from store import Store
from store.follows import Follow, Follows
from store.search import SearchIndex, document_tokens
from store.tokens import query_tokens, tokenize

log = logging.getLogger("newsbot.follows")

CHECK_EVERY = 2.0  # seconds between looks for an index generation the poster has not handled
MAX_PER_POST = 10  # events shown in one post; the rest are named by a command that lists them


@dataclass(frozen=True)
class Rule:
    """What a follow matches: every query word, the topic, none of the excluded words."""

    query: str | None
    topic: str | None
    exclude: str | None

    @classmethod
    def of(cls, follow: Follow) -> Rule:
        return cls(follow.query, follow.topic, follow.exclude)

    @property
    def words(self) -> list[str]:
        return query_tokens(self.query) if self.query else []

    @property
    def excluded(self) -> list[str]:
        return tokenize(self.exclude) if self.exclude else []

    def describe(self) -> str:
        """ "“syria ceasefire”, topic Syrian Civil War, without “football”"."""
        parts = [f"“{self.query}”"] if self.query else []
        if self.topic:
            parts.append(f"topic {self.topic}")
        if self.exclude:
            parts.append(f"without “{self.exclude}”")
        return ", ".join(parts)


def _with_word(index: SearchIndex, word: str, since: dt.date | None, until: dt.date | None) -> set[int]:
    """Ids of the events that have this word, or a spelling of it the search accepts."""
    return {hit.event_id for hit in index.search([word], max(index.size, 1), since, until).hits}


def _excluded_word(rule: Rule, headline: str, topics: str) -> str | None:
    """The first excluded word the event has, if any."""
    tokens = set(document_tokens(headline, topics.splitlines()))
    return next((word for word in rule.excluded if word in tokens), None)


async def matching(
    store: Store,
    rule: Rule,
    among: Sequence[int] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    index: SearchIndex | None = None,
) -> list[int]:
    """Ids of the events that match the rule, in date order: among `among` (new events) if
    given, within the dates if given. `index` defaults to the store's current one."""
    index = index if index is not None else store.index
    follows = Follows(store)
    found: set[int] | None = set(among) if among is not None else None
    for word in rule.words:
        with_word = _with_word(index, word, since, until)
        found = with_word if found is None else found & with_word
        if not found:
            return []
    if rule.topic:  # in any case, as /topic counts it: "Syrian civil war" and "Syrian Civil War"
        with_topic = await follows.with_topic((await topic_names(store)).spellings_of(rule.topic), since, until)
        found = with_topic if found is None else found & with_topic
    if not found:
        return []
    return [
        row_id
        for row_id, headline, topics in await follows.texts(sorted(found))
        if _excluded_word(rule, headline, topics) is None
    ]


async def why_not(store: Store, follow: Follow, event_id: int) -> str | None:
    """Why the event does not match the follow's filters, or None if it does."""
    rule = Rule.of(follow)
    missing = [word for word in rule.words if store.index.coverage([word], event_id) <= 0]
    if missing:
        listed = ", ".join(f"“{word}”" for word in missing)
        return f"it does not have the word{'s' * (len(missing) > 1)} {listed} (nor a spelling of it)"
    texts = await Follows(store).texts([event_id])
    if not texts:
        return "it is not in the archive"
    _, headline, topics = texts[0]
    if rule.topic and rule.topic.casefold() not in {name.casefold() for name in topics.splitlines()}:
        shown = ", ".join(topics.splitlines()[:5]) or "none"
        return f"it does not have the topic {rule.topic} (its topics: {shown})"
    if (word := _excluded_word(rule, headline, topics)) is not None:
        return f"it has the excluded word “{word}”"
    return None


# (follow, what to post) -> id of the message sent; raises PostError when it cannot be posted.
Send = Callable[[Follow, FollowPost], Awaitable[int]]


def more_command(rule: Rule, first: dt.date, last: dt.date) -> str:
    """The command that lists the events a post could not show (and the others of those days)."""
    if rule.query:
        return f"/events {rule.query} from:{first.isoformat()} to:{last.isoformat()}"
    return f"/topic {rule.topic}"


class FollowPoster:
    """Posts each follow's new matching events once, after the index runs that add them."""

    def __init__(self, store: Store, send: Send) -> None:
        self.store = store
        self.follows = Follows(store)
        self.send = send
        self.handled_generation: int | None = None  # the index generation the last pass covered
        self.started = False
        self.lock = asyncio.Lock()

    async def tick(self, now: dt.datetime) -> int:
        """One pass over the follows that are on: post what is new to each; how many messages went out."""
        async with self.lock:  # one pass at a time in this process (the claims keep it exactly once anyway)
            if not self.started:
                if abandoned := await self.follows.close_abandoned():
                    log.warning("follows: %d events claimed before a restart were not sent, and will not be", abandoned)
                self.started = True
            index, generation = self.store.index, self.store.generation
            top = int(index.event_ids.max()) if index.size else 0
            sent = 0
            for follow in await self.follows.active():
                if follow.seen_up_to >= top:
                    continue
                try:
                    sent += await self._post(follow, index, top, now)
                except Exception:
                    log.exception("follow #%s: the pass failed; trying again after the next index run", follow.id)
            self.handled_generation = generation
            return sent

    async def _post(self, follow: Follow, index: SearchIndex, top: int, now: dt.datetime) -> bool:
        rule = Rule.of(follow)
        ids = index.event_ids
        new = ids[(ids > follow.seen_up_to) & (ids <= top)]
        matched = await matching(self.store, rule, new.tolist(), index=index) if len(new) else []
        # Claimed (committed) before sending: after a restart, it is never sent again.
        if not await self.follows.claim(follow, top, matched, now):
            return False
        if not matched:
            return False
        events = await self.store.events_by_id(matched[:MAX_PER_POST])
        shown = [event_id for event_id in matched[:MAX_PER_POST] if event_id in events]
        rest = await self.store.events_by_id(matched[MAX_PER_POST:]) if len(matched) > MAX_PER_POST else {}
        dates = sorted(event.date for event in rest.values())
        more = more_command(rule, dates[0], dates[-1]) if dates else None
        listing = EventList(f"New events for follow #{follow.id}: {rule.describe()}", shown, events)
        post = FollowPost(follow.id, rule.describe(), listing, len(matched), more)
        try:
            message_id = await self.send(follow, post)
        except Exception as error:
            reason = str(error) if isinstance(error, PostError) else f"unexpected error: {error!r}"
            log.warning("follow #%s in guild %s paused: %s", follow.id, follow.guild_id, reason)
            await self.follows.finish(follow.id, top, now, error=reason)
            await self.follows.pause(follow.id, reason, now)
            return False
        await self.follows.finish(follow.id, top, now, message_id=message_id)
        log.info("follow #%s posted %d events to channel %s", follow.id, len(matched), follow.channel_id)
        return True


class FollowWatch(BackgroundLoop):
    """Runs the poster once the bot is ready, then whenever the store's index generation is one
    it has not handled (a /reindex, or an index run by another process that the bot switched to)."""

    name = "newsbot-follows"

    def __init__(self, poster: FollowPoster, ready: Callable[[], Awaitable[object]], clock: Callable[[], dt.datetime]):
        super().__init__()
        self.poster = poster
        self.ready = ready
        self.clock = clock

    async def _run(self) -> None:
        await self.ready()
        while True:
            if self.poster.store.generation != self.poster.handled_generation:
                try:
                    await self.poster.tick(self.clock())
                except Exception:
                    log.exception("follows: the pass failed; trying again in %.0f s", CHECK_EVERY)
            await asyncio.sleep(CHECK_EVERY)
