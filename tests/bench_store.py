"""Store safety benchmark on the shared archive (112,655 events): `python -m tests.bench_store`
(`make bench-store`).

With the archive unpacked and indexed once in the cache folder ($NEWSBOT_CACHE, default
~/.cache/newsbot), it measures on copies of that store:

- removing the whole archive: a confirmed run (`allow_shrink`) over an empty news/ folder;
- a refused run: the same run unconfirmed, which must change nothing (how long the guard takes);
- a reader's switch to a new generation: a store open in this process, an index run that adds
  one event committed by another process, then the reader's `refresh` (the bot looks every
  INDEX_CHECK_EVERY seconds; the time below is what follows the look).

It prints a Markdown table. It is a benchmark, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.discord.client import INDEX_CHECK_EVERY
from store.ingest import ShrinkRefused, index_archive
from store.store import Store
from tests.conftest import SHARED_ARCHIVE, SHARED_EVENTS, unpack_shared_archive

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NEWSBOT_CACHE") or Path.home() / ".cache" / "newsbot")
RUNS = 3
NEW_EVENT = "### [2026-3-31](/news/2026/03/31/index.md)\n\n# The bench-generation quokka accord is signed.\n"


def full_store() -> tuple[Path, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = unpack_shared_archive(CACHE / "current-events")
    db = CACHE / "store-bench.sqlite3"
    if not db.exists():
        print(f"indexing {SHARED_ARCHIVE.name} into {db} once ...", file=sys.stderr)
        index_archive(db, archive)
    return archive, db


def copy_of(db: Path, folder: Path) -> Path:
    copy = folder / "copy.sqlite3"
    for side in ("", "-wal", "-shm"):
        Path(f"{copy}{side}").unlink(missing_ok=True)
    shutil.copyfile(db, copy)
    return copy


def remove_everything(db: Path, work: Path) -> tuple[float, float]:
    """(seconds for the refused run, seconds for the confirmed run that removes every event)."""
    empty = work / "empty"
    (empty / "news").mkdir(parents=True, exist_ok=True)
    copy = copy_of(db, work)
    started = time.perf_counter()
    try:
        index_archive(copy, empty)
        raise SystemExit("the unconfirmed run was not refused")
    except ShrinkRefused:
        refused = time.perf_counter() - started
    started = time.perf_counter()
    report = index_archive(copy, empty, allow_shrink=True)
    removed = time.perf_counter() - started
    assert len(report.removed) == SHARED_EVENTS and report.events == 0
    return refused, removed


async def switch_once(db: Path, archive: Path) -> tuple[float, float]:
    """(seconds of the other process's index run, seconds the reader takes to switch after looking)."""
    new = archive / "news" / "2026" / "03" / "31" / "bench-generation-quokka-accord.md"
    async with await Store.open(db) as reader:
        new.parent.mkdir(parents=True, exist_ok=True)
        new.write_text(NEW_EVENT, encoding="utf-8")
        try:
            script = "import sys; from store.ingest import index_archive; index_archive(sys.argv[1], sys.argv[2])"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", script, str(db), str(archive)], cwd=ROOT, check=True)
            indexed = time.perf_counter() - started
            started = time.perf_counter()
            assert await reader.refresh(force=True)
            switched = time.perf_counter() - started
            assert [found.event.headline for found in await reader.search("quokka accord")][:1] == [
                "The bench-generation quokka accord is signed."
            ]
        finally:
            new.unlink()
    index_archive(db, archive)  # leave the copy as the archive is
    return indexed, switched


def main() -> None:
    archive, db = full_store()
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        work = Path(folder)
        removals = [remove_everything(db, work) for _ in range(RUNS)]
        copy = copy_of(db, work)
        switches = [asyncio.run(switch_once(copy, archive)) for _ in range(RUNS)]

    def span(values: list[float], unit: float = 1.0, digits: int = 2) -> str:
        return f"{statistics.median(values) * unit:.{digits}f} (min {min(values) * unit:.{digits}f})"

    print(f"Store safety on the shared archive ({SHARED_EVENTS:,} events), {RUNS} runs, median (min):\n")
    print("| what | time |")
    print("|---|---:|")
    print(f"| a run refused by the guard (empty news/ folder), nothing changed | {span([r for r, _ in removals])} s |")
    print(f"| removing the whole archive, confirmed | {span([r for _, r in removals])} s |")
    print(f"| an index run adding one event, in another process | {span([i for i, _ in switches])} s |")
    print(f"| a reader's switch to the new generation, once it looks | {span([s for _, s in switches], 1000, 0)} ms |")
    print(f"| how often the bot looks | every {INDEX_CHECK_EVERY:.0f} s |")


if __name__ == "__main__":
    main()
