"""suites/fit: a CV against a posting (``prepbot.cv.fit``) on hand-labelled verdicts per item
(evals/fit.jsonl, CVs in evals/cvs/), and the questions a CV-aware set asks (``cv_questions``)."""

from __future__ import annotations

import re
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from prepbot.evals.results import CaseResult, Value
from prepbot.evals.suite import LLM_USAGE_METRICS, Metric, Suite, SuiteContext, register, usage_values
from prepbot.evals.suites.question_sets import _RecordingLLM
from prepbot.text import detect_language

Verdict = Literal["covered", "partly", "not_shown"]
_MARKER = re.compile(r"^\s*(?:[-*•・●◆■]|\d+[.)、])\s*")


class FitLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str  # the posting item's exact text
    section: str
    verdict: Verdict
    evidence: list[str] = Field(default_factory=list)  # the CV lines that show it, bullet markers stripped


class FitCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    cv: str  # a CV file, relative to the config's root
    posting: str  # a posting file of the config's `postings`
    labels: list[FitLabel]


class CvQuestionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=4, ge=1, le=20)
    judge: bool = True  # asks_own_experience (a judge call per question quoting a CV line)


def _stored_cv(case: FitCase, context: SuiteContext) -> tuple[str, str]:
    """The case's posting ID in the eval store, and its CV's ID there (added once)."""
    from prepbot.cv import parse_cv, read_cv
    from prepbot.cv.store import CVStore

    store = context.store()
    posting = store.posting(case.posting)
    cv = parse_cv(read_cv(context.path(case.cv)), str(context.path(case.cv)))
    CVStore(store.index).add(cv)
    return posting.id, cv.id


def _same_line(claim: str, evidence: list[str]) -> bool:
    text = " ".join(_MARKER.sub("", claim).split())
    return any(" ".join(line.split()) in (text, claim) or text in " ".join(line.split()) for line in evidence)


def run_fit(case: FitCase, context: SuiteContext) -> CaseResult:
    from prepbot.cv import fit as fits
    from prepbot.cv.store import CVStore

    posting_id, cv_id = _stored_cv(case, context)
    index = context.store().index
    llm = _RecordingLLM(context.llm(), {fits.PROMPT: context.prompt(fits.PROMPT)})
    fit_map = fits.fit(
        context.settings,
        posting_id=posting_id,
        cv_id=cv_id,
        index=index,
        llm=llm,  # type: ignore[arg-type]
        no_cache=context.no_cache,
    )
    by_text = {item.requirement.text: item for item in fit_map.items}
    stored = CVStore(index).get(cv_id)
    claims = {claim.id: claim for claim in stored.claims} if stored else {}
    agree, shown, evidence, valid, rows = [], [], [], [], []
    for label in case.labels:
        found = by_text.get(label.item)
        verdict = found.verdict if found else "not_shown"
        agree.append(float(verdict == label.verdict))
        shown.append(float((verdict != "not_shown") == (label.verdict != "not_shown")))
        quoted = found.evidence if found else []
        if label.verdict != "not_shown" and verdict != "not_shown":
            evidence.append(float(any(_same_line(e.quote, label.evidence) for e in quoted)))
        valid += [float(e.claim_id in claims and claims[e.claim_id].text == e.quote) for e in quoted]
        rows.append({"item": label.item[:80], "label": label.verdict, "got": verdict})
    values: dict[str, Value] = {
        "verdict_agreement": agree,
        "shown_agreement": shown,
        "evidence_match": evidence,
        "quote_validity": valid,
        "fit_s": fit_map.latency_s,
        **usage_values(llm.generations),
    }
    language = context.store().index.posting_summary(posting_id)
    return CaseResult(
        id=case.id,
        passed=sum(agree) >= 0.6 * len(agree) and all(valid),
        values=values,
        expected={"labels": [r["label"] for r in rows]},
        got={"items": rows, "coverage": fit_map.coverage},
        slices={"lang": language.language if language else "?"},
    )


def run_cv_questions(case: FitCase, context: SuiteContext) -> CaseResult:
    """A CV-aware question set on the case's posting: each question on a requirement proves a CV line or names
    the gap; quoted lines are the CV's own; the judge says whether it asks about the candidate's experience."""
    from prepbot.questions import SetRequest, generate_set
    from prepbot.questions.checks import check_cv_claims, references_cv

    options = cast(CvQuestionOptions, context.options)
    posting_id, cv_id = _stored_cv(case, context)
    index = context.store().index
    llm = _RecordingLLM(context.llm(), {"question": context.prompt("question"), "fit": context.prompt("fit")})
    request = SetRequest(n=options.n, kind="mixed", cv_id=cv_id)
    question_set = generate_set(
        context.settings,
        request,
        posting_id=posting_id,
        llm=llm,  # type: ignore[arg-type]
        index=index,
        no_cache=context.no_cache,
        prompt=context.prompt("question"),
        save=False,
    )
    requirement_questions = [
        q for q in question_set.questions if q.citations and q.citations[0].id.split("/")[-1].startswith("requirement")
    ]
    grounded = [float(q.cv_claim is not None or q.cv_gap) for q in requirement_questions]
    referenced = [
        references_cv(q.text, q.cv_claim.quote if q.cv_claim else None)
        for q in question_set.questions
        if q.cv_claim or q.cv_gap
    ]
    problems = check_cv_claims(question_set, index)
    own, judge_errors = [], 0
    for question in question_set.questions:
        if question.cv_claim is None or not options.judge:
            continue
        try:
            verdict = context.judge({"question": question.text, "cv_line": question.cv_claim.quote})
            own.append(_yes(verdict))
        except Exception:  # a judge that gives no verdict is counted, never a failed case
            judge_errors += 1
    values: dict[str, Value] = {
        "cv_grounded": grounded,
        "cv_referenced": referenced,
        "language_match": [float(detect_language(q.text) == question_set.language) for q in question_set.questions],
        "cv_quote_validity": 0.0 if problems else 1.0,
        "asks_own_experience": own,
        "judge_errors": float(judge_errors),
        **usage_values(llm.generations),
    }
    return CaseResult(
        id=case.id,
        passed=not problems and all(grounded),
        values=values,
        got={
            "questions": [
                {"text": q.text, "cv_claim": q.cv_claim.quote if q.cv_claim else None, "cv_gap": q.cv_gap}
                for q in question_set.questions
            ],
            "problems": problems,
        },
    )


def _yes(generation: object) -> float:
    from prepbot.grading.checks import yes_probability

    return 1.0 if yes_probability(generation) >= 0.5 else 0.0  # type: ignore[arg-type]


register(
    Suite(
        name="fit",
        description="CVs against postings: verdict per item (covered/partly/not shown) against hand labels",
        dataset="evals/fit.jsonl",
        case_model=FitCase,
        run=run_fit,
        needs_llm=True,
        prompts=("fit",),
        metrics=(
            Metric("verdict_agreement", "share of items whose verdict equals the label (3 classes)"),
            Metric("shown_agreement", "share of items where shown (covered or partly) vs not shown agrees"),
            Metric("evidence_match", "items shown by both: the quoted CV line is one the label names"),
            Metric("quote_validity", "quoted CV lines that are a stored claim's exact text"),
            Metric("fit_s", "seconds per fit map (one CV, one posting)", higher_is_better=False, gated=False),
            *LLM_USAGE_METRICS,
        ),
    )
)

register(
    Suite(
        name="cv_questions",
        description="CV-aware question sets: each question on a requirement proves a CV line or names the gap",
        dataset="evals/fit.jsonl",
        case_model=FitCase,
        run=run_cv_questions,
        needs_llm=True,
        prompts=("question", "fit"),
        options=CvQuestionOptions,
        uses_judge=True,
        judge_prompt="cv_prompt",
        metrics=(
            Metric("cv_grounded", "questions on requirements that quote a CV line or name the CV's gap"),
            Metric("cv_referenced", "questions on a CV line that share its words; questions on a gap that name the CV"),
            Metric("language_match", "questions written in the set's language (the CV line may be in another)"),
            Metric("cv_quote_validity", "sets whose quoted CV lines are all the CV's exact text"),
            Metric("asks_own_experience", "judge: the question asks about the candidate's own CV line (yes share)"),
            Metric("judge_errors", "questions the judge gave no verdict on", higher_is_better=False, gated=False),
            *LLM_USAGE_METRICS,
        ),
    )
)
