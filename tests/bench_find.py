"""What the adjacency re-rank costs a search: `python -m tests.bench_find`.

Store.find (the index's search, then the best ADJACENT_DEPTH hits' headlines read and re-ranked)
against the index's search alone, on the shared archive's index (built into $NEWSBOT_CACHE on
first use, as tests/eval_search.py does) and the query set of tests/queries.py, read as typed
text. The two are interleaved query by query, in alternating order, ROUNDS times, so both see
the same machine. Prints the median and p95 over all runs, and over each query's best run (less
sensitive to other processes on a shared machine). A benchmark, not a test.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from store.store import Store
from tests.eval_search import archive_db, read_events
from tests.queries import query_set

ROUNDS = 5
WARM_UP = 10


async def measure() -> None:
    db = archive_db()
    _, events = read_events(db)
    texts = [" ".join(query) for query in query_set(headline for _, headline, _ in events.values())]
    store = await Store.open(db)
    try:
        for text in texts[:WARM_UP]:
            await store.find(text, 10)
        find, search = np.zeros((ROUNDS, len(texts))), np.zeros((ROUNDS, len(texts)))
        for round_number in range(ROUNDS):
            for number, text in enumerate(texts):
                for which in (0, 1) if (round_number + number) % 2 else (1, 0):
                    start = time.perf_counter()
                    if which:
                        await store.find(text, 10)
                    else:
                        store.index.search(text, 10)
                    (find if which else search)[round_number, number] = (time.perf_counter() - start) * 1000
    finally:
        await store.close()
    print(f"{len(texts)} queries, {ROUNDS} rounds")
    print("| | median | p95 | median, best run | p95, best run |\n|---|---:|---:|---:|---:|")
    for name, times in (("Store.find (re-ranked)", find), ("SearchIndex.search", search)):
        best = times.min(axis=0)
        cells = [np.median(times), np.percentile(times, 95), np.median(best), np.percentile(best, 95)]
        print(f"| {name} | {' | '.join(f'{ms:.2f} ms' for ms in cells)} |")


if __name__ == "__main__":
    asyncio.run(measure())
