"""/ask on the kinds of question it used to get wrong, over a small archive built here: through the
command line (`ask --json`), the console and the fake Discord."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from store.ingest import index_archive
from tests.conftest import running
from tests.test_discord_events import reply, visible_text

ROOT = Path(__file__).resolve().parents[1]
EVENTS = [
    (dt.date(2002, 7, 1), "The archive's first day: parliament meets in Nairobi."),
    (
        dt.date(2018, 4, 4),
        "Thousands in Memphis mark the 50th anniversary of the assassination of Martin Luther King Jr.",
    ),
    (dt.date(2015, 2, 27), "Russian opposition leader Boris Nemtsov is gunned down near the Kremlin in Moscow."),
    (dt.date(2016, 4, 3), "The Syrian Army retakes control of al-Qaryatayn, Homs Governorate, after driving out ISIL."),
    (dt.date(2016, 6, 1), "A court in Moscow jails five men for the murder of Boris Nemtsov."),
    (dt.date(2019, 5, 1), "Voters in Zembla elect a new parliament for the first time."),
    (dt.date(2023, 5, 1), "Voters in Zembla elect a new parliament again."),
    (dt.date(2026, 3, 28), "The archive's last day: floods hit Lagos."),
    # another sense of the same words: an album's release, a campaign's launch
    (dt.date(2011, 3, 3), "Singer Ana Lobo releases her new album in Lisbon."),
    (dt.date(2012, 6, 6), "Activist Ivan Petrov is released from prison in Zembla."),
    (dt.date(2013, 9, 9), "Zembla launches a campaign against smoking."),
    # a neighbouring event: the semi-final before the final; a threat before an invasion
    (dt.date(2021, 6, 1), "Rovia defeats Tarsk 2-1 in the semi-final to advance to the Continental Cup final."),
    (dt.date(2021, 6, 8), "Ostia wins the Continental Cup, beating Rovia 3-0 in the final."),
    (dt.date(2019, 2, 2), "Rovia threatens to invade Zembla over the border dispute."),
    # answer types: a number for "how many"
    (dt.date(2020, 7, 1), "Floods in Lagos kill 12 people."),
    (dt.date(2021, 7, 1), "Floods kill people across Lagos as rivers burst their banks."),
    # a frame word that says who the subject is, not what the event is; an irregular past ("held": "holds")
    (dt.date(2014, 5, 5), "Convicted smuggler Oren Vask is executed in Zembla."),
    (dt.date(2015, 10, 10), "Zembla holds a military parade in its capital."),
]


def write_event(root: Path, day: dt.date, number: int, headline: str) -> None:
    lines = [f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day.year}/{day.month:02d}/{day.day}/index.md)", ""]
    lines += [f"# {headline}", "", "### Source:", "", f"1. [Wire](http://example.com/{number})", ""]
    target = root / f"news/{day.year}/{day.month:02d}/{day.day}/event-{number}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ask") / "archive"
    for number, (day, headline) in enumerate(EVENTS):
        write_event(root, day, number, headline)
    db = root.parent / "ask.sqlite3"
    index_archive(db, root)
    return root, db


def ask_json(db: Path, question: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", question, "--db", str(db), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# (question, the date answered, or None with words the refusal must say)
CASES = [
    # a mention taken for the event: the anniversary does not date the assassination
    ("When was Martin Luther King assassinated?", None, ["only mention it", "1968", "records: Thousands in Memphis"]),
    # another verb in the headline ("gunned down" for "murdered"); the trial later is not the murder
    ("When was Boris Nemtsov murdered?", "2015-02-27", []),
    # a word that says nothing ("eventually") does not make it refuse
    ("When did the Syrian army eventually retake al-Qaryatayn?", "2016-04-03", []),
    # an ordinal: the first of two elections
    ("When did Zembla first elect a new parliament?", "2019-05-01", []),
    # before the archive starts, after it ends, and nonsense
    ("Who won the 1966 World Cup?", None, ["covers July 2002 to March 2026", "before it starts"]),
    ("What happened in Lagos in 2027?", None, ["covers July 2002 to March 2026", "after it ends"]),
    ("What is the meaning of life?", None, ["not a question about a news event"]),
    ("What is the capital of Zembla?", None, ["not a question about a news event"]),
    # another sense of the same words: released from prison is not an album's release, nor a campaign a rocket
    ("When was Ivan Petrov released from prison?", "2012-06-06", []),
    ("When was Ana Lobo released from prison?", None, ["I could not", "another sense"]),
    ("When did Zembla launch its rocket?", None, ["another sense"]),
    # a neighbouring event: the final, not the semi-final; the side that advanced did not win
    ("Who won the Continental Cup final?", "2021-06-08", []),
    ("When did Rovia win the Continental Cup?", None, []),
    # a threat is not the invasion
    ("When did Rovia invade Zembla?", None, []),
    # a number answers "how many"
    ("How many people did the floods in Lagos kill?", "2020-07-01", []),
    # "convicted smuggler X is executed" reports the execution; "held" finds "holds"; the event's own year
    ("When was Oren Vask executed?", "2014-05-05", []),
    ("When was the military parade held in Zembla?", "2015-10-10", []),
    ("When did Zembla elect a new parliament in the 2019 vote?", "2019-05-01", []),
    # the archive's last months: what it asks about may have happened after the archive ends
    ("Who won the 2026 Zembla election?", None, ["covers July 2002 to March 2026", "after it ends"]),
]


@pytest.mark.parametrize(("question", "date", "said"), CASES)
def test_cli_ask_json(small: tuple[Path, Path], question: str, date: str | None, said: list[str]) -> None:
    data = ask_json(small[1], question)
    assert data["date"] == date
    if date is None:
        assert data["answer"] is None
        for words in said:
            assert words in (data["says"] or ""), data["says"]
    else:
        assert data["answer"].startswith(("The archive says: on ", "Probably: on "))


def test_the_console_says_why_and_what_it_records(small: tuple[Path, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(small[1])],
        cwd=ROOT,
        input=(
            "/ask When was Martin Luther King assassinated?\n/ask When was Boris Nemtsov murdered?\n"
            "/ask Who won the Continental Cup final?\n/ask When was Ana Lobo released from prison?\n"
            "/ask How many people did the floods in Lagos kill?\n"
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "I could not find that in the archive. The closest events only mention it" in text
    assert "The closest events, which do not answer it" in text
    assert ": on 27 February 2015, Russian opposition leader Boris Nemtsov is gunned down" in text
    assert ": on 8 June 2021, Ostia wins the Continental Cup" in text  # the final, not the semi-final
    assert "The closest events use 'released' in another sense (none has 'prison')." in text
    assert ": on 1 July 2020, Floods in Lagos kill 12 people" in text  # the one with a number


@pytest.fixture
async def discord_small(small: tuple[Path, Path], tmp_path: Path) -> AsyncIterator[object]:
    from fake_discord import FakeDiscord

    db = tmp_path / "copy.sqlite3"
    db.write_bytes(small[1].read_bytes())
    async with FakeDiscord() as server, running(server, db, small[0]):
        yield server


async def test_discord_ask_refuses_a_mention_and_answers_the_event(discord_small: object) -> None:
    _, refused = await reply(discord_small, "ask", {"question": "When was Martin Luther King assassinated?"})  # type: ignore[arg-type]
    assert "only mention it" in visible_text(refused)
    _, answered = await reply(discord_small, "ask", {"question": "When was Boris Nemtsov murdered?"})  # type: ignore[arg-type]
    assert ": on 27 February 2015, Russian opposition leader Boris Nemtsov" in visible_text(answered)


async def test_discord_ask_tells_the_final_from_the_semi_final_and_one_sense_from_another(
    discord_small: object,
) -> None:
    _, final = await reply(discord_small, "ask", {"question": "Who won the Continental Cup final?"})  # type: ignore[arg-type]
    assert ": on 8 June 2021, Ostia wins the Continental Cup" in visible_text(final)
    _, advanced = await reply(discord_small, "ask", {"question": "When did Rovia win the Continental Cup?"})  # type: ignore[arg-type]
    assert "I could not find that in the archive" in visible_text(advanced)
    _, album = await reply(discord_small, "ask", {"question": "When was Ana Lobo released from prison?"})  # type: ignore[arg-type]
    assert "in another sense" in visible_text(album)
    _, late = await reply(discord_small, "ask", {"question": "Who won the 2026 Zembla election?"})  # type: ignore[arg-type]
    assert "covers July 2002 to March 2026" in visible_text(late)
