"""The bot's commands at a text prompt: same handlers, same answers, rendered as text."""

from __future__ import annotations

import shlex
from typing import TextIO

from bot.answers import Answer, AskAnswer, EventList
from bot.handlers import ask, day_events, help_answer, load_page, search_events, show_event, topic_timeline, trend
from bot.render_text import render_text
from store import Store

KEYS = """At this prompt
  /event takes an event's path (news/YYYY/MM/D/<slug>.md) instead of suggestions
  n, p    the next or previous page of a list
  help    this list
  quit    leave (or Ctrl-D)"""


async def run_console(store: Store, lines: TextIO, out: TextIO) -> int:
    interactive = lines.isatty()
    answer: Answer | None = None
    page = 0

    async def usage() -> str:  # asked of the store only when shown
        return f"{render_text(await help_answer(store, console=True))}\n\n{KEYS}\n"

    if interactive:
        out.write(await usage())
    while True:
        if interactive:
            out.write("> ")
            out.flush()
        line = lines.readline()
        if not line:
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("quit", "exit", "q"):
            return 0
        if text in ("help", "/help", "?"):
            out.write(await usage())
            continue
        if text in ("n", "p"):
            if isinstance(answer, AskAnswer):
                answer = answer.listing()
            if not isinstance(answer, EventList):
                out.write("Nothing to page through: run /events or /on first.\n")
                continue
            page = max(0, min(answer.pages - 1, page + (1 if text == "n" else -1)))
            await load_page(store, answer, page)
        else:
            answer, page = await console_answer(store, text), 0
            if answer is None:
                out.write(f"There is no {text.split()[0]!r} here; type help for the commands.\n")
                continue
        out.write(render_text(answer, page) + "\n\n")
        out.flush()


def split_options(rest: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """ "palmyra from:2016" -> ("palmyra", {"from": "2016"}): options as Discord shows them filled in."""
    words, options = [], {}
    for part in shlex.split(rest) if rest.count('"') % 2 == 0 else rest.split():
        name, colon, value = part.partition(":")
        if colon and name in names:
            options[name] = value
        else:
            words.append(part)
    return " ".join(words), options


async def console_answer(store: Store, text: str) -> Answer | None:
    command, _, rest = text.partition(" ")
    if command == "/events":
        words, options = split_options(rest, ("from", "to"))
        return await search_events(store, words, options.get("from"), options.get("to"))
    if command == "/on":
        return await day_events(store, rest)
    if command == "/event":
        return await show_event(store, rest)
    if command == "/ask":
        return await ask(store, rest)
    if command == "/trend":
        words, options = split_options(rest, ("from", "to"))
        return await trend(store, words, options.get("from"), options.get("to"))
    if command == "/topic":
        name, options = split_options(rest, ("order",))
        return await topic_timeline(store, name, newest_first=options.get("order", "").startswith("newest"))
    return None
