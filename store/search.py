"""BM25 search over event headlines and topics, with tolerance for spelling.

Scoring is rank-bm25's BM25Okapi (k1=1.5, b=0.75, epsilon=0.25) to the last bit of each
term's contribution. The speed comes from the layout, not from approximations:

- posting lists in CSR form: one array of doc numbers and one of per-posting weights,
  with `offsets[t]:offsets[t+1]` the slice for term t;
- the part of BM25 that does not depend on the query, tf*(k1+1) / (tf + k1*(1-b+b*dl/avgdl)),
  is computed once per posting when the index is loaded; a query term costs one scaled
  scatter-add of its postings into a dense score array;
- the top k come from a partial sort of the matching docs only.

Spelling tolerance: a query word that is rare or absent in the archive is also matched,
at VARIANT_WEIGHT of its strength, to archive words with the same folded spelling
(`tokens.variant_key`) or one edit away from it, and to the word it ends with when it
looks like a prefix glued on ("alqaryatain" -> "qaryatain").
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from Stemmer import Stemmer

from corpus.dates import MONTHS
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


class SearchIndex:
    def __init__(self, rows: IndexRows) -> None:
        self.size = len(rows.docs)
        docs = np.array(rows.docs, dtype=np.int64).reshape(-1, 4)
        self.event_ids = docs[:, 1]
        self.days = docs[:, 3]
        lengths = (docs[:, 2] & FIELD_MASK).astype(np.float64)
        headline_lengths = (docs[:, 2] >> HEADLINE_SHIFT).astype(np.float64)
        self.terms = {term: index for index, (term, *_) in enumerate(rows.terms)}
        self.by_key: dict[str, list[int]] = defaultdict(list)
        for index, (_, key, _, _) in enumerate(rows.terms):
            self.by_key[key].append(index)
        self.postings = np.frombuffer(b"".join(row[2] for row in rows.terms), dtype="<i4")
        packed = np.frombuffer(b"".join(row[3] for row in rows.terms), dtype="<i4")
        counts = (packed & FIELD_MASK).astype(np.float64)
        self.offsets = np.zeros(len(rows.terms) + 1, dtype=np.int64)
        np.cumsum([len(row[2]) // 4 for row in rows.terms], out=self.offsets[1:])
        self.df = np.diff(self.offsets)

        # BM25Okapi, as rank-bm25 computes it: the plain ranking.
        if self.size:
            avgdl = lengths.sum() / self.size
            idf = np.log(self.size - self.df + 0.5) - np.log(self.df + 0.5)
            average_idf = idf.sum() / len(idf) if len(idf) else 0.0
            self.idf_floor = EPSILON * average_idf
            idf[idf < 0] = self.idf_floor
            norm = K1 * (1 - B + B * lengths / avgdl)
            self.weights = counts * (K1 + 1) / (counts + norm[self.postings])
            self.field_weights = self._field_weights(packed, counts, lengths, headline_lengths)
        else:
            idf = np.zeros(0)
            self.idf_floor = 0.0
            self.weights = counts
            self.field_weights = counts.astype(np.float32)
        self.idf = idf

    def _field_weights(
        self, packed: np.ndarray, counts: np.ndarray, lengths: np.ndarray, headline_lengths: np.ndarray
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
        docs = self.postings
        tf = HEADLINE_WEIGHT * headline / (1 - B + B * headline_lengths[docs] / average_headline)
        tf += TOPIC_WEIGHT * topic / (1 - B + B * topic_lengths[docs] / average_topic)
        return (tf * (K1 + 1) / (tf + K1)).astype(np.float32)

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
        `tolerant=False`); `also` gives other words for a query word ({"die": ["death"]}).
        `within` (event ids, ascending) keeps only those events.
        """
        if plain:
            tokens = query_tokens(query) if isinstance(query, str) else list(query)
            return self._top(self._plain_scores(tokens), limit, since, until)
        parsed = parse_query(query) if isinstance(query, str) else ParsedQuery(list(query))
        reading = self._read(parsed, tolerant, inflect, also)
        if reading.scores is None:
            return Ranked([], 0, unknown=reading.unknown)
        scores = reading.scores
        if within is not None:
            scores = np.where(np.isin(self.event_ids, within, assume_unique=True), scores, 0.0)
        found = dict(showing=reading.showing, unknown=reading.unknown, terms=reading.terms)
        if parsed.since or parsed.until:
            low = max(filter(None, (since, parsed.since)), default=None)
            high = min(filter(None, (until, parsed.until)), default=None)
            ranked = self._top(scores, limit, low, high)
            if ranked.hits:
                return Ranked(ranked.hits, ranked.matched, since=parsed.since, until=parsed.until, **found)
        ranked = self._top(scores, limit, since, until)
        return Ranked(ranked.hits, ranked.matched, **found)

    def matched_days(
        self, query: str | Sequence[str], since: dt.date | None = None, until: dt.date | None = None
    ) -> np.ndarray:
        """The day (YYYYMMDD) of every event `search` would count as a match, in doc order:
        the same words, spellings and forms, so per-period counts add up to its `matched`."""
        parsed = parse_query(query) if isinstance(query, str) else ParsedQuery(list(query))
        scores = self._read(parsed, True, True, None).scores
        return self.days[self._candidates(scores, since, until)] if scores is not None else self.days[:0]

    def _plain_scores(self, tokens: Sequence[str]) -> np.ndarray:
        scores = np.zeros(self.size)
        for token in tokens:
            term = self.terms.get(token)
            if term is not None:
                start, end = self.offsets[term], self.offsets[term + 1]
                scores[self.postings[start:end]] += self.idf[term] * self.weights[start:end]
        return scores

    def _read(
        self,
        parsed: ParsedQuery,
        tolerant: bool,
        inflect: bool,
        also: Mapping[str, Sequence[str]] | None,
    ) -> _Reading:
        """Every doc's score for the query (None when no word of it is in the archive), the
        query as searched when a word was read as another, and the words the archive lacks."""
        scores = np.zeros(self.size)
        required = np.ones(self.size, dtype=bool) if parsed.required else None
        shown, unknown, any_match = [], [], False
        searched: set[int] = set()
        for token in self._unglued(parsed.words) if tolerant else parsed.words:
            matches = self.matches(token, inflect, (also or {}).get(token, ())) if tolerant else self._exact(token)
            if not matches:
                unknown.append(token)
                shown.append(token)
                continue
            any_match = True
            searched.update(term for term, strength in matches if strength != SYNONYM_WEIGHT)
            best = self._best_of(matches)
            scores += best
            if required is not None and token in parsed.required:
                required &= best > 0
            first, strength = matches[0]
            shown.append(token if strength == 1.0 else self.term_text[first])  # the archive word searched
        if not any_match:
            return _Reading(None, None, tuple(unknown), frozenset())
        if required is not None:
            scores[~required] = 0.0
        for token in parsed.excluded:
            for term, _ in self.matches(token, inflect) if tolerant else self._exact(token):
                scores[self.postings[self.offsets[term] : self.offsets[term + 1]]] = 0.0
        showing = " ".join(shown) if shown != list(parsed.words) else None
        terms = frozenset(self.term_text[term] for term in searched)
        return _Reading(scores, showing, tuple(unknown), terms)

    @cached_property
    def term_text(self) -> list[str]:
        return list(self.terms)

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
            neighbours = {term for edit in _one_edit(key) for term in self.by_key.get(edit, ())}
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
            for term in group.get((variant_key(plain)[:1], length), ())
        ]
        return [term for term in candidates if _edit_distance(plain, strip_accents(self.term_text[term]), 2) <= 2]

    def prepare(self) -> SearchIndex:
        """Build now the tables queries look words up in (word forms, spelling neighbours), which
        are otherwise built by the first query that needs them: call it where waiting is harmless."""
        _ = (self.term_text, self._by_start_and_length, self._by_stem)
        return self

    @cached_property
    def _by_start_and_length(self) -> dict[tuple[str, int], list[int]]:
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for term, index in self.terms.items():
            if len(term) >= TWO_EDITS_LENGTH - 2 and not term.isdigit():
                groups[(variant_key(term)[:1], len(strip_accents(term)))].append(index)
        return groups

    @cached_property
    def _by_stem(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = defaultdict(list)
        for stemmed, index in zip(_STEMMER.stemWords(list(self.terms)), self.terms.values()):
            groups[stemmed].append(index)
        return groups

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

    def _best_of(self, matches: list[tuple[int, float]]) -> np.ndarray:
        """Per doc, the strongest of a token's matches (Lucene's SynonymQuery, with the best
        term frequency rather than the sum): the matched words share one idf, that of the most
        frequent of them, so a rare spelling or form never outweighs the word itself."""
        df = max(self.df[term] for term, _ in matches)
        idf = max(float(np.log(self.size - df + 0.5) - np.log(df + 0.5)), self.idf_floor)
        if len(matches) == 1:
            term, strength = matches[0]
            start, end = self.offsets[term], self.offsets[term + 1]
            best = np.zeros(self.size)
            best[self.postings[start:end]] = (strength * idf) * self.field_weights[start:end]
            return best
        best = np.zeros(self.size)
        for term, strength in matches:
            start, end = self.offsets[term], self.offsets[term + 1]
            docs = self.postings[start:end]
            best[docs] = np.maximum(best[docs], (strength * idf) * self.field_weights[start:end])
        return best

    def _candidates(self, scores: np.ndarray, since: dt.date | None, until: dt.date | None) -> np.ndarray:
        """The docs that match (a score above 0) within the dates."""
        candidates = np.flatnonzero(scores > 0)
        if since or until:
            low = _day_number(since) if since else 0
            high = _day_number(until) if until else 99_999_999
            days = self.days[candidates]
            candidates = candidates[(days >= low) & (days <= high)]
        return candidates

    def _top(self, scores: np.ndarray, limit: int, since: dt.date | None, until: dt.date | None) -> Ranked:
        candidates = self._candidates(scores, since, until)
        matched = len(candidates)
        if len(candidates) > limit:
            kth = np.partition(scores[candidates], len(candidates) - limit)[len(candidates) - limit]
            candidates = candidates[scores[candidates] >= kth]
        order = np.lexsort((-candidates, -self.days[candidates], -scores[candidates]))[:limit]
        chosen = candidates[order]
        hits = list(map(Hit, self.event_ids[chosen].tolist(), scores[chosen].tolist(), self.days[chosen].tolist()))
        return Ranked(hits, matched)


@dataclass(frozen=True)
class _Reading:
    scores: np.ndarray | None
    showing: str | None
    unknown: tuple[str, ...]
    terms: frozenset[str]


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
QUOTED = re.compile(r'"([^"]*)"')
EXCLUDED = re.compile(r"(?:^|\s)-(\w[\w'’]*)")


def parse_query(text: str) -> ParsedQuery:
    """Read a query as search boxes do; nothing in it is ever an error (an unclosed quote is
    a plain character). A date is read only where it is not the whole query."""
    text = " ".join(text.split())
    since = until = None
    window = None
    rest = text.casefold()
    for pattern, form in DATE_PATTERNS:
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
    required = frozenset(token for phrase in QUOTED.findall(rest) for token in query_tokens(phrase))
    excluded = tuple(token for word in EXCLUDED.findall(rest) for token in tokenize(word))
    rest = EXCLUDED.sub(" ", rest).replace('"', " ")
    words = [token for token in query_tokens(rest) if token != "or"]
    return ParsedQuery(words or query_tokens(rest), required, excluded, since, until, window)


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
    return _edit_distance(typed, word, allowed) <= allowed


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
