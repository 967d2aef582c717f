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
from store.search import SearchIndex, stem
from store.store import Found
from store.tokens import QUERY_STOPWORDS, tokenize

CONFIDENCE_THRESHOLD = 0.75
SURE = 0.9  # at or above: "The archive says"; below it (down to the threshold): "Probably"
EVIDENCE = 5
SHORT = 4  # questions of at most this many words name a well-known event ("when was the Lockerbie bombing?")
LONG = 6  # questions of more words are told apart by their words, not by their verb alone
CANDIDATES = 30  # best-scored events among which the best-covering one answers
STORY = dt.timedelta(days=10)  # reports this close before the best one are of the same story: the first answers "when"

QUESTION_WORDS = (
    frozenset(
        "what when where who whom whose which why how many much did do does happen happened happening "
        "take took place occur occurred there was were is are been being anything something news event events "
        "about tell me any year date day time get got gotten his her him he she their them they our we my your "
        "yes".split()
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
    "murder": ["kill", "shot", "gun", "assassin", "slain", "dead"],
    "assassin": ["kill", "shot", "gun", "murder", "slain", "dead"],
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
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}{ORDINAL}\s+(?:of\s+)?{MONTH},?\s+\d{{4}}"
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
TRAILING_VERB = re.compile(
    r"^\s*(?i:when|where|who|how|what\s+(?:day|date|year))\s+(?i:did|was|were|has|have)\b.*\s[A-Z][\w'’-]*\s([a-z]+)[\s?.!]*$"
)
TAKE_OVER = re.compile(r"\b(?:take|took|taken|takes)\s+(?:over|control\s+of)\b", re.I)
ORDINALS = re.compile(r"\b(first|last|latest|most\s+recent)\b(?!\s+(?:year|month|week)\b)", re.I)
NAME = re.compile(r"(?<![.?!]\s)(?<=\s)(?:[A-Z][\w'’-]*(?:\s\d{1,3}\b(?!\d))?|[A-Z]{2,}|\d+/\d+)")
NOT_NAMES = frozenset("i when what who where which how did does was were is the".split())

# Adverbs and fillers that say nothing about the event: a headline need not have them.
CONTENTLESS = frozenset(
    "eventually finally actually really exactly ever officially originally initially ultimately reportedly "
    "apparently allegedly just already still also again later recently formally precisely roughly even "
    "please know remember exact big huge major massive famous infamous notorious deadly terrible great historic "
    "devastating tragic horrific shocking dramatic because due".split()
)

# A general-knowledge or personal question, which no news event answers (unless it names someone or a year).
GENERIC = re.compile(
    r"^\s*(?:why|how\s+(?:do|does|can|could|should|to|far|tall|old|long|big|fast|often)\b|"
    r"(?:can|could|would|will)\s+you|should\s+i|tell\s+me\s+a|is\s+an?\b|are\s+there|"
    r"what(?:'s|’s|\s+is|\s+are|\s+does|\s+should|\s+rhymes)|who\s+(?:is|are)\b|where\s+(?:is|are|can|did\s+i)|"
    r"when\s+(?:is|will)\s+(?:my|i)\b|what\s+time\b)",
    re.I,
)

# Verb and noun families: the words a headline may use for what a question asks about ("murdered":
# "gunned down", "assassination"; "bought": "acquires", "takes over"). Plain words, stemmed below.
FAMILY_WORDS = [
    "die dies died death dead kill killed assassinate assassinated assassination murder murdered slain shot "
    "shoots gunned execute executed lynch behead succumb massacre massacred",
    "win won wins beat beats defeat defeats victory champion champions claim clinch title triumph",
    "hit hits strike strikes struck landfall batter slam",
    "release released freed free",
    "launch launches launched liftoff",
    "arrest arrested detain detained capture captured apprehend",
    "resign resigns resigned quit quits resignation",
    "elect elected reelect reelected election vote votes voted chosen choose referendum ballot polls",
    "sink sank sinks capsize capsizes aground",
    "start begin began begins launch open",
    "end ends ended conclude",
    "close closes closed shut shuts shutdown",
    "invade invaded invasion incursion",
    "bomb bombing explosion explosions blast explode exploded attack",
    "shoot shooting shot gunman gunmen gunfire",
    "crash crashes crashed plunge",
    "sentence sentenced jail jailed imprison imprisoned",
    "expel expelled expulsion persona leave",
    "buy bought buys acquire acquires acquisition purchase purchases takeover",
    "marry married marries wedding wed",
    "disappear disappears disappeared vanish vanished missing",
    "retake retakes recapture recaptures regain regains reclaim",
    "annex annexes annexed annexation accession",
    "adopt adopted approve approves approved ratify ratifies",
    "bankrupt bankruptcy insolvency insolvent",
    "fire blaze burn burns",
    "break disintegrate disintegrated disintegrates",
    "erupt erupts erupted eruption",
    "kidnap kidnapped kidnaps abduct abducted abducts",
    "appoint appointed appoints nominate nominated",
    "ban bans banned prohibit outlaw",
    "discover discovered discovers discovery find found finds",
    "legalize legalise legalizes legalises legalized legalised",
    "withdraw withdraws withdrew withdrawal pullout",
    "become becomes became sworn inaugurated",
    "seize seizes seized overrun overruns takeover",
    "join joins joined accede accedes membership",
    "sign signs signed signing",
    "declare declares declared declaration proclaim proclaims proclaimed",
    "meet meets met meeting summit",
    "visit visits visited trip",
    "sack sacks sacked dismiss dismisses dismissed oust ousts ousted",
    "overthrow overthrew overthrown coup topple topples toppled depose deposed",
    "collapse collapses collapsed",
    "evacuate evacuates evacuated evacuation",
    "rescue rescues rescued",
    "land lands landed landing touchdown",
    "raid raids raided storm stormed",
    "protest protests protested demonstration demonstrators rally rallies",
    "hijack hijacks hijacked hijacking hijackers",
    "abdicate abdicates abdicated abdication",
    "flee flees fled escape escapes escaped",
    "surrender surrenders surrendered",
    "merge merges merged merger",
    "plead pleads pleaded plea pleas",
    "injure injures injured injuring hurt wound wounds wounded",
    "compensate compensates compensation pay pays paid",
    "pardon pardons pardoned",
]
# Irregular past forms, which share no stem with the present that headlines use ("held": "holds").
IRREGULAR = dict(
    pair.split(":")
    for pair in (
        "won:win held:hold struck:strike fled:flee shot:shoot sank:sink sunk:sink fell:fall fallen:fall "
        "beat:beat began:begin begun:begin broke:break broken:break brought:bring bought:buy caught:catch "
        "chose:choose chosen:choose came:come drew:draw drove:drive fought:fight found:find flew:fly "
        "froze:freeze gave:give given:give went:go gone:go grew:grow hid:hide hit:hit kept:keep knew:know "
        "led:lead left:leave lost:lose made:make meant:mean met:meet paid:pay quit:quit ran:run said:say "
        "saw:see seen:see sought:seek sold:sell sent:send set:set shook:shake shut:shut spoke:speak "
        "spoken:speak spent:spend stole:steal stolen:steal stood:stand swore:swear sworn:swear took:take "
        "taken:take taught:teach told:tell thought:think threw:throw thrown:throw withdrew:withdraw "
        "withdrawn:withdraw wrote:write written:write overthrew:overthrow overthrown:overthrow rose:rise "
        "risen:rise woke:wake wore:wear bore:bear born:bear built:build dealt:deal fed:feed felt:feel "
        "forgave:forgive hung:hang laid:lay lent:lend lit:light read:read rode:ride rang:ring shrank:shrink "
        "slid:slide spun:spin split:split spread:spread struck:strike swept:sweep upheld:uphold wed:wed "
        "wound:wind underwent:undergo oversaw:oversee overtook:overtake"
    ).split()
)

# Nouns a headline may use for the question's ("plane": "flight", "aircraft"): they count as the word.
NOUN_WORDS = [
    "plane planes aircraft airliner jet flight",
    "ship ships vessel boat ferry",
    "army military troops forces soldiers",
    "britain uk british",
    "eu european",
    "un nations",
    "us usa america american",
    "quake earthquake",
    "oscar oscars academy",
    "campaign programme program drive initiative",
    "vaccination vaccinations immunisation immunization vaccine vaccines",
]
NOUNS: dict[str, set[str]] = {}
for _words in NOUN_WORDS:
    for _word in _words.split():
        NOUNS.setdefault(stem(_word), set()).update(stem(other) for other in _words.split())
FAMILIES = [sorted({stem(word) for word in family.split()}) for family in FAMILY_WORDS]
# Words whose stem is a family's but which are not what happened: "executive" (execut), "gun" (gunned).
NOT_PREDICATES = frozenset("executive executives gun guns title titles".split())
# Stages of a competition: "who won the final" is not answered by the semi-final.
STAGES = frozenset("final semifinal semifinals quarterfinal quarterfinals round qualifier qualifiers playoff".split())
FAMILY_OF: dict[str, list[str]] = {}
for _family in FAMILIES:
    for _member in _family:
        FAMILY_OF.setdefault(_member, [])
        FAMILY_OF[_member] += [other for other in _family if other != _member and other not in FAMILY_OF[_member]]

# Words before what happened that say it did not (yet) happen: "no intention of invading", "plans to
# launch", "threatens to", "would". A question that uses one of them asks about the intention itself.
HEDGES = frozenset(
    "no not never intention intends plan plans planned plot plots threat threaten threatens deny denies denied "
    "would could may might will fear fears warn warns attempt attempts bid try tries prepare prepares vow vows "
    "expected possible possibility urge urges calls call against rumour rumours rumor rumors hoax false decided "
    "decides decide ready agreement agree agrees deal offer offers survive survives survived verge brink "
    "attempted".split()
)
HEDGE_STEMS = frozenset(stem(word) for word in HEDGES)
# Verbs after which "that" opens what was said ("announces that the Queen has died"), not a relative clause.
REPORTING = frozenset(
    "says said say announces announced announce confirms confirmed confirm reports reported report reveals "
    "revealed claims claimed states stated believes warns warned admits admitted rules ruled finds found shows "
    "suggests indicates fears hopes denies insists agrees decides learns declares declared argues alleges "
    "thinks knows concludes acknowledges estimates predicts notes adds so such".split()
)
# General-knowledge questions that name something ("what is the capital of France?"): no news event answers them.
KNOWLEDGE = re.compile(
    r"^\s*(?:what(?:'s|’s|\s+is|\s+are|\s+was)\s+the\s+(?:capital|population|currency|language|meaning|speed|"
    r"height|length|size|area|distance|boiling\s+point|formula|definition|chemical|square\s+root|name\s+of\s+the\s+"
    r"(?:largest|tallest|longest))\b|how\s+many\b.*\b(?:does|do)\b.*\bhave\b|"
    r"how\s+many\s+\w+\s+(?:are|is)\s+(?:there\s+)?in\s+(?:a|an|the)\b|how\s+(?:tall|old|far|big|long|deep|high)"
    r"\s+(?:is|are)\b)",
    re.I,
)
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands "
    "million millions dozen dozens scores".split()
)
PLACE = re.compile(r"\b(?:in|at|near|off|outside|across|into|inside|over|from)\s+(?:the\s+)?[A-Z]")

# Headline words that frame a mention of an earlier event, not the event itself.
MENTION = re.compile(
    r"\b(anniversar\w*|commemorat\w*|memorial\w*|remember\w*|mourn\w*|years?\s+(?:since|after|ago|on)|"
    r"inquir\w*|inquest\w*|investigat\w*|trial|tribunal|convict\w*|sentenc\w*|charg\w*|accus\w*|suspect\w*|"
    r"prosecut\w*|funeral|buried|burial|widow|nephew|son|daughter|grandson|killer|case|celebrat\w*|records?|declassif\w*|"
    r"survivors?|tribute|honou?r\w*|compensat\w*|lawsuit|sues?|apolog\w*|reopen\w*|list|weapon|"
    r"wreck\w*|remains|rememb\w*|marks?|legacy|documents?|files?|reveal\w*|clean\s+up|visit\w*|guilty|theory|"
    r"documentary|programme|film|book|study|exhibit\w*|museum|statue|auction\w*|coffin|grave|tomb|"
    r"blamed?|responsib\w*|unreleased|transcripts?|tapes?|conspiracy|hoax|birthday|relatives|"
    r"commission|gun|-style|than|emulat\w*|similar|previous|memory|era)\b",
    re.I,
)
ANNIVERSARY = re.compile(r"\b(\d+)(?:st|nd|rd|th)\s+anniversary|\b(\d+)\s+years\s+(?:since|after|ago)", re.I)
APPOSITION = re.compile(r",\s[^,]{1,80}?,(?=\s[a-z])")
LONG_APPOSITION = re.compile(r",\s[^,]{1,120}?,(?=\s(?:is|are|was|were|has|have)\b)")
# Where a headline's main clause ends: what follows is background ("after defeating ...").
LABEL = re.compile(r"^[^:;.]{3,80}:\s+(?=[A-Z\d\"“])")
RELATIVE_CLAUSE = re.compile(r"\s(?:that|which|who|whom|whose)\s")
MAIN_CLAUSE_END = re.compile(
    r"[;:]|,\s+(?:which|who|whose|with|after|as|killing|leaving)\b|"
    r"\s(?:after|following|amid|as|while|when|because|since|ahead\s+of|before|over)\s"
)


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # when, where, who, how_many, what
    words: list[str]
    since: dt.date | None = None
    until: dt.date | None = None
    day: dt.date | None = None  # "on 3 April 2016"
    names: tuple[str, ...] = ()  # words written with a capital inside the question: who or what it is about
    predicates: tuple[str, ...] = ()  # the question's words that name what happened ("assassinated", "won")
    ordinal: str | None = None  # "first" (the earliest report) or "last" (the latest)
    years: tuple[int, ...] = ()  # years the question names
    generic: bool = False  # a general-knowledge question ("what is the speed of light?"), not about news
    complements: tuple[str, ...] = ()  # the word after what happened ("released from prison": "prison")


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
    rest = TAKE_OVER.sub(" seize ", rest)
    # a contentless word written with a capital inside the question is part of a name ("the Great Fire")
    capitals = {word for token in NAME.findall(rest[1:]) for word in tokenize(token)}
    words = [
        word for word in tokenize(rest) if word not in QUESTION_WORDS and (word not in CONTENTLESS or word in capitals)
    ]
    ordinal = None
    if match := ORDINALS.search(rest):
        ordinal = "first" if match.group(1).lower() == "first" else "last"
        if match.group(1).lower() != "first":  # "latest", "most recent": not words a headline uses for it
            words = [word for word in words if word not in {"last", "latest", "recent", "most"}]
    named_years = [int(word) for word in words if NAMED_YEAR.fullmatch(word)]
    if named_years and since is None and until is None:
        # "the 2016 ICC World Twenty20": what it names happened about then.
        since, until = dt.date(min(named_years) - 1, 1, 1), dt.date(max(named_years) + 1, 12, 31)
    years = tuple(sorted({*named_years, *(d.year for d in (since, until) if d)}))
    names = tuple(
        dict.fromkeys(
            word
            for token in NAME.findall(text[1:])
            for word in tokenize(token)
            if word in words and word not in NOT_NAMES
        )
    )
    # a year in the name of what is asked about ("the 2026 World Cup") must be in the headline too
    # and so must a number it gives ("20,000 points")
    names = (*names, *(word for word in words if word.isdigit() and word not in names))
    predicates = tuple(word for word in words if stem(word) in FAMILY_OF)
    if (match := TRAILING_VERB.search(rest)) and match.group(1).lower() in words and match.group(1).islower():
        predicates = (*predicates, match.group(1).lower())  # "when did the Berlin Wall fall?"
    predicates = tuple(dict.fromkeys(predicates))
    generic = (bool(GENERIC.search(text)) and not names and not years) or bool(KNOWLEDGE.search(text))
    complements = complements_of(rest, words, predicates)
    return Question(
        text.strip(), kind, words, since, until, day, names, predicates, ordinal, years, generic, complements
    )


# Particles and prepositions after a verb ("go off", "resign over"): not what tells its sense apart.
PARTICLES = frozenset("over off back near down up out away onto into across around through go come".split())


def complements_of(text: str, words: list[str], predicates: tuple[str, ...]) -> tuple[str, ...]:
    """The content word right after each predicate (within two words): what tells its sense apart
    ("released from prison", "launch a rocket")."""
    tokens = tokenize(text)
    found = []
    for predicate in predicates:
        if predicate not in tokens:
            continue
        at = tokens.index(predicate)
        following = [
            t
            for t in tokens[at + 1 : at + 4]
            if t in words and t not in predicates and t not in PARTICLES and not t.isdigit()
        ]
        if following and tokens.index(following[0]) - at <= 3:
            found.append(following[0])
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Evidence:
    """What one candidate event shows for a question."""

    found: Found
    coverage: float  # idf-weighted share of the question's words the event has (see `Reading.coverage`)
    names: bool  # every name the question gives (all but one when it gives four or more)
    predicate: bool  # what happened (or a word of its family) in the headline's main clause, not hedged
    mention: bool  # the question's subject only inside "the anniversary of", "the trial over" ...
    about: bool = True  # the headline is about what the question names (not "X's son", not "Y defeats X" for X won)
    sense: bool = True  # the word after the question's verb is there too ("released from prison")
    typed: bool = True  # the answer type is there: a number for "how many", a place for "where"
    focus: int = 0  # 0-2: the subject opens the headline; what happened is next to it (ranks, never refuses)
    first: bool = True  # a short question's words are in the first sentence, not only later (lowers, never refuses)

    @property
    def answers(self) -> bool:
        focused = self.first or self.focus > 0
        return (
            self.names and self.predicate and not self.mention and self.about and self.sense and self.typed and focused
        )

    @property
    def strength(self) -> float:
        """The coverage, lowered for each piece of evidence the event lacks."""
        return (
            self.coverage
            * (1.0 if self.names else 0.6)
            * (1.0 if self.predicate and self.sense else 0.7)
            * (0.5 if self.mention else 1.0)
            * (1.0 if self.about and self.typed else 0.8)
            * (1.0 if self.first else FIRST_SENTENCE)
        )


@dataclass(frozen=True)
class Reading:
    """The question's words as the archive has them: each word's weight (its rarity), the archive
    words that count as it (its spellings and forms) and the few other words that count less."""

    weights: dict[str, float]
    forms: dict[str, frozenset[str]]
    synonyms: dict[str, frozenset[str]]

    def has(self, word: str, tokens: set[str], stems: set[str]) -> float:
        """How fully an event's tokens (and their stems) have a question word: 1 for the word, a
        spelling, a form or a word of its verb's family; 0.8 for a derived word ("presidential" for
        "president"); SYNONYM for the question's other words; else 0."""
        if self.forms.get(word, frozenset()) & tokens:
            return 1.0
        root = stem(IRREGULAR.get(word, word))
        if ({root, *FAMILY_OF.get(root, ()), *NOUNS.get(root, ())}) & stems:
            return 1.0
        if len(root) >= 5 and any(s.startswith(root) or (len(s) >= 5 and root.startswith(s)) for s in stems):
            return 0.8
        return SYNONYM if self.synonyms.get(word, frozenset()) & tokens else 0.0

    def coverage(self, words: list[str], tokens: set[str], stems: set[str]) -> float:
        total = sum(self.weights[word] for word in words)
        return sum(self.weights[word] * self.has(word, tokens, stems) for word in words) / total if total else 0.0


SYNONYM = 0.6
FIRST_SENTENCE = 0.85  # a short question's words only in a later sentence or the topics


def read_words(index: SearchIndex, words: list[str], also: dict[str, list[str]]) -> Reading:
    weights, forms, synonyms = {}, {}, {}
    texts = index.term_text
    for word in words:
        matches = index.matches(word, True, also.get(word, ()))
        if word in IRREGULAR:  # "held": also "hold", "holds"
            matches = [*matches, *index.matches(IRREGULAR[word], True)]
        # the word weighs as its most frequent form does ("won" as "wins"): rare forms are not rarer words
        own = [texts[term] for term, strength in matches if strength > SYNONYM + 1e-9]
        weights[word] = min((idf_of(index, form) for form in own), default=idf_of(index, word))
        forms[word] = frozenset(texts[term] for term, strength in matches if strength > SYNONYM + 1e-9)
        synonyms[word] = frozenset(texts[term] for term, strength in matches if abs(strength - SYNONYM) < 1e-9)
    return Reading(weights, forms, synonyms)


def idf_of(index: SearchIndex, word: str) -> float:
    term = index.terms.get(word)
    return float(index.idf[term]) if term is not None else float(index.idf.max()) if len(index.idf) else 0.0


def first_sentence(headline: str) -> str:
    text = " ".join(headline.split())
    parts = re.split(r"(?<=[a-z0-9)\]”\"'])\.\s+(?=[A-Z])", text, maxsplit=1)
    return parts[0].rstrip(". ")


def main_clause(headline: str) -> str:
    """The headline's first sentence without a leading label ("Costa Concordia disaster: The ship ..."),
    what follows its main clause, a relative clause ("the crash that killed ...") or an apposition
    ("Yigal Amir, assassin of Yitzhak Rabin, plans to marry" -> "Yigal Amir plans to marry")."""
    text = event_sentence(headline)
    match = MAIN_CLAUSE_END.search(text, 15)
    text = text[: match.start()] if match else text
    for relative in RELATIVE_CLAUSE.finditer(text):
        before = text[: relative.start()].split()
        if before and before[-1].lower().strip(",") not in REPORTING:
            text = text[: relative.start()]
            break
    return APPOSITION.sub("", text)


def event_sentence(headline: str) -> str:
    """The first sentence, after a label that names the story ("Space Shuttle Columbia incident: ...")."""
    text = first_sentence(headline)
    if (match := LABEL.match(text)) and len(text) - match.end() > 20:
        return text[match.end() :]
    return text


def stems_of(text: str) -> list[str]:
    return [stem(word) for word in tokenize(text)]


def weigh(
    question: Question,
    found: Found,
    reading: Reading,
    name_forms: dict[str, set[str]],
    literal_years: frozenset[str] = frozenset(),
) -> Evidence:
    event = found.event
    tokens = tokenize(event.headline)
    # "the 2002 election": the event's own year counts as said, but in the archive's last year only if
    # the headline says it (what is asked about may come after the archive ends)
    year = str(event.date.year)
    words = set(tokens) | ({year} if year not in literal_years else set())
    every = words | {token for topic in event.topics for token in tokenize(topic)}
    every_stems = {stem(token) for token in every}
    coverage = reading.coverage(question.words, every, every_stems)
    head_stems = {stem(token) for token in words}
    missing = [
        name
        for name, forms in name_forms.items()
        if not forms & words
        and not (len(stem(name)) >= 4 and any(s.startswith(stem(name)) for s in head_stems))
        and not NOUNS.get(stem(name), set()) & head_stems  # "Britain": "UK", "British"
    ]
    # of three names or more, one may be missing (a title, a first name), but never a number
    words_named = [name for name in question.names if not name.isdigit()]
    names = not missing or (len(words_named) >= 3 and len(missing) == 1 and not missing[0].isdigit())
    # a short question turns on its verb, which the headline's main clause must have; a long one is
    # told apart by its other words
    short = len(question.words) <= LONG
    clause = tokenize(ELECT.sub("elect", main_clause(event.headline) if short else event_sentence(event.headline)))
    hedged = not HEDGE_STEMS.isdisjoint(stem(token) for token in tokenize(question.text))
    predicate = not question.predicates or any(
        stem(token) in family_of(word)
        and token not in NOT_PREDICATES
        and (hedged or HEDGES.isdisjoint(clause[max(0, at - 3) : at]))
        for word in question.predicates
        for at, token in enumerate(clause)
    )
    sense = all(reading.has(word, every, every_stems) > 0 for word in question.complements) and same_stage(
        question, tokens
    )
    rarity = {stem(word): reading.weights.get(word, 0.0) for word in question.names or question.words}
    mention = is_mention(question, event, rarity)
    return Evidence(
        found,
        coverage,
        names,
        predicate,
        mention,
        is_about(question, event, reading),
        sense,
        typed(question, event),
        focus_of(question, event, rarity),
        in_first_sentence(question, event, reading),
    )


def focus_of(question: Question, event: Event, rarity: dict[str, float]) -> int:
    """How much the headline is about the question's subject: 1 if the subject opens it (within its
    first five words), and 1 more if what happened is within six words of the subject."""
    tokens = tokenize(event_sentence(event.headline))
    subject = [stem(word) for word in question.names or question.words if word not in question.predicates]
    at = [i for i, token in enumerate(tokens) if stem(token) in subject]
    if not at:
        return 0
    predicate = {s for word in question.predicates for s in family_of(word)}
    done = [i for i, token in enumerate(tokens) if stem(token) in predicate and token not in NOT_PREDICATES]
    near = any(abs(i - j) <= 6 for i in at for j in done) if predicate else True
    return int(at[0] <= 4) + int(near)


def same_stage(question: Question, tokens: list[str]) -> bool:
    """A stage the question names ("the final") is in the headline as that stage, not "semi-final"."""
    asked = STAGES.intersection(question.words)
    stages = {token for at, token in enumerate(tokens) if at == 0 or tokens[at - 1] not in {"semi", "quarter"}}
    return all(stage in stages or stage + "s" in stages for stage in asked)


def family_of(word: str) -> set[str]:
    root = stem(IRREGULAR.get(word, word))
    return {stem(word), root, *FAMILY_OF.get(stem(word), ()), *FAMILY_OF.get(root, ())}


def in_first_sentence(question: Question, event: Event, reading: Reading) -> bool:
    """A short question names a well-known event: its words are in the event's first sentence, not
    only in a later one or its topics."""
    if len(question.words) > SHORT:
        return True
    tokens = set(tokenize(event_sentence(event.headline)))
    stems = {stem(token) for token in tokens}
    return all(reading.has(word, tokens, stems) for word in question.words if word not in question.predicates)


def is_about(question: Question, event: Event, reading: Reading) -> bool:
    """False when what the question names is only a possessor in the headline ("Osama bin Laden's
    third in command is killed") or, for "did X win", the side beaten ("Germany defeats Argentina")."""
    text = event_sentence(event.headline)
    predicate = {s for word in question.predicates for s in family_of(word)}
    if predicate & WIN and not ADVANCE.isdisjoint(stem(token) for token in tokenize(text)):
        return False
    named = [name for name in question.names if not NAMED_YEAR.fullmatch(name)]
    if not named:
        return True
    last = named[-1]
    asked = set(tokenize(question.text))
    possessed = re.findall(rf"\b{re.escape(last)}['’]s\s+(\w+)", text, re.I)
    plain = re.findall(rf"\b{re.escape(last)}\b(?!['’]s)", text, re.I)
    owner_only = possessed and not plain and not re.search(rf"\b{re.escape(last)}['’]s\b", question.text, re.I)
    if owner_only and not any(stem(word.lower()) in predicate for word in possessed):
        return False
    if question.kind != "who" and predicate & WIN and not WIN.isdisjoint(stem(w) for w in asked):
        tokens = tokenize(main_clause(event.headline))
        beaten = [i for i, token in enumerate(tokens) if stem(token) in BEAT]
        at = [i for i, token in enumerate(tokens) if token == named[0]]  # "did Argentina win": the first name
        if beaten and at and all(i > beaten[0] for i in at):
            return False
    return True


WIN = {stem(word) for word in "win won wins".split()}
ELECT = re.compile(r"(?<=\w)-elect\b")  # "president-elect": a title, not an election
# "to advance to the final", "reaches the semi-final": a step before the win the question asks about
ADVANCE = frozenset(stem(word) for word in "advance advances reach reaches qualify qualifies progress".split())
BEAT = {stem(word) for word in "beat beats defeat defeats defeated overcome edge".split()}


def typed(question: Question, event: Event) -> bool:
    """The answer type is in the headline: a number for "how many", a place for "where"."""
    text = event.headline
    if question.kind == "how_many":
        return any(
            (token.isdigit() and not NAMED_YEAR.fullmatch(token)) or token in NUMBER_WORDS for token in tokenize(text)
        )
    if question.kind == "where":
        return bool(PLACE.search(text)) or any(word[:1].isupper() for word in first_sentence(text).split()[3:])
    return True


def is_mention(question: Question, event: Event, rarity: dict[str, float]) -> bool:
    """True when a frame word ("anniversary", "inquiry", "widow", "trial") or an earlier year ("the
    1975 assassination of") comes before what the question is about, and the question does not ask
    about that frame itself."""
    text = " ".join(event.headline.split())
    tokens = tokenize(text)
    predicate = {s for word in question.predicates for s in family_of(word)}
    places = [i for i, token in enumerate(tokens) if stem(token) in predicate and token not in NOT_PREDICATES]
    by_predicate = bool(places)
    if not places:
        subject = [stem(word) for word in (question.names or question.words)]
        rare = max(subject, key=lambda word: rarity.get(word, 0.0)) if subject else None
        places = [i for i, token in enumerate(tokens) if stem(token) == rare]
    if not places:
        return False
    asked = {stem(word) for word in question.words}
    if len(question.words) <= SHORT:  # a short question names a well-known event: is it only referred to?
        names = {stem(name) for name in question.names}
        # "the assassination of", "the death of": the event named as a thing, inside another report
        first = places[0]
        if (
            by_predicate
            and first > 1
            and "the" in tokens[first - 2 : first]
            and tokens[first + 1 : first + 2] == ["of"]
        ):
            return True
        for i, token in enumerate(tokens):
            # "... for the Lockerbie bombing": the event as a noun phrase after the headline's own verb
            if i >= 3 and token == "the" and names:
                phrase = [stem(word) for word in tokens[i + 1 : i + 6]]
                nouns = [at for at, word in enumerate(phrase) if word in asked and word not in names]
                if nouns and phrase[:1] and phrase[0] in names and names & set(phrase[: nouns[0]]):
                    return True
    for at, token in enumerate(tokens):
        # "its 1999 launch", "the 2004 Beslan school siege": an earlier year names the event
        earlier = NAMED_YEAR.fullmatch(token) and int(token) < event.date.year and int(token) not in question.years
        if earlier and at <= places[0] + 1:
            return True
    # frames inside an apposition describe someone ("X, convicted of ..., is sentenced"): not counted
    plain = LONG_APPOSITION.sub("", text)
    tokens = tokenize(plain)
    subject = {stem(word) for word in question.names or question.words if word not in question.predicates}
    for match in MENTION.finditer(plain):
        frame = stem(match.group(1).split()[0].lower())
        if frame in asked or any(frame.startswith(word) or word.startswith(frame) for word in asked if len(word) > 3):
            continue
        at = len(tokenize(plain[: match.start()]))
        own = {stem(IRREGULAR.get(word, word)) for word in question.predicates}
        done = [i for i, token in enumerate(tokens) if stem(token) in own]
        done = done or [i for i, token in enumerate(tokens) if stem(token) in predicate]
        if at > (done or places)[0]:
            continue
        # "convicted murderer Naw Kham is executed": the frame names who the subject is, not what the event is
        follows = [i for i in range(at + 1, min(at + 4, len(tokens))) if stem(tokens[i]) in subject]
        joined = tokens[at + 1 : at + 2] in (["of"], ["into"], ["over"], ["for"], ["on"], ["after"], ["since"])
        if done and follows and not joined and follows[0] < done[0]:
            continue
        return True
    return False


def archive_range(index: SearchIndex) -> tuple[dt.date, dt.date] | None:
    if not index.size:
        return None
    low, high = int(index.days.min()), int(index.days.max())
    return (
        dt.date(low // 10000, low // 100 % 100, low % 100),
        dt.date(high // 10000, high // 100 % 100, high % 100),
    )


def covers(first: dt.date, last: dt.date) -> str:
    return f"The archive covers {human_month(first)} to {human_month(last)}"


def human_month(day: dt.date) -> str:
    return f"{calendar.month_name[day.month]} {day.year}"


def out_of_range(question: Question, first: dt.date, last: dt.date) -> str | None:
    """Why the archive cannot answer a question about a time before its first event or after its last."""
    if (question.until and question.until < first) or (question.years and max(question.years) < first.year):
        return f"{covers(first, last)}: it has nothing from before it starts."
    if (question.since and question.since > last) or (question.years and min(question.years) > last.year):
        return f"{covers(first, last)}: it has nothing from after it ends."
    return None


def answer_sentence(question: Question, event: Event, sure: bool) -> str:
    """One sentence: how sure, the day, and what happened (the headline's first sentence)."""
    lead = "The archive says" if sure else "Probably"
    what = first_sentence(event.headline)
    if what[:4] in ("The ", "An ") or what[:2] == "A ":
        what = what[0].lower() + what[1:]
    return f"{lead}: on {human_date(event.date)}, {what}."


def earlier_year(question: Question, event: Event) -> int | None:
    """The year a mention points back to: "the 30th anniversary of" in 2016 -> 1986."""
    if match := ANNIVERSARY.search(event.headline):
        return event.date.year - int(match.group(1) or match.group(2))
    return None


async def answer_question(store: Store, text: str, today: dt.date | None = None) -> AskAnswer:
    question = read_question(text, today or dt.date.today())
    span = archive_range(store.index)
    if question.generic:
        return AskAnswer(
            question.text, None, None, {}, 0.0, reason="That is not a question about a news event the archive records."
        )
    if span and (why := out_of_range(question, *span)):
        return AskAnswer(question.text, None, None, {}, 0.0, reason=why)
    if not question.words:
        if question.day:
            evidence = await store.events_on(question.day)
            if evidence:
                first = next(iter(evidence.values()))
                return AskAnswer(question.text, answer_sentence(question, first, True), first.date, evidence, 1.0)
        return AskAnswer(question.text, None, None, {}, 0.0, hint="Ask about someone, somewhere or something.")
    # the search looks for a few other words of the verb; the family (FAMILY_OF) only judges the candidates
    also = {word: QUESTION_SYNONYMS[stem(word)] for word in question.words if stem(word) in QUESTION_SYNONYMS}
    for word in question.words:
        if word in IRREGULAR:  # "held" also finds "holds"
            also[word] = [*also.get(word, []), IRREGULAR[word]]
    acronyms = (await topic_names(store)).acronyms
    for word in question.words:
        if word in acronyms:  # "isil": also the telling word of "Islamic State of Iraq and the Levant"
            also[word] = [*also.get(word, []), rarest_word(store, acronyms[word])]
    found = await store.search(question.words, CANDIDATES, question.since, question.until, inflect=True, also=also)
    if not found:
        unknown = [word for word in question.words if not store.index.matches(word, True)]
        reason = f"The archive never uses {', '.join(repr(w) for w in unknown)}." if unknown else None
        if span and (late := after_the_archive(question, span)):
            reason = late
        return AskAnswer(question.text, None, None, {}, 0.0, reason=reason)
    reading = read_words(store.index, question.words, also)
    name_forms = {name: set(reading.forms.get(name, ())) for name in question.names}
    literal_years = frozenset(str(year) for year in question.years if span and year >= span[1].year)
    weighed = [weigh(question, f, reading, name_forms, literal_years) for f in found]
    # BM25 can prefer an event that repeats two rare words over one that has every word of the
    # question: the one with the most evidence comes first, then the one that covers most of it.
    # Then, among those, the one about the question's subject (it opens the headline, what happened
    # next to it) before one that names it in passing.
    ranked = sorted(weighed, key=lambda e: (-e.answers, -round(e.strength, 1), -e.focus, -e.found.score))
    best = ranked[0]
    if best.answers and question.ordinal:
        # "the first" asks for the earliest of the events that answer as well; "the last" the latest
        close = [e for e in ranked if e.answers and e.strength >= best.strength - 0.05]
        best = sorted(close, key=lambda e: e.found.event.date, reverse=question.ordinal == "last")[0]
        ranked.remove(best)
        ranked.insert(0, best)
    elif best.answers and question.kind == "when":
        # the first report of a story answers "when": an event as good from the days just before
        story = [
            e
            for e in ranked
            if e.answers
            and e.strength >= best.strength - 0.05
            and e.focus >= best.focus
            and dt.timedelta(0) <= best.found.event.date - e.found.event.date <= STORY
        ]
        best = min(story, key=lambda e: e.found.event.date)
        ranked.remove(best)
        ranked.insert(0, best)
    evidence = {e.found.event_id: e.found.event for e in ranked[:EVIDENCE]}
    confidence = best.strength
    if best.answers and confidence >= CONFIDENCE_THRESHOLD:
        sure = confidence >= SURE
        event = best.found.event
        return AskAnswer(question.text, answer_sentence(question, event, sure), event.date, evidence, confidence)
    return AskAnswer(question.text, None, None, evidence, confidence, **not_found(question, ranked, span))


def not_found(question: Question, ranked: list[Evidence], span: tuple[dt.date, dt.date] | None) -> dict[str, str]:
    """Why the closest events do not answer, in one sentence, and what the archive records instead."""
    best = ranked[0]
    if span and (late := after_the_archive(question, span)):
        return {"reason": late}
    if best.mention and best.names:
        event = best.found.event
        year = earlier_year(question, event)
        when = f"in about {year}, " if year else ""
        starts = f"before the archive starts ({human_month(span[0])})" if span else "before the archive starts"
        if year and span and year >= span[0].year:
            starts = "earlier"
        return {
            "reason": f"The closest events only mention it (it happened {when}{starts}).",
            "recorded": f"On {human_date(event.date)} the archive records: {first_sentence(event.headline)}.",
        }
    if not best.names:
        missing = [n for n in question.names if not any(n in tokenize(e.found.event.headline) for e in ranked[:5])]
        if missing:
            return {"reason": f"No event that close names {', '.join(missing)}."}
    if best.names and best.predicate and not best.sense and question.complements:
        verb, word = question.predicates[0], question.complements[0]
        return {"reason": f"The closest events use {verb!r} in another sense (none has {word!r})."}
    if not best.predicate and question.predicates:
        return {"reason": f"The closest events do not say that it {' '.join(question.predicates)}."}
    return {"reason": "The closest events share only some of the question's words."}


def after_the_archive(question: Question, span: tuple[dt.date, dt.date]) -> str | None:
    """For a question about the archive's last months or later, what the archive covers."""
    if any(year >= span[1].year for year in question.years):
        return f"{covers(*span)}: what the question asks about may have happened after it ends."
    return None


def rarest_word(store: Store, words: list[str]) -> str:
    """The word of a phrase in the fewest events: the one that tells the phrase apart."""
    known = [w for w in words if w in store.index.terms]
    return min(known, key=lambda w: store.index.df[store.index.terms[w]]) if known else words[-1]
