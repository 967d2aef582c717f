"""Schema migrations (store/migrations.py) and backups (store/backup.py, `python -m bot backup`).

The schema is at version 1 today, so the upgrades here are simulated: the test sets
SCHEMA_VERSION to 2 (or 3) and supplies the migration steps a real change would add.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import store.db as db
from bot.terminal.cli import main
from store import Store, StoreError, migrations
from store.backup import backup_store
from store.db import SCHEMA, TABLES, connect, connect_sync
from store.migrations import execute_script, steps

DATA_TABLES = ("events", "sources", "related", "topics", "search_docs", "search_terms", "index_runs", "settings")
NEW_COLUMNS = {"summary", "host", "weight"}  # added by the simulated migrations


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the data tables, in a stable order; columns added later left out."""
    conn = sqlite3.connect(path)
    try:
        tables = {}
        for table in DATA_TABLES:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] not in NEW_COLUMNS]
            tables[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2").fetchall()
        return tables
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def v1_db(sample_db: Path) -> Path:
    """The sample archive indexed by this bot (schema version 1), with a setting stored."""
    conn = connect_sync(sample_db)
    conn.execute("INSERT INTO settings (key, value) VALUES ('commands_synced:global', 'abc')")
    conn.close()
    assert user_version(sample_db) == 1
    return sample_db


def add_summary(conn: sqlite3.Connection) -> None:
    """A step as a function: a new column filled from existing data."""
    conn.execute("ALTER TABLE events ADD COLUMN summary TEXT")
    conn.execute("UPDATE events SET summary = substr(headline, 1, 20)")


def rebuild_topics(conn: sqlite3.Connection) -> None:
    """The table rebuild SQLite recommends (foreign keys are off during the upgrade)."""
    execute_script(
        conn,
        """
        CREATE TABLE topics_new (
            event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            topic    TEXT NOT NULL,  -- now with; a; comment; full of semicolons;
            weight   REAL NOT NULL DEFAULT 1.0,
            PRIMARY KEY (event_id, topic)
        ) WITHOUT ROWID;
        INSERT INTO topics_new (event_id, topic) SELECT event_id, topic FROM topics;
        DROP TABLE topics;
        ALTER TABLE topics_new RENAME TO topics;
        CREATE INDEX IF NOT EXISTS topics_by_name ON topics(topic)
        """,
    )


VERSION_2 = """
ALTER TABLE index_runs ADD COLUMN host TEXT;  -- a comment; with semicolons
UPDATE index_runs SET host = 'x'
"""


@pytest.fixture
def version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(migrations, "MIGRATIONS", [(2, VERSION_2)])


# Upgrades


def test_an_older_database_is_upgraded_with_a_backup_and_keeps_every_row(v1_db: Path, version_2: None) -> None:
    before = dump(v1_db)
    conn = connect_sync(v1_db)
    conn.close()

    assert user_version(v1_db) == 2
    assert dump(v1_db) == before
    assert "host" in columns(v1_db, "index_runs")
    assert integrity(v1_db) == "ok"

    backup = Path(f"{v1_db}.v1.bak")
    assert backup.is_file()
    assert integrity(backup) == "ok"
    assert user_version(backup) == 1
    assert dump(backup) == before
    assert "host" not in columns(backup, "index_runs")

    connect_sync(v1_db).close()  # already current: no second backup
    assert sorted(p.name for p in v1_db.parent.glob("*.bak")) == [backup.name]


async def test_the_bot_upgrades_on_open_and_then_searches_as_before(
    v1_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(v1_db) as store:
        found_before = [(f.event.path, f.score) for f in await store.search("al-qaryatain")]
        events_before = (await store.stats()).events
    before = dump(v1_db)
    monkeypatch.setattr(db, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", [(2, add_summary), (3, rebuild_topics)])

    async with await Store.open(v1_db) as store:
        assert [(f.event.path, f.score) for f in await store.search("al-qaryatain")] == found_before
        assert (await store.stats()).events == events_before
        async with store.backend.conn.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == 3

    assert dump(v1_db) == before
    assert "summary" in columns(v1_db, "events") and "weight" in columns(v1_db, "topics")
    conn = sqlite3.connect(v1_db)
    assert conn.execute("SELECT count(*) FROM events WHERE summary IS NULL").fetchone()[0] == 0
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    assert dump(Path(f"{v1_db}.v1.bak")) == before


def test_a_failed_upgrade_changes_nothing_and_says_where_the_backup_is(
    v1_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(v1_db)
    monkeypatch.setattr(db, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(
        migrations,
        "MIGRATIONS",
        [(2, add_summary), (3, "UPDATE events SET headline = 'x'; SELECT * FROM no_such_table;")],
    )
    with pytest.raises(StoreError) as raised:
        connect_sync(v1_db)
    message = str(raised.value)
    assert "version 3 failed" in message and "no_such_table" in message
    assert "still at schema version 1" in message and f"{v1_db}.v1.bak" in message

    assert user_version(v1_db) == 1
    assert dump(v1_db) == before
    assert "summary" not in columns(v1_db, "events")
    conn = sqlite3.connect(v1_db)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0  # a new plain connection: off by default
    conn.close()
    assert dump(Path(f"{v1_db}.v1.bak")) == before

    # Fixed, the next start upgrades; the first backup is kept and a second one is made beside it.
    monkeypatch.setattr(migrations, "MIGRATIONS", [(2, add_summary), (3, rebuild_topics)])
    conn = connect_sync(v1_db)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # switched back on after the upgrade
    conn.close()
    assert user_version(v1_db) == 3
    backups = sorted(p.name for p in v1_db.parent.glob("*.bak"))
    assert len(backups) == 2 and f"{v1_db.name}.v1.bak" in backups


def test_a_newer_database_is_refused(v1_db: Path) -> None:
    conn = sqlite3.connect(v1_db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="upgrade the bot") as raised:
        connect_sync(v1_db)
    assert "schema version 99" in str(raised.value)
    assert user_version(v1_db) == 99
    assert not list(v1_db.parent.glob("*.bak"))


async def test_a_newer_database_is_refused_by_the_bot(v1_db: Path) -> None:
    conn = sqlite3.connect(v1_db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="upgrade the bot"):
        await connect(v1_db)
    with pytest.raises(StoreError, match="upgrade the bot"):
        await Store.open(v1_db)


def test_the_command_line_says_to_upgrade_the_bot(v1_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(v1_db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    assert main(["on", "2016-04-03", "--db", str(v1_db)]) == 1
    assert "upgrade the bot" in capsys.readouterr().err


def test_a_new_database_gets_the_current_schema_without_a_backup(tmp_path: Path, version_2: None) -> None:
    path = tmp_path / "new" / "newsbot.sqlite3"
    connect_sync(path).close()
    assert user_version(path) == 2
    assert not list(path.parent.glob("*.bak"))


async def test_an_index_new_to_this_version_is_added_on_open_without_an_upgrade(v1_db: Path) -> None:
    """A store written before `events_by_month_day` existed gets it when opened: no migration, no backup."""
    conn = sqlite3.connect(v1_db)
    try:
        conn.execute("DROP INDEX events_by_month_day")
        before = conn.execute("SELECT id FROM events WHERE substr(date, 6) = '04-03' ORDER BY id").fetchall()
        conn.commit()
    finally:
        conn.close()

    async with await Store.open(v1_db) as store:
        assert sorted(row_id for row_id, _, _ in await store.month_day(4, 3)) == [row[0] for row in before]
        plan = await store.backend.conn.execute_fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE substr(date, 6) = ?", ["04-03"]
        )
    assert "USING INDEX events_by_month_day" in " ".join(str(row[-1]) for row in plan)
    assert user_version(v1_db) == db.SCHEMA_VERSION
    assert not list(v1_db.parent.glob("*.bak"))


def test_a_missing_step_is_an_error_not_a_silent_skip(v1_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", [(3, add_summary)])
    with pytest.raises(StoreError, match="from version 1 to 3"):
        connect_sync(v1_db)
    assert user_version(v1_db) == 1


def test_the_migration_list_reaches_the_current_schema_version() -> None:
    versions = [version for version, _ in migrations.MIGRATIONS]
    assert versions == sorted(set(versions))
    assert all(version >= 2 for version in versions)  # version 1 is the first schema
    assert steps(1, db.SCHEMA_VERSION) == migrations.MIGRATIONS
    assert (versions[-1] if versions else 1) == db.SCHEMA_VERSION


def test_execute_script_runs_the_schema_statement_by_statement() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("BEGIN")
    execute_script(conn, SCHEMA)
    assert conn.in_transaction  # no implicit commit, unlike executescript
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == TABLES
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


# Backups


def test_a_backup_taken_during_a_write_holds_only_what_was_committed(v1_db: Path, tmp_path: Path) -> None:
    committed = dump(v1_db)
    writer = sqlite3.connect(v1_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM events WHERE id = (SELECT min(id) FROM events)")
    writer.execute("INSERT INTO settings (key, value) VALUES ('uncommitted', 'yes')")
    writer.execute("UPDATE events SET headline = 'CHANGED'")

    copy = backup_store(v1_db, tmp_path / "backups" / "copy.sqlite3")

    assert copy.path.is_file() and copy.events == len(committed["events"])
    assert integrity(copy.path) == "ok"
    assert dump(copy.path) == committed
    assert user_version(copy.path) == 1
    assert not Path(f"{copy.path}-wal").exists()  # one self-contained file
    writer.execute("COMMIT")  # the backup did not block the writer
    writer.close()
    assert len(dump(v1_db)["events"]) == len(committed["events"]) - 1


async def test_a_backup_opens_as_a_store_that_answers_the_same(v1_db: Path, tmp_path: Path) -> None:
    copy = backup_store(v1_db, tmp_path / "copy.sqlite3").path
    async with await Store.open(v1_db) as original, await Store.open(copy) as restored:
        query = "syrian army"
        assert [(f.event, f.score) for f in await restored.search(query)] == [
            (f.event, f.score) for f in await original.search(query)
        ]


def test_a_backup_does_not_replace_a_file_unless_forced(v1_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.sqlite3"
    target.write_text("precious")
    with pytest.raises(StoreError, match="--force"):
        backup_store(v1_db, target)
    assert target.read_text() == "precious"
    backup_store(v1_db, target, force=True)
    assert integrity(target) == "ok"
    assert not list(tmp_path.glob(".*.partial"))
    with pytest.raises(StoreError, match="nothing to back up"):
        backup_store(tmp_path / "none.sqlite3", tmp_path / "other.sqlite3")
    with pytest.raises(StoreError, match="the database itself"):
        backup_store(v1_db, v1_db, force=True)


def test_cli_backup(v1_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nightly.sqlite3"
    assert main(["backup", str(target), "--db", str(v1_db)]) == 0
    output = capsys.readouterr().out
    assert f"to {target}" in output and "events" in output
    assert main(["backup", str(target), "--db", str(v1_db)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["backup", str(target), "--db", str(v1_db), "--force"]) == 0
