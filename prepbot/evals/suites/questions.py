"""questions"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

from pydantic import BaseModel, ConfigDict, Field

from prepbot.errors import PrepbotError
from prepbot.evals import metrics
from prepbot.evals.results import CaseResult, Value
from prepbot.evals.stores import EvalStore
from prepbot.evals.suite import (
    LLM_USAGE_METRICS,
    Metric,
    Suite,
    SuiteContext,
    register,
    sum_of,
    usage_values,
)
from prepbot.postings import normalise
from prepbot.text import Language, detect_language, names_term

if TYPE_CHECKING:
    from prepbot.llm import LLM, Generation
    from prepbot.postings import Posting
    from prepbot.questions import QuestionSet


# Share of the first min(n, requirement items) questions that must cite a requirement item first
# (evals/README.md, `must_cite_sections_first`).
REQUIREMENTS_FIRST_SHARE = 0.8


class _SetRun(NamedTuple):
    question_set: QuestionSet
    generations: list[Generation]  # the question prompt's calls (regenerations included), for usage metrics


class _RecordingLLM:
    """An LLM that keeps the generations it returns (one case's usage) and asks for the run's variant where
    the caller names the bare prompt (``question`` -> ``question@v1``)."""

    def __init__(self, llm: LLM, prompts: dict[str, str]):
        self._llm, self._prompts = llm, prompts
        self.settings, self.backend = llm.settings, llm.backend
        self.generations: list[Generation] = []

    def generate(self, prompt_ref: str, variables: dict[str, Any], **kwargs: Any) -> Generation:
        generation = self._llm.generate(self._prompts.get(prompt_ref, prompt_ref), variables, **kwargs)
        self.generations.append(generation)
        return generation


def generate_question_set(context: SuiteContext, posting_id: str, n: int) -> _SetRun:
    """A set of ``n`` questions for a posting of the eval store, written by ``generate_set`` with the run's
    backend, prompt variant and ``--no-cache``; not saved among the user's sets."""
    from prepbot import questions

    store = context.store()
    variant = context.prompt(questions.PROMPT)
    recorder = _RecordingLLM(context.llm(), {questions.PROMPT: variant})
    question_set = questions.generate_set(
        context.settings,
        questions.SetRequest(n=n),
        posting_id=posting_id,
        no_cache=context.no_cache,
        llm=cast("LLM", recorder),  # records what the real LLM it wraps generated
        index=store.index,
        prompt=variant,
        save=False,
    )
    return _SetRun(question_set, recorder.generations)


def similarity_matrix(texts: list[str], embed: Any) -> list[list[float]]:
    """Pairwise similarity of question texts: 1.0 for the same normalised text, else the embeddings' cosine."""
    if not texts:
        return []
    vectors = embed(texts)
    keys = [normalise(text) for text in texts]
    return [
        [1.0 if keys[i] == keys[j] else float(vectors[i] @ vectors[j]) for j in range(len(texts))]
        for i in range(len(texts))
    ]


class _Checked(NamedTuple):
    values: dict[str, Value]
    questions: list[dict[str, Any]]  # per question: what a reader needs to see why a case failed
    cited: list[str]


def check_set(
    question_set: QuestionSet,
    posting: Posting,
    *,
    language: Language,
    banned_phrases: Sequence[str] = (),
    never_cite_sections: Sequence[str] = (),
    duplicate_cosine: float,
    embed: Any,
) -> _Checked:
    """Deterministic per-set values: citation validity against the posting's stored items, language, rubric
    size, key terms named, banned phrases, off-limits sections, near-duplicates, generator flags."""
    from prepbot.questions import key_terms

    items = {item.id: item for item in posting.requirements}
    texts = {item_id: item.text for item_id, item in items.items()}
    rows, cited = [], []
    valid, in_language, rubric_ok, named, banned, allowed, flagged = [], [], [], [], [], [], []
    for question in question_set.questions:
        ids = [citation.id for citation in question.citations]
        cited += ids
        ok = metrics.citation_validity([(c.id, c.quote) for c in question.citations], texts)
        valid.append(ok if ok is not None else 0.0)  # a question citing nothing is not grounded
        written = detect_language(question.text)
        in_language.append(float(written == language))
        rubric_ok.append(float(3 <= len(question.rubric) <= 5))
        first = items.get(ids[0]) if ids else None
        terms = key_terms(first.text, posting.company) if first else []
        names = any(names_term(question.text, term) for term in terms) if terms else None
        named.append(None if names is None else float(names))
        phrases = [p for p in banned_phrases if p.casefold() in question.text.casefold()]
        banned.append(float(bool(phrases)))
        sections = [items[i].section for i in ids if i in items]
        allowed.append(float(not any(section in never_cite_sections for section in sections)))
        flagged.append(float(bool(question.flags)))
        rows.append(
            {
                "id": question.id,
                "text": question.text,
                "cites": ids,
                "sections": sections,
                "language": written,
                "rubric": len(question.rubric),
                "terms": terms[:5],
                "names_term": names,
                "banned": phrases,
                "flags": question.flags,
            }
        )
    similarity = similarity_matrix([q.text for q in question_set.questions], embed)
    values: dict[str, Value] = {
        "citation_validity": metrics.mean(valid),
        "language_match": metrics.mean(in_language),
        "rubric_ok": metrics.mean(rubric_ok),
        "key_term_rate": metrics.mean(named),
        "banned_phrase_rate": metrics.mean(banned),
        "allowed_sections": metrics.mean(allowed),
        "flagged_rate": metrics.mean(flagged),
        "duplicate_rate": metrics.duplicate_rate(similarity, duplicate_cosine),
    }
    return _Checked(values, rows, cited)


def judge_set(context: SuiteContext, question_set: QuestionSet, posting: Posting) -> tuple[dict[str, Value], list[Any]]:
    """LLM-as-judge relevance and specificity (1-5) per question, averaged over the set; a reply the judge
    could not give leaves that question out (and is counted)."""
    texts = {item.id: item.text for item in posting.requirements}
    relevance, specificity, verdicts, errors = [], [], [], 0
    for question in question_set.questions:
        cited = question.citations[0].id if question.citations else None
        variables = {"role": posting.title, "requirement": texts.get(cited or "", ""), "question": question.text}
        try:
            generation = context.judge(variables)
        except PrepbotError as exc:
            errors += 1
            verdicts.append({"error": str(exc)})
            continue
        verdict = generation.output
        if not isinstance(verdict, BaseModel) or not {"relevance", "specificity"} <= set(type(verdict).model_fields):
            raise PrepbotError(f"judge prompt {generation.prompt} must output relevance and specificity")
        scores = verdict.model_dump()
        relevance.append(float(scores["relevance"]))
        specificity.append(float(scores["specificity"]))
        verdicts.append(verdict.model_dump(mode="json"))
    values: dict[str, Value] = {
        "judge_relevance": metrics.mean(relevance),
        "judge_specificity": metrics.mean(specificity),
        "judge_errors": float(errors),
    }
    return values, verdicts


class QuestionsExpect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language
    min_requirement_coverage: float = Field(default=0.0, ge=0, le=1)
    must_cite_sections_first: Literal["requirement"] | None = None
    max_duplicate_rate: float = Field(default=1.0, ge=0, le=1)
    citations_must_resolve: bool = True
    never_cite_sections: list[str] = Field(default_factory=list)
    banned_phrases: list[str] = Field(default_factory=list)


class QuestionsCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    posting_file: str
    title_contains: str | None = None
    n: int = Field(ge=1, le=50)
    expect: QuestionsExpect
    requirement_items: int = Field(ge=0)

    @property
    def id(self) -> str:
        stem = Path(self.posting_file).stem
        return f"{stem}/{self.title_contains}" if self.title_contains else stem


class QuestionsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int | None = Field(default=None, ge=1, le=50)  # questions per set instead of each case's (CI: fewer)
    judge: bool = True  # LLM-as-judge scores (one judge call per question)
    duplicate_cosine: float = Field(default=0.9, gt=0, le=1)  # near-duplicate above this cosine (USE embeddings)


def _posting(context: SuiteContext, file: str, title_contains: str | None) -> tuple[EvalStore, Posting]:
    store = context.store()
    summary = store.posting(file, title_contains)
    posting = store.index.get_posting(summary.id)
    if posting is None:
        raise PrepbotError(f"posting {summary.id} vanished from the eval store")
    return store, posting


def run_questions(case: QuestionsCase, context: SuiteContext) -> CaseResult:
    options = cast(QuestionsOptions, context.options)
    expect = case.expect
    store, posting = _posting(context, case.posting_file, case.title_contains)
    n = options.n or case.n
    started = time.monotonic()
    try:
        generated = generate_question_set(context, posting.id, n)
    except PrepbotError as exc:
        return CaseResult(
            id=case.id, passed=False, values={"json_valid": 0.0}, error=str(exc), slices={"lang": expect.language}
        )
    seconds = time.monotonic() - started
    question_set = generated.question_set
    checked = check_set(
        question_set,
        posting,
        language=expect.language,
        banned_phrases=expect.banned_phrases,
        never_cite_sections=expect.never_cite_sections,
        duplicate_cosine=options.duplicate_cosine,
        embed=store.index.embedder.embed,
    )
    values = dict(checked.values)
    planned = len(question_set.questions) + len(question_set.unwritten)
    values["json_valid"] = len(question_set.questions) / planned

    # coverage and order over the requirement items the dataset counts: requirement-1 .. requirement-k
    k, asked = case.requirement_items, min(n, case.requirement_items)
    required = {store.item_id(posting.id, "requirement", i) for i in range(1, k + 1)}
    values["requirement_coverage"] = min(1.0, len(set(checked.cited) & required) / asked) if asked else None
    firsts = sum(1 for q in question_set.questions if q.citations and q.citations[0].id in required)
    needed = math.ceil(REQUIREMENTS_FIRST_SHARE * asked)
    if expect.must_cite_sections_first == "requirement" and asked:
        values["requirement_first"] = min(1.0, firsts / asked)
    else:
        values["requirement_first"] = None

    verdicts: list[Any] = []
    if options.judge:
        judged, verdicts = judge_set(context, question_set, posting)
        values.update(judged)
    values.update(usage_values(generated.generations))

    failed = _failures(values, expect, n, len(question_set.questions), firsts, needed)
    for row, verdict in zip(checked.questions, verdicts):
        row["judge"] = verdict
    return CaseResult(
        id=case.id,
        passed=not failed,
        values=values,
        expected={
            **expect.model_dump(mode="json"),
            "n": n,
            "requirement_items": k,
            "requirements_first_needed": needed if values["requirement_first"] is not None else None,
        },
        got={
            "failed": failed,
            "prompt": context.prompt("question"),
            "model": question_set.model,
            "seconds": round(seconds, 2),
            "questions": checked.questions,
        },
        slices={"lang": expect.language},
    )


def _failures(
    values: dict[str, Any], expect: QuestionsExpect, n: int, written: int, firsts: int, needed: int
) -> list[str]:
    """Why a generated set fails its case, one line a reason (none: it passes)."""
    failed = []
    if written != n:
        failed.append(f"{written} questions, asked for {n}")
    if values["language_match"] != 1.0:
        failed.append(f"language_match {values['language_match']:.2f}: not every question is in {expect.language}")
    coverage = values["requirement_coverage"]
    if coverage is not None and coverage < expect.min_requirement_coverage - 1e-9:
        failed.append(f"requirement_coverage {coverage:.2f} < {expect.min_requirement_coverage}")
    if values["requirement_first"] is not None and firsts < needed:
        failed.append(f"{firsts} questions cite a requirement first, {needed} needed")
    duplicates = values["duplicate_rate"]
    if duplicates is not None and duplicates > expect.max_duplicate_rate + 1e-9:
        failed.append(f"duplicate_rate {duplicates:.2f} > {expect.max_duplicate_rate}")
    if expect.citations_must_resolve and values["citation_validity"] != 1.0:
        failed.append("a citation does not resolve to this posting's stored item")
    if values["allowed_sections"] != 1.0:
        failed.append(f"cites a section in {expect.never_cite_sections}")
    if values["banned_phrase_rate"]:
        failed.append("a question uses a banned phrase")
    return failed


_QUESTION_CHECKS = (
    Metric(
        "json_valid",
        "planned questions written: a reply valid against the schema (after one repair, or on"
        " the sampled retry); a set the model wrote nothing valid for counts 0",
    ),
    Metric("citation_validity", "questions whose citations are this posting's items, quoted exactly"),
    Metric("language_match", "questions written in the posting's language (zh-Hant and zh-Hans differ)"),
)


_JUDGE_METRICS = (
    Metric("judge_relevance", "LLM judge: how directly a question tests its item, 1-5", gated=False),
    Metric("judge_specificity", "LLM judge: how concrete and discriminating a question is, 1-5", gated=False),
    Metric(
        "judge_errors",
        "questions the judge gave no valid verdict on",
        higher_is_better=False,
        gated=False,
        aggregate=sum_of("judge_errors"),
    ),
)


register(
    Suite(
        name="questions",
        description="posting -> a generated question set: citations, coverage, order, language, duplicates, "
        "specificity (code checks and an LLM judge)",
        dataset="evals/questions.jsonl",
        case_model=QuestionsCase,
        run=run_questions,
        metrics=(
            *_QUESTION_CHECKS,
            Metric("requirement_coverage", "requirement items cited by a question, of min(n, requirement items)"),
            Metric("requirement_first", "questions citing a requirement item first, of min(n, requirement items)"),
            Metric(
                "duplicate_rate",
                "questions repeating an earlier one (same text or cosine above the option)",
                higher_is_better=False,
            ),
            Metric("allowed_sections", "questions citing no section the case rules out (about, benefits...)"),
            Metric("banned_phrase_rate", "questions using a lazy stock phrase of the case", higher_is_better=False),
            Metric("key_term_rate", "questions naming a concrete term of their item (items with such terms)"),
            Metric("rubric_ok", "questions with 3-5 rubric points"),
            Metric("flagged_rate", "questions the generator flagged after its retry", higher_is_better=False),
            *_JUDGE_METRICS,
            *LLM_USAGE_METRICS,
        ),
        needs_llm=True,
        prompts=("question",),
        options=QuestionsOptions,
        uses_judge=True,
    )
)
