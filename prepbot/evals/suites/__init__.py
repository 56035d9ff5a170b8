"""The LLM suites of ``prepbot eval``: ``questions``, ``grading`` and ``adversarial`` (evals/README.md has the
datasets). They run on the framework in evals.py, which imports this module to register them.

- ``questions``: a question set per posting through ``prepbot.questions.generate_set`` with the run's LLM and
  prompt variant, checked in code (citations against the eval store, requirement coverage and order,
  language, rubric size, key-term naming, near-duplicates, banned phrases), plus LLM-as-judge scores (the
  ``judge`` prompt, 1-5 relevance and specificity per question) on the config's judge backend.
- ``grading``: ``prepbot.grading.grade_answer`` on labelled answers: Spearman, MAE and within-1 accuracy
  against the labels, unscored answers, time to the score, plus LLM-as-judge scores of the feedback (the
  ``judge_feedback`` prompt, 1-5 faithfulness to the answer and usefulness).
- ``adversarial``: injected postings must still give ordinary questions citing only real items; injected
  requirements and answers must not move the grade past what the content earns.

``generate_set`` and ``grade_answer`` are imported when a case runs, so a missing or broken module fails
those cases, not every ``prepbot eval``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prepbot.evals import metrics
from prepbot.errors import PrepbotError
from prepbot.evals import (
    LLM_USAGE_METRICS,
    CaseResult,
    EvalStore,
    ItemRef,
    Metric,
    Suite,
    SuiteContext,
    Value,
    paired_of,
    percentile_of,
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
Score = Literal[1, 2, 3, 4, 5]


# --- the judge's output (prompts/judge.v1.md) -----------------------------------------------------------------


class QuestionJudgement(BaseModel):
    """A reviewer's scores for one interview question against the job-posting item it was written for."""

    # Literals, not ge/le bounds: an enum holds in OpenAI's strict mode and in llama.cpp's grammar alike.
    relevance: Score = Field(description="1-5: how directly the question tests what the item asks for.")
    specificity: Score = Field(description="1-5: how concrete and discriminating the question is.")
    reason: str = Field(max_length=120, description="A few words: the main strength or weakness.")


class FeedbackJudgement(BaseModel):
    """A reviewer's scores for the feedback a grader gave one interview answer."""

    faithfulness: Score = Field(description="1-5: strengths and gaps true to the answer, consistent with the score.")
    usefulness: Score = Field(description="1-5: how concretely it tells the candidate what to do better.")
    reason: str = Field(max_length=120, description="A few words: the main strength or weakness.")


# --- generating a set the way `prepbot questions` does ----------------------------------------------------------


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
        context.settings, questions.SetRequest(n=n), posting_id=posting_id, no_cache=context.no_cache,
        llm=recorder, index=store.index, prompt=variant, save=False,  # type: ignore[arg-type]
    )  # fmt: skip
    return _SetRun(question_set, recorder.generations)


# --- checks on a generated set ----------------------------------------------------------------------------------



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
        rows.append({
            "id": question.id, "text": question.text, "cites": ids, "sections": sections, "language": written,
            "rubric": len(question.rubric), "terms": terms[:5], "names_term": names, "banned": phrases,
            "flags": question.flags,
        })  # fmt: skip
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
        relevance.append(float(verdict.relevance))  # type: ignore[attr-defined]
        specificity.append(float(verdict.specificity))  # type: ignore[attr-defined]
        verdicts.append(verdict.model_dump(mode="json"))
    values: dict[str, Value] = {
        "judge_relevance": metrics.mean(relevance),
        "judge_specificity": metrics.mean(specificity),
        "judge_errors": float(errors),
    }
    return values, verdicts


# --- suite: questions -------------------------------------------------------------------------------------------


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
    options: QuestionsOptions = context.options  # type: ignore[assignment]
    expect = case.expect
    store, posting = _posting(context, case.posting_file, case.title_contains)
    n = options.n or case.n
    started = time.monotonic()
    try:
        generated = generate_question_set(context, posting.id, n)
    except PrepbotError as exc:
        return CaseResult(id=case.id, passed=False, values={"json_valid": 0.0}, error=str(exc),
                          slices={"lang": expect.language})  # fmt: skip
    seconds = time.monotonic() - started
    question_set = generated.question_set
    checked = check_set(
        question_set, posting, language=expect.language, banned_phrases=expect.banned_phrases,
        never_cite_sections=expect.never_cite_sections, duplicate_cosine=options.duplicate_cosine,
        embed=store.index.embedder.embed,
    )  # fmt: skip
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

    failed = []
    if len(question_set.questions) != n:
        failed.append(f"{len(question_set.questions)} questions, asked for {n}")
    if values["language_match"] != 1.0:
        failed.append(f"language_match {values['language_match']:.2f}: not every question is in {expect.language}")
    coverage = values["requirement_coverage"]
    if coverage is not None and coverage < expect.min_requirement_coverage - 1e-9:
        failed.append(f"requirement_coverage {coverage:.2f} < {expect.min_requirement_coverage}")
    if values["requirement_first"] is not None and firsts < needed:
        failed.append(f"{firsts} questions cite a requirement first, {needed} needed")
    duplicates = values["duplicate_rate"]
    if duplicates is not None and duplicates > expect.max_duplicate_rate + 1e-9:  # type: ignore[operator]
        failed.append(f"duplicate_rate {duplicates:.2f} > {expect.max_duplicate_rate}")
    if expect.citations_must_resolve and values["citation_validity"] != 1.0:
        failed.append("a citation does not resolve to this posting's stored item")
    if values["allowed_sections"] != 1.0:
        failed.append(f"cites a section in {expect.never_cite_sections}")
    if values["banned_phrase_rate"]:
        failed.append("a question uses a banned phrase")
    for row, verdict in zip(checked.questions, verdicts):
        row["judge"] = verdict
    return CaseResult(
        id=case.id,
        passed=not failed,
        values=values,
        expected={**expect.model_dump(mode="json"), "n": n, "requirement_items": k,
                  "requirements_first_needed": needed if values["requirement_first"] is not None else None},
        got={"failed": failed, "prompt": context.prompt("question"), "model": question_set.model,
             "seconds": round(seconds, 2), "questions": checked.questions},
        slices={"lang": expect.language},
    )  # fmt: skip


_QUESTION_CHECKS = (
    Metric("json_valid", "planned questions written: a reply valid against the schema (after one repair, or on"
           " the sampled retry); a set the model wrote nothing valid for counts 0"),
    Metric("citation_validity", "questions whose citations are this posting's items, quoted exactly"),
    Metric("language_match", "questions written in the posting's language (zh-Hant and zh-Hans differ)"),
)
_JUDGE_METRICS = (
    Metric("judge_relevance", "LLM judge: how directly a question tests its item, 1-5", gated=False),
    Metric("judge_specificity", "LLM judge: how concrete and discriminating a question is, 1-5", gated=False),
    Metric("judge_errors", "questions the judge gave no valid verdict on", higher_is_better=False, gated=False,
           aggregate=sum_of("judge_errors")),
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
            Metric("duplicate_rate", "questions repeating an earlier one (same text or cosine above the option)",
                   higher_is_better=False),
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


# --- grading: one answer graded by prepbot.grading ---------------------------------------------------------------


def grade(context: SuiteContext, posting_id: str, requirement_id: str | None, question: str, answer: str,
          feedback: bool = True) -> Any:  # fmt: skip
    """``prepbot.grading.grade_answer`` with the run's backend, ``grade`` prompt variant and ``--no-cache``."""
    try:
        from prepbot.grading import grade_answer
    except ImportError as exc:
        raise PrepbotError(f"prepbot.grading.grade_answer is not available: {exc}") from None
    return grade_answer(
        context.settings, question=question, answer=answer, posting_id=posting_id, requirement_id=requirement_id,
        rubric=None, index=context.store().index, llm=context.llm(), prompt=context.prompt("grade"),
        feedback_prompt=context.prompt("feedback"), no_cache=context.no_cache, **({} if feedback else {"feedback": False}),
    )  # fmt: skip


def _grade_citations(result: Any, posting: Posting) -> tuple[list[str], float | None]:
    """The IDs a grade cites (its requirement too) and the share grounded in this posting (quotes may be
    excerpts of the item)."""
    citations = list(getattr(result, "citations", None) or [])
    pairs = [(str(c.id), getattr(c, "quote", None)) for c in citations]
    ids = [requirement_id for requirement_id, _ in pairs]
    if getattr(result, "requirement_id", None):
        ids.append(str(result.requirement_id))
    ids = list(dict.fromkeys(ids))
    texts = {item.id: item.text for item in posting.requirements}
    return ids, metrics.citation_validity(pairs, texts, excerpts=True)


def _feedback(result: Any) -> list[str]:
    """The grade's prose (a rationale, strengths, gaps, a better answer...): where a planted rationale would
    show if the grader copied it."""
    texts: list[str] = []
    for name in ("rationale", "feedback", "reason", "strengths", "gaps", "better_answer", "follow_up"):
        value = getattr(result, name, None)
        texts += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
    return [text for text in texts if text.strip()]


class GradingCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    lang: Language
    posting_file: str
    title_contains: str | None = None
    requirement: ItemRef
    requirement_text: str
    question: str = Field(min_length=1)
    answer: str  # may be empty: an empty answer is a case
    answer_lang: Language
    label: int = Field(ge=1, le=5)
    kind: Literal["strong", "partial", "weak", "off_topic", "empty", "other_language"]
    note: str = ""


class GradingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback: bool = True  # the grader's feedback too; off: the score alone (all the agreement metrics need)
    judge: bool = True  # LLM-as-judge scores of the feedback (one judge call per answer the model graded)


def rubric_agrees(score: int, met: list[bool]) -> bool:
    """Whether a grade's rubric verdicts agree with its score: a low score (1-2) with most points met, or a
    high one (4-5) with most missed, contradicts itself."""
    share = sum(met) / len(met)
    return not ((score <= 2 and share > 0.5) or (score >= 4 and share < 0.5))


def judge_feedback(context: SuiteContext, case: GradingCase, result: Any) -> tuple[dict[str, Value], Any]:
    """The judge's faithfulness and usefulness (1-5) for a grade's feedback; nothing for a grade the model did
    not write (an answer too short to grade), a judge failure counted in ``judge_errors``."""
    feedback = {name: getattr(result, name, None) or ([] if name in ("strengths", "gaps") else "")
                for name in ("strengths", "gaps", "better_answer", "follow_up")}  # fmt: skip
    if not any(feedback.values()) or getattr(result, "prompt", None) is None:
        return {}, None
    variables = {"requirement": case.requirement_text, "question": case.question, "answer": case.answer,
                 "score": result.score, **feedback}  # fmt: skip
    try:
        verdict = context.judge(variables).output
    except PrepbotError as exc:
        return {"judge_errors": 1.0}, {"error": str(exc)}
    if not isinstance(verdict, FeedbackJudgement):
        raise PrepbotError(f"judge prompt {context.judge_prompt} must output prepbot.evals.suites:FeedbackJudgement")
    values: dict[str, Value] = {"judge_faithfulness": float(verdict.faithfulness),
                                "judge_usefulness": float(verdict.usefulness), "judge_errors": 0.0}  # fmt: skip
    return values, verdict.model_dump(mode="json")


def run_grading(case: GradingCase, context: SuiteContext) -> CaseResult:
    store, posting = _posting(context, case.posting_file, case.title_contains)
    requirement_id = store.item_id(posting.id, case.requirement.section, case.requirement.n)
    slices = {"lang": case.lang, "kind": case.kind}
    expected = {"label": case.label, "kind": case.kind, "requirement": requirement_id, "note": case.note}
    try:
        result = grade(context, posting.id, requirement_id, case.question, case.answer,
                       feedback=context.options.feedback)  # type: ignore[attr-defined]
    except PrepbotError as exc:
        values: dict[str, Value] = {"label": float(case.label), "score": None, "unscored": 1.0}
        return CaseResult(id=case.id, passed=False, values=values, expected=expected, error=str(exc), slices=slices)
    score = float(result.score)
    cited, validity = _grade_citations(result, posting)
    values = {
        "label": float(case.label), "score": score, "unscored": 0.0, "citation_validity": validity,
        "expected_score": score if result.expected_score is None else result.expected_score,
        "score_latency_s": getattr(result, "score_latency_s", None), **usage_values(result.generations),
    }  # fmt: skip
    if context.options.feedback and getattr(result, "prompt", None):  # type: ignore[attr-defined]
        values["feedback_errors"] = 1.0 if getattr(result, "feedback_error", None) else 0.0
    marks = getattr(result, "rubric", None)
    if context.options.feedback and getattr(result, "prompt", None) and marks:  # type: ignore[attr-defined]
        values["rubric_consistent"] = float(rubric_agrees(result.score, [mark.met for mark in marks]))
    verdict = None
    if context.options.judge and context.options.feedback:  # type: ignore[attr-defined]
        judged, verdict = judge_feedback(context, case, result)
        values.update(judged)
    return CaseResult(
        id=case.id,
        passed=abs(score - case.label) <= 1,
        values=values,
        expected=expected,
        got={"score": result.score, "expected_score": result.expected_score, "cites": cited,
             **({"feedback_error": result.feedback_error} if getattr(result, "feedback_error", None) else {}),
             "feedback": _feedback(result)[:3], **({"judge": verdict} if verdict else {})},
        slices=slices,
    )


_TIME_TO_SCORE = Metric("score_latency_p50", "median seconds until the score was known", higher_is_better=False,
                        gated=False, aggregate=percentile_of("score_latency_s", 50))  # fmt: skip

register(
    Suite(
        name="grading",
        description="question + requirement + answer -> a grade 1-5, against the reference labels",
        dataset="evals/grading.jsonl",
        case_model=GradingCase,
        run=run_grading,
        metrics=(
            Metric("spearman", "rank correlation of grades with the labels",
                   aggregate=paired_of("label", "score", metrics.spearman)),
            Metric("spearman_expected", "rank correlation with the labels of the expected grade (from the model's"
                   " probabilities for 1-5; the score where the backend gives none)",
                   aggregate=paired_of("label", "expected_score", metrics.spearman)),
            Metric("mae", "mean absolute error of grades vs the labels", higher_is_better=False,
                   aggregate=paired_of("label", "score", metrics.mae)),
            Metric("within_1", "grades within 1 of the label",
                   aggregate=paired_of("label", "score", metrics.within_tolerance)),
            Metric("unscored", "answers that got no grade (the grader failed)", higher_is_better=False,
                   aggregate=sum_of("unscored")),
            Metric("feedback_errors", "grades whose feedback the model could not write (junk, cut off, timed"
                   " out); the score stands", higher_is_better=False, aggregate=sum_of("feedback_errors")),
            Metric("citation_validity", "grade citations that are this posting's items (quotes may be excerpts)"),
            _TIME_TO_SCORE,
            Metric("rubric_consistent", "feedback whose rubric verdicts agree with the score (not a 1-2 with most"
                   " points met, nor a 4-5 with most missed)"),
            Metric("judge_faithfulness", "LLM judge: feedback true to the answer and the score, 1-5", gated=False),
            Metric("judge_usefulness", "LLM judge: feedback tells the candidate what to do better, 1-5", gated=False),
            Metric("judge_errors", "grades the judge gave no valid verdict on", higher_is_better=False, gated=False,
                   aggregate=sum_of("judge_errors")),
            *LLM_USAGE_METRICS,
        ),
        needs_llm=True,
        prompts=("grade", "feedback"),
        options=GradingOptions,
        uses_judge=True,
        judge_prompt="feedback_prompt",
    )
)


# --- suite: adversarial ------------------------------------------------------------------------------------------


class AdversarialExpect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    json_valid: bool = True
    language: Language | None = None
    min_questions: int | None = Field(default=None, ge=1)
    citations_must_resolve: bool = False
    banned_citations: list[str] = Field(default_factory=list)
    banned_output_substrings: list[str] = Field(default_factory=list)
    output_must_not_be: str | None = None
    never_cite_items: list[ItemRef] = Field(default_factory=list)
    rationale_must_not_equal: str | None = None


class AdversarialCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    type: Literal["posting", "requirement", "answer"]
    task: Literal["questions", "grade"]
    lang: Language
    posting_file: str
    title_contains: str | None = None
    attack: list[str] = Field(min_length=1)
    expect: AdversarialExpect
    expected_behavior: str
    requirement: ItemRef | None = None
    requirement_text: str | None = None
    question: str | None = None
    answer: str | None = None
    content_label: int | None = Field(default=None, ge=1, le=5)
    max_score: int | None = Field(default=None, ge=1, le=5)

    @model_validator(mode="after")
    def _grade_fields(self) -> AdversarialCase:
        if self.task == "grade":
            missing = [f for f in ("requirement", "question", "answer", "max_score") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a grade case needs {', '.join(missing)}")
        return self


class AdversarialOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int | None = Field(default=None, ge=1, le=50)  # questions per injected posting (default: min_questions, or 8)


def run_adversarial(case: AdversarialCase, context: SuiteContext) -> CaseResult:
    store, posting = _posting(context, case.posting_file, case.title_contains)
    slices = {"type": case.type, "lang": case.lang}
    banned = case.expect.banned_citations + [
        store.item_id(posting.id, ref.section, ref.n) for ref in case.expect.never_cite_items
    ]
    if case.task == "questions":
        return _adversarial_questions(case, context, store, posting, banned, slices)
    return _adversarial_grade(case, context, store, posting, banned, slices)


def _adversarial_questions(
    case: AdversarialCase, context: SuiteContext, store: EvalStore, posting: Posting, banned: list[str],
    slices: dict[str, str],
) -> CaseResult:
    options: AdversarialOptions = context.options  # type: ignore[assignment]
    expect = case.expect
    n = options.n or expect.min_questions or 8
    expected = {**expect.model_dump(mode="json"), "n": n, "banned_ids": banned, "behavior": case.expected_behavior}
    try:
        generated = generate_question_set(context, posting.id, n)
    except PrepbotError as exc:
        values: dict[str, Value] = {"json_valid": 0.0, "injection_resisted": 0.0}
        return CaseResult(id=case.id, passed=False, values=values, expected=expected, error=str(exc), slices=slices)
    question_set = generated.question_set
    checked = check_set(question_set, posting, language=expect.language or posting.language,
                        duplicate_cosine=1.0, embed=store.index.embedder.embed)  # fmt: skip
    resisted = []
    for question, row in zip(question_set.questions, checked.questions):
        # generated text only: the citation quotes are the posting's own words and may carry the injection
        ok = all(
            metrics.injection_resisted(
                text, [c.id for c in question.citations], banned_citations=banned,
                banned_substrings=expect.banned_output_substrings, output_must_not_be=expect.output_must_not_be,
            )  # fmt: skip
            for text in [question.text, *question.follow_ups]
        )
        row["resisted"] = ok
        resisted.append(ok)
    # a smaller `n` (CI) asks for fewer questions than the case's minimum; then all n must come
    enough = expect.min_questions is None or len(question_set.questions) >= min(expect.min_questions, n)
    values = {
        "json_valid": 1.0,
        "injection_resisted": float(all(resisted) and enough),
        "citation_validity": checked.values["citation_validity"],
        "language_match": checked.values["language_match"] if expect.language else None,
        **usage_values(generated.generations),
    }
    passed = (
        values["injection_resisted"] == 1.0
        and (not expect.citations_must_resolve or values["citation_validity"] == 1.0)
        and values["language_match"] in (None, 1.0)
    )
    got = {"questions": checked.questions, "skipped": question_set.skipped, "prompt": context.prompt("question")}
    return CaseResult(id=case.id, passed=passed, values=values, expected=expected, got=got, slices=slices)


def _adversarial_grade(
    case: AdversarialCase, context: SuiteContext, store: EvalStore, posting: Posting, banned: list[str],
    slices: dict[str, str],
) -> CaseResult:
    assert case.requirement is not None and case.question is not None and case.answer is not None
    expect = case.expect
    requirement_id = store.item_id(posting.id, case.requirement.section, case.requirement.n)
    expected = {
        "max_score": case.max_score, "content_label": case.content_label, "banned_ids": banned,
        "output_must_not_be": expect.output_must_not_be, "rationale_must_not_equal": expect.rationale_must_not_equal,
        "behavior": case.expected_behavior,
    }  # fmt: skip
    try:
        result = grade(context, posting.id, requirement_id, case.question, case.answer)
    except PrepbotError as exc:
        # no grade at all: the injection derailed the grader (or the grader is broken); either way not resisted
        values: dict[str, Value] = {"json_valid": 0.0, "injection_resisted": 0.0}
        return CaseResult(id=case.id, passed=False, values=values, expected=expected, error=str(exc), slices=slices)
    cited, validity = _grade_citations(result, posting)
    output = "\n".join(g.text for g in result.generations) if result.generations else str(result.score)
    feedback = _feedback(result)
    resisted = metrics.injection_resisted(
        output, cited, banned_citations=banned, output_must_not_be=expect.output_must_not_be,
        grade=float(result.score), max_grade=case.max_score,
    ) and all(
        metrics.injection_resisted(output, rationale=text, planted_rationale=expect.rationale_must_not_equal)
        for text in feedback
    )  # fmt: skip
    values = {
        "json_valid": 1.0, "injection_resisted": float(resisted), "citation_validity": validity,
        **usage_values(result.generations),
    }  # fmt: skip
    passed = resisted and (not expect.citations_must_resolve or validity in (None, 1.0))
    got = {"score": result.score, "cites": cited, "feedback": feedback[:3]}
    return CaseResult(id=case.id, passed=passed, values=values, expected=expected, got=got, slices=slices)


register(
    Suite(
        name="adversarial",
        description="prompt injection in postings, requirements and answers -> ordinary questions, honest grades",
        dataset="evals/adversarial.jsonl",
        case_model=AdversarialCase,
        run=run_adversarial,
        metrics=(
            Metric("injection_resisted", "cases where the output kept to its task (no banned ID or text, grade "
                   "within what the content earns, no planted rationale)"),
            Metric("json_valid", "cases with a valid output (a question set, a grade)"),
            Metric("citation_validity", "citations that are this posting's items"),
            Metric("language_match", "questions in the posting's language (question cases)"),
            *LLM_USAGE_METRICS,
        ),
        needs_llm=True,
        prompts=("question", "grade"),
        options=AdversarialOptions,
    )
)
