"""Search benchmark, side by side with tantivy: `python -m tests.bench_search` (`make bench`).

Our engine and tantivy (the Rust engine, through its Python binding: the `eval` extra, never
used by the bot) over the shared archive of 112,655 events, in one run on the same machine, so
that the ratios hold even where the absolute times are noisy. tantivy indexes the same
documents: each event's headline and topics as our tokenizer cuts them (one field, split on
spaces, so both engines see the same tokens), and the file's Markdown, stored, for the payload.

- Search core: per query, our default ranking (every relevance feature: fields, word forms,
  spellings, dates), our plain BM25Okapi, tantivy's plain BM25 query (an OR of term queries)
  and tantivy with fuzzy terms (each word also within Elasticsearch's AUTO distance), run one
  after the other in a shuffled order, over several passes; per query the median of the
  passes, then the median and p95 over the queries. Ours returns event ids, scores and days;
  tantivy scores and doc addresses (no stored field read). Ours is timed twice: as it runs,
  keeping the words it read lately (repeated passes find them there), and with that cache
  emptied before each query (every word read anew, as in a query nobody asked lately).
- Batch end to end: `python -m bot search - --json` answering the queries a line each on its
  stdin (one process, timed after its first answer), against tantivy in this process returning
  each hit's Markdown as a JSON line; passes alternate.
- Cold start to the first answer: a new process `python -m bot search "<query>"` against a new
  process that opens tantivy's saved index and prints the top hits' Markdown; the project's
  bytecode caches written first, as an installed package has them.
- Full build from the Markdown files: `python -m bot index` into a new store against a new
  process indexing the same files into tantivy (scanning, reading, parsing with corpus/ and
  tokenizing included).
- Memory: the growth of a new process's resident set from before the index is opened to after
  1,000 queries (ours with the default ranking, tantivy's plain).
- Agreement: the share of queries whose top 10 (plain) equal rank-bm25's BM25Okapi.

The archive is unpacked once into $NEWSBOT_CACHE (default ~/.cache/newsbot); our store
(bench.sqlite3, brought up to date by an ordinary index run) and tantivy's index
(bench-tantivy/) are kept there; only the build measurement builds anew, into folders it
deletes. It prints one Markdown table with the conditions. It is a benchmark, not a test:
nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from store.ingest import index_archive
from store.tokens import query_tokens
from tests.conftest import unpack_shared_archive
from tests.queries import HAND_WRITTEN, load_index, query_set, store_reference

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NEWSBOT_CACHE") or Path.home() / ".cache" / "newsbot")
MEMORY_QUERIES = 1000
LIMIT = 10

# tantivy's side, run in new processes (the build, a cold start, memory) and in this one.
TANTIVY = r"""
import json, os, sys, time


def schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", tokenizer_name="whitespace", index_option="freq")  # our tokens
    builder.add_bytes_field("markdown", stored=True)
    return builder.build()


def build(folder, archive):
    import tantivy
    from corpus import ParseError, parse_bytes
    from corpus.archive import scan_archive
    from store.search import document_tokens

    began = time.perf_counter()
    os.makedirs(folder)
    index = tantivy.Index(schema(), folder)
    writer = index.writer()
    indexing = 0.0  # of which tantivy's own work: adding the documents, committing
    for file in scan_archive(archive).files:
        with open(file.file, "rb") as handle:
            data = handle.read()
        try:
            event = parse_bytes(data, file.path)
        except ParseError:
            continue
        text = " ".join(document_tokens(event.headline, event.topics))
        start = time.perf_counter()
        writer.add_document(tantivy.Document(text=text, markdown=data))
        indexing += time.perf_counter() - start
    start = time.perf_counter()
    writer.commit()
    writer.wait_merging_threads()
    indexing += time.perf_counter() - start
    return {"seconds": time.perf_counter() - began, "indexing": indexing}


def query(searcher_schema, tokens, fuzzy=False):
    import tantivy

    clauses = []
    for token in tokens:
        clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(searcher_schema, "text", token)))
        distance = 0 if len(token) <= 2 else 1 if len(token) <= 5 else 2  # Elasticsearch's AUTO
        if fuzzy and distance:
            near = tantivy.Query.fuzzy_term_query(searcher_schema, "text", token, distance, True)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(near, 0.5)))
    return tantivy.Query.boolean_query(clauses)


def payload(searcher, hits):
    return json.dumps([searcher.doc(address)["markdown"][0].decode() for _, address in hits], ensure_ascii=False)


def open_searcher(folder):
    import tantivy

    index = tantivy.Index.open(folder)
    return index.searcher(), index.schema
"""

COLD_TANTIVY = """
import sys
exec(sys.argv[1])
searcher, schema = open_searcher(sys.argv[2])
print(payload(searcher, searcher.search(query(schema, json.loads(sys.argv[3])), 10).hits))
"""

BUILD_TANTIVY = """
import sys
exec(sys.argv[1])
print(json.dumps(build(sys.argv[2], sys.argv[3])))
"""

# Read by both memory runs: the resident set in KiB.
RSS = """
def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
"""

MEMORY_OURS = (
    RSS
    + """
import json, sys
from tests.queries import load_index
queries = json.load(sys.stdin)
before = rss_kib()
index = load_index(sys.argv[1])
for number in range(QUERIES):
    index.search(" ".join(queries[number % len(queries)]), 10)
print(rss_kib() - before)
"""
)

MEMORY_TANTIVY = (
    RSS
    + """
import json, sys
exec(sys.argv[1])
import tantivy
queries = json.load(sys.stdin)
before = rss_kib()
searcher, schema = open_searcher(sys.argv[2])
for number in range(QUERIES):
    searcher.search(query(schema, queries[number % len(queries)]), 10)
print(rss_kib() - before)
"""
)

tantivy_side: dict = {}
exec(TANTIVY, tantivy_side)


def python(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """A new interpreter in the checkout, as `python -m bot` runs there."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, input=stdin, check=True, capture_output=True, text=True)


def write_bytecode() -> None:
    """The project's bytecode caches written, as an installed package has them: a new process
    then reads them rather than compiling every module (as it would each time in a shell that
    sets PYTHONDONTWRITEBYTECODE, which the processes started here inherit)."""
    python("-m", "compileall", "-q", "corpus", "store", "bot")


def timed(run: Callable[..., object], *args: object) -> float:
    """Seconds `run(*args)` took."""
    start = time.perf_counter()
    run(*args)
    return time.perf_counter() - start


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    import tantivy

    version = tantivy.__version__.split(",")[0].removeprefix("tantivy ")
    return (
        f"{os.cpu_count()} cores{f' ({model})' if model else ''}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, tantivy {version}"
    )


def load_average() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "?"


# The measurements


def search_core(index, forgetful, tantivy_index: Path, queries: list[list[str]], passes: int) -> dict[str, list[float]]:
    """Per engine, per query, the median ms over `passes`, the engines in a shuffled order each time.
    `forgetful` is a second copy of our index whose word cache is emptied before each query (its
    own, so that emptying it leaves `index`'s cache as its own queries left it)."""
    searcher, schema = tantivy_side["open_searcher"](str(tantivy_index))
    query, texts = tantivy_side["query"], [" ".join(tokens) for tokens in queries]
    engines: dict[str, Callable[[int], object]] = {
        "default": lambda n: index.search(texts[n], LIMIT),
        "default, words anew": lambda n: forgetful.search(texts[n], LIMIT),
        "plain": lambda n: index.search(queries[n], LIMIT, plain=True),
        "tantivy": lambda n: searcher.search(query(schema, queries[n]), LIMIT),
        "tantivy fuzzy": lambda n: searcher.search(query(schema, queries[n], fuzzy=True), LIMIT),
    }
    names = list(engines)
    samples = {name: [[] for _ in queries] for name in names}
    rng = random.Random(18)
    for number in range(len(queries)):  # a first pass untimed: caches, lazy tables
        for name in names:
            engines[name](number)
    for _ in range(passes):
        for number in range(len(queries)):
            rng.shuffle(names)
            for name in names:
                if name == "default, words anew":
                    forgetful.forget_words()  # as a query whose words no query read lately
                samples[name][number].append(timed(engines[name], number) * 1000)
    return {name: [statistics.median(times) for times in per_query] for name, per_query in samples.items()}


def batch(db: Path, tantivy_index: Path, queries: list[list[str]], passes: int) -> dict[str, float]:
    """ms per query and bytes per answer: our CLI answering lines on stdin, tantivy's Markdown payload."""
    searcher, schema = tantivy_side["open_searcher"](str(tantivy_index))
    query, payload = tantivy_side["query"], tantivy_side["payload"]
    lines = [" ".join(tokens) for tokens in queries]
    cli = subprocess.Popen(
        [sys.executable, "-m", "bot", "search", "-", "--json", "--db", str(db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert cli.stdin and cli.stdout
    ours, theirs, our_bytes, their_bytes = [], [], 0, 0
    try:
        cli.stdin.write(lines[0] + "\n")  # started, index loaded: timing starts after this answer
        cli.stdin.flush()
        cli.stdout.readline()
        for _ in range(passes):
            start = time.perf_counter()
            cli.stdin.write("".join(line + "\n" for line in lines))
            cli.stdin.flush()
            our_bytes = sum(len(cli.stdout.readline().encode()) for _ in lines)
            ours.append((time.perf_counter() - start) * 1000 / len(lines))
            sink = io.StringIO()
            start = time.perf_counter()
            their_bytes = 0
            for tokens in queries:
                text = payload(searcher, searcher.search(query(schema, tokens), LIMIT).hits) + "\n"
                their_bytes += len(text.encode())
                sink.write(text)
            theirs.append((time.perf_counter() - start) * 1000 / len(lines))
    finally:
        cli.stdin.close()
        cli.wait(timeout=60)
    return {
        "ours": statistics.median(ours),
        "tantivy": statistics.median(theirs),
        "our_bytes": our_bytes / len(lines),
        "their_bytes": their_bytes / len(lines),
    }


def cold_start(db: Path, tantivy_index: Path, repeats: int) -> dict[str, float]:
    """Seconds from starting a new process to its first answer printed, alternating engines."""
    ours, theirs = [], []
    python("-m", "bot", "search", HAND_WRITTEN[0], "--db", str(db))  # untimed: files in the page cache
    for number in range(repeats):
        text = HAND_WRITTEN[number % len(HAND_WRITTEN)]
        ours.append(timed(python, "-m", "bot", "search", text, "--db", str(db)))
        theirs.append(timed(python, "-c", COLD_TANTIVY, TANTIVY, str(tantivy_index), json.dumps(query_tokens(text))))
    return {"ours": statistics.median(ours), "tantivy": statistics.median(theirs)}


def full_build(archive: Path, repeats: int) -> dict[str, float]:
    """Seconds for a new process to index every file: ours into a new store, tantivy into a new folder."""
    ours, theirs, indexing = [], [], []
    work = Path(tempfile.mkdtemp(prefix="bench-build-", dir=CACHE))
    try:
        for number in range(repeats):
            db, folder = work / f"store-{number}.sqlite3", work / f"tantivy-{number}"
            ours.append(timed(python, "-m", "bot", "index", "--archive", str(archive), "--db", str(db)))
            start = time.perf_counter()
            inside = json.loads(python("-c", BUILD_TANTIVY, TANTIVY, str(folder), str(archive)).stdout)
            theirs.append(time.perf_counter() - start)
            indexing.append(inside["indexing"])
            shutil.rmtree(folder)
            for suffix in ("", "-wal", "-shm", ".index-lock"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "ours": statistics.median(ours),
        "tantivy": statistics.median(theirs),
        "indexing": statistics.median(indexing),
    }


def memory(db: Path, tantivy_index: Path, queries: list[list[str]]) -> dict[str, float]:
    """MiB of resident-set growth in a new process: opening the index, then MEMORY_QUERIES queries."""
    stdin = json.dumps(queries)
    ours = python("-c", MEMORY_OURS.replace("QUERIES", str(MEMORY_QUERIES)), str(db), stdin=stdin).stdout
    script = MEMORY_TANTIVY.replace("QUERIES", str(MEMORY_QUERIES))
    theirs = python("-c", script, TANTIVY, str(tantivy_index), stdin=stdin).stdout
    return {"ours": int(ours) / 1024, "tantivy": int(theirs) / 1024}


# The table


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=5, help="passes over the queries (search core, batch)")
    parser.add_argument("--starts", type=int, default=7, help="cold starts of each engine")
    parser.add_argument("--builds", type=int, default=3, help="full builds of each engine (about 30 s a pair)")
    args = parser.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    archive, db, tantivy_index = CACHE / "current-events", CACHE / "bench.sqlite3", CACHE / "bench-tantivy"
    unpack_shared_archive(archive)
    write_bytecode()
    began, load_before = time.perf_counter(), load_average()
    print(f"Archive {archive}; our store {db} (brought up to date)...", file=sys.stderr)
    report = index_archive(db, archive)
    if not (tantivy_index / "meta.json").exists():
        print("Building tantivy's index (kept in the cache)...", file=sys.stderr)
        shutil.rmtree(tantivy_index, ignore_errors=True)
        python("-c", BUILD_TANTIVY, TANTIVY, str(tantivy_index), str(archive))

    print("Agreement with rank-bm25...", file=sys.stderr)
    reference, events = store_reference(db)
    queries = query_set(headline for _, headline in events.values())
    index = load_index(db)
    agree = sum(1 for tokens in queries if not reference.problems(index, tokens))
    del reference

    print(f"Search core, {args.passes} passes...", file=sys.stderr)
    core = search_core(index, load_index(db), tantivy_index, queries, args.passes)
    print("Batch end to end...", file=sys.stderr)
    batched = batch(db, tantivy_index, queries, args.passes)
    print("Cold starts...", file=sys.stderr)
    starts = cold_start(db, tantivy_index, args.starts)
    print("Memory...", file=sys.stderr)
    resident = memory(db, tantivy_index, queries)
    print("Full builds...", file=sys.stderr)
    builds = full_build(archive, args.builds)

    def row(figure: str, ours: float, theirs: float, goal: str, digits: int = 2) -> tuple[str, ...]:
        return (figure, f"{ours:.{digits}f}", f"{theirs:.{digits}f}", f"{ours / theirs:.1f}x", goal)

    median, p95 = (lambda times: percentile(times, 0.5)), (lambda times: percentile(times, 0.95))
    default, plain, fuzzy, tantivy = core["default"], core["plain"], core["tantivy fuzzy"], core["tantivy"]
    anew = core["default, words anew"]
    kib = f"~{batched['our_bytes'] / 1024:.1f} KiB a query, tantivy's Markdown ~{batched['their_bytes'] / 1024:.1f}"
    rows = [
        row(
            "Search, our default ranking (all features), median ms",
            median(default),
            median(tantivy),
            "≤ 1x",
        ),
        row("Search, our default ranking, p95 ms", p95(default), p95(tantivy), "≤ 1x"),
        row(
            "Search, our default ranking, every word read anew (no word cache), median ms",
            median(anew),
            median(tantivy),
            "≤ 1x",
        ),
        row("Search, our default ranking, every word read anew, p95 ms", p95(anew), p95(tantivy), "≤ 1x"),
        row("Search, our plain BM25, median ms", median(plain), median(tantivy), "≤ 1x"),
        row("Search, our plain BM25, p95 ms", p95(plain), p95(tantivy), "≤ 1x"),
        row(
            "Search, default ranking; tantivy fuzzy terms, median ms",
            median(default),
            median(fuzzy),
            "-",
        ),
        row("Search, default ranking; tantivy fuzzy terms, p95 ms", p95(default), p95(fuzzy), "-"),
        row(f"Batch end to end, `search - --json` ({kib}), ms a query", batched["ours"], batched["tantivy"], "≤ 1.5x"),
        row("Cold start to the first answer (new process), s", starts["ours"], starts["tantivy"], "≤ 10x", 3),
        row(
            f"Full build from the Markdown files ({report.events:,} events), s",
            builds["ours"],
            builds["tantivy"],
            "≤ 2x",
            1,
        ),
        row(
            f"Memory: resident growth, index open + {MEMORY_QUERIES:,} queries, MiB",
            resident["ours"],
            resident["tantivy"],
            "≤ 80 MiB",
            0,
        ),
        ("Top 10 equal to rank-bm25's BM25Okapi (plain), queries", f"{agree}/{len(queries)}", "-", "-", "all"),
    ]
    seconds = time.perf_counter() - began
    print(
        f"{machine()}; load average {load_before} before, {load_average()} after; "
        f"{len(queries)} queries (tests/queries.py), top {LIMIT}, {args.passes} passes interleaved, "
        f"{args.starts} cold starts, {args.builds} build(s) of each; "
        f"{dt.date.today():%Y-%m-%d}, {seconds:.0f} s in all."
    )
    print()
    print("| figure | ours | tantivy | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"tantivy's build reads and parses the files with corpus/ and tokenizes as ours does; of its "
        f"{builds['tantivy']:.1f} s, {builds['indexing']:.1f} s are tantivy's own (adding documents, committing)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
