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


def feedback_variables(
    llm: LLM,
    prompt: str,
    rubric: list[str],
    score: int,
    language: str | None,
    findings: list[str] | None = None,
    cv_line: str | None = None,
) -> dict[str, Any]:
    """The feedback prompt's inputs, those of them its version declares (feedback@v1 is not told the score,
    feedback@v2 not the findings, feedback@v3 not the CV line)."""
    from prepbot.prompts import load_prompt

    given = {
        "language": language or "",
        "rubric": rubric,
        "score": score,
        "findings": findings or [],
        "cv_line": cv_line or "",
    }
    return load_prompt(prompt, llm.settings).declared(given)


FEEDBACK_CANCELLED = "feedback cancelled (Ctrl-C); the score stands"


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
    findings: list[str] | None = None,
    cv_line: str | None = None,
) -> tuple[Any, Generation | None, str | None]:
    """The feedback part of the grade (a ``GradeFeedback``, or the score reply itself where a one-call prompt
    such as grade@v1 wrote both), the feedback call's generation, and why the feedback failed (or None)."""
    if isinstance(scored.output, GradeDraft):
        return scored.output, None, None
    if not wanted:
        return NO_FEEDBACK, None, None
    stream.next_part()  # a score-only prompt: the feedback continues its conversation
    variables = feedback_variables(llm, prompt, rubric, score, language, findings, cv_line)
    try:
        explained = llm.generate(prompt, variables, after=scored, stream=stream.piece, no_cache=no_cache)
    except PrepbotError as exc:  # junk, cut off, timed out: the score is known and stands without feedback
        return NO_FEEDBACK, None, str(exc)
    except KeyboardInterrupt:  # Ctrl-C once the score is shown stops the feedback only: the score stands
        return NO_FEEDBACK, None, FEEDBACK_CANCELLED
    return explained.output, explained, None


def feedback_fields(points: list[str], written: Any, answer: str = "") -> dict[str, Any]:
    """The grade's feedback fields from what the model wrote, cut back to whole sentences and questions. Where
    the model quoted the answer (feedback@v3), a strength or a point met whose quote is not in the answer is
    dropped (the point marked not met), and counted in ``unsupported_claims``."""
    strengths, quotes, unsupported = [], [], 0
    for strength in written.strengths:
        text = strength if isinstance(strength, str) else strength.text
        quote = None if isinstance(strength, str) else in_answer(strength.quote, answer)
        if not text.strip():
            continue
        if not isinstance(strength, str) and quote is None:
            unsupported += 1
            continue
        strengths.append(whole_sentences(text, SHORT_MAX))
        quotes += [quote] if quote else []
    rubric = marks(points, written.rubric, answer)
    unsupported += sum(1 for mark, given in zip(rubric, written.rubric) if given.met and not mark.met)
    return {
        "rubric": rubric,
        "strengths": strengths,
        "strength_quotes": quotes,
        "gaps": [whole_sentences(x, SHORT_MAX) for x in written.gaps if x.strip()],
        "better_answer": ""
        if echoes(written.better_answer, answer)
        else whole_sentences(written.better_answer, BETTER_ANSWER_MAX),
        "follow_up": to_you(as_question(written.follow_up)),
        "unsupported_claims": unsupported,
    }


def marks(points: list[str], verdicts: list[Any], answer: str = "") -> list[RubricMark]:
    """The given rubric's points with the model's verdicts in order; the model's own points when none was given
    or when it marked a different number of points than it was shown. A verdict that carries a quote counts
    as met only when the quote is in the answer."""

    def mark(point: str, verdict: Any) -> RubricMark:
        if getattr(verdict, "quote", None) is None:
            return RubricMark(point=point, met=verdict.met)
        quote = in_answer(verdict.quote, answer) if verdict.met else None
        return RubricMark(point=point, met=quote is not None, quote=quote)

    if points and len(verdicts) == len(points):
        return [mark(point, verdict) for point, verdict in zip(points, verdicts)]
    return [mark(verdict.point.strip(), verdict) for verdict in verdicts]


ECHO_SHARE = 0.5  # a "stronger answer" that repeats this much of the answer (in runs of 6 words) is no sketch


def echoes(text: str, answer: str) -> bool:
    """Whether a text mostly repeats the answer: half or more of its runs of six words (or twelve characters,
    for Chinese and Japanese) occur in the answer."""
    words = text.split()
    if len(words) >= 6:
        runs = [" ".join(words[i : i + 6]) for i in range(len(words) - 5)]
        haystack = " ".join(answer.split())
    else:
        compact = "".join(words)
        runs = [compact[i : i + 12] for i in range(max(0, len(compact) - 11))]
        haystack = "".join(answer.split())
    return bool(runs) and sum(run in haystack for run in runs) / len(runs) >= ECHO_SHARE


_QUOTE_MARKS = "\"'“”‘’「」『』…. "


def in_answer(quote: str, answer: str) -> str | None:
    """The quote as it occurs in the answer (whitespace aside, quotation marks and ellipses around it
    ignored), or None where the answer does not say it."""
    wanted = " ".join(quote.split()).strip(_QUOTE_MARKS)
    if len(wanted) < 2:
        return None
    return wanted if wanted in " ".join(answer.split()) else None


_THIRD_PERSON = [
    (re.compile(r"\bthe candidate's\b", re.IGNORECASE), "your"),
    (re.compile(r"\bthe candidate\b", re.IGNORECASE), "you"),
    (re.compile(r"(候选人|候選人|應徵者|应聘者)"), "你"),
    (re.compile(r"候補者"), "あなた"),
]


def to_you(question: str) -> str:
    """A follow-up spoken to the candidate: "the candidate" becomes "you" (the model slips into the third
    person)."""
    for pattern, replacement in _THIRD_PERSON:
        question = pattern.sub(replacement, question)
    return question[:1].upper() + question[1:] if question[:1].islower() else question


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
