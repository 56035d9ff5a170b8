"""The feedback after the score: rubric verdicts, strengths, gaps, a sketch of a stronger answer, a follow-up.

``feedback`` continues the score's conversation (the local model has it cached, so only the new message is
read). Feedback the model cannot write leaves the score standing, with the reason kept on the grade.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from prepbot.errors import PrepbotError
from prepbot.grading.models import BETTER_ANSWER_MAX, SHORT_MAX, GradeDraft, GradeFeedback, RubricMark
from prepbot.grading.stream import GradeStream

if TYPE_CHECKING:
    from prepbot.llm import LLM, Generation

FEEDBACK_PROMPT = "feedback"
NO_FEEDBACK = GradeFeedback.model_construct(rubric=[], strengths=[], gaps=[], better_answer="", follow_up="")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")


def feedback_variables(llm: LLM, prompt: str, rubric: list[str], score: int, language: str | None) -> dict[str, Any]:
    """The feedback prompt's inputs, those of them its version declares (feedback@v1 is not told the score)."""
    from prepbot.prompts import load_prompt

    return load_prompt(prompt, llm.settings).declared({"language": language or "", "rubric": rubric, "score": score})


def explain(
    llm: LLM,
    scored: Generation,
    score: int,
    stream: GradeStream,
    *,
    wanted: bool,
    prompt: str,
    rubric: list[str],
    language: str | None,
    no_cache: bool,
) -> tuple[Any, Generation | None, str | None]:
    """The feedback part of the grade (a ``GradeFeedback``, or the score reply itself where a one-call prompt
    such as grade@v1 wrote both), the feedback call's generation, and why the feedback failed (or None)."""
    if isinstance(scored.output, GradeDraft):
        return scored.output, None, None
    if not wanted:
        return NO_FEEDBACK, None, None
    stream.next_part()  # a score-only prompt: the feedback continues its conversation
    variables = feedback_variables(llm, prompt, rubric, score, language)
    try:
        explained = llm.generate(prompt, variables, after=scored, stream=stream.piece, no_cache=no_cache)
    except PrepbotError as exc:  # junk, cut off, timed out: the score is known and stands without feedback
        return NO_FEEDBACK, None, str(exc)
    return explained.output, explained, None


def feedback_fields(points: list[str], written: Any) -> dict[str, Any]:
    """The grade's feedback fields from what the model wrote, cut back to whole sentences and questions."""
    return {
        "rubric": marks(points, written.rubric),
        "strengths": [whole_sentences(x, SHORT_MAX) for x in written.strengths if x.strip()],
        "gaps": [whole_sentences(x, SHORT_MAX) for x in written.gaps if x.strip()],
        "better_answer": whole_sentences(written.better_answer, BETTER_ANSWER_MAX),
        "follow_up": as_question(written.follow_up),
    }


def marks(points: list[str], verdicts: list[RubricMark]) -> list[RubricMark]:
    """The given rubric's points with the model's verdicts in order; the model's own points when none was given
    or when it marked a different number of points than it was shown."""
    if points and len(verdicts) == len(points):
        return [RubricMark(point=point, met=mark.met) for point, mark in zip(points, verdicts)]
    return [RubricMark(point=mark.point.strip(), met=mark.met) for mark in verdicts]


def whole_sentences(text: str, limit: int) -> str:
    """The text, whitespace tidied; when it reached the schema's bound (cut mid-sentence), only its whole
    sentences, or failing those its whole words and an ellipsis."""
    text = " ".join(text.split())
    if len(text) < limit - 1:
        return text
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    if ends and ends[-1] >= limit // 10:  # whole sentences, unless all there is of them is a few words
        return text[: ends[-1]]
    head, _, tail = text.rpartition(" ")
    if head and len(tail) < 20:
        return head.rstrip(",;:") + "…"
    return text[: limit - 1] + "…"  # Chinese or Japanese: no spaces to cut at


def as_question(text: str) -> str:
    """The follow-up as a question: up to its last question mark; "" when it asks nothing (a remark such as
    "The answer does not explain X" is no follow-up, and the interview moves on instead)."""
    text = " ".join(text.split())
    last = max(text.rfind("?"), text.rfind("？"))
    return text[: last + 1] if last >= 0 else ""
