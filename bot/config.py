"""Settings, from the command line, else the environment (or a `.env` file), else defaults."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

SAMPLE_ARCHIVE = Path(__file__).resolve().parent.parent / "corpus" / "sample"
DEFAULT_DB = Path("var") / "newsbot.sqlite3"
DEFAULT_RATE_LIMIT = (5, 10.0)  # commands per user, per that many seconds


class SettingError(ValueError):
    """A setting in the environment cannot be understood; the message names it and says what works."""


@dataclass(frozen=True)
class Settings:
    archive: Path | None  # None: not given; the store's last archive is used (see choose_archive)
    db: Path
    archive_url: str | None  # base URL that turns event paths into links
    token: str | None
    rate_limit: tuple[int, float] | None = None  # (commands, seconds) per user; None: no limit (load: 5/10)
    shards: int | str | None = None  # None: one gateway connection; "auto": Discord's count; or a number
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
            db=Path(db or os.environ.get("NEWSBOT_DB") or DEFAULT_DB),
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


def parse_shards(text: str) -> int | str | None:
    """'' is one connection (no sharding); 'auto' lets Discord say how many; a number fixes it."""
    text = text.strip().lower()
    if not text:
        return None
    if text == "auto":
        return "auto"
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise SettingError(f"NEWSBOT_SHARDS={text!r}: write auto or a number of shards (1 or more), or leave it empty")
