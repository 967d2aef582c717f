"""The console as a person uses it: typed at a terminal (a pseudo-terminal, through pexpect), and
its answers in-process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import SEED_2016

from bot.terminal.console import LEAVE_HINT, Console, split_options
from store import Store

REPO = Path(__file__).resolve().parents[1]
PROMPT = "> "
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")  # what readline adds around the text


def visible(text: str) -> str:
    return ESCAPES.sub("", text)


def console(db: Path, columns: int) -> pexpect.spawn:
    """`python -m bot --db DB console` in a pseudo-terminal `columns` wide, at its first prompt."""
    env = {**os.environ, "TERM": "xterm", "PYTHONUTF8": "1", "COLUMNS": "", "LINES": ""}
    env = {name: value for name, value in env.items() if value}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "bot", "--db", str(db), "console"],
        cwd=REPO,
        env=env,
        dimensions=(40, columns),
        encoding="utf-8",
        timeout=30,
    )
    child.expect_exact("quit            leave")
    child.expect_exact(PROMPT)
    return child


def answer(child: pexpect.spawn, line: str) -> str:
    """Type a line and return what the console printed before its next prompt."""
    child.sendline(line)
    child.expect_exact(f"\n{PROMPT}")
    return visible(child.before)


def assert_fits(text: str, columns: int) -> None:
    """No line is wider than the terminal, but for one that ends in a word too long for any line
    (a web address, a path), which is put on a line of its own rather than cut."""
    for line in text.splitlines():
        if len(line) > columns:
            words = line.split()
            assert len(words[-1]) > columns / 2 and len(" ".join(words[:-1])) < columns / 2, line


@pytest.mark.parametrize("columns", [80, 120])
def test_typed_at_a_terminal(sample_db: Path, columns: int) -> None:
    child = console(sample_db, columns)
    try:
        for line in ("/events O'Brien", "/events Iran's nuclear deal", "/topic People's Republic of China"):
            text = answer(child, line)
            assert "No closing quotation" not in text and "Traceback" not in text, text
            assert "There is no" not in text, text

        first = answer(child, "/events syrian")
        assert re.search(r"Events matching “syrian” — \d+ events, page 1 of [2-9]", first), first
        assert "1. 20" in first and "5. 20" in first
        assert_fits(first, columns)
        wrapped = [line for line in first.splitlines() if line.startswith(" " * 15)]
        assert wrapped and max(map(len, first.splitlines())) > 60

        unknown = answer(child, "foo")
        assert "There is no 'foo' here" in unknown
        second = answer(child, "n")
        assert re.search(r"page 2 of [2-9]", second) and "6. 20" in second

        detail = answer(child, "/event 7")
        assert "Path: news/" in detail
        assert_fits(detail, columns)

        on = answer(child, "/on 2016-04-03")
        assert "Events on Sunday 3 April 2016 — 1 event" in on
        again = answer(child, "\x1b[A")  # the Up arrow: the line before, from readline's history
        assert "Events on Sunday 3 April 2016" in again and "There is no" not in again

        child.send("/events palm")  # half a line, then Ctrl-C: dropped, and a new prompt
        child.expect_exact("palm")  # the prompt is reading (a signal just before that is seen only later)
        child.sendintr()
        child.expect_exact(LEAVE_HINT)
        child.expect_exact(PROMPT)
        after = answer(child, "/on 3 April 2016")
        assert "Events on Sunday 3 April 2016" in after and "palm" not in after

        child.sendeof()  # Ctrl-D: leaves, ending the prompt's line
        child.expect(pexpect.EOF)
        assert visible(child.before).startswith("\n")
    finally:
        child.close()
    assert child.exitstatus == 0, child.before


def test_ctrl_c_twice_never_shows_a_traceback(sample_db: Path) -> None:
    child = console(sample_db, 80)
    try:
        for _ in range(2):
            child.send("x")
            child.expect_exact("x")
            child.sendintr()
            child.expect_exact(LEAVE_HINT)
        child.sendline("quit")
        child.expect(pexpect.EOF)
        assert "Traceback" not in child.before
    finally:
        child.close()
    assert child.exitstatus == 0


# The answers, in-process


async def test_apostrophes_are_words_and_options_run_to_the_next(sample_db: Path) -> None:
    assert split_options("O'Brien", ("from", "to")) == ("O'Brien", {})
    assert split_options("Iran's nuclear deal from:3 April 2016 to:2017", ("from", "to")) == (
        "Iran's nuclear deal",
        {"from": "3 April 2016", "to": "2017"},
    )
    assert split_options('palmyra from:"2016"', ("from", "to")) == ("palmyra", {"from": "2016"})
    async with await Store.open(sample_db) as store:
        text = await Console(store).reply("/events qaryatayn from:3 April 2016 to:3 April 2016")
    assert "Events matching “qaryatayn” from 3 April 2016 to 3 April 2016 — 1 event" in text


async def test_an_unknown_command_keeps_the_list(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        prompt = Console(store)
        assert "Nothing to page through" in await prompt.reply("n")
        await prompt.reply("/events syrian")
        assert "There is no 'foo' here" in await prompt.reply("foo")
        assert "There is no '/frob' here" in await prompt.reply("/frob x")
        assert "page 2 of" in await prompt.reply("n")
        assert "page 1 of" in await prompt.reply("p")


async def test_event_by_number_words_or_path(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        prompt = Console(store)
        assert "no list to pick from" in await prompt.reply("/event 1")
        listing = await prompt.reply("/on 2016-04-03")
        assert "1. 2016-04-03" in listing
        first = await prompt.reply("/event 1")
        assert f"Path: {SEED_2016}" in first
        assert "events 1 to 1; there is no 2" in await prompt.reply("/event 2")
        assert f"Path: {SEED_2016}" in await prompt.reply(f"/event {SEED_2016}")
        best = await prompt.reply("/event retakes al-qaryatayn")
        assert best.startswith("The best match for “retakes al-qaryatayn”") and f"Path: {SEED_2016}" in best
        assert "page 1" not in await prompt.reply("n")  # the list is still the day's, one page


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/topic", "Which topic? e.g. /topic Syrian Civil War"),
        ("/on", "Which day? e.g. /on 3 April 2016"),
        ("/event", "Which event? Give its number in the list on screen (/event 3)"),
        ("/events", "Type some words to search for, e.g. /events al-qaryatain"),
        ("/ask", "Ask a question, e.g. /ask when"),
    ],
)
async def test_empty_arguments_say_what_is_needed(sample_db: Path, line: str, expected: str) -> None:
    async with await Store.open(sample_db) as store:
        text = await Console(store).reply(line, width=200)
    assert expected in text
    assert "`" not in text


async def test_text_fits_the_width_without_cutting_words(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        prompt = Console(store)
        for width in (60, 80, 120):
            text = await prompt.reply(f"/event {SEED_2016}", width=width)
            assert_fits(text, width)
            assert "http://uk.reuters.com/article/uk-mideast-crisis-idlib-idUKKCN0X00WA" in text  # whole
            assert "al-Qaryatayn," in text  # hyphenated words are not split
        refusal = await prompt.reply("/on 31 February 2016", width=60)
        assert max(map(len, refusal.splitlines())) <= 60 and len(refusal.splitlines()) > 1


def test_piped_input_that_is_not_utf8_does_not_end_the_session(sample_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(sample_db), "console"],
        cwd=REPO,
        input=b"/events \xff\xfe\n/on 2016-04-03\n",
        capture_output=True,
        timeout=60,
        env={**os.environ, "LC_ALL": "C", "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert b"Events on Sunday 3 April 2016" in result.stdout
