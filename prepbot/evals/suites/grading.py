"""grading"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from prepbot.errors import PrepbotError
from prepbot.evals import metrics
from prepbot.evals.results import CaseResult, Value
from prepbot.evals.suite import (
    LLM_USAGE_METRICS,
    Metric,
    Suite,
    SuiteContext,
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
from prepbot.evals.suites.judging import FeedbackJudgement
from prepbot.evals.suites.questions import _posting


def grade(
    context: SuiteContext,
    posting_id: str,
    requirement_id: str | None,
    question: str,
    answer: str,
    feedback: bool = True,
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
        rubric=None,
        index=context.store().index,
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
    kind: Literal["strong", "partial", "weak", "off_topic", "empty", "other_language"]
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


def judge_feedback(context: SuiteContext, case: GradingCase, result: Any) -> tuple[dict[str, Value], Any]:
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
    slices: dict[str, str] = {"lang": case.lang, "kind": case.kind}
    expected = {"label": case.label, "kind": case.kind, "requirement": requirement_id, "note": case.note}
    try:
        result = grade(
            context,
            posting.id,
            requirement_id,
            case.question,
            case.answer,
            feedback=cast(GradingOptions, context.options).feedback,
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
    options = cast(GradingOptions, context.options)
    if options.feedback and getattr(result, "prompt", None):
        values["feedback_errors"] = 1.0 if getattr(result, "feedback_error", None) else 0.0
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
            "grader": [getattr(result, key, None) for key in ("prompt", "backend", "model")],
            "cites": cited,
            **({"feedback_error": result.feedback_error} if getattr(result, "feedback_error", None) else {}),
            "feedback": _feedback(result)[:3],
            **({"judge": verdict} if verdict else {}),
        },
        slices=slices,
    )


STRETCHES = tuple(1.0 + 0.25 * k for k in range(7))  # 1.0 .. 2.5


def calibrate(results: list[CaseResult], context: SuiteContext) -> list[str]:
    """With ``calibrate: true``: the stretch (of ``grading.calibrated_score``) that ranks this run's answers
    closest to their labels (Spearman; ties to the smaller MAE), recorded for the grader that scored them."""
    if not cast(GradingOptions, context.options).calibrate:
        return []
    from prepbot.grading import calibrated_score, record

    scored = [r for r in results if r.got.get("expected_score") is not None and all(r.got.get("grader") or [None])]
    if len(scored) < 10:
        return [f"calibration: {len(scored)} answers with probabilities, 10 needed; nothing recorded"]
    labels = [float(cast(float, r.values["label"])) for r in scored]
    digits = [int(r.got["digit"]) for r in scored]

    def fit(stretch: float | None) -> tuple[float, float]:
        got = [float(calibrated_score(d, r.got["expected_score"], stretch)) for d, r in zip(digits, scored)]
        mae = sum(abs(a - b) for a, b in zip(got, labels)) / len(got)
        return metrics.spearman(labels, got) or 0.0, mae

    best = max(STRETCHES, key=lambda s: (round(fit(s)[0], 4), -fit(s)[1]))
    (rho, mae), (rho_digit, mae_digit) = fit(best), fit(None)
    prompt, backend, model = scored[0].got["grader"]
    record(
        context.settings,
        prompt=prompt,
        backend=backend,
        model=model,
        stretch=best,
        measured_on=f"prepbot eval --suite grading ({len(scored)} labelled answers), {date.today().isoformat()}",
        spearman=round(rho, 3),
        spearman_digit=round(rho_digit, 3),
        mae=round(mae, 3),
        mae_digit=round(mae_digit, 3),
    )
    return [
        f"calibration: {prompt} on {backend}/{model}: stretch {best} (Spearman {rho:.3f}, digit {rho_digit:.3f}) recorded"
    ]


_TIME_TO_SCORE = Metric(
    "score_latency_p50",
    "median seconds until the score was known",
    higher_is_better=False,
    gated=False,
    aggregate=percentile_of("score_latency_s", 50),
)


register(
    Suite(
        name="grading",
        description="question + requirement + answer -> a grade 1-5, against the reference labels",
        dataset="evals/grading.jsonl",
        case_model=GradingCase,
        run=run_grading,
        metrics=(
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
            Metric(
                "judge_errors",
                "grades the judge gave no valid verdict on",
                higher_is_better=False,
                gated=False,
                aggregate=sum_of("judge_errors"),
            ),
            *LLM_USAGE_METRICS,
        ),
        needs_llm=True,
        prompts=("grade", "feedback"),
        options=GradingOptions,
        finish=calibrate,
        uses_judge=True,
        judge_prompt="feedback_prompt",
    )
)
