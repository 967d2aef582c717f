"""The archive format: one Markdown file per news event.

A file looks like this (see the README for the full format)::

    ### [2016-04-3](/news/2016/04/3/index.md)

    # The Syrian Army retakes control of al-Qaryatayn, ...

    ### Source:

    1. [Reuters](http://uk.reuters.com/article/...)
    2. Reuters

    ### Related:

    1. [Headline ](/news/2017/09/5/slug.md) _Context: Syrian Army, Syrian Civil War_

`parse_event` turns such a text into an `Event`, or raises `ParseError` with the line and
reason. Problems that do not stop the event from being read (a malformed Related line, a
date line that disagrees with the path) are kept in `Event.warnings`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

EVENT_PATH = re.compile(r"^news/(\d{4})/(\d{2})/(\d{1,2})/[^/]+\.md$")
DATE_LINE = re.compile(r"^###\s*\[(\d{4})-(\d{1,2})-(\d{1,2})\]\(([^)]*)\)\s*$")
HEADLINE_LINE = re.compile(r"^#\s+(.*\S)\s*$")
SECTION_LINE = re.compile(r"^###\s*([A-Za-z ]+?)\s*:?\s*$")
ITEM_LINE = re.compile(r"^\d+\.\s+(.*\S)\s*$")
# The link text may itself contain "]" and "[": the greedy text stops at the last "](".
SOURCE_LINK = re.compile(r"^\[(.*)\]\((\S*)\)$")
SECTIONS = {"source": "sources", "sources": "sources", "related": "related"}
_SPACE = re.compile(r"\s")
RELATED_LINK = re.compile(r"^\[(.*)\]\((/?news/\S+?\.md)\)\s*(?:_Context:\s*(.*?)_)?$")


class ParseError(ValueError):
    """A file that cannot be read as an event: where and why."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)  # slots: a third faster to make, and there are half a million
class Source:
    name: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Related:
    path: str
    headline: str
    contexts: tuple[str, ...] = ()

    @property
    def date(self) -> dt.date | None:
        return date_from_path(self.path)

    @property
    def iso_date(self) -> str | None:
        """The linked event's date as YYYY-MM-DD (None when its path has no date)."""
        day = self.date
        return day.isoformat() if day else None


@dataclass
class Event:
    path: str  # identity, e.g. "news/2016/04/3/the-syrian-army-retakes-....md"
    date: dt.date
    headline: str
    sources: list[Source] = field(default_factory=list)
    related: list[Related] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def topics(self) -> list[str]:
        """The union of the contexts on the Related lines, in first-seen order."""
        seen: dict[str, None] = {}
        for link in self.related:
            for context in link.contexts:
                seen.setdefault(context, None)
        return list(seen)


def normalize_path(path: str) -> str:
    """`/news/2016/04/3/x.md` and `news/2016/04/3/x.md` name the same event."""
    return path.strip().lstrip("/")


def date_from_path(path: str) -> dt.date | None:
    match = EVENT_PATH.match(normalize_path(path))
    if not match:
        return None
    year, month, day = match.groups()
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_event(text: str, path: str) -> Event:
    """Parse one event file. `path` is the file's path from the archive root (`news/...`).

    When the date line and the path disagree, the path wins: it is the event's identity,
    other events link to it by that path and show the date it carries, so taking the path
    keeps every mention of the event on the same day. The disagreement is kept as a warning.
    """
    path = normalize_path(path)
    path_date = date_from_path(path)
    if path_date is None:
        raise ParseError(path, 0, "path is not news/YYYY/MM/D/<slug>.md with a real date")
    if "\x00" in text:
        raise ParseError(path, 1, "binary file (contains NUL bytes), not Markdown text")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ParseError(path, 1, "empty file")

    warnings: list[str] = []
    date_line = next(i for i, line in enumerate(lines) if line.strip())
    match = DATE_LINE.match(lines[date_line].strip())
    if not match:
        raise ParseError(
            path, date_line + 1, "first line is not a date line like '### [2016-04-3](/news/2016/04/3/index.md)'"
        )
    try:
        line_date = dt.date(*(int(part) for part in match.groups()[:3]))
    except ValueError as error:
        raise ParseError(path, date_line + 1, f"impossible date in date line: {error}") from None
    if line_date != path_date:
        warnings.append(
            f"line {date_line + 1}: date line says {line_date}, path says {path_date}; using the path's date"
        )

    headline: str | None = None
    section: str | None = None
    sources: list[Source] = []
    related: list[Related] = []
    for number, raw in enumerate(lines[date_line + 1 :], start=date_line + 2):
        line = raw.strip()
        if not line:
            continue
        if headline is None:
            heading = HEADLINE_LINE.match(line)
            if heading and not line.startswith("##"):
                headline = heading.group(1).strip()
                continue
            if SECTION_LINE.match(line):
                raise ParseError(path, number, "no headline (a line starting with '# ') before this section")
            raise ParseError(path, number, "expected the headline, a line starting with '# '")
        # The cheap first-character tests only skip patterns that could not match (most lines are items).
        section_match = SECTION_LINE.match(line) if line[0] == "#" else None
        if section_match:
            name = section_match.group(1).strip().lower()
            section = SECTIONS.get(name)
            if section is None:
                warnings.append(f"line {number}: unknown section '{section_match.group(1)}', ignored")
            continue
        item = ITEM_LINE.match(line) if line[0].isdecimal() else None  # \d is a decimal digit (Nd)
        if section is None or not item:
            warnings.append(f"line {number}: text outside a numbered Source or Related item, ignored")
            continue
        body = item.group(1)
        if section == "sources":
            sources.append(_parse_source(body))
        else:
            link = _parse_related(body)
            if link is None:
                warnings.append(f"line {number}: Related item is not '[headline](/news/....md) _Context: ..._'")
            else:
                related.append(link)
    if headline is None:
        raise ParseError(path, len(lines), "no headline (a line starting with '# ' after the date line)")
    return Event(path, path_date, headline, sources, related, warnings)


def _parse_source(body: str) -> Source:
    link = SOURCE_LINK.match(body)
    if link and link.group(1).strip():
        return Source(link.group(1).strip(), link.group(2) or None)
    return Source(body)


def _parse_related(body: str) -> Related | None:
    link = related_groups(body)
    if link is None:
        return None
    text, path, contexts = link
    contexts = tuple(filter(None, map(str.strip, contexts.split(",")))) if contexts else ()
    return Related(path.lstrip("/"), text.strip(), contexts)  # the pattern's path has no spaces to strip


def related_groups(body: str) -> tuple[str, str, str | None] | None:
    """`RELATED_LINK.match(body).groups()` (None: no match) for one line of text (no line break),
    found with string searches in the order the pattern's backtracking tries them (two to three
    times faster on the archive's lines): the last "](" first, then the first ".md)" after
    "news/" with no space before it, then the rest, which is spaces or a `_Context: ..._`."""
    if not body.startswith("["):
        return None
    limit = len(body)
    while (split := body.rfind("](", 1, limit)) != -1:
        limit = split + 1  # the next "](" tried is an earlier one
        start = split + 2
        path_start = start + 1 if body.startswith("/", start) else start
        if body.startswith("news/", path_start):
            words = path_start + 5  # \S+? starts here and takes at least one character
            end = body.find(".md)", words + 1)
            while end != -1 and not _SPACE.search(body, words, end):
                contexts = _context_groups(body, end + 4)
                if contexts is not False:
                    return body[1:split], body[start : end + 3], contexts
                end = body.find(".md)", end + 1)
    return None


def _context_groups(body: str, at: int) -> str | bool | None:
    r"""What `\s*(?:_Context:\s*(.*?)_)?$` leaves in its group at `at`: None without the
    context part, False when it does not match."""
    rest = body[at:].lstrip()
    if not rest:
        return None
    if rest.startswith("_Context:") and rest.endswith("_"):  # the "_" is not the colon before it
        return rest[len("_Context:") :].lstrip()[:-1]
    return False


def read_event(file: str, path: str) -> Event:
    """Read and parse the file at `file` as the event `path`; any failure is a ParseError."""
    try:
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ParseError(path, 0, f"cannot read file: {error.strerror}") from None
    return parse_bytes(data, path)


def parse_bytes(data: bytes, path: str) -> Event:
    if b"\x00" in data:
        raise ParseError(normalize_path(path), 1, "binary file (contains NUL bytes), not Markdown text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ParseError(normalize_path(path), line, f"not UTF-8 text (byte {error.start})") from None
    return parse_event(text, path)
