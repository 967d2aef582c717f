"""Every command the bot has, as /help and the console's help show them.

A test holds this table to the command tree the bot sends Discord, so a new command
cannot go unlisted.
"""

from __future__ import annotations

from bot.answers import Usage

SECTIONS: tuple[tuple[str, tuple[Usage, ...]], ...] = (
    (
        "Browse the archive",
        (
            Usage(
                "/events <words> [from] [to] [topic]",
                "Events matching the words, best first, matched words in bold; spellings and word forms count "
                '(a button searches the words as typed). "Quoted" words are required, -word leaves out. From '
                "and to take a day or a year; topic searches one topic.",
                "/events al-qaryatain from:2016",
                console=True,
            ),
            Usage(
                "/on <date>",
                "Every event of one day, most sources and related events first; else the nearest days with some.",
                "/on 3 April 2016",
                console=True,
            ),
            Usage(
                "/event <event>",
                "One event in full: every source, its topics and related events. Type words from its "
                "headline and pick one of the suggestions.",
                console=True,
            ),
            Usage(
                "/topic <name> [order] [from] [to]",
                "The timeline of one topic (or an acronym: ISIL), with the close names; oldest first unless "
                "order says newest; from and to take a day or a year.",
                "/topic Syrian Civil War",
                console=True,
            ),
            Usage(
                "/onthisday [date]",
                "What happened on this day, or on the one given, in earlier years.",
                "/onthisday 3 April",
            ),
        ),
    ),
    (
        "Ask",
        (
            Usage(
                "/ask <question>",
                "A question in plain words, answered from the archive when it can be, with the events behind "
                "the answer.",
                "/ask when did the Syrian army retake al-Qaryatayn?",
                console=True,
            ),
            Usage(
                "Apps → Search the archive",
                "Right-click (or long-press) any message, then Apps: its words searched in the archive, "
                "answered only to you.",
            ),
        ),
    ),
    (
        "Charts",
        (
            Usage(
                "/trend <words> [from] [to]",
                "A chart of how many events match the words per month (per year over ten years, per day under "
                "three months), with each line's peak; commas separate searches drawn as separate lines.",
                "/trend ukraine, syria from:2011",
                console=True,
            ),
        ),
    ),
    (
        "About the bot",
        (
            Usage("/status", "The events in the store, the last index run, uptime and version."),
            Usage("/help", "This list of commands."),
        ),
    ),
    (
        "For moderators (Manage Server)",
        (
            Usage(
                "/settings daily set <channel> <time> [timezone]",
                "Post 'on this day' in a channel every day at a local time.",
                "/settings daily set #news 08:00 Europe/Berlin",
            ),
            Usage("/settings daily off", "Stop the daily post."),
            Usage("/settings reindex-role [role]", "A role whose members may /reindex too (empty: none)."),
            Usage("/settings show", "This server's settings, and what went wrong lately."),
            Usage(
                "/reindex",
                "Read the archive again after its files changed (Manage Server, or the role above).",
            ),
        ),
    ),
    (
        "Follow a story (Manage Server, or the reindex role)",
        (
            Usage(
                "/follow add <channel> [query] [topic] [exclude]",
                "After each index run, post the new events with every word of the query and the topic, "
                "without the excluded words; shows what the last 30 days would have posted.",
                "/follow add #syria query:aleppo topic:Syrian Civil War exclude:football",
            ),
            Usage("/follow list", "This server's follows, their ids, and what each has posted."),
            Usage("/follow pause <id>", "Stop a follow posting for now."),
            Usage("/follow resume <id>", "Turn it on again, from now."),
            Usage("/follow remove <id>", "Stop it and forget it."),
            Usage("/follow why <id> <event>", "Whether an event matched a follow, and if not, why."),
        ),
    ),
)


def sections(console: bool = False) -> tuple[tuple[str, tuple[Usage, ...]], ...]:
    """The table; with `console`, only what the console has."""
    if not console:
        return SECTIONS
    kept = ((title, tuple(usage for usage in usages if usage.console)) for title, usages in SECTIONS)
    return tuple((title, usages) for title, usages in kept if usages)
