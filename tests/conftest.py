"""Shared fixtures: the bundled sample archive and the shared archive of 112,655 events."""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from bot.config import SAMPLE_ARCHIVE, Settings
from bot.discord.client import NewsBot, make_bot
from store import Store
from store.ingest import IndexReport, index_archive

if TYPE_CHECKING:
    from fake_discord import FakeDiscord
    from postgres_server import PostgresServer

SHARED_ARCHIVE = Path(
    os.environ.get(
        "NEWSBOT_SHARED_ARCHIVE",
        Path(__file__).resolve().parents[2] / "shared" / "corpus" / "current-events.tar.xz",
    )
)
SHARED_EVENTS = 112_655

# The two seed events, by path.
SEED_2015 = (
    "news/2015/08/6/islamic-state-of-iraq-and-the-levant-conquers-the-key-transport-hub-al-qaryatain-allowing-its-"
    "forces-in-the-qalamun-region-to-be-supplied-th.md"
)
SEED_2016 = (
    "news/2016/04/3/the-syrian-army-retakes-control-of-al-qaryatayn-homs-governorate-after-driving-out-"
    "isil-militants.md"
)


def unpack_shared_archive(target: Path) -> Path:
    """Unpack the shared archive into `target` (once); returns the folder holding news/."""
    if not (target / "news").is_dir():
        if not SHARED_ARCHIVE.exists():
            pytest.fail(f"the shared test archive is missing: {SHARED_ARCHIVE} (set NEWSBOT_SHARED_ARCHIVE)")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(SHARED_ARCHIVE) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(target)
    return target


@pytest.fixture
def sample_archive(tmp_path: Path) -> Path:
    """A private copy of the bundled sample archive, safe to change."""
    copy = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, copy)
    return copy


@pytest.fixture
def sample_db(tmp_path: Path, sample_archive: Path) -> Path:
    db = tmp_path / "sample.sqlite3"
    index_archive(db, sample_archive)
    return db


@pytest.fixture(scope="session")
def shared_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_shared_archive(tmp_path_factory.getbasetemp() / "current-events")


@pytest.fixture(scope="session")
def shared_index(shared_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IndexReport]:
    """The shared archive indexed once per test run (about 30 s). Do not change it."""
    db = tmp_path_factory.mktemp("shared-db") / "shared.sqlite3"
    return db, index_archive(db, shared_archive)


@pytest.fixture(autouse=True)
def no_unexpected_refusals() -> Iterator[None]:
    """Fail a test in which a fake Discord refused the bot a request the test did not expect it to.

    The fake is as strict as Discord (its API specification and documented limits), so every
    end-to-end test, not only its own assertions, holds the bot to what Discord accepts.
    """
    from fake_discord import FakeDiscord

    FakeDiscord.started.clear()
    yield
    unexpected = [str(refusal) for fake in FakeDiscord.started for refusal in fake.unexpected_refusals]
    FakeDiscord.started.clear()
    if unexpected:
        pytest.fail("the fake Discord refused requests the test did not expect:\n" + "\n".join(unexpected))


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord on 127.0.0.1; the test fails if the bot called a route it does not serve."""
    from fake_discord import FakeDiscord  # here, so benchmarks can import this module as tests.conftest

    async with FakeDiscord() as server:
        yield server
    assert server.unhandled == []


@asynccontextmanager
async def running(
    fake: FakeDiscord, db: Path, archive: Path, reconnect: bool = False, **settings: object
) -> AsyncIterator[NewsBot]:
    """The bot connected to the fake, with its own store: leaving it is a shutdown, entering again a restart.

    `settings` are further Settings fields (rate_limit, shards); the bot is sharded if they say so.
    """
    async with await Store.open(db) as store:
        bot = make_bot(store, Settings(archive, db, None, None, **settings), guild_ready_timeout=0.05)  # type: ignore[arg-type]
        async with fake.running(bot, reconnect=reconnect, timeout=10.0):
            yield bot


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run, as the `postgres` user on a free loopback port.

    Missing server programs fail the tests that need it (never a skip): `make test` installs them."""
    from postgres_server import PostgresServer, ServerMissing

    try:
        server = PostgresServer().start()
    except ServerMissing as error:
        pytest.fail(f"no PostgreSQL server for the tests: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A new, empty store on each backend: an SQLite file, or a database of its own on the test server."""
    if request.param == "sqlite":
        return tmp_path / "store.sqlite3"
    return request.getfixturevalue("postgres_server").new_database()
