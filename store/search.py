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
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from Stemmer import Stemmer

from store.tokens import query_tokens, tokenize, variant_key

K1, B, EPSILON = 1.5, 0.75, 0.25
VARIANT_WEIGHT = 0.8  # a variant match counts this much of an exact match of the same strength
SYNONYM_WEIGHT = 0.6  # a word given as another way to say the query word (see `also`)
RARE_DF = 20  # query words in fewer events than this also look for spelling variants
MAX_VARIANTS = 8
MIN_EDIT_LENGTH = 5  # shorter words have too many neighbours one edit away
_STEMMER = Stemmer("english")
KEY_ALPHABET = "abdefhiklmnoprstuvx0123456789"  # letters left after variant_key's folds


@dataclass(frozen=True)
class Hit:
    event_id: int
    score: float
    day: int  # YYYYMMDD


@dataclass(frozen=True)
class Ranked:
    """The best hits of a search, best first, and how many events matched in all."""

    hits: list[Hit]
    matched: int


@dataclass(frozen=True)
class IndexRows:
    """What the store keeps: one row per doc, one posting list per term."""

    docs: list[tuple[int, int, int, int]]  # (doc, event_id, length, day)
    terms: list[tuple[str, str, bytes, bytes]]  # (term, variant key, docs int32, counts int32)


def document_tokens(headline: str, topics: Iterable[str]) -> list[str]:
    """The tokens BM25 sees for one event: its headline, then its topics."""
    return tokenize(" ".join([headline, *topics]))


def build_rows(events: Iterable[tuple[int, dt.date, list[str]]]) -> IndexRows:
    """Posting lists for (event_id, date, tokens) triples, docs numbered in the given order."""
    doc_rows = []
    term_ids: dict[str, int] = {}
    occurrence_terms: list[int] = []  # one entry per token occurrence in the whole archive
    occurrence_docs: list[int] = []
    for doc, (event_id, date, tokens) in enumerate(events):
        doc_rows.append((doc, event_id, len(tokens), _day_number(date)))
        occurrence_terms.extend(term_ids.setdefault(token, len(term_ids)) for token in tokens)
        occurrence_docs.extend([doc] * len(tokens))
    # Sorting (term, doc) pairs groups each term's postings with docs ascending; counting
    # equal pairs gives the term frequencies.
    size = max(len(doc_rows), 1)
    pairs, counts = np.unique(np.array(occurrence_terms, np.int64) * size + occurrence_docs, return_counts=True)
    terms, docs = np.divmod(pairs, size)
    bounds = np.searchsorted(terms, np.arange(len(term_ids) + 1))
    docs, counts = docs.astype("<i4"), counts.astype("<i4")
    term_rows = []
    for term, term_id in sorted(term_ids.items()):
        start, end = bounds[term_id], bounds[term_id + 1]
        term_rows.append((term, variant_key(term), docs[start:end].tobytes(), counts[start:end].tobytes()))
    return IndexRows(doc_rows, term_rows)


class SearchIndex:
    def __init__(self, rows: IndexRows) -> None:
        self.size = len(rows.docs)
        docs = np.array(rows.docs, dtype=np.int64).reshape(-1, 4)
        self.event_ids = docs[:, 1]
        self.days = docs[:, 3]
        lengths = docs[:, 2].astype(np.float64)
        self.terms = {term: index for index, (term, *_) in enumerate(rows.terms)}
        self.by_key: dict[str, list[int]] = defaultdict(list)
        for index, (_, key, _, _) in enumerate(rows.terms):
            self.by_key[key].append(index)
        self.postings = np.frombuffer(b"".join(row[2] for row in rows.terms), dtype="<i4")
        counts = np.frombuffer(b"".join(row[3] for row in rows.terms), dtype="<i4").astype(np.float64)
        self.offsets = np.zeros(len(rows.terms) + 1, dtype=np.int64)
        np.cumsum([len(row[2]) // 4 for row in rows.terms], out=self.offsets[1:])
        self.df = np.diff(self.offsets)

        # BM25Okapi, as rank-bm25 computes it.
        if self.size:
            avgdl = lengths.sum() / self.size
            idf = np.log(self.size - self.df + 0.5) - np.log(self.df + 0.5)
            average_idf = idf.sum() / len(idf) if len(idf) else 0.0
            idf[idf < 0] = EPSILON * average_idf
            norm = K1 * (1 - B + B * lengths / avgdl)
            self.weights = counts * (K1 + 1) / (counts + norm[self.postings])
        else:
            idf = np.zeros(0)
            self.weights = counts
        self.idf = idf

    def search(
        self,
        query: str | Sequence[str],
        limit: int = 10,
        since: dt.date | None = None,
        until: dt.date | None = None,
        tolerant: bool = True,
        inflect: bool = False,
        also: Mapping[str, Sequence[str]] | None = None,
    ) -> Ranked:
        """The best `limit` events for a query, best first (equal scores newest first), and how
        many events matched in all.

        `query` is text, or a list of tokens (used as given, stopwords and all). `inflect`
        also matches other forms of every word ("retake" finds "retakes"), as variants, and
        the forms of the words `also` gives for it ({"die": ["death"]}).
        """
        scores = self._scores(query, tolerant, inflect, also)
        return self._top(scores, limit, since, until)

    def matched_days(
        self, query: str | Sequence[str], since: dt.date | None = None, until: dt.date | None = None
    ) -> np.ndarray:
        """The day (YYYYMMDD) of every event `search` would count as a match, in doc order:
        the same words, spellings and dates, so per-period counts add up to its `matched`."""
        return self.days[self._candidates(self._scores(query), since, until)]

    def _scores(
        self,
        query: str | Sequence[str],
        tolerant: bool = True,
        inflect: bool = False,
        also: Mapping[str, Sequence[str]] | None = None,
    ) -> np.ndarray:
        """Every doc's BM25 score for the query (0 where it does not match)."""
        tokens = query_tokens(query) if isinstance(query, str) else list(query)
        scores = np.zeros(self.size)
        for token in tokens:
            matches = self.matches(token, inflect, (also or {}).get(token, ())) if tolerant else self._exact(token)
            if len(matches) == 1 and matches[0][1] == 1.0:
                term, _ = matches[0]
                start, end = self.offsets[term], self.offsets[term + 1]
                scores[self.postings[start:end]] += self.idf[term] * self.weights[start:end]
            elif matches:
                scores += self._best_of(matches)
        return scores

    def matches(self, token: str, inflect: bool = False, also: Sequence[str] = ()) -> list[tuple[int, float]]:
        """(term, weight) pairs a query token matches: itself, and variants if it is rare.

        Variants are words with the same folded spelling; failing those, the most frequent
        words one edit away from it (a misspelling is rarer than the spelling it misses).
        """
        exact = self._exact(token)
        forms = set(self._by_stem.get(stem(token), ())) if inflect else set()
        synonyms = {term for word in also for term in self._by_stem.get(stem(word), ())} - forms
        synonym_matches = [(term, SYNONYM_WEIGHT) for term in sorted(synonyms, key=lambda t: -self.df[t])]
        token_df = self.df[exact[0][0]] if exact else 0
        if token_df >= RARE_DF:
            forms -= {term for term, _ in exact}
            forms_by_df = sorted(forms, key=lambda t: -self.df[t])
            return exact + [(term, VARIANT_WEIGHT) for term in forms_by_df] + synonym_matches
        key = variant_key(token)
        variants = (set(self.by_key.get(key, ())) | forms) - {term for term, _ in exact}
        if not variants and len(key) >= MIN_EDIT_LENGTH:
            neighbours = {term for edit in _one_edit(key) for term in self.by_key.get(edit, ())}
            variants = {term for term in neighbours if self.df[term] >= max(token_df, 1)} - {t for t, _ in exact}
        if not exact and not variants:
            variants.update(self._glued_suffix(token))
        best = sorted(variants, key=lambda term: -self.df[term])[:MAX_VARIANTS]
        return exact + [(term, VARIANT_WEIGHT) for term in best] + synonym_matches

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
        inflect: bool = False,
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

    def _glued_suffix(self, token: str) -> list[int]:
        """ "alqaryatain" -> "qaryatain" (and its variants) when "al" is an archive word."""
        for cut in range(2, len(token) - 2):
            head, tail = token[:cut], token[cut:]
            if head in self.terms and variant_key(tail) in self.by_key:
                return list(self.by_key[variant_key(tail)])  # the tail itself, if it is a word, and its variants
        return []

    def _best_of(self, matches: list[tuple[int, float]]) -> np.ndarray:
        """Per doc, the strongest of a token's matches: a variant never adds to the exact.

        The exact word keeps its own idf. Variants share one idf, that of all the matched
        words taken as one (so a rare misspelling does not outweigh the common spelling),
        which is never above the exact word's.
        """
        postings = [self.postings[self.offsets[term] : self.offsets[term + 1]] for term, _ in matches]
        variant_df = len(np.unique(np.concatenate(postings))) if postings else 0  # docs with any of them
        variant_idf = max(np.log(self.size - variant_df + 0.5) - np.log(variant_df + 0.5), self.idf.min())
        best = np.zeros(self.size)
        for term, weight in matches:
            start, end = self.offsets[term], self.offsets[term + 1]
            idf = self.idf[term] if weight == 1.0 else variant_idf
            docs = self.postings[start:end]
            best[docs] = np.maximum(best[docs], weight * idf * self.weights[start:end])
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
