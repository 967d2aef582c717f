"""The search core's scoring equals a plain dense reference, to the bit, on random queries of a
small archive made here: per query word a full array of the archive's size, the best of the
word's matches per doc, summed; the way the scores were computed before the per-thread arrays."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from queries import load_index
from test_search import write_event

import store.search
from store.ingest import index_archive
from store.search import ParsedQuery, Ranked, SearchIndex, parse_query

WORDS = (
    "flood floods flooded flooding river rivers storm storms rain bridge bridges minister ministers "
    "election elections elected president presidential army troops qaryatain qaryatayn kyiv kiev "
    "gaddafi qaddafi zurich zürich earthquake earthquakes japan market markets bank banks oil spill"
).split()
TOPICS = ["Floods", "Elections", "Armed conflicts", "Economy", "Disasters"]


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    """About 300 events of random words (forms, spellings, topics) over three years."""
    root = tmp_path_factory.mktemp("core")
    archive = root / "archive"
    rng = random.Random(18)
    for number in range(300):
        day = dt.date(2014, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365))
        words = rng.choices(WORDS, k=rng.randint(3, 12))
        topics = rng.sample(TOPICS, rng.randint(0, 2))
        write_event(archive, day, f"{' '.join(words).capitalize()} number {number}.", topics)
    index_archive(root / "core.sqlite3", archive)
    return load_index(root / "core.sqlite3")


def reference(index: SearchIndex, query: str | list[str], limit: int, plain: bool = False) -> Ranked:
    """The dense computation: one array of the archive's size per query word."""
    if plain:
        scores = np.zeros(index.size)
        for token in query:
            term = index.terms.get(token)
            if term is not None:
                start, end = index.offsets[term], index.offsets[term + 1]
                counts = index.counts[start:end].astype(np.float64)
                weights = counts * (store.search.K1 + 1) / (counts + index.norm[index.postings[start:end]])
                scores[index.postings[start:end]] += index.idf[term] * weights
        return top(index, scores, limit, None, None)
    parsed = parse_query(query) if isinstance(query, str) else ParsedQuery(list(query))
    scores = np.zeros(index.size)
    required = np.ones(index.size, dtype=bool)
    for token in index._unglued(parsed.words):
        matches = index.matches(token)
        if not matches:
            continue
        best = np.zeros(index.size)
        for term, factor in index._shared_idf(matches):
            start, end = index.offsets[term], index.offsets[term + 1]
            docs = index.postings[start:end]
            weights = factor * index.field_weights[start:end]  # one word: as it is, even below 0
            best[docs] = weights if len(matches) == 1 else np.maximum(best[docs], weights)
        scores += best
        if token in parsed.required:
            required &= best > 0
    scores[~required] = 0.0
    for token in parsed.excluded:
        for term, _ in index.matches(token):
            scores[index.postings[index.offsets[term] : index.offsets[term + 1]]] = 0.0
    low, high = parsed.since, parsed.until
    if low or high:
        ranked = top(index, scores, limit, low, high)
        if ranked.hits:
            return ranked
    return top(index, scores, limit, None, None)


def top(index: SearchIndex, scores: np.ndarray, limit: int, since: dt.date | None, until: dt.date | None) -> Ranked:
    docs = np.flatnonzero(scores > 0)
    return index._top(docs, scores[docs], limit, since, until)


def random_query(rng: random.Random) -> str:
    words = rng.choices([*WORDS, "floodd", "elektion", "presidnt", "nosuchword", "number"], k=rng.randint(1, 4))
    if rng.random() < 0.2:
        words[0] = f'"{words[0]}"'
    if rng.random() < 0.2:
        words.append(f"-{rng.choice(WORDS)}")
    if rng.random() < 0.2:
        words.append(str(rng.choice([2014, 2015, 2016, 2019])))
    return " ".join(words)


@pytest.mark.parametrize("dense_share", [0, 8, 10**9], ids=["always sparse", "as set", "always dense"])
def test_scores_equal_the_dense_reference_on_random_queries(
    small_index: SearchIndex, monkeypatch: pytest.MonkeyPatch, dense_share: int
) -> None:
    monkeypatch.setattr(store.search, "DENSE_SHARE", dense_share)
    rng = random.Random(dense_share)
    compared = 0
    for _ in range(300):
        query, limit = random_query(rng), rng.choice([1, 5, 10, 50, 1000])
        got, expected = small_index.search(query, limit), reference(small_index, query, limit)
        assert (got.hits, got.matched) == (expected.hits, expected.matched), query
        tokens = query.replace('"', "").split()
        got, expected = small_index.search(tokens, limit, plain=True), reference(small_index, tokens, limit, True)
        assert (got.hits, got.matched) == (expected.hits, expected.matched), tokens
        compared += bool(expected.hits)
    assert compared > 200  # most queries match something
    total, best, seen = small_index._scratch()
    assert not total.any() and not best.any() and not seen.any()  # left all zero


def test_a_word_listed_under_several_of_its_forms_counts_once(small_index: SearchIndex) -> None:
    """A headline with "flood" and "floods" scores the word once, at its best form."""
    matches = small_index.matches("flood")
    assert len(matches) > 1
    hits = small_index.search("flood", 1000).hits
    assert len({hit.event_id for hit in hits}) == len(hits)
    assert hits == reference(small_index, "flood", 1000).hits


def test_once_keeps_each_doc_once(small_index: SearchIndex) -> None:
    rng = np.random.default_rng(3)
    for size in (0, 1, 10, 500):
        docs = rng.integers(0, small_index.size, size).astype(np.int32)
        assert sorted(docs[small_index._once(docs)].tolist()) == sorted(set(docs.tolist()))
    assert not small_index._scratch()[1].any()


def test_an_empty_index_answers_nothing() -> None:
    index = SearchIndex(store.search.IndexRows([], []))
    assert index.search("flood").hits == [] and index.search(["flood"], plain=True).hits == []


def test_a_query_stopped_half_way_leaves_no_sums_behind(
    small_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    original, calls = SearchIndex._postings, []

    def failing(self: SearchIndex, term: int, plain: bool) -> tuple[np.ndarray, np.ndarray]:
        calls.append(term)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, term, plain)

    monkeypatch.setattr(SearchIndex, "_postings", failing)
    with pytest.raises(KeyboardInterrupt):
        small_index.search(["flood", "river", "storm"], 10, plain=True)
    assert not any(scratch.any() for scratch in small_index._scratch())
    monkeypatch.setattr(SearchIndex, "_postings", original)
    tokens = ["flood", "river", "storm"]
    assert small_index.search(tokens, 10, plain=True).hits == reference(small_index, tokens, 10, True).hits


@pytest.mark.parametrize("dense_share", [0, 10**9], ids=["sparse", "dense"])
def test_words_in_most_events_score_below_zero_as_before(monkeypatch: pytest.MonkeyPatch, dense_share: int) -> None:
    """Where most words are in most events the idf floor is below 0 and so are some factors:
    docs are then told new by a mark, not by a zero sum, and still equal the reference."""
    monkeypatch.setattr(store.search, "DENSE_SHARE", dense_share)
    common = "army city troops the".split()
    events = [(number, dt.date(2016, 1, 1 + number), [*common, f"word{number % 3}"]) for number in range(12)]
    events.append((12, dt.date(2016, 2, 1), ["zanzibar", "army"]))
    index = SearchIndex(store.search.build_rows(events))
    assert index.idf_floor < 0
    for query in (["zanzibar", "army"], ["army", "zanzibar", "word1"], ["word2", "city"], ["troops"]):
        for plain in (False, True):
            got = index.search(query, 5, plain=plain)
            expected = reference(index, query if plain else " ".join(query), 5, plain)
            assert (got.hits, got.matched) == (expected.hits, expected.matched), query
    assert not any(scratch.any() for scratch in index._scratch())


def fresh_copy(index: SearchIndex) -> SearchIndex:
    """The same index with its own (empty) word cache and scratch arrays."""
    return SearchIndex.from_arrays(index.arrays)


def test_words_read_from_the_cache_score_as_words_read_anew(small_index: SearchIndex) -> None:
    """Each query on an index whose cache holds the words of all the queries before it, and on
    one that reads every word anew, give the same answer to the bit; all the options are keys."""
    warm = fresh_copy(small_index)
    rng = random.Random(5)
    for _ in range(200):
        query, limit = random_query(rng), rng.choice([1, 10, 1000])
        options = dict(tolerant=rng.random() < 0.8, inflect=rng.random() < 0.8)
        if rng.random() < 0.3:
            options["also"] = {query.replace('"', "").split()[0]: [rng.choice(WORDS)]}
        got, expected = warm.search(query, limit, **options), fresh_copy(small_index).search(query, limit, **options)
        assert got == expected, (query, options)
        days = warm.matched_days(query)
        assert days.tolist() == fresh_copy(small_index).matched_days(query).tolist()
    assert len(warm._words._words) > 10
    assert not any(scratch.any() for scratch in warm._scratch())


def test_the_word_cache_keeps_within_its_bounds(small_index: SearchIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    index = fresh_copy(small_index)
    monkeypatch.setattr(store.search, "WORD_CACHE_SIZE", 5)
    for word in WORDS:
        index.search(word)
    assert len(index._words._words) == 5
    assert list(index._words._words)[-1][0] == WORDS[-1]  # the newest kept, the oldest gone
    biggest = max(index.df.tolist())
    monkeypatch.setattr(store.search, "WORD_CACHE_POSTINGS", biggest * 8 - 1)  # no word that big is kept
    index = fresh_copy(small_index)
    for word in WORDS:
        index.search(word)
    cache = index._words
    assert cache._held == sum(word.postings for word in cache._words.values() if word) <= biggest * 8 - 1
    kept = {key[0] for key in cache._words}
    assert all(index._word(word, True, True, ()).postings < biggest for word in kept if index.terms.get(word))
    term = int(np.argmax(index.df))
    assert index.term_text[term] not in kept


def test_a_word_merged_half_way_leaves_no_marks_behind(
    small_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped between merging a word's terms and reading them back, the scratch arrays are
    zeroed and the word is merged anew by the next query."""
    index = fresh_copy(small_index)
    assert len(index.matches("flood")) > 1
    original = SearchIndex._once

    def failing(self: SearchIndex, docs: np.ndarray) -> np.ndarray:
        raise KeyboardInterrupt

    monkeypatch.setattr(SearchIndex, "_once", failing)
    for query in ("flood", "flood river"):
        with pytest.raises(KeyboardInterrupt):
            index.search(query)
        assert not any(scratch.any() for scratch in index._scratch())
    monkeypatch.setattr(SearchIndex, "_once", original)
    for query in ("flood", "flood river"):
        assert index.search(query, 1000) == fresh_copy(small_index).search(query, 1000)


def test_threads_sharing_the_word_cache_get_the_answers_of_one_thread(small_index: SearchIndex) -> None:
    """Four threads searching one index at once (its word cache shared, its sums per thread)
    answer as one thread alone does, and leave every thread's arrays zero."""
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(9)
    queries = [random_query(rng) for _ in range(200)]
    expected = [fresh_copy(small_index).search(query, 10) for query in queries]
    index = fresh_copy(small_index)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda query: index.search(query, 10), queries * 3))
        assert all(pool.map(lambda _: not any(scratch.any() for scratch in index._scratch()), range(8)))
    assert got == expected * 3
