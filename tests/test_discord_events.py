"""/events, /on and /event end to end: the real bot against the fake Discord, over three archives.

- a hostile archive written here (mentions in headlines, a 10,000-character headline, 40 sources
  with long links, 30 related events, long slugs), to hold the bot to Discord's limits;
- the bundled sample archive;
- the shared archive of 112,655 events (a private copy of the session's index).

Every assertion is on what the bot sent (the callback, edit and follow-up payloads the fake
recorded, or the messages' resulting state), not on the bot's internals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from discord import app_commands
from fake_discord import EPHEMERAL, FakeDiscord, InteractionRecord

import bot.discord.views
from bot.config import Settings
from bot.discord.client import NewsBot
from store import Store
from store.ingest import IndexReport, index_archive

JSON = dict[str, Any]

CHANNEL_MESSAGE, UPDATE_MESSAGE = 4, 7
BUTTON, SELECT = 2, 3
ARCHIVE_URL = "https://archive.example.org/current-events"
NO_PINGS = {"parse": []}

# Discord's limits.
TITLE, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER, AUTHOR = 256, 4096, 256, 1024, 2048, 256
TOTAL, EMBEDS, FIELDS, CONTENT = 6000, 10, 25, 2000
OPTIONS, LABEL = 25, 100

# The hostile archive.
PINGS = "@everyone @here <@123456789012345678> <@&456789012345678901> <@123> <@&456> look: **Palmyra** _ping_ `test`"
LONG_SLUG = (
    "the-syrian-army-and-its-allies-recapture-the-ancient-city-of-palmyra-from-the-islamic-state-of-iraq-and-the-lev"
)
WORDS = "palmyra siege report tells of the long and winding road through the desert city ruins".split()
HUGE_HEADLINE = " ".join(WORDS[n % len(WORDS)] for n in range(2000))[:10_000]
DAY = dt.date(2016, 4, 3)
PAGING_DAYS = [dt.date(2016, 4, 10) + dt.timedelta(days=n) for n in range(12)]


def event_path(day: dt.date, slug: str) -> str:
    return f"news/{day:%Y}/{day:%m}/{day.day}/{slug}.md"


def write_event(
    root: Path,
    day: dt.date,
    slug: str,
    headline: str,
    sources: Sequence[tuple[str, str | None]] = (),
    related: Sequence[tuple[str, str, list[str]]] = (),
) -> str:
    """One event file in the archive format; returns its path."""
    path = event_path(day, slug)
    lines = [
        f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day:%Y}/{day:%m}/{day.day}/index.md)",
        "",
        f"# {headline} ",
    ]
    if sources:
        lines += ["", "### Source:", ""]
        lines += [f"{n}. [{name}]({url})" if url else f"{n}. {name}" for n, (name, url) in enumerate(sources, 1)]
    if related:
        lines += ["", "### Related:", ""]
        lines += [
            f"{n}. [{text} ](/{target}) _Context: {', '.join(topics)}_"
            for n, (target, text, topics) in enumerate(related, 1)
        ]
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Hostile:
    """Paths and headlines of the hostile archive."""

    pings = event_path(DAY, "pings")
    huge = event_path(DAY, "huge")
    paging: ClassVar[list[str]] = [event_path(day, f"{LONG_SLUG}-{n}") for n, day in enumerate(PAGING_DAYS)]
    paging_headlines: ClassVar[list[str]] = [
        f"Palmyra siege report number {n} from the desert" for n in range(len(PAGING_DAYS))
    ]
    missing = event_path(dt.date(2015, 1, 1), "not-in-the-archive")
    # Seven related events not in the archive whose rows fill a 1024-character field to 1023.
    crowded = event_path(dt.date(2016, 3, 20), "crowded")
    crowded_lengths: ClassVar[list[int]] = [136, 136, 136, 136, 135, 135, 150]
    odd = event_path(dt.date(2016, 3, 21), "odd slug (draft)")


def build_hostile_archive(root: Path) -> None:
    write_event(
        root,
        DAY,
        "pings",
        PINGS,
        sources=[("@everyone Reuters <@123456789012345678>", "http://example.com/a"), ("AP", None)],
        related=[(Hostile.paging[0], f"{Hostile.paging_headlines[0]} @everyone", ["@here Syria", "Palmyra"])],
    )
    long_url = "https://news.example.com/" + "x" * 280
    related = [
        (path, text, ["Syrian Civil War", f"Topic {n}"])
        for n, (path, text) in enumerate(zip(Hostile.paging, Hostile.paging_headlines))
    ]
    related += [(Hostile.pings, PINGS, ["@everyone"]), (Hostile.missing, HUGE_HEADLINE, ["Gone"])]
    related += [(event_path(dt.date(2014, 1, n), f"missing-{n}"), f"Missing event {n}", ["Gone"]) for n in range(1, 17)]
    write_event(
        root,
        DAY,
        "huge",
        HUGE_HEADLINE,
        sources=[(f"Source {n} @everyone", f"{long_url}{n}") for n in range(40)],
        related=related,
    )
    write_event(
        root,
        dt.date(2016, 3, 20),
        "crowded",
        "A crowded day",
        related=[
            (event_path(dt.date(2013, 5, n + 10), f"crowd-{n}"), "x" * length, ["Crowd"])
            for n, length in enumerate(Hostile.crowded_lengths)
        ],
    )
    write_event(root, dt.date(2016, 3, 21), "odd slug (draft)", "A file name with spaces and brackets")
    for path_day, n, headline in zip(PAGING_DAYS, range(len(PAGING_DAYS)), Hostile.paging_headlines):
        write_event(
            root,
            path_day,
            f"{LONG_SLUG}-{n}",
            headline,
            sources=[(f"Outlet {n}", f"https://outlet.example.com/{n}")],
            related=[(Hostile.pings, PINGS, ["Palmyra"]), (Hostile.huge, HUGE_HEADLINE, ["Palmyra"])],
        )


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    root = tmp_path / "hostile"
    build_hostile_archive(root)
    db = tmp_path / "hostile.sqlite3"
    report = index_archive(db, root)
    assert report.events == 4 + len(PAGING_DAYS), report
    return db


@pytest.fixture(scope="module")
def shared_copy(shared_index: tuple[Path, IndexReport], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shared index: the bot writes its settings (the synced commands' hash)."""
    copy = tmp_path_factory.mktemp("shared-copy") / "shared.sqlite3"
    source = sqlite3.connect(f"file:{shared_index[0]}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    with contextlib.closing(source), contextlib.closing(target):
        source.backup(target)
    return copy


def settings(db: Path, archive_url: str | None = None) -> Settings:
    return Settings(archive=db.parent, db=db, archive_url=archive_url, token=None)


@contextlib.asynccontextmanager
async def started(
    db: Path, archive_url: str | None = None, bot_class: type[NewsBot] = NewsBot, fake: FakeDiscord | None = None
) -> AsyncIterator[tuple[FakeDiscord, NewsBot]]:
    """The fake Discord (a new one unless given) and a NewsBot connected to it; the store is closed on exit."""
    async with contextlib.AsyncExitStack() as stack:
        if fake is None:
            fake = await stack.enter_async_context(FakeDiscord())
        store = await Store.open(db)
        stack.push_async_callback(store.close)
        bot = bot_class(store, settings(db, archive_url), guild_ready_timeout=0.05)
        await stack.enter_async_context(fake.running(bot))
        yield fake, bot
    assert fake.unhandled == []


@pytest.fixture
async def hostile(hostile_db: Path) -> AsyncIterator[FakeDiscord]:
    async with started(hostile_db) as (fake, _):
        yield fake
        check_everything_sent(fake)


@pytest.fixture
async def hostile_linked(hostile_db: Path) -> AsyncIterator[FakeDiscord]:
    async with started(hostile_db, archive_url=ARCHIVE_URL + "/") as (fake, _):
        yield fake
        check_everything_sent(fake)


# What the bot sent, and checks that hold for all of it.


def sent_payloads(fake: FakeDiscord) -> Iterator[JSON]:
    """Every message body the bot sent: callback data, edits and follow-ups."""
    for record in fake.interactions:
        for callback in record.callbacks:
            if callback["type"] in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
                yield callback.get("data") or {}
        yield from record.followups
    for _, payload in fake.edits:
        yield payload


def embed_length(embed: JSON) -> int:
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields") or [])
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def check_limits(message: JSON) -> None:
    """Discord's limits for a message, its embeds and its components."""
    assert len(message.get("content") or "") <= CONTENT
    embeds = message.get("embeds") or []
    assert len(embeds) <= EMBEDS
    for embed in embeds:
        assert len(embed.get("title") or "") <= TITLE
        assert len(embed.get("description") or "") <= DESCRIPTION
        assert len(embed.get("fields") or []) <= FIELDS
        for field in embed.get("fields") or []:
            assert 0 < len(field["name"]) <= FIELD_NAME
            assert 0 < len(field["value"]) <= FIELD_VALUE
        assert len((embed.get("footer") or {}).get("text") or "") <= FOOTER
        if embed.get("url"):
            assert re.fullmatch(r"https?://\S+", embed["url"]), embed["url"]
    assert sum(embed_length(embed) for embed in embeds) <= TOTAL
    for component in components(message):
        if component["type"] == SELECT:
            assert 1 <= len(component["options"]) <= OPTIONS
            values = [option["value"] for option in component["options"]]
            assert len(set(values)) == len(values)
            for option in component["options"]:
                assert 1 <= len(option["label"]) <= LABEL
        if component["type"] == BUTTON:
            assert len(component.get("label") or "") <= 80


def check_no_pings(message: JSON) -> None:
    """Archive text is inert: no live @everyone/@here, and the message allows no mentions."""
    text = visible_text(message)
    assert not re.search(r"@(everyone|here)", text), text
    assert not re.search(r"<@&?\d{17,20}>", text), text


def check_everything_sent(fake: FakeDiscord) -> None:
    for payload in sent_payloads(fake):
        check_limits(payload)
        check_no_pings(payload)
        if "content" in payload or "embeds" in payload:
            assert payload.get("allowed_mentions") == NO_PINGS, payload
    for message in fake.messages.values():
        if message["author"]["id"] == str(fake.app_id):
            assert message.get("allowed_mentions") == NO_PINGS, message


def visible_text(message: JSON) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or "", (embed.get("footer") or {}).get("text", "")]
        parts += [f"{field['name']}\n{field['value']}" for field in embed.get("fields") or []]
    return "\n".join(parts)


def components(message: JSON) -> list[JSON]:
    return [child for row in message.get("components") or [] for child in row.get("components", [row])]


def button(message: JSON, label: str) -> JSON:
    return next(c for c in components(message) if c["type"] == BUTTON and c.get("label") == label)


def unbolded(title: str) -> str:
    """An embed's title without the bold a search list puts on the words it matched."""
    return title.replace("**", "")


def select(message: JSON) -> JSON:
    return next(c for c in components(message) if c["type"] == SELECT)


def field(embed: JSON, name: str) -> str:
    return next(f["value"] for f in embed.get("fields") or [] if f["name"] == name)


async def reply(fake: FakeDiscord, command: str, options: JSON, **kwargs: Any) -> tuple[InteractionRecord, JSON]:
    """Run a slash command; its record and the message it got once the bot is quiet."""
    record = await fake.slash(command, options, **kwargs)
    return record, await record.final()


def check_refusal(record: InteractionRecord, message: JSON, *expected: str) -> None:
    """An error: one short ephemeral text message, no embeds or buttons, that says what to do."""
    callback = record.callbacks[0]
    assert callback["type"] == CHANNEL_MESSAGE
    assert callback["data"]["flags"] & EPHEMERAL
    assert message["flags"] & EPHEMERAL
    assert message["embeds"] == [] and message["components"] == []
    assert len(message["content"]) <= 300, message["content"]
    for text in expected:
        assert text in message["content"], message["content"]


# Slash command sync


class WithDummy(NewsBot):
    """The same bot with one more command: a changed tree."""

    async def setup_hook(self) -> None:
        @app_commands.command(name="dummy", description="A command added since the last sync")
        async def dummy(interaction: Any) -> None:
            pass

        self.tree.add_command(dummy)
        await super().setup_hook()


async def test_commands_sync_only_when_the_tree_changed(hostile_db: Path) -> None:
    async with FakeDiscord() as fake:
        async with started(hostile_db, fake=fake):
            assert len(fake.command_syncs) == 1
            first = fake.command_syncs[0]
            assert first.guild_id is None
            assert {"events", "on", "event"} <= {command["name"] for command in first.commands}

        async with started(hostile_db, fake=fake):  # same tree: no PUT
            assert len(fake.command_syncs) == 1
            assert [r for r in fake.requests if r.method == "PUT"] == [("PUT", f"/applications/{fake.app_id}/commands")]

        async with started(hostile_db, fake=fake, bot_class=WithDummy):  # changed tree: PUT again
            assert len(fake.command_syncs) == 2
            assert "dummy" in {command["name"] for command in fake.command_syncs[1].commands}

        async with started(hostile_db, fake=fake, bot_class=WithDummy) as (_, newsbot):
            assert len(fake.command_syncs) == 2
            # What `python -m bot sync --guild ID` does: always send, to that server only.
            assert await newsbot.sync_commands(fake.guild_id) is True
            assert len(fake.command_syncs) == 3
            guild_sync = fake.command_syncs[2]
            assert guild_sync.guild_id == fake.guild_id
            assert {"events", "on", "event", "dummy"} <= {command["name"] for command in guild_sync.commands}
            assert await newsbot.sync_commands(fake.guild_id, force=False) is False
            assert len(fake.command_syncs) == 3

        async with started(hostile_db, fake=fake):  # back to the old tree: it changed again
            assert len(fake.command_syncs) == 4
            assert "dummy" not in {command["name"] for command in fake.command_syncs[3].commands}


# /events


async def test_events_replies_with_a_page_of_embeds_buttons_and_a_menu(hostile: FakeDiscord) -> None:
    record, message = await reply(hostile, "events", {"query": "palmyra siege report"})
    callback = record.callbacks[0]
    assert callback["type"] == CHANNEL_MESSAGE
    data = callback["data"]
    assert not (data.get("flags") or 0) & EPHEMERAL  # a list is for everyone in the channel
    assert data["allowed_mentions"] == NO_PINGS
    assert "Palmyra siege report" in data["content"] or "palmyra siege report" in data["content"]
    assert "page 1 of 3" in data["content"]
    assert len(data["embeds"]) == 5
    assert button(data, "Previous")["disabled"] is True
    assert button(data, "Next")["disabled"] is False
    menu = select(data)
    assert len(menu["options"]) == 5
    assert all(re.match(r"\d{4}-\d{2}-\d{2} ", option["label"]) for option in menu["options"])
    assert message["embeds"] == data["embeds"]


async def test_next_button_pages_to_the_next_page(hostile: FakeDiscord) -> None:
    record, first = await reply(hostile, "events", {"query": "palmyra siege report"})
    click = await hostile.click(record, button(first, "Next")["custom_id"], user=hostile.member)
    assert click.type == 3  # a component interaction
    callback = await click.response()
    assert callback["type"] == UPDATE_MESSAGE  # the list's own message is edited
    second = callback["data"]
    assert "page 2 of 3" in second["content"]
    assert {e["title"] for e in second["embeds"]}.isdisjoint({e["title"] for e in first["embeds"]})
    assert button(second, "Previous")["disabled"] is False
    assert second["allowed_mentions"] == NO_PINGS
    message = await click.final()
    assert message["id"] == first["id"] and "page 2 of 3" in message["content"]

    last = await hostile.click(record, button(message, "Next")["custom_id"])
    final = await last.final()
    assert "page 3 of 3" in final["content"]
    assert button(final, "Next")["disabled"] is True
    back = await hostile.click(record, button(final, "Previous")["custom_id"])
    again = await back.final()
    assert "page 2 of 3" in again["content"]
    assert again["embeds"] == second["embeds"]  # a page's events are let go once shown, and fetched again
    menu = select(again)
    opened = await hostile.click(record, menu["custom_id"], values=[menu["options"][0]["value"]])
    (embed,) = (await opened.response())["data"]["embeds"]
    assert embed["title"] == unbolded(second["embeds"][0]["title"])  # a list shows the matched words in bold
    start = await hostile.click(record, button(again, "Previous")["custom_id"])
    assert (await start.final())["embeds"] == first["embeds"]


async def test_events_gone_since_the_list_was_made_are_skipped(hostile_db: Path) -> None:
    """A re-index may remove events while a list waits: its pages show the rest, and its menu
    opens the events it names."""
    async with started(hostile_db) as (fake, _):
        record, first = await reply(fake, "events", {"query": "palmyra siege report"})
        second = await (await fake.click(record, button(first, "Next")["custom_id"])).final()
        third = await (await fake.click(record, button(second, "Next")["custom_id"])).final()
        gone = [unbolded(e["title"]) for e in [second["embeds"][1], *third["embeds"]]]
        with contextlib.closing(sqlite3.connect(hostile_db)) as conn, conn:
            headlines = [title.replace("\u200b", "").replace("\\", "") for title in gone]  # made inert for show
            conn.executemany("DELETE FROM events WHERE headline = ?", [(headline,) for headline in headlines])
            assert conn.total_changes == len(gone)

        again = await (await fake.click(record, button(third, "Previous")["custom_id"])).final()
        kept = [unbolded(embed["title"]) for embed in second["embeds"] if unbolded(embed["title"]) not in gone]
        assert [unbolded(embed["title"]) for embed in again["embeds"]] == kept
        menu = select(again)
        assert [option["label"].split(" ", 1)[1] for option in menu["options"]] == kept  # "date headline"
        opened = await fake.click(record, menu["custom_id"], values=[menu["options"][1]["value"]])
        (embed,) = (await opened.response())["data"]["embeds"]
        assert embed["title"] == kept[1]

        empty = await (await fake.click(record, button(again, "Next")["custom_id"])).final()
        assert "page 3 of 3" in empty["content"] and empty["embeds"] == []
        assert select(empty)["disabled"] is True


async def test_a_click_by_someone_else_is_refused(hostile: FakeDiscord) -> None:
    record, first = await reply(hostile, "events", {"query": "palmyra siege report"}, user=hostile.member)
    other = hostile.add_user("someone-else")
    click = await hostile.click(record, button(first, "Next")["custom_id"], user=other)
    callback = await click.response()
    assert callback["type"] == CHANNEL_MESSAGE
    assert callback["data"]["flags"] & EPHEMERAL
    assert "Only the person who ran this command" in callback["data"]["content"]
    menu = await hostile.click(record, select(first)["custom_id"], user=other, values=["0"])
    assert (await menu.response())["data"]["flags"] & EPHEMERAL
    await record.final()
    assert "page 1 of 3" in record.message["content"]  # not paged by them
    assert [e["title"] for e in record.message["embeds"]] == [e["title"] for e in first["embeds"]]


async def test_the_menu_on_a_list_opens_one_event(hostile: FakeDiscord) -> None:
    record, first = await reply(hostile, "events", {"query": "palmyra siege report"})
    menu = select(first)
    chosen = menu["options"][1]
    click = await hostile.click(record, menu["custom_id"], values=[chosen["value"]])
    callback = await click.response()
    assert callback["type"] == CHANNEL_MESSAGE
    assert callback["data"]["flags"] & EPHEMERAL  # only the asker sees it
    (embed,) = callback["data"]["embeds"]
    assert embed["title"] == unbolded(first["embeds"][1]["title"])
    assert embed["footer"]["text"].startswith("news/")
    assert record.message["content"] == first["content"]  # the list stays


async def test_a_hostile_headline_does_not_ping(hostile: FakeDiscord) -> None:
    record, message = await reply(hostile, "events", {"query": "ping test look"})
    assert record.callbacks[0]["data"]["allowed_mentions"] == NO_PINGS
    embed = message["embeds"][0]
    assert "everyone" in embed["title"] and "here" in embed["title"]
    check_no_pings(message)
    assert "@\u200beveryone" in embed["title"]  # shown as text
    assert "123456789012345678" in embed["title"]

    _, detail = await reply(hostile, "event", {"event": Hostile.pings})
    check_no_pings(detail)
    assert "Reuters" in detail["embeds"][0]["description"]
    assert "Syria" in field(detail["embeds"][0], "Topics")

    check_everything_sent(hostile)
    assert all(message.get("mention_everyone") is False for message in hostile.messages.values())


async def test_a_10000_character_headline_is_cut_with_an_ellipsis(hostile: FakeDiscord) -> None:
    _, message = await reply(hostile, "event", {"event": Hostile.huge})
    (embed,) = message["embeds"]
    title = embed["title"]
    assert 200 < len(title) <= TITLE
    assert title.endswith("…")
    assert HUGE_HEADLINE.startswith(title[:-1].rstrip())  # cut between words, nothing mangled
    assert not title[:-1].endswith("\\")
    check_limits(message)

    _, listed = await reply(hostile, "events", {"query": "winding road desert"})
    check_limits(listed)
    assert any(e["title"].endswith("…") for e in listed["embeds"])
    assert all(len(option["label"]) <= LABEL for option in select(listed)["options"])
    choices = await hostile.autocomplete("event", {"event": "winding road"}, "event")
    assert choices and all(1 <= len(choice["name"]) <= LABEL for choice in choices)


async def test_every_message_stays_inside_discords_limits(hostile_linked: FakeDiscord) -> None:
    fake = hostile_linked
    for command, options in [
        ("events", {"query": "palmyra"}),
        ("events", {"query": "winding road desert city ruins"}),
        ("on", {"date": "2016-04-03"}),
        ("event", {"event": Hostile.huge}),
        ("event", {"event": Hostile.pings}),
        ("event", {"event": Hostile.paging[0]}),
    ]:
        record, message = await reply(fake, command, options)
        check_limits(message)
        if any(c["type"] == SELECT for c in components(message)):
            menu = select(message)
            click = await fake.click(record, menu["custom_id"], values=[menu["options"][0]["value"]])
            check_limits(await click.final())
    check_everything_sent(fake)


async def test_a_field_filled_to_the_brim_still_counts_what_it_left_out(hostile: FakeDiscord) -> None:
    _, message = await reply(hostile, "event", {"event": Hostile.crowded})
    (embed,) = message["embeds"]
    related = field(embed, "Related")
    assert len(related) <= FIELD_VALUE
    assert related.endswith("… and 2 more")
    assert related.count("(not in the archive)") == 5


# Errors


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("events", {"query": "zebra xylophone"}, ["The archive never uses", "try other words"]),
        ("events", {"query": "palmyra " * 40}, ["characters long", "keep it under 200"]),
        ("events", {"query": "palmyra", "from": "next tuesday"}, ["not a date I can read", "2016-04-03"]),
        ("events", {"query": "palmyra", "from": "2017", "to": "2016"}, ["The range is empty"]),
        ("events", {"query": "palmyra", "from": "2020"}, ["No events match", "wider date range"]),
        ("on", {"date": "the 45th of Smarch"}, ["not a date I can read", "Try", "3 April 2016"]),
        ("on", {"date": "2016-02-30"}, ["2016-02-30"]),
        ("event", {"event": "news/2016/04/3/nothing-here.md"}, ["No event at", "/events", "/on"]),
    ],
)
async def test_errors_are_short_ephemeral_messages_that_say_what_to_do(
    hostile: FakeDiscord, command: str, options: JSON, expected: list[str]
) -> None:
    record, message = await reply(hostile, command, options)
    check_refusal(record, message, *expected)
    assert record.callbacks[0]["data"]["allowed_mentions"] == NO_PINGS


async def test_hostile_input_echoed_back_does_not_ping(hostile: FakeDiscord) -> None:
    _, message = await reply(hostile, "events", {"query": "@everyone <@&456789012345678901> ping"})
    assert "everyone" in message["content"] and "456789012345678901" in message["content"]
    check_no_pings(message)
    record, message = await reply(hostile, "events", {"query": "palmyra", "to": "@here <@123456789012345678>"})
    check_refusal(record, message, "not a date I can read", "here", "123456789012345678")
    check_no_pings(message)
    record, message = await reply(hostile, "on", {"date": "@everyone " + "x" * 5000})
    check_refusal(record, message, "not a date I can read")
    check_no_pings(message)
    record, message = await reply(hostile, "events", {"query": "palmyra", "to": "@everyone " + "x" * 5000})
    check_refusal(record, message, "not a date I can read")
    check_no_pings(message)


# /on


async def test_on_lists_the_events_of_a_day(hostile: FakeDiscord) -> None:
    record, message = await reply(hostile, "on", {"date": "3 April 2016"})
    assert record.callbacks[0]["type"] == CHANNEL_MESSAGE
    assert "3 April 2016" in message["content"] and "2 events" in message["content"]
    assert len(message["embeds"]) == 2
    assert all("3 April 2016" in e["description"] for e in message["embeds"])
    assert button(message, "Next")["disabled"] is True


async def test_on_a_day_without_events_names_the_nearest_days(hostile: FakeDiscord) -> None:
    record, message = await reply(hostile, "on", {"date": "2016-04-05"})
    check_refusal(record, message, "No events on Tuesday 5 April 2016", "3 April 2016", "10 April 2016")
    assert "/on 2016-04-03" in message["content"] and "/on 2016-04-10" in message["content"]
    record, message = await reply(hostile, "on", {"date": "2030-01-01"})
    check_refusal(record, message, "21 April 2016")


# /event


async def test_event_shows_sources_links_topics_and_related_with_dates(hostile_linked: FakeDiscord) -> None:
    fake = hostile_linked
    record, message = await reply(fake, "event", {"event": Hostile.paging[0]})
    assert record.callbacks[0]["type"] == CHANNEL_MESSAGE
    assert not (message["flags"] & EPHEMERAL)
    (embed,) = message["embeds"]
    assert embed["title"] == Hostile.paging_headlines[0]
    assert embed["url"] == f"{ARCHIVE_URL}/{Hostile.paging[0]}"
    assert "10 April 2016" in embed["description"]
    assert "[Outlet 0](https://outlet.example.com/0)" in embed["description"]
    related = field(embed, "Related")
    assert "`2016-04-03` [" in related and f"]({ARCHIVE_URL}/{Hostile.pings})" in related
    assert f"]({ARCHIVE_URL}/{Hostile.huge})" in related
    assert field(embed, "Topics") == "Palmyra"
    assert embed["footer"]["text"] == Hostile.paging[0]

    # The related events in the archive are in the menu; opening one edits the message in place.
    menu = select(message)
    assert [option["label"][:10] for option in menu["options"]] == ["2016-04-03", "2016-04-03"]
    click = await fake.click(record, menu["custom_id"], values=[menu["options"][0]["value"]])
    callback = await click.response()
    assert callback["type"] == UPDATE_MESSAGE
    (opened,) = callback["data"]["embeds"]
    assert opened["footer"]["text"] == Hostile.pings
    assert opened["url"] == f"{ARCHIVE_URL}/{Hostile.pings}"
    assert "[AP" not in opened["description"] and "AP" in opened["description"]  # a source without a link
    assert (await click.final())["id"] == message["id"]


async def test_event_related_links_keep_their_headlines_with_long_urls(hostile_linked: FakeDiscord) -> None:
    _, message = await reply(hostile_linked, "event", {"event": Hostile.huge})
    (embed,) = message["embeds"]
    related = field(embed, "Related")
    rows = related.splitlines()
    assert rows[0].startswith("`2016-04-10` [Palmyra siege report number 0 from the desert](")
    assert rows[-1].startswith("… and ") and rows[-1].endswith(" more")
    for row in rows[:-1]:
        assert re.fullmatch(r"`\d{4}-\d{2}-\d{2}` \[[^\]]+\]\(https://\S+\)( \(not in the archive\))?", row), row
    # All 40 sources cannot fit: those shown are whole links, and the rest are counted.
    description = embed["description"]
    assert re.search(r"\[Source 0 \\?@\u200beveryone\]\(https://news\.example\.com/x+0\)", description)
    assert re.search(r"and \d+ more", description)
    assert description.count("](") == description.count(")")  # no link cut in half
    topics = field(embed, "Topics")
    assert "Syrian Civil War" in topics and "Gone" in topics
    assert len(select(message)["options"]) == len(PAGING_DAYS) + 1  # in the archive only, none missing


async def test_archive_links_are_percent_encoded(hostile_linked: FakeDiscord) -> None:
    _, message = await reply(hostile_linked, "event", {"event": Hostile.odd})
    (embed,) = message["embeds"]
    assert embed["url"] == f"{ARCHIVE_URL}/news/2016/03/21/odd%20slug%20%28draft%29.md"
    assert embed["footer"]["text"] == Hostile.odd


async def test_without_an_archive_url_there_are_no_archive_links(hostile: FakeDiscord) -> None:
    _, message = await reply(hostile, "event", {"event": Hostile.paging[0]})
    (embed,) = message["embeds"]
    assert "url" not in embed or embed["url"] is None
    assert "](" not in field(embed, "Related")
    assert "[Outlet 0](https://outlet.example.com/0)" in embed["description"]  # the sources' own links stay
    _, listed = await reply(hostile, "events", {"query": "palmyra siege report"})
    assert all(not e.get("url") for e in listed["embeds"])


def test_the_archive_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file here
    monkeypatch.setenv("NEWSBOT_ARCHIVE_URL", ARCHIVE_URL + "/")
    assert Settings.load(db=str(tmp_path / "x.sqlite3")).archive_url == ARCHIVE_URL
    monkeypatch.delenv("NEWSBOT_ARCHIVE_URL")
    assert Settings.load(db=str(tmp_path / "x.sqlite3")).archive_url is None


async def test_autocomplete_offers_events_and_the_choice_opens_one(hostile: FakeDiscord) -> None:
    choices = await hostile.autocomplete("event", {"event": "siege report number 3"}, "event")
    assert 1 <= len(choices) <= 25
    assert choices[0]["name"].startswith("2016-04-13 Palmyra siege report number 3")
    _, message = await reply(hostile, "event", {"event": choices[0]["value"]})
    assert message["embeds"][0]["footer"]["text"] == Hostile.paging[3]
    assert await hostile.autocomplete("event", {"event": "   "}, "event") == []


# Views time out


async def test_buttons_are_disabled_when_the_view_times_out(
    hostile: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.discord.views, "TIMEOUT", 0.3)
    record, message = await reply(hostile, "events", {"query": "palmyra siege report"})
    assert not any(c.get("disabled") for c in components(message) if c["type"] == SELECT)
    edited = await record.wait_until(lambda m: all(c.get("disabled") for c in components(m)), timeout=5.0)
    assert len(components(edited)) == 3
    assert edited["content"] == message["content"]  # the page stays readable
    assert edited["embeds"] == message["embeds"]
    (edit,) = record.edits  # one PATCH of the original response, with the components disabled
    assert [c["disabled"] for c in components(edit)] == [True, True, True]

    detail_record, detail = await reply(hostile, "event", {"event": Hostile.paging[0]})
    assert not select(detail).get("disabled")
    await detail_record.wait_until(lambda m: all(c.get("disabled") for c in components(m)), timeout=5.0)
    assert [c["disabled"] for c in components(detail_record.edits[-1])] == [True]


# The log


async def test_one_log_line_per_command(hostile: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsbot.commands")
    record, first = await reply(hostile, "events", {"query": "palmyra siege report"})
    await (await hostile.click(record, button(first, "Next")["custom_id"])).final()  # a click is not a command
    await reply(hostile, "on", {"date": "2016-04-03"})
    await reply(hostile, "event", {"event": Hostile.pings})
    await reply(hostile, "on", {"date": "2016-04-05"})
    lines = [r.getMessage() for r in caplog.records if r.name == "newsbot.commands"]
    assert len(lines) == 4, lines
    expected = [("events", 14), ("on", 2), ("event", 1), ("on", 0)]
    for line, (command, count) in zip(lines, expected):
        who = f"guild={hostile.guild_id} user={hostile.member.id}"
        assert re.search(rf"command=/{command} {who} latency_ms=\d+\.\d results={count}\b", line), line
    assert lines[-1].endswith("refused")


# The sample archive


async def test_commands_over_the_sample_archive(sample_db: Path) -> None:
    async with started(sample_db) as (fake, _):
        record, message = await reply(fake, "events", {"query": "al-qaryatain"})
        assert "7 events, page 1 of 2" in message["content"]
        assert len(message["embeds"]) == 5
        click = await fake.click(record, button(message, "Next")["custom_id"])
        second = await click.final()
        assert "page 2 of 2" in second["content"] and len(second["embeds"]) == 2

        record, message = await reply(fake, "events", {"query": "qaryatayn", "from": "2016", "to": "2016"})
        assert all("2016" in e["description"] for e in message["embeds"])

        record, message = await reply(fake, "on", {"date": "2016-04-04"})
        check_refusal(record, message, "3 April 2016", "29 April 2016")

        record, message = await reply(fake, "on", {"date": "April 3, 2016"})
        assert "Events on Sunday 3 April 2016" in message["content"]
        listed = message["embeds"][0]  # a list embed has no footer (no path): open it through the menu
        click = await fake.click(record, select(message)["custom_id"], values=[select(message)["options"][0]["value"]])
        (detail,) = (await click.response())["data"]["embeds"]
        assert detail["title"] == listed["title"]
        assert detail["footer"]["text"].startswith("news/2016/04/3/")

        record, message = await reply(fake, "event", {"event": "/" + detail["footer"]["text"]})
        (embed,) = message["embeds"]
        assert embed["title"] == detail["title"] and "Related" in {f["name"] for f in embed["fields"]}

        choices = await fake.autocomplete("event", {"event": "palmyra"}, "event")
        assert len(choices) == 2
        check_everything_sent(fake)


async def test_relative_dates_count_from_the_server_s_time_zone(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 00:30 UTC on 4 April 2016 it is still 3 April in New York: a server there means 3 April by today."""
    import bot.scheduler
    from store.guilds import Guilds

    now = dt.datetime(2016, 4, 4, 0, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(bot.scheduler, "utc_now", lambda: now)
    async with FakeDiscord() as fake:
        async with await Store.open(sample_db) as store:  # the server's time zone, kept with the daily post off
            await Guilds(store).set_daily(fake.guild_id, 1, "08:00", "America/New_York", now, "test")
            await Guilds(store).daily_off(fake.guild_id, now, "test")
        async with started(sample_db, fake=fake):
            record, message = await reply(fake, "on", {"date": "today"})
            assert "Events on Sunday 3 April 2016" in message["content"]
            record, message = await reply(fake, "on", {"date": "yesterday"})
            check_refusal(record, message, "No events on Saturday 2 April 2016")
            record, message = await reply(fake, "events", {"query": "qaryatayn", "from": "today", "to": "today"})
            assert "from 3 April 2016 to 3 April 2016** — 1 event" in message["content"]
            record, message = await reply(fake, "on", {"date": "3/4/2016"})
            assert "Read 3/4/2016 as day/month, Sunday 3 April 2016" in message["content"]
            assert "Friday 4 March 2016: /on 2016-03-04." in message["content"]


# The shared archive


@pytest.mark.archive
async def test_commands_over_the_shared_archive(shared_copy: Path) -> None:
    async with started(shared_copy, archive_url=ARCHIVE_URL) as (fake, _):
        record, message = await reply(fake, "events", {"query": "earthquake"})
        assert "50 events, page 1 of 10" in message["content"]
        matched = re.search(r"The best 50 of ([\d,]+) matches; more words or a date range", message["content"])
        assert matched, message["content"]
        async with await Store.open(shared_copy) as store:
            assert int(matched[1].replace(",", "")) == len(store.index.search("earthquake", 100_000).hits) > 50
        click = await fake.click(record, button(message, "Next")["custom_id"])
        second = await click.final()
        assert "page 2 of 10" in second["content"]

        record, message = await reply(fake, "events", {"query": "earthquake", "from": "2010", "to": "2010"})
        assert all("2010" in e["description"] for e in message["embeds"])

        record, message = await reply(fake, "on", {"date": "2016-04-03"})
        assert "Events on Sunday 3 April 2016" in message["content"]
        url = message["embeds"][0]["url"]
        assert url.startswith(f"{ARCHIVE_URL}/news/2016/04/3/")

        record, detail_message = await reply(fake, "event", {"event": url.removeprefix(ARCHIVE_URL + "/")})
        (detail,) = detail_message["embeds"]
        assert detail["url"] == url
        assert detail["fields"][0]["name"] == "Related"
        menu = select(detail_message)  # every related link of the shared archive is in it
        click = await fake.click(record, menu["custom_id"], values=[menu["options"][-1]["value"]])
        opened = (await click.response())["data"]["embeds"][0]
        assert opened["footer"]["text"] != detail["footer"]["text"]

        record, message = await reply(fake, "on", {"date": "1999-12-31"})
        check_refusal(record, message, "No events on Friday 31 December 1999", "after: ")

        choices = await fake.autocomplete("event", {"event": "earthquake"}, "event")
        assert len(choices) == 25
        _, message = await reply(fake, "event", {"event": choices[0]["value"]})
        assert message["embeds"][0]["title"]

        # The longest headlines and the events with the most related links stay inside the limits.
        with contextlib.closing(sqlite3.connect(f"file:{shared_copy}?mode=ro", uri=True)) as conn:
            longest = [row[0] for row in conn.execute("SELECT path FROM events ORDER BY length(headline) DESC LIMIT 3")]
        for path in longest:
            record, message = await reply(fake, "event", {"event": path})
            check_limits(message)
        check_everything_sent(fake)
