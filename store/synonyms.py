"""Other words for the same thing in news headlines: a small hand-made lexicon.

Each group holds words that headlines use for one thing ("blast", "explosion"). A query word
of a group also matches the other words of its group, in any of their forms, weaker than the
word itself (SYNONYM_WEIGHT in store/search.py, through `SearchIndex.search`'s `also`). Words
are looked up by their Snowball stem, so "killed", "kills" and "killing" all find the group of
"kill". Only single words: a group cannot say "prime minister" or "United Kingdom".

Kept small on purpose: a word belongs here only when a headline with the other word would
answer a search for it. Words with two common senses stay out where the other sense would bring
noise ("fire" the blaze, but also "fire" a missile or a minister; "strike"), and so do words whose
stem takes in common words of another sense ("accord" would bring "according", "legislator"
"legislative", "airliner" "airlines", "collide" "collider"): the stems were checked against the
shared archive's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from Stemmer import Stemmer

_STEMMER = Stemmer("english")  # the stemmer store/search.py reads word forms with

GROUPS: tuple[tuple[str, ...], ...] = (
    # casualties
    ("kill", "die", "dead", "death"),
    ("injure", "wound", "hurt"),
    ("murder", "homicide"),
    ("massacre", "slaughter"),
    # violence
    ("blast", "explosion", "explode", "detonation"),
    ("attack", "assault"),
    ("gunman", "gunmen", "shooter"),
    ("kidnap", "abduct"),
    ("soldier", "troop"),
    ("missile", "rocket"),
    ("coup", "putsch"),
    ("ceasefire", "truce", "armistice"),
    # disasters
    ("quake", "earthquake", "tremor"),
    ("hurricane", "typhoon", "cyclone"),
    ("blizzard", "snowstorm"),
    ("landslide", "mudslide"),
    ("blaze", "wildfire", "bushfire"),
    ("capsize", "sink", "sank"),
    ("crash", "collision"),
    ("plane", "aircraft"),
    ("ship", "vessel"),
    # health
    ("outbreak", "epidemic"),
    ("covid", "coronavirus"),
    ("vaccine", "jab"),
    # politics and law
    ("poll", "election"),
    ("referendum", "plebiscite"),
    ("resign", "quit"),
    ("oust", "topple", "overthrow", "depose"),
    ("protest", "demonstration"),
    ("treaty", "pact"),
    ("deal", "agreement"),
    ("talks", "negotiation"),
    ("ban", "prohibit", "outlaw"),
    ("arrest", "detain", "detention"),
    ("jail", "prison", "imprison"),
    ("deport", "expel", "expulsion"),
    ("probe", "investigation", "inquiry"),
    ("refugee", "migrant"),
    ("uk", "britain"),
)


def _by_stem(groups: Sequence[Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Each word's stem: the other words of its groups."""
    others: dict[str, list[str]] = {}
    for group in groups:
        for word in group:
            key = _STEMMER.stemWord(word)
            same = others.setdefault(key, [])
            same += [other for other in group if _STEMMER.stemWord(other) != key and other not in same]
    return {key: tuple(words) for key, words in others.items() if words}


SYNONYMS: Mapping[str, tuple[str, ...]] = _by_stem(GROUPS)


def synonyms(word: str) -> tuple[str, ...]:
    """The lexicon's other words for a query word ("killed": "die", "dead", "death"), or none."""
    return SYNONYMS.get(_STEMMER.stemWord(word), ())


def with_synonyms(words: Sequence[str], given: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """`given` (other words a caller asks for, per query word) with the lexicon's added."""
    found = {word: list(others) for word, others in (given or {}).items()}
    for word in words:
        extra = [other for other in synonyms(word) if other not in found.get(word, ())]
        if extra:
            found[word] = [*found.get(word, []), *extra]
    return found
