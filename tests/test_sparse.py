"""The persistent sparse index: BM25 as bm25s ranks, kept on disk and in step with the store."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys

import bm25s
import numpy as np
import pytest

from prepbot.config import Settings
from prepbot.retrieval.index import RequirementIndex, sparse_dir
from prepbot.retrieval.sparse import SparseDoc, SparseIndex, doc_tokens
from tests.test_index import CHINESE_ML, DATA_ENGINEER, JAPANESE_BACKEND, make_posting

WORDS = [
    "python",
    "spark",
    "kafka",
    "flink",
    "資料",
    "工程師",
    "管線",
    "データ",
    "基盤",
    "構築",
    "experience",
    "years",
    "team",
    "design",
    "pipelines",
    "cloud",
    "aws",
    "gcp",
    "熟悉",
    "開發",
    "經驗",
    "kubernetes",
    "docker",
    "terraform",
    "機器學習",
    "モデル",
    "運用",
    "sql",
]


def random_docs(rng: random.Random, postings: int, prefix: str = "p") -> list[SparseDoc]:
    docs = []
    for p in range(postings):
        for i in range(rng.randint(1, 12)):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14)))
            docs.append(SparseDoc(f"{prefix}{p}/r{i}", f"{prefix}{p}", rng.randint(0, 3), text))
    return docs


def reference_scores(docs: list[SparseDoc], query: str) -> dict[str, float]:
    """bm25s (the engine the index replaces) built on exactly these documents."""
    retriever = bm25s.BM25()
    retriever.index([doc_tokens(d.text) for d in docs], show_progress=False)
    known = [t for t in doc_tokens(query) if t in retriever.vocab_dict]
    if not known:
        return {}
    scores = retriever.get_scores(known)
    return {d.id: float(s) for d, s in zip(docs, scores) if s > 0}


def assert_ranks_like_bm25s(got: list[str], reference: dict[str, float], depth: int) -> None:
    expected = sorted(reference.values(), reverse=True)[:depth]
    assert len(got) == len(expected)
    assert all(doc_id in reference for doc_id in got)
    # the same scores in the same order (documents of equal score may come in either order)
    assert np.allclose([reference[d] for d in got], expected, rtol=1e-4)


def test_scores_match_bm25s_within_a_posting_a_section_and_across_all(tmp_path):
    rng = random.Random(5)
    docs = random_docs(rng, 60)
    index = SparseIndex(tmp_path / "sparse")
    for start in range(0, len(docs), 23):  # many small writes: several segments, some merged
        with index.writing():
            index.add(docs[start : start + 23])
    assert 1 < len(index.segments) < 12
    for _ in range(60):
        query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
        posting = f"p{rng.randint(0, 59)}"
        within = [d for d in docs if d.posting_id == posting]
        assert_ranks_like_bm25s(index.search(query, 20, posting_id=posting), reference_scores(within, query), 20)
        section = rng.randint(0, 3)
        in_section = [d for d in docs if d.section == section]
        got = index.search(query, 20, section=section)
        assert_ranks_like_bm25s(got, reference_scores(in_section, query), 20)
        assert_ranks_like_bm25s(index.search(query, 20), reference_scores(docs, query), 20)


def test_removals_and_replacements_rank_as_a_fresh_index(tmp_path):
    rng = random.Random(9)
    docs = random_docs(rng, 40)
    index = SparseIndex(tmp_path / "sparse")
    with index.writing():
        index.add(docs)
    gone = {f"p{k}" for k in range(0, 40, 3)}
    with index.writing():
        index.remove_postings(gone)
        index.remove_ids("p1", ["p1/r0"])
    edited = [SparseDoc("p2/r0", "p2", 1, "kafka kafka flink"), SparseDoc("p2/r99", "p2", 1, "terraform")]
    with index.writing():
        index.add(edited)  # p2/r0 replaced, p2/r99 new
    kept = [d for d in docs if d.posting_id not in gone and d.id not in ("p1/r0", "p2/r0")] + edited
    assert index.count == len(kept)
    assert index.posting_ids() == {d.posting_id for d in kept}
    for query in ("kafka flink", "資料 管線", "terraform docker"):
        assert_ranks_like_bm25s(index.search(query, 30), reference_scores(kept, query), 30)
    assert index.size(posting_id="p2") == len([d for d in kept if d.posting_id == "p2"])
    assert index.size(section=1) == len([d for d in kept if d.section == 1])


def test_the_index_persists_and_a_reader_sees_another_process_write(tmp_path):
    directory = tmp_path / "sparse"
    reader = SparseIndex(directory)
    assert reader.search("kafka", 5) == []
    script = (
        "import sys; from pathlib import Path; from prepbot.retrieval.sparse import SparseIndex, SparseDoc\n"
        "index = SparseIndex(Path(sys.argv[1]))\n"
        "with index.writing():\n"
        "    index.add([SparseDoc('a/1', 'a', 0, 'Kafka and Flink'), SparseDoc('a/2', 'a', 0, 'SQL')])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(directory)], check=True)
    assert reader.search("kafka", 5) == ["a/1"]  # picked up on the next search
    assert SparseIndex(directory).search("sql", 5, posting_id="a") == ["a/2"]


def test_a_write_cut_short_leaves_the_index_as_it_was(tmp_path):
    directory = tmp_path / "sparse"
    index = SparseIndex(directory)
    with index.writing():
        index.add([SparseDoc("a/1", "a", 0, "Kafka")])
    with pytest.raises(RuntimeError), index.writing():
        index.add([SparseDoc("b/1", "b", 0, "Kafka")])
        raise RuntimeError("killed")
    assert index.search("kafka", 5) == ["a/1"] and index.count == 1  # in this process too
    again = SparseIndex(directory)
    assert again.search("kafka", 5) == ["a/1"]
    # a segment left half-written by a killed process is never named by the manifest, and is collected
    (directory / "tmp-seg-dead").mkdir()
    with again.writing():
        again.add([SparseDoc("c/1", "c", 0, "Flink")])
    assert not (directory / "tmp-seg-dead").exists()
    assert sorted(again.posting_ids()) == ["a", "c"]


def test_the_store_and_its_sparse_index_stay_in_step(tmp_path):
    settings = Settings(home=tmp_path)
    index = RequirementIndex(settings)
    index.add_postings([DATA_ENGINEER, CHINESE_ML, JAPANESE_BACKEND])
    assert index.sparse.count == index.items.count() == 12
    assert index.search("Cassandra Redis", k=1)[0].id == f"{DATA_ENGINEER.id}/requirement-3"

    # re-ingest of an edit: an item dropped, one changed, one new (IDs carried as ingest does)
    edited = make_posting(
        DATA_ENGINEER.id,
        DATA_ENGINEER.title,
        "en",
        [
            ("responsibility", "Create and maintain optimal data pipeline architecture."),
            ("requirement", "Experience with Snowflake and dbt."),
        ],
    )
    index.add_postings([edited])
    index.remove_items(edited.id, keep={item.id for item in edited.requirements})
    assert index.sparse.count == index.items.count() == 9
    assert index.search("Snowflake dbt", k=1)[0].id == f"{DATA_ENGINEER.id}/requirement-1"
    assert all("Cassandra" not in hit.text for hit in index.search("Cassandra Redis", k=5))

    index.remove_posting(CHINESE_ML.id)
    assert index.sparse.count == index.items.count() == 5
    assert index.sparse.posting_ids() == {DATA_ENGINEER.id, JAPANESE_BACKEND.id}

    # the sparse index lost (or a store written before it existed): rebuilt from the store when opened
    shutil.rmtree(sparse_dir(settings))
    reopened = RequirementIndex(settings)
    assert reopened.sparse.count == 5
    assert reopened.search("AWS GCP", k=1)[0].id == f"{JAPANESE_BACKEND.id}/requirement-2"


def test_a_crash_between_the_sparse_index_and_the_store_is_swept(tmp_path):
    index = RequirementIndex(Settings(home=tmp_path))
    index.add_postings([JAPANESE_BACKEND])
    index.postings.delete(ids=[JAPANESE_BACKEND.id])  # as if killed before the posting record was written
    assert index.sweep_orphans() == 1
    assert index.sparse.count == index.items.count() == 0


def test_a_reader_searches_on_while_another_process_writes_and_merges(tmp_path):
    directory = tmp_path / "sparse"
    reader = SparseIndex(directory)
    script = (
        "import sys; from pathlib import Path; from prepbot.retrieval.sparse import SparseIndex, SparseDoc\n"
        "index = SparseIndex(Path(sys.argv[1]))\n"
        "for k in range(60):\n"
        "    with index.writing():\n"
        "        index.add([SparseDoc(f'p{k}/{i}', f'p{k}', 0, f'kafka flink team {k} item {i}') for i in range(5)])\n"
        "        if k % 7 == 6:\n"
        "            index.remove_postings([f'p{k - 3}'])\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(directory)])
    searches = 0
    while writer.poll() is None:
        assert all(hit.startswith("p") for hit in reader.search("kafka team", 10))  # never a half-written index
        searches += 1
    assert writer.returncode == 0 and searches > 0
    assert reader.size() == 5 * (60 - 8) and len(reader.search("kafka", 1000)) == 5 * (60 - 8)
