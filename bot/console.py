"""The bot's commands at a text prompt: same handlers, same answers, rendered as text."""

from __future__ import annotations

import shlex
from typing import TextIO

from bot.answers import Answer, AskAnswer, EventList
from bot.handlers import ask, day_events, load_page, search_events, show_event, topic_timeline
from bot.render_text import render_text
from store import Store

HELP = """Commands:
  /events WORDS [from:DATE] [to:DATE]   search, e.g. /events al-qaryatain
  /on DATE                              a day, e.g. /on 2016-04-03
  /event PATH                           one event in full
  /ask QUESTION                         e.g. /ask who won the 2016 ICC World Twenty20?
  /topic NAME                           a topic's timeline, e.g. /topic Syrian Civil War
  n, p                                  next or previous page
  help, quit"""


async def run_console(store: Store, lines: TextIO, out: TextIO) -> int:
    interactive = lines.isatty()
    answer: Answer | None = None
    page = 0
    if interactive:
        out.write(HELP + "\n")
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
                out.write(HELP + "\n")
                continue
        out.write(render_text(answer, page) + "\n\n")
        out.flush()


async def console_answer(store: Store, text: str) -> Answer | None:
    command, _, rest = text.partition(" ")
    if command == "/events":
        words, options = [], {}
        for part in shlex.split(rest) if rest.count('"') % 2 == 0 else rest.split():
            name, colon, value = part.partition(":")
            if colon and name in ("from", "to"):
                options[name] = value
            else:
                words.append(part)
        return await search_events(store, " ".join(words), options.get("from"), options.get("to"))
    if command == "/on":
        return await day_events(store, rest)
    if command == "/event":
        return await show_event(store, rest)
    if command == "/ask":
        return await ask(store, rest)
    if command == "/topic":
        return await topic_timeline(store, rest)
    return None
