"""How the store and the bot behave at 1x and 10x the shared archive: `python -m tests.bench_scale`.

    python -m tests.bench_scale [--workdir var/bench-scale] [--scales 1,10] [--restarts 3] [--fresh] [--keep]
                                [--no-postgres]

Needs about 4 GB of disk in the work folder while it runs (the 10x store is about 3.3 GB;
the scaled stores are deleted afterwards unless --keep) and under 3 GB of memory.

1. The shared archive (112,655 events) is unpacked and indexed from its files, once; both are
   kept in the work folder for the next run.
2. Each scale k is a store built from that index: k copies of every event, copy j re-dated
   by 400*j years (the Gregorian calendar repeats every 400 years, so 29 February stays a
   real day) in its path, its date and its Related links, then the search index rebuilt
   (`store.ingest.rebuild_search_index`, the step every index run that changed something
   ends with).
3. Each store is then opened by a fresh process that imports the bot's client (discord.py)
   and opens the store as `python -m bot run` does, `--restarts` times: process start to
   ready is the restart time. The last one runs the deterministic query set of
   tests/queries.py (hand-written plus generated queries, as tokens; once to warm up, then
   three timed passes, each query's time the median of its three) through `Store.search`
   (index and event rows), and the hand-written ones as /ask questions.

4. At 1x, the same with PostgreSQL (a server started in a temporary folder, as the tests do):
   the shared archive indexed from its files, restarts and searches; then, on both databases, an
   index run that changes one headline while a second process watches for it as the bot does,
   timed from the run's return to that process serving the new index.

The copies repeat the same words, so the vocabulary does not grow with the archive as it
would with new events; posting lists, rows and bytes do. Building steps run in their own
processes, so each reports its own peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
YEARS_PER_COPY = 400
TIMED_PASSES = 3
COUNTED_TABLES = ("events", "sources", "related", "topics", "search_docs", "search_terms")


def memory_mb() -> tuple[float, float]:
    """(resident now, peak resident) of this process, in MB."""
    try:
        status = Path("/proc/self/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


# Steps, each run in a process of its own (`--step NAME ARGS...`), printing one JSON object.


def step_index(archive: str, db: str) -> dict[str, Any]:
    from store.ingest import index_archive

    started = time.perf_counter()
    report = index_archive(db, archive)
    return {"seconds": time.perf_counter() - started, "events": report.events, "peak_mb": memory_mb()[1]}


def shift_year(column: str, at: int) -> str:
    """SQL for `column` with the 4-digit year at (1-based) position `at` moved by :shift years."""
    return (
        f"substr({column}, 1, {at - 1}) || printf('%04d', CAST(substr({column}, {at}, 4) AS INTEGER) + :shift)"
        f" || substr({column}, {at + 4})"
    )


def step_scale(source: str, db: str, copies: str) -> dict[str, Any]:
    from store.db import connect_sync, transaction
    from store.ingest import rebuild_search_index

    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    conn = connect_sync(db)
    conn.execute("ATTACH DATABASE ? AS src", (source,))
    started = time.perf_counter()
    with transaction(conn):
        span = conn.execute("SELECT max(id) FROM src.events").fetchone()[0]
        linked = "CASE WHEN path GLOB 'news/[0-9][0-9][0-9][0-9]/*' THEN {} ELSE path END".format(shift_year("path", 6))
        for copy in range(int(copies)):
            values = {"offset": copy * span, "shift": copy * YEARS_PER_COPY}
            conn.execute(
                "INSERT INTO events (id, path, date, headline, mtime_ns, size, sha256) "
                f"SELECT id + :offset, {shift_year('path', 6)}, {shift_year('date', 1)}, headline, mtime_ns, size,"
                " sha256 FROM src.events ORDER BY id",
                values,
            )
            conn.execute(
                "INSERT INTO sources (event_id, position, name, url) "
                "SELECT event_id + :offset, position, name, url FROM src.sources",
                values,
            )
            conn.execute(
                "INSERT INTO related (event_id, position, path, headline, contexts) "
                f"SELECT event_id + :offset, position, {linked}, headline, contexts FROM src.related",
                values,
            )
            conn.execute(
                "INSERT INTO topics (event_id, topic) SELECT event_id + :offset, topic FROM src.topics", values
            )
        copied = time.perf_counter()
        rebuild_search_index(conn)
        rebuilt = time.perf_counter()
    conn.execute("DETACH DATABASE src")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {
        "copy_seconds": copied - started,
        "rebuild_seconds": rebuilt - copied,
        "peak_mb": memory_mb()[1],
    }


def step_serve(db: str, queries_file: str, measure: str) -> dict[str, Any]:
    """Start as the bot does (import the client, open the store); then, if asked, answer queries."""
    started = time.perf_counter()
    import bot.discord.client  # noqa: F401  (discord.py and the cogs: what `python -m bot run` imports)
    from bot.handlers import ask
    from store import Store

    imported = time.perf_counter()

    async def serve() -> dict[str, Any]:
        store = await Store.open(db)
        opened = time.perf_counter()
        result: dict[str, Any] = {
            "ready_at": time.time(),
            "import_seconds": imported - started,
            "open_seconds": opened - imported,
            "rss_ready_mb": memory_mb()[0],
        }
        if measure == "yes":
            queries = json.loads(Path(queries_file).read_text())
            first = time.perf_counter()
            await store.search(queries["tokens"][0], limit=10)
            result["first_query_ms"] = (time.perf_counter() - first) * 1000
            for tokens in queries["tokens"]:  # warm-up
                await store.search(tokens, limit=10)
            passes: list[list[float]] = []
            for _ in range(TIMED_PASSES):  # each query's time is its median over the passes
                passes.append([])
                for tokens in queries["tokens"]:
                    begun = time.perf_counter()
                    await store.search(tokens, limit=10)
                    passes[-1].append((time.perf_counter() - begun) * 1000)
            timings = [statistics.median(times) for times in zip(*passes)]
            asked = []
            for question in queries["questions"]:
                begun = time.perf_counter()
                await ask(store, question)
                asked.append((time.perf_counter() - begun) * 1000)
            result |= {
                "queries": len(timings),
                "search_median_ms": statistics.median(timings),
                "search_p95_ms": percentile(timings, 95),
                "search_max_ms": max(timings),
                "ask_median_ms": statistics.median(asked),
                "ask_p95_ms": percentile(asked, 95),
                "rss_after_queries_mb": memory_mb()[0],
            }
        result["peak_mb"] = memory_mb()[1]
        await store.close()
        return result

    return asyncio.run(serve())


def step_pickup(db: str) -> dict[str, Any]:
    """A second process: open the store, say "ready", then watch for a new index generation as the
    bot's NewsBot.watch_index does (PostgreSQL: its NOTIFY; SQLite: a look every INDEX_CHECK_EVERY s)."""
    from bot.discord.client import INDEX_CHECK_EVERY
    from store import Store

    async def watch() -> dict[str, Any]:
        store = await Store.open(db)
        print("ready", flush=True)
        before = store.generation
        while store.generation == before:
            try:
                await asyncio.wait_for(store.backend.index_changed.wait(), INDEX_CHECK_EVERY)
            except TimeoutError:
                pass
            await store.refresh(force=True)
        result = {"reloaded_at": time.time(), "generation": store.generation}
        await store.close()
        return result

    return asyncio.run(watch())


STEPS = {"index": step_index, "scale": step_scale, "serve": step_serve, "pickup": step_pickup}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def run_step(name: str, *args: str | Path) -> dict[str, Any]:
    spawned = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench_scale", "--step", name, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"step {name} failed:\n{result.stdout}\n{result.stderr}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    answer["spawned_at"] = spawned
    return answer


# The benchmark


def store_size(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        rows = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED_TABLES}
        rows["postings"] = conn.execute("SELECT sum(length(docs)) / 4 FROM search_terms").fetchone()[0]
        first, last = conn.execute("SELECT min(date), max(date) FROM events").fetchone()
    finally:
        conn.close()
    return {"rows": rows, "mb": db.stat().st_size / 1e6, "first": first, "last": last}


def query_file(db: Path, target: Path) -> Path:
    from tests.queries import HAND_WRITTEN, query_set

    conn = sqlite3.connect(db)
    headlines = [row[0] for row in conn.execute("SELECT headline FROM events")]
    conn.close()
    questions = [f"what happened with {text}?" for text in HAND_WRITTEN]
    target.write_text(json.dumps({"tokens": query_set(headlines), "questions": questions}))
    return target


def measure_pickup(db: str | Path, archive: Path) -> dict[str, Any]:
    """An index run that changes one headline while a second process watches: seconds from the
    run's return to that process serving the new generation (its reload included)."""
    from store.ingest import index_archive
    from tests.conftest import SEED_2016

    watcher = subprocess.Popen(
        [sys.executable, "-m", "tests.bench_scale", "--step", "pickup", str(db)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None
    if watcher.stdout.readline().strip() != "ready":
        sys.exit("the watching process did not start")
    seed = archive / SEED_2016
    original = seed.read_text(encoding="utf-8")
    seed.write_text(original.replace("retakes", "takes back"), encoding="utf-8")
    try:
        report = index_archive(db, archive)
        returned = time.time()
    finally:
        seed.write_text(original, encoding="utf-8")
    answer = json.loads(watcher.stdout.read().strip().splitlines()[-1])
    watcher.wait()
    index_archive(db, archive)  # the headline as it was
    return {"run_seconds": report.seconds, "pickup_seconds": answer["reloaded_at"] - returned}


def postgres_size(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    return {"events": events, "mb": size / 1e6}


def postgres_benchmark(workdir: Path, restarts: int, sqlite_base: Path) -> dict[str, Any]:
    """At 1x: the shared archive indexed from its files into PostgreSQL (a server this starts and
    stops), restarts, searches, and a second process's pickup; SQLite's pickup beside it."""
    from tests.conftest import unpack_shared_archive
    from tests.postgres_server import PostgresServer

    archive = unpack_shared_archive(workdir / "current-events")
    queries = workdir / "queries.json"
    with PostgresServer() as server:
        url = server.new_database()
        log("PostgreSQL: indexing the shared archive from its files")
        indexed = run_step("index", archive, url)
        log(f"PostgreSQL: starting it {restarts} times")
        starts = [run_step("serve", url, queries, "yes" if n == restarts - 1 else "no") for n in range(restarts)]
        for start in starts:
            start["restart_seconds"] = start["ready_at"] - start["spawned_at"]
        log("PostgreSQL: a second process picking up a new index")
        pickup = measure_pickup(url, archive)
        size = postgres_size(url)
    log("SQLite: a second process picking up a new index")
    sqlite_pickup = measure_pickup(sqlite_base, archive)
    return {"indexed": indexed, "starts": starts, "served": starts[-1], "pickup": pickup, "size": size,
            "sqlite_pickup": sqlite_pickup}  # fmt: skip


def postgres_table(sqlite: dict[str, Any], postgres: dict[str, Any]) -> str:
    def restart(result: dict[str, Any], key: str) -> float:
        return statistics.median(start[key] for start in result["starts"])

    rows = [
        ("index from files (s)", sqlite.get("indexed", {}).get("seconds"), postgres["indexed"]["seconds"], "{:.0f}"),
        ("database (MB)", sqlite["size"]["mb"], postgres["size"]["mb"], "{:,.0f}"),
        ("restart: process start to ready, median (s)", restart(sqlite, "restart_seconds"),
         restart(postgres, "restart_seconds"), "{:.2f}"),
        ("  of which Store.open (s)", restart(sqlite, "open_seconds"), restart(postgres, "open_seconds"), "{:.2f}"),
        ("search, median (ms)", sqlite["served"]["search_median_ms"], postgres["served"]["search_median_ms"], "{:.2f}"),
        ("search, p95 (ms)", sqlite["served"]["search_p95_ms"], postgres["served"]["search_p95_ms"], "{:.2f}"),
        ("/ask, median (ms)", sqlite["served"]["ask_median_ms"], postgres["served"]["ask_median_ms"], "{:.1f}"),
        ("index run changing one event (s)", postgres["sqlite_pickup"]["run_seconds"],
         postgres["pickup"]["run_seconds"], "{:.1f}"),
        ("a second process serves the new index after (s)", postgres["sqlite_pickup"]["pickup_seconds"],
         postgres["pickup"]["pickup_seconds"], "{:.2f}"),
    ]  # fmt: skip
    lines = ["| 1x | SQLite | PostgreSQL |", "|---|---:|---:|"]
    for label, left, right, fmt in rows:
        lines.append(f"| {label} | {fmt.format(left) if left is not None else '-'} | {fmt.format(right)} |")
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def benchmark(workdir: Path, scales: list[int], restarts: int, fresh: bool, keep: bool) -> dict[int, dict[str, Any]]:
    from tests.conftest import SHARED_EVENTS, unpack_shared_archive

    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log(f"unpacking the shared archive into {workdir} (once)")
    archive = unpack_shared_archive(workdir / "current-events")
    base = workdir / "from-files.sqlite3"
    indexed: dict[str, Any] | None = None
    if fresh or not base.exists() or store_size(base)["rows"]["events"] != SHARED_EVENTS:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{base}{suffix}").unlink(missing_ok=True)
        log("indexing the shared archive from its files")
        indexed = run_step("index", archive, base)
    queries = query_file(base, workdir / "queries.json")
    results: dict[int, dict[str, Any]] = {}
    for scale in scales:
        db = workdir / f"x{scale}.sqlite3"
        log(f"{scale}x: building the store ({time.perf_counter() - started:.0f} s so far)")
        built = run_step("scale", base, db, str(scale))
        size = store_size(db)
        log(f"{scale}x: {size['rows']['events']:,} events, {size['mb']:.0f} MB; starting it {restarts} times")
        starts = [run_step("serve", db, queries, "yes" if n == restarts - 1 else "no") for n in range(restarts)]
        for start in starts:
            start["restart_seconds"] = start["ready_at"] - start["spawned_at"]
        results[scale] = {"built": built, "size": size, "starts": starts, "served": starts[-1]}
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        if scale == 1 and indexed:
            results[scale]["indexed"] = indexed
    log(f"done in {time.perf_counter() - started:.0f} s")
    return results


def table(results: dict[int, dict[str, Any]]) -> str:
    scales = sorted(results)

    def row(label: str, pick: Any, fmt: str = "{:,.0f}") -> str:
        cells = []
        for scale in scales:
            try:
                value = pick(results[scale])
                cells.append(fmt.format(value) if value is not None else "-")
            except (KeyError, TypeError):
                cells.append("-")
        return f"| {label} | " + " | ".join(cells) + " |"

    def median(key: str) -> Any:
        return lambda r: statistics.median(s[key] for s in r["starts"])

    lines = [
        "| | " + " | ".join(f"{scale}x" for scale in scales) + " |",
        "|---|" + "---:|" * len(scales),
        row("events", lambda r: r["size"]["rows"]["events"]),
        row("years covered", lambda r: f"{r['size']['first'][:4]}-{r['size']['last'][:4]}", "{}"),
        row(
            "sources / related / topics rows",
            lambda r: "{sources:,} / {related:,} / {topics:,}".format(**r["size"]["rows"]),
            "{}",
        ),
        row("search terms / postings", lambda r: "{search_terms:,} / {postings:,}".format(**r["size"]["rows"]), "{}"),
        row("database file (MB)", lambda r: r["size"]["mb"]),
        row(
            "index from files (s; peak RSS MB)", lambda r: "{seconds:.0f}; {peak_mb:,.0f}".format(**r["indexed"]), "{}"
        ),
        row("build: copy rows (s)", lambda r: r["built"]["copy_seconds"], "{:.1f}"),
        row("build: rebuild search index (s)", lambda r: r["built"]["rebuild_seconds"], "{:.1f}"),
        row("build: peak RSS (MB)", lambda r: r["built"]["peak_mb"]),
        row("restart: process start to ready, median (s)", median("restart_seconds"), "{:.2f}"),
        row("  of which Store.open (s)", median("open_seconds"), "{:.2f}"),
        row("RSS when ready (MB)", median("rss_ready_mb")),
        row("RSS after the queries (MB)", lambda r: r["served"]["rss_after_queries_mb"]),
        row("peak RSS serving (MB)", lambda r: r["served"]["peak_mb"]),
        row("first search after start (ms)", lambda r: r["served"]["first_query_ms"], "{:.1f}"),
        row("search, median (ms)", lambda r: r["served"]["search_median_ms"], "{:.2f}"),
        row("search, p95 (ms)", lambda r: r["served"]["search_p95_ms"], "{:.2f}"),
        row("search, slowest (ms)", lambda r: r["served"]["search_max_ms"], "{:.1f}"),
        row(
            "/ask, median / p95 (ms)",
            lambda r: "{:.1f} / {:.1f}".format(r["served"]["ask_median_ms"], r["served"]["ask_p95_ms"]),
            "{}",
        ),
    ]
    queries = results[scales[0]]["served"].get("queries")
    lines.append("")
    lines.append(
        f"Search: {queries} queries from tests/queries.py through Store.search (limit 10), warm, "
        f"each the median of {TIMED_PASSES} runs. /ask: the hand-written queries as 'what happened with ...?'."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench-scale")
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of the shared archive")
    parser.add_argument("--restarts", type=int, default=3, help="process starts per scale (the last one is timed)")
    parser.add_argument("--fresh", action="store_true", help="index the shared archive from its files again")
    parser.add_argument("--keep", action="store_true", help="keep the scaled stores (10x: about 3.5 GB)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (no PostgreSQL figures at 1x)")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        name, *step_args = args.step
        print(json.dumps(STEPS[name](*step_args)))
        return 0
    results = benchmark(
        args.workdir, [int(s) for s in args.scales.split(",")], max(1, args.restarts), args.fresh, args.keep
    )
    postgres = None
    if not args.no_postgres and 1 in results:
        postgres = postgres_benchmark(args.workdir, max(1, args.restarts), args.workdir / "from-files.sqlite3")
    if args.json:
        args.json.write_text(json.dumps({"sqlite": results, "postgres": postgres}, indent=2))
    print(table(results))
    if postgres:
        print()
        print(postgres_table(results[1], postgres))
    return 0


if __name__ == "__main__":
    sys.exit(main())
