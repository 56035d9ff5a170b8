"""questions"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from prepbot.errors import PrepbotError
from prepbot.evals.results import CaseResult
from prepbot.evals.suite import (
    LLM_USAGE_METRICS,
    Metric,
    Suite,
    SuiteContext,
    register,
    usage_values,
)
from prepbot.evals.suites.question_sets import (
    JUDGE_METRICS,
    QUALITY_METRICS,
    QUESTION_CHECKS,
    QuestionsOptions,
    _posting,
    _RecordingLLM,
    check_set,
    generate_question_set,
    judge_set,
    prompt_ngrams,
    similarity_matrix,
)
from prepbot.evals.suites.questions_labelled import LABELLED_QUESTIONS, run_labelled_questions
from prepbot.text import Language

__all__ = ["_RecordingLLM", "_posting", "check_set", "generate_question_set", "similarity_matrix"]

# Share of the first min(n, requirement items) questions that must cite a requirement item first
# (evals/README.md, `must_cite_sections_first`).
REQUIREMENTS_FIRST_SHARE = 0.8


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
        prompt_ngrams=prompt_ngrams(context, question_set.prompt),
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


def _run_either(case: BaseModel, context: SuiteContext) -> CaseResult:
    if isinstance(case, QuestionsCase):
        return run_questions(case, context)
    return run_labelled_questions(case, context)


register(
    Suite(
        name="questions",
        description="posting -> a generated question set: citations, coverage, order, language, duplicates, "
        "specificity (code checks and an LLM judge)",
        dataset="evals/questions.jsonl",
        case_model=QuestionsCase,
        run=run_questions,
        metrics=(
            *QUESTION_CHECKS,
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
            *QUALITY_METRICS,
            *JUDGE_METRICS,
            *LLM_USAGE_METRICS,
        ),
        needs_llm=True,
        prompts=("question",),
        options=QuestionsOptions,
        uses_judge=True,
        # the labelled form runs the JSONL's cases too, when a config lists both datasets
        labelled=dataclasses.replace(LABELLED_QUESTIONS, run=_run_either),
    )
)
