"""Evaluation of /ask on the shared archive: `python -m tests.eval_ask [--db FILE] [--thresholds]`.

Every question of tests/ask_eval.jsonl is put to `bot.ask.answer_question` with today fixed
at 2026-11-22 (so "last year" is 2025). A line of the set holds the question, its kind, the
paths of the events that answer it ("answers"; empty when the archive cannot answer it) and
notes on what it covers.

Measures, printed as Markdown:

- accuracy on the answerable questions: an answer is given and the best event is one of the
  listed ones;
- recall@5: one of the listed events is among the first five events returned (answer or not);
- not-found rate on the unanswerable questions: no answer is given;
- the same per question kind, then every failure (question, expected, what came back).

With --thresholds, each question is asked once with `bot.ask.CONFIDENCE_THRESHOLD` at 0, and
for thresholds 0.00, 0.05, ... 1.00 it prints the accuracy (answerable, right, confidence at
or above the threshold) and the not-found rate (unanswerable, confidence below it), to choose
the threshold from.

By default it uses the benchmark's cached index (<cache>/bench.sqlite3, see
tests/bench_search.py), building it from the shared archive when it is missing. It is an
evaluation, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import bot.ask
from store import Store
from store.ingest import index_archive
from tests.bench_search import CACHE
from tests.conftest import unpack_shared_archive

EVAL_SET = Path(__file__).with_name("ask_eval.jsonl")  # the first 77 questions, written while /ask was built
NEW_SET = Path(__file__).with_name("ask_set.jsonl")  # drawn at random before tuning (tests/build_ask_set.py)
TODAY = dt.date(2026, 11, 22)
KINDS = ("when", "where", "who", "what", "how_many")
TOP = 5
STEPS = 20  # thresholds 0.00, 0.05, ... 1.00


@dataclass(frozen=True)
class Case:
    question: str
    answers: frozenset[str]
    kind: str
    notes: str
    date: dt.date | None = None  # the expected answer's date
    half: str = ""  # dev or test (the new set)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Outcome:
    case: Case
    answer: str | None
    paths: list[str]  # the events returned, best first
    confidence: float
    date: dt.date | None = None
    seconds: float = 0.0

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def top_right(self) -> bool:
        return bool(self.paths) and self.paths[0] in self.case.answers

    @property
    def correct(self) -> bool:
        """Answerable, answered, and from one of the right events (for "when", any event giving the right date)."""
        right_date = self.case.kind == "when" and self.case.date is not None and self.date == self.case.date
        return self.answered and (self.top_right or right_date)

    @property
    def recalled(self) -> bool:
        return bool(self.case.answers & set(self.paths[:TOP]))

    @property
    def ok(self) -> bool:
        return self.correct if self.case.answerable else not self.answered


def load_cases(path: Path = EVAL_SET) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["kind"] not in KINDS:
                raise ValueError(f"{path.name}:{number}: unknown kind {row['kind']!r}")
            date = dt.date.fromisoformat(row["date"]) if row.get("date") else None
            notes = row.get("notes") or row.get("source", "")
            cases.append(
                Case(row["question"], frozenset(row["answers"]), row["kind"], notes, date, row.get("half", ""))
            )
    return cases


def default_db() -> Path:
    """The benchmark's index of the shared archive, built (about 30 s) if it is not there yet."""
    archive_dir, db = CACHE / "current-events", CACHE / "bench.sqlite3"
    if not db.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        unpack_shared_archive(archive_dir)
        print(f"Building {db} from {archive_dir}...", file=sys.stderr)
        index_archive(db, archive_dir)
    return db


async def ask_all(store: Store, cases: Iterable[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        start = time.perf_counter()
        result = await bot.ask.answer_question(store, case.question, today=TODAY)
        seconds = time.perf_counter() - start
        paths = [event.path for event in result.events]
        outcomes.append(Outcome(case, result.answer, paths, float(result.confidence), result.date, seconds))
    return outcomes


async def run(db: Path, cases: list[Case], threshold: float | None) -> list[Outcome]:
    """Every question once; with `threshold`, bot.ask's threshold is set to it for the run."""
    async with await Store.open(db) as store:
        expected = {path for case in cases for path in case.answers}
        for path in sorted(expected - await store.existing(expected)):
            print(f"warning: expected event not in the store: {path}", file=sys.stderr)
        saved = bot.ask.CONFIDENCE_THRESHOLD
        if threshold is not None:
            bot.ask.CONFIDENCE_THRESHOLD = threshold
        try:
            return await ask_all(store, cases)
        finally:
            bot.ask.CONFIDENCE_THRESHOLD = saved


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "-"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in [header]]
    lines.append("| " + " | ".join("-" * width for width in widths) + " |")
    lines += ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def report(outcomes: list[Outcome], title: str = "Ask evaluation", failures: bool = True) -> str:
    def line(name: str, group: list[Outcome]) -> list[str]:
        answerable = [o for o in group if o.case.answerable]
        unanswerable = [o for o in group if not o.case.answerable]
        return [
            name,
            share(sum(o.correct for o in answerable), len(answerable)),
            share(sum(o.recalled for o in answerable), len(answerable)),
            share(sum(not o.answered for o in unanswerable), len(unanswerable)),
        ]

    rows = [line(kind, [o for o in outcomes if o.case.kind == kind]) for kind in KINDS]
    rows.append(line("**all**", outcomes))
    header = ["Kind", "Accuracy (answerable)", f"Recall@{TOP}", "Not found (unanswerable)"]
    parts = [
        f"{title}: {len(outcomes)} questions, today = {TODAY}, CONFIDENCE_THRESHOLD = {bot.ask.CONFIDENCE_THRESHOLD}",
        "",
        table(header, rows),
        "",
    ]
    if not failures:
        parts.append(f"({sum(not o.ok for o in outcomes)} failures, not shown: this set is measured, never tuned on)")
        return "\n".join(parts)
    failures = [o for o in outcomes if not o.ok]
    parts.append(f"Failures ({len(failures)}):")
    parts.append("")
    for o in failures:
        expected = ", ".join(sorted(o.case.answers)) or "not found"
        if o.answered:
            got = o.paths[0] if o.paths else "an answer without events"
        else:
            got = "not found" + (f" (closest: {o.paths[0]})" if o.paths else "")
        recall = "; in the top 5" if o.case.answerable and o.recalled else ""
        parts += [
            f"- [{o.case.kind}] {o.case.question}",
            f"  - expected: {expected}",
            f"  - got: {got} (confidence {o.confidence:.2f}{recall})",
        ]
    return "\n".join(parts)


def sweep(outcomes: list[Outcome]) -> str:
    """Accuracy and not-found rate by threshold, from answers collected with the threshold at 0.

    An outcome with no answer even at 0 (no event found, nothing to search for) stays
    unanswered at every threshold.
    """
    answerable = [o for o in outcomes if o.case.answerable]
    unanswerable = [o for o in outcomes if not o.case.answerable]
    current = bot.ask.CONFIDENCE_THRESHOLD
    rows = []
    for step in range(STEPS + 1):
        threshold = round(step / STEPS, 2)
        right = sum(o.answered and o.top_right and o.confidence >= threshold for o in answerable)
        refused = sum(not o.answered or o.confidence < threshold for o in unanswerable)
        accuracy = right / len(answerable) if answerable else 0.0
        not_found = refused / len(unanswerable) if unanswerable else 0.0
        mark = " (current)" if abs(threshold - current) < 1e-9 else ""
        rows.append(
            [
                f"{threshold:.2f}{mark}",
                share(right, len(answerable)),
                share(refused, len(unanswerable)),
                f"{(accuracy + not_found) / 2:.1%}",
            ]
        )
    header = ["Threshold", "Accuracy (answerable)", "Not found (unanswerable)", "Mean of the two"]
    intro = (
        f"Threshold sweep: {len(answerable)} answerable and {len(unanswerable)} unanswerable questions, "
        f"today = {TODAY}, current CONFIDENCE_THRESHOLD = {current}"
    )
    return intro + "\n\n" + table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.eval_ask", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file of an indexed archive (default: the benchmark's cached index)")
    parser.add_argument("--set", dest="eval_set", help="only these questions (JSON Lines), failures shown")
    parser.add_argument(
        "--only",
        choices=["dev", "test", "old"],
        help="one set only: the development half (failures shown), the test half (figures only), the first 77",
    )
    parser.add_argument(
        "--thresholds", action="store_true", help="sweep the not-found threshold from 0 to 1 instead of the report"
    )
    args = parser.parse_args(argv)
    if args.db and not Path(args.db).is_file():
        print(f"no such database: {args.db}", file=sys.stderr)
        return 2
    db = Path(args.db) if args.db else default_db()
    if args.eval_set:
        sets = {"Ask evaluation": (load_cases(Path(args.eval_set)), True)}
    else:
        new = load_cases(NEW_SET)
        sets = {
            "Development half (tuned on)": ([c for c in new if c.half == "dev"], True),
            "Test half (measured once, never tuned on)": ([c for c in new if c.half == "test"], False),
            "The first 77 questions": (load_cases(EVAL_SET), False),
        }
        if args.only:
            sets = {name: value for name, value in sets.items() if name.lower().startswith(SET_NAMES[args.only])}
    cases = [case for group, _ in sets.values() for case in group]
    print(f"Store {db}, {len(cases)} questions", file=sys.stderr)
    start = time.perf_counter()
    outcomes = asyncio.run(run(db, cases, 0.0 if args.thresholds else None))
    print(f"Asked in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if args.thresholds:
        print(sweep(outcomes))
        return 0
    at = 0
    for name, (group, show_failures) in sets.items():
        print(report(outcomes[at : at + len(group)], name, show_failures) + "\n")
        at += len(group)
    times = sorted(o.seconds * 1000 for o in outcomes)
    print(
        f"/ask time over {len(times)} questions: median {statistics.median(times):.1f} ms, "
        f"p95 {times[int(len(times) * 0.95)]:.1f} ms"
    )
    return 0


SET_NAMES = {"dev": "development", "test": "test", "old": "the first"}


if __name__ == "__main__":
    sys.exit(main())
