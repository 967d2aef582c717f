"""Search benchmark on the shared archive (112,655 events): `python -m tests.bench_search` (`make bench`).

It unpacks the archive once into a cache folder ($NEWSBOT_CACHE, default ~/.cache/newsbot: the
archive goes to <cache>/current-events, the index to <cache>/bench.sqlite3), then measures:

- the full build of the index from the Markdown files (the database is deleted first);
- restart: opening the store and loading the search index, in a fresh process;
- the memory the loaded index takes (growth of the resident set while loading it);
- search latency over the deterministic query set of tests/queries.py, with and without
  spelling tolerance;
- agreement with rank-bm25: the share of queries whose top-10 scores are rank-bm25's.

It prints a Markdown table. It is a benchmark, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from store.ingest import index_archive
from tests.conftest import SHARED_ARCHIVE, unpack_shared_archive
from tests.queries import load_index, query_set, store_reference

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NEWSBOT_CACHE") or Path.home() / ".cache" / "newsbot")
RESTARTS = 3
WARM_UP = 5

# Run in a fresh interpreter: the time to open the store and load the index, and the growth
# of the resident set while it loads.
RESTART = """
import time
began = time.perf_counter()
import asyncio, json, sys

from store.store import Store

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

async def main():
    before = rss_kib()
    start = time.perf_counter()
    store = await Store.open(sys.argv[1])
    seconds = time.perf_counter() - start
    after = rss_kib()
    await store.search("al-qaryatain")
    first_answer = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "first_answer": first_answer, "rss_kib": after - before,
                      "docs": store.index.size}))
    await store.close()

asyncio.run(main())
"""


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100))


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores{f' ({model})' if model else ''}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {platform.system()} {platform.machine()}"
    )


def restart(db: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", RESTART, str(db)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def latencies(index, queries: list[list[str]], plain: bool) -> list[float]:
    """Per query, ms: the default ranking reads the query as typed text (dates, syntax, forms,
    spellings, two fields); the plain one is BM25Okapi on the tokens."""
    texts = [" ".join(query) for query in queries]
    for text, query in list(zip(texts, queries))[:WARM_UP]:
        index.search(query, 10, plain=True) if plain else index.search(text, 10)
    times = []
    for text, query in zip(texts, queries):
        start = time.perf_counter()
        index.search(query, 10, plain=True) if plain else index.search(text, 10)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    archive_dir, db = CACHE / "current-events", CACHE / "bench.sqlite3"
    print(f"Archive {SHARED_ARCHIVE}, cache {CACHE}", file=sys.stderr)

    start = time.perf_counter()
    cached = (archive_dir / "news").is_dir()
    unpack_shared_archive(archive_dir)
    unpack = "cached" if cached else f"{time.perf_counter() - start:.1f} s"

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    print("Building the index from Markdown...", file=sys.stderr)
    report = index_archive(db, archive_dir)
    build = report.seconds

    print("Restarting...", file=sys.stderr)
    restarts = [restart(db) for _ in range(RESTARTS)]
    restart_s = statistics.median(r["seconds"] for r in restarts)
    first_answer_s = statistics.median(r["first_answer"] for r in restarts)
    rss_mib = statistics.median(r["rss_kib"] for r in restarts) / 1024

    print("Searching...", file=sys.stderr)
    reference, events = store_reference(db)
    queries = query_set(headline for _, headline in events.values())
    index = load_index(db)
    tolerant = latencies(index, queries, plain=False)
    exact = latencies(index, queries, plain=True)
    agree = sum(1 for query in queries if not reference.problems(index, query))

    rows = [
        ("Machine", machine()),
        ("Archive", f"{report.events:,} events, {len(report.rejected)} rejected; unpack {unpack}"),
        ("Full build from Markdown", f"{build:.1f} s"),
        ("Restart: open store, load search index (new process)", f"{restart_s * 1000:.0f} ms (median of {RESTARTS})"),
        ("Restart to first answer (interpreter start, imports, open, one search)", f"{first_answer_s * 1000:.0f} ms"),
        ("Resident memory of the loaded index (RSS growth)", f"{rss_mib:.0f} MiB"),
        (f"Search, default ranking, {len(queries)} queries", _latency(tolerant)),
        (f"Search, plain BM25Okapi, {len(queries)} queries", _latency(exact)),
        ("Top-10 scores equal rank-bm25's (plain)", f"{agree}/{len(queries)} queries ({agree / len(queries):.1%})"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'Measure'.ljust(width)} | Result |")
    print(f"| {'-' * width} | ------ |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


def _latency(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} ms, p95 {percentile(times, 0.95):.2f} ms, max {max(times):.2f} ms"


if __name__ == "__main__":
    sys.exit(main())
