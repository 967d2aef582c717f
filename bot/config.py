"""Settings, from the command line, else the environment (or a `.env` file), else defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

SAMPLE_ARCHIVE = Path(__file__).resolve().parent.parent / "corpus" / "sample"
DEFAULT_DB = Path("var") / "newsbot.sqlite3"


@dataclass(frozen=True)
class Settings:
    archive: Path
    db: Path
    archive_url: str | None  # base URL that turns event paths into links
    token: str | None

    @classmethod
    def load(cls, archive: str | None = None, db: str | None = None) -> Settings:
        load_dotenv(override=False)
        return cls(
            archive=Path(archive or os.environ.get("NEWSBOT_ARCHIVE") or SAMPLE_ARCHIVE),
            db=Path(db or os.environ.get("NEWSBOT_DB") or DEFAULT_DB),
            archive_url=(os.environ.get("NEWSBOT_ARCHIVE_URL") or "").rstrip("/") or None,
            token=os.environ.get("DISCORD_TOKEN") or None,
        )
