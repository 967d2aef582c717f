"""/reindex and /status through the fake Discord: progress, counts, one run at a time, searches meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import discord
import pytest
from conftest import running
from fake_discord import EPHEMERAL, FakeDiscord

import store.ingest as ingest_module
from bot.discord.cogs import admin
from store.ingest import index_lock

NEW_PATH = "news/2018/01/5/the-zorblax-treaty-is-signed.md"
NEW_EVENT = """### [2018-01-5](/news/2018/01/5/index.md)

# The Zorblax treaty is signed.

### Source:

1. [Reuters](http://example.com/zorblax)
"""
BAD_PATH = "news/2018/01/6/broken.md"


class Gate:
    """Holds the index run at its first progress report until the test lets it go."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()

    def wrap(self, real: Callable[..., object]) -> Callable[..., object]:
        def run(
            db: Path, archive: Path, requested_by: str, progress: Callable[[int, int], None], *rest: object
        ) -> object:
            def hold(done: int, total: int) -> None:
                progress(done, total)
                if done == 0:
                    self.reached.set()
                    self.go.wait(10)

            return real(db, archive, requested_by, hold, *rest)

        return run


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    gate = Gate()
    monkeypatch.setattr(ingest_module, "index_archive", gate.wrap(ingest_module.index_archive))
    monkeypatch.setattr(admin, "PROGRESS_EVERY", 0.02)
    yield gate
    gate.go.set()  # never leave the worker thread waiting


@pytest.fixture
def changed_archive(sample_archive: Path, sample_db: Path) -> Path:
    """The sample, indexed, then changed: one file added, one updated, one removed, one broken."""
    (sample_archive / NEW_PATH).parent.mkdir(parents=True)
    (sample_archive / NEW_PATH).write_text(NEW_EVENT, encoding="utf-8")
    (sample_archive / BAD_PATH).parent.mkdir(parents=True)
    (sample_archive / BAD_PATH).write_text("no date line, no headline\n", encoding="utf-8")
    files = sorted((sample_archive / "news").rglob("*.md"))
    updated = next(f for f in files if "/2016/04/3/" in str(f))
    updated.write_text(updated.read_text(encoding="utf-8").replace("ISIL militants.", "ISIL fighters."), "utf-8")
    next(f for f in files if "/2015/08/6/" in str(f)).unlink()
    return sample_archive


async def wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10), "the index run did not get there"


async def test_reindex_is_refused_to_a_member(fake: FakeDiscord, sample_db: Path, changed_archive: Path) -> None:
    async with running(fake, sample_db, changed_archive) as bot:
        before = await bot.store.last_run()
        reply = await (await fake.slash("reindex", user=fake.member)).final()
        assert reply["flags"] & EPHEMERAL
        assert reply["content"].startswith("Only members with Manage Server, or the role set with")
        assert bot.get_cog("Admin").job.task is None
        assert await bot.store.last_run() == before


async def test_reindex_edits_progress_then_counts(
    fake: FakeDiscord, sample_db: Path, changed_archive: Path, gate: Gate
) -> None:
    async with running(fake, sample_db, changed_archive) as bot:
        rec = await fake.slash("reindex", user=fake.admin)
        assert (await rec.response())["type"] == 5  # deferred: "thinking…"
        await wait(gate.reached)
        held = await rec.wait_until(lambda m: "0 of 3 changed files read" in m["content"])
        assert held["content"].startswith("Re-indexing the archive… asked by admin")
        assert "Searches use the current index until the run has finished." in held["content"]
        gate.go.set()
        final = await rec.wait_until(lambda m: "Re-index finished" in m["content"])
        assert "16 files scanned; **1 added, 1 updated, 1 removed, 1 rejected**" in final["content"]
        assert "15 events in the store" in final["content"]
        assert f"- `{BAD_PATH}:1: " in final["content"]
        progress = [edit["content"] for edit in rec.edits[:-1]]
        assert progress and all(text.startswith("Re-indexing the archive…") for text in progress)

        run = await bot.store.last_run()
        assert run is not None and run.requested_by == f"admin ({fake.admin.id})"
        assert (run.added, run.updated, run.removed, run.rejected) == (1, 1, 1, 1)
        status = await (await fake.slash("status", user=fake.member)).final()
        assert (
            f"by admin ({fake.admin.id}): 16 files scanned, 1 added, 1 updated, 1 removed, 1 rejected"
            in (status["content"])
        )
        shown = await (await fake.slash("settings show", user=fake.admin)).final()
        assert "Last index run: <t:" in shown["content"] and "1 rejected" in shown["content"]


async def test_searches_answer_and_a_second_reindex_waits_while_one_runs(
    fake: FakeDiscord, sample_db: Path, changed_archive: Path, gate: Gate
) -> None:
    async with running(fake, sample_db, changed_archive):
        first = await fake.slash("reindex", user=fake.admin)
        await wait(gate.reached)

        # the bot answers from the old index meanwhile: the new event is not found yet
        old = await (await fake.slash("events", {"query": "al-qaryatain"})).final(timeout=3)
        assert old["embeds"] and not old["flags"] & EPHEMERAL
        missing = await (await fake.slash("events", {"query": "zorblax"})).final(timeout=3)
        assert missing["flags"] & EPHEMERAL and "The archive never uses “zorblax”" in missing["content"]

        second = await (await fake.slash("reindex", user=fake.owner)).final()
        assert second["flags"] & EPHEMERAL
        assert "A re-index is already running (asked by admin" in second["content"]
        assert "0 of 3 changed files read" in second["content"]
        status = await (await fake.slash("status")).final()
        assert "Re-index running: asked by admin" in status["content"]

        gate.go.set()
        await first.wait_until(lambda m: "Re-index finished" in m["content"])
        found = await (await fake.slash("events", {"query": "zorblax"})).final()
        assert found["embeds"][0]["title"] == "The **Zorblax** treaty is signed."  # the matched word in bold
    assert sum(1 for r in fake.interactions if r.name == "reindex" and r.callbacks[0]["type"] == 5) == 1


async def test_a_role_named_in_the_settings_may_reindex(sample_db: Path, sample_archive: Path) -> None:
    async with FakeDiscord() as fake:
        editor = fake.add_user("editor", permissions=discord.Permissions(kick_members=True).value)
        role_id = editor.role_ids[0]
        async with running(fake, sample_db, sample_archive):
            refused = await (await fake.slash("reindex", user=editor)).final()
            assert refused["flags"] & EPHEMERAL
            denied = await (await fake.slash("settings reindex-role", {"role": role_id}, user=editor)).final()
            assert "Only members with the Manage Server permission" in denied["content"]
            saved = await (await fake.slash("settings reindex-role", {"role": role_id}, user=fake.admin)).final()
            assert f"Members with <@&{role_id}> can `/reindex` now" in saved["content"]
            rec = await fake.slash("reindex", user=editor)
            final = await rec.wait_until(lambda m: "Re-index finished" in m["content"])
            assert "15 files scanned; **0 added, 0 updated, 0 removed, 0 rejected**" in final["content"]
        assert fake.unhandled == []


async def test_status_for_everyone(fake: FakeDiscord, sample_db: Path, sample_archive: Path) -> None:
    async with running(fake, sample_db, sample_archive):
        reply = await (await fake.slash("status", user=fake.member)).final()
    lines = reply["content"].splitlines()
    assert lines[0].startswith("**newsbot ") and ", up 0 min" in lines[0]
    assert lines[1] == "Events in the store: 15, from 6 August 2015 to 1 October 2017"
    assert lines[2].startswith("Last index run: <t:") and "by cli: 15 files scanned, 15 added" in lines[2]


async def test_an_archive_that_is_gone_is_reported(fake: FakeDiscord, sample_db: Path, tmp_path: Path) -> None:
    async with running(fake, sample_db, tmp_path / "nowhere") as bot:
        rec = await fake.slash("reindex", user=fake.admin)
        final = await rec.wait_until(lambda m: "cannot be read" in m["content"])
        assert "Set NEWSBOT_ARCHIVE" in final["content"] and "current index is still in use" in final["content"]
        assert (await bot.store.stats()).events == 15


def button_id(message: dict, label: str) -> str:
    buttons = [c for row in message.get("components") or [] for c in row.get("components", [])]
    return next(b["custom_id"] for b in buttons if b.get("label") == label)


async def test_a_reindex_that_would_empty_the_store_asks_first(
    fake: FakeDiscord, sample_db: Path, sample_archive: Path
) -> None:
    for event in (sample_archive / "news").rglob("*.md"):
        event.unlink()  # the archive's mount failed: news/ is there, empty
    async with running(fake, sample_db, sample_archive) as bot:
        rec = await fake.slash("reindex", user=fake.admin)
        asked = await rec.wait_until(lambda m: "Nothing was changed" in m["content"])
        assert "it would remove 15 of the 15 events in the store (100%)" in asked["content"]
        assert (await bot.store.stats()).events == 15

        stranger = await fake.click(rec, button_id(asked, "Remove them and re-index"), user=fake.member)
        assert "Only the person who ran this command" in (await stranger.final())["content"]
        assert (await bot.store.stats()).events == 15

        cancel = await fake.click(rec, button_id(asked, "Cancel"), user=fake.admin)
        closed = await cancel.final()
        assert closed["content"].startswith("Cancelled: nothing was changed")
        assert closed["components"] == []
        assert (await bot.store.stats()).events == 15

        rec = await fake.slash("reindex", user=fake.admin)
        asked = await rec.wait_until(lambda m: "Nothing was changed" in m["content"])
        await fake.click(rec, button_id(asked, "Remove them and re-index"), user=fake.admin)
        final = await rec.wait_until(lambda m: "Re-index finished" in m["content"])
        assert "**0 added, 0 updated, 15 removed, 0 rejected**" in final["content"]
        assert final["components"] == []
        assert (await bot.store.stats()).events == 0


async def test_a_reindex_while_another_process_indexes_names_it(
    fake: FakeDiscord, sample_db: Path, sample_archive: Path
) -> None:
    async with running(fake, sample_db, sample_archive) as bot:
        with index_lock(sample_db, "cli"):  # as `python -m bot index` from cron holds it
            rec = await fake.slash("reindex", user=fake.admin)
            reply = await rec.wait_until(lambda m: m["content"].startswith("Not started"))
        assert "another index run is in progress on this store" in reply["content"]
        assert "by cli, process" in reply["content"] and "current index is still in use" in reply["content"]
        assert (await bot.store.stats()).events == 15
