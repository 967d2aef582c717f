"""Chart drawing benchmark on the shared archive (112,655 events): `python -m tests.bench_trend`
(`make bench-trend`).

With the archive indexed once in the cache folder ($NEWSBOT_CACHE, default ~/.cache/newsbot),
it answers a few /trend requests of each kind (per year over the whole archive, per month over
ten years, per day over two months, one to six lines, and a topic's small chart) and measures,
in this process, the two parts of an answer: counting (the handler: searches and counts per
period, on the event loop) and drawing (bot.charts.draw: matplotlib to PNG bytes, which the bot
runs in its worker process). The goal is at most 300 ms to draw a chart.

It prints a Markdown table. It is a benchmark, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bot import charts, handlers
from bot.answers import EventList, TrendAnswer
from store.store import Store
from tests.bench_store import full_store

RUNS = 7
REQUESTS = [
    ("ukraine", None, None),
    ("ukraine, syria, iraq", None, None),
    ("ukraine, syria, iraq, afghanistan, libya, yemen", None, None),
    ("ukraine, russia", "2011", "2020"),
    ("earthquake, hurricane, flood", "2011", "2020"),
    ("ukraine", "2022-02-01", "2022-03-31"),
]
TOPIC = "Syrian Civil War"


def timed(job: object, runs: int = RUNS) -> list[float]:
    """Milliseconds of each run of a callable."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        job()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


async def main() -> None:
    _, db = full_store()
    charts.draw(
        handlers.topic_chart("warm-up", [("2016-01", 1), ("2016-03", 2)])
    )  # fonts loaded once, as the worker does
    rows = []
    async with await Store.open(db) as store:
        answers: list[tuple[str, TrendAnswer, list[float]]] = []
        for words, since, until in REQUESTS:
            counting = []
            for _ in range(RUNS):
                started = time.perf_counter()
                answer = await handlers.trend(store, words, since, until)
                counting.append((time.perf_counter() - started) * 1000)
            assert isinstance(answer, TrendAnswer), answer
            span = f" {since}..{until}" if since else ""
            answers.append((f"/trend {words}{span}", answer, counting))
        topic = await handlers.topic_timeline(store, TOPIC)
        assert isinstance(topic, EventList) and topic.chart is not None
        answers.append((f"/topic {TOPIC} (small chart)", topic.chart, []))
    everything = []
    for label, answer, counting in answers:
        drawing = timed(lambda answer=answer: charts.draw(answer))
        everything += drawing
        count = f"{statistics.median(counting):.1f}" if counting else "-"
        points = f"{len(answer.series)} x {len(answer.starts)} {answer.step}s"
        rows.append(f"| {label} | {points} | {count} | {statistics.median(drawing):.0f} | {max(drawing):.0f} |")
    print(f"{RUNS} runs each, in one process:\n")
    print("| request | lines x points | counting ms (median) | drawing ms (median) | drawing ms (max) |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nevery chart: median {statistics.median(everything):.0f} ms, max {max(everything):.0f} ms (goal: 300 ms)")


if __name__ == "__main__":
    asyncio.run(main())
