"""Answers as terminal text (the CLI and the console) and as JSON."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.answers import PAGE_SIZE, Answer, AskAnswer, EventDetail, EventList, Help, Refusal, TrendAnswer
from corpus import Event, human_date
from store.tokens import matched_spans

WIDTH = 100  # when the output is not a terminal (a pipe, a file)
INDENT = " " * 12
BARS = "▁▂▃▄▅▆▇█"
BOLD, PLAIN = "\x1b[1m", "\x1b[22m"  # ANSI: bold on, normal intensity


def event_json(event: Event, score: float | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": event.path,
        "date": event.date.isoformat(),
        "headline": event.headline,
        "sources": [{"name": s.name, "url": s.url} for s in event.sources],
        "related": [
            {
                "path": link.path,
                "date": link.iso_date,
                "headline": link.headline,
                "contexts": list(link.contexts),
            }
            for link in event.related
        ],
        "topics": event.topics,
    }
    if score is not None:
        data["score"] = round(score, 6)
    return data


def trend_json(answer: TrendAnswer) -> dict[str, Any]:
    """{"step", "from", "to", "series": [{"query", "total", "points": [{"period": "2022-02", "count": 123}]}]}."""
    return {
        "step": answer.step,
        "from": answer.since.isoformat(),
        "to": answer.until.isoformat(),
        "series": [
            {
                "query": line.query,
                "total": line.total,
                "points": [{"period": answer.period(n), "count": count} for n, count in enumerate(line.counts)],
            }
            for line in answer.series
        ],
    }


def sparkline(counts: tuple[int, ...], width: int = WIDTH - 20) -> str:
    """The counts as a row of bars (periods summed in groups when there are more than `width`)."""
    group = max(1, -(-len(counts) // width))
    sums = [sum(counts[n : n + group]) for n in range(0, len(counts), group)]
    top = max(sums, default=0) or 1
    return "".join(" " if not value else BARS[min(len(BARS) - 1, value * len(BARS) // (top + 1))] for value in sums)


def trend_text(answer: TrendAnswer, table: bool = True, width: int = WIDTH) -> str:
    """The trend's peaks, then its counts per period as a table (or, without `table`, as a sparkline a search)."""
    parts = [f"{answer.title} — {human_date(answer.since)} to {human_date(answer.until)}"]
    parts.append("\n".join(answer.peak_line(line).replace("`", "") for line in answer.series))
    if answer.note:
        parts.append(answer.note)
    if not table:
        name = min(30, max(len(line.query) for line in answer.series))
        first, last = answer.period(0), answer.period(len(answer.starts) - 1)
        rows = [f"{line.query[:name]:<{name}}  {sparkline(line.counts, width - name - 2)}" for line in answer.series]
        parts.append("\n".join([*rows, f"{'':<{name}}  {first} to {last}"]))
        return "\n\n".join(parts)
    widths = [max(len(line.query), 6) for line in answer.series]
    head = len(answer.period(0))
    lines = [f"{'period':<{head}}  " + "  ".join(f"{line.query:>{w}}" for line, w in zip(answer.series, widths))]
    for n in range(len(answer.starts)):
        counts = "  ".join(f"{line.counts[n]:>{w},}" for line, w in zip(answer.series, widths))
        lines.append(f"{answer.period(n):<{head}}  {counts}")
    parts.append("\n".join(lines))
    return "\n\n".join(parts)


def answer_json(answer: Answer) -> Any:
    if isinstance(answer, TrendAnswer):
        return trend_json(answer)
    if isinstance(answer, AskAnswer):
        return {
            "answer": answer.answer,
            "date": answer.date.isoformat() if answer.date else None,
            "confidence": round(answer.confidence, 3),
            "says": None if answer.answer else answer.listing().note,  # why not, and what it records instead
            "events": [event_json(event) for event in answer.events],
        }
    if isinstance(answer, EventList):
        scores = answer.scores or [None] * answer.total
        return [event_json(answer.loaded[i], score) for i, score in zip(answer.ids, scores) if i in answer.loaded]
    if isinstance(answer, EventDetail):
        return [event_json(answer.event)]
    if isinstance(answer, Help):
        usages = [usage for _, usages in answer.sections for usage in usages]
        return {"events": answer.events, "commands": [{"command": u.command, "does": u.does} for u in usages]}
    return {"error": answer.message}


def search_json(answer: Answer) -> dict[str, Any]:
    """A search as one object: the events, and how the query was read ("did you mean")."""
    if isinstance(answer, Refusal):
        return {"events": [], "note": answer.message} if answer.empty else {"error": answer.message}
    assert isinstance(answer, EventList)
    return {
        "query": answer.query,
        "showing_results_for": answer.showing,
        "search_instead_for": answer.query if answer.showing else None,
        "note": answer.note,
        "events": answer_json(answer),
    }


def wrap(text: str, width: int = WIDTH, first: str = "", rest: str = "") -> str:
    """Lines of at most `width` columns, broken between words only: a long word or a web address
    runs past the edge rather than being cut (so it still works when clicked or copied)."""
    return textwrap.fill(
        text, width, initial_indent=first, subsequent_indent=rest, break_long_words=False, break_on_hyphens=False
    )


def bold(text: str, terms: frozenset[str]) -> str:
    """`text` with the whole words that match `terms` in bold, for a terminal (ANSI)."""
    for start, end in reversed(matched_spans(text, terms)):
        text = f"{text[:start]}{BOLD}{text[start:end]}{PLAIN}{text[end:]}"
    return text


def event_text(
    event: Event,
    full: bool = False,
    width: int = WIDTH,
    number: int | None = None,
    highlight: frozenset[str] = frozenset(),
) -> str:
    """One event; `number` (its place in the list) goes before its date, for the console's `/event 3`;
    the headline's words among `highlight` in bold."""
    lead = f"{number}. " if number is not None else ""
    indent = " " * len(lead) + INDENT
    first = f"{lead}{event.date.isoformat():<12}"
    headline = wrap(event.headline, width, first, indent)  # wrapped before the bold: its codes take no columns
    lines = [first + bold(headline[len(first) :], highlight) if highlight else headline]
    sources = ", ".join(f"{s.name} <{s.url}>" if s.url else s.name for s in event.sources)
    if sources:
        lines.append(wrap(sources, width, indent + "Sources: ", indent + "  "))
    related = event.related if full else event.related[:2]
    for link in related:
        day = link.iso_date or "?"
        lines.append(wrap(f"{day}  {link.headline}", width, indent + "Related: ", indent + "  "))
    if not full and len(event.related) > 2:
        lines.append(f"{indent}  (+{len(event.related) - 2} more related)")
    if full and event.topics:
        lines.append(wrap(", ".join(event.topics), width, indent + "Topics: ", indent + "  "))
    if full:
        lines.append(f"{indent}Path: {event.path}")
    return "\n".join(lines)


def help_text(answer: Help, width: int = WIDTH) -> str:
    parts = [wrap(answer.holdings, width)]
    for title, usages in answer.sections:
        lines = [title]
        for usage in usages:
            lines += [f"  {usage.command}", wrap(usage.does, width, "      ", "      ")]
            if usage.example:
                lines.append(f"      e.g. {usage.example}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_text(
    answer: Answer, page: int | None = None, width: int = WIDTH, numbered: bool = False, bolded: bool = False
) -> str:
    """The answer for a terminal `width` columns wide; `page` shows one screen's worth: a page of a
    list, a trend's sparklines (None: everything, every event fetched and a trend's counts in a
    table); `numbered` puts each event's place in the list before it; `bolded` shows the words a
    search matched in bold (on a terminal that reads ANSI codes)."""
    if isinstance(answer, Refusal):
        return wrap(answer.message, width)
    if isinstance(answer, Help):
        return help_text(answer, width)
    if isinstance(answer, TrendAnswer):
        return trend_text(answer, table=page is None, width=width)
    if isinstance(answer, EventDetail):
        return event_text(answer.event, full=True, width=width)
    if isinstance(answer, AskAnswer):
        answer = answer.listing()
    first = 0 if page is None else page * PAGE_SIZE
    ids = answer.ids if page is None else answer.page_ids(page)
    shown = [(first + place, answer.loaded[i]) for place, i in enumerate(ids, start=1) if i in answer.loaded]
    header = f"{answer.title} — {answer.total} event{'s' if answer.total != 1 else ''}"
    if page is not None and answer.pages > 1:
        header += f", page {page + 1} of {answer.pages}"
    parts = [wrap(header, width)]
    if answer.note:
        parts.append(wrap(answer.note, width))
    highlight = answer.highlight if bolded else frozenset()
    parts += [
        event_text(event, width=width, number=place if numbered else None, highlight=highlight)
        for place, event in shown
    ]
    return "\n\n".join(parts)
