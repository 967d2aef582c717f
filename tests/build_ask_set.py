"""How tests/ask_set.jsonl was made: `python -m tests.build_ask_set [--db FILE]` (run once, before /ask was tuned).

Answerable questions: events drawn at random (seed SEED) from the shared archive; for each, the
headline's first sentence is cut to its main clause, its main verb found (an active "X retakes
Y" or a passive "X is killed"), and one question written from it by a template of the kind
drawn at random (when, who, where, how many, what), in the forms people type: with or without
a capital and a question mark, a date in one of many forms where the kind allows one, and
about one question in eight with a misspelt name. An event whose headline gives no clause
these rules can read (no main verb found, a quotation, a clause over 22 words) is skipped and
the next one drawn: the rule is mechanical and was fixed before any question was asked.
The expected answer is the drawn event (path and date), and the same subject's other events of
that day. All the written questions were then read, before any was asked, and the garbled ones
(UNREADABLE) left out.

Unanswerable questions are written by hand below, of the kinds /ask got wrong: famous events
before the archive starts (2002-07) that it mentions later, other senses of the same words
and events that did not happen, events after it ends (2026-03), out-of-scope questions and
nonsense. Each was checked against the archive's headlines when it was written.

Every question then goes to the development or the test half at random (seed SEED).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
from pathlib import Path

SEED = 20261202
ANSWERABLE = 305
OUT = Path(__file__).with_name("ask_set.jsonl")
MONTH_NAMES = "January February March April May June July August September October November December".split()

IRREGULAR_PAST = dict(
    pair.split(":")
    for pair in (
        "win:won beat:beat say:said make:made take:took give:gave hold:held lead:led meet:met send:sent "
        "become:became begin:began hit:hit strike:struck fall:fell find:found lose:lost sell:sold buy:bought "
        "bring:brought leave:left run:ran shoot:shot swear:swore tell:told rise:rose go:went come:came see:saw "
        "spend:spent build:built break:broke catch:caught keep:kept flee:fled write:wrote steal:stole "
        "withdraw:withdrew shut:shut cut:cut quit:quit uphold:upheld overthrow:overthrew draw:drew throw:threw "
        "grow:grew speak:spoke choose:chose stand:stood seek:sought fight:fought feel:felt sink:sank "
        "spread:spread let:let sweep:swept fly:flew put:put set:set have:had do:did get:got pay:paid "
        "sink:sank wake:woke bear:bore freeze:froze lay:laid sit:sat win:won undergo:underwent "
        "overtake:overtook oversee:oversaw forbid:forbade shake:shook ride:rode drive:drove eat:ate "
        "know:knew show:showed slide:slid light:lit read:read upset:upset bid:bid hang:hanged"
    ).split()
)
IRREGULAR_BASE = {"is": "be", "has": "have", "does": "do", "goes": "go"}
UNCOUNTED = set("hours days years weeks months minutes seconds million billion percent cases times".split())
NOT_VERBS = set(
    "its his this has is was us news series species politics economics analysis crisis basis thesis "
    "yes less unless across gas bus status campus virus census chaos various famous previous serious "
    "numerous dangerous enormous tennis athletics olympics games forces troops officials rebels militants "
    "police people members leaders protesters states nations islands affairs arms talks elections "
    "results others years months days hours weeks times jobs plans rights charges claims reports "
    "workers soldiers civilians students children women men residents citizens lawmakers ministers "
    "authorities demonstrators supporters fighters refugees migrants passengers patients cases deaths "
    "services sales prices rates costs funds taxes sanctions relations operations negotiations "
    "ties strikes attacks bombs clashes protests riots floods fires storms rains winds waters "
    "as thus perhaps whereas always towards afterwards besides sometimes".split()
)
PASSIVE = re.compile(
    r"\b(is|are|was|were|has been|have been)\s+((?:\w+ly\s+)?)(\w+(?:ed|en|wn|ung|ught|ld|lt|ot|ut|t))\b"
)
NUMBER_WORDS = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds dozens dozen "
    "thousands"
).split()
NUMBER = (
    r"(?:(?:at least|more than|over|about|around|nearly|almost|some|up to)\s+)?"
    rf"(?:(?!(?:19|20)\d\d\b)\d[\d,.]*|(?:{'|'.join(NUMBER_WORDS)})(?:-\w+)?)"
)
COUNTED = re.compile(
    rf"\b{NUMBER}\s+((?:[a-z-]+\s+)?(?:[a-z]+s|people|children|police|men|women|personnel|troops))\b", re.I
)
PLACE = re.compile(
    r",?\s+\b(?:in|near|at|outside|off)\s+((?:the\s+)?[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*(?:,\s+[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)*)"
)
CUTS = re.compile(
    r"[;:]|, (?!D\.C\.|Inc\.)"
    r"| (?:after|following|amid|despite|because|while|which|who|whose|saying|citing|as part of)\b"
)


class Usage:
    """How the archive's headlines use words: a word ending in -s mostly after "the" is a noun, not a verb;
    a first word mostly written in lower case inside headlines is not a name."""

    def __init__(self, headlines: list[str]) -> None:
        self.after_determiner: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.lower: dict[str, int] = {}
        self.upper: dict[str, int] = {}
        for headline in headlines:
            words = headline.split()
            for index, word in enumerate(words[1:], 1):
                bare = word.strip(",.;:()")
                key = bare.lower()
                (self.lower if bare == key else self.upper)[key] = (self.lower if bare == key else self.upper).get(
                    key, 0
                ) + 1
                self.total[key] = self.total.get(key, 0) + 1
                if words[index - 1].lower() in DETERMINERS or re.fullmatch(r"[\d,.]+", words[index - 1]):
                    self.after_determiner[key] = self.after_determiner.get(key, 0) + 1

    def noun(self, word: str) -> bool:
        key = word.lower()
        return self.after_determiner.get(key, 0) > 0.15 * self.total.get(key, 1)

    def common(self, word: str) -> bool:
        key = word.lower()
        return self.lower.get(key, 0) > self.upper.get(key, 0)


DANGLING = set("that the a an of to and or in on at for with by from as 's".split())
PREPOSITIONS = set("in on at from after of to with as during for into over off up down out near".split())
DETERMINERS = set(
    "the a an of its their his her our two three four five six seven eight nine ten many several other".split()
)
USAGE: Usage | None = None


def main_clause(headline: str) -> str | None:
    headline = re.sub(r"\s*\([^)]*\)", "", headline)
    sentence = re.split(r"(?<=[a-z0-9)\]])\.\s+(?=[A-Z])", headline.strip())[0].rstrip(". ")
    if '"' in sentence or "“" in sentence or sentence.lower().startswith(("in ", "during ", "as ", "amid ")):
        # "In golf, X wins ...": drop the lead-in if it is a short phrase before a comma
        lead = re.match(r"^(?:In|During)\s[^,]{1,40},\s+", sentence)
        if lead and '"' not in sentence and "“" not in sentence:
            sentence = sentence[lead.end() :]
        else:
            return None
    match = CUTS.search(sentence, 20)
    clause = sentence[: match.start()] if match else sentence
    words = clause.split()
    return clause if 4 <= len(words) <= 22 else None


def base_form(verb: str) -> str:
    if verb in IRREGULAR_BASE:
        return IRREGULAR_BASE[verb]
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if re.search(r"(sh|ch|ss|x|zz|o)es$", verb):
        return verb[:-2]
    return verb[:-1]


def past(base: str) -> str:
    if base in IRREGULAR_PAST:
        return IRREGULAR_PAST[base]
    if base.endswith("e"):
        return base + "d"
    if re.search(r"[^aeiou]y$", base):
        return base[:-1] + "ied"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", base):
        return base + base[-1] + "ed"
    return base + "ed"


def find_verb(clause: str) -> tuple[str, str, str, str] | None:
    """(subject, form, verb, rest): form "active" (verb in its base form) or "passive" (the participle)."""
    passive = PASSIVE.search(clause)
    words = clause.split()
    for index, word in enumerate(words[1:], 1):
        bare = word.strip(",.")
        if passive and clause.find(" " + word + " ") > passive.start() - 1 >= 0:
            break
        if bare != bare.lower() or not bare.isalpha() or bare in NOT_VERBS or not bare.endswith("s"):
            continue
        previous = words[index - 1].lower()
        if previous in {"the", "a", "an", "of", "in", "on", "for", "to", "and", "with", "its", "their", "his", "her"}:
            continue
        if bare.endswith(("ss", "us", "is")) or (USAGE and USAGE.noun(bare)) or re.fullmatch(r"[\d,.]+", previous):
            continue
        if bare == "is":
            return None
        return " ".join(words[:index]), "active", base_form(bare), " ".join(words[index + 1 :])
    if passive:
        subject = clause[: passive.start()].strip()
        rest = clause[passive.end() :].strip()
        if subject and len(subject.split()) <= 12:
            plural = passive.group(1) in {"are", "were", "have been"}
            return subject, "passive-plural" if plural else "passive", passive.group(3), rest
    return None


def lower_first(text: str) -> str:
    """The subject inside a question: "The Syrian army" -> "the Syrian army"; names keep their capitals."""
    first, _, rest = text.partition(" ")
    if first in {"The", "A", "An"} or (USAGE and USAGE.common(first)):
        return first.lower() + (" " + rest if rest else "")
    return text


def date_phrase(rng: random.Random, date: str, allow_day: bool) -> str:
    year, month, day = (int(part) for part in date.split("-"))
    name = MONTH_NAMES[month - 1]
    forms = [f"in {year}", f"in {name} {year}", f"in {name[:3]} {year}", f"back in {year}", f"in {name.lower()} {year}"]
    if allow_day:
        suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day, "th")
        forms += [
            f"on {day} {name} {year}",
            f"on {name} {day}, {year}",
            f"on {name} {day}{suffix} {year}",
            f"on {year}-{month:02d}-{day:02d}",
            f"on the {day}{suffix} of {name} {year}",
        ]
    return rng.choice(forms)


def misspell(rng: random.Random, text: str) -> str:
    names = [w for w in re.findall(r"\b[A-Z][a-z]{5,}\b", text) if w not in MONTH_NAMES]
    if not names:
        return text
    word = rng.choice(names)
    at = rng.randrange(1, len(word) - 2)
    wrong = word[:at] + word[at + 1] + word[at] + word[at + 2 :] if rng.random() < 0.5 else word[:at] + word[at + 1 :]
    return text.replace(word, wrong, 1)


def write_question(rng: random.Random, headline: str, date: str) -> tuple[str, str] | None:
    clause = main_clause(headline)
    if not clause:
        return None
    found = find_verb(clause)
    if not found or re.search(r"\b(?:is|are)\s+\w+ing\b", clause):
        return None
    subject, form, verb, rest = found
    if len(verb) < 3 or re.search(r"\b(?:is|are|was|were)\b|\w+(?<!s)s\s+(?:to|that)\b", rest.split(",")[0][:40]):
        return None  # a second finite verb: the clause was cut in the wrong place
    if rest and rest.split()[-1].lower() in DANGLING:
        return None
    subj = lower_first(subject)
    if not re.search(r"\b[A-Z]", lower_first(clause)):  # nothing named: "a construction worker dies"
        return None
    named = bool(re.search(r"\b[A-Z]", subj))  # the subject names someone or something
    kinds = ["when"] * 7
    if named and len(rest.split()) >= 3:
        kinds += ["who"] * 4 + ["what"] * 4
    place = PLACE.search(rest)
    if place:
        kinds += ["where"] * 5
    counted = COUNTED.search(clause)
    if counted and (
        counted.group(1).split()[-1] in UNCOUNTED
        or counted.group(1).split()[0] in UNCOUNTED
        or len(clause[counted.end() :].split()) < 3
        or counted.group(1).startswith("of ")
    ):
        counted = None
    if counted:
        kinds += ["how_many"] * 6
    kind = rng.choice(kinds)
    be = "were" if form == "passive-plural" else "was"
    if kind == "how_many":
        noun = counted.group(1)
        if counted.start() < len(subject):  # "Five soldiers are killed ..." / "Thirty students ... are kidnapped"
            after = clause[counted.end() :].strip()
            after = re.sub(r"^(?:are|were|is|was|have been|has been)\s+", "were ", after) if form != "active" else after
            if form == "active":
                after = re.sub(rf"^{verb}\w*", past(verb), after)
            question = f"how many {noun} {after}"
        else:
            before = clause[len(subject) :].strip()
            tail = clause[counted.end() :].strip()
            if form == "active":
                question = f"how many {noun} did {subj} {verb} {tail}"
            else:
                question = f"how many {noun} {be} {verb} {tail}"
            del before
        return _finish(rng, question, date, allow_date=True), kind
    if kind == "where" and place:
        rest_without = (rest[: place.start()] + rest[place.end() :]).strip()
        if form == "active":
            question = f"where did {subj} {verb} {rest_without}"
        else:
            question = f"where {be} {subj} {verb} {rest_without}"
        return _finish(rng, question, date, allow_date=rng.random() < 0.3), kind
    if kind == "who":
        question = f"who {past(verb)} {rest}" if form == "active" else f"who {be} {verb} {rest}"
        return _finish(rng, question, date, allow_date=rng.random() < 0.5), kind
    if kind == "what":
        if form == "active" and rest and rest.split()[0] not in PREPOSITIONS:
            question = f"what did {subj} {verb} {date_phrase(rng, date, True)}"
            return _finish(rng, question, date, allow_date=False), kind
        question = rng.choice([f"what happened to {subj}", f"what happened with {subj}"])
        return _finish(rng, question + " " + date_phrase(rng, date, True), date, allow_date=False), kind
    if form == "active":
        question = rng.choice([f"when did {subj} {verb} {rest}", f"what year did {subj} {verb} {rest}"])
    else:
        question = rng.choice([f"when {be} {subj} {verb} {rest}", f"what date {be} {subj} {verb} {rest}"])
    return _finish(rng, question, date, allow_date=False), "when"


def _finish(rng: random.Random, question: str, date: str, allow_date: bool) -> str:
    question = " ".join(question.split()).rstrip(",. ")
    if allow_date:
        question += " " + date_phrase(rng, date, allow_day=not question.startswith("when"))
    if rng.random() < 0.12:
        question = misspell(rng, question)
    if rng.random() < 0.6:
        question = question[0].upper() + question[1:]
    if rng.random() < 0.8:
        question += "?"
    return question


# Written questions judged unreadable by a person reading them all before any was asked (garbled by a
# wrong cut, a noun read as the verb): their place in the draw. They are left out of the set.
UNREADABLE = {11, 32, 54, 56, 61, 70, 83, 101, 102, 107, 114, 121, 128, 135, 136, 137, 155, 157, 162, 166, 173, 177}
UNREADABLE |= {182, 186, 189, 194, 202, 205, 227, 241, 250, 251, 252, 256, 257, 260, 273, 280, 282, 283, 285, 292}
UNREADABLE |= {293, 303}

# Unanswerable: (question, why). Before the archive (2002-07), after it (2026-03), other senses, nonsense.
UNANSWERABLE = [
    # famous events before the archive starts, which it mentions later (anniversaries, inquiries, funerals)
    *[
        (q, "before the archive")
        for q in (
            "When was Martin Luther King assassinated?",
            "when was JFK shot",
            "When did the Berlin Wall fall?",
            "When did the Chernobyl disaster happen?",
            "when was hiroshima bombed?",
            "When did the Titanic sink?",
            "When did Apollo 11 land on the Moon?",
            "When did the Rwandan genocide begin?",
            "When did the Srebrenica massacre happen?",
            "When were the Tiananmen Square protests crushed?",
            "When did Princess Diana die?",
            "When was the Lockerbie bombing?",
            "When was Mahatma Gandhi assassinated?",
            "When did the Bhopal gas disaster happen?",
            "When did the Challenger space shuttle explode?",
            "When was the Oklahoma City bombing?",
            "When did the September 11 attacks happen?",
            "Who hijacked the planes on 9/11?",
            "When was Yitzhak Rabin assassinated?",
            "When was Nelson Mandela released from prison?",
            "When did the Soviet Union collapse?",
            "When did the Gulf War start?",
            "When did the Falklands War begin?",
            "When did Japan attack Pearl Harbor?",
            "When were the D-Day landings?",
            "When was John Lennon shot?",
            "When did Elvis Presley die?",
            "When was the Good Friday Agreement signed?",
            "When was Hong Kong handed back to China?",
            "When did the Columbine shooting happen?",
            "When did the Kursk submarine sink?",
            "When did the Concorde crash near Paris happen?",
            "When did the Soviets launch Sputnik?",
            "When was Bloody Sunday in Derry?",
            "When did the Hillsborough disaster happen?",
            "When was the Munich Olympics massacre?",
            "When did the Armenian genocide begin?",
            "When was Nagasaki bombed?",
            "When did the Korean War start?",
            "When was the Cuban Missile Crisis?",
            "When did Richard Nixon resign?",
            "When did the Iranian revolution happen?",
            "When was Indira Gandhi assassinated?",
            "When was Olof Palme murdered?",
            "When was Anwar Sadat killed?",
            "When was Ronald Reagan shot?",
            "When did Marilyn Monroe die?",
            "When did Bob Marley die?",
            "When was Che Guevara executed?",
            "When did Nelson Mandela become president of South Africa?",
            "when did the euro become a currency in 1999",
            "Who won the 1966 World Cup?",
            "Who won the 1998 FIFA World Cup?",
            "When did the Exxon Valdez oil spill happen?",
            "When was the Dayton Agreement signed?",
            "When did Germany reunify?",
            "Who killed Archduke Franz Ferdinand?",
            "When did the Spanish flu pandemic start?",
            "When did World War II end?",
            "When did the Vietnam War end?",
            "when was malcolm x assassinated",
            "When did the Lockerbie plane crash in Scotland?",
            "how many people died in the 1995 Kobe earthquake",
            "When did Kurt Cobain die?",
            "when did the Sri Lankan civil war start",
        )
    ],
    # after the archive ends (its last event is from March 2026)
    *[
        (q, "after the archive")
        for q in (
            "Who won the 2026 FIFA World Cup?",
            "who won the 2026 world cup final",
            "Who won the 2028 US presidential election?",
            "When do the 2028 Summer Olympics open in Los Angeles?",
            "Who won Eurovision 2026?",
            "Who won the 2026 Wimbledon men's singles?",
            "What happened in the 2026 US midterm elections?",
            "What happened in Paris in October 2026?",
            "Who won the Nobel Peace Prize in 2026?",
            "who won the 2027 Super Bowl",
            "What happened in Kyiv in August 2026?",
            "What happened on 4 July 2026?",
            "Who won the 2027 Cricket World Cup?",
            "When did the 2030 World Cup start?",
            "Who won the Tour de France in 2026?",
            "What happened in Gaza in September 2026?",
            "Who won the 2026 Brazilian presidential election?",
            "who won the nba finals in june 2026",
            "Who won the 2026 Ballon d'Or?",
            "What happened in London in December 2026?",
            "Who won the 2029 Australian federal election?",
            "When did the 2026 Commonwealth Games in Glasgow open?",
            "Who won the Champions League final in May 2026?",
            "What happened in Japan in November 2026?",
            "Who became UN Secretary-General in 2027?",
        )
    ],
    # other senses of the same words, and events that did not happen
    *[
        (q, "did not happen")
        for q in (
            "When did the Syrian army land on the Moon?",
            "When did Canada invade Mexico?",
            "When was Angela Merkel assassinated?",
            "When did Elon Musk become President of the United States?",
            "When did Switzerland join NATO?",
            "Who won the 2018 World Cup final against Germany?",
            "When did the Pope resign in 2020?",
            "When did Queen Elizabeth II abdicate?",
            "When did Australia leave the Commonwealth?",
            "When did Norway join the European Union?",
            "When did Iceland win the FIFA World Cup?",
            "When did Japan invade Australia?",
            "When was the Eiffel Tower destroyed?",
            "When did NASA land astronauts on Mars?",
            "When did Texas secede from the United States?",
            "When did Barack Obama win a third term?",
            "When was Vladimir Putin arrested in The Hague?",
            "When did China and India merge?",
            "When did Greenland become a US state?",
            "When was Tom Hanks elected Prime Minister?",
            "When did Scotland vote to become independent?",
            "When did the UK adopt the euro?",
            "When did Brazil win the 2014 World Cup?",
            "When did the Pope visit Mars?",
            "Who won the 2020 Summer Olympics marathon on the Moon?",
            "When did Beyonce release a report on inflation?",
            "When did the IMF release a new album?",
            "When did Greenpeace launch a rocket into orbit?",
            "When did Taylor Swift launch a satellite?",
            "When was the Dalai Lama released from prison?",
            "When did Adele die?",
            "When did Keanu Reeves die?",
            "When did Mount Everest erupt?",
            "When did the Amazon river freeze over?",
            "How many people died when London sank?",
            "When did Germany leave the European Union?",
            "When was the Sahara flooded by the Atlantic?",
            "When did the Vatican declare war on Italy?",
            "Who assassinated Bill Gates?",
            "When did Lionel Messi win the Tour de France?",
        )
    ],
    # out of scope and nonsense
    *[
        (q, "out of scope")
        for q in (
            "What is the meaning of life?",
            "how do I bake bread",
            "What is 2 + 2?",
            "asdf qwerty zxcv",
            "who are you?",
            "What's the weather tomorrow?",
            "How tall is Mount Everest?",
            "Can you recommend a good movie?",
            "Tell me a joke",
            "How do you say hello in Spanish?",
            "What is the square root of 144?",
            "Why is the sky blue?",
            "How do I reset my password?",
            "what time is it",
            "Is a tomato a fruit?",
            "How many legs does a spider have?",
            "What should I eat for dinner?",
            "lorem ipsum dolor sit amet",
            "When is my dentist appointment?",
            "What is the best programming language?",
            "how many days are in a leap year",
            "Who is the best footballer of all time?",
            "What is the speed of light?",
            "How do magnets work?",
            "Where did I leave my keys?",
            "blorf when zanth kreeble?",
            "Why do cats purr?",
            "What is love?",
            "How old is the universe?",
            "What is the chemical formula of water?",
            "When will I get married?",
            "Who invented the wheel?",
            "What does DNA stand for?",
            "How far is the Moon from the Earth?",
            "xyzzy plugh?",
            "What rhymes with orange?",
            "Where is the nearest pizza place?",
            "what's your favourite colour",
            "How many calories are in an apple?",
            "Who wrote Hamlet?",
        )
    ],
]


def build(db: Path) -> list[dict]:
    rng = random.Random(SEED)
    connection = sqlite3.connect(db)
    global USAGE
    events = connection.execute("SELECT path, date, headline FROM events ORDER BY path").fetchall()
    USAGE = Usage([headline for _, _, headline in events])
    by_date: dict[str, list[tuple[str, str, str]]] = {}
    for event in events:
        by_date.setdefault(event[1], []).append(event)
    order = list(range(len(events)))
    rng.shuffle(order)
    rows, seen = [], set()
    for number in order:
        if len(rows) >= ANSWERABLE:
            break
        path, date, headline = events[number]
        written = write_question(rng, headline, date)
        if not written or written[0].lower() in seen:
            continue
        question, kind = written
        seen.add(question.lower())
        # the same subject's other events that day answer it as well ("Moderna says ..." twice on one day)
        opening = " ".join(headline.split()[:3])
        same_day = [p for p, d, h in by_date.get(date, []) if p != path and h.startswith(opening)]
        rows.append(
            {"question": question, "kind": kind, "answers": [path, *same_day], "date": date, "source": "random event"}
        )
    rows = [row for number, row in enumerate(rows) if number not in UNREADABLE]
    for question, why in UNANSWERABLE:
        kind = next((k for k in ("when", "where", "who") if question.lower().startswith(k)), "what")
        if question.lower().startswith("how many"):
            kind = "how_many"
        rows.append({"question": question, "kind": kind, "answers": [], "date": None, "source": why})
    split = random.Random(SEED + 1)
    for row in rows:
        row["half"] = "dev" if split.random() < 0.5 else "test"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.build_ask_set", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file of the indexed shared archive (default: the benchmark's)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    from tests.eval_ask import default_db

    rows = build(Path(args.db) if args.db else default_db())
    with open(args.out, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} questions written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
