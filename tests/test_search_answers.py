"""Search answers as people see them (issue 22): "did you mean" with the words as typed a click or
a flag away, matched words in bold, a day's events most important first, and topics that ignore
case, answer acronyms, say which name they matched and take dates; over small archives built here,
through the handlers, the command line, the console and the fake Discord."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from test_discord_events import BUTTON, UPDATE_MESSAGE, button, components, reply, started
from test_search import open_archive, path_of, slug, write_event, write_fillers

from bot.answers import EventList, Refusal
from bot.discord.render_discord import TITLE, emboldened
from bot.handlers import day_events, search_as_typed, search_events, topic_timeline
from bot.naming import CLI
from bot.terminal.cli import main
from bot.terminal.console import Console
from bot.terminal.render_text import BOLD, PLAIN
from store.ingest import index_archive
from store.store import Store

MISICK = (dt.date(2009, 8, 14), "Michael Misick resigns as premier of the Turks and Caicos Islands.")
MINISTER = (dt.date(2010, 2, 1), "The transport minister resigns over the rail strike.")


@pytest.fixture
async def misick(tmp_path: Path):
    store = await open_archive(tmp_path, [MISICK, MINISTER])
    yield store
    await store.close()


async def test_a_word_read_as_another_offers_the_words_as_typed(misick: Store) -> None:
    listing = await search_events(misick, "misik resigns")
    assert isinstance(listing, EventList)
    assert listing.showing == "misick resigns" and listing.query == "misik resigns"
    assert listing.ids[0] == (await misick.search("misick"))[0].event_id
    assert "Showing results for “misick resigns”" in (listing.note or "")
    assert "Search instead for “misik resigns” with the button below." in (listing.note or "")
    # The words as typed: "misik" is in no headline, so only "resigns" is searched, and said so.
    typed = await search_as_typed(misick, listing)
    assert isinstance(typed, EventList) and typed.showing is None and typed.exact
    assert typed.title == "Events matching “misik resigns” (as typed)"
    assert "never uses “misik”" in (typed.note or "") and typed.highlight == {"resigns"}
    # A word the archive has is never read as another.
    plain = await search_events(misick, "misick resigns")
    assert isinstance(plain, EventList) and plain.showing is None and "Search instead" not in (plain.note or "")
    only_typos = await search_as_typed(misick, EventList("", [], {}, query="misik"))
    assert isinstance(only_typos, Refusal) and "never uses “misik”" in only_typos.message


def build(tmp_path: Path, events: list[tuple[dt.date, str]]) -> Path:
    """A small archive of these events and the fillers, indexed; the store's file."""
    root = tmp_path / "archive"
    for day, headline in events:
        write_event(root, day, headline)
    write_fillers(root)
    index_archive(tmp_path / "index.sqlite3", root)
    return tmp_path / "index.sqlite3"


def test_did_you_mean_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(build(tmp_path, [MISICK, MINISTER]))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["search", *args, "--db", db])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("misik", "resigns")
    assert code == 0 and "Showing results for “misick resigns”." in out
    assert "Search instead for “misik resigns”: python -m bot search 'misik resigns' --exact" in " ".join(out.split())
    code, out, err = run("misik", "resigns", "--json")  # still an array, as before; the reading on stderr
    assert code == 0 and isinstance(json.loads(out), list) and "note: Showing results for" in err
    code, out, _ = run("misik", "resigns", "--json-object")
    found = json.loads(out)
    assert found["showing_results_for"] == "misick resigns" and found["search_instead_for"] == "misik resigns"
    assert found["events"][0]["headline"] == MISICK[1]
    code, out, _ = run("misik", "resigns", "--exact", "--json-object")
    typed = json.loads(out)
    assert typed["showing_results_for"] is None and typed["search_instead_for"] is None
    assert [event["headline"] for event in typed["events"]] == [MINISTER[1], MISICK[1]]
    code, out, _ = run("misick", "--json-object")
    assert code == 0 and json.loads(out)["showing_results_for"] is None


async def test_the_console_offers_the_words_as_typed_and_shows_matches_in_bold(misick: Store) -> None:
    console = Console(misick, bolded=True)
    text = await console.reply("/events misik resigns")
    assert "Search instead for “misik resigns”: /events misik resigns exact:yes" in " ".join(text.split())
    assert f"{BOLD}Misick{PLAIN} {BOLD}resigns{PLAIN} as premier" in text
    assert f"{BOLD}Caicos" not in text
    typed = await console.reply("/events misik resigns exact:yes")
    assert "(as typed)" in typed and "Showing results" not in typed
    # Not on a terminal (a pipe, a file): no escape codes.
    assert BOLD not in await Console(misick).reply("/events misick")


def test_only_whole_matched_words_are_bold_and_markdown_stays_escaped() -> None:
    headline = "Iran's *nuclear* deal: @everyone sees nuclearisation _talks_"
    shown = emboldened(headline, frozenset({"iran", "nuclear", "talks"}), TITLE)
    assert shown == "**Iran's** \\***nuclear**\\* deal: @\u200beveryone sees nuclearisation \\_**talks**\\_"
    assert emboldened(headline, frozenset(), TITLE) == (
        "Iran's \\*nuclear\\* deal: @\u200beveryone sees nuclearisation \\_talks\\_"
    )
    # When the bold would not fit, the headline is shown plain and cut, never with half a **.
    long = " ".join(["nuclear"] * 60)
    assert "**" not in emboldened(long, frozenset({"nuclear"}), TITLE)


async def test_discord_bolds_matches_and_a_button_searches_the_words_as_typed(tmp_path: Path) -> None:
    async with started(build(tmp_path, [MISICK, MINISTER])) as (fake, _):
        record, message = await reply(fake, "events", {"query": "misik resigns"})
        assert "Showing results for “misick resigns”" in message["content"]
        title = message["embeds"][0]["title"]
        assert title == "Michael **Misick** **resigns** as premier of the Turks and Caicos Islands."
        instead = button(message, "Search instead for misik resigns")
        click = await fake.click(record, instead["custom_id"])
        callback = await click.response()
        assert callback["type"] == UPDATE_MESSAGE  # the list is replaced in place
        typed = await click.final()
        assert "(as typed)" in typed["content"] and "never uses “misik”" in typed["content"]
        assert {embed["title"] for embed in typed["embeds"]} == {
            "The transport minister **resigns** over the rail strike.",
            "Michael Misick **resigns** as premier of the Turks and Caicos Islands.",
        }
        assert not any(
            c["type"] == BUTTON and c.get("label", "").startswith("Search instead") for c in components(typed)
        )
        # A search with every word in the archive has no such button.
        _, plain = await reply(fake, "events", {"query": "misick"})
        assert [c.get("label") for c in components(plain) if c["type"] == BUTTON] == ["Previous", "Next"]


def write_day_event(root: Path, day: dt.date, headline: str, sources: int, related: int) -> str:
    """An event with this many sources and related lines."""
    path = f"news/{day:%Y/%m}/{day.day}/{slug(headline)}.md"
    text = f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day:%Y/%m}/{day.day}/index.md)\n\n# {headline} \n"
    text += "\n### Source:\n\n" + "".join(f"{n}. Agency {n}\n" for n in range(1, sources + 1))
    if related:
        text += "\n### Related:\n\n" + "".join(
            f"{n}. [Earlier story {n} ](/news/2001/01/1/earlier-{n}.md) _Context: Politics_\n"
            for n in range(1, related + 1)
        )
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text, encoding="utf-8")
    return path


async def test_a_days_events_come_most_important_first(tmp_path: Path) -> None:
    root, day = tmp_path / "archive", dt.date(2016, 4, 3)
    minor = write_day_event(root, day, "A a minor note about a local fair.", 1, 0)
    major = write_day_event(root, day, "Z the army retakes the city.", 4, 3)
    middle = write_day_event(root, day, "M voters go to the polls.", 2, 1)
    index_archive(tmp_path / "index.sqlite3", root)
    async with await Store.open(tmp_path / "index.sqlite3") as store:
        listing = await day_events(store, "2016-04-03")
        assert isinstance(listing, EventList)
        assert [event.path for event in listing.page(0)] == [major, middle, minor]  # not by file name
        text = await Console(store).reply("/on 3 April 2016")
        assert text.index("army retakes") < text.index("voters go") < text.index("minor note")


TOPIC_EVENTS = [
    (dt.date(2012, 7, 18), "A bomb kills the defence minister in Damascus.", ["Syrian civil war"]),
    (dt.date(2013, 8, 21), "A chemical attack hits Ghouta.", ["Syrian civil war"]),
    (dt.date(2016, 12, 22), "The army retakes Aleppo.", ["Syrian Civil War"]),
    (dt.date(2015, 9, 4), "Refugees walk from Budapest to Austria.", ["Syrian Civil War refugees"]),
    (dt.date(2014, 6, 29), "Militants declare a caliphate in Mosul.", ["Islamic State of Iraq and the Levant"]),
]


def build_topics(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "archive"
    paths = [write_event(root, day, headline, names, "Earlier") for day, headline, names in TOPIC_EVENTS]
    write_fillers(root)
    index_archive(tmp_path / "index.sqlite3", root)
    return tmp_path / "index.sqlite3", paths


@pytest.fixture
async def topics(tmp_path: Path):
    db, paths = build_topics(tmp_path)
    async with await Store.open(db) as store:
        yield store, paths


async def test_topic_names_that_differ_in_case_are_one_topic(topics) -> None:
    store, paths = topics
    for typed in ("Syrian Civil War", "syrian civil war", "Syrian civil war"):
        listing = await topic_timeline(store, typed)
        assert isinstance(listing, EventList) and listing.title == "Timeline of Syrian civil war (oldest first)"
        assert [event.path for event in listing.page(0)] == paths[:3]
        assert "Also written “Syrian Civil War”." in (listing.note or "")
        assert "Close names: “Syrian Civil War refugees”." in (listing.note or "")
        assert listing.chart is not None and listing.chart.series[0].total == 3


async def test_topic_says_what_it_matched_answers_acronyms_and_takes_dates(topics) -> None:
    store, paths = topics
    listing = await topic_timeline(store, "ISIL")
    assert isinstance(listing, EventList) and listing.title.startswith(
        "Timeline of Islamic State of Iraq and the Levant"
    )
    assert "The topic “Islamic State of Iraq and the Levant” is the closest to “ISIL”." in (listing.note or "")
    listing = await topic_timeline(store, "syrian civil war", since="2013", until="2016-01-01")
    assert isinstance(listing, EventList) and [event.path for event in listing.page(0)] == [paths[1]]
    assert listing.title == "Timeline of Syrian civil war from 1 January 2013 to 1 January 2016 (oldest first)"
    empty = await topic_timeline(store, "syrian civil war", since="2020")
    assert isinstance(empty, Refusal) and empty.empty and "Try a wider date range" in empty.message
    bad = await topic_timeline(store, "syrian civil war", since="soon")
    assert isinstance(bad, Refusal) and not bad.empty
    text = await Console(store).reply("/topic syrian civil war from:2016")
    assert "army retakes Aleppo" in text and "chemical attack" not in text


async def test_events_searches_within_one_topic(topics, capsys: pytest.CaptureFixture[str]) -> None:
    store, paths = topics
    everywhere = await search_events(store, "retakes OR attack OR caliphate")
    assert isinstance(everywhere, EventList)
    assert paths[4] in {event.path for event in everywhere.page(0)}
    within = await search_events(store, "retakes OR attack OR caliphate", topic="syrian civil war")
    assert isinstance(within, EventList)
    assert {event.path for event in within.page(0)} == {paths[1], paths[2]}
    assert within.title == "Events matching “retakes OR attack OR caliphate” in the topic Syrian civil war"
    outside = await search_events(store, "caliphate", topic="Syrian Civil War")
    assert isinstance(outside, Refusal) and outside.empty
    unknown = await search_events(store, "army", topic="atlantis", naming=CLI)
    assert isinstance(unknown, Refusal) and "No topic like “atlantis”" in unknown.message
    console = await Console(store).reply("/events attack topic:Syrian Civil War")
    assert "chemical attack" in console and "in the topic Syrian civil war" in console
    assert path_of(TOPIC_EVENTS[1][:2]) == paths[1]


async def test_topics_in_discord_one_name_per_topic_dates_and_a_search_within_one(tmp_path: Path) -> None:
    db, _ = build_topics(tmp_path)
    async with started(db) as (fake, _):
        choices = await fake.autocomplete("events", {"query": "attack", "topic": "syrian civil"}, "topic")
        assert [choice["name"] for choice in choices] == ["Syrian civil war (3)", "Syrian Civil War refugees (1)"]
        _, found = await reply(fake, "events", {"query": "attack OR retakes", "topic": "Syrian Civil War"})
        assert "in the topic Syrian civil war" in found["content"]
        assert {embed["title"] for embed in found["embeds"]} == {
            "A chemical **attack** hits Ghouta.",
            "The army **retakes** Aleppo.",
        }
        _, timeline = await reply(fake, "topic", {"name": "syrian civil war", "from": "2013", "to": "2013"})
        assert "Timeline of Syrian civil war from 1 January 2013 to 31 December 2013" in timeline["content"]
        assert [embed["title"] for embed in timeline["embeds"]] == ["A chemical attack hits Ghouta."]
        _, acronym = await reply(fake, "topic", {"name": "ISIL", "from": "2014"})
        assert "closest to “ISIL”" in acronym["content"] and len(acronym["embeds"]) == 1
