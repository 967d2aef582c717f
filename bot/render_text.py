"""Answers as terminal text (the CLI and the console) and as JSON."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.answers import Answer, AskAnswer, EventDetail, EventList, Help, Refusal, TrendAnswer
from corpus import Event, human_date

WIDTH = 100
INDENT = " " * 12
BARS = "▁▂▃▄▅▆▇█"


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


def trend_text(answer: TrendAnswer, table: bool = True) -> str:
    """The trend's peaks, then its counts per period as a table (or, without `table`, as a sparkline a search)."""
    parts = [f"{answer.title} — {human_date(answer.since)} to {human_date(answer.until)}"]
    parts.append("\n".join(answer.peak_line(line).replace("`", "") for line in answer.series))
    if answer.note:
        parts.append(answer.note)
    if not table:
        name = min(30, max(len(line.query) for line in answer.series))
        first, last = answer.period(0), answer.period(len(answer.starts) - 1)
        rows = [f"{line.query[:name]:<{name}}  {sparkline(line.counts, WIDTH - name - 2)}" for line in answer.series]
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


def _wrap(text: str, first: str, rest: str = INDENT) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=rest)


def event_text(event: Event, full: bool = False) -> str:
    lines = [_wrap(event.headline, f"{event.date.isoformat():<12}")]
    sources = ", ".join(f"{s.name} <{s.url}>" if s.url else s.name for s in event.sources)
    if sources:
        lines.append(_wrap(sources, INDENT + "Sources: ", INDENT + "  "))
    related = event.related if full else event.related[:2]
    for link in related:
        day = link.iso_date or "?"
        lines.append(_wrap(f"{day}  {link.headline}", INDENT + "Related: ", INDENT + "  "))
    if not full and len(event.related) > 2:
        lines.append(f"{INDENT}  (+{len(event.related) - 2} more related)")
    if full and event.topics:
        lines.append(_wrap(", ".join(event.topics), INDENT + "Topics: ", INDENT + "  "))
    if full:
        lines.append(f"{INDENT}Path: {event.path}")
    return "\n".join(lines)


def help_text(answer: Help) -> str:
    parts = [answer.holdings]
    for title, usages in answer.sections:
        lines = [title]
        for usage in usages:
            lines += [f"  {usage.command}", _wrap(usage.does, "      ", "      ")]
            if usage.example:
                lines.append(f"      e.g. {usage.example}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_text(answer: Answer, page: int | None = None) -> str:
    """The answer for a terminal; `page` shows one page of a list (None: every event fetched)."""
    if isinstance(answer, Refusal):
        return answer.message
    if isinstance(answer, Help):
        return help_text(answer)
    if isinstance(answer, TrendAnswer):
        return trend_text(answer, table=page is None)
    if isinstance(answer, EventDetail):
        return event_text(answer.event, full=True)
    if isinstance(answer, AskAnswer):
        answer = answer.listing()
    events = answer.events if page is None else answer.page(page)
    header = f"{answer.title} — {answer.total} event{'s' if answer.total != 1 else ''}"
    if page is not None and answer.pages > 1:
        header += f", page {page + 1} of {answer.pages}"
    parts = [header]
    if answer.note:
        parts.append(answer.note)
    parts += [event_text(event) for event in events]
    return "\n\n".join(parts)
