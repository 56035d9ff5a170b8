"""Ranking: BM25 tokens (CJK as bigrams), reciprocal-rank fusion, and how an answer is matched to the items
it is about."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import bm25s
import numpy as np

from prepbot.text import CJK_CHARS, HANGUL_CHARS

RRF_K = 60
_CJK = CJK_CHARS + HANGUL_CHARS
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}_]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")


def bm25_tokens(text: str) -> list[str]:
    """Latin words lower-cased; CJK runs as character bigrams, so that a Chinese
    or Japanese query with no Latin terms still matches without a word segmenter."""
    tokens: list[str] = []
    for run in _TOKEN.findall(text.lower()):
        if _IS_CJK.match(run):
            # single characters (與, 的) match nearly everything; bigrams carry the meaning
            tokens.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        else:
            tokens.append(run)
    return tokens


def rrf_fuse(rankings: Iterable[list[str]], k: int = RRF_K) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank + 1)
    return scores


def bm25_ranking(query: str, ids: list[str], documents: list[str], depth: int) -> list[str]:
    query_tokens = bm25_tokens(query)
    corpus = [bm25_tokens(doc) for doc in documents]
    if not query_tokens or not any(corpus):
        return []
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    known = [token for token in query_tokens if token in retriever.vocab_dict]
    if not known:
        return []
    positions, scores = retriever.retrieve([known], k=min(depth, len(ids)), show_progress=False)
    return [ids[pos] for pos, score in zip(positions[0], scores[0]) if score > 0]


# An answer-like query (two sentences or more, or a long one) is matched to the items it is about by
# answer_scores; a short one (keywords, a question) by dense + BM25 fused by rank. What each part adds,
# measured on graded answers, is in docs/decisions.md.
ANSWER_MIN_CHARS = 120
ANSWER_MIN_SENTENCES = 2
ANSWER_MATCH_MAX_ITEMS = 5000  # past this, the answer is matched like any query (no per-item vectors read)
ANSWER_SENTENCES = 12
COVERAGE_WEIGHT = 0.4
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s*")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "for",
        "with",
        "on",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "be",
        "been",
        "being",
        "you",
        "your",
        "we",
        "our",
        "us",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "will",
        "can",
        "able",
        "have",
        "has",
        "had",
        "do",
        "does",
        "not",
        "no",
        "more",
        "most",
        "other",
        "such",
        "than",
        "then",
        "them",
        "they",
        "their",
        "who",
        "what",
        "which",
        "when",
        "where",
        "how",
        "all",
        "any",
        "each",
        "into",
        "about",
        "over",
        "also",
        "very",
        "well",
        "strong",
        "good",
        "excellent",
        "experience",
        "years",
        "year",
    ]
)


def answer_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE.split(text) if len(p.strip()) > 3]
    return (parts or [text])[:ANSWER_SENTENCES]


def is_answer_like(query: str) -> bool:
    return len(query) >= ANSWER_MIN_CHARS or len(answer_sentences(query)) >= ANSWER_MIN_SENTENCES


def answer_scores(features: dict[str, Any]) -> Any:
    """Per item, where no ranker was fitted for the embedder (``ranker.py``, whose features these are): half
    the mean cosine of its two nearest answer sentences, half the whole answer's cosine, plus
    COVERAGE_WEIGHT x its ``coverage``."""
    return 0.5 * features["top2"] + 0.5 * features["whole"] + COVERAGE_WEIGHT * features["cov"]


def coverage(item_texts: list[str], answer: str) -> Any:
    """Per item, the idf-weighted share of its words (CJK bigrams) that the answer uses; stop words and single
    characters left out, idf over these items."""
    words = [{t for t in bm25_tokens(text) if t not in _STOP and len(t) > 1} for text in item_texts]
    counts: dict[str, int] = {}
    for item_words in words:
        for word in item_words:
            counts[word] = counts.get(word, 0) + 1
    idf = {word: float(np.log(1 + len(words) / n)) for word, n in counts.items()}
    used = set(bm25_tokens(answer))
    return np.array(
        [sum(idf[w] for w in ws if w in used) / (sum(idf[w] for w in ws) or 1.0) for ws in words], dtype=np.float64
    )


def unit(vectors: Any) -> Any:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)
