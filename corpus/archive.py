"""Finding the event files of an archive on disk.

Only real folders and regular files inside the archive are read. Symbolic links are not
followed (a link may loop, dangle, or lead out of the archive to a device or a secret), and
every entry that cannot be used is reported with its path and reason, never raised, so one
bad entry never stops a run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_EVENT_BYTES = 256 * 1024  # the largest real event file is a few KB


@dataclass(frozen=True)
class EventFile:
    path: str  # from the archive root, "news/2016/04/3/slug.md": the event's identity
    file: str  # where it is on disk
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class Skipped:
    """An entry of the archive that was not read: where (from the archive root) and why."""

    path: str
    reason: str


@dataclass
class Scan:
    """What a walk of the archive found."""

    files: list[EventFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # folders that could not be read ("news/2016/04/")

    def covers(self, path: str) -> bool:
        """Whether the walk saw the place of `path`: False inside a folder it could not read."""
        return not any(path.startswith(folder) for folder in self.unlisted)


def archive_root(directory: str | os.PathLike[str]) -> Path:
    """The folder that holds `news/`; accepts that folder or `news/` itself."""
    root = Path(directory)
    if not (root / "news").is_dir() and root.name == "news" and root.is_dir():
        return root.parent
    return root


def display_path(path: str) -> str:
    """A path as text that can be printed and stored, whatever bytes its name holds."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def scan_archive(directory: str | os.PathLike[str]) -> Scan:
    """Every `news/**/<slug>.md` below the archive root except the `index.md` day pages.

    Raises FileNotFoundError when the archive has no `news/` folder (or it cannot be read).
    """
    root = archive_root(directory)
    news = root / "news"
    if not news.is_dir():
        raise FileNotFoundError(f"no news/ folder in {root}: is this an archive?")
    if not os.access(news, os.R_OK | os.X_OK):
        raise FileNotFoundError(f"{news} cannot be read: let this user read the archive")
    scan = Scan()
    prefix = len(str(root)) + 1
    stack = [str(news)]
    while stack:
        folder = stack.pop()
        relative_folder = folder[prefix:].replace(os.sep, "/") + "/"
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            scan.unlisted.append(relative_folder)
            scan.skipped.append(Skipped(display_path(relative_folder), f"cannot read folder: {error.strerror}"))
            continue
        for entry in entries:
            raw = entry.path[prefix:].replace(os.sep, "/")
            relative = display_path(raw)
            if entry.is_symlink():
                if entry.name.endswith(".md") or _is_folder_link(entry):
                    scan.skipped.append(Skipped(relative, "a symbolic link: not followed (copy the file in instead)"))
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
                continue
            if not entry.name.endswith(".md") or entry.name == "index.md":
                continue
            problem = "the name is not valid UTF-8: rename it" if raw != relative else _unusable(entry)
            if problem:
                scan.skipped.append(Skipped(relative, problem))
                continue
            info = entry.stat(follow_symlinks=False)
            scan.files.append(EventFile(relative, entry.path, info.st_mtime_ns, info.st_size))
    scan.files.sort(key=lambda file: file.path)
    return scan


def _is_folder_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows the link; False when it dangles or loops
    except OSError:
        return False


def _unusable(entry: os.DirEntry[str]) -> str | None:
    """Why this `*.md` entry cannot be an event file, or None."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as error:
        return f"cannot read file: {error.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a pipe, socket or device)"
    if info.st_size > MAX_EVENT_BYTES:
        return f"{info.st_size:,} bytes, over the limit of {MAX_EVENT_BYTES:,} for one event file"
    return None


def find_event_files(directory: str | os.PathLike[str]) -> Iterator[EventFile]:
    """The usable event files of an archive (see scan_archive, which also says what it skipped)."""
    yield from scan_archive(directory).files
