"""The search index's file of arrays beside the SQLite store: used only when it was written for
the index run whose rows are in the store, and whole; rebuilt otherwise."""

from __future__ import annotations

import datetime as dt
import mmap
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_search import write_event

import store.search
from store.backup import backup_store, restore_store
from store.index_file import index_file, read_index_file
from store.ingest import index_archive
from store.search import ARRAYS, SearchIndex
from store.sqlite import load_search_index

QUERIES = ["syrian army", "alqaryatain", "palmyra 2016", '"homs" -army', "isil militants killed"]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the indexes built from posting rows (one entry per build, its number of docs)."""
    built: list[int] = []
    original = store.search.index_arrays

    def counting(rows):
        built.append(len(rows.docs))
        return original(rows)

    monkeypatch.setattr(store.search, "index_arrays", counting)
    return built


def answers(index: SearchIndex) -> list[object]:
    """What the index answers to a few queries, in both rankings, to the bit."""
    found = []
    for query in QUERIES:
        for ranked in (index.search(query, 5), index.search(query.split(), 5, plain=True)):
            found.append(([(hit.event_id, hit.score, hit.day) for hit in ranked.hits], ranked.matched))
    return found


def mapped_from_file(array: np.ndarray) -> bool:
    """Whether the array's memory is a mapping of a file."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return isinstance(array, memoryview) and isinstance(array.obj, mmap.mmap)


def token(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT value FROM settings WHERE key = 'index_token'").fetchone()[0]
    finally:
        conn.close()


def test_the_first_load_writes_the_file_and_the_next_maps_it(sample_db: Path, builds: list[int]) -> None:
    assert not index_file(sample_db).exists()
    _, built = load_search_index(sample_db)
    assert builds == [built.size] and index_file(sample_db).is_file()
    _, mapped = load_search_index(sample_db)
    assert builds == [built.size]  # not built again
    assert answers(mapped) == answers(built)
    for name in ARRAYS:
        assert np.array_equal(mapped.arrays[name], built.arrays[name]), name
        assert mapped_from_file(mapped.arrays[name]) and not mapped_from_file(built.arrays[name])
    assert mapped.terms == built.terms and mapped.term_text == built.term_text


def test_a_missing_file_is_written_again(sample_db: Path, builds: list[int]) -> None:
    load_search_index(sample_db)
    index_file(sample_db).unlink()
    load_search_index(sample_db)
    assert len(builds) == 2 and index_file(sample_db).is_file()
    load_search_index(sample_db)
    assert len(builds) == 2


def test_a_new_index_run_makes_the_file_stale(sample_db: Path, sample_archive: Path, builds: list[int]) -> None:
    _, before = load_search_index(sample_db)
    first_token = token(sample_db)
    write_event(sample_archive, dt.date(2016, 5, 1), "Zanzibar holds a referendum on the new harbour")
    index_archive(sample_db, sample_archive)
    assert token(sample_db) != first_token
    _, after = load_search_index(sample_db)
    assert len(builds) == 2  # the file of the previous run was not used
    assert after.size == before.size + 1 and after.search("zanzibar").hits
    assert read_index_file(index_file(sample_db), token(sample_db), ARRAYS) is not None
    # A run that changes nothing keeps the rows, their token and the file.
    index_archive(sample_db, sample_archive)
    load_search_index(sample_db)
    assert len(builds) == 2


def test_a_restored_older_backup_is_not_read_from_the_newer_file(
    sample_db: Path, sample_archive: Path, tmp_path: Path, builds: list[int]
) -> None:
    _, old = load_search_index(sample_db)
    copy = backup_store(sample_db, tmp_path / "backup.sqlite3").path
    write_event(sample_archive, dt.date(2016, 5, 1), "Zanzibar holds a referendum on the new harbour")
    index_archive(sample_db, sample_archive)
    load_search_index(sample_db)  # the file now holds the newer index (same generation as none, but newer rows)
    newer_file = index_file(sample_db).read_bytes()
    restore_store(copy, sample_db)
    assert not index_file(sample_db).exists()  # restore removes it
    _, restored = load_search_index(sample_db)
    assert answers(restored) == answers(old) and not restored.search("zanzibar").hits
    # Even a newer file put back beside the restored store is not read: it names another run.
    index_file(sample_db).write_bytes(newer_file)
    builds.clear()
    _, again = load_search_index(sample_db)
    assert builds == [old.size] and answers(again) == answers(old)


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "a flipped byte in the postings",
        "a zeroed page",
        "an empty file",
        "another format",
        "a header that is not JSON",
    ],
)
def test_a_damaged_file_is_not_trusted_but_rebuilt(sample_db: Path, builds: list[int], damage: str) -> None:
    _, built = load_search_index(sample_db)
    path = index_file(sample_db)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        del data[-100:]
    elif damage == "a flipped byte in the postings":
        data[len(data) // 2] ^= 0x10
    elif damage == "a zeroed page":
        data[-8192:-4096] = bytes(4096)
    elif damage == "an empty file":
        data = bytearray()
    elif damage == "another format":
        data = data.replace(b'"format": 1', b'"format": 9', 1)
    else:
        data[20:24] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert read_index_file(path, token(sample_db), ARRAYS) is None
    _, rebuilt = load_search_index(sample_db)
    assert len(builds) == 2 and answers(rebuilt) == answers(built)
    assert read_index_file(path, token(sample_db), ARRAYS) is not None  # written whole again


def test_a_reader_keeps_its_index_while_the_file_is_replaced(
    sample_db: Path, sample_archive: Path, builds: list[int]
) -> None:
    load_search_index(sample_db)
    _, reader = load_search_index(sample_db)  # mapped from the file
    expected = answers(reader)
    write_event(sample_archive, dt.date(2016, 5, 1), "Zanzibar holds a referendum on the new harbour")
    index_archive(sample_db, sample_archive)
    load_search_index(sample_db)  # another process would do this: the file is replaced
    assert answers(reader) == expected and not reader.search("zanzibar").hits
    assert not list(sample_db.parent.glob("*.partial"))


def test_a_store_without_a_token_loads_from_its_rows(sample_db: Path, sample_archive: Path, builds: list[int]) -> None:
    """A store whose last index run came before the token: no file is written or read, until
    an index run (even one that changes nothing) names its rows."""
    conn = sqlite3.connect(sample_db)
    conn.execute("DELETE FROM settings WHERE key = 'index_token'")
    conn.commit()
    conn.close()
    load_search_index(sample_db)
    load_search_index(sample_db)
    assert len(builds) == 2 and not index_file(sample_db).exists()
    assert not index_archive(sample_db, sample_archive).changed
    load_search_index(sample_db)
    _, mapped = load_search_index(sample_db)
    assert len(builds) == 3 and mapped_from_file(mapped.postings)


def test_a_folder_that_cannot_be_written_still_loads(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise PermissionError("read-only folder")

    monkeypatch.setattr("store.sqlite.write_index_file", refuse)
    _, index = load_search_index(sample_db)
    assert index.search("syrian army").hits and not index_file(sample_db).exists()
