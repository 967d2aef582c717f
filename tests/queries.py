"""A deterministic set of search queries, and rank-bm25 as the reference for their scores.

For the search tests and the benchmark (`python -m tests.bench_search`).

    queries = query_set(headlines)  # HAND_WRITTEN first, then generated ones

Generated queries are 1 to 4 words drawn, in headline order, from headlines chosen by a
seed-fixed random generator, stopwords (`store.tokens.QUERY_STOPWORDS`) left out. The same
headlines give the same queries on every machine and every run: the headlines are sorted
before they are drawn from, so the order they come in does not matter.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rank_bm25 import BM25Okapi

from store.search import SearchIndex, document_tokens
from store.store import load_search_index
from store.tokens import QUERY_STOPWORDS, query_tokens, tokenize

SEED = 20160403
GENERATED = 200

# Things people type: names in several spellings, places, and a few multi-word queries.
HAND_WRITTEN = [
    "al-qaryatain",
    "al-qaryatayn",
    "syrian army palmyra",
    "earthquake japan",
    "kyiv",
    "kiev",
    "gaddafi",
    "muammar gaddafi libya",
    "islamic state homs",
    "isil deir ez-zor siege",
    "zürich",
    "o'brien",
    "afghanistan taliban",
    "hurricane katrina new orleans",
    "tsunami indian ocean",
    "world cup final",
    "nobel peace prize",
    "brexit referendum",
    "covid-19 vaccine",
    "election results president",
]


def generated_queries(headlines: Iterable[str], count: int = GENERATED, seed: int = SEED) -> list[list[str]]:
    """`count` queries as token lists, each 1-4 non-stopword words of one headline."""
    pool = sorted({headline for headline in headlines if set(tokenize(headline)) - QUERY_STOPWORDS})
    rng = random.Random(seed)
    queries: list[list[str]] = []
    while pool and len(queries) < count:
        words = [word for word in tokenize(rng.choice(pool)) if word not in QUERY_STOPWORDS]
        size = rng.randint(1, min(4, len(words)))
        positions = sorted(rng.sample(range(len(words)), size))
        queries.append([words[i] for i in positions])
    return queries


def query_set(headlines: Iterable[str], count: int = GENERATED, seed: int = SEED) -> list[list[str]]:
    """The hand-written queries (as tokens), then `count` generated ones."""
    return [query_tokens(text) for text in HAND_WRITTEN] + generated_queries(headlines, count, seed)


# The reference


def load_index(db: Path) -> SearchIndex:
    """The search index as Store.reload_search loads it, without an event loop."""
    return load_search_index(db)[1]


@dataclass
class Reference:
    """rank-bm25 over the same documents, in the store's doc order."""

    bm25: BM25Okapi
    doc_of_event: dict[int, int]
    days: list[int]
    postings: dict[str, list[int]]  # term -> docs that contain it

    @classmethod
    def build(cls, documents: Sequence[tuple[int, int, list[str]]]) -> Reference:
        """From (event_id, day, tokens) in doc order."""
        postings: dict[str, list[int]] = {}
        for doc, (_, _, tokens) in enumerate(documents):
            for term in set(tokens):
                postings.setdefault(term, []).append(doc)
        return cls(
            BM25Okapi([tokens for _, _, tokens in documents]),
            {event_id: doc for doc, (event_id, _, _) in enumerate(documents)},
            [day for _, day, _ in documents],
            postings,
        )

    def scores(self, query: list[str]) -> dict[int, float]:
        """rank-bm25's score of every doc that contains a query term."""
        candidates = sorted(set().union(*(self.postings.get(term, ()) for term in query)))
        if not candidates:
            return {}
        return dict(zip(candidates, self.bm25.get_batch_scores(query, candidates)))

    def problems(self, index: SearchIndex, query: list[str], limit: int = 10) -> list[str]:
        """How our top `limit` for `query` (plain=True) differs from rank-bm25's."""
        expected = self.scores(query)
        best = sorted((score for score in expected.values() if score > 0), reverse=True)[:limit]
        hits = index.search(query, limit, plain=True).hits
        got = [hit.score for hit in hits]
        problems = []
        if len(got) != len(best) or not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, best)):
            problems.append(f"{query}: top scores {got[:4]}... != rank-bm25's {best[:4]}...")
        docs = [self.doc_of_event[hit.event_id] for hit in hits]
        for hit, doc in zip(hits, docs):
            if not math.isclose(hit.score, expected.get(doc, 0.0), rel_tol=1e-9):
                problems.append(f"{query}: event {hit.event_id} scores {hit.score}, rank-bm25 {expected.get(doc)}")
            if hit.day != self.days[doc]:
                problems.append(f"{query}: event {hit.event_id} has day {hit.day}, not {self.days[doc]}")
        # Equal scores, newest first: among the hits, and against equal docs left out.
        for i, doc_a in enumerate(docs):
            for doc_b in docs[i + 1 :]:
                if expected.get(doc_a) == expected.get(doc_b) and self.days[doc_a] < self.days[doc_b]:
                    problems.append(
                        f"{query}: tie between days {self.days[doc_a]} and {self.days[doc_b]} is not newest first"
                    )
        if len(hits) == limit:
            last = docs[-1]
            for doc, score in expected.items():
                if doc not in docs and score == expected[last] and self.days[doc] > self.days[last]:
                    problems.append(f"{query}: a tie on {self.days[doc]} was left out for one on {self.days[last]}")
                    break
        return problems


def store_reference(db: Path) -> tuple[Reference, dict[int, tuple[str, str]]]:
    """rank-bm25 over a store's events (headline and topics), and (path, headline) by event id."""
    conn = sqlite3.connect(db)
    try:
        topics: dict[int, list[str]] = {}
        for event_id, topic in conn.execute("SELECT event_id, topic FROM topics"):
            topics.setdefault(event_id, []).append(topic)
        rows = conn.execute(
            "SELECT d.event_id, d.day, e.path, e.headline FROM search_docs d JOIN events e ON e.id = d.event_id"
            " ORDER BY d.doc"
        ).fetchall()
    finally:
        conn.close()
    reference = Reference.build(
        [(event_id, day, document_tokens(headline, topics.get(event_id, ()))) for event_id, day, _, headline in rows]
    )
    return reference, {event_id: (path, headline) for event_id, _, path, headline in rows}
