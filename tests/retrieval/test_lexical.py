"""BM25 kept up to date in place: stemming, Chinese words, adds and removals without a rebuild, filters inside."""

from __future__ import annotations

import random

import numpy as np

from retrieval.lexical import MERGE_SEGMENTS_ABOVE, LexicalEntry, LexicalIndex, tokenize


def entry(chunk_id: int, text: str, *, collection: int = 1, document: int | None = None) -> LexicalEntry:
    return LexicalEntry(chunk_id, collection, document if document is not None else chunk_id, text)


def test_english_is_stemmed_and_chinese_is_segmented() -> None:
    assert tokenize("Treating hypertensive patients") == tokenize("treat hypertensive patient")
    tokens = tokenize("高血压患者的降压目标")
    assert "高血压" in tokens and "患者" in tokens and "的" not in tokens
    assert "140" in tokenize("below 140/90 mmHg")


def test_a_chinese_question_segmented_unlike_the_statute_still_matches_it() -> None:
    """jieba cuts 租房子/交房 in the question and 出租人/交付 in the article: no word in common, shared characters."""
    index = LexicalIndex()
    index.add([entry(1, "出租人应当按照约定将租赁物交付承租人。"), entry(2, "借款人应当按照约定的期限返还借款。")])
    assert [hit.chunk_id for hit in index.search(query="租房子的房东不交房", k=5)] == [1]


def test_a_query_in_another_inflection_finds_the_passage() -> None:
    index = LexicalIndex()
    index.add([entry(1, "Antibiotics were administered within one hour."), entry(2, "Blood pressure targets.")])
    assert [hit.chunk_id for hit in index.search(query="administer antibiotic", k=5)] == [1]


def test_scores_equal_a_fresh_index_after_adds_and_removals() -> None:
    """Incremental updates give exactly the scores of an index built from scratch over the same live chunks."""
    rng = random.Random(3)
    words = "pain opioid dose taper risk patient review naloxone benefit harm monitor urine".split()
    texts = {i: " ".join(rng.choice(words) for _ in range(rng.randint(3, 30))) for i in range(300)}
    incremental = LexicalIndex()
    for start in range(0, 300, 20):  # one segment per "document", enough to trigger merges
        incremental.add(entry(i, texts[i]) for i in range(start, start + 20))
    removed = set(rng.sample(range(300), 90))
    incremental.remove(removed)
    incremental.add([entry(5, "naloxone naloxone taper"), entry(1000, "urine monitor review")])  # 5 replaced
    texts[5] = "naloxone naloxone taper"
    texts[1000] = "urine monitor review"
    live = {i: t for i, t in texts.items() if i not in removed or i == 5}
    fresh = LexicalIndex()
    fresh.add(entry(i, t) for i, t in live.items())

    assert incremental.segment_count <= MERGE_SEGMENTS_ABOVE
    assert incremental.size == fresh.size == len(live)
    for query in ["naloxone taper", "urine monitor", "opioid dose risk", "harm"]:
        got = incremental.search(query=query, k=20)
        expected = fresh.search(query=query, k=20)
        assert [h.chunk_id for h in got] == [h.chunk_id for h in expected]
        assert np.allclose([h.score for h in got], [h.score for h in expected], rtol=1e-5)
        assert not removed - {5} & {h.chunk_id for h in got}


def test_filters_run_inside_the_search_so_a_small_share_still_gets_k_results() -> None:
    index = LexicalIndex()
    # 990 chunks of collection 1 all match strongly; 10 chunks of collection 2 match weakly.
    index.add(entry(i, "statin dose statin dose statin", collection=1, document=0) for i in range(990))
    index.add(entry(1000 + i, f"statin note {i} and other words here", collection=2, document=7) for i in range(10))
    hits = index.search(query="statin dose", k=10, collection_ids=[2])
    assert len(hits) == 10 and all(h.chunk_id >= 1000 for h in hits)
    assert [h.chunk_id for h in index.search(query="statin", k=3, document_ids=[7])] == [1000, 1001, 1002]
    assert index.search(query="statin", k=3, collection_ids=[3]) == []
    assert sorted(index.chunk_ids(collection_ids=[2]).tolist()) == list(range(1000, 1010))


def test_unknown_words_and_an_empty_index_return_nothing() -> None:
    index = LexicalIndex()
    assert index.search(query="anything", k=5) == []
    index.add([entry(1, "hypertension")])
    assert index.search(query="zzzz", k=5) == []
    index.remove([1])
    assert index.search(query="hypertension", k=5) == [] and index.size == 0
