"""/trend, the topic chart and the message menu "Search the archive".

The counts are checked by hand on a small archive written here, and against the store's own
search (what /events counts) on the shared archive; the pictures are decoded and measured;
Discord is the fake, driven by the real client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from fake_discord import APPLICATION_COMMAND, EPHEMERAL, FakeDiscord, InteractionRecord
from PIL import Image
from test_discord_events import (
    button,
    check_everything_sent,
    check_refusal,
    reply,
    started,
    write_event,
)

from bot import charts, handlers
from bot.answers import EventList, Refusal, TrendAnswer, TrendSeries
from bot.periods import choose_step, period_starts
from store import Store
from store.ingest import IndexReport, index_archive

JSON = dict[str, Any]
MESSAGE_MENU = 3

# The small archive: (day, headline). "Qaryatain" and "Qaryatayn" are one place spelled two ways.
SMALL = [
    (dt.date(2016, 1, 5), "Floods cover the plain near Qaryatain"),
    (dt.date(2016, 1, 20), "The army retakes Qaryatayn"),
    (dt.date(2016, 1, 21), "A drought ends with floods in the south"),
    (dt.date(2016, 3, 2), "Militants leave al-Qaryatain"),
    (dt.date(2016, 3, 9), "Floods again in the north"),
    (dt.date(2016, 3, 10), "Floods and storms close schools"),
    (dt.date(2016, 3, 30), "A quiet month ends"),
    (dt.date(2017, 6, 1), "Qaryatayn rebuilds its market after the floods"),
    (dt.date(2026, 2, 1), "Ten years on, Qaryatain holds a festival"),
]


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    root = tmp_path / "small"
    for n, (day, headline) in enumerate(SMALL):
        write_event(root, day, f"event-{n}", headline, sources=[("Wire", None)])
    db = tmp_path / "small.sqlite3"
    assert index_archive(db, root).events == len(SMALL)
    return db


async def trend(db: Path, words: str, since: str | None = None, until: str | None = None) -> TrendAnswer | Refusal:
    async with await Store.open(db) as store:
        return await handlers.trend(store, words, since, until)


def by_period(answer: TrendAnswer, query: str) -> dict[str, int]:
    line = next(line for line in answer.series if line.query == query)
    return {answer.period(n): count for n, count in enumerate(line.counts) if count}


# Counting


async def test_counts_per_month_are_the_matching_events_counted_by_hand(small_db: Path) -> None:
    answer = await trend(small_db, "qaryatain, floods", "2016-01-01", "2017-12-31")

    assert isinstance(answer, TrendAnswer)
    assert answer.step == "month" and len(answer.starts) == 24
    assert answer.period(0) == "2016-01" and answer.period(23) == "2017-12"
    # Both spellings count, as /events finds both.
    assert by_period(answer, "qaryatain") == {"2016-01": 2, "2016-03": 1, "2017-06": 1}
    assert by_period(answer, "floods") == {"2016-01": 2, "2016-03": 2, "2017-06": 1}
    [places, floods] = answer.series
    assert places.peak == 0 and floods.peak == 0  # the earliest of equal months
    assert (
        answer.open_command(places, 0) == "/events qaryatain from:2016-01-05 to:2016-01-31"
    )  # the archive starts on the 5th


async def test_each_count_is_what_events_counts_for_that_period(small_db: Path) -> None:
    answer = await trend(small_db, "qaryatain, floods, army retakes", "2016-01-10", "2017-12-31")
    assert isinstance(answer, TrendAnswer)
    async with await Store.open(small_db) as store:
        for line in answer.series:
            for n, count in enumerate(line.counts):
                first, last = answer.bounds(n)
                listed = await handlers.search_events(store, line.query, first.isoformat(), last.isoformat())
                assert count == (0 if isinstance(listed, Refusal) else listed.total), (line.query, answer.period(n))
    assert answer.since == dt.date(2016, 1, 10)  # the first period starts where asked
    assert by_period(answer, "qaryatain")["2016-01"] == 1


async def test_the_step_follows_the_span(small_db: Path) -> None:
    whole = await trend(small_db, "qaryatain")
    assert isinstance(whole, TrendAnswer)
    assert whole.step == "year"  # 2016 to 2026: over ten years
    assert (whole.since, whole.until) == (dt.date(2016, 1, 5), dt.date(2026, 2, 1))  # the archive's range
    assert by_period(whole, "qaryatain") == {"2016": 3, "2017": 1, "2026": 1}
    days = await trend(small_db, "floods", "2016-03-01", "2016-03-31")
    assert isinstance(days, TrendAnswer) and days.step == "day" and len(days.starts) == 31
    assert by_period(days, "floods") == {"2016-03-09": 1, "2016-03-10": 1}
    assert "floods: most on 9 March 2016, 1 event of 2" in days.peak_line(days.series[0])


def test_step_boundaries() -> None:
    assert choose_step(dt.date(2011, 1, 1), dt.date(2020, 12, 31)) == "month"  # ten years exactly
    assert choose_step(dt.date(2011, 1, 1), dt.date(2021, 1, 1)) == "year"
    assert choose_step(dt.date(2016, 1, 1), dt.date(2016, 3, 31)) == "day"  # 91 days
    assert choose_step(dt.date(2016, 1, 1), dt.date(2016, 4, 1)) == "month"
    assert period_starts(dt.date(2015, 11, 15), dt.date(2016, 2, 1), "month") == [
        dt.date(2015, 11, 15),
        dt.date(2015, 12, 1),
        dt.date(2016, 1, 1),
        dt.date(2016, 2, 1),
    ]
    assert period_starts(dt.date(2015, 6, 1), dt.date(2017, 1, 1), "year")[1:] == [
        dt.date(2016, 1, 1),
        dt.date(2017, 1, 1),
    ]


async def test_no_match_is_a_clear_message_not_an_empty_chart(small_db: Path) -> None:
    answer = await trend(small_db, "zanzibar, quokka")
    assert isinstance(answer, Refusal)
    assert answer.message.startswith("No events match “zanzibar”, “quokka” from 5 January 2016 to 1 February 2026.")
    partly = await trend(small_db, "floods, quokka")
    assert isinstance(partly, TrendAnswer) and partly.note == "No events match “quokka”."


@pytest.mark.parametrize(
    ("words", "since", "until", "expected"),
    [
        ("", None, None, "Type some words to chart"),
        (" , ,", None, None, "Type some words to chart"),
        ("a, b, c, d, e, f, g", None, None, "at most 6"),
        ("x" * 201, None, None, "keep each search under 200"),
        ("floods", "2016-04-31", None, "not a real day"),
        ("floods", "2017", "2016", "The range is empty"),
        ("floods", "2030", None, "The archive holds events from 5 January 2016 to 1 February 2026"),
    ],
)
async def test_bad_requests_say_what_to_do(small_db: Path, words: str, since: str, until: str, expected: str) -> None:
    answer = await trend(small_db, words, since, until)
    assert isinstance(answer, Refusal) and expected in answer.message, answer


# Pictures


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.verify()  # a whole, valid PNG
    return Image.open(io.BytesIO(png))


def example(starts: list[dt.date], step: str, lines: int = 1, small: bool = False) -> TrendAnswer:
    series = tuple(
        TrendSeries(f"search number {n} with a long name", tuple((k * (n + 3)) % 97 for k in range(len(starts))))
        for n in range(lines)
    )
    return TrendAnswer(
        "Events matching several searches", step, tuple(starts), series, starts[0], starts[-1], small=small
    )


EXAMPLES = [
    example(period_starts(dt.date(2002, 1, 1), dt.date(2026, 3, 28), "year"), "year", 6),
    example(period_starts(dt.date(2011, 1, 1), dt.date(2020, 12, 31), "month"), "month", 3),
    example(period_starts(dt.date(2022, 2, 1), dt.date(2022, 3, 31), "day"), "day", 2),
    example(period_starts(dt.date(2016, 4, 3), dt.date(2016, 4, 3), "day"), "day", 1),
    example(period_starts(dt.date(2003, 5, 1), dt.date(2026, 2, 1), "month"), "month", 1, small=True),
]


@pytest.mark.parametrize("answer", EXAMPLES, ids=lambda a: f"{a.step}-{len(a.starts)}-{'small' if a.small else 'full'}")
def test_the_chart_is_a_png_of_the_stated_size_opaque_with_readable_labels(answer: TrendAnswer) -> None:
    png = charts.draw(answer)

    image = decoded(png)
    assert image.format == "PNG"
    assert image.size == (charts.WIDTH, charts.SMALL_HEIGHT if answer.small else charts.HEIGHT)
    rgba = image.convert("RGBA")
    assert rgba.getextrema()[3] == (255, 255)  # opaque: the same on Discord's dark and light themes
    assert rgba.getpixel((2, 2))[:3] == tuple(int(charts.BACKGROUND[i : i + 2], 16) for i in (1, 3, 5))

    figure = charts.figure(answer)
    figure.canvas.draw()
    [axes] = figure.axes
    assert axes.get_xlabel().startswith(charts.STEP_LABELS[answer.step]) and axes.get_ylabel().startswith("Events per")
    renderer = figure.canvas.get_renderer()
    bounds = figure.bbox
    for axis, (low, high) in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
        shown = [tick.label1 for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]  # drawn ones
        boxes = [label.get_window_extent(renderer) for label in shown if label.get_visible() and label.get_text()]
        assert len(boxes) >= 2
        for box in boxes:  # inside the picture
            assert bounds.x0 <= box.x0 and box.x1 <= bounds.x1 and bounds.y0 <= box.y0 and box.y1 <= bounds.y1
        for one, other in combinations(boxes, 2):
            assert not one.overlaps(other), (one, other)
    if answer.step in ("month", "year"):  # the x axis is dates: its labels are years (months)
        assert any(label.get_text().isdigit() and len(label.get_text()) == 4 for label in axes.get_xticklabels())


def contrast(one: str, other: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_and_lines_stand_out_from_the_background() -> None:
    assert contrast(charts.TEXT, charts.BACKGROUND) >= 7
    for colour in charts.COLOURS:
        assert contrast(colour, charts.BACKGROUND) >= 3, colour


async def test_the_cache_draws_an_answer_once_per_index_generation() -> None:
    answer = EXAMPLES[3]
    with ThreadPoolExecutor(1) as pool:
        cache = charts.Charts(pool)
        first, second = await asyncio.gather(cache.png(answer, 1), cache.png(answer, 1))
        assert first == second and cache.drawn == 1
        assert await cache.png(EXAMPLES[2], 1) != first and cache.drawn == 2
        assert await cache.png(answer, 2) == first and cache.drawn == 3  # a new generation draws again


# The command line and the console


def run_bot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, check=False, timeout=120
    )


def test_cli_writes_the_chart_and_prints_the_counts_as_json(small_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "chart.png"
    result = run_bot(
        "trend",
        "qaryatain, floods",
        "--from",
        "2016",
        "--to",
        "2017",
        "--out",
        str(out),
        "--json",
        "--db",
        str(small_db),
    )

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [line["query"] for line in data["series"]] == ["qaryatain", "floods"]
    points = data["series"][0]["points"]
    assert points[0] == {"period": "2016-01", "count": 2} and len(points) == 24
    assert {p["period"]: p["count"] for p in data["series"][1]["points"] if p["count"]} == {
        "2016-01": 2,
        "2016-03": 2,
        "2017-06": 1,
    }
    assert decoded(out.read_bytes()).size == (1200, 600)


def test_cli_text_and_errors(small_db: Path, tmp_path: Path) -> None:
    text = run_bot("trend", "floods", "--from", "2016-03-01", "--to", "2016-03-31", "--db", str(small_db))
    assert text.returncode == 0, text.stderr
    assert "floods: most on 9 March 2016, 1 event of 2 (/events floods from:2016-03-09 to:2016-03-09)" in text.stdout
    assert "2016-03-10       1" in text.stdout
    none = run_bot("trend", "quokka", "--json", "--db", str(small_db))
    assert none.returncode == 1 and "No events match “quokka”" in json.loads(none.stdout)["error"]
    unwritable = run_bot("trend", "floods", "--out", str(tmp_path / "missing" / "x.png"), "--db", str(small_db))
    assert unwritable.returncode == 1 and "Choose another --out file." in unwritable.stdout
    assert "Traceback" not in none.stderr + unwritable.stderr


def test_console_trend_shows_the_peaks(small_db: Path) -> None:
    result = run_bot(
        "console", "--db", str(small_db), stdin="/trend qaryatain, floods from:2016 to:2017\n/trend quokka\n"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "qaryatain: most in January 2016, 2 events of 4 (/events qaryatain from:2016-01-05 to:2016-01-31)"
        in result.stdout
    )
    assert "2016-01 to 2017-12" in result.stdout  # under the sparklines
    assert "No events match “quokka”" in result.stdout


# Through the fake Discord


async def test_trend_sends_the_chart_as_an_upload_the_embed_shows(small_db: Path) -> None:
    async with started(small_db) as (fake, bot):
        record, message = await reply(fake, "trend", {"words": "qaryatain, floods", "from": "2016", "to": "2017"})

        assert record.edits, "the deferred reply is filled in"
        [embed] = message["embeds"]
        assert embed["image"]["url"] == "attachment://trend.png"
        [attachment] = message["attachments"]
        assert attachment["filename"] == "trend.png"
        assert "Line chart" in attachment["description"]
        image = decoded(fake.file_bytes(attachment))  # sent as a file in a multipart request
        assert image.size == (1200, 600)
        assert (
            "**qaryatain**: most in January 2016, 2 events of 4 — `/events qaryatain from:2016-01-05 to:2016-01-31`"
            in (embed["description"])
        )
        assert "**floods**: most in January 2016" in embed["description"]
        assert not message["flags"] & EPHEMERAL

        _, again = await reply(fake, "trend", {"words": "qaryatain, floods", "from": "2016", "to": "2017"})
        assert fake.file_bytes(again["attachments"][0]) == fake.file_bytes(attachment)
        assert bot.charts.drawn == 1  # the same request in the same index generation: from the cache
        check_everything_sent(fake)


async def test_trend_without_matches_is_an_ephemeral_message(small_db: Path) -> None:
    async with started(small_db) as (fake, _):
        record, message = await reply(fake, "trend", {"words": "quokka"})
        check_refusal(record, message, "No events match “quokka”", "Try fewer or other words")
        assert message["attachments"] == [] and fake.uploads == {}


async def test_topic_shows_its_chart_above_the_timeline_on_every_page(small_db: Path, tmp_path: Path) -> None:
    root = tmp_path / "topics"
    start = dt.date(2014, 5, 1)
    for n in range(8):
        day = start + dt.timedelta(days=45 * n)
        related = [(f"news/2013/01/{n + 1}/other-{n}.md", "Another", ["Harbour Strike"])]
        write_event(root, day, f"strike-{n}", f"Dock workers strike, day {n}", related=related)
    db = tmp_path / "topics.sqlite3"
    index_archive(db, root)
    async with started(db) as (fake, _):
        record, first = await reply(fake, "topic", {"name": "Harbour Strike"})

        chart, *events = first["embeds"]
        assert chart["image"]["url"] == "attachment://topic-chart.png" and len(events) == 5
        assert "**Harbour Strike**: most in May 2014, 1 event of 8" in chart["description"]
        [attachment] = first["attachments"]
        assert decoded(fake.file_bytes(attachment)).size == (1200, 360)
        turned = await (await fake.click(record, button(first, "Next")["custom_id"])).final()
        assert turned["embeds"][0]["image"]["url"] == "attachment://topic-chart.png" and len(turned["embeds"]) == 4
        assert turned["attachments"] == first["attachments"]  # kept, not sent again
        check_everything_sent(fake)


async def test_topic_chart_counts_the_topics_events_per_month(small_db: Path) -> None:
    answer = handlers.topic_chart("X", [("2015-11", 2), ("2016-02", 5)])
    assert [answer.period(n) for n in range(len(answer.starts))] == ["2015-11", "2015-12", "2016-01", "2016-02"]
    assert answer.series[0].counts == (2, 0, 0, 5) and answer.until == dt.date(2016, 2, 29)
    assert not answer.searchable and answer.small


async def search_the_archive(fake: FakeDiscord, message: JSON) -> InteractionRecord:
    """Apps -> "Search the archive" on a message (the fake's slash() builds only slash commands)."""
    [command] = [c for c in fake.commands.get(None, []) if c["type"] == MESSAGE_MENU]
    assert command["name"] == "Search the archive"
    data = {
        "id": command["id"],
        "name": command["name"],
        "type": MESSAGE_MENU,
        "target_id": message["id"],
        "resolved": {"messages": {message["id"]: message}},
    }
    return await fake._interact(APPLICATION_COMMAND, data, user=fake.member, channel_id=None)


async def test_search_the_archive_menu_answers_only_the_asker(small_db: Path) -> None:
    async with started(small_db) as (fake, _):
        posted = await fake.post_user_message("<@123456789012345678> what about the floods? https://example.org/x")
        record = await search_the_archive(fake, posted)
        message = await record.final()

        assert record.callbacks[0]["data"]["flags"] & EPHEMERAL
        assert message["content"].startswith("**Events matching “what about the floods?”** — 5 events")
        assert len(message["embeds"]) == 5

        long = await fake.post_user_message("floods " + "and more words " * 40)
        cut = await (await search_the_archive(fake, long)).final()
        query = cut["content"].split("“")[1].split("”")[0]
        assert len(query) <= handlers.MAX_QUERY_LENGTH and query.startswith("floods and more")

        bare = await fake.post_user_message("https://example.org/only-a-link")
        bare_record = await search_the_archive(fake, bare)
        check_refusal(bare_record, await bare_record.final(), "no words to search for")
        check_everything_sent(fake)


# The shared archive: counts equal the store's own on real data


@pytest.mark.archive
async def test_counts_on_the_shared_archive_equal_the_stores_matches(shared_index: tuple[Path, IndexReport]) -> None:
    async with await Store.open(shared_index[0]) as store:
        answer = await handlers.trend(store, "ukraine, gadhafi, qaryatain, hizbollah", "2011", "2016")
        assert isinstance(answer, TrendAnswer) and answer.step == "month"
        for line in answer.series:
            whole = await store.find(line.query, 1, answer.since, answer.until)
            assert line.total == whole.matched > 0, line.query
            for n in (line.peak, 0, len(answer.starts) - 1):
                assert n is not None
                first, last = answer.bounds(n)
                assert line.counts[n] == (await store.find(line.query, 1, first, last)).matched
        ukraine = answer.series[0]
        month = await handlers.search_events(store, "ukraine", "2014-03-01", "2014-03-31")  # under 50: all listed
        assert isinstance(month, EventList)
        assert month.total == ukraine.counts[answer.starts.index(dt.date(2014, 3, 1))]
        whole = await handlers.search_events(store, "ukraine", "2011", "2016")
        assert isinstance(whole, EventList) and whole.note is not None
        assert whole.note.startswith(f"The best 50 of {ukraine.total:,} matches")
