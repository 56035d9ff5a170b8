"""suites/retrieval"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from prepbot.errors import PrepbotError
from prepbot.evals import labels, metrics
from prepbot.evals.results import CaseResult, Value
from prepbot.evals.suite import LabelledForm, Metric, Suite, SuiteContext, register
from prepbot.evals.suites.parsing import CountedSection
from prepbot.text import Language


class ItemRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: CountedSection
    n: int = Field(ge=1)


class RetrievalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    posting_file: str
    title_contains: str | None = None
    query: str = Field(min_length=1)
    lang: Language
    expected: list[ItemRef] = Field(min_length=1)
    posting_lang: Language
    cross_lingual: bool
    latin_free: bool


class RetrievalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["posting", "all"] = "posting"  # search the case's posting (as prepbot does), or every posting
    depth: int = Field(default=10, ge=3, le=100)  # hits fetched; MRR counts ranks up to here
    # labelled answers: fit the answer ranker on this run's answers and record it for the embedder in the home
    fit: bool = False


def run_retrieval(case: RetrievalCase, context: SuiteContext) -> CaseResult:
    options = cast(RetrievalOptions, context.options)
    store = context.store()
    try:
        posting = store.posting(case.posting_file, case.title_contains)
    except PrepbotError as exc:
        # the parser lost the posting, so search cannot find its items: a miss, not a case left out
        misses: dict[str, Value] = {"recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0}
        return CaseResult(id=case.id, passed=False, values=misses, error=str(exc), slices=_retrieval_slices(case))
    expected = [store.item_id(posting.id, ref.section, ref.n) for ref in case.expected]
    scope = posting.id if options.scope == "posting" else None
    hits = store.index.search(case.query, posting_id=scope, k=options.depth)
    ranked = [hit.id for hit in hits]
    stored = store.index.get_requirements(expected)
    rank = next((r for r, rid in enumerate(ranked, 1) if rid in expected), None)
    values: dict[str, Value] = {
        "recall@1": metrics.hit_at_k(ranked, expected, 1),
        "recall@3": metrics.hit_at_k(ranked, expected, 3),
        "mrr": metrics.reciprocal_rank(ranked, expected),
    }
    return CaseResult(
        id=case.id,
        passed=values["recall@3"] == 1.0,
        values=values,
        expected={
            "query": case.query,
            "items": [{"id": rid, "text": stored[rid].text if rid in stored else None} for rid in expected],
        },
        got={"rank": rank, "top": [{"id": hit.id, "text": hit.text} for hit in hits[:3]]},
        slices=_retrieval_slices(case),
    )


def _retrieval_slices(case: RetrievalCase) -> dict[str, str]:
    return {
        "lang": case.lang,
        "posting_lang": case.posting_lang,
        "cross_lingual": str(case.cross_lingual).lower(),
        "latin_free": str(case.latin_free).lower(),
    }


class LabelledAnswerCase(BaseModel):
    """One strong or partial answer of a labelled posting: the query, and the item it should find."""

    path: Path  # the posting file on disk
    file: str
    posting: labels.LabelledPosting  # the labelled posting (its title finds the parsed one)
    posting_number: int  # from 1, in the file's labels
    set_number: int  # from 1, in the posting's answer sets
    item: str
    level: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}#{self.posting_number}/{self.set_number}/{self.level}"


def load_labelled_answers(folder: Path) -> list[LabelledAnswerCase]:
    cases = []
    for entry in labels.load_labels(folder):
        for number, posting in enumerate(entry.postings, 1):
            for set_number, answer_set, answer in labels.answers_to_search(posting):
                cases.append(
                    LabelledAnswerCase(
                        path=folder / entry.file,
                        file=entry.file,
                        posting=posting,
                        posting_number=number,
                        set_number=set_number,
                        item=answer_set.item,
                        level=answer.level,
                        text=answer.text,
                    )
                )
    return labels.unique_answers(folder, cases)


def run_labelled_retrieval(case: LabelledAnswerCase, context: SuiteContext) -> CaseResult:
    options = cast(RetrievalOptions, context.options)
    store = context.labelled_store()
    read = store.read(case.path)
    titles = read.titles()
    match = labels.match_posting(case.posting, titles)
    slices = {"language": case.posting.language, "level": case.level}
    expected = {"item": case.item, "posting": case.posting.title, "answer": case.text}
    if match is None:
        misses: dict[str, Value] = {"recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0, "posting_found": 0.0}
        got = {"posting": None, "parsed": titles, **({"ingest_errors": read.errors} if read.errors else {})}
        return CaseResult(id=case.id, passed=False, values=misses, expected=expected, got=got, slices=slices)
    posting = read.postings[match]
    scope = posting.id if options.scope == "posting" else None
    hits = store.index.search(case.text, posting_id=scope, k=labels.HIT_K)
    rank = labels.hit_rank(case.item, [(hit.text, hit.group) for hit in hits])
    fitting: dict[str, Any] = {}
    if options.fit:  # what the ranker is fitted on: every item's features, and which items are the labelled one
        items, features = store.index.answer_features(case.text, posting.id)
        target = [labels.hit_rank(case.item, [(item.text, item.group)]) is not None for item in items]
        fitting = {"fit": {"features": {k: v.tolist() for k, v in features.items()}, "target": target}}
    values: dict[str, Value] = {
        "recall@1": float(rank == 1),
        "recall@3": float(rank is not None),
        "mrr": 1.0 / rank if rank else 0.0,
        "posting_found": 1.0,
    }
    return CaseResult(
        id=case.id,
        passed=rank is not None,
        values=values,
        expected=expected,
        got={
            "posting": posting.title,
            "rank": rank,
            "top": [{"id": hit.id, "text": hit.text, "group": hit.group} for hit in hits],
            **fitting,
        },
        slices=slices,
    )


def fit_ranker(results: list[CaseResult], context: SuiteContext) -> list[str]:
    """With ``fit: true`` on labelled answers: the answer ranker fitted on every answer whose labelled item was
    parsed, measured with posting files held out, recorded for the embedder in the user's home."""
    from prepbot.retrieval import ranker

    if not getattr(context.options, "fit", False):
        return []
    rows = [r for r in results if r.got and "fit" in r.got and any(r.got["fit"]["target"])]
    if len({r.id.split("#")[0] for r in rows}) < 3:
        return [f"ranker: {len(rows)} answers with their item parsed, from fewer than 3 files; nothing recorded"]
    answers = [
        ({k: np.asarray(v) for k, v in r.got["fit"]["features"].items()}, np.asarray(r.got["fit"]["target"]))
        for r in rows
    ]
    groups = [r.id.split("#")[0] for r in rows]
    held_out = ranker.cross_validate(answers, groups)
    by_language: dict[str, list[bool]] = {}
    for r, hit in zip(rows, held_out):
        by_language.setdefault(r.slices.get("language", "?"), []).append(hit)
    figures = {lang: f"{sum(h)}/{len(h)}" for lang, h in sorted(by_language.items())}
    fitted = ranker.AnswerRanker(
        embedder=context.settings.embedder,
        **ranker.fit(answers),
        measured_on=f"prepbot eval --suite retrieval, {len(rows)} labelled answers of {len(set(groups))} files, "
        f"{date.today().isoformat()}",
        held_out_recall_at_3={"all": f"{sum(held_out)}/{len(held_out)}", **figures},
    )
    path = ranker.record(context.settings.home, fitted)
    return [
        f"ranker for {fitted.embedder} recorded in {path}; recall@3 with each file held out: "
        f"{sum(held_out)}/{len(held_out)} ({', '.join(f'{k} {v}' for k, v in figures.items())})"
    ]


LABELLED_RETRIEVAL = LabelledForm(
    description="labelled answers (strong, partial) -> the item they answer, searched within their parsed "
    "posting (top 3, check.py's hit rule)",
    load=load_labelled_answers,
    case_model=LabelledAnswerCase,
    run=run_labelled_retrieval,
    metrics=(
        Metric("recall@1", "strong/partial answers whose first hit in their posting is the labelled item"),
        Metric("recall@3", "strong/partial answers with the labelled item in the top 3 (check.py --retrieval)"),
        Metric("mrr", "mean reciprocal rank of the labelled item within the top 3 (0 beyond)"),
        Metric("posting_found", "answers whose labelled posting was parsed (the others are misses)"),
    ),
)


register(
    Suite(
        name="retrieval",
        description="query -> the requirement items it matches, by prepbot's hybrid (dense + BM25) search",
        dataset="evals/retrieval.jsonl",
        case_model=RetrievalCase,
        run=run_retrieval,
        metrics=(
            Metric("recall@1", "queries whose first hit is a right item"),
            Metric("recall@3", "queries with a right item in the top 3"),
            Metric("mrr", "mean reciprocal rank of the first right item (0 past the search depth)"),
        ),
        options=RetrievalOptions,
        labelled=LABELLED_RETRIEVAL,
        finish=fit_ranker,
    )
)
