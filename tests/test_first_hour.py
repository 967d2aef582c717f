"""A new user's first hour: the command line's options and errors, the settings only `run` needs,
`run` without a usable token or network, and dates read in the server's time zone."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import discord.http
import pytest
from conftest import SEED_2016
from test_cli import REPO, bot, flat

from bot import handlers
from bot.config import Settings
from bot.discord.client import run_bot, unreachable_line
from bot.doctor import FAILED, OK, check_heartbeat, doctor_checks, write_heartbeat
from bot.naming import CLI
from store import Store
from store.guilds import Guilds

# A token of the right shape (base64 of a numeric bot id, then two parts) that no Discord accepts.
WELL_FORMED_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789ABC"


def run_python(*args: str, env: dict[str, str] | None = None, stdin: bytes = b"", cwd: Path = REPO):
    full_env = {name: value for name, value in os.environ.items() if not name.startswith(("NEWSBOT_", "DISCORD_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=full_env, input=stdin, capture_output=True, timeout=120
    )


# Options


def test_version() -> None:
    result = bot("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("newsbot ") and result.stdout.split()[1][0].isdigit()


def test_db_before_the_command(sample_db: Path) -> None:
    result = bot("--db", sample_db, "on", "2016-04-03", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["path"] == SEED_2016


@pytest.mark.parametrize("limit", ["0", "-5", "1001"])
def test_limit_out_of_range_is_a_usage_error(sample_db: Path, limit: str) -> None:
    result = bot("search", "syrian", "--limit", limit, "--db", sample_db)
    assert result.returncode == 2
    assert f"argument --limit: {limit} is not between 1 and 1000" in result.stderr


def test_year_with_from_is_a_usage_error(sample_db: Path) -> None:
    result = bot("search", "syrian", "--year", "2016", "--from", "2015", "--db", sample_db)
    assert result.returncode == 2
    assert "give --year, or --from and --to, not both" in result.stderr
    assert result.stdout == ""


# search -


def test_search_lines_give_each_error_on_its_line(sample_db: Path) -> None:
    lines = "al-qaryatain\n" + "x" * 250 + "\nzzzzqqqxx\n\n"
    result = run_python("search", "-", "--db", str(sample_db), stdin=lines.encode() + b"\xff\xfe bad\npalmyra\n")
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(answers) == 6
    assert SEED_2016 in [event["path"] for event in answers[0]]
    assert answers[1] == {"error": "That search is 250 characters long; keep it under 200."}
    assert answers[2] == []  # no match is not an error
    assert "Type some words" in answers[3]["error"]
    assert answers[4] == {"error": "line 5 is not UTF-8 text; it was skipped."}
    assert answers[5] and "Palmyra" in answers[5][0]["headline"]
    assert result.returncode == 1  # some lines failed
    assert b"Traceback" not in result.stderr


def test_search_lines_with_a_bad_option_read_no_line(sample_db: Path) -> None:
    result = run_python("search", "-", "--from", "soon", "--db", str(sample_db), stdin=b"palmyra\n")
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"'soon' is not a date I can read" in result.stderr


def test_search_lines_whatever_the_locale(sample_db: Path) -> None:
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "latin-1"}
    typed = "qaryatayn\n\xe9t\xe9\n".encode("latin-1")
    result = run_python("search", "-", "--db", str(sample_db), env=env, stdin=typed)
    lines = result.stdout.decode("latin-1").splitlines()
    assert len(lines) == 2 and json.loads(lines[0])
    assert json.loads(lines[1]) == {"error": "line 2 is not UTF-8 text; it was skipped."}


# show, pipes, messages


@pytest.mark.parametrize("ref", ["99999999999999999999999", "２", "９９９９９"])
@pytest.mark.parametrize("as_json", [False, True])
def test_show_numbers_no_event_has(sample_db: Path, ref: str, as_json: bool) -> None:
    result = bot("show", ref, "--db", sample_db, *(["--json"] if as_json else []))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = json.loads(result.stdout)["error"] if as_json else flat(result.stdout)
    assert message.startswith(f"No event at {ref}.")


def test_arguments_that_are_not_utf8(sample_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "show", b"news/\xff\xfe.md", "--db", sample_db],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"is not UTF-8 text" in result.stderr and b"Traceback" not in result.stderr


def test_a_closed_pipe_ends_quietly(sample_db: Path) -> None:
    # Far more than a pipe's buffer, so the writer is still writing when the reader leaves.
    script = f"yes syrian | head -n 3000 | {sys.executable} -m bot search - --db {sample_db} | head -c 10"
    for _ in range(3):
        result = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, timeout=60, text=True)
        assert result.stderr == ""
        assert len(result.stdout) == 10


@pytest.mark.parametrize(
    "args",
    [
        ["on", "2016-04-04"],
        ["show", "news/2016/04/3/nothing.md"],
        ["search", " "],
        ["topic", "zzzqqqxx"],
        ["topic", " "],
        ["ask", " "],
        ["on", "3/4/2016"],
    ],
)
def test_messages_name_the_command_line_commands(sample_db: Path, args: list[str]) -> None:
    result = bot(*args, "--db", sample_db)
    text = flat(result.stdout)
    assert "python -m bot " in text, text
    assert "`" not in text and "/on" not in text and "/events" not in text and "suggestions" not in text, text


def test_an_ambiguous_date_is_stated_and_the_other_offered(sample_db: Path) -> None:
    result = bot("on", "3/4/2016", "--db", sample_db)
    text = flat(result.stdout)
    assert result.returncode == 0
    assert "Events on Sunday 3 April 2016" in text
    assert "for Friday 4 March 2016: python -m bot on 2016-03-04" in text


async def test_relative_dates_count_from_the_server_s_day(sample_db: Path) -> None:
    """Just after midnight UTC on 4 April 2016 it is still 3 April in New York: yesterday is 2 April there."""
    now = dt.datetime(2016, 4, 4, 0, 30, tzinfo=dt.UTC)
    async with await Store.open(sample_db) as store:
        await Guilds(store).set_daily(7, 70, "08:00", "America/New_York", now, "test")
        assert await handlers.server_today(store, 7, now) == dt.date(2016, 4, 3)
        assert await handlers.server_today(store, 8, now) == dt.date(2016, 4, 4)  # no zone set: UTC
        assert await handlers.server_today(store, None, now) == dt.date(2016, 4, 4)
        answer = await handlers.day_events(store, "today", today=await handlers.server_today(store, 7, now))
        assert answer.title == "Events on Sunday 3 April 2016"
        answer = await handlers.day_events(store, "yesterday", today=dt.date(2016, 4, 4))
        assert answer.title == "Events on Sunday 3 April 2016"
        found = await handlers.search_events(store, "qaryatayn", "last Sunday", "yesterday", today=dt.date(2016, 4, 4))
        assert found.title == "Events matching “qaryatayn” from 3 April 2016 to 3 April 2016"
        ambiguous = await handlers.search_events(store, "qaryatayn", "3/4/2016", naming=CLI)
        assert "From: 3/4/2016 is read as day/month, 3 April 2016 (not 4 March 2016)." in ambiguous.note


# Settings only run needs, the heartbeat


def test_bad_run_settings_fail_only_run_and_doctor_lists_them(sample_db: Path) -> None:
    env = {"NEWSBOT_RATE_LIMIT": "lots", "NEWSBOT_SHARDS": "many", "NEWSBOT_DB": str(sample_db)}
    search = run_python("search", "palmyra", env=env)
    assert search.returncode == 0 and b"Palmyra" in search.stdout

    doctor = run_python("doctor", env=env)
    assert doctor.returncode == 1
    out = doctor.stdout.decode()
    assert "failed  setting: NEWSBOT_RATE_LIMIT='lots'" in out
    assert "failed  setting: NEWSBOT_SHARDS='many'" in out

    run = run_python("run", env={**env, "DISCORD_TOKEN": WELL_FORMED_TOKEN})
    assert run.returncode == 2
    assert b"NEWSBOT_RATE_LIMIT='lots'" in run.stderr and b"NEWSBOT_SHARDS='many'" in run.stderr
    assert b"Traceback" not in run.stderr


def test_settings_problems_do_not_stop_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_RATE_LIMIT", "5")
    settings = Settings.load()
    assert settings.rate_limit == (5, 10.0)
    assert len(settings.problems) == 1 and "NEWSBOT_RATE_LIMIT" in settings.problems[0]
    assert any(c.status == FAILED and c.name == "setting" for c in doctor_checks(settings))


def test_a_heartbeat_from_the_future_is_not_healthy(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    beat = tmp_path / "heartbeat"
    write_heartbeat(beat, now + dt.timedelta(hours=1))
    check = check_heartbeat(beat, now)
    assert check.status == FAILED and "in the future" in check.detail
    write_heartbeat(beat, now + dt.timedelta(seconds=2))  # clocks a little apart
    assert check_heartbeat(beat, now).status == OK


# run without a usable token or network


@pytest.mark.parametrize(
    ("token", "complaint"),
    [("not-a-token", b"it has 1 dot-separated part"), ("Bot " + WELL_FORMED_TOKEN, b"it starts with 'Bot '")],
)
def test_run_with_a_malformed_token_says_so_in_one_line(sample_db: Path, token: str, complaint: bytes) -> None:
    result = run_python("run", env={"DISCORD_TOKEN": token, "NEWSBOT_DB": str(sample_db)})
    assert result.returncode == 2
    assert result.stdout == b""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert complaint in result.stderr and b"python -m bot doctor" in result.stderr


async def test_run_retries_an_unreachable_discord_in_one_line_each(
    sample_db: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")  # nothing listens there
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)  # as in a new process
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    settings = Settings(sample_archive, sample_db, None, WELL_FORMED_TOKEN)
    task = asyncio.create_task(run_bot(settings, retry_delays=(0.05, 0.1)))
    for _ in range(400):
        if sum("cannot reach Discord" in r.getMessage() for r in caplog.records) >= 3:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    records = [r for r in caplog.records if "cannot reach Discord" in r.getMessage()]
    assert len(records) >= 3
    assert "trying again in 0 s" in records[0].getMessage()
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in records)
    assert not any(r.exc_info for r in caplog.records)
    assert not any("voice will NOT be supported" in r.getMessage() for r in caplog.records)


def test_unreachable_line_names_the_reason() -> None:
    line = unreachable_line(OSError("Temporary failure in name resolution"), 15)
    assert line == ("cannot reach Discord (Temporary failure in name resolution); trying again in 15 s (Ctrl-C stops)")


# README


def readme_examples() -> list[tuple[str, str]]:
    """The command line's examples in README: (command, the output shown, '...' where it is cut)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("Examples, on the sample archive", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    examples = []
    for chunk in block.split("$ ")[1:]:
        command, _, shown = chunk.partition("\n")
        examples.append((command, shown))
    return examples


@pytest.mark.parametrize(("command", "shown"), readme_examples(), ids=lambda value: value[:30])
def test_readme_command_line_examples_work_as_written(sample_db: Path, command: str, shown: str) -> None:
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "bot"]
    result = run_python(*words[3:], env={"NEWSBOT_DB": str(sample_db)})
    output = flat(result.stdout.decode())
    for part in shown.split("..."):
        part = flat(part).strip(", ")
        if part:
            assert part in output, f"{part!r} not in {output!r}"
    assert result.stdout.decode().startswith(shown.split("...")[0].strip().splitlines()[0])


def test_make_demo_writes_the_store_the_console_and_cli_read() -> None:
    from bot.config import DEFAULT_DB

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert f"DB ?= {DEFAULT_DB.as_posix()}\n" in makefile
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "index --archive corpus/sample --db $(DB)" in demo
    assert "Next: make console" in demo
    console = makefile.split("\nconsole:", 1)[1].split("\n\n", 1)[0]
    assert "-m bot --db $(DB) console" in console
