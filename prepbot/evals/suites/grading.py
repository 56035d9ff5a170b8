"""grading"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from prepbot.errors import PrepbotError
from prepbot.evals import labels, metrics
from prepbot.evals.results import CaseResult, Value
from prepbot.evals.suite import (
    LLM_USAGE_METRICS,
    LabelledForm,
    Metric,
    Suite,
    SuiteContext,
    judge_errors,
    mean_of,
    paired_of,
    percentile_of,
    register,
    sum_of,
    usage_values,
)
from prepbot.evals.suites.retrieval import ItemRef
from prepbot.text import Language

if TYPE_CHECKING:
    from prepbot.postings import Posting
from prepbot.evals.suites.grading_fit import calibrate
from prepbot.evals.suites.judging import FeedbackJudgement
from prepbot.evals.suites.questions import _posting


def grade(
    context: SuiteContext,
    index: Any,
    posting_id: str,
    requirement_id: str | None,
    question: str,
    answer: str,
    feedback: bool = True,
    rubric: list[str] | None = None,
) -> Any:
    """``prepbot.grading.grade_answer`` with the run's backend, ``grade`` prompt variant and ``--no-cache``."""
    try:
        from prepbot.grading import grade_answer
    except ImportError as exc:
        raise PrepbotError(f"prepbot.grading.grade_answer is not available: {exc}") from None
    return grade_answer(
        context.settings,
        question=question,
        answer=answer,
        posting_id=posting_id,
        requirement_id=requirement_id,
        rubric=rubric,
        index=index,
        llm=context.llm(),
        prompt=context.prompt("grade"),
        feedback_prompt=context.prompt("feedback"),
        no_cache=context.no_cache,
        **({} if feedback else {"feedback": False}),  # type: ignore[arg-type]  # grade_answer's own default when True
    )


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
    kind: Literal[
        "strong",
        "partial",
        "weak",
        "off_topic",
        "empty",
        "other_language",
        "drift",
        "keyword_soup",
        "terse_correct",
        "misconception",
    ]
    note: str = ""


class GradingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback: bool = True  # the grader's feedback too; off: the score alone (all the agreement metrics need)
    judge: bool = True  # LLM-as-judge scores of the feedback (one judge call per answer the model graded)
    # fit the score stretch on this run's answers and record it in the user's calibration file
    calibrate: bool = False


def rubric_agrees(score: int, met: list[bool]) -> bool:
    """Whether a grade's rubric verdicts agree with its score: a low score (1-2) with most points met, or a
    high one (4-5) with most missed, contradicts itself."""
    share = sum(met) / len(met)
    return not ((score <= 2 and share > 0.5) or (score >= 4 and share < 0.5))


def judge_feedback(context: SuiteContext, case: Graded, result: Any) -> tuple[dict[str, Value], Any]:
    """The judge's faithfulness and usefulness (1-5) for a grade's feedback; nothing for a grade the model did
    not write (an answer too short to grade), a judge failure counted in ``judge_errors``."""
    feedback = {
        name: getattr(result, name, None) or ([] if name in ("strengths", "gaps") else "")
        for name in ("strengths", "gaps", "better_answer", "follow_up")
    }
    if not any(feedback.values()) or getattr(result, "prompt", None) is None:
        return {}, None
    variables = {
        "requirement": case.requirement_text,
        "question": case.question,
        "answer": case.answer,
        "score": result.score,
        **feedback,
    }
    try:
        verdict = context.judge(variables).output
    except PrepbotError as exc:
        return {"judge_errors": 1.0}, {"error": str(exc)}
    if not isinstance(verdict, FeedbackJudgement):
        raise PrepbotError(f"judge prompt {context.judge_prompt} must output prepbot.evals.suites:FeedbackJudgement")
    values: dict[str, Value] = {
        "judge_faithfulness": float(verdict.faithfulness),
        "judge_usefulness": float(verdict.usefulness),
        "judge_errors": 0.0,
    }
    return values, verdict.model_dump(mode="json")


def run_grading(case: GradingCase, context: SuiteContext) -> CaseResult:
    store, posting = _posting(context, case.posting_file, case.title_contains)
    requirement_id = store.item_id(posting.id, case.requirement.section, case.requirement.n)
    return grade_case(
        context,
        Graded(
            id=case.id,
            index=store.index,
            posting=posting,
            requirement_id=requirement_id,
            requirement_text=case.requirement_text,
            question=case.question,
            answer=case.answer,
            label=case.label,
            kind=case.kind,
            lang=case.lang,
            note=case.note,
        ),
    )


class Graded(BaseModel):
    """One answer to grade, from either dataset: where it is stored and what it is labelled."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    index: Any  # the RequirementIndex holding the posting
    posting: Any  # prepbot.postings.Posting
    requirement_id: str | None
    requirement_text: str
    question: str
    answer: str
    label: int
    kind: str
    lang: str
    note: str = ""


SPW_KINDS = ("strong", "partial", "weak")  # the easy kinds, whose order the grader must keep


def grade_case(context: SuiteContext, case: Graded) -> CaseResult:
    posting = case.posting
    slices: dict[str, str] = {"lang": case.lang, "kind": case.kind}
    expected = {"label": case.label, "kind": case.kind, "requirement": case.requirement_id, "note": case.note}
    options = cast(GradingOptions, context.options)
    try:
        result = grade(
            context, case.index, posting.id, case.requirement_id, case.question, case.answer, feedback=options.feedback
        )
    except PrepbotError as exc:
        values: dict[str, Value] = {"label": float(case.label), "score": None, "unscored": 1.0}
        return CaseResult(id=case.id, passed=False, values=values, expected=expected, error=str(exc), slices=slices)
    score = float(result.score)
    cited, validity = _grade_citations(result, posting)
    values = {
        "label": float(case.label),
        "score": score,
        "unscored": 0.0,
        "citation_validity": validity,
        "expected_score": score if result.expected_score is None else result.expected_score,
        "score_latency_s": getattr(result, "score_latency_s", None),
        **usage_values(result.generations),
    }
    if case.kind in SPW_KINDS:
        values["label_spw"] = float(case.label)
    if options.feedback and getattr(result, "prompt", None):
        values["feedback_errors"] = 1.0 if getattr(result, "feedback_error", None) else 0.0
        values["unsupported_claims"] = float(getattr(result, "unsupported_claims", 0) or 0)
    marks = getattr(result, "rubric", None)
    if options.feedback and getattr(result, "prompt", None) and marks:
        values["rubric_consistent"] = float(rubric_agrees(result.score, [mark.met for mark in marks]))
    verdict = None
    if options.judge and options.feedback:
        judged, verdict = judge_feedback(context, case, result)
        values.update(judged)
    return CaseResult(
        id=case.id,
        passed=abs(score - case.label) <= 1,
        values=values,
        expected=expected,
        got={
            "score": result.score,
            "expected_score": result.expected_score,
            "digit": getattr(result, "model_score", None) or result.score,
            "signals": getattr(result, "signals", None) or {},
            "posting": posting.id,
            "grader": [getattr(result, key, None) for key in ("prompt", "backend", "model")],
            "cites": cited,
            **({"feedback_error": result.feedback_error} if getattr(result, "feedback_error", None) else {}),
            "feedback": _feedback(result)[:3],
            **({"judge": verdict} if verdict else {}),
        },
        slices=slices,
    )


# --- the labelled real postings (../shared/postings): every answer of every kind ------------------------------


class LabelledGradingCase(BaseModel):
    """One graded answer of a labelled posting: the item, the question, the answer and its grade."""

    path: Path  # the posting file on disk
    file: str
    posting: labels.LabelledPosting
    posting_number: int  # from 1, in the file's labels
    set_number: int  # from 1, in the posting's answer sets
    item: str
    question: str
    level: str
    grade: int = Field(ge=1, le=5)
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}#{self.posting_number}/{self.set_number}/{self.level}"


def load_labelled_grades(folder: Path) -> list[LabelledGradingCase]:
    cases = [
        LabelledGradingCase(
            path=folder / entry.file,
            file=entry.file,
            posting=posting,
            posting_number=number,
            set_number=set_number,
            item=answer_set.item,
            question=answer_set.question,
            level=answer.level,
            grade=answer.grade,
            text=answer.text,
        )
        for entry in labels.load_labels(folder)
        for number, posting in enumerate(entry.postings, 1)
        for set_number, answer_set in enumerate(posting.answer_sets, 1)
        for answer in answer_set.answers
        if answer.grade is not None
    ]
    return labels.unique_answers(folder, cases)


def run_labelled_grading(case: BaseModel, context: SuiteContext) -> CaseResult:
    if isinstance(case, GradingCase):  # a config may list the JSONL beside the labels folder
        return run_grading(case, context)
    assert isinstance(case, LabelledGradingCase)
    store = context.labelled_store()
    posting = store.read(case.path).labelled(case.posting)
    if posting is None:
        values: dict[str, Value] = {"label": float(case.grade), "score": None, "unscored": 1.0}
        slices = {"lang": case.posting.language, "kind": case.level}
        error = f"the labelled posting {case.posting.title!r} was not found in {case.file}"
        return CaseResult(id=case.id, passed=False, values=values, error=error, slices=slices)
    item = next((r for r in posting.requirements if labels.is_hit(case.item, r.text)), None)
    return grade_case(
        context,
        Graded(
            id=case.id,
            index=store.index,
            posting=posting,
            requirement_id=item.id if item else None,  # not read as an item: the question finds its nearest
            requirement_text=item.text if item else case.item,
            question=case.question,
            answer=case.text,
            label=case.grade,
            kind=case.level,
            lang=case.posting.language,
        ),
    )


_TIME_TO_SCORE = Metric(
    "score_latency_p50",
    "median seconds until the score was known",
    higher_is_better=False,
    gated=False,
    aggregate=percentile_of("score_latency_s", 50),
)


GRADING_METRICS = (
    Metric(
        "spearman",
        "rank correlation of grades with the labels",
        aggregate=paired_of("label", "score", metrics.spearman),
    ),
    Metric(
        "spearman_expected",
        "rank correlation with the labels of the expected grade (from the model's"
        " probabilities for 1-5; the score where the backend gives none)",
        aggregate=paired_of("label", "expected_score", metrics.spearman),
    ),
    Metric(
        "mae",
        "mean absolute error of grades vs the labels",
        higher_is_better=False,
        aggregate=paired_of("label", "score", metrics.mae),
    ),
    Metric(
        "within_1",
        "grades within 1 of the label",
        aggregate=paired_of("label", "score", metrics.within_tolerance),
    ),
    Metric(
        "unscored",
        "answers that got no grade (the grader failed)",
        higher_is_better=False,
        aggregate=sum_of("unscored"),
    ),
    Metric(
        "feedback_errors",
        "grades whose feedback the model could not write (junk, cut off, timed out); the score stands",
        higher_is_better=False,
        aggregate=sum_of("feedback_errors"),
    ),
    Metric("citation_validity", "grade citations that are this posting's items (quotes may be excerpts)"),
    _TIME_TO_SCORE,
    Metric(
        "rubric_consistent",
        "feedback whose rubric verdicts agree with the score (not a 1-2 with most"
        " points met, nor a 4-5 with most missed)",
    ),
    Metric("judge_faithfulness", "LLM judge: feedback true to the answer and the score, 1-5", gated=False),
    Metric("judge_usefulness", "LLM judge: feedback tells the candidate what to do better, 1-5", gated=False),
    judge_errors("grades"),
    *LLM_USAGE_METRICS,
    Metric(
        "spearman_spw",
        "rank correlation with the labels on the strong, partial and weak answers alone (their order kept)",
        aggregate=paired_of("label_spw", "score", metrics.spearman),
    ),
    Metric(
        "score_mean",
        "mean score (per kind in the kind slices, beside label_mean)",
        gated=False,
        aggregate=mean_of("score"),
    ),
    Metric("label_mean", "mean human grade", gated=False, aggregate=mean_of("label")),
    Metric(
        "unsupported_claims",
        "feedback claims (strengths, rubric points met) dropped because their quote is not in the answer",
        higher_is_better=False,
        aggregate=sum_of("unsupported_claims"),
    ),
)


LABELLED_GRADING = LabelledForm(
    description="the graded answers of the labelled real postings (seven kinds) -> a grade 1-5 against their labels",
    load=load_labelled_grades,
    case_model=LabelledGradingCase,
    run=run_labelled_grading,
    metrics=GRADING_METRICS,
    accepts_jsonl=True,
)


register(
    Suite(
        name="grading",
        description="question + requirement + answer -> a grade 1-5, against the reference labels",
        dataset="evals/grading.jsonl",
        case_model=GradingCase,
        run=run_grading,
        metrics=GRADING_METRICS,
        needs_llm=True,
        prompts=("grade", "feedback"),
        options=GradingOptions,
        finish=calibrate,
        labelled=LABELLED_GRADING,
        uses_judge=True,
        judge_prompt="feedback_prompt",
    )
)
