"""The archive format: `corpus.parse_event` and `corpus.parse_bytes` on the seeds and on odd files."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from conftest import SEED_2015, SEED_2016

from bot.config import SAMPLE_ARCHIVE
from corpus import Event, ParseError, Related, Source, parse_bytes, parse_event
from corpus.event import RELATED_LINK, related_groups

PATH = "news/2016/04/3/an-event.md"
DATE_LINE = "### [2016-04-3](/news/2016/04/3/index.md)"


def seed(path: str) -> Event:
    """A seed as bundled with the sample archive, parsed by its path."""
    return parse_bytes((SAMPLE_ARCHIVE / path).read_bytes(), path)


def event_text(headline: str = "Something happens. ", sources: str | None = None, related: str | None = None) -> str:
    """An event file in the archive's layout; a section is left out when it is None."""
    parts = [DATE_LINE, "", f"# {headline}", "", ""]
    if sources is not None:
        parts += ["### Source:", "", sources, ""]
    if related is not None:
        parts += ["### Related:", "", related, ""]
    return "\n".join(parts)


def parse_error(text: str | bytes, path: str = PATH) -> ParseError:
    with pytest.raises(ParseError) as caught:
        if isinstance(text, bytes):
            parse_bytes(text, path)
        else:
            parse_event(text, path)
    return caught.value


# The two seeds


def test_seed_2015_event() -> None:
    event = seed(SEED_2015)

    assert event.path == SEED_2015
    assert event.date == dt.date(2015, 8, 6)
    assert event.headline == (
        "Islamic State of Iraq and the Levant conquers the key transport hub Al-Qaryatain, allowing its forces "
        "in the Qalamun region to be supplied through this city."
    )
    assert event.sources == [
        Source("The News Hub", "https://www.the-newshub.com/international/key-syrian-city-falls-under-isil-control")
    ]
    assert event.warnings == []


def test_seed_2015_related() -> None:
    event = seed(SEED_2015)

    assert len(event.related) == 5
    assert event.related[0] == Related(
        "news/2017/10/1/the-islamic-state-group-seizes-the-al-qaryatain-town-in-the-central-province-of-homs-in-a-"
        "surprise-attack-against-syrian-government-forces.md",
        "The Islamic State group seizes the Al-Qaryatain town in the central province of Homs in a surprise attack "
        "against Syrian government forces.",
        ("Al-Qaryatain", "Islamic State", "Syrian Civil War"),
    )
    assert event.related[-1] == Related(
        "news/2017/08/30/cjtfaoir-jets-destroy-a-section-of-road-blocking-the-path-of-a-convoy-carrying-isil-"
        "evacuees-from-the-lebanonasyria-border-en-route-to.md",
        "CJTF-OIR jets destroy a section of road, blocking the path of a convoy carrying ISIL evacuees from the "
        "Lebanon-Syria border en route to Abu Kamal in the Deir ez-Zor Governorate. The convoy, carrying 308 "
        "militants and 331 civilians according to Hezbollah, is now effectively stranded in Syrian "
        "government-controlled territory.",
        ("Islamic State", "Syrian Civil War"),
    )
    assert event.related[-1].date == dt.date(2017, 8, 30)
    assert event.topics == ["Al-Qaryatain", "Islamic State", "Syrian Civil War"]


def test_seed_2016_event() -> None:
    event = seed(SEED_2016)

    assert event.path == SEED_2016
    assert event.date == dt.date(2016, 4, 3)
    assert event.headline == (
        "The Syrian Army retakes control of al-Qaryatayn, Homs Governorate, after driving out ISIL militants."
    )
    assert event.sources == [
        Source("Reuters", "http://uk.reuters.com/article/uk-mideast-crisis-idlib-idUKKCN0X00WA"),
        Source("Reuters", "http://www.reuters.com/article/us-mideast-crisis-syria-town-idUSKCN0X00BL"),
    ]
    assert event.warnings == []


def test_seed_2016_related() -> None:
    event = seed(SEED_2016)
    syria = ("Islamic State of Iraq and the Levant", "Syrian Army", "Syrian Civil War")

    assert len(event.related) == 10
    assert event.related[0] == Related(
        "news/2017/09/5/the-syrian-army-lifts-the-28-month-long-siege-of-deir-ez-zor-by-the-islamic-state-of-iraq-"
        "and-the-levant.md",
        "The Syrian Army lifts the 28-month-long siege of Deir ez-Zor by the Islamic State of Iraq and the Levant.",
        syria,
    )
    assert event.related[-1] == Related(
        "news/2016/03/27/the-syrian-army-takes-full-control-of-palmyra-after-heavy-fighting-with-isil-forces-"
        "according-to-a-syrian-military-source.md",
        "The Syrian Army takes full control of Palmyra after heavy fighting with ISIL forces, according to a Syrian "
        "military source.",
        syria,
    )
    assert event.related[2].contexts == ("Homs Governorate", "Syrian Army", "Syrian Civil War")
    assert event.topics == [
        "Islamic State of Iraq and the Levant",
        "Syrian Army",
        "Syrian Civil War",
        "Homs Governorate",
    ]


def test_seed_path_with_leading_slash_is_the_same_event() -> None:
    data = (SAMPLE_ARCHIVE / SEED_2016).read_bytes()

    assert parse_bytes(data, "/" + SEED_2016) == parse_bytes(data, SEED_2016)


# Sources and related lines


def test_source_without_link_has_no_url() -> None:
    event = parse_event(event_text(sources="1. Reuters\n2. [AP](https://apnews.com/x)"), PATH)

    assert event.sources == [Source("Reuters", None), Source("AP", "https://apnews.com/x")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1. [Reuters [UK]](http://r.com/a)", Source("Reuters [UK]", "http://r.com/a")),
        ("1. [The ] Times](http://t.com/a)", Source("The ] Times", "http://t.com/a")),
        (
            "1. [Wiki](https://en.wikipedia.org/wiki/Homs_(city))",
            Source("Wiki", "https://en.wikipedia.org/wiki/Homs_(city)"),
        ),
        ("1. [BBC News ](http://bbc.co.uk/n)", Source("BBC News", "http://bbc.co.uk/n")),
    ],
    ids=["brackets", "closing-bracket", "parentheses-in-url", "trailing-space"],
)
def test_source_link_text(line: str, expected: Source) -> None:
    assert parse_event(event_text(sources=line), PATH).sources == [expected]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "1. [Talks [round 2] end ](/news/2016/01/2/talks-round-2-end.md) _Context: Geneva, Syria_",
            Related("news/2016/01/2/talks-round-2-end.md", "Talks [round 2] end", ("Geneva", "Syria")),
        ),
        (
            "1. [A ] in text ](/news/2016/01/2/a-in-text.md) _Context: X_",
            Related("news/2016/01/2/a-in-text.md", "A ] in text", ("X",)),
        ),
        (
            "1. [Homs (city) falls ](/news/2016/01/2/homs-(city)-falls.md) _Context: Homs_",
            Related("news/2016/01/2/homs-(city)-falls.md", "Homs (city) falls", ("Homs",)),
        ),
        (
            "1. [No context ](/news/2016/01/2/no-context.md)",
            Related("news/2016/01/2/no-context.md", "No context", ()),
        ),
    ],
    ids=["brackets", "closing-bracket", "parentheses-in-path", "no-context"],
)
def test_related_link_text(line: str, expected: Related) -> None:
    event = parse_event(event_text(related=line), PATH)

    assert event.related == [expected]
    assert event.warnings == []


def test_malformed_related_line_is_skipped_with_a_warning() -> None:
    related = "\n".join(
        [
            "1. [First ](/news/2016/01/1/first.md) _Context: A_",
            "2. [Broken](http://example.com/not-an-event) _Context: B_",
            "3. [Third ](/news/2016/01/3/third.md) _Context: C_",
        ]
    )
    text = event_text(related=related)
    broken_line = text.splitlines().index("2. [Broken](http://example.com/not-an-event) _Context: B_") + 1

    event = parse_event(text, PATH)

    assert [link.path for link in event.related] == ["news/2016/01/1/first.md", "news/2016/01/3/third.md"]
    assert event.topics == ["A", "C"]
    assert len(event.warnings) == 1
    assert event.warnings[0].startswith(f"line {broken_line}:")
    assert "Related item" in event.warnings[0]


@pytest.mark.parametrize(
    ("sources", "related"),
    [(None, None), ("", ""), (None, ""), ("", None)],
    ids=["both-missing", "both-empty", "no-source-empty-related", "empty-source-no-related"],
)
def test_missing_or_empty_sections(sources: str | None, related: str | None) -> None:
    event = parse_event(event_text(sources=sources, related=related), PATH)

    assert event.headline == "Something happens."
    assert event.sources == []
    assert event.related == []
    assert event.topics == []
    assert event.warnings == []


def test_sources_only() -> None:
    event = parse_event(event_text(sources="1. Reuters"), PATH)

    assert event.sources == [Source("Reuters")]
    assert event.related == []


# Headlines


@pytest.mark.parametrize(
    "headline",
    [
        "Floods hit Zürich",
        "Shelling in Kyïv and Kharkiv",
        "انفجار في دمشق",
        "Markets *crash* after _the_ vote on **Brexit**",
        'A "quoted" [bracketed] (parenthesised) headline',
        "x" * 10_000,
    ],
    ids=["latin", "cyrillic-latin", "arabic", "markdown-marks", "punctuation", "10000-chars"],
)
def test_headline_kept_as_written(headline: str) -> None:
    assert parse_event(event_text(headline + " "), PATH).headline == headline


def test_non_ascii_headline_through_bytes() -> None:
    data = event_text("Kyïv, Zürich, دمشق ").encode("utf-8")

    assert parse_bytes(data, PATH).headline == "Kyïv, Zürich, دمشق"


def test_byte_order_mark_is_ignored() -> None:
    assert parse_bytes(b"\xef\xbb\xbf" + event_text().encode(), PATH).headline == "Something happens."


# Dates


def test_date_line_disagreeing_with_path_uses_the_path() -> None:
    text = "### [2016-04-4](/news/2016/04/4/index.md)\n\n# Something happens.\n"

    event = parse_event(text, PATH)

    assert event.date == dt.date(2016, 4, 3)
    assert len(event.warnings) == 1
    assert "2016-04-04" in event.warnings[0]
    assert "2016-04-03" in event.warnings[0]
    assert event.warnings[0].startswith("line 1:")


def test_impossible_date_in_date_line() -> None:
    text = "### [2016-02-30](/news/2016/02/30/index.md)\n\n# Something happens.\n"

    error = parse_error(text, "news/2016/02/29/something-happens.md")

    assert error.path == "news/2016/02/29/something-happens.md"
    assert error.line == 1
    assert "impossible date" in error.reason
    assert "date line" in error.reason


@pytest.mark.parametrize(
    "path",
    [
        "news/2016/4/3/an-event.md",  # one-digit month
        "news/16/04/3/an-event.md",
        "news/2016/04/3/an-event.txt",
        "news/2016/04/3/deeper/an-event.md",
        "archive/2016/04/3/an-event.md",
        "an-event.md",
        "news/2016/02/30/an-event.md",  # not a real day
    ],
)
def test_path_that_is_not_an_event_path(path: str) -> None:
    error = parse_error(event_text(), path)

    assert error.path == path
    assert error.line == 0
    assert "news/YYYY/MM/D/<slug>.md" in error.reason


# Files that are not events


@pytest.mark.parametrize("text", ["", "   \n\n\t \n"], ids=["empty", "whitespace"])
def test_empty_file(text: str) -> None:
    for error in (parse_error(text), parse_error(text.encode())):
        assert error.path == PATH
        assert error.line == 1
        assert error.reason == "empty file"


def test_binary_file() -> None:
    error = parse_error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "/" + PATH)

    assert error.path == PATH
    assert error.line == 1
    assert "NUL" in error.reason


def test_nul_byte_in_text() -> None:
    error = parse_error(event_text("Some\x00thing"))

    assert error.path == PATH
    assert error.line == 1
    assert "binary" in error.reason


def test_invalid_utf8() -> None:
    head = (DATE_LINE + "\n\n# Caf").encode()

    error = parse_error(head + b"\xe9 opens\n")  # Latin-1, not UTF-8

    assert error.path == PATH
    assert error.line == 3
    assert "UTF-8" in error.reason
    assert f"byte {len(head)}" in error.reason


def test_no_date_line() -> None:
    error = parse_error("# Something happens.\n\n### Source:\n\n1. Reuters\n")

    assert error.path == PATH
    assert error.line == 1
    assert "date line" in error.reason


def test_file_with_only_a_date_line() -> None:
    error = parse_error(DATE_LINE + "\n\n")

    assert error.path == PATH
    assert error.line == 2
    assert "no headline" in error.reason


def test_sections_without_a_headline() -> None:
    text = DATE_LINE + "\n\n### Source:\n\n1. Reuters\n\n### Related:\n"

    error = parse_error(text)

    assert error.path == PATH
    assert error.line == 3  # the section that came instead of the headline
    assert "no headline" in error.reason


def test_text_instead_of_headline() -> None:
    error = parse_error(DATE_LINE + "\n\nSomething happens, but not as a heading.\n")

    assert error.path == PATH
    assert error.line == 3
    assert "headline" in error.reason
    assert "'# '" in error.reason


# Related lines are read with string searches that must give what the pattern gives.

RELATED_CASES = [
    "[Headline. ](/news/2016/04/8/slug.md) _Context: Syrian Civil War_",
    "[Headline](news/2016/04/8/slug.md)",
    "[Headline](/news/2016/04/8/slug.md)   ",
    "[Headline](/news/2016/04/8/slug.md) _Context:_",
    "[Headline](/news/2016/04/8/slug.md) _Context:   a, b _",
    "[Headline](/news/2016/04/8/slug.md) _Context: a_ b",  # text after the context: no match
    "[Headline](/news/2016/04/8/slug.md) _Context: ",
    "[Headline](/news/2016/04/8/slug.md) trailing words",
    "[A [bracketed] headline](/news/2016/04/8/slug.md) _Context: x_",
    "[Two](links](/news/2016/04/8/a.md) _Context: x_",  # the last "](" that leads to a match
    "[Text](/news/a.md) _Context: b](/news/c.md) _Context: d_",
    "[Text](/news/a.md).md) _Context: x_",  # the path runs to the first ".md)" after which the rest matches
    "[Text](/news/a b.md)",  # a space in the path
    "[Text](//news/a.md)",
    "[Text](/news/.md)",  # "news/" needs one character before ".md"
    "[Text](/news/x.md)\u00a0_Context: y_\u2003",  # spaces other than " " count as spaces
    "Text](/news/a.md)",
    "[](/news/a.md)",
    "",
]


@pytest.mark.parametrize("body", RELATED_CASES)
def test_related_lines_read_as_the_pattern_reads_them(body: str) -> None:
    match = RELATED_LINK.match(body)
    assert related_groups(body) == (match.groups() if match else None)


def test_related_lines_read_as_the_pattern_reads_them_on_random_lines() -> None:
    pieces = ["[", "]", "(", ")", "](", "](/", "news/", "/news/", ".md", ".md)", "/", " ", "\t", "\u00a0", "_"]
    pieces += ["_Context:", " _Context: a, b_", "x", "a b", ",", "é"]
    tails = ["", " ", " _Context: a_", "_Context:_", " _Context: ", " _x_", "  _Context:  b, c _"]
    rng = random.Random(20261202)

    def some(most: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, most)))

    matched = 0
    for number in range(20_000):
        if number % 2:  # a line like the archive's, with odd pieces in it
            path = rng.choice(["/", "", "//"]) + "news/" + some(1) + "2016/04/3/slug" + some(1)
            body = f"[{some(2)}headline{some(1)}]({path}.md){some(1)}{rng.choice(tails)}{some(1)}"
        else:
            body = ("[" if rng.random() < 0.9 else "") + some(10)
        match = RELATED_LINK.match(body)
        matched += match is not None
        assert related_groups(body) == (match.groups() if match else None), repr(body)
    assert matched > 100  # the lines tried include many that match
