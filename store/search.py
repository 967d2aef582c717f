"""BM25 search over event headlines and topics, with tolerance for spelling.

The plain ranking is rank-bm25's BM25Okapi (k1=1.5, b=0.75, epsilon=0.25) to the last bit of
each term's contribution; the default one is BM25F over headline and topics with word forms,
folded spellings and typos. The speed comes from the layout, not from approximations:

- posting lists in CSR form: one array of doc numbers (`postings`) and, per posting, the
  BM25F weight (`field_weights`, float32) and the term's count (`counts`), with
  `offsets[t]:offsets[t+1]` the slice for term t;
- the part of BM25F that does not depend on the query is computed once per posting when the
  index is built; the plain BM25Okapi weight tf*(k1+1) / (tf + k1*(1-b+b*dl/avgdl)) is
  computed per query from the counts and each doc's length term (`norm`), as rank-bm25 does;
- a query reads only its terms' postings: their weighted sums go into per-thread arrays of
  the archive's size that are kept and left all zero again after each query (no array is
  allocated or scanned per query word); a word's several forms and spellings are combined
  (the best of them per doc) in one pass over their postings together, into its docs, each
  once, with its contribution to their scores;
- a query word read (its matches, their factors, its merged postings as intp docs and
  float64 contributions, the types the sums are indexed and added with) is kept in a small
  cache of the words read lately (`_WordCache`, bounded in words and postings; an index never
  changes, so nothing in it goes stale): a word met again is neither looked up nor merged
  again, and a query of one word is scored by that word's contributions as they are;
- the top k come from a partial sort of the matching docs only.

Every array, and the tables that find terms by folded spelling, stem and (first letter,
length), is built once per index run (`index_arrays`) and saved beside the SQLite store
(store/index_file.py): a new process maps the file instead of rebuilding them, and builds
only the dicts from words to numbers when it loads.

Spelling tolerance: a query word that is rare or absent in the archive is also matched,
at VARIANT_WEIGHT of its strength, to archive words with the same folded spelling
(`tokens.variant_key`) or one edit away from it, and to the word it ends with when it
looks like a prefix glued on ("alqaryatain" -> "qaryatain").
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from Stemmer import Stemmer

from corpus.dates import MONTHS
from store.synonyms import with_synonyms
from store.tokens import query_tokens, strip_accents, tokenize, variant_key

K1, B, EPSILON = 1.5, 0.75, 0.25
HEADLINE_WEIGHT, TOPIC_WEIGHT = 1.0, 0.35  # BM25F: a word in the topics counts this much of one in the headline
FIELD_MASK = (1 << 16) - 1
FOLD_WEIGHT = 0.95  # a spelling that folds to the same key: the same word, a hair below the one typed
FORM_WEIGHT = 0.9  # another form of the word ("floods" for "flood")
TYPO_WEIGHT = 0.7  # a word one or two edits away
VARIANT_WEIGHT = TYPO_WEIGHT
SYNONYM_WEIGHT = 0.6  # a word given as another way to say the query word (see `also`)
RARE_DF = 20  # query words in fewer events than this also look for words an edit away
MAX_VARIANTS = 8
MIN_EDIT_LENGTH = 5  # shorter words have too many neighbours one edit away
TWO_EDITS_LENGTH = 8  # unknown words this long look two edits away (Elasticsearch's AUTO allows 2 from 6)
_STEMMER = Stemmer("english")
KEY_ALPHABET = "abdefhiklmnoprstuvx0123456789"  # letters left after variant_key's folds


@dataclass(frozen=True)
class Hit:
    event_id: int
    score: float
    day: int  # YYYYMMDD


@dataclass(frozen=True)
class Ranked:
    """The best hits of a search, best first, and how many events matched in all; the query as
    searched when a word was read as another archive word ("showing"), the query's words the
    archive never uses, and the dates read from the query when they narrowed it."""

    hits: list[Hit]
    matched: int
    showing: str | None = None
    unknown: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    terms: frozenset[str] = frozenset()  # the archive words searched for (to show in bold)


@dataclass(frozen=True)
class IndexRows:
    """What the store keeps: one row per doc, one posting list per term.

    A doc's length and a posting's count are those of the headline and topics together in
    their low 16 bits, and those of the headline alone above them (HEADLINE_SHIFT): the
    plain BM25 reads the first, the two-field ranking both. A store written before the
    headline was counted apart has nothing above the low bits, and is ranked as one field."""

    docs: list[tuple[int, int, int, int]]  # (doc, event_id, length, day)
    terms: list[tuple[str, str, bytes, bytes]]  # (term, variant key, docs int32, counts int32)


HEADLINE_SHIFT = 16
DENSE_SHARE = 8  # a query whose postings number more than 1/DENSE_SHARE of the docs finds its docs by a scan
GROUP_PARTS = {"names": "u1", "starts": "<i8", "members": "<i4"}
WORD_CACHE_SIZE = 4096  # query words kept read, with their postings merged (see _WordCache)
WORD_CACHE_POSTINGS = 1 << 20  # ... whose terms hold at most this many postings in all (16 bytes each at most)


def document_tokens(headline: str, topics: Iterable[str]) -> list[str]:
    """The tokens BM25 sees for one event: its headline, then its topics."""
    return tokenize(" ".join([headline, *topics]))


def document_fields(headline: str, topics: Iterable[str]) -> tuple[list[str], int]:
    """`document_tokens`, and how many of them are the headline's (they come first)."""
    words = tokenize(headline)
    return words + tokenize(" ".join(topics)), len(words)


def build_rows(events: Iterable[tuple[int, dt.date, list[str]] | tuple[int, dt.date, list[str], int]]) -> IndexRows:
    """Posting lists for (event_id, date, tokens[, how many of the tokens are the headline's])
    in the given doc order (without the last, every token is the headline's)."""
    doc_rows = []
    # Each token as a number, in the order of first sight (from C: a missing word gets the next number).
    term_ids: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    occurrences = array("q")  # every token occurrence of the archive, doc after doc
    lengths: list[int] = []
    in_headlines: list[int] = []
    for doc, (event_id, date, words, *headline) in enumerate(events):
        in_headline = headline[0] if headline else len(words)
        doc_rows.append((doc, event_id, len(words) + (in_headline << HEADLINE_SHIFT), _day_number(date)))
        occurrences.extend(map(term_ids.__getitem__, words))
        lengths.append(len(words))
        in_headlines.append(in_headline)
    # Term numbers in the terms' sorted order, so that each term's postings come out in the
    # order its rows are written.
    seen = list(term_ids)
    order = sorted(range(len(seen)), key=seen.__getitem__)
    terms = [seen[number] for number in order]
    renumber = np.empty(len(order), np.int64)
    renumber[order] = np.arange(len(order))
    # One key per occurrence, (term, doc, in the headline): sorted, they group each term's postings
    # with docs ascending, and counting equal (term, doc) pairs gives the term frequencies, in both
    # fields and in the headline (a doc's headline tokens come first). Built in place: 8 bytes an occurrence.
    size = max(len(doc_rows), 1)
    doc_lengths = np.array(lengths, np.int64)
    keys = renumber[np.frombuffer(occurrences, np.int64)] if occurrences else np.zeros(0, np.int64)
    del occurrences
    keys *= size
    keys += np.repeat(np.arange(len(doc_rows), dtype=np.int64), doc_lengths)
    keys *= 2
    headline_ends = np.repeat(np.cumsum(doc_lengths) - doc_lengths + in_headlines, doc_lengths)
    keys += np.arange(len(keys)) < headline_ends
    del headline_ends
    keys.sort()
    first = np.flatnonzero(np.diff(keys >> 1, prepend=-1)) if len(keys) else np.zeros(0, np.int64)
    counts = np.diff(first, append=len(keys))
    if len(keys):
        counts += np.add.reduceat(keys & 1, first) << HEADLINE_SHIFT
    pair_terms, docs = np.divmod(keys[first] >> 1, size)
    del keys
    bounds = np.searchsorted(pair_terms, np.arange(len(terms) + 1)) * 4  # byte offsets into the arrays below
    docs_bytes, counts_bytes = docs.astype("<i4").tobytes(), counts.astype("<i4").tobytes()
    term_rows = [
        (term, variant_key(term), docs_bytes[start:end], counts_bytes[start:end])
        for term, start, end in zip(terms, bounds[:-1].tolist(), bounds[1:].tolist())
    ]
    return IndexRows(doc_rows, term_rows)


# The arrays an index is made of, with their types: saved and read back as they are.
ARRAYS = {
    "event_ids": "<i8",  # per doc
    "days": "<i8",  # per doc, YYYYMMDD
    "norm": "<f8",  # per doc
    "postings": "<i4",  # per posting: the doc, term by term, docs ascending
    "field_weights": "<f4",  # per posting: BM25F's saturated term frequency
    "counts": "<u2",  # per posting: the term's count in headline and topics
    "offsets": "<i8",  # per term and one more: postings[offsets[t]:offsets[t + 1]] are term t's
    "idf": "<f8",  # per term: BM25Okapi's, floored as rank-bm25 floors it
    "idf_floor": "<f8",  # one value
    "term_text": "u1",  # the terms, NUL-separated UTF-8, in term order (sorted)
    **{f"{table}_{part}": kind for table in ("key", "stem", "start") for part, kind in GROUP_PARTS.items()},
}


def index_arrays(rows: IndexRows) -> dict[str, np.ndarray]:
    """Everything a SearchIndex holds, as arrays: the per-posting weights that do not depend on
    the query, and the tables that find terms by folded spelling, stem and (first letter, length)."""
    size = len(rows.docs)
    docs = np.array(rows.docs, dtype=np.int64).reshape(-1, 4)
    lengths = (docs[:, 2] & FIELD_MASK).astype(np.float64)
    headline_lengths = (docs[:, 2] >> HEADLINE_SHIFT).astype(np.float64)
    postings = np.frombuffer(b"".join(row[2] for row in rows.terms), dtype="<i4")
    packed = np.frombuffer(b"".join(row[3] for row in rows.terms), dtype="<i4")
    counts = (packed & FIELD_MASK).astype(np.float64)
    offsets = np.zeros(len(rows.terms) + 1, dtype=np.int64)
    np.cumsum([len(row[2]) // 4 for row in rows.terms], out=offsets[1:])
    df = np.diff(offsets)
    if size:  # BM25Okapi, as rank-bm25 computes it: the plain ranking
        avgdl = lengths.sum() / size
        idf = np.log(size - df + 0.5) - np.log(df + 0.5)
        average_idf = idf.sum() / len(idf) if len(idf) else 0.0
        idf_floor = EPSILON * average_idf
        idf[idf < 0] = idf_floor
        norm = K1 * (1 - B + B * lengths / avgdl)
        field_weights = _field_weights(postings, packed, counts, lengths, headline_lengths)
    else:
        idf, idf_floor, norm = np.zeros(0), 0.0, np.zeros(0)
        field_weights = counts.astype(np.float32)
    texts = [row[0] for row in rows.terms]
    if any("\0" in text for text in texts):
        raise ValueError("a search term holds a NUL character")
    arrays = {
        "event_ids": docs[:, 1],
        "days": docs[:, 3],
        "norm": norm,
        "postings": postings,
        "field_weights": field_weights,
        "counts": counts,
        "offsets": offsets,
        "idf": idf,
        "idf_floor": np.array([idf_floor]),
        "term_text": np.frombuffer("\0".join(texts).encode(), dtype=np.uint8),
    }
    arrays |= _group_arrays("key", [row[1] for row in rows.terms])
    arrays |= _group_arrays("stem", _STEMMER.stemWords(texts))
    arrays |= _group_arrays(
        "start",
        [
            f"{variant_key(text)[:1]}/{len(strip_accents(text))}"
            if len(text) >= TWO_EDITS_LENGTH - 2 and not text.isdigit()
            else None
            for text in texts
        ],
    )
    return {name: np.ascontiguousarray(arrays[name], dtype=kind) for name, kind in ARRAYS.items()}


def _field_weights(
    docs: np.ndarray, packed: np.ndarray, counts: np.ndarray, lengths: np.ndarray, headline_lengths: np.ndarray
) -> np.ndarray:
    """BM25F's saturated term frequency per posting: the headline's and the topics' counts,
    each normalised by its own field's length, weighted, then saturated once."""
    if not headline_lengths.any():  # a store from before the headline was counted apart: one field
        headline, headline_lengths = counts, lengths
    else:
        headline = (packed >> HEADLINE_SHIFT).astype(np.float64)
    topic, topic_lengths = counts - headline, lengths - headline_lengths
    average_headline = max(headline_lengths.mean(), 1.0)
    average_topic = max(topic_lengths.mean(), 1.0)
    tf = HEADLINE_WEIGHT * headline / (1 - B + B * headline_lengths[docs] / average_headline)
    tf += TOPIC_WEIGHT * topic / (1 - B + B * topic_lengths[docs] / average_topic)
    return (tf * (K1 + 1) / (tf + K1)).astype(np.float32)


def _group_arrays(table: str, names: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Terms grouped by a name (each term's, None for none): the names sorted, NUL-separated;
    where each group starts in `members`; the terms of each group, ascending."""
    named = sorted((name, term) for term, name in enumerate(names) if name is not None)
    groups = sorted({name for name, _ in named})
    if any("\0" in name for name in groups):
        raise ValueError("a search term's group name holds a NUL character")
    starts = np.searchsorted(np.array([name for name, _ in named], dtype=object), np.array(groups, dtype=object))
    return {
        f"{table}_names": np.frombuffer("\0".join(groups).encode(), dtype=np.uint8),
        f"{table}_starts": np.append(starts, len(named)),
        f"{table}_members": np.array([term for _, term in named], dtype=np.int64),
    }


def _check(arrays: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless the arrays' sizes fit together (the names are checked as read)."""
    docs, postings, terms = len(arrays["event_ids"]), len(arrays["postings"]), len(arrays["idf"])
    offsets = arrays["offsets"]
    if {len(arrays["days"]), len(arrays["norm"])} != {docs} or len(arrays["idf_floor"]) != 1:
        raise ValueError("per-doc arrays of different lengths")
    if {len(arrays["field_weights"]), len(arrays["counts"])} != {postings} or len(offsets) != terms + 1:
        raise ValueError("per-posting or per-term arrays of different lengths")
    if offsets[0] != 0 or offsets[-1] != postings or (np.diff(offsets) < 0).any():
        raise ValueError("posting offsets out of order")
    for table in ("key", "stem", "start"):
        starts, members = arrays[f"{table}_starts"], arrays[f"{table}_members"]
        if len(starts) == 0 or starts[0] != 0 or starts[-1] != len(members) or (np.diff(starts) < 0).any():
            raise ValueError(f"{table} groups out of order")
        if len(members) and (members.min() < 0 or members.max() >= terms):
            raise ValueError(f"{table} groups name terms that are not there")


def _names(blob: np.ndarray, count: int) -> list[str]:
    """The NUL-separated names of an array, checked to be `count` of them."""
    names = blob.tobytes().decode().split("\0") if count or len(blob) else []
    if len(names) != count:
        raise ValueError(f"{len(names)} names where {count} were expected")
    return names


class _Groups:
    """Term numbers by group name (a folded spelling, a stem, ...): `get(name, ())` gives the
    group's terms ascending. The names are in a dict; the members stay in arrays."""

    def __init__(self, arrays: Mapping[str, np.ndarray], table: str) -> None:
        self.starts = arrays[f"{table}_starts"]
        self.members = arrays[f"{table}_members"]
        names = _names(arrays[f"{table}_names"], len(self.starts) - 1)
        self.numbers = dict(zip(names, range(len(names))))

    def get(self, name: str, default: Sequence[int] = ()) -> Sequence[int]:
        number = self.numbers.get(name)
        if number is None:
            return default
        return self.members[self.starts[number] : self.starts[number + 1]].tolist()

    def __getitem__(self, name: str) -> list[int]:
        number = self.numbers[name]
        return self.members[self.starts[number] : self.starts[number + 1]].tolist()

    def __contains__(self, name: object) -> bool:
        return name in self.numbers

    def present(self, names: set[str]) -> set[str]:
        """Which of these names have a group (one set operation, not a lookup each)."""
        return self.numbers.keys() & names

    def __len__(self) -> int:
        return len(self.numbers)


class SearchIndex:
    """The in-memory index: numpy arrays (`ARRAYS`, saved and memory-mapped as they are by
    store/index_file.py) and the word tables built from them when loaded."""

    def __init__(self, rows: IndexRows) -> None:
        self._adopt(index_arrays(rows))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> SearchIndex:
        """An index over arrays made by `index_arrays` (or read back from a file of them)."""
        index = cls.__new__(cls)
        index._adopt(arrays)
        return index

    def _adopt(self, arrays: Mapping[str, np.ndarray]) -> None:
        _check(arrays)
        self.arrays = dict(arrays)
        self.event_ids = arrays["event_ids"]
        self.days = arrays["days"]
        self.size = len(self.event_ids)
        self.norm = arrays["norm"]  # the plain BM25's length normalisation, K1 * (1 - b + b * dl / avgdl), per doc
        self.postings = arrays["postings"]
        self.field_weights = arrays["field_weights"]
        self.counts = arrays["counts"]  # term frequency in headline and topics, per posting
        self.offsets = arrays["offsets"]
        self.df = np.diff(self.offsets)
        self.idf = arrays["idf"]
        self.idf_floor = arrays["idf_floor"][0]  # a numpy float64, as when it was computed
        self.term_text: list[str] = _names(arrays["term_text"], len(self.idf))
        self.terms: dict[str, int] = dict(zip(self.term_text, range(len(self.term_text))))
        self.by_key = _Groups(arrays, "key")
        self._by_stem = _Groups(arrays, "stem")
        self._by_start_and_length = _Groups(arrays, "start")
        self._local = threading.local()
        self._words = _WordCache()

    def search(
        self,
        query: str | Sequence[str],
        limit: int = 10,
        since: dt.date | None = None,
        until: dt.date | None = None,
        tolerant: bool = True,
        inflect: bool = True,
        also: Mapping[str, Sequence[str]] | None = None,
        plain: bool = False,
        within: np.ndarray | None = None,
    ) -> Ranked:
        """The best `limit` events for a query, best first (equal scores newest first), and how
        many events matched in all.

        `query` is text, read with `parse_query` (dates narrow the search when events match
        within them; "quoted words" are required, -words excluded), or a list of tokens used as
        given, stopwords and all. `plain` is rank-bm25's BM25Okapi over headline and topics as
        one document, exact words only. Otherwise the headline counts above the topics, other
        forms of a word match a little below it, spellings that fold alike are the same word,
        and a rare or unknown word also matches words one or two edits away, weaker (not with
        `tolerant=False`); `also` gives other words for a query word ({"die": ["death"]}), and
        a text query adds store/synonyms.py's lexicon to it (not for "quoted words").
        `within` (event ids, ascending) keeps only those events.
        """
        if isinstance(query, str) and tolerant and not plain:
            quoted = QUOTED.sub(" ", query) if '"' in query else query
            also = with_synonyms(query_tokens(quoted), also)  # "quoted words" as they are
        if plain:
            tokens = query_tokens(query) if isinstance(query, str) else list(query)
            terms = [term for term in map(self.terms.get, tokens) if term is not None]
            postings = sum(int(self.df[term]) for term in terms)
            positive = min((float(self.idf[term]) for term in terms), default=1.0) > 0
            return self._top(*self._scores(self._plain_parts(terms), postings, positive), limit, since, until)
        parsed = parse_query(query) if isinstance(query, str) else ParsedQuery(list(query))
        reading = self._read(parsed, tolerant, inflect, also)
        if not reading.words:
            return Ranked([], 0, unknown=reading.unknown)
        docs, scores = self._word_scores(reading)
        if within is not None:
            keep = np.isin(self.event_ids[docs], within, assume_unique=True)
            docs, scores = docs[keep], scores[keep]
        found = dict(showing=reading.showing, unknown=reading.unknown, terms=reading.terms)
        if parsed.since or parsed.until:
            low = max(filter(None, (since, parsed.since)), default=None)
            high = min(filter(None, (until, parsed.until)), default=None)
            ranked = self._top(docs, scores, limit, low, high)
            if ranked.hits:
                return Ranked(ranked.hits, ranked.matched, since=parsed.since, until=parsed.until, **found)
        ranked = self._top(docs, scores, limit, since, until)
        return Ranked(ranked.hits, ranked.matched, **found)

    def matched_days(
        self, query: str | Sequence[str], since: dt.date | None = None, until: dt.date | None = None
    ) -> np.ndarray:
        """The day (YYYYMMDD) of every event `search` would count as a match, in doc order:
        the same words, spellings and forms, so per-period counts add up to its `matched`."""
        parsed = parse_query(query) if isinstance(query, str) else ParsedQuery(list(query))
        also = with_synonyms(query_tokens(QUOTED.sub(" ", query))) if isinstance(query, str) else None
        reading = self._read(parsed, True, True, also)
        if not reading.words:
            return self.days[:0]
        docs, _ = self._word_scores(reading)
        return self.days[np.sort(self._within_dates(docs, since, until))]

    def _read(
        self,
        parsed: ParsedQuery,
        tolerant: bool,
        inflect: bool,
        also: Mapping[str, Sequence[str]] | None,
    ) -> _Reading:
        """The query's words the archive has, read (none when no word of the query is in the
        archive), the query as searched when a word was read as another, and the words the
        archive lacks."""
        also = also or {}
        shown, unknown = [], []
        words: list[_Word] = []
        required: list[int] = []  # positions in `words` of the quoted words
        for token in self._unglued(parsed.words) if tolerant else parsed.words:
            word = self._word(token, tolerant, inflect, tuple(also.get(token, ())))
            if word is None:
                unknown.append(token)
                shown.append(token)
                continue
            if token in parsed.required:
                required.append(len(words))
            words.append(word)
            shown.append(word.shown)
        excluded = [
            term
            for token in parsed.excluded
            if (word := self._word(token, tolerant, inflect, ()))
            for term, _ in word.matches
        ]
        showing = " ".join(shown) if shown != list(parsed.words) else None
        terms = frozenset().union(*(word.texts for word in words))
        return _Reading(words, tuple(required), tuple(excluded), showing, tuple(unknown), terms)

    def _word(self, token: str, tolerant: bool, inflect: bool, also: tuple[str, ...]) -> _Word | None:
        """A query token read against the archive (None when it matches nothing), from the cache
        of words read lately when it is there."""
        key = (token, tolerant, inflect, also)
        word = self._words.get(key, self)
        if word is self:
            matches = self.matches(token, inflect, also) if tolerant else self._exact(token)
            word = _Word(self, token, matches) if matches else None
            self._words.put(key, word, word.postings if word else 0)
        return word

    def _shared_idf(self, matches: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """A token's matches as (term, factor on its field weights): the matched words share
        one idf, that of the most frequent of them (Lucene's SynonymQuery), so a rare spelling
        or form never outweighs the word itself; per doc the strongest of them counts."""
        df = max(self.df[term] for term, _ in matches)
        idf = max(float(np.log(self.size - df + 0.5) - np.log(df + 0.5)), self.idf_floor)
        return [(term, strength * idf) for term, strength in matches]

    def _word_scores(self, reading: _Reading) -> tuple[np.ndarray, np.ndarray]:
        """`_scores` of a reading's words. A single word's are its own docs and contributions
        (the sum of one number to 0 is that number), unless words are excluded."""
        words = reading.words
        if len(words) == 1 and not reading.excluded:
            try:
                docs, contributions = words[0].postings_merged(self)
            except BaseException:
                for scratch in self._scratch():
                    scratch.fill(0)
                raise
            if words[0].scores_above_zero():
                return docs, contributions  # read-only, as the cache keeps them
            keep = contributions > 0
            return docs[keep], contributions[keep]
        return self._scores(
            (word.postings_merged(self) for word in words),
            sum(word.postings for word in words),
            all(word.positive for word in words),
            reading.required,
            reading.excluded,
        )

    def _plain_parts(self, terms: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per term, its docs and its BM25Okapi contributions (idf times the weight)."""
        for term in terms:
            docs, weights = self._postings(term, True)
            yield docs, float(self.idf[term]) * weights

    def _scores(
        self,
        parts: Iterable[tuple[np.ndarray, np.ndarray]],
        postings: int,
        positive: bool,
        required: Sequence[int] = (),
        excluded: Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """The docs (in no set order) with a score above 0 and their scores: per query token
        (`parts`: its docs, each once, and its contribution to their scores, the best of its
        terms'), summed over tokens in query order. `postings` is how many postings the tokens'
        terms have; `positive`, whether every factor is above 0. Only the postings of the
        query's terms are read: the sums go into per-thread arrays of the archive's size that
        are left all zero again (zeroed whole if a query stops half way, so that no later query
        adds to its sums)."""
        try:
            return self._sums(parts, postings, positive, required, excluded)
        except BaseException:
            for scratch in self._scratch():
                scratch.fill(0)
            raise

    def _sums(
        self,
        parts: Iterable[tuple[np.ndarray, np.ndarray]],
        postings: int,
        positive: bool,
        required: Sequence[int],
        excluded: Sequence[int],
    ) -> tuple[np.ndarray, np.ndarray]:
        total, _, seen = self._scratch()
        # Few postings: note each doc when it is first met. Many: find the docs by a scan of the sums.
        sparse = postings * DENSE_SHARE < self.size
        # With every factor above 0 a doc is new while its sum is 0; otherwise `seen` tells.
        fresh_docs = []
        must: list[np.ndarray] = []
        for position, (docs, contribution) in enumerate(parts):
            if position == 0:  # every sum is 0 yet: each becomes the contribution (0 plus it), every doc new
                total[docs] = contribution
                if sparse:
                    fresh_docs.append(docs)
                    if not positive:
                        seen[docs] = True
            elif not sparse:
                total[docs] += contribution
            elif positive:
                before = total[docs]
                fresh_docs.append(docs[before == 0])
                total[docs] = before + contribution
            else:
                total[docs] += contribution
                fresh_docs.append(docs[~seen[docs]])
                seen[docs] = True
            if position in required:
                must.append(docs[contribution > 0])
        for term in excluded:
            total[self.postings[self.offsets[term] : self.offsets[term + 1]]] = 0.0
        if sparse:
            docs = np.concatenate(fresh_docs) if fresh_docs else np.zeros(0, dtype=np.int64)
            scores = total[docs]
            total[docs] = 0.0
            if not positive:
                seen[docs] = False
            keep = scores > 0
            docs, scores = docs[keep], scores[keep]
        else:
            docs = np.flatnonzero(total > 0)
            scores = total[docs]
            total.fill(0.0)
        for matching in must:
            keep = np.isin(docs, matching)
            docs, scores = docs[keep], scores[keep]
        return docs, scores

    def _merged(self, terms: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """A token's docs, each once, and per doc the best of factor times weight over its terms
        (at least 0 when it has several terms), as intp and float64: the types the sums index
        and add without converting them each time. The caller zeroes the scratch arrays if this
        stops half way."""
        if len(terms) == 1:
            term, factor = terms[0]
            docs, weights = self._postings(term, False)
            return docs.astype(np.intp), np.asarray(factor * weights, dtype=np.float64)
        _, best, _ = self._scratch()
        docs, contribution = self._token_postings(terms)
        docs = docs.astype(np.intp)
        np.maximum.at(best, docs, contribution.astype(np.float64))  # exact; float64 takes the fast loop
        contribution = best[docs]
        once = self._once(docs)  # `best` as the marks: zeroed again after
        return docs[once], contribution[once]

    def _once(self, docs: np.ndarray) -> np.ndarray:
        """Which places of `docs` to keep to have each doc once: each doc writes its place in a
        zeroed scratch array, and the one place that stays is kept (np.unique sorts; this does not)."""
        _, marks, _ = self._scratch()
        places = np.arange(1, len(docs) + 1, dtype=np.float64)
        marks[docs] = places
        once = marks[docs] == places
        marks[docs] = 0.0
        return once

    def _token_postings(self, terms: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """The postings of a token's terms one after another: docs, and factor times weight,
        each computed as `factor * weights` computes it for one term (a Python float factor
        is rounded to float32 against the float32 field weights, a numpy float64 is not)."""
        slices = [(self.offsets[term], self.offsets[term + 1]) for term, _ in terms]
        docs = np.concatenate([self.postings[start:end] for start, end in slices])
        weights = np.concatenate([self.field_weights[start:end] for start, end in slices])
        strong = any(isinstance(factor, np.floating) for _, factor in terms)
        factors = np.array([factor for _, factor in terms], dtype=np.float64 if strong else np.float32)
        return docs, weights * np.repeat(factors, [end - start for start, end in slices])

    def _postings(self, term: int, plain: bool) -> tuple[np.ndarray, np.ndarray]:
        """A term's docs and per-posting weights: BM25F's, or (`plain`) BM25Okapi's
        tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), computed as rank-bm25 does."""
        start, end = self.offsets[term], self.offsets[term + 1]
        docs = self.postings[start:end]
        if not plain:
            return docs, self.field_weights[start:end]
        docs = docs.astype(np.intp)  # converted once, not at each use as an index
        counts = self.counts[start:end].astype(np.float64)
        return docs, counts * (K1 + 1) / (counts + self.norm[docs])

    def _scratch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This thread's zeroed arrays of the archive's size: sums, a token's best, docs seen."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = (np.zeros(self.size), np.zeros(self.size), np.zeros(self.size, dtype=bool))
        return scratch

    def matches(self, token: str, inflect: bool = True, also: Sequence[str] = ()) -> list[tuple[int, float]]:
        """(term, strength) pairs a query token matches, strongest first: itself (1.0); words
        with the same folded spelling (FOLD_WEIGHT); its other forms (FORM_WEIGHT, with
        `inflect`); if it is rare or absent, words one edit away in folded spelling, or failing
        those two edits away in spelling, within Elasticsearch's AUTO distance (TYPO_WEIGHT);
        failing everything, the word it ends with when a word is glued before it
        ("alqaryatain"); and the forms of the words `also` gives (SYNONYM_WEIGHT)."""
        exact = self._exact(token)
        seen = {term for term, _ in exact}
        key = variant_key(token)
        folds = [term for term in self.by_key.get(key, ()) if term not in seen]
        seen.update(folds)
        forms = [term for term in (self._by_stem.get(stem(token), ()) if inflect else ()) if term not in seen]
        seen.update(forms)
        token_df = self.df[exact[0][0]] if exact else 0
        typos: list[int] = []
        if token_df < RARE_DF and not folds and len(key) >= MIN_EDIT_LENGTH:
            neighbours = {term for edit in self.by_key.present(_one_edit(key)) for term in self.by_key[edit]}
            typos = [t for t in neighbours if self.df[t] >= max(token_df, 1) and _within_auto(token, self.term_text[t])]
            if not typos and not exact:
                typos = self._two_edits(token)
            typos = [term for term in typos if term not in seen]
        if not exact and not folds and not forms and not typos:
            typos = [term for term in self._glued_suffix(token) if term not in seen]
        seen.update(typos)
        synonyms = [term for word in also for term in self._by_stem.get(stem(word), ()) if term not in seen]
        by_df = lambda terms: sorted(set(terms), key=lambda term: -self.df[term])  # noqa: E731
        return (
            exact
            + [(term, FOLD_WEIGHT) for term in by_df(folds)]
            + [(term, FORM_WEIGHT) for term in by_df(forms)]
            + [(term, TYPO_WEIGHT) for term in by_df(typos)[:MAX_VARIANTS]]
            + [(term, SYNONYM_WEIGHT) for term in by_df(synonyms)]
        )

    def _two_edits(self, token: str) -> list[int]:
        """Archive words two edits from a long unknown word ("khrushchyov" -> "khrushchev"),
        looked for among the words of about its length that start with its folded first letter."""
        plain = strip_accents(token)
        if len(plain) < TWO_EDITS_LENGTH:
            return []
        group = self._by_start_and_length
        candidates = [
            term
            for length in range(len(plain) - 2, len(plain) + 3)
            for term in group.get(f"{variant_key(plain)[:1]}/{length}", ())
        ]
        return [term for term in candidates if _edit_distance(plain, strip_accents(self.term_text[term]), 2) <= 2]

    def forget_words(self) -> None:
        """Empty the cache of query words read lately, so the next query reads each word anew."""
        self._words = _WordCache()

    def prepare(self) -> SearchIndex:
        """The tables queries look words up in are built when the index is loaded; this returns
        the index, for callers written when some were built by the first query."""
        return self

    def coverage(
        self,
        tokens: Sequence[str],
        event_id: int,
        inflect: bool = True,
        also: Mapping[str, Sequence[str]] | None = None,
    ) -> float:
        """How much of the query an event matches, 0 to 1: the idf-weighted share of the
        query's words it contains, in any spelling or form (a synonym from `also` counts
        SYNONYM_WEIGHT of it). A word the archive does not have at all weighs as much as the
        rarest word."""
        doc = int(np.searchsorted(self.event_ids, event_id))
        if doc >= self.size or self.event_ids[doc] != event_id:
            return 0.0
        rarest = float(self.idf.max()) if len(self.idf) else 1.0
        total = found = 0.0
        for token in tokens:
            matches = self.matches(token, inflect, (also or {}).get(token, ()))
            exact = [term for term, weight in matches if weight == 1.0]
            weight = float(self.idf[exact[0]]) if exact else rarest
            total += weight
            for term, strength in matches:  # strongest first: the word, its spellings and forms, synonyms
                start, end = self.offsets[term], self.offsets[term + 1]
                position = start + np.searchsorted(self.postings[start:end], doc)
                if position < end and self.postings[position] == doc:
                    found += weight * (SYNONYM_WEIGHT if strength == SYNONYM_WEIGHT else 1.0)
                    break
        return found / total if total else 0.0

    def _exact(self, token: str) -> list[tuple[int, float]]:
        term = self.terms.get(token)
        return [] if term is None else [(term, 1.0)]

    def _unglued(self, words: Sequence[str]) -> list[str]:
        """Words with a hyphen left out split back in two when neither the word nor its spelling
        is in the archive but both halves are ("alqaryatain" -> "al", "qaryatain")."""
        result = []
        for word in words:
            if word not in self.terms and variant_key(word) not in self.by_key:
                for cut in range(2, len(word) - 4):
                    if word[:cut] in self.terms and variant_key(word[cut:]) in self.by_key:
                        result += [word[:cut], word[cut:]]
                        break
                else:
                    result.append(word)
            else:
                result.append(word)
        return result

    def _glued_suffix(self, token: str) -> list[int]:
        """ "alqaryatain" -> "qaryatain" (and its variants) when "al" is an archive word."""
        for cut in range(2, len(token) - 2):
            head, tail = token[:cut], token[cut:]
            if head in self.terms and variant_key(tail) in self.by_key:
                return list(self.by_key[variant_key(tail)])  # the tail itself, if it is a word, and its variants
        return []

    def _within_dates(self, docs: np.ndarray, since: dt.date | None, until: dt.date | None) -> np.ndarray:
        """The docs that fall within the dates."""
        if since or until:
            low = _day_number(since) if since else 0
            high = _day_number(until) if until else 99_999_999
            days = self.days[docs]
            return docs[(days >= low) & (days <= high)]
        return docs

    def _top(
        self, docs: np.ndarray, scores: np.ndarray, limit: int, since: dt.date | None, until: dt.date | None
    ) -> Ranked:
        """The best `limit` of the matching docs within the dates: highest score, then newest,
        then the later doc; and how many matched."""
        if since or until:
            low = _day_number(since) if since else 0
            high = _day_number(until) if until else 99_999_999
            days = self.days[docs]
            keep = (days >= low) & (days <= high)
            docs, scores = docs[keep], scores[keep]
        matched = len(docs)
        if matched > limit:
            kth = np.partition(scores, matched - limit)[matched - limit]
            chosen = scores >= kth
            docs, scores = docs[chosen], scores[chosen]
        order = np.lexsort((-docs, -self.days[docs], -scores))[:limit]
        chosen_docs = docs[order]
        hits = list(
            map(Hit, self.event_ids[chosen_docs].tolist(), scores[order].tolist(), self.days[chosen_docs].tolist())
        )
        return Ranked(hits, matched)


class _Word:
    """A query token read against the archive, as the word cache keeps it: the (term, strength)
    pairs it matches, and per term its factor on the field weights (`_shared_idf`); what to
    show for it, the archive words it searches (synonyms aside); and, once a query has scored
    it, its docs, each once, with its contribution to their scores."""

    __slots__ = ("_merged", "matches", "positive", "postings", "shown", "terms", "texts")

    def __init__(self, index: SearchIndex, token: str, matches: list[tuple[int, float]]) -> None:
        self.matches = matches
        self.terms = index._shared_idf(matches)
        first, strength = matches[0]
        # the archive word searched, unless it is the word itself or another word for it (no "Showing")
        self.shown = token if strength in (1.0, SYNONYM_WEIGHT) else index.term_text[first]
        self.texts = frozenset(index.term_text[term] for term, strength in matches if strength != SYNONYM_WEIGHT)
        self.postings = sum(int(index.df[term]) for term, _ in matches)
        self.positive = min(factor for _, factor in self.terms) > 0
        self._merged: tuple[np.ndarray, np.ndarray] | None = None

    def postings_merged(self, index: SearchIndex) -> tuple[np.ndarray, np.ndarray]:
        """Its docs, each once, and its contribution to their scores (`SearchIndex._merged`),
        computed the first time (the caller zeroes the scratch arrays if that stops half way)."""
        if self._merged is None:
            docs, contributions = index._merged(self.terms)
            docs.flags.writeable = contributions.flags.writeable = False  # shared by the queries that read it
            self._merged = docs, contributions, not len(contributions) or contributions.min() > 0
        return self._merged[:2]

    def scores_above_zero(self) -> bool:
        """Whether every contribution of the word is above 0 (once it is merged)."""
        return self._merged is not None and bool(self._merged[2])


class _WordCache:
    """The query words read lately, by (token, tolerant, inflect, other words): an index never
    changes, so an entry never goes stale. At most WORD_CACHE_SIZE words, whose terms hold at
    most WORD_CACHE_POSTINGS postings in all; the least recently used go first."""

    def __init__(self) -> None:
        self._words: OrderedDict[tuple, _Word | None] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, default: object) -> object:
        with self._lock:
            word = self._words.get(key, default)
            if word is not default:
                self._words.move_to_end(key)
            return word

    def put(self, key: tuple, word: _Word | None, postings: int) -> None:
        if postings > WORD_CACHE_POSTINGS // 8:  # too big to keep: scored anew each time
            return
        with self._lock:
            if key in self._words:
                return
            self._words[key] = word
            self._held += postings
            while len(self._words) > WORD_CACHE_SIZE or self._held > WORD_CACHE_POSTINGS:
                _, dropped = self._words.popitem(last=False)
                self._held -= dropped.postings if dropped else 0


@dataclass(frozen=True)
class _Reading:
    """A query read against the archive: the words it matched; the positions of the required
    ones, the excluded terms; and what to tell about the reading."""

    words: list[_Word]
    required: tuple[int, ...] = ()
    excluded: tuple[int, ...] = ()
    showing: str | None = None
    unknown: tuple[str, ...] = ()
    terms: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ParsedQuery:
    """A query as typed, read like a search box: words, "quoted words" (all required),
    -excluded words, and a date window (a year, a month and year, or a day)."""

    words: list[str]
    required: frozenset[str] = frozenset()
    excluded: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    window: str | None = None  # the dates as read, e.g. "March 2014"


_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"((?:19|20)\d\d)"
DATE_PATTERNS = [
    (re.compile(rf"\b{_YEAR}-(\d\d?)-(\d\d?)\b"), "ymd"),
    (re.compile(rf"\b(\d\d?)(?:st|nd|rd|th)?\s+{_MONTH}\s+{_YEAR}\b"), "dmy"),
    (re.compile(rf"\b{_MONTH}\s+(\d\d?)(?:st|nd|rd|th)?,?\s+{_YEAR}\b"), "mdy"),
    (re.compile(rf"\b{_MONTH}\s+{_YEAR}\b"), "my"),
    (re.compile(rf"\b{_YEAR}\s+{_MONTH}(?=\s|$)"), "ym"),
    (re.compile(rf"(?<![\w.,-]){_YEAR}(?![\w.,-])"), "y"),
]
A_YEAR = re.compile(_YEAR)
QUOTED = re.compile(r'"([^"]*)"')
EXCLUDED = re.compile(r"(?:^|\s)-(\w[\w'’]*)")


def parse_query(text: str) -> ParsedQuery:
    """Read a query as search boxes do; nothing in it is ever an error (an unclosed quote is
    a plain character). A date is read only where it is not the whole query."""
    text = " ".join(text.split())
    since = until = None
    window = None
    rest = text.casefold()
    # Each date pattern holds a year: where none is, none is tried (nor quotes or minus signs where none is).
    for pattern, form in DATE_PATTERNS if A_YEAR.search(rest) else ():
        match = pattern.search(rest)
        if not match:
            continue
        dates = _window(form, match.groups())
        leftover = (rest[: match.start()] + " " + rest[match.end() :]).strip()
        if dates is None or not query_tokens(QUOTED.sub(r"\1", EXCLUDED.sub(" ", leftover))):
            continue
        since, until, window = dates
        rest = leftover
        break
    required = (
        frozenset(token for phrase in QUOTED.findall(rest) for token in query_tokens(phrase))
        if '"' in rest
        else frozenset()
    )
    excluded: tuple[str, ...] = ()
    if "-" in rest:
        excluded = tuple(token for word in EXCLUDED.findall(rest) for token in tokenize(word))
        rest = EXCLUDED.sub(" ", rest)
    tokens = query_tokens(rest.replace('"', " "))
    words = [token for token in tokens if token != "or"]
    return ParsedQuery(words or tokens, required, excluded, since, until, window)


def _window(form: str, groups: Sequence[str]) -> tuple[dt.date, dt.date, str] | None:
    try:
        if form == "y":
            year = int(groups[0])
            return dt.date(year, 1, 1), dt.date(year, 12, 31), str(year)
        if form in ("my", "ym"):
            month_name, year_text = groups if form == "my" else groups[::-1]
            year, month = int(year_text), MONTHS[month_name]
            last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
            return dt.date(year, month, 1), dt.date(year, month, last), f"{dt.date(year, month, 1):%B %Y}"
        if form == "ymd":
            day = dt.date(int(groups[0]), int(groups[1]), int(groups[2]))
        elif form == "dmy":
            day = dt.date(int(groups[2]), MONTHS[groups[1]], int(groups[0]))
        else:
            day = dt.date(int(groups[2]), MONTHS[groups[0]], int(groups[1]))
    except ValueError:
        return None
    return day, day, f"{day.day} {day:%B %Y}"


def stem(word: str) -> str:
    """Snowball's English stemmer: "die"/"died"/"dies", "retake"/"retakes" meet; "win"/"won" do not."""
    return _STEMMER.stemWord(word)


def _day_number(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _one_edit(word: str) -> set[str]:
    """Every string one delete, swap, replace or insert away (Norvig's edits1)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in KEY_ALPHABET]
    inserts = [a + c + b for a, b in splits for c in KEY_ALPHABET]
    return set(deletes + swaps + replaces + inserts)


def _within_auto(typed: str, word: str) -> bool:
    """Elasticsearch's fuzziness AUTO, on spellings without accents: 0 edits up to 2 letters,
    1 up to 5, 2 beyond (a fold such as q/k is not an edit here only if it is one letter)."""
    typed, word = strip_accents(typed), strip_accents(word)
    allowed = 0 if len(typed) <= 2 else 1 if len(typed) <= 5 else 2
    if typed == word or (allowed and _within_one_edit(typed, word)):
        return True
    return allowed == 2 and _edit_distance(typed, word, allowed) <= allowed


def _within_one_edit(a: str, b: str) -> bool:
    """Whether `_edit_distance(a, b, 1) <= 1`, without the table: what is left once the common
    start and end are cut off must be one letter replaced, added or dropped, or two swapped."""
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    left_a, left_b = a[start:end_a], b[start:end_b]
    if len(left_a) <= 1 and len(left_b) <= 1:
        return True
    return len(left_a) == len(left_b) == 2 and left_a == left_b[::-1]


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or limit + 1 once past it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
    return current[-1]
