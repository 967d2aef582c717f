"""Topic names: matching what people type to them, and the acronyms they make."""

from __future__ import annotations

from collections.abc import Mapping

from store import Store
from store.tokens import QUERY_STOPWORDS, tokenize, variant_key


class TopicNames:
    """The archive's topic names, each with its lowercase and spelling-folded words, and the
    acronyms they make, worked out once per index (autocomplete asks on every keystroke;
    there are thousands of topics).

    Names that differ only in case ("Syrian civil war", "Syrian Civil War") are one topic,
    shown by its most used spelling (the first given), with the events of all of them."""

    def __init__(self, names: list[str], counts: Mapping[str, int] | None = None) -> None:
        self.spellings: dict[str, list[str]] = {}  # shown name: every name that differs from it only in case
        self.shown_as: dict[str, str] = {}  # a name casefolded: its shown name
        for name in names:
            shown = self.shown_as.setdefault(name.casefold(), name)
            self.spellings.setdefault(shown, []).append(name)
        self.counts = {shown: sum((counts or {}).get(n, 0) for n in same) for shown, same in self.spellings.items()}
        self.entries = [(name, name.casefold(), [variant_key(w) for w in tokenize(name)]) for name in self.spellings]
        self.acronyms: dict[str, list[str]] = {}  # "isil": the words of "Islamic State of Iraq and the Levant"
        self.acronym_names: dict[str, str] = {}  # "isil": "Islamic State of Iraq and the Levant"
        for name in self.spellings:
            words = [w for w in tokenize(name) if w not in QUERY_STOPWORDS and not w.isdigit()]
            if len(words) >= 3:
                acronym = "".join(w[0] for w in words)
                self.acronyms.setdefault(acronym, words)
                self.acronym_names.setdefault(acronym, name)

    def spellings_of(self, name: str) -> list[str]:
        """Every spelling of the topic this name is one of ("Syrian civil war": it and "Syrian
        Civil War"); the name alone if the archive has no such topic (any more)."""
        return self.spellings.get(self.shown_as.get(name.casefold(), ""), [name])

    def closest(self, text: str, limit: int = 25) -> list[str]:
        """Names for what someone typed: exact (or the name an acronym stands for: "isil"), then
        prefix, then containing it, then the same with spellings folded (so "hizbollah" finds
        "Israel–Hezbollah conflict")."""
        wanted = " ".join(text.casefold().split())
        if not wanted:
            return [name for name, _, _ in self.entries[:limit]]
        typed = [variant_key(word) for word in tokenize(wanted)]
        tiers: list[list[str]] = [[], [], [], []]
        acronym = self.acronym_names.get(wanted.replace(".", "").replace(" ", ""))
        for name, lower, keys in self.entries:
            if lower == wanted or name == acronym:  # "ISIL": the topic it stands for
                tiers[0].append(name)
            elif lower.startswith(wanted):
                tiers[1].append(name)
            elif wanted in lower:
                tiers[2].append(name)
            elif typed and all(any(_alike(key, word) for word in keys) for key in typed):
                tiers[3].append(name)
        return [name for tier in tiers for name in tier][:limit]


_topics: tuple[list[tuple[str, int]] | None, TopicNames] = (None, TopicNames([]))


async def topic_names(store: Store) -> TopicNames:
    """The store's topics, most events first, prepared for matching; kept until the next index."""
    global _topics
    topics = await store.topic_names()
    if _topics[0] is not topics:
        _topics = (topics, TopicNames([name for name, _ in topics], dict(topics)))
    return _topics[1]


def _alike(typed: str, word: str) -> bool:
    """The start of a word (three letters or more), or one edit away in a long word."""
    if len(typed) >= 3 and word.startswith(typed):
        return True
    if len(typed) < 5 or abs(len(typed) - len(word)) > 1:
        return False
    if len(typed) == len(word):
        return sum(a != b for a, b in zip(typed, word)) <= 1
    short, long = sorted((typed, word), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
