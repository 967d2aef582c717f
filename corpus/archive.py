"""Finding the event files of an archive on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EventFile:
    path: str  # from the archive root, "news/2016/04/3/slug.md": the event's identity
    file: str  # where it is on disk
    mtime_ns: int
    size: int


def archive_root(directory: str | os.PathLike[str]) -> Path:
    """The folder that holds `news/`; accepts that folder or `news/` itself."""
    root = Path(directory)
    if not (root / "news").is_dir() and root.name == "news" and root.is_dir():
        return root.parent
    return root


def find_event_files(directory: str | os.PathLike[str]) -> Iterator[EventFile]:
    """Every `news/**/<slug>.md` below the archive root except the `index.md` day pages.

    Raises FileNotFoundError when the archive has no `news/` folder.
    """
    root = archive_root(directory)
    news = root / "news"
    if not news.is_dir():
        raise FileNotFoundError(f"no news/ folder in {root}: is this an archive?")
    prefix = len(str(root)) + 1
    stack = [str(news)]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.endswith(".md") and entry.name != "index.md":
                    stat = entry.stat()
                    relative = entry.path[prefix:].replace(os.sep, "/")
                    yield EventFile(relative, entry.path, stat.st_mtime_ns, stat.st_size)
