"""The score as a fitted combination of what was measured of an answer.

The signals: the expected grade (``expected``), the checks' P(yes) (``addresses``, ``how``, ``wrong``), the
embedder's view of relevance (``relevance.py``) and the answer's shape (``shape.py``). A product of two names
(``expected*how``) is a feature too.

``Combination`` is a linear model over named features with the training means (a feature missing at grade
time takes its mean); ``fit`` chooses ridge weights by least squares against human grades, and
``cross_validate`` measures it on groups (postings) held out. The fitted weights are data, kept with the
prompt version and model they were measured on (``calibration.json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

from prepbot.stats import spearman

CHECKS = ("addresses", "how", "wrong")
EMBEDDER = ("sim_question", "sim_item", "item_margin")
SHAPE = ("digits", "enumeration")
# the candidate feature sets ``choose`` compares by held-out agreement (a set's features absent from every
# answer, e.g. checks a prompt version does not ask, are dropped from it)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "expected": ("expected",),
    "checks": ("expected", *CHECKS),
    "embedder": ("expected", *EMBEDDER),
    "embedder+shape": ("expected", *EMBEDDER, *SHAPE),
    "all": ("expected", *CHECKS, *EMBEDDER, *SHAPE),
    "all+gated": ("expected", *CHECKS, *EMBEDDER, *SHAPE, "expected*enumeration"),
}
RIDGE = 1.0  # on standardised features


class Combination(BaseModel):
    features: list[str] = Field(min_length=1)
    weights: list[float]
    intercept: float
    means: list[float]  # each feature's training mean: what a missing feature counts as
    # raw values from which the score is 2, 3, 4, 5: placed so that the scores of the training answers are
    # spread as their labels are (a least-squares fit pulls every raw value towards the middle); none: rounded
    cuts: list[float] | None = Field(default=None, min_length=4, max_length=4)

    def raw(self, signals: Mapping[str, float | None]) -> float:
        row = feature_row(signals, self.features, dict(zip(self.features, self.means)))
        return float(self.intercept + np.dot(self.weights, row))

    def score(self, signals: Mapping[str, float | None]) -> int:
        raw = self.raw(signals)
        if self.cuts is None:
            return clip_score(raw)
        return 1 + sum(raw >= cut for cut in self.cuts)


def clip_score(raw: float) -> int:
    return int(min(5, max(1, round(raw))))


def feature_value(signals: Mapping[str, float | None], name: str) -> float | None:
    """A named feature of the signals (``a*b`` the product of two), None where a part is missing."""
    parts = [signals.get(part) for part in name.split("*")]
    if any(part is None for part in parts):
        return None
    return float(np.prod([float(part) for part in parts if part is not None]))


def feature_row(signals: Mapping[str, float | None], features: Sequence[str], fill: Mapping[str, float]) -> list[float]:
    values = [feature_value(signals, name) for name in features]
    return [fill.get(name, 0.0) if value is None else value for name, value in zip(features, values)]


def fit(rows: Sequence[Mapping[str, float | None]], labels: Sequence[float], features: Sequence[str]) -> Combination:
    """Ridge least squares on standardised features (missing values at their mean), back in raw units."""
    means = {
        name: float(np.mean(vals)) if (vals := [v for r in rows if (v := feature_value(r, name)) is not None]) else 0.0
        for name in features
    }
    x = np.array([feature_row(r, features, means) for r in rows], dtype=float)
    y = np.asarray(labels, dtype=float)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + RIDGE * np.eye(len(features)), z.T @ (y - y.mean()))
    weights = w / sd
    intercept = float(y.mean() - np.dot(weights, mu))
    raw = intercept + x @ weights
    # the cut below score k+1 sits at the raw quantile of the share of labels at k or below
    shares = [float(np.mean(y <= k + 0.5)) for k in range(1, 5)]
    cuts = [round(float(np.quantile(raw, min(max(share, 0.0), 1.0))), 5) for share in shares]
    return Combination(
        features=list(features),
        weights=[round(float(v), 5) for v in weights],
        intercept=round(intercept, 5),
        means=[round(means[name], 5) for name in features],
        cuts=[max(cuts[: i + 1]) for i in range(4)],
    )


def cross_validate(
    rows: Sequence[Mapping[str, float | None]],
    labels: Sequence[float],
    groups: Sequence[str],
    features: Sequence[str],
    folds: int = 5,
    scores: bool = False,
) -> list[float]:
    """Held-out raw values (``scores``: the scores 1-5): the groups dealt into ``folds`` folds in order of first
    appearance, each fold predicted by a fit on the others."""
    order = list(dict.fromkeys(groups))
    fold_of = {group: number % folds for number, group in enumerate(order)}
    predicted = [0.0] * len(rows)
    for fold in range(folds):
        train = [i for i, g in enumerate(groups) if fold_of[g] != fold]
        test = [i for i, g in enumerate(groups) if fold_of[g] == fold]
        if not test or not train:
            continue
        model = fit([rows[i] for i in train], [labels[i] for i in train], features)
        for i in test:
            predicted[i] = float(model.score(rows[i])) if scores else model.raw(rows[i])
    return predicted


class Choice(BaseModel):
    """The feature set chosen, its combination fitted on every answer, and how each set did held out."""

    name: str
    combination: Combination
    held_out: dict[str, dict[str, float | None]]  # feature set -> spearman, mae, within_1 (scores rounded)


def choose(
    rows: Sequence[Mapping[str, float | None]], labels: Sequence[float], groups: Sequence[str], folds: int = 5
) -> Choice:
    """The feature set whose held-out scores (rounded, clipped) rank closest to the labels; ties to the smaller
    mean absolute error, then the simpler set."""
    held_out: dict[str, dict[str, float | None]] = {}
    present = {name for row in rows for name, value in row.items() if value is not None}
    sets: dict[str, tuple[str, ...]] = {}
    for name, features in FEATURE_SETS.items():
        kept = tuple(f for f in features if all(part in present for part in f.split("*")))
        if kept and kept not in sets.values():  # a set that lost its own features is an earlier one
            sets[name] = kept
    for name, features in sets.items():
        scores = cross_validate(rows, labels, groups, features, folds, scores=True)
        errors = [abs(a - b) for a, b in zip(scores, labels)]
        held_out[name] = {
            "spearman": None if (rho := spearman(labels, scores)) is None else round(rho, 4),
            "mae": round(float(np.mean(errors)), 4),
            "within_1": round(float(np.mean([e <= 1 for e in errors])), 4),
        }
    order = list(sets)
    best = max(order, key=lambda n: (held_out[n]["spearman"] or -1.0, -(held_out[n]["mae"] or 0.0), -order.index(n)))
    return Choice(name=best, combination=fit(rows, labels, sets[best]), held_out=held_out)


# What a signal says when it lowered the score, and which way of it is the bad one (+1: high is bad, -1: low
# is bad). A signal that lowered the score from its good side (a fitted weight against its meaning) is not
# named: that is a correlation of the data it was fitted on, not something to tell a candidate.
FINDINGS: dict[str, tuple[str, int]] = {
    "addresses": ("the grader doubts the answer responds to this question", -1),
    "how": ("the answer names things without saying how they were used", -1),
    "wrong": ("the grader suspects a claim in the answer is wrong", +1),
    "sim_question": ("the answer says little about what the question asks", -1),
    "sim_item": ("the answer says little about the requirement the question tests", -1),
    "item_margin": ("the answer is nearer another requirement of the posting than the one asked about", -1),
    "digits": ("the answer gives no numbers or concrete detail of what was done", -1),
    "enumeration": ("the answer lists names (tools, terms) rather than saying what was done with them", +1),
}
FINDING_MIN = 0.25  # a signal is named when it lowered the raw score by at least this much against its mean


def findings(combination: Combination, signals: Mapping[str, float | None]) -> list[str]:
    """The signals that pulled this answer's score down the most, most first, as short lines: each signal's
    pull is the raw score less the raw score with that signal at its mean (its products included)."""
    means = dict(zip(combination.features, combination.means))
    raw = combination.raw(signals)
    pulls = []
    for name, (line, bad) in FINDINGS.items():
        value, mean = signals.get(name), means.get(name)
        if value is None or mean is None or (value - mean) * bad <= 0:
            continue
        pull = raw - combination.raw({**signals, name: mean})
        if pull <= -FINDING_MIN:
            pulls.append((pull, line))
    return [line for _, line in sorted(pulls)]
