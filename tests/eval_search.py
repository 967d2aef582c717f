"""Search quality on judged queries: `python -m tests.eval_search` (`make eval-search`).

The judged set is tests/search_eval.jsonl, one query a line:
{"query", "kind", "target", "relevant": [paths], "split": "dev" | "test"}. It was made so that
nothing could be tuned to it before it was fixed:

1. `draw`: DRAWN events are drawn at random (seed SEED) from the shared archive's paths, sorted;
   the kind of query asked of each goes round: a spelling variant or typo of a name, a short
   topical query of 2-4 words, a name with a time or a phrase.
2. For each drawn event a person wrote the query they would type to find it (the "target").
3. `pool`: the top 10 of three engines, newsbot as it was before any tuning, rank-bm25's
   BM25Okapi and tantivy with fuzzy terms, are pooled; the pooled events within POOL_DAYS
   days of the target are shown for judging (a query written for one event is about one
   happening: another report of it is relevant, other events are not), and a person marks
   those that answer the query. The target is always relevant.
4. Each query is put in the development or the test half at random (seed SEED). Tuning looks
   at the development half only (`--failures`); the test half is measured once, at the end.

The engines compared: newsbot (the default ranking, re-ranked for adjacent words as /events
gets it from Store.find), newsbot plain (BM25Okapi over headline and
topics as one document, the part that equals rank-bm25), rank-bm25 itself, and tantivy (the
headline and topics as two fields, each query word as a term plus a fuzzy term with
Elasticsearch's AUTO distance). tantivy is installed only for this (the `eval` extra).

Measures: success@5 (a relevant event in the top 5) and nDCG@10 (binary gains).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from rank_bm25 import BM25Okapi

from store.ingest import index_archive
from store.search import document_tokens, parse_query
from store.store import ADJACENT_DEPTH, favour_adjacent, load_search_index
from store.tokens import query_tokens
from tests.conftest import unpack_shared_archive

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NEWSBOT_CACHE") or Path.home() / ".cache" / "newsbot")
JUDGED = ROOT / "tests" / "search_eval.jsonl"
SEED = 20261202
DRAWN = 200
KINDS = ("spelling", "topical", "name-time")
POOL_DAYS = 3
DEPTH = 10

Engine = Callable[[str], list[str]]  # a query -> the paths of its top DEPTH events, best first


def archive_db() -> Path:
    """The shared archive's store, built once into the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    archive, db = CACHE / "current-events", CACHE / "search-eval.sqlite3"
    unpack_shared_archive(archive)
    if not db.exists():
        print("Building the index from Markdown...", file=sys.stderr)
        index_archive(db, archive)
    return db


def read_events(db: Path) -> tuple[list[str], dict[str, tuple[str, str, list[str]]]]:
    """Paths sorted, and (date, headline, topics) by path."""
    conn = sqlite3.connect(db)
    try:
        topics: dict[int, list[str]] = {}
        for event_id, topic in conn.execute("SELECT event_id, topic FROM topics ORDER BY event_id, topic"):
            topics.setdefault(event_id, []).append(topic)
        events = {
            path: (date, headline, topics.get(event_id, []))
            for event_id, path, date, headline in conn.execute("SELECT id, path, date, headline FROM events")
        }
    finally:
        conn.close()
    return sorted(events), events


def draw(paths: Sequence[str]) -> list[tuple[str, str]]:
    """(path, kind) of the drawn events."""
    chosen = random.Random(SEED).sample(list(paths), DRAWN)
    return [(path, KINDS[number % 3]) for number, path in enumerate(chosen)]


# The engines


def newsbot_engine(db: Path, plain: bool = False) -> Engine:
    """The index's ranking; the default one as `Store.find` gives it (re-ranked for adjacent words)."""
    _, index = load_search_index(db)
    paths, headlines = _paths_by_id(db), _headlines_by_id(db)

    def search(query: str) -> list[str]:
        if plain:
            return [paths[hit.event_id] for hit in index.search(query, DEPTH, plain=True).hits]
        ranked = index.search(query, max(DEPTH, ADJACENT_DEPTH))
        ranked = favour_adjacent(index, parse_query(query), ranked, headlines)
        return [paths[hit.event_id] for hit in ranked.hits[:DEPTH]]

    return search


def rank_bm25_engine(db: Path, events: dict[str, tuple[str, str, list[str]]]) -> Engine:
    order = sorted(events)
    bm25 = BM25Okapi([document_tokens(events[path][1], events[path][2]) for path in order])

    def search(query: str) -> list[str]:
        scores = bm25.get_scores(query_tokens(query))
        best = sorted(range(len(order)), key=lambda doc: -scores[doc])[:DEPTH]
        return [order[doc] for doc in best if scores[doc] > 0]

    return search


def tantivy_engine(events: dict[str, tuple[str, str, list[str]]]) -> Engine:
    import tantivy  # only here: the `eval` extra

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("headline")
    builder.add_text_field("topics")
    schema = builder.build()
    folder = Path(tempfile.mkdtemp(prefix="tantivy-"))
    index = tantivy.Index(schema, str(folder))
    writer = index.writer()
    for path, (_, headline, topics) in events.items():
        writer.add_document(tantivy.Document(path=path, headline=headline, topics=" ".join(topics)))
    writer.commit()
    index.reload()
    searcher = index.searcher()

    def search(query: str) -> list[str]:
        clauses = []
        for word in query_tokens(query):
            distance = 0 if len(word) <= 2 else 1 if len(word) <= 5 else 2  # Elasticsearch's AUTO
            for field in ("headline", "topics"):
                clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(schema, field, word)))
                if distance:
                    fuzzy = tantivy.Query.fuzzy_term_query(schema, field, word, distance, True)
                    clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(fuzzy, 0.5)))
        if not clauses:
            return []
        hits = searcher.search(tantivy.Query.boolean_query(clauses), DEPTH).hits
        return [searcher.doc(address)["path"][0] for _, address in hits]

    return search


def _paths_by_id(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT id, path FROM events"))
    finally:
        conn.close()


def _headlines_by_id(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT id, headline FROM events"))
    finally:
        conn.close()


# Measures


def success_at(found: Sequence[str], relevant: set[str], depth: int = 5) -> float:
    return 1.0 if relevant & set(found[:depth]) else 0.0


def ndcg_at(found: Sequence[str], relevant: set[str], depth: int = DEPTH) -> float:
    gain = sum(1 / math.log2(rank + 2) for rank, path in enumerate(found[:depth]) if path in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), depth)))
    return gain / ideal if ideal else 0.0


def load_judged() -> list[dict]:
    with JUDGED.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def evaluate(engines: dict[str, Engine], judged: list[dict], halves: Sequence[str]) -> None:
    print(f"| engine | {' | '.join(f'{half}: success@5 | {half}: nDCG@10' for half in halves)} |")
    print(f"|---|{'---:|---:|' * len(halves)}")
    for name, engine in engines.items():
        cells = []
        for half in halves:
            cases = [case for case in judged if case["split"] == half]
            results = [(engine(case["query"]), set(case["relevant"])) for case in cases]
            wins = sum(success_at(found, relevant) for found, relevant in results)
            ndcg = sum(ndcg_at(found, relevant) for found, relevant in results) / len(results)
            cells += [f"{wins:.0f}/{len(cases)} ({wins / len(cases):.0%})", f"{ndcg:.3f}"]
        print(f"| {name} | {' | '.join(cells)} |")


def failures(engine: Engine, judged: list[dict], events: dict[str, tuple[str, str, list[str]]]) -> None:
    """The development half's misses, to tune on (never the test half's)."""
    for case in judged:
        if case["split"] != "dev":
            continue
        found = engine(case["query"])
        if success_at(found, set(case["relevant"])):
            continue
        target = events[case["target"]]
        print(f"\n[{case['kind']}] {case['query']!r}\n  WANT {target[0]} {target[1][:110]}")
        for path in found[:5]:
            date, headline, _ = events[path]
            print(f"  got  {date} {headline[:110]}")


def pool(queries_tsv: Path, db: Path, paths: list[str], events: dict) -> None:
    """Print, for each written query, its target and the pooled events near it, for judging."""
    drawn = draw(paths)
    engines = [newsbot_engine(db), rank_bm25_engine(db, events), tantivy_engine(events)]
    for line in queries_tsv.read_text(encoding="utf-8").splitlines():
        number, query = line.split("\t")
        target, kind = drawn[int(number)]
        pooled = {path for engine in engines for path in engine(query)} - {target}
        day = events[target][0]
        near = sorted(path for path in pooled if abs(_days(events[path][0]) - _days(day)) <= POOL_DAYS)
        print(json.dumps({"number": int(number), "query": query, "kind": kind, "target": target}))
        print(f"#   TARGET {day} {events[target][1][:160]}")
        for path in near:
            print(f"#   {path} {events[path][0]} {events[path][1][:160]}")


def _days(iso: str) -> int:
    year, month, day = map(int, iso.split("-"))
    return year * 372 + month * 31 + day


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--failures", action="store_true", help="list the development half's misses")
    parser.add_argument("--half", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--pool", type=Path, help="(making the set) pool the engines for the queries in this TSV")
    parser.add_argument("--only", help="only these engines, comma-separated")
    args = parser.parse_args()
    db = archive_db()
    paths, events = read_events(db)
    if args.pool:
        pool(args.pool, db, paths, events)
        return 0
    judged = load_judged()
    if args.failures:
        failures(newsbot_engine(db), judged, events)
        return 0
    makers = {
        "newsbot": lambda: newsbot_engine(db),
        "newsbot plain (BM25Okapi)": lambda: newsbot_engine(db, plain=True),
        "rank-bm25 BM25Okapi": lambda: rank_bm25_engine(db, events),
        "tantivy, fuzzy terms": lambda: tantivy_engine(events),
    }
    chosen = [name for name in makers if not args.only or any(part in name for part in args.only.split(","))]
    halves = ["dev", "test"] if args.half == "both" else [args.half]
    sizes = ", ".join(f"{sum(case['split'] == half for case in judged)} {half}" for half in halves)
    print(f"{len(judged)} judged queries ({sizes})")
    evaluate({name: makers[name]() for name in chosen}, judged, halves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
