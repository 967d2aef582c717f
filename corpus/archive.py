"""Finding the event files of an archive on disk.

Only real folders and regular files inside the archive are read. Symbolic links are not
followed (a link may loop, dangle, or lead out of the archive to a device or a secret), and
every entry that cannot be used is reported with its path and reason, never raised, so one
bad entry never stops a run.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from corpus.event import Event, ParseError, parse_bytes

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


class EventRecord(NamedTuple):
    """An event file's event as plain values, quick to send from one process to another (a
    pickled `Event` takes longer to load than the file takes to parse)."""

    path: str
    date: str  # YYYY-MM-DD
    headline: str
    sources: list[tuple[str, str | None]]  # (name, url)
    related: list[tuple[str, str, tuple[str, ...]]]  # (path, headline, contexts)
    topics: list[str]
    warnings: list[str]

    @classmethod
    def of(cls, event: Event) -> EventRecord:
        return cls(
            event.path,
            event.date.isoformat(),
            event.headline,
            [(source.name, source.url) for source in event.sources],
            [(link.path, link.headline, link.contexts) for link in event.related],
            event.topics,
            event.warnings,
        )


class Unreadable(NamedTuple):
    """Why an event file cannot be read: where (line 0: the whole file) and why."""

    path: str
    line: int
    reason: str


def read_event_file(file: EventFile) -> tuple[str, EventRecord | Unreadable]:
    """(sha256 of the bytes read, the event or why it cannot be read); never raises."""
    try:
        with open(file.file, "rb") as handle:
            data = handle.read(MAX_EVENT_BYTES + 1)  # the file may have grown since the scan
    except OSError as error:
        return "", Unreadable(file.path, 0, f"cannot read file: {error.strerror}")
    if len(data) > MAX_EVENT_BYTES:
        return "", Unreadable(file.path, 0, f"over the limit of {MAX_EVENT_BYTES:,} bytes for one event file")
    digest = hashlib.sha256(data).hexdigest()
    try:
        return digest, EventRecord.of(parse_bytes(data, file.path))
    except ParseError as error:
        return digest, Unreadable(error.path, error.line, error.reason)


def read_event_files(files: list[EventFile]) -> list[tuple[str, EventRecord | Unreadable]]:
    """`read_event_file` of each, in order: the work an index run gives a worker process."""
    return [read_event_file(file) for file in files]


def worker_started() -> None:
    """In a worker process reading event files for an index run (which imports only corpus/):
    Ctrl-C reaches every process of the terminal's group, and the run stops and says so while its
    workers stay quiet; and the worker ends with the run's process, however that ends (killed, or
    a bot leaving a stuck re-index behind), rather than wait for work forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()


def _end_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)
