"""`python -m bot doctor [--health]`, and the heartbeat the running bot writes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import sqlite3
import sys
from pathlib import Path

import pytest

import bot.doctor as doctor
from bot.config import Settings
from bot.doctor import (
    FAILED,
    HEARTBEAT_MAX_AGE,
    NOTE,
    OK,
    check_archive,
    check_heartbeat,
    check_store,
    check_timezones,
    check_token,
    inspect_store,
    keep_heartbeat,
    read_heartbeat,
    run_doctor,
    run_health,
    token_problem,
    write_heartbeat,
)
from bot.terminal.cli import main
from store.db import SCHEMA_VERSION

FAKE_TOKEN = "MTA1MjQ2NzQ4MDMxNTU2MjA0OA.GfE3Xw." + "a1B2c3D4e5F6g7H8i9J0k1L2m3N"
NOW = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)


def settings(db: Path, archive: Path, token: str | None = FAKE_TOKEN) -> Settings:
    return Settings(archive=archive, db=db, archive_url=None, token=token)


def doctor_output(config: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(config, out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def no_heartbeat_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSBOT_HEARTBEAT", raising=False)


# The token


def test_a_token_of_the_right_shape_is_ok_and_never_printed() -> None:
    assert len(FAKE_TOKEN.split(".")[2]) == 27
    assert token_problem(FAKE_TOKEN) == (None, 1052467480315562048)
    check = check_token(FAKE_TOKEN)
    assert check.status == OK
    assert "1052467480315562048" in check.detail
    for part in FAKE_TOKEN.split("."):
        assert part not in check.detail + check.fix


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (None, "not set"),
        ("", "not set"),
        ("MTA1MjQ2NzQ4MDMxNTU2MjA0OA.GfE3Xw", "2 dot-separated parts"),
        ("abcdefghijklmnopqrstuvwxyz012345", "1 dot-separated part,"),
        ("Bot " + FAKE_TOKEN, "'Bot '"),
        (f'"{FAKE_TOKEN}"', "quotes"),
        (f" {FAKE_TOKEN}", "spaces"),
        (FAKE_TOKEN.replace("GfE3Xw", "GfE3+w"), "characters"),
        (base64.urlsafe_b64encode(b"not-an-id").decode().rstrip("=") + ".GfE3Xw.abc", "not a bot id"),
        ("!!!!.GfE3Xw.abc", "characters"),
        ("a.b.c.d", "4 dot-separated parts"),
    ],
)
def test_a_token_of_the_wrong_shape_fails_with_the_reason(token: str | None, says: str) -> None:
    check = check_token(token)
    assert check.status == FAILED
    assert says in check.detail
    assert "DISCORD_TOKEN" in check.fix and "Reset Token" in check.fix
    secret = (token or "").strip(" \"'").split(".")[-1]
    if len(secret) > 3:
        assert secret not in check.detail


# Database and archive


def test_everything_in_place_passes(sample_db: Path, sample_archive: Path) -> None:
    code, output = doctor_output(settings(sample_db, sample_archive))
    assert code == 0, output
    assert output.endswith("All checks passed.\n")
    statuses = {line.split()[0] for line in output.splitlines()[1:-1] if not line.startswith(" ")}
    assert statuses <= {OK, NOTE}
    assert "15 events" in output or "events" in output
    assert f"schema version {SCHEMA_VERSION}" in output
    assert "Europe/Berlin" in output


def test_a_missing_archive_is_reported(sample_db: Path, tmp_path: Path) -> None:
    code, output = doctor_output(settings(sample_db, tmp_path / "nowhere"))
    assert code == 1
    line = next(line for line in output.splitlines() if "archive:" in line)
    assert line.startswith("failed") and "nowhere" in line and "does not exist" in line
    assert "NEWSBOT_ARCHIVE" in output
    assert output.endswith("1 of 6 checks failed.\n")


def test_an_archive_without_news_is_reported(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    check = check_archive(tmp_path / "stuff")
    assert check.status == FAILED and "no news/ folder" in check.detail


def test_the_archive_check_counts_event_files_and_notices_changes(sample_db: Path, sample_archive: Path) -> None:
    files = [f for f in (sample_archive / "news").rglob("*.md") if f.name != "index.md"]
    state = inspect_store(sample_db)
    check = check_archive(sample_archive, state)
    assert check.status == OK and f"{len(files)} event files" in check.detail
    assert "index" not in check.detail  # nothing changed since the last run
    (sample_archive / "news" / "2016" / "04" / "3" / "index.md").write_text("a day page, not an event")
    new = sample_archive / "news" / "2020" / "01" / "1" / "new-event.md"
    new.parent.mkdir(parents=True)
    new.write_text("### [2020-01-1](/news/2020/01/1/index.md)\n\n# New.\n")
    check = check_archive(sample_archive / "news", state)  # the news/ folder itself is accepted too
    assert check.status == OK and f"{len(files) + 1} event files" in check.detail
    assert "python -m bot index" in check.detail


def test_a_missing_database_is_reported_and_not_created(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "none" / "newsbot.sqlite3"
    code, output = doctor_output(settings(db, sample_archive))
    assert code == 1
    assert f"failed  database: no database at {db}" in output
    assert "python -m bot index" in output
    assert not db.exists() and not db.parent.exists()


def test_an_empty_database_is_reported(tmp_path: Path, sample_archive: Path) -> None:
    from store.db import connect_sync

    db = tmp_path / "empty.sqlite3"
    connect_sync(db).close()
    code, output = doctor_output(settings(db, sample_archive))
    assert code == 1
    assert "failed  events: the database holds no events" in output


def test_a_database_that_is_not_sqlite_is_reported(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "newsbot.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    checks = check_store(inspect_store(db))
    assert [c.status for c in checks] == [FAILED]
    assert "cannot be read" in checks[0].detail


def test_a_newer_or_older_schema_is_reported_without_touching_the_file(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = sqlite3.connect(sample_db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    [check] = check_store(inspect_store(sample_db))
    assert check.status == FAILED and "schema version 99" in check.detail and "upgrade the bot" in check.fix

    conn = sqlite3.connect(sample_db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()
    conn.close()
    monkeypatch.setattr(doctor, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    [check] = check_store(inspect_store(sample_db))
    assert check.status == FAILED and "upgraded when the bot" in check.fix and ".bak" in check.fix
    assert not list(sample_db.parent.glob("*.bak"))  # the doctor only looks
    conn = sqlite3.connect(sample_db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_an_unbuilt_search_index_is_reported(sample_db: Path) -> None:
    conn = sqlite3.connect(sample_db)
    conn.execute("DELETE FROM search_docs")
    conn.commit()
    conn.close()
    checks = check_store(inspect_store(sample_db))
    assert checks[1].status == FAILED and "search index covers 0" in checks[1].detail


def test_missing_time_zone_data_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_timezones().status == OK
    monkeypatch.setitem(sys.modules, "tzdata", None)  # import tzdata now raises ImportError
    check = check_timezones()
    assert check.status == FAILED and "tzdata" in check.detail and "pip install tzdata" in check.fix


# The heartbeat


def test_heartbeat_round_trip_is_atomic_and_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "db" / "heartbeat"
    write_heartbeat(path, dt.datetime(2024, 7, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert path.read_text() == "2024-07-01T12:00:00+00:00\n"
    assert read_heartbeat(path) == NOW
    assert [p.name for p in path.parent.iterdir()] == ["heartbeat"]
    assert read_heartbeat(tmp_path / "nothing") is None


def test_heartbeat_age_decides(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    write_heartbeat(path, NOW)
    assert check_heartbeat(path, NOW + dt.timedelta(seconds=HEARTBEAT_MAX_AGE)).status == OK
    old = NOW + dt.timedelta(seconds=HEARTBEAT_MAX_AGE + 1)
    assert check_heartbeat(path, old).status == FAILED
    assert check_heartbeat(path, old, required=False).status == NOTE
    assert "2 min ago" in check_heartbeat(path, old).detail
    assert check_heartbeat(tmp_path / "missing", NOW).status == FAILED
    assert check_heartbeat(tmp_path / "missing", NOW, required=False).status == NOTE
    path.write_text("garbage")
    assert check_heartbeat(path, NOW, required=False).status == FAILED


def test_health_needs_a_readable_store_and_a_recent_heartbeat(sample_db: Path, tmp_path: Path) -> None:
    config = settings(sample_db, tmp_path / "no-archive-needed", token=None)
    heartbeat = sample_db.parent / "heartbeat"  # the default: beside the database

    out = io.StringIO()
    assert run_health(config, out) == 1
    assert out.getvalue().startswith("unhealthy: heartbeat: no heartbeat file")
    assert out.getvalue().count("\n") == 1

    write_heartbeat(heartbeat)
    out = io.StringIO()
    assert run_health(config, out) == 0, out.getvalue()
    assert out.getvalue().startswith("healthy: ") and out.getvalue().count("\n") == 1

    write_heartbeat(heartbeat, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=HEARTBEAT_MAX_AGE + 30))
    assert run_health(config, io.StringIO()) == 1

    write_heartbeat(heartbeat)
    out = io.StringIO()
    assert run_health(settings(tmp_path / "gone.sqlite3", tmp_path, None), out) == 1
    assert "database: no database" in out.getvalue()


def test_the_heartbeat_file_can_be_moved(sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "run" / "newsbot.beat"
    monkeypatch.setenv("NEWSBOT_HEARTBEAT", str(elsewhere))
    config = settings(sample_db, tmp_path)
    assert doctor.heartbeat_path(config) == elsewhere
    write_heartbeat(elsewhere)
    assert run_health(config, io.StringIO()) == 0


async def test_keep_heartbeat_writes_while_connected(tmp_path: Path) -> None:
    class Client:
        latency = float("nan")
        ready = False
        closed = False

        def is_ready(self) -> bool:
            return self.ready

        def is_closed(self) -> bool:
            return self.closed

    client, path = Client(), tmp_path / "heartbeat"
    task = asyncio.create_task(keep_heartbeat(client, path, every=0.01))
    await asyncio.sleep(0.05)
    assert not path.exists()  # not connected yet
    client.ready, client.latency = True, 0.05
    for _ in range(100):
        await asyncio.sleep(0.01)
        if path.exists():
            break
    assert check_heartbeat(path).status == OK
    client.closed = True
    await asyncio.wait_for(task, 1)


# The command line


def test_cli_doctor_and_health_exit_codes(
    sample_db: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", FAKE_TOKEN)
    assert main(["doctor", "--db", str(sample_db), "--archive", str(sample_archive)]) == 0
    output = capsys.readouterr().out
    assert FAKE_TOKEN not in output and "All checks passed." in output

    monkeypatch.setenv("DISCORD_TOKEN", "not-a-token")
    assert main(["doctor", "--db", str(sample_db), "--archive", str(sample_archive)]) == 1
    assert "failed  Discord token" in capsys.readouterr().out

    assert main(["doctor", "--health", "--db", str(sample_db)]) == 1
    write_heartbeat(sample_db.parent / "heartbeat")
    assert main(["doctor", "--health", "--db", str(sample_db)]) == 0
    assert capsys.readouterr().out.startswith("unhealthy")  # the first of the two runs


def test_an_archive_other_than_the_stores_is_flagged(sample_db: Path, sample_archive: Path, tmp_path: Path) -> None:
    state = inspect_store(sample_db)
    assert check_archive(None, state).detail.endswith("(the folder this store was built from)")

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "news" / "2020" / "01" / "1").mkdir(parents=True)
    (elsewhere / "news" / "2020" / "01" / "1" / "one.md").write_text("### [2020-01-1](/news/2020/01/1/index.md)\n")
    check = check_archive(elsewhere, state)

    assert check.status == FAILED
    assert f"but the store (15 events) was built from {sample_archive.resolve()}" in check.detail
    assert "an index run here would be refused" in check.fix
