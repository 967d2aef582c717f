"""How answers name the commands: as Discord shows them, at the console's prompt, or on the command line.

A message that says what to do next names a command people can type where they are: `/on 2016-04-03`
in Discord (in backticks, which Discord shows as code), `/on 2016-04-03` at the console, and
`python -m bot on 2016-04-03` in a shell.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Naming:
    search: str
    day: str
    event: str
    topic: str
    ask: str
    range_options: str  # how a date range is given to the search command
    find_topic: str  # what to do when no topic is like the one typed
    find_event: str  # how to name an event
    backticks: bool  # Discord shows `text` as code; a terminal shows the backticks themselves

    def code(self, text: str) -> str:
        """A command to type, set off the way this place shows it."""
        return f"`{text}`" if self.backticks else text


DISCORD = Naming(
    search="/events",
    day="/on",
    event="/event",
    topic="/topic",
    ask="/ask",
    range_options="from/to",
    find_topic="Start typing and pick one of the suggestions.",
    find_event="start typing words from its headline and pick one of the suggestions.",
    backticks=True,
)
CONSOLE = Naming(
    search="/events",
    day="/on",
    event="/event",
    topic="/topic",
    ask="/ask",
    range_options="from: and to:",
    find_topic="Try another spelling, or /events with words from it.",
    find_event="its number in the list on screen (/event 3), words from its headline, or its path.",
    backticks=False,
)
CLI = Naming(
    search="python -m bot search",
    day="python -m bot on",
    event="python -m bot show",
    topic="python -m bot topic",
    ask="python -m bot ask",
    range_options="--from and --to",
    find_topic="Try another spelling, or python -m bot search with words from it.",
    find_event="its path (news/YYYY/MM/D/<slug>.md), as search and on show with --json.",
    backticks=False,
)
