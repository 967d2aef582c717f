"""Answers as Discord embeds, always inside Discord's limits and never pinging anyone."""

from __future__ import annotations

import re
from itertools import accumulate
from urllib.parse import quote

import discord

from bot.answers import EventDetail, EventList, Help, Refusal, TrendAnswer, TrendSeries
from corpus import Event, human_date
from store.tokens import matched_spans

# Discord's limits for one message's embeds.
TITLE, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER = 256, 4096, 256, 1024, 2048
TOTAL, EMBEDS, FIELDS = 6000, 10, 25
CONTENT = 2000
SELECT_LABEL = 100
COLOUR = discord.Colour.dark_teal()
TREND_FILE, TOPIC_CHART_FILE = "trend.png", "topic-chart.png"


# Every character Discord reads as Markdown gets a backslash; "@" gets a zero-width space after
# it, so "@everyone", "<@123>" and "<@&456>" show as text. One str.translate does both: it is
# several times faster than discord.utils' regular expressions, and this runs for every headline.
# Most text has none of these characters; a search for them is cheaper still than translating.
MARKDOWN = "\\*_~`|>[]"
INERT = str.maketrans({**{ch: "\\" + ch for ch in MARKDOWN}, "@": "@\u200b"})
HAS_ACTIVE = re.compile(f"[{re.escape(MARKDOWN)}@]")


def clean(text: str) -> str:
    """Archive text made inert: Markdown escaped, mentions broken so they show as text."""
    text = " ".join(text.split())
    return text.translate(INERT) if HAS_ACTIVE.search(text) else text


def clip(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, never in the middle of an escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip("\\") + "…"


def emboldened(text: str, terms: frozenset[str], limit: int) -> str:
    """`clean(text)` with its whole words that match `terms` in bold (each piece escaped on its
    own, so the ** are the only Markdown); plain, clipped, when the bold would not fit `limit`."""
    text = " ".join(text.split())
    spans = matched_spans(text, terms)
    if spans:
        pieces, done = [], 0
        for start, end in spans:
            pieces += [_inert(text[done:start]), f"**{_inert(text[start:end])}**"]
            done = end
        shown = "".join([*pieces, _inert(text[done:])])
        if len(shown) <= limit:
            return shown
    return clip(clean(text), limit)


def _inert(text: str) -> str:
    return text.translate(INERT) if HAS_ACTIVE.search(text) else text


class Renderer:
    """Builds embeds; `archive_url` (optional) turns event paths into links."""

    def __init__(self, archive_url: str | None = None) -> None:
        self.archive_url = archive_url.rstrip("/") if archive_url else None

    def link(self, path: str) -> str | None:
        """The event's address; the path is percent-encoded (a slug may hold spaces or brackets)."""
        return f"{self.archive_url}/{quote(path, safe='/')}" if self.archive_url else None

    def _linked(self, text: str, path: str, limit: int) -> str:
        """`text` linked to the event; the link's address takes from `limit`, but never more than half."""
        url = self.link(path)
        label = clip(clean(text), max(limit - len(url) - 4, limit // 2) if url else limit)
        return f"[{label}]({url})" if url else label

    def event_embed(
        self,
        event: Event,
        full: bool = False,
        in_archive: frozenset[str] = frozenset(),
        highlight: frozenset[str] = frozenset(),
    ) -> discord.Embed:
        """One event; the headline's words among `highlight` (a search's matched words) in bold."""
        title = emboldened(event.headline, highlight, TITLE)
        embed = discord.Embed(title=title, url=self.link(event.path), colour=COLOUR)
        sources = [_source(s.name, s.url) for s in event.sources]
        lines = [f"**{human_date(event.date)}**"]
        budget = (3000 if full else 700) - len(lines[0]) - len("\nSources: ")
        if sources:  # whole links only: the ones that do not fit are counted
            lines.append("Sources: " + _fit_lines(sources, budget, "", separator=", "))
        embed.description = clip("\n".join(lines), DESCRIPTION)
        related = event.related if full else event.related[:3]
        if related:
            rows = []
            for link in related:
                mark = "" if not full or link.path in in_archive else " (not in the archive)"
                day = link.iso_date or "?"
                rows.append(f"`{day}` {self._linked(link.headline, link.path, 160)}{mark}")
            extra = len(event.related) - len(related)
            value = _fit_lines(rows, FIELD_VALUE, f"… and {extra} more" if extra else "")
            embed.add_field(name="Related", value=value, inline=False)
        if full and event.topics:
            embed.add_field(name="Topics", value=clip(clean(", ".join(event.topics)), FIELD_VALUE), inline=False)
        if full:
            embed.set_footer(text=clip(event.path, FOOTER))
        return embed

    def list_page(self, answer: EventList, page: int) -> tuple[str, list[discord.Embed]]:
        """Message content and embeds for one page of a list."""
        count = answer.total
        header = f"**{clip(clean(answer.title), 300)}** — {count} event{'s' if count != 1 else ''}"
        if answer.pages > 1:
            header += f", page {page + 1} of {answer.pages}"
        if answer.note:
            header += "\n" + clip(clean(answer.note), 500)
        embeds = [self.event_embed(event, highlight=answer.highlight) for event in answer.page(page)]
        return clip(header, CONTENT), fit_total(embeds)

    def detail(self, answer: EventDetail) -> discord.Embed:
        return fit_total([self.event_embed(answer.event, full=True, in_archive=answer.in_archive)])[0]

    @staticmethod
    def help(answer: Help, footer: str) -> discord.Embed:
        """The commands, a field per section, each with its example; `footer` says how lists page."""
        description = f"I answer from a news archive, with no language model. {answer.holdings}"
        embed = discord.Embed(title="What I can do", description=description, colour=COLOUR)
        for title, usages in answer.sections:
            rows = [f"`{u.command}` {u.does}" + (f" e.g. `{u.example}`" if u.example else "") for u in usages]
            embed.add_field(name=title, value=_fit_lines(rows, FIELD_VALUE, ""), inline=False)
        embed.set_footer(text=clip(footer, FOOTER))
        return fit_total([embed])[0]

    @staticmethod
    def trend(answer: TrendAnswer) -> discord.Embed:
        """The chart (attached as TREND_FILE) with each line's peak in words, for those who cannot see it."""
        span = f"{human_date(answer.since)} to {human_date(answer.until)}, per {answer.step}."
        rows = [_peak(answer, line) for line in answer.series]
        if answer.note:
            rows.append(clip(clean(answer.note), 500))
        embed = discord.Embed(
            title=clip(clean(answer.title), TITLE),
            description=_fit_lines([span, *rows], DESCRIPTION, ""),
            colour=COLOUR,
        )
        embed.set_image(url=f"attachment://{TREND_FILE}")
        embed.set_footer(text="Counts are of matching events, as /events counts them (spelling variants too).")
        return embed

    @staticmethod
    def topic_chart(answer: TrendAnswer) -> discord.Embed:
        """A topic's events per month (attached as TOPIC_CHART_FILE), shown above its timeline."""
        embed = discord.Embed(description=_peak(answer, answer.series[0]), colour=COLOUR)
        embed.set_image(url=f"attachment://{TOPIC_CHART_FILE}")
        return embed

    @staticmethod
    def refusal(answer: Refusal) -> str:
        return clip(discord.utils.escape_mentions(answer.message), CONTENT)


def _peak(answer: TrendAnswer, line: TrendSeries) -> str:
    """ "**ukraine**: most in March 2022, 1,234 events of 5,678 — `/events ukraine from:... to:...`"."""
    text = f"**{clip(clean(line.query), 200)}**: {answer.peak_words(line)}"
    if line.peak is None:
        return text + "."
    if answer.searchable:
        text += f" — `{answer.open_command(line, line.peak).replace('`', chr(39))}`"
    return text


def _source(name: str, url: str | None) -> str:
    """A source's name, linked when it has a web address."""
    label = clip(clean(name), 80)
    if url and url.lower().startswith(("http://", "https://")) and len(url) <= 512:
        return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"
    return label


def _fit_lines(rows: list[str], limit: int, tail: str, separator: str = "\n") -> str:
    """As many whole rows as fit in `limit` with the tail; the rows left out are counted."""
    sizes = list(accumulate(len(row) + len(separator) for row in rows))
    for keep in range(len(rows), 0, -1):
        end = tail or (f"… and {len(rows) - keep} more" if keep < len(rows) else "")
        if sizes[keep - 1] - len(separator) + (len(separator) + len(end) if end else 0) <= limit:
            return separator.join([*rows[:keep], end] if end else rows[:keep])
    return clip(rows[0], limit)


def fit_total(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """Shorten descriptions until all embeds together fit Discord's 6000-character total."""
    embeds = embeds[:EMBEDS]
    while sum(len(e) for e in embeds) > TOTAL:
        longest = max(embeds, key=len)
        if longest.fields:
            longest.remove_field(-1)
        elif longest.description and len(longest.description) > 40:
            longest.description = clip(longest.description, len(longest.description) // 2)
        else:
            title = (longest.title or "").replace("**", "")  # no bold cut in half
            longest.title = clip(title, max(20, len(title) // 2))
    return embeds


def option_label(event: Event) -> str:
    """A select-menu or autocomplete label: the date, then as much headline as fits."""
    return clip(f"{event.date.isoformat()} {' '.join(event.headline.split())}", SELECT_LABEL)
