"""Words: how headlines and queries are cut into tokens, and how spellings are folded.

Tokens are lowercased runs of letters and digits; hyphens and other punctuation split words
("al-Qaryatain" -> "al", "qaryatain"), apostrophes do not ("O'Brien" -> "obrien") and a
possessive "'s" is dropped ("Iran's" -> "iran"). Accents are kept: "Kyïv" and "kyiv" are
different tokens, joined only by the spelling tolerance through `variant_key`.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")
POSSESSIVE = re.compile(r"['’]s\b")
APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")

# Dropped from queries (never from documents): they match most of the archive and carry
# nothing a person searches for.
QUERY_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the to was were with".split()
)

# Folds that make common transliterations and misspellings of one name meet:
# Qaddafi/Gadhafi/Kaddafi, Kyiv/Kiev... (applied after accents and doubled letters go).
_FOLDS = [
    ("q", "k"),
    ("g", "k"),
    ("c", "k"),
    ("y", "i"),
    ("j", "i"),
    ("w", "v"),
    ("z", "s"),
    ("dh", "d"),
    ("kh", "k"),
    ("ph", "f"),
    ("ou", "u"),
]


# What ends a clause in a headline: words either side of it are not next to each other.
WORD_OR_BREAK = re.compile(r"[^\W_]+|[,;:()\"“”—]|\.(?=\s|$)")


def tokenize(text: str, breaks: bool = False) -> list[str]:
    """The tokens of a text; with `breaks`, the marks that end a clause (",", ";", a full stop
    ...) are tokens too."""
    text = POSSESSIVE.sub("", text.casefold())
    return (WORD_OR_BREAK if breaks else WORD).findall(APOSTROPHE.sub("", text))


def query_tokens(text: str) -> list[str]:
    """Tokens of a query, without the stopwords (unless nothing else is left)."""
    tokens = tokenize(text)
    kept = [token for token in tokens if token not in QUERY_STOPWORDS]
    return kept or tokens


def strip_accents(word: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))


def variant_key(word: str) -> str:
    """A folded spelling: words with the same key are treated as spelling variants."""
    key = strip_accents(word)
    for old, new in _FOLDS:
        key = key.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", key)


SHOWN_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")  # a word as shown, apostrophes and all ("Iran's")


def matched_spans(text: str, terms: frozenset[str] | set[str]) -> list[tuple[int, int]]:
    """Where the whole words of `text` are whose tokens include one of `terms` (to show them in bold)."""
    if not terms:
        return []
    return [match.span() for match in SHOWN_WORD.finditer(text) if not terms.isdisjoint(tokenize(match.group()))]
