"""The bot's commands at a text prompt: same handlers, same answers, rendered as text.

On a terminal the prompt has line editing and history (the standard library's readline), the
text is wrapped to the terminal's width, Ctrl-C drops the line being typed (or stops an answer
under way) and Ctrl-D leaves. Piped input is read a line at a time, without a prompt.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.answers import Answer, AskAnswer, EventList, Refusal
from bot.handlers import (
    ask,
    best_event,
    day_events,
    help_answer,
    load_page,
    search_events,
    show_event,
    topic_timeline,
    trend,
)
from bot.naming import CONSOLE
from bot.terminal.render_text import WIDTH, render_text, wrap
from store import Store

KEYS = """At this prompt
  /event 3        the third event of the list on screen, in full
  /event <words>  the event whose headline best matches the words (or give its path)
  n, p            the next or previous page of a list
  help            this list
  quit            leave (or Ctrl-D); Ctrl-C drops the line being typed
Options go after the words, as Discord shows them: /events palmyra from:2016 to:3 April 2017
(/events also takes topic:Syrian Civil War, to search within one topic, and exact:yes, for the words as typed only)"""
LEAVE_HINT = "(Type quit or press Ctrl-D to leave.)"
COMMANDS = ("/events", "/on", "/event", "/ask", "/topic", "/trend")


def split_options(rest: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """ "palmyra from:3 April 2016 to:2017" -> ("palmyra", {"from": "3 April 2016", "to": "2017"}).

    Options come after the words, as Discord shows them filled in; each runs to the next option.
    Nothing else is special: apostrophes and quotes are part of the words (O'Brien, People's).
    """
    marker = re.compile(rf"(?:^|\s)({'|'.join(map(re.escape, names))}):", re.I)
    found = list(marker.finditer(rest))
    if not found:
        return rest.strip(), {}
    options = {}
    for match, following in zip(found, [*found[1:], None]):
        end = following.start() if following else len(rest)
        options[match[1].lower()] = rest[match.end() : end].strip().strip("\"'")
    return rest[: found[0].start()].strip(), options


@dataclass
class Console:
    """What the prompt remembers: the last list shown and its page."""

    store: Store
    listing: EventList | None = None
    page: int = 0
    shown: list[str] = field(default_factory=list)
    bolded: bool = False  # the words a search matched in bold (ANSI), on a terminal

    async def help(self, width: int) -> str:  # asked of the store only when shown
        return f"{render_text(await help_answer(self.store, console=True), width=width)}\n\n{KEYS}"

    async def reply(self, text: str, width: int = WIDTH) -> str:
        """The text to show for one line typed at the prompt."""
        text = text.strip()
        if text.lower() in ("help", "/help", "?"):
            return await self.help(width)
        if text.lower() in ("n", "p", "next", "previous", "prev"):
            return await self.turn(forward=text.lower().startswith("n"), width=width)
        command, _, rest = text.partition(" ")
        command = command.lower()
        if not command.startswith("/") and f"/{command}" in COMMANDS:
            command = f"/{command}"
        if command not in COMMANDS:
            return wrap(f"There is no {text.split()[0]!r} here; type help for the commands.", width)
        answer, lead = await self.answer(command, rest)
        if isinstance(answer, AskAnswer):
            answer = answer.listing()
        if isinstance(answer, EventList):
            self.listing, self.page = answer, 0
            return render_text(answer, 0, width, numbered=True, bolded=self.bolded)
        return (wrap(lead, width) + "\n\n" if lead else "") + render_text(answer, 0, width)

    async def turn(self, forward: bool, width: int) -> str:
        if self.listing is None:
            return wrap("Nothing to page through: run /events, /on or /topic first.", width)
        self.page = max(0, min(self.listing.pages - 1, self.page + (1 if forward else -1)))
        await load_page(self.store, self.listing, self.page)
        return render_text(self.listing, self.page, width, numbered=True, bolded=self.bolded)

    async def answer(self, command: str, rest: str) -> tuple[Answer, str | None]:
        """The answer to a command, and a line to show above it (or None)."""
        if command == "/events":
            words, options = split_options(rest, ("from", "to", "topic", "exact"))
            since, until = options.get("from"), options.get("to")
            exact = options.get("exact", "no").lower() in ("yes", "true", "1", "")
            topic = options.get("topic")
            answer = await search_events(self.store, words, since, until, naming=CONSOLE, exact=exact, topic=topic)
            return answer, None
        if command == "/on":
            return await day_events(self.store, rest, naming=CONSOLE), None
        if command == "/ask":
            return await ask(self.store, rest, naming=CONSOLE), None
        if command == "/topic":
            name, options = split_options(rest, ("order", "from", "to"))
            newest = options.get("order", "").lower().startswith("newest")
            answer = await topic_timeline(self.store, name, newest, CONSOLE, options.get("from"), options.get("to"))
            return answer, None
        if command == "/trend":
            words, options = split_options(rest, ("from", "to"))
            return await trend(self.store, words, options.get("from"), options.get("to")), None
        return await self.open_event(rest.strip())

    async def open_event(self, ref: str) -> tuple[Answer, str | None]:
        """/event 3 (its place in the list on screen), /event <path>, or /event <words> (the best match)."""
        if ref.isascii() and ref.isdigit():
            if self.listing is None:
                return Refusal("There is no list to pick from yet: run /events, /on or /topic first."), None
            place = int(ref)
            if not 1 <= place <= self.listing.total:
                return Refusal(f"The list on screen has events 1 to {self.listing.total}; there is no {place}."), None
            return await show_event(self.store, str(self.listing.ids[place - 1]), CONSOLE), None
        if not ref or "/" in ref or ref.endswith(".md"):
            return await show_event(self.store, ref, CONSOLE), None
        answer = await best_event(self.store, ref, CONSOLE)
        lead = f"The best match for “{ref}” (/events {ref} lists the others):"
        return answer, lead if not isinstance(answer, Refusal) else None


def terminal_width(out: TextIO) -> int:
    """The terminal's width now (it may have been resized), else the width used for files and pipes."""
    return shutil.get_terminal_size((WIDTH, 24)).columns if out.isatty() else WIDTH


def run_console(db: Path | str, lines: TextIO, out: TextIO) -> int:
    """Answer one command a line until quit or the end of the input."""
    interactive = lines.isatty() and out.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  (importing it gives input() line editing and history)
        except ImportError:  # Windows: input() still works, without history
            pass
    elif isinstance(lines, io.TextIOWrapper):
        lines.reconfigure(errors="replace")  # a line that is not UTF-8 is answered, not the end of the input
    with asyncio.Runner() as runner:  # one event loop for the whole session; each answer runs on it
        store = runner.run(Store.open(db))
        try:
            console = Console(store, bolded=interactive)
            if interactive:
                out.write(runner.run(console.help(terminal_width(out))) + "\n\n")
            while True:
                try:  # Ctrl-C, while typing or while an answer is under way: back to the prompt
                    text = input("> ") if interactive else lines.readline()
                    if not interactive and not text:
                        return 0
                    text = text.strip()
                    if text.lower() in ("quit", "exit", "q"):
                        return 0
                    if text:
                        out.write(runner.run(console.reply(text, terminal_width(out))) + "\n\n")
                        out.flush()
                except KeyboardInterrupt:
                    out.write(f"\n{LEAVE_HINT}\n")
                except EOFError:  # Ctrl-D
                    out.write("\n")
                    return 0
        finally:
            runner.run(store.close())
