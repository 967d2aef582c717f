"""`python -m bot ...` as a user runs it: a subprocess from the repository root."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_2015, SEED_2016

from store.ingest import IndexReport

REPO = Path(__file__).resolve().parents[1]
HEADLINE_2015 = (
    "Islamic State of Iraq and the Levant conquers the key transport hub Al-Qaryatain, allowing its forces "
    "in the Qalamun region to be supplied through this city."
)
HEADLINE_2016 = "The Syrian Army retakes control of al-Qaryatayn, Homs Governorate, after driving out ISIL militants."
TOPICS_2016 = ["Islamic State of Iraq and the Levant", "Syrian Army", "Syrian Civil War", "Homs Governorate"]
ACCEPTED_FORMS = ["2016-04-03", "3 April 2016", "April 3, 2016", "3/4/2016"]
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def bot(*args: str | Path, stdin: str = "", cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `cwd` to completion (a hang fails the test through the timeout)."""
    env = {name: value for name, value in os.environ.items() if name not in ("NEWSBOT_DB", "NEWSBOT_ARCHIVE")}
    env["PYTHONUTF8"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "bot", *map(str, args)],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def flat(text: str) -> str:
    """Text output with its line wrapping undone, so headlines can be found whole."""
    return " ".join(text.split())


def bot_json(*args: str | Path) -> list[dict[str, Any]]:
    result = bot(*args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def event_files(archive: Path) -> list[Path]:
    return [f for f in (archive / "news").rglob("*.md") if f.name != "index.md"]


def paths(events: list[dict[str, Any]]) -> list[str]:
    return [event["path"] for event in events]


# index


def test_index_reports_what_it_added(sample_archive: Path, tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    count = len(event_files(sample_archive))

    result = bot("index", "--archive", sample_archive, "--db", db)

    assert result.returncode == 0, result.stderr
    assert f"{count} files scanned" in result.stdout
    assert f"{count} added, 0 updated, 0 removed, 0 rejected; {count} events in the store." in result.stdout
    listed = [line.removeprefix("  added: ") for line in result.stdout.splitlines() if line.startswith("  added: ")]
    assert len(listed) == min(count, 10)
    assert set(listed) <= {f.relative_to(sample_archive).as_posix() for f in event_files(sample_archive)}
    if count > 10:
        assert f"... and {count - 10} more added" in result.stdout
    assert db.exists()


def test_second_index_changes_nothing(sample_archive: Path, tmp_path: Path) -> None:
    db = tmp_path / "twice.sqlite3"
    count = len(event_files(sample_archive))
    assert bot("index", "--archive", sample_archive, "--db", db).returncode == 0

    result = bot("index", "--archive", sample_archive, "--db", db)

    assert result.returncode == 0, result.stderr
    assert f"0 added, 0 updated, 0 removed, 0 rejected; {count} events in the store." in result.stdout
    assert "added:" not in result.stdout


def test_index_rejects_a_corrupted_file(sample_archive: Path, tmp_path: Path) -> None:
    db = tmp_path / "corrupt.sqlite3"
    count = len(event_files(sample_archive))
    seed = sample_archive / SEED_2016
    seed.write_bytes(seed.read_bytes()[:60] + b"\x00\x00garbage")

    result = bot("index", "--archive", sample_archive, "--db", db)

    assert result.returncode == 1
    assert f"{count - 1} added, 0 updated, 0 removed, 1 rejected" in result.stdout
    rejected = [line for line in result.stdout.splitlines() if "rejected:" in line]
    assert len(rejected) == 1
    assert SEED_2016 in rejected[0]
    assert "NUL bytes" in rejected[0]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["search", "al-qaryatain", "--bogus"], "unrecognized arguments: --bogus"),
        (["search", "al-qaryatain", "--limit", "ten"], "invalid int value: 'ten'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: COMMAND"),
    ],
    ids=["unknown-option", "bad-limit", "unknown-command", "no-command"],
)
def test_usage_error(sample_db: Path, args: list[str], complaint: str) -> None:
    result = bot(*args, *(["--db", str(sample_db)] if args else []))

    assert result.returncode == 2
    assert "usage: python -m bot" in result.stderr
    assert complaint in result.stderr
    assert result.stdout == ""


# search


def test_search_json(sample_db: Path) -> None:
    events = bot_json("search", "al-qaryatain", "--db", sample_db)

    assert isinstance(events, list)
    assert {SEED_2015, SEED_2016} <= set(paths(events))
    for event in events:
        assert set(event) == {"path", "date", "headline", "sources", "related", "topics", "score"}
        assert ISO_DATE.match(event["date"])
        assert event["path"].startswith("news/" + event["date"][:4] + "/")
        assert all(set(source) == {"name", "url"} for source in event["sources"])
        for link in event["related"]:
            assert set(link) == {"path", "date", "headline", "contexts"}
            assert ISO_DATE.match(link["date"])
            assert isinstance(link["contexts"], list)
        assert isinstance(event["topics"], list)
        assert isinstance(event["score"], float)
    scores = [event["score"] for event in events]
    assert scores == sorted(scores, reverse=True)


def test_search_json_seed_in_full(sample_db: Path) -> None:
    events = bot_json("search", "al-qaryatain", "--db", sample_db)
    seed = events[paths(events).index(SEED_2016)]

    assert seed["date"] == "2016-04-03"
    assert seed["headline"] == HEADLINE_2016
    assert seed["sources"] == [
        {"name": "Reuters", "url": "http://uk.reuters.com/article/uk-mideast-crisis-idlib-idUKKCN0X00WA"},
        {"name": "Reuters", "url": "http://www.reuters.com/article/us-mideast-crisis-syria-town-idUSKCN0X00BL"},
    ]
    assert len(seed["related"]) == 10
    assert seed["related"][-1]["date"] == "2016-03-27"
    assert seed["related"][-1]["contexts"] == TOPICS_2016[:3]
    assert seed["topics"] == TOPICS_2016


def test_search_queries_from_stdin(sample_db: Path) -> None:
    single = bot_json("search", "al-qaryatain", "--db", sample_db)

    result = bot("search", "-", "--db", sample_db, stdin="al-qaryatain\npalmyra\n")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == single
    assert second
    assert all("palmyra" in flat(event["headline"]).lower() for event in second[:2])


# What a search prints without: Discord, charts, the test-only libraries, /ask's lexicons, the index run.
NOT_FOR_SEARCH = ["discord", "aiohttp", "matplotlib", "jsonschema", "yaml", "bot.ask", "store.ingest", "corpus.archive"]
IMPORTED = """
import json, runpy, sys
sys.argv = ["bot", *sys.argv[1:]]
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
except SystemExit as end:
    print(json.dumps({"code": end.code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize("query", ["al-qaryatain", "-"])
def test_a_search_imports_only_what_it_needs(sample_db: Path, query: str) -> None:
    """A new process answers sooner without the modules other commands need (imported where
    they are used); the search still answers."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, "search", query, "--json", "--db", str(sample_db)],
        cwd=REPO,
        input="al-qaryatain\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    ended = json.loads(result.stderr.splitlines()[-1])
    assert ended["code"] == 0, result.stderr
    assert HEADLINE_2016 in flat(result.stdout)
    loaded = {name for name in ended["modules"] if name.split(".")[0] in {"discord", "aiohttp", "matplotlib"}}
    loaded |= {name for name in NOT_FOR_SEARCH if name in ended["modules"]}
    assert not loaded, f"imported by a search: {sorted(loaded)}"
    assert {"bot.handlers", "store.search", "numpy"} <= set(ended["modules"])  # what it does need, imported


def test_the_lazily_imported_names_are_there() -> None:
    """store and corpus give the index run's and the archive scan's names when asked for."""
    import corpus
    import store
    from corpus.archive import find_event_files
    from store.ingest import IndexBusy, index_archive

    assert (store.index_archive, store.IndexBusy, corpus.find_event_files) == (
        index_archive,
        IndexBusy,
        find_event_files,
    )
    assert all(hasattr(store, name) for name in store.__all__) and all(hasattr(corpus, name) for name in corpus.__all__)
    with pytest.raises(AttributeError):
        _ = store.no_such_name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("bounds", "year"),
    [(["--from", "2016", "--to", "2016"], "2016"), (["--year", "2016"], "2016"), (["--year", "2015"], "2015")],
    ids=["from-to-2016", "year-2016", "year-2015"],
)
def test_search_within_a_year(sample_db: Path, bounds: list[str], year: str) -> None:
    events = bot_json("search", "al-qaryatain", *bounds, "--db", sample_db)

    assert events
    assert {event["date"][:4] for event in events} == {year}
    assert (SEED_2015 in paths(events)) == (year == "2015")
    assert (SEED_2016 in paths(events)) == (year == "2016")


def test_search_with_bad_year_explains(sample_db: Path) -> None:
    result = bot("search", "al-qaryatain", "--year", "0000", "--db", sample_db)

    assert result.returncode == 1
    assert "'0000'" in result.stdout
    assert "A year such as 2016 works too" in result.stdout
    assert "Traceback" not in result.stderr


def test_search_without_an_index(tmp_path: Path) -> None:
    db = tmp_path / "never-indexed.sqlite3"

    result = bot("search", "al-qaryatain", "--db", db)

    assert result.returncode == 1
    assert f"No index at {db}" in result.stderr
    assert "python -m bot index" in result.stderr
    assert not db.exists()


# on and show


def test_on_iso_date_json(sample_db: Path) -> None:
    events = bot_json("on", "2016-04-03", "--db", sample_db)

    assert paths(events) == [SEED_2016]
    assert events[0]["date"] == "2016-04-03"
    assert "score" not in events[0]


def test_on_written_date_text(sample_db: Path) -> None:
    result = bot("on", "3 April 2016", "--db", sample_db)

    assert result.returncode == 0, result.stderr
    assert "Events on Sunday 3 April 2016 — 1 event" in result.stdout
    assert HEADLINE_2016 in flat(result.stdout)


def test_on_impossible_day(sample_db: Path) -> None:
    result = bot("on", "2016-04-31", "--db", sample_db)

    assert result.returncode != 0
    assert "'2016-04-31' is not a real day" in result.stdout
    for form in ACCEPTED_FORMS:
        assert form in result.stdout


def test_on_day_without_events_names_the_nearest(sample_db: Path) -> None:
    result = bot("on", "2016-04-04", "--db", sample_db)

    assert result.returncode == 1
    message = flat(result.stdout)
    assert "No events on Monday 4 April 2016" in message
    assert "before: 3 April 2016 (python -m bot on 2016-04-03)" in message
    assert "after: 29 April 2016 (python -m bot on 2016-04-29)" in message
    assert "`" not in message and "/on" not in message


@pytest.mark.parametrize("path", [SEED_2016, "/" + SEED_2016], ids=["path", "leading-slash"])
def test_show_json(sample_db: Path, path: str) -> None:
    events = bot_json("show", path, "--db", sample_db)

    assert len(events) == 1
    assert events[0]["path"] == SEED_2016
    assert events[0]["headline"] == HEADLINE_2016
    assert events[0]["topics"] == TOPICS_2016
    assert len(events[0]["related"]) == 10


def test_show_unknown_path(sample_db: Path) -> None:
    result = bot("show", "news/2016/04/3/no-such-event.md", "--db", sample_db)

    assert result.returncode == 1
    message = flat(result.stdout)
    assert "No event at news/2016/04/3/no-such-event.md" in message
    assert "python -m bot search (words) or python -m bot on (a day" in message


def test_search_says_how_many_matched_beyond_the_limit(sample_db: Path) -> None:
    everything = bot_json("search", "syrian", "army", "--limit", "100", "--db", sample_db)
    result = bot("search", "syrian", "army", "--limit", "3", "--db", sample_db)

    assert result.returncode == 0, result.stderr
    assert len(everything) > 3
    assert f"The best 3 of {len(everything)} matches" in result.stdout


# settings


def test_a_dotenv_file_in_the_working_directory_is_read(sample_db: Path, tmp_path: Path) -> None:
    """As an admin runs it: from the folder holding .env, which need not be a checkout of the bot."""
    (tmp_path / ".env").write_text(f"NEWSBOT_DB={sample_db}\n", encoding="utf-8")
    result = bot("on", "2016-04-03", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert HEADLINE_2016 in flat(result.stdout)


# console


def test_console_reads_commands_until_end_of_input(sample_db: Path) -> None:
    result = bot("console", "--db", sample_db, stdin="/events al-qaryatain\nn\n/on 2016-04-03\n")

    assert result.returncode == 0, result.stderr
    output = flat(result.stdout)
    assert "Events matching “al-qaryatain”" in output
    search, day = output.split("Events on Sunday 3 April 2016 — 1 event")
    assert HEADLINE_2015 in search
    assert "page 2 of 2" in search
    assert HEADLINE_2016 in day


# The shared archive


@pytest.mark.archive
def test_shared_archive_search(shared_index: tuple[Path, IndexReport]) -> None:
    db, report = shared_index
    assert report.events == 112_655
    assert report.rejected == []

    events = bot_json("search", "al-qaryatain", "--db", db)

    top = paths(events[:5])
    assert SEED_2015 in top
    assert SEED_2016 in top
