"""Grading one answer: the score in a call of its own, then the feedback continuing the same conversation.

``grade`` asks for the score alone (a few tokens), so the score is known as soon as the answer is read; the
small model's score drifts when its prompt also describes feedback or asks for anything written before the
score. The scale and calibrated examples live in the system message, which never varies, so the local model
reuses its evaluated prefix from one grade to the next; ``prewarm`` evaluates everything but the answer while
the candidate is still typing it. Everything the candidate or the posting wrote is data between tags.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prepbot.errors import PrepbotError, UsageError
from prepbot.grading.answers import check_answer, too_short
from prepbot.grading.calibration import calibrated_score, grader_calibration
from prepbot.grading.checks import Reading, read_answer
from prepbot.grading.citations import cite, tested_item, touched_items
from prepbot.grading.claims import figures_differ
from prepbot.grading.combination import findings
from prepbot.grading.feedback import FEEDBACK_PROMPT, explain, feedback_fields
from prepbot.grading.injection import as_data
from prepbot.grading.models import Grade, GradeListener, RubricMark
from prepbot.grading.relevance import relevance
from prepbot.grading.shape import shape
from prepbot.grading.stream import GradeStream

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.grading.calibration import Calibration
    from prepbot.llm import LLM
    from prepbot.postings import Requirement
    from prepbot.retrieval.index import RequirementIndex

PROMPT = "grade"
SCORE_TOP_LOGPROBS = 10  # alternatives asked for at each place of the score reply: 1-5 and room for others
ANSWER_MARK = "\u0000answer\u0000"  # where the answer goes, for prewarm


def grade_answer(
    settings: Settings,
    *,
    question: str,
    answer: str,
    posting_id: str,
    requirement_id: str | None = None,
    rubric: list[str] | None = None,
    language: str | None = None,
    index: RequirementIndex | None = None,
    llm: LLM | None = None,
    prompt: str = PROMPT,
    feedback_prompt: str = FEEDBACK_PROMPT,
    no_cache: bool = False,
    listener: GradeListener | None = None,
    on_token: Callable[[str], None] | None = None,
    feedback: bool = True,
    cv_line: str | None = None,
) -> Grade:
    """Grade ``answer`` to ``question`` against the posting item it tests.

    ``listener`` gets the grade parsed so far as the reply streams (the score first); ``on_token`` the raw
    text. Ctrl-C before the score propagates; during the feedback it ends the feedback (``feedback_error``).
    ``feedback=False``: the score alone (the agreement evals). ``cv_line``, the CV line the question asked the
    candidate to prove, is told to the feedback; figures in the answer that differ from it are a finding."""
    from prepbot.llm import get_llm
    from prepbot.retrieval.index import RequirementIndex

    started = time.monotonic()
    index = index or RequirementIndex(settings)
    answer = _checked(index, question, answer, posting_id)
    # What speaks to the grader in the answer, the question or the rubric is data: the model never reads it.
    question, seen, points, removed = as_data(index.embedder, question, answer, rubric)
    tested = tested_item(index, posting_id, question, requirement_id)
    if too_short(seen):
        return _non_answer(tested, points, started)

    llm = llm or get_llm(settings)
    calibration = grader_calibration(llm, prompt)
    stream = GradeStream(started, listener, on_token, hold_score=calibration is not None)
    variables = score_variables(llm, prompt, tested.text, question, points, seen, language)
    reading, calls = read_answer(llm, prompt, variables, no_cache=no_cache, stream=stream.piece)
    signals = {**reading.checks, **shape(seen), **relevance(index, posting_id, tested.id, question, seen)}
    score, derived, found = _score(reading, signals, calibration, figures_differ(cv_line, seen) if cv_line else None)
    stream.scored(score, reading.expected, found)
    scored = calls[0]
    written, explained, feedback_error = explain(
        llm,
        scored,
        score,
        stream,
        wanted=feedback,
        prompt=feedback_prompt,
        rubric=points,
        language=language,
        no_cache=no_cache,
        findings=found,
        cv_line=cv_line,
    )
    touched = touched_items(index, posting_id, seen, exclude=tested.id)
    done = time.monotonic()
    return Grade(
        score=score,
        expected_score=reading.expected,
        model_score=reading.digit if derived else None,
        signals=signals | ({"instructions_removed": float(removed)} if removed else {}),
        requirement_id=tested.id,
        **feedback_fields(points, written, answer),
        findings=found,
        citations=cite(tested, touched),
        prompt=scored.prompt,
        backend=scored.backend,
        model=scored.model,
        score_latency_s=(stream.score_at or done) - started,
        first_token_s=None if stream.first_at is None else stream.first_at - started,
        latency_s=done - started,
        generations=calls if explained is None else [*calls, explained],
        feedback_error=feedback_error,
    )


def _checked(index: RequirementIndex, question: str, answer: str, posting_id: str) -> str:
    """The answer, stripped; a one-line error for an empty question, a huge answer or an unknown posting."""
    answer = check_answer(answer)
    if not question.strip():
        raise UsageError("the question is empty")
    if index.posting_summary(posting_id) is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    return answer


def _score(
    reading: Reading, signals: dict[str, float], calibration: Calibration | None, against_cv: str | None = None
) -> tuple[int, bool, list[str]]:
    """The score, whether it was derived from probabilities (not the digit as written), and what lowered it:
    the grader's combination of signals, or its stretched expected grade, or the digit; ``against_cv`` is a
    finding on the answer against the candidate's CV line."""
    if reading.expected is not None:
        signals["expected"] = reading.expected
    extra = [against_cv] if against_cv else []
    if calibration is not None and calibration.combination is not None:
        return calibration.combination.score(signals), True, findings(calibration.combination, signals) + extra
    stretch = calibration.stretch if calibration else None
    return (
        calibrated_score(reading.digit, reading.expected, stretch),
        stretch is not None and reading.expected is not None,
        extra,
    )


def _non_answer(tested: Requirement, points: list[str], started: float) -> Grade:
    """The grade of an answer too short to show anything: 1, without a model call."""
    elapsed = time.monotonic() - started
    return Grade(
        score=1,
        requirement_id=tested.id,
        rubric=[RubricMark(point=p, met=False) for p in points],
        strengths=[],
        gaps=["The answer is too short to show anything; answer in a few sentences."],
        better_answer="",
        follow_up="",
        citations=cite(tested, []),
        prompt=None,
        backend=None,
        model=None,
        score_latency_s=elapsed,
        first_token_s=None,
        latency_s=elapsed,
    )


def score_variables(
    llm: LLM, prompt: str, requirement: str, question: str, rubric: list[str], answer: str, language: str | None
) -> dict[str, Any]:
    """The grade prompt's inputs, those of them its version declares (grade@v1 also takes the language)."""
    from prepbot.prompts import load_prompt

    given = {
        "requirement": requirement,
        "question": question.strip(),
        "rubric": rubric,
        "answer": answer,
        "language": language or "",
        "check": "",
    }
    return load_prompt(prompt, llm.settings).declared(given)


def prewarm(
    settings: Settings,
    llm: LLM,
    index: RequirementIndex,
    *,
    question: str,
    requirement_id: str | None,
    posting_id: str,
    rubric: list[str] | None = None,
    prompt: str = PROMPT,
) -> Any:
    """Start evaluating the grade prompt up to where the answer goes, in the background, while the candidate
    types (local model only); returns a handle whose ``cancel()`` stops it, or None."""
    tested = tested_item(index, posting_id, question, requirement_id)
    points = [point.strip() for point in rubric or [] if point.strip()]
    variables = score_variables(llm, prompt, tested.text, question, points, ANSWER_MARK, None)
    return llm.prewarm(prompt, variables, ANSWER_MARK)
