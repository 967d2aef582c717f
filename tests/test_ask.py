"""/ask and /topic: reading questions, answering them, and saying so when the archive cannot."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.ask import read_question
from bot.handlers import ask, topic_timeline
from bot.topics import TopicNames
from store import Store

TODAY = dt.date(2026, 11, 22)
ROOT = Path(__file__).resolve().parents[1]
RETAKE = (
    "news/2016/04/3/the-syrian-army-retakes-control-of-al-qaryatayn-"
    "homs-governorate-after-driving-out-isil-militants.md"
)


@pytest.mark.parametrize(
    ("question", "kind", "since", "until"),
    [
        ("When did the Syrian army retake al-Qaryatayn?", "when", None, None),
        ("What happened in Aleppo in 2016?", "what", dt.date(2016, 1, 1), dt.date(2016, 12, 31)),
        ("What happened in Aleppo in April 2016?", "what", dt.date(2016, 4, 1), dt.date(2016, 4, 30)),
        ("what happened on 3 April 2016", "what", dt.date(2016, 4, 3), dt.date(2016, 4, 3)),
        ("What happened on April 3, 2016?", "what", dt.date(2016, 4, 3), dt.date(2016, 4, 3)),
        ("Who led Libya between 2009 and 2011?", "who", dt.date(2009, 1, 1), dt.date(2011, 12, 31)),
        ("Where did the earthquake strike before 2010?", "where", None, dt.date(2009, 12, 31)),
        ("How many people died in floods after 2020?", "how_many", dt.date(2021, 1, 1), None),
        ("What happened in Kyiv last year?", "what", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        ("What day did Brexit happen?", "when", None, None),
        ("Who spoke in Colombo on the 21st of April 2019?", "who", dt.date(2019, 4, 21), dt.date(2019, 4, 21)),
    ],
)
def test_reads_kind_and_dates(question: str, kind: str, since: dt.date | None, until: dt.date | None) -> None:
    read = read_question(question, TODAY)
    assert (read.kind, read.since, read.until) == (kind, since, until)


def test_keeps_only_the_words_that_matter() -> None:
    read = read_question("When did the Syrian army retake al-Qaryatayn in 2016?", TODAY)
    assert read.words == ["syrian", "army", "retake", "al", "qaryatayn"]
    # a year that names something, not a time, stays a word
    assert "2016" in read_question("Who won the 2016 ICC World Twenty20?", TODAY).words


def test_reads_the_parts_evidence_is_weighed_on() -> None:
    # the word after the verb tells its sense apart; a pronoun does not
    assert read_question("When was Ana Lobo released from prison?", TODAY).complements == ("prison",)
    assert read_question("When did Vicente Fox begin his tour?", TODAY).complements == ("tour",)
    # a number after a name, and a year in the name of what is asked about, are names the headline must have
    assert {"apollo", "11"} <= set(read_question("When did Apollo 11 launch?", TODAY).names)
    assert "2014" in read_question("Who won the 2014 World Cup?", TODAY).names
    # "take over" is read as "seize", a verb of the lexicon; an irregular past keeps its family
    assert read_question("When did the Taliban take over Kabul?", TODAY).predicates == ("seize",)
    # general knowledge, even naming a place or a planet
    assert read_question("What is the capital of France?", TODAY).generic
    assert read_question("How many moons does Jupiter have?", TODAY).generic
    assert not read_question("How many people died in the Nepal earthquake?", TODAY).generic


async def test_answers_when_with_the_date_first(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        answer = await ask(store, "when did the Syrian army retake al-Qaryatayn?", TODAY)
    assert answer.answer is not None
    assert answer.answer.startswith(
        "The archive says: on 3 April 2016, the Syrian Army retakes control of al-Qaryatayn"
    )
    assert answer.date == dt.date(2016, 4, 3)
    assert answer.events[0].path == RETAKE


async def test_says_it_does_not_know_rather_than_guess(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        answer = await ask(store, "When did the Syrian army land on the Moon?", TODAY)
    assert answer.answer is None
    assert answer.events, "the closest events are still shown"
    listing = answer.listing()
    assert "could not find" in (listing.note or "") and "do not answer" in (listing.note or "")


async def test_date_constraint_filters_the_evidence(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        answer = await ask(store, "What happened to al-Qaryatain in 2015?", TODAY)
    assert answer.answer is not None
    assert {event.date.year for event in answer.events} == {2015}


async def test_empty_and_overlong_questions_are_refused(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        assert "Ask a question" in (await ask(store, "   ")).message
        assert "keep it under" in (await ask(store, "why " * 100)).message


def test_closest_topics_tolerates_spelling() -> None:
    topics = TopicNames(["Syrian Civil War", "Israel–Hezbollah conflict", "Syrian Army", "COVID-19 pandemic"])
    assert topics.closest("syrian civil war")[0] == "Syrian Civil War"
    assert topics.closest("syrian")[:2] == ["Syrian Civil War", "Syrian Army"]
    assert topics.closest("hizbollah") == ["Israel–Hezbollah conflict"]
    assert topics.closest("atlantis") == []
    assert topics.closest("zzzzz") == [], "a very short folded spelling is no prefix of everything"


async def test_topic_timeline_in_date_order(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        oldest = await topic_timeline(store, "syrian civil war")
        newest = await topic_timeline(store, "Syrian Civil War", newest_first=True)
        unknown = await topic_timeline(store, "atlantis")
    dates = [event.date for event in oldest.events]
    assert dates == sorted(dates) and len(dates) == 2
    assert [e.path for e in newest.events] == [e.path for e in reversed(oldest.events)]
    assert oldest.title.startswith("Timeline of Syrian Civil War")
    assert "No topic like" in unknown.message


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_ask_json(sample_db: Path) -> None:
    result = run_cli("ask", "when did the Syrian army retake al-Qaryatayn?", "--db", str(sample_db), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["date"] == "2016-04-03"
    assert data["answer"].startswith("The archive says: on 3 April 2016,")
    assert data["events"][0]["path"] == RETAKE


def test_cli_ask_not_found_json(sample_db: Path) -> None:
    result = run_cli("ask", "who painted the Mona Lisa?", "--db", str(sample_db), "--json")
    data = json.loads(result.stdout)
    assert data["answer"] is None and data["date"] is None


def test_console_ask_and_topic(sample_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(sample_db)],
        cwd=ROOT,
        input="/ask when did the Syrian army retake al-Qaryatayn?\n/topic homs governorate\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert "A: The archive says: on 3 April 2016, the Syrian Army retakes control of al-Qaryatayn" in result.stdout
    assert "Timeline of Homs Governorate" in result.stdout


@pytest.mark.archive
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did the Syrian army retake al-Qaryatayn?", RETAKE),
        (
            "When did the Islamic State conquer Al-Qaryatain?",
            "news/2015/08/6/islamic-state-of-iraq-and-the-levant-conquers-",
        ),
    ],
)
async def test_answers_over_the_shared_archive(shared_index: tuple[Path, object], question: str, expected: str) -> None:
    async with await Store.open(shared_index[0]) as store:
        answer = await ask(store, question, TODAY)
    assert answer.answer is not None
    assert answer.events[0].path.startswith(expected)


@pytest.mark.archive
@pytest.mark.parametrize("question", ["When did humans first land on Mars?", "What happened in Atlantis in 2015?"])
async def test_unanswerable_over_the_shared_archive(shared_index: tuple[Path, object], question: str) -> None:
    async with await Store.open(shared_index[0]) as store:
        answer = await ask(store, question, TODAY)
    assert answer.answer is None
