"""The answer ranker: which of a posting's items a candidate's answer is about, as a fitted model of features.

Per item, for one answer: the mean cosine of its two nearest answer sentences (``top2``), the whole answer's
cosine (``whole``), the idf-weighted share of the item's words the answer uses (``cov``), whether the item is
a duty or requirement (``core``) or a plus (``nice``), and its length (``loglen``). The score is a linear
model of the standardised features, fitted as a softmax over each answer's items against the labelled item
(``fit``), measured on postings held out (``cross_validate``). The fitted weights are data, kept with the
embedder they were measured on (``answer_ranker.json``); `prepbot eval` with the retrieval suite's
``fit: true`` fits and records one in the user's home, which overrides the shipped record for its embedder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prepbot.errors import PrepbotError
from prepbot.retrieval.ranking import coverage

FILE_NAME = "answer_ranker.json"
FEATURES = ("top2", "whole", "cov", "core", "nice", "loglen")
RIDGE = 0.1  # on standardised features, per answer
STEPS, RATE = 400, 0.5  # gradient descent on the softmax loss (convex: the result does not depend on the start)
CORE = frozenset({"responsibility", "requirement"})


class AnswerRanker(BaseModel):
    """One fitted ranker. Fields beyond these (the figures measured) are kept as given."""

    model_config = ConfigDict(extra="allow")

    embedder: str  # the embedder spec whose cosines it was fitted on
    features: list[str] = Field(min_length=1)
    weights: list[float]
    means: list[float]
    scales: list[float]
    measured_on: str = ""
    held_out_recall_at_3: dict[str, str] = Field(default_factory=dict)  # hits/answers, all and per language

    def scores(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        x = np.stack([np.asarray(features[name], dtype=np.float64) for name in self.features], axis=1)
        return ((x - np.asarray(self.means)) / np.asarray(self.scales)) @ np.asarray(self.weights)


class RankerFile(BaseModel):
    about: str = ""
    records: list[AnswerRanker] = Field(default_factory=list)


def answer_features(
    whole: np.ndarray, sentences: np.ndarray, items: np.ndarray, item_texts: list[str], sections: list[str], answer: str
) -> dict[str, np.ndarray]:
    """The features of each of a posting's items (unit-length vectors) for one answer."""
    sims = sentences @ items.T
    return {
        "top2": np.sort(sims, axis=0)[-2:].mean(axis=0),
        "whole": items @ whole,
        "cov": coverage(item_texts, answer),
        "core": np.asarray([section in CORE for section in sections], dtype=np.float64),
        "nice": np.asarray([section == "nice_to_have" for section in sections], dtype=np.float64),
        "loglen": np.log1p([len(text) for text in item_texts]),
    }


def fit(answers: Sequence[tuple[Mapping[str, np.ndarray], np.ndarray]], features: Sequence[str] = FEATURES) -> dict:
    """Weights, means and scales of a softmax over each answer's items, fitted to put its labelled items
    (``target``, True for each item that is the one it answers) first."""
    xs = [np.stack([np.asarray(f[name], dtype=np.float64) for name in features], axis=1) for f, _ in answers]
    stacked = np.concatenate(xs)
    means, scales = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    xs = [(x - means) / scales for x in xs]
    targets = [np.asarray(t, dtype=np.float64) / max(1.0, float(np.sum(t))) for _, t in answers]
    weights = np.zeros(len(features))
    for _ in range(STEPS):
        gradient = RIDGE * weights
        for x, target in zip(xs, targets):
            s = x @ weights
            p = np.exp(s - s.max())
            gradient += x.T @ (p / p.sum() - target) / len(xs)
        weights -= RATE * gradient
    return {"features": list(features), "weights": weights.tolist(), "means": means.tolist(), "scales": scales.tolist()}


def cross_validate(
    answers: Sequence[tuple[Mapping[str, np.ndarray], np.ndarray]], groups: Sequence[str], k: int = 3
) -> list[bool]:
    """Per answer, whether a ranker fitted on the other groups (posting files) puts a labelled item in its
    top ``k``."""
    hits = [False] * len(answers)
    for group in sorted(set(groups)):
        train = [a for a, g in zip(answers, groups) if g != group]
        ranker = AnswerRanker(embedder="", **fit(train))
        for n, (answer, g) in enumerate(zip(answers, groups)):
            if g == group:
                top = np.argsort(-ranker.scores(answer[0]), kind="stable")[:k]
                hits[n] = bool(np.asarray(answer[1])[top].any())
    return hits


def user_file(home: Path) -> Path:
    return home / FILE_NAME


@lru_cache(maxsize=8)
def _load(text: str, source: str) -> RankerFile:
    try:
        return RankerFile.model_validate_json(text)
    except ValidationError as exc:
        raise PrepbotError(f"{source}: not a ranker file ({exc.errors()[0]['msg']})") from exc


@lru_cache(maxsize=1)
def _shipped() -> str:
    return resources.files("prepbot.retrieval").joinpath(FILE_NAME).read_text(encoding="utf-8")


def _records(home: Path) -> list[AnswerRanker]:
    records = list(_load(_shipped(), FILE_NAME).records)
    mine = user_file(home)
    if mine.is_file():
        records = [*_load(mine.read_text(encoding="utf-8"), str(mine)).records, *records]
    return records


def ranker_for(embedder: str, home: Path) -> AnswerRanker | None:
    """The ranker fitted for this embedder (the user's own first), or None: none was."""
    return next((r for r in _records(home) if r.embedder == embedder), None)


def record(home: Path, ranker: AnswerRanker) -> Path:
    """Write a fitted ranker to the user's file, replacing that file's record for the same embedder."""
    path = user_file(home)
    kept: list[dict[str, Any]] = []
    if path.is_file():
        kept = [r.model_dump() for r in _load(path.read_text(encoding="utf-8"), str(path)).records]
    kept = [r for r in kept if r["embedder"] != ranker.embedder]
    body = {
        "about": "answer rankers fitted by `prepbot eval` (retrieval, fit: true)",
        "records": [ranker.model_dump(), *kept],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    partial.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)  # whole or not at all: a search reading it meanwhile sees the old file or the new one
    return path
