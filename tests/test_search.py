"""Search: BM25 scores equal rank-bm25's, spelling tolerance, topics and date filters."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from conftest import SEED_2015, SEED_2016
from queries import HAND_WRITTEN, Reference, generated_queries, load_index, query_set, store_reference

from bot.answers import EventList, Refusal
from bot.handlers import search_events
from corpus import find_event_files, read_event
from store.ingest import index_archive
from store.search import FOLD_WEIGHT, SearchIndex, document_tokens
from store.store import Store


def sample_reference(archive: Path, db: Path) -> Reference:
    """rank-bm25 over the sample archive's files, read and tokenized here, not from the store."""
    events = {file.path: read_event(file.file, file.path) for file in find_event_files(archive)}
    conn = sqlite3.connect(db)
    try:
        order = conn.execute(
            "SELECT d.event_id, e.path FROM search_docs d JOIN events e ON e.id = d.event_id ORDER BY d.doc"
        ).fetchall()
    finally:
        conn.close()
    assert sorted(path for _, path in order) == sorted(events)
    return Reference.build(
        [
            (
                event_id,
                int(events[path].date.strftime("%Y%m%d")),
                document_tokens(events[path].headline, events[path].topics),
            )
            for event_id, path in order
        ]
    )


def test_scores_equal_rank_bm25_on_the_sample(sample_archive: Path, sample_db: Path) -> None:
    reference = sample_reference(sample_archive, sample_db)
    index = load_index(sample_db)
    headlines = [read_event(f.file, f.path).headline for f in find_event_files(sample_archive)]
    queries = [
        *query_set(headlines, count=100),
        ["syrian", "army"],  # in every headline: the epsilon idf floor
        ["the"],  # a stopword, given as a token
        ["isil", "isil"],  # a repeated term counts twice
        ["civil", "war"],  # only in topics
        ["deir", "ez", "zor", "airport"],
        ["no-such-word"],
    ]
    problems = [problem for query in queries for problem in reference.problems(index, query)]
    assert problems == []
    assert all(index.search(query, tolerant=False).hits for query in generated_queries(headlines, count=100))
    # The floor for common words matters here: the sample has negative raw idfs.
    assert (index.idf == index.idf.min()).sum() > 1


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        ("syrian army", None, None),
        ("syrian", dt.date(2017, 1, 1), None),
        ("palmyra", None, dt.date(2016, 12, 31)),
        ("alqaryatain", None, None),  # spelling variants count as matches
        ("no-such-word", None, None),
    ],
)
def test_search_counts_every_match_beyond_the_best(
    sample_db: Path, query: str, since: dt.date | None, until: dt.date | None
) -> None:
    index = load_index(sample_db)
    ranked = index.search(query, 2, since, until)
    everything = index.search(query, 10_000, since, until).hits
    assert ranked.matched == len(everything)
    assert ranked.hits == everything[:2]


@pytest.mark.filterwarnings("error")  # numpy's RuntimeWarning for log() of a negative number fails it
def test_more_words_never_lose_matches_on_a_small_archive(sample_db: Path) -> None:
    """On the sample, the variants of a word can together be in more events than the archive
    holds, if each is counted apart: their idf was NaN, and every event scored NaN was dropped."""
    index = load_index(sample_db)
    fewer = {hit.event_id for hit in index.search("ISIL militants", 100).hits}
    more = index.search("ISIL militants killed central syria", 100).hits
    assert fewer <= {hit.event_id for hit in more}
    assert all(hit.score > 0 for hit in more)


def test_the_reference_check_can_fail(sample_archive: Path, sample_db: Path) -> None:
    """A scorer off by a little, or with ties oldest first, is caught."""
    reference = sample_reference(sample_archive, sample_db)
    assert reference.problems(load_index(sample_db), ["palmyra"]) == []
    assert reference.problems(load_index(sample_db), ["syrian"], limit=15) == []  # has a tie
    index = load_index(sample_db)
    index.idf = index.idf * (1 + 1e-7)
    assert reference.problems(index, ["palmyra"])
    index = load_index(sample_db)
    index.days = -index.days  # oldest first among equal scores
    assert any("not newest first" in p for p in reference.problems(index, ["syrian"], limit=15))


@pytest.fixture(scope="module")
def shared_search(shared_index: tuple[Path, object]) -> tuple[SearchIndex, Reference, dict[int, tuple[str, str]]]:
    """The shared archive's search index, rank-bm25 over its events, and (path, headline) by event id."""
    db, _ = shared_index
    reference, events = store_reference(db)
    return load_index(db), reference, events


@pytest.mark.archive
def test_scores_equal_rank_bm25_on_the_shared_archive(shared_search) -> None:
    index, reference, events = shared_search
    queries = query_set(headline for _, headline in events.values())
    assert len(queries) >= 200 + len(HAND_WRITTEN)
    problems = [problem for query in queries for problem in reference.problems(index, query)]
    assert problems[:10] == [], f"{len(problems)} problems"
    assert sum(1 for query in queries if len(index.search(query, tolerant=False).hits) == 10) > 150


# Spelling tolerance, on small archives made here


def slug(headline: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", headline.lower()).strip("-")[:140]


def write_event(root: Path, day: dt.date, headline: str, topics: Iterable[str] = (), related: str = "") -> str:
    """One event file in the archive layout; topics come, as in the archive, from a Related line."""
    path = f"news/{day:%Y/%m}/{day.day}/{slug(headline)}.md"
    text = f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day:%Y/%m}/{day.day}/index.md)\n\n# {headline} \n"
    text += "\n### Source:\n\n1. Reuters\n"
    topics = list(topics)
    if topics or related:
        link = f"news/2001/01/1/{slug(related or 'another event')}.md"
        text += f"\n### Related:\n\n1. [{related or 'Another event'} ](/{link}) _Context: {', '.join(topics)}_\n"
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")
    return path


FILLERS = [
    "Heavy rain floods the lower districts of the capital.",
    "The central bank raises interest rates by half a point.",
    "A new bridge opens across the river after six years of work.",
    "Voters elect a new parliament in a close contest.",
    "Firefighters contain a forest fire near the coast.",
    "The national team wins the regional football championship.",
    "Scientists report a new species of frog in the rainforest.",
    "A strike by rail workers halts trains across the country.",
    "The government announces a plan to build more schools.",
    "An oil tanker runs aground and spills crude near the harbour.",
    "The president meets the prime minister to discuss trade.",
    "A court sentences a former minister for corruption.",
    "Protesters march through the city against fuel prices.",
    "A ferry capsizes on the lake and rescuers search for survivors.",
    "The museum returns stolen paintings to their owners.",
    "Doctors warn of a measles outbreak in the north.",
]


def write_fillers(root: Path, start: dt.date = dt.date(2005, 1, 1)) -> None:
    for number, headline in enumerate(FILLERS):
        write_event(root, start + dt.timedelta(days=number), headline)


async def open_archive(tmp_path: Path, events: Iterable[tuple[dt.date, str]], fillers: bool = True) -> Store:
    root = tmp_path / "archive"
    for day, headline in events:
        write_event(root, day, headline)
    if fillers:
        write_fillers(root)
    db = tmp_path / "index.sqlite3"
    report = index_archive(db, root)
    assert report.rejected == []
    return await Store.open(db)


QARYATAIN = (dt.date(2015, 8, 6), "Islamic State fighters conquer the transport hub Al-Qaryatain in Homs.")
QARYATAYN = (dt.date(2016, 4, 3), "The Syrian Army retakes al-Qaryatayn after driving out the militants.")
GADDAFI = (dt.date(2011, 8, 22), "Rebel forces capture the house of Gaddafi in Tripoli.")
GADHAFI = (dt.date(2007, 7, 10), "The Gadhafi Foundation announces a deal over the nurses.")
MOHAMED = (dt.date(2012, 6, 24), "Mohamed Morsi wins the presidential election in Egypt.")
MOUSSA = (dt.date(2008, 12, 24), "Captain Moussa Dadis Camara seizes power in Guinea.")
OBRIEN = (dt.date(2010, 1, 22), "Conan O'Brien hosts The Tonight Show for the final time.")
ZURICH = (dt.date(2020, 7, 4), "A Siberian tiger kills a zookeeper at the zoo in Zürich.")
AFGHANISTAN = (dt.date(2021, 8, 30), "The last American soldier leaves Afghanistan.")
SPELLINGS = [QARYATAIN, QARYATAYN, GADDAFI, GADHAFI, MOHAMED, MOUSSA, OBRIEN, ZURICH, AFGHANISTAN]

FOUND = [
    # (query, the events it must find, best first, or as a set when the order is not the point; nothing else)
    ("qaryatain", [QARYATAIN, QARYATAYN]),  # y/i
    ("qaryatayn", [QARYATAYN, QARYATAIN]),
    ("al-qaryatain", [QARYATAIN, QARYATAYN]),
    ("alqaryatain", {QARYATAIN, QARYATAYN}),  # hyphen left out: "al" + the word and its variants
    ("al qaryatayn", [QARYATAYN, QARYATAIN]),
    ("gaddafi", [GADDAFI, GADHAFI]),
    ("qaddafi", {GADDAFI, GADHAFI}),  # q/k/g
    ("kaddafi", {GADDAFI, GADHAFI}),
    ("gadhafi", [GADHAFI, GADDAFI]),  # dh/d
    ("qadhafi", {GADDAFI, GADHAFI}),
    ("mohammed", [MOHAMED]),  # doubled letters
    ("muhamed", [MOHAMED]),  # one letter off
    ("musa", [MOUSSA]),  # ou/u and doubled letters
    ("mousa", [MOUSSA]),
    ("obrien", [OBRIEN]),  # apostrophes
    ("o'brien", [OBRIEN]),
    ("O’Brien", [OBRIEN]),
    ("zurich", [ZURICH]),  # accents
    ("Zürich", [ZURICH]),
    ("ZURICH", [ZURICH]),
    ("afghanistna", [AFGHANISTAN]),  # a typo in a long word
    ("afganistan", [AFGHANISTAN]),
]


@pytest.fixture
async def spellings(tmp_path: Path):
    store = await open_archive(tmp_path, SPELLINGS)
    yield store
    await store.close()


def path_of(event: tuple[dt.date, str]) -> str:
    day, headline = event
    return f"news/{day:%Y/%m}/{day.day}/{slug(headline)}.md"


@pytest.mark.parametrize(("query", "expected"), FOUND, ids=[query for query, _ in FOUND])
async def test_spelling_variants_are_found(spellings: Store, query: str, expected) -> None:
    found = await spellings.search(query)
    paths = [f.event.path for f in found]
    if isinstance(expected, set):
        assert sorted(paths) == sorted(path_of(event) for event in expected)
    else:
        assert paths == [path_of(event) for event in expected]
    assert all(f.score > 0 for f in found)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("qaryatayn", [QARYATAYN]),
        ("qaddafi", []),
        ("mohammed", []),
        ("musa", []),
        ("zurich", []),
        ("afghanistna", []),
        ("alqaryatain", []),
    ],
)
async def test_without_tolerance_only_exact_words_match(spellings: Store, query: str, expected) -> None:
    found = await spellings.search(query, tolerant=False)
    assert [f.event.path for f in found] == [path_of(event) for event in expected]


async def test_an_exact_match_outranks_a_variant_of_the_same_strength(tmp_path: Path) -> None:
    # Two headlines alike but for the spelling; the variant is newer, so a tie would put it first.
    older = (dt.date(2011, 3, 1), "Gaddafi forces shell the town of Zawiya.")
    newer = (dt.date(2011, 3, 2), "Qaddafi forces shell the town of Zawiya.")
    async with await open_archive(tmp_path, [older, newer]) as store:
        for query, exact, variant in (("gaddafi", older, newer), ("qaddafi", newer, older), ("kadhafi", None, None)):
            found = await store.search(query)
            paths = [f.event.path for f in found]
            if exact is None:  # neither is exact: a tie, newest first
                assert paths == [path_of(newer), path_of(older)]
                assert found[0].score == found[1].score
                continue
            assert paths == [path_of(exact), path_of(variant)]
            assert found[0].score > found[1].score
            assert found[1].score <= FOLD_WEIGHT * found[0].score * (
                1 + 1e-6
            )  # a spelling that folds alike: the same word, a hair below
        # With other words matching exactly, the spelling still decides.
        found = await store.search("qaddafi forces zawiya")
        assert [f.event.path for f in found] == [path_of(newer), path_of(older)]
        assert found[0].score > found[1].score


async def test_equal_scores_come_newest_first(tmp_path: Path) -> None:
    days = [dt.date(2004, 5, 1), dt.date(2019, 2, 3), dt.date(2012, 7, 9), dt.date(2015, 1, 1)]
    async with await open_archive(tmp_path, [(day, "Lava from the volcano reaches the sea.") for day in days]) as store:
        found = await store.search("volcano lava")
        assert [f.event.date for f in found] == sorted(days, reverse=True)
        assert len({f.score for f in found}) == 1
        assert [f.event.date for f in await store.search("volcano", limit=2)] == sorted(days, reverse=True)[:2]


async def test_words_in_topics_count(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    with_topic = write_event(
        root,
        dt.date(2016, 4, 3),
        "Government troops enter the old town.",
        ["Syrian Civil War", "Homs Governorate"],
        related="Rebels shell the airport of Latakia",
    )
    plain = write_event(root, dt.date(2016, 4, 4), "Troops enter the new town.")
    write_fillers(root)
    db = tmp_path / "index.sqlite3"
    index_archive(db, root)
    async with await Store.open(db) as store:
        for tolerant in (True, False):
            assert [f.event.path for f in await store.search("civil war", tolerant=tolerant)] == [with_topic]
            assert [f.event.path for f in await store.search("governorate", tolerant=tolerant)] == [with_topic]
            # The linked event's headline is not part of this event.
            assert await store.search("latakia", tolerant=tolerant) == []
        found = await store.search("troops town")
        assert {f.event.path for f in found} == {with_topic, plain}
        # The topics make the first document longer, so the same words weigh less there.
        assert [f.event.path for f in found] == [plain, with_topic]


async def test_date_filters(tmp_path: Path) -> None:
    days = [dt.date(2010, 1, 1), dt.date(2012, 6, 15), dt.date(2014, 12, 31)]
    events = [(day, f"Mudslides in the valley of Ostrava, report number {n}.") for n, day in enumerate(days)]
    async with await open_archive(tmp_path, events) as store:

        async def dates(since: dt.date | None = None, until: dt.date | None = None) -> list[dt.date]:
            return [f.event.date for f in await store.search("mudslides ostrava", since=since, until=until)]

        assert await dates() == days[::-1]
        assert await dates(since=days[1]) == [days[2], days[1]]  # bounds are inclusive
        assert await dates(until=days[1]) == [days[1], days[0]]
        assert await dates(days[1], days[1]) == [days[1]]
        assert await dates(dt.date(2012, 6, 16), dt.date(2014, 12, 30)) == []
        assert await dates(since=dt.date(2015, 1, 1)) == []
        assert await dates(until=dt.date(2009, 12, 31)) == []
        # A filter does not change scores, and the limit applies after it.
        assert [f.score for f in await store.search("mudslides", until=days[1])] == [
            f.score for f in await store.search("mudslides") if f.event.date <= days[1]
        ]
        assert [f.event.date for f in await store.search("mudslides", limit=1, until=days[1])] == [days[1]]


# Spelling tolerance on the shared archive


@pytest.mark.archive
@pytest.mark.parametrize(
    ("query", "pattern", "exact"),
    [
        # (query, what a top-10 headline must contain, whether the query word itself is in the archive)
        ("qaryatain", r"Qaryatayn", True),
        ("qaddafi", r"Gaddafi", False),
        ("kaddafi", r"Gaddafi", False),
        ("gadhafi", r"Gaddafi", True),
        ("obrien", r"O'Brien", True),
        ("zurich", r"Zürich", True),
        ("afghanistna", r"Afghanistan", False),
        ("alqaryatain", r"Al-Qaryatain", False),
    ],
)
def test_spelling_variants_on_the_shared_archive(shared_search, query: str, pattern: str, exact: bool) -> None:
    index, _, events = shared_search
    headlines = [events[hit.event_id][1] for hit in index.search(query, 10).hits]
    assert any(re.search(pattern, headline) for headline in headlines), headlines
    assert bool(index.search(query, 10, tolerant=False).hits) == exact


@pytest.mark.archive
async def test_al_qaryatain_finds_both_seeds_on_the_shared_archive(shared_index) -> None:
    db, _ = shared_index
    async with await Store.open(db) as store:
        top = [f.event.path for f in await store.search("al-qaryatain", limit=5)]
        assert SEED_2015 in top and SEED_2016 in top, top
        # Glued together, the words find the seeds too.
        top = [f.event.path for f in await store.search("alqaryatain", limit=5)]
        assert SEED_2015 in top and SEED_2016 in top, top


# What people mean (issue 22): each kind of failure over a small archive made here


async def search_paths(store: Store, query: str, **options) -> list[str]:
    return [f.event.path for f in await store.search(query, **options)]


async def test_other_forms_of_a_word_match_a_little_below_the_word(tmp_path: Path) -> None:
    resigns = (dt.date(2016, 6, 27), "The England manager resigns after the defeat.")
    resignation = (dt.date(2016, 6, 28), "The England manager's resignation follows the defeat.")
    bombings = (dt.date(2016, 4, 23), "Two bombings hit the capital.")
    died = (dt.date(2011, 5, 23), "The former football coach has died in Tehran.")
    async with await open_archive(tmp_path, [resigns, resignation, bombings, died]) as store:
        assert await search_paths(store, "resignation england") == [path_of(resignation), path_of(resigns)]
        assert await search_paths(store, "resigns england") == [path_of(resigns), path_of(resignation)]
        assert await search_paths(store, "bombing") == [path_of(bombings)]
        assert await search_paths(store, "coach dies tehran") == [path_of(died)]
        assert await search_paths(store, "bombing", plain=True) == []  # the plain BM25 has exact words only


async def test_a_headline_match_ranks_above_a_topic_only_match(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    topic_only = write_event(
        root, dt.date(2010, 3, 2), "Aid arrives in the port of Talcahuano.", ["2010 Chile earthquake"], "Aid"
    )
    headline = write_event(root, dt.date(2010, 2, 27), "An earthquake strikes Chile near Concepción.")
    write_fillers(root)
    index_archive(tmp_path / "index.sqlite3", root)
    async with await Store.open(tmp_path / "index.sqlite3") as store:
        assert await search_paths(store, "chile earthquake") == [headline, topic_only]
        # As one document (the plain BM25), the longer topic-only event's words still count alike.
        assert set(await search_paths(store, "chile earthquake", plain=True)) == {headline, topic_only}


async def test_a_date_in_the_query_narrows_it_and_is_named_in_the_title(tmp_path: Path) -> None:
    events = [
        (day, f"Floods hit the valley of Ostrava, report {n}.")
        for n, day in enumerate([dt.date(2013, 6, 2), dt.date(2014, 3, 10), dt.date(2014, 8, 1), dt.date(2015, 3, 5)])
    ]
    async with await open_archive(tmp_path, events) as store:
        assert await search_paths(store, "floods march 2014") == [path_of(events[1])]
        assert await search_paths(store, "ostrava floods 2014") == [path_of(events[2]), path_of(events[1])]
        assert await search_paths(store, "floods 2014-08-01") == [path_of(events[2])]
        # No event in the window: the dates are let go rather than finding nothing.
        assert set(await search_paths(store, "floods 2019")) >= {path_of(event) for event in events}
        listing = await search_events(store, "floods march 2014")
        assert isinstance(listing, EventList) and listing.title == "Events matching “floods march 2014” in March 2014"
        listing = await search_events(store, "ostrava 2015")
        assert isinstance(listing, EventList) and listing.title.endswith("in 2015")


async def test_spellings_that_fold_alike_are_one_word_and_typos_weaker(tmp_path: Path) -> None:
    events = [QARYATAIN, QARYATAYN, (dt.date(1964, 10, 14), "Nikita Khrushchev is removed from power.")]
    async with await open_archive(tmp_path, events) as store:
        found = await store.search("qaryatayn")
        assert [f.event.path for f in found] == [path_of(QARYATAYN), path_of(QARYATAIN)]
        assert found[1].score >= 0.9 * found[0].score  # nearly the same word, not 0.8 of it
        # Two edits from an archive word, in a long word: found, and said so.
        ranked = store.index.search("khrushchyov")
        assert [hit.day for hit in ranked.hits] == [19641014]
        assert ranked.showing == "khrushchev"


async def test_a_nonsense_word_finds_nothing_and_is_named(tmp_path: Path) -> None:
    events = [(dt.date(2009, 8, 14), "Michael Misick resigns as premier of the Turks and Caicos Islands.")]
    async with await open_archive(tmp_path, events) as store:
        ranked = store.index.search("xyzzyqq")
        assert ranked.hits == [] and ranked.unknown == ("xyzzyqq",)
        refusal = await search_events(store, "xyzzyqq")
        assert isinstance(refusal, Refusal) and "never uses “xyzzyqq”" in refusal.message
        # Among known words, the unknown one is named and the rest searched.
        listing = await search_events(store, "misick xyzzyqq")
        assert isinstance(listing, EventList) and "never uses “xyzzyqq”" in (listing.note or "")
        # A misspelling close to an archive word is searched as that word, and said so.
        listing = await search_events(store, "misik resigns")
        assert isinstance(listing, EventList) and listing.ids
        assert "Showing results for “misick resigns”" in (listing.note or "")


async def test_query_syntax_quotes_exclusions_or_and_never_an_error(tmp_path: Path) -> None:
    car_bomb = (dt.date(2016, 4, 23), "A car bomb kills twelve in Baghdad.")
    car_apart = (dt.date(2016, 5, 1), "A bomb hits a market; a car burns in Basra.")
    bomb_only = (dt.date(2016, 5, 2), "A bomb explodes in Baghdad.")
    async with await open_archive(tmp_path, [car_bomb, car_apart, bomb_only]) as store:
        assert set(await search_paths(store, '"car bomb"')) == {path_of(car_bomb), path_of(car_apart)}
        assert set(await search_paths(store, "bomb -baghdad")) == {path_of(car_apart)}
        assert set(await search_paths(store, "basra OR baghdad")) == {
            path_of(e) for e in (car_bomb, car_apart, bomb_only)
        }
        for odd in ('"car bomb', '"', "-", "--bomb", "OR", '""', "bomb -", "-bomb"):
            await store.search(odd)  # read as plain words, never an error
        assert await search_paths(store, '"baghdad') == [path_of(bomb_only), path_of(car_bomb)]


async def test_other_words_for_the_same_thing_match_below_the_word(tmp_path: Path) -> None:
    blast = (dt.date(2016, 4, 23), "A blast hits the market in Kabul.")
    explosion = (dt.date(2016, 5, 1), "An explosion hits the market in Kabul.")
    killed = (dt.date(2012, 7, 2), "Floods kill twelve people in Assam.")
    died = (dt.date(2012, 7, 3), "Twelve people died in Assam floods.")
    quake = (dt.date(2015, 4, 25), "An earthquake strikes Nepal.")
    async with await open_archive(tmp_path, [blast, explosion, killed, died, quake]) as store:
        found = await store.search("blast")
        assert [f.event.path for f in found] == [path_of(blast), path_of(explosion)]  # the newer one is below
        assert 0 < found[1].score < found[0].score
        assert await search_paths(store, "explosion kabul") == [path_of(explosion), path_of(blast)]
        assert await search_paths(store, "killed") == [path_of(killed), path_of(died)]
        assert await search_paths(store, "died") == [path_of(died), path_of(killed)]
        # Only for the ranking that reads forms: not the plain BM25, nor the words as typed.
        assert await search_paths(store, "blast", plain=True) == [path_of(blast)]
        assert await search_paths(store, "blast", tolerant=False) == [path_of(blast)]
        assert await search_paths(store, '"blast"') == [path_of(blast)]  # quoted: this word
        # A word the archive lacks finds its other words, and is not said to be read as one of them.
        ranked = store.index.search("quake nepal")
        assert ranked.showing is None and ranked.unknown == () and len(ranked.hits) == 1
        listing = await search_events(store, "quake")
        assert isinstance(listing, EventList) and listing.ids == [ranked.hits[0].event_id]
        assert "Showing results for" not in (listing.note or "") and "never uses" not in (listing.note or "")
        assert listing.highlight == frozenset()  # "earthquake" is not the word searched for


async def test_the_lexicon_never_makes_a_nonsense_query_match(tmp_path: Path) -> None:
    events = [(dt.date(2015, 4, 25), "An earthquake strikes Nepal."), (dt.date(2016, 4, 23), "A blast hits Kabul.")]
    async with await open_archive(tmp_path, events) as store:
        for nonsense in ("xyzzyqq", "homicide"):  # not a word of the archive; a lexicon word it lacks, with its others
            ranked = store.index.search(nonsense)
            assert ranked.hits == [] and ranked.unknown == (nonsense,)
            refusal = await search_events(store, nonsense)
            assert isinstance(refusal, Refusal) and f"never uses “{nonsense}”" in refusal.message
        listing = await search_events(store, "quake xyzzyqq")
        assert isinstance(listing, EventList) and len(listing.ids) == 1
        assert "never uses “xyzzyqq”" in (listing.note or "") and "Showing results for" not in (listing.note or "")


CAR_BOMB = (dt.date(2016, 4, 23), "A car bomb explodes outside the Baghdad market.")
CAR_COMMA = (dt.date(2016, 5, 2), "Outside the Baghdad market a car, bomb explodes.")  # the same words
CAR_APART = (dt.date(2016, 5, 1), "A bomb explodes outside the Baghdad car market.")


async def test_query_words_next_to_each_other_rank_above_the_same_words_apart(tmp_path: Path) -> None:
    async with await open_archive(tmp_path, [CAR_BOMB, CAR_COMMA, CAR_APART]) as store:

        async def found(query: str, limit: int = 10) -> list[str]:
            ranked = await store.find(query, limit)
            assert ranked.matched == store.index.search(query, limit).matched == 3  # every match still counted
            events = await store.events_by_id([hit.event_id for hit in ranked.hits])
            return [events[hit.event_id].path for hit in ranked.hits]

        # Equal scores come newest first; "car bomb" side by side goes above them (not across a comma).
        assert await found("car bomb") == [path_of(CAR_BOMB), path_of(CAR_COMMA), path_of(CAR_APART)]
        assert await found("car bomb", 1) == [path_of(CAR_BOMB)]
        assert await found("car bombs") == [path_of(CAR_BOMB), path_of(CAR_COMMA), path_of(CAR_APART)]  # a form
        assert await found("car bomb explodes") == [path_of(CAR_BOMB), path_of(CAR_COMMA), path_of(CAR_APART)]
        assert await found("bomb car") == [path_of(CAR_COMMA), path_of(CAR_APART), path_of(CAR_BOMB)]  # in order only


def test_other_words_and_adjacent_words_on_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    quake = (dt.date(2015, 4, 25), "An earthquake strikes Nepal.")
    for day, headline in (CAR_BOMB, CAR_COMMA, CAR_APART, quake):
        write_event(root, day, headline)
    write_fillers(root)
    db = tmp_path / "index.sqlite3"
    index_archive(db, root)

    def search(*words: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "search", *words, "--db", str(db)]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    adjacent = search("car", "bomb", "--json")
    assert adjacent.returncode == 0, adjacent.stderr
    assert [event["headline"] for event in json.loads(adjacent.stdout)] == [CAR_BOMB[1], CAR_COMMA[1], CAR_APART[1]]
    other = search("quake", "--json-object")
    found = json.loads(other.stdout)
    assert [event["headline"] for event in found["events"]] == [quake[1]]
    assert found["showing_results_for"] is None and "never uses" not in (found["note"] or "")
    nonsense = search("xyzzyqq")
    assert nonsense.returncode != 0 and "never uses “xyzzyqq”" in nonsense.stdout + nonsense.stderr
