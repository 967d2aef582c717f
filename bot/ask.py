"""/ask: plain questions answered from the archive, without a language model.

A question is read into its kind (when, where, who, how many, what), its date constraints
("in April 2016", "between 2014 and 2016", "last year", ...) and the words that matter.
Those words are searched (with spelling variants and other word forms) inside the dates,
and the best event answers in one sentence, if it matches enough of the question: the
idf-weighted share of the question's words it contains must reach CONFIDENCE_THRESHOLD,
a value chosen on the evaluation set (`python -m tests.eval_ask --thresholds`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from bot.answers import AskAnswer
from bot.topics import topic_names
from corpus import DateError, Event, human_date, parse_date
from corpus.dates import MONTH, MONTHS
from store import Store
from store.search import stem
from store.tokens import QUERY_STOPWORDS, tokenize

CONFIDENCE_THRESHOLD = 0.75
EVIDENCE = 5
CANDIDATES = 20  # best-scored events among which the best-covering one answers

QUESTION_WORDS = (
    frozenset(
        "what when where who whom whose which why how many much did do does happen happened happening "
        "take took place occur occurred there was were is are been being anything something news event events "
        "about tell me any year date day time".split()
    )
    | QUERY_STOPWORDS
)

# Questions use plain verbs where headlines use others: "who won" is answered by "beats",
# "is awarded"; "when did X die" by "the death of X". Keys and values are word stems.
QUESTION_SYNONYMS = {
    "won": ["win", "beat", "defeat", "award", "victori", "champion"],
    "win": ["won", "beat", "defeat", "award", "victori", "champion"],
    "die": ["death", "dead", "kill"],
    "kill": ["die", "death", "dead"],
    "elect": ["win", "won", "vote"],
    "expel": ["expuls", "persona", "leav"],
    "start": ["begin", "launch"],
    "end": ["lift", "conclud", "over"],
}

KINDS = [
    ("how_many", re.compile(r"^\s*how\s+(many|much)\b", re.I)),
    ("when", re.compile(r"^\s*(when|what\s+(day|date|year))\b", re.I)),
    ("where", re.compile(r"^\s*where\b", re.I)),
    ("who", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
]

ORDINAL = r"(?:st|nd|rd|th)?"
DAY = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}{ORDINAL}\s+{MONTH},?\s+\d{{4}}"
    rf"|{MONTH}\s+\d{{1,2}}{ORDINAL},?\s+\d{{4}})"
)
YEAR = r"((?:19|20)\d{2})"
ON_DAY = re.compile(rf"\b(?:on\s+)?(?:the\s+)?({DAY})", re.I)
BETWEEN = re.compile(rf"\b(?:between|from)\s+{YEAR}\s+(?:and|to|until)\s+{YEAR}\b", re.I)
IN_MONTH = re.compile(rf"\b(?:in|during)\s+{MONTH}\s+{YEAR}\b", re.I)
IN_YEAR = re.compile(rf"\b(?:in|during)\s+(?:the\s+year\s+)?{YEAR}\b", re.I)
BEFORE = re.compile(rf"\b(?:before|prior\s+to|until)\s+{YEAR}\b", re.I)
AFTER = re.compile(rf"\b(?:after)\s+{YEAR}\b", re.I)
SINCE = re.compile(rf"\b(?:since)\s+{YEAR}\b", re.I)
NAMED_YEAR = re.compile(r"(?:19|20)\d{2}")
RELATIVE = re.compile(r"\b(last|this|past)\s+(year|month)\b", re.I)


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # when, where, who, how_many, what
    words: list[str]
    since: dt.date | None = None
    until: dt.date | None = None
    day: dt.date | None = None  # "on 3 April 2016"


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def read_question(text: str, today: dt.date) -> Question:
    """Split a question into its kind, its date constraints and the words to search for."""
    kind = next((name for name, pattern in KINDS if pattern.search(text)), "what")
    rest, since, until, day = text, None, None, None

    def cut(match: re.Match[str]) -> None:
        nonlocal rest
        rest = rest[: match.start()] + " " + rest[match.end() :]

    if match := ON_DAY.search(rest):
        try:
            day = parse_date(match.group(1).replace(",", ", ").replace(" ,", ","))
            since = until = day
            cut(match)
        except DateError:
            pass
    if day is None and (match := BETWEEN.search(rest)):
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        since, until = dt.date(low, 1, 1), dt.date(high, 12, 31)
        cut(match)
    elif day is None and (match := IN_MONTH.search(rest)):
        since, until = _month_range(int(match.group(2)), MONTHS[match.group(1).lower().rstrip(".")])
        cut(match)
    elif day is None and (match := IN_YEAR.search(rest)):
        since, until = dt.date(int(match.group(1)), 1, 1), dt.date(int(match.group(1)), 12, 31)
        cut(match)
    elif day is None and (match := RELATIVE.search(rest)):
        which, unit = match.group(1).lower(), match.group(2).lower()
        if unit == "year":
            year = today.year - (1 if which == "last" else 0)
            since, until = dt.date(year, 1, 1), dt.date(year, 12, 31)
            if which == "past":
                since, until = today - dt.timedelta(days=365), today
        else:
            first = today.replace(day=1)
            if which == "last":
                first = (first - dt.timedelta(days=1)).replace(day=1)
            since, until = _month_range(first.year, first.month)
            if which == "past":
                since, until = today - dt.timedelta(days=31), today
        cut(match)
    if day is None:
        if match := BEFORE.search(rest):
            until = dt.date(int(match.group(1)) - 1, 12, 31)
            cut(match)
        if match := AFTER.search(rest):
            since = dt.date(int(match.group(1)) + 1, 1, 1)
            cut(match)
        elif match := SINCE.search(rest):
            since = dt.date(int(match.group(1)), 1, 1)
            cut(match)
    words = [word for word in tokenize(rest) if word not in QUESTION_WORDS]
    named_years = [int(word) for word in words if NAMED_YEAR.fullmatch(word)]
    if named_years and since is None and until is None:
        # "the 2016 ICC World Twenty20": what it names happened about then.
        since, until = dt.date(min(named_years) - 1, 1, 1), dt.date(max(named_years) + 1, 12, 31)
    return Question(text.strip(), kind, words, since, until, day)


def sentence(question: Question, event: Event) -> str:
    """One sentence from the best event, the date first for "when" questions."""
    headline = " ".join(event.headline.split())
    if not headline.endswith((".", "!", "?")):
        headline += "."
    day = human_date(event.date)
    if question.kind == "when":
        return f"On {day}: {headline}"
    return f"{headline} ({day})"


def rarest_word(store: Store, words: list[str]) -> str:
    """The word of a phrase in the fewest events: the one that tells the phrase apart."""
    known = [w for w in words if w in store.index.terms]
    return min(known, key=lambda w: store.index.df[store.index.terms[w]]) if known else words[-1]


async def answer_question(store: Store, text: str, today: dt.date | None = None) -> AskAnswer:
    question = read_question(text, today or dt.date.today())
    if not question.words:
        if question.day:
            evidence = await store.events_on(question.day)
            if evidence:
                first = next(iter(evidence.values()))
                return AskAnswer(question.text, sentence(question, first), first.date, evidence, 1.0)
        return AskAnswer(question.text, None, None, {}, 0.0, hint="Ask about someone, somewhere or something.")
    also = {word: QUESTION_SYNONYMS[stem(word)] for word in question.words if stem(word) in QUESTION_SYNONYMS}
    acronyms = (await topic_names(store)).acronyms
    for word in question.words:
        if word in acronyms:  # "isil": also the telling word of "Islamic State of Iraq and the Levant"
            also[word] = [*also.get(word, []), rarest_word(store, acronyms[word])]
    found = await store.search(question.words, CANDIDATES, question.since, question.until, inflect=True, also=also)
    if not found:
        return AskAnswer(question.text, None, None, {}, 0.0)
    # BM25 can prefer an event that repeats two rare words over one that has every word of
    # the question: among the best candidates, the one that covers most of it comes first.
    coverage = {f.event_id: store.index.coverage(question.words, f.event_id, True, also) for f in found}
    ranked = sorted(found, key=lambda f: (-round(coverage[f.event_id], 2), -f.score))
    evidence = {f.event_id: f.event for f in ranked[:EVIDENCE]}
    best, confidence = ranked[0].event, coverage[ranked[0].event_id]
    if confidence < CONFIDENCE_THRESHOLD:
        return AskAnswer(question.text, None, None, evidence, confidence)
    return AskAnswer(question.text, sentence(question, best), best.date, evidence, confidence)
