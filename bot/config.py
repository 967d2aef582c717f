"""Settings, from the command line, else the environment (or a `.env` file), else defaults."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from store.backend import is_postgres

SAMPLE_ARCHIVE = Path(__file__).resolve().parent.parent / "corpus" / "sample"
DEFAULT_DB = Path("var") / "newsbot.sqlite3"
DEFAULT_RATE_LIMIT = (5, 10.0)  # commands per user, per that many seconds


class SettingError(ValueError):
    """A setting in the environment cannot be understood; the message names it and says what works."""


@dataclass(frozen=True)
class ShardRange:
    """Shards `first` to `last` (inclusive) of `count`: this process's part of a bot run as several processes."""

    first: int
    last: int
    count: int

    @property
    def ids(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    def __str__(self) -> str:
        return f"{self.first}-{self.last}/{self.count}"


@dataclass(frozen=True)
class Settings:
    archive: Path | None  # None: not given; the store's last archive is used (see choose_archive)
    db: Path | str  # an SQLite file, or a postgresql:// URL (str)
    archive_url: str | None  # base URL that turns event paths into links
    token: str | None
    rate_limit: tuple[int, float] | None = None  # (commands, seconds) per user; None: no limit (load: 5/10)
    # None: one gateway connection; "auto": Discord's count; a number; or this process's range of them
    shards: int | str | ShardRange | None = None
    # Settings only `run` uses that could not be read (each message names the variable): the other
    # commands work without them, `run` refuses to start, `doctor` lists them.
    problems: tuple[str, ...] = ()

    @classmethod
    def load(cls, archive: str | None = None, db: str | None = None) -> Settings:
        # The .env of the folder the bot is run from (or a parent), not of where it is installed.
        load_dotenv(find_dotenv(usecwd=True), override=False)
        problems = []
        try:
            rate_limit = parse_rate_limit(os.environ.get("NEWSBOT_RATE_LIMIT") or "")
        except SettingError as error:
            rate_limit = DEFAULT_RATE_LIMIT
            problems.append(str(error))
        try:
            shards = parse_shards(os.environ.get("NEWSBOT_SHARDS") or "")
        except SettingError as error:
            shards = None
            problems.append(str(error))
        return cls(
            archive=_path(archive or os.environ.get("NEWSBOT_ARCHIVE")),
            db=store_target(db or os.environ.get("NEWSBOT_DB") or DEFAULT_DB),
            archive_url=(os.environ.get("NEWSBOT_ARCHIVE_URL") or "").rstrip("/") or None,
            token=os.environ.get("DISCORD_TOKEN") or None,
            rate_limit=rate_limit,
            shards=shards,
            problems=tuple(problems),
        )


def choose_archive(given: Path | None, remembered: str | None) -> tuple[Path, str]:
    """The archive to index and where that choice came from: the one given (--archive or
    NEWSBOT_ARCHIVE), else the folder the store was last indexed from, else the sample."""
    if given is not None:
        return given, "given"
    if remembered:
        return Path(remembered), "the folder this store was built from"
    return SAMPLE_ARCHIVE, "the bundled sample: no --archive or NEWSBOT_ARCHIVE given"


def store_target(text: str | Path) -> Path | str:
    """A postgresql:// URL as it is; anything else is an SQLite file's path."""
    return text if isinstance(text, str) and is_postgres(text) else Path(text)


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """'5/10' is 5 commands per 10 seconds; '' is the default; 'off' (or 0) is no limit."""
    text = text.strip().lower()
    if not text:
        return DEFAULT_RATE_LIMIT
    if text in ("off", "0", "none"):
        return None
    match = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?", text)
    if not match or int(match[1]) < 1 or float(match[2]) <= 0:
        raise SettingError(f"NEWSBOT_RATE_LIMIT={text!r}: write COMMANDS/SECONDS, e.g. 5/10, or off")
    return int(match[1]), float(match[2])


def parse_shards(text: str) -> int | str | ShardRange | None:
    """'' is one connection (no sharding); 'auto' lets Discord say how many; a number fixes it;
    '0-3/8' is shards 0 to 3 of 8 (one process of several: the others run the other shards)."""
    text = text.strip().lower()
    if not text:
        return None
    if text == "auto":
        return "auto"
    if text.isdigit() and int(text) >= 1:
        return int(text)
    match = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?\s*/\s*(\d+)", text)
    if match:
        first, count = int(match[1]), int(match[3])
        last = int(match[2]) if match[2] is not None else first
        if first <= last < count:
            return ShardRange(first, last, count)
        raise SettingError(
            f"NEWSBOT_SHARDS={text!r}: the range must lie within the {count} shards (0 to {count - 1}), first to last"
        )
    raise SettingError(
        f"NEWSBOT_SHARDS={text!r}: write auto, a number of shards (1 or more), a range of them as FIRST-LAST/COUNT "
        "(e.g. 0-3/8), or leave it empty"
    )
