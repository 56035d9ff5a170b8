"""Grading one answer against the posting item its question tests: ``grade_answer(...)``.

How a grade is made, and why (numbers from the grading eval, ``evals/grading.jsonl``, on the default model):
- Two calls in one conversation. ``grade`` asks for the score alone (a few tokens), so the score is known
  as soon as the answer is read; ``feedback`` then continues the same conversation (the local model has it
  cached, so only the new message is read) and streams the rubric verdicts, strengths, gaps, a sketch of a
  stronger answer and a follow-up question. A plain "rationale, then score" prompt ran past 512 tokens
  without a score on 12% of answers (STACK.md); a verdict before the score agreed worse with human grades
  (Spearman 0.73 against 0.90 for the score alone on one sample), and so did one call asking for the score
  and the feedback together (0.86): the small model's score drifts when the prompt also describes feedback.
- The scale and calibrated examples live in the system message, which never varies, so the local model
  reuses its evaluated prefix from one grade to the next; ``prewarm`` evaluates everything but the answer
  while the candidate is still typing it.
- Everything the candidate or the posting wrote is data between tags; an answer that asks for a grade gets
  none for it (see the adversarial eval).
- An answer too short to show anything (empty, or fewer than three words) scores 1 without a model call.
- The model writes a digit (temperature 0). Its probabilities over 1-5 at that place give an expected grade
  (``expected_score``, a decimal), which ranks answers closer to human grades (Spearman 0.897 against 0.848
  for the digit) but sits nearer the middle (the default model keeps probability on 3-4 even for its 5s).
  Where a grader (prompt version x model) has been calibrated on the grading eval (``SCORE_STRETCH``), the
  score is its expected grade stretched away from the middle and rounded: on the default model 0.889 against
  0.848 for the digit, mean error 0.52 against 0.53 (0.888 against 0.852 on held-out halves). Elsewhere, and
  where the backend reports no probabilities, the score is the digit. ``model_score`` keeps the digit.
- Tried and not shipped (same eval, 2026-11-27; grade@v2 0.848 / expected 0.897): the same scale with
  calibration examples from another field, answers in Chinese and Japanese among them (0.850 / 0.897; its
  expected grades agree with v2's at 0.99, so averaging the two views gains 0.004); three aspect digits
  (correct, specific, complete) before the score (0.761 / 0.876): anything written before the score drifts it.
- Citations are chosen in code: the item the question tests (given, or found by retrieval with the question)
  and the items the answer itself touches (retrieval with the answer text, kept only above a similarity
  floor). Each is read back from the store, so a grade can cite only an existing item with its exact text.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal

import numpy as np
from langchain_core.utils.json import parse_partial_json
from pydantic import BaseModel, Field, create_model

from prepbot.errors import PrepbotError, UsageError
from prepbot.text import CJK

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.retrieval.index import RequirementIndex
    from prepbot.llm import LLM, Generation
    from prepbot.postings import Requirement

PROMPT = "grade"
FEEDBACK_PROMPT = "feedback"
MAX_ANSWER_CHARS = 6000  # about 1,500 tokens: a long spoken answer; past that the context gets tight
MIN_ANSWER_WORDS = 3
# Cosine (USE embeddings) between the answer and an item above which the answer touches that item; a
# specific answer scores 0.35-0.6 against the items it is about, unrelated items sit below 0.25.
TOUCH_MIN_COSINE = 0.3
MAX_TOUCHED = 3
SCORE_TOP_LOGPROBS = 10  # alternatives asked for at each place of the score reply: 1-5 and room for others
# (prompt, backend, model) -> the stretch s of score = round(3 + s * (expected - 3)), clipped to 1-5, measured
# with `prepbot eval --suite grading` (95 labelled answers, 2026-11-27): s from 1.0 to 2.5 gave 0.867, 0.854,
# 0.864, 0.889 (1.75), 0.897, 0.877, 0.869; 1.75 also suits grade@v3 (0.891, mean error 0.37). Another model
# or prompt version needs its own measurement: a sharper model's expected grade sits near its digit already.
SCORE_STRETCH: dict[tuple[str, str, str], float] = {("grade@v2", "local", "default"): 1.75}

# Bounds of the feedback's free text: the schema holds the model to them (no runaway loops); a text that
# reaches its bound is cut back to its last whole sentence (``whole_sentences``).
BETTER_ANSWER_MAX = 400
FOLLOW_UP_MAX = 200

Score = Literal[1, 2, 3, 4, 5]
SHORT_MAX = 120
Short = Annotated[str, Field(max_length=SHORT_MAX)]


class RubricMark(BaseModel):
    point: str = Field(max_length=80)
    met: bool


class GradeScore(BaseModel):
    """What ``grade`` writes: the score alone."""

    score: Score


class GradeFeedback(BaseModel):
    """What ``feedback`` writes after the score, in this order."""

    rubric: list[RubricMark] = Field(min_length=1, max_length=5, description="Each rubric point: met or not.")
    strengths: list[Short] = Field(max_length=2)
    gaps: list[Short] = Field(max_length=2)
    better_answer: str = Field(max_length=BETTER_ANSWER_MAX, description="A sketch of a stronger answer.")
    follow_up: str = Field(max_length=FOLLOW_UP_MAX, description="One question on the weakest part of the answer.")


# Score and feedback in one reply, score first (``grade@v1``, kept for comparison in the evals).
GradeDraft = create_model(
    "GradeDraft", score=(Score, ...), **{name: (f.annotation, f) for name, f in GradeFeedback.model_fields.items()}
)


class GradeCitation(BaseModel):
    id: str
    quote: str  # the item's stored text, exactly
    relation: Literal["tested", "touched"]  # the item the question tests, or one the answer touches


class GradeBody(BaseModel):
    """A grade as it is kept with its turn."""

    score: int = Field(ge=1, le=5)
    expected_score: float | None = None  # sum of k * P(k) over the model's probabilities for 1-5, when known
    model_score: int | None = None  # the digit the model wrote, where the score was calibrated from its odds
    requirement_id: str | None
    rubric: list[RubricMark]
    strengths: list[str]
    gaps: list[str]
    better_answer: str
    follow_up: str
    citations: list[GradeCitation]
    prompt: str | None = None  # name@vN, None when no model was asked
    backend: str | None = None
    model: str | None = None
    feedback_error: str | None = None  # why the feedback after the score could not be written (the score stands)


class Grade(GradeBody):
    """A grade as ``grade_answer`` returns it: the body plus how long it took."""

    score_latency_s: float  # seconds until the score was known
    first_token_s: float | None
    latency_s: float
    generations: list[Any] = Field(default_factory=list, exclude=True)  # prepbot.llm.Generation, for usage


GradeListener = Callable[[dict[str, Any]], None]  # the grade so far (partial JSON), each time it grows


def too_short(answer: str) -> bool:
    """Fewer than three words (a CJK character counts as half a word): nothing to grade."""
    latin = re.findall(r"[^\W\d_]+|\d+", CJK.sub(" ", answer))
    cjk = CJK.findall(answer)
    return len(latin) + len(cjk) / 2 < MIN_ANSWER_WORDS


def check_answer(answer: str) -> str:
    """The answer, stripped; an empty one is a non-answer and scores 1 (see too_short)."""
    answer = answer.strip()
    if len(answer) > MAX_ANSWER_CHARS:
        raise UsageError(f"the answer has {len(answer)} characters; the grader takes at most {MAX_ANSWER_CHARS}")
    return answer


def tested_item(index: RequirementIndex, posting_id: str, question: str, requirement_id: str | None) -> Requirement:
    """The item the question tests: the one named, checked against the store, or the best match for it."""
    if requirement_id:
        item = index.get_requirements([requirement_id]).get(requirement_id)
        if item is None or item.posting_id != posting_id:
            raise PrepbotError(f"no requirement {requirement_id!r} in posting {posting_id}; `prepbot postings show` lists them")
        return item
    hits = index.search(question, posting_id=posting_id, k=1)
    if not hits:
        raise PrepbotError(f"posting {posting_id} has no requirement items to grade against")
    return index.get_requirements([hits[0].id])[hits[0].id]


def touched_items(index: RequirementIndex, posting_id: str, answer: str, exclude: str | None) -> list[Requirement]:
    """The posting's items the answer is about: retrieved with the answer text, above a similarity floor."""
    if too_short(answer):
        return []
    hits = [hit for hit in index.search(answer, posting_id=posting_id, k=MAX_TOUCHED + 1) if hit.id != exclude]
    if not hits:
        return []
    vectors = index.embedder.embed([answer, *(hit.text for hit in hits)])
    cosines = vectors[1:] @ vectors[0] / (np.linalg.norm(vectors[1:], axis=1) * np.linalg.norm(vectors[0]) + 1e-9)
    chosen = [hit.id for hit, cosine in zip(hits, cosines) if cosine >= TOUCH_MIN_COSINE][:MAX_TOUCHED]
    stored = index.get_requirements(chosen)
    return [stored[rid] for rid in chosen if rid in stored]


def cite(tested: Requirement | None, touched: list[Requirement]) -> list[GradeCitation]:
    cited = [GradeCitation(id=tested.id, quote=tested.text, relation="tested")] if tested else []
    return cited + [GradeCitation(id=item.id, quote=item.text, relation="touched") for item in touched]


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
) -> Grade:
    """Grade ``answer`` to ``question`` against the posting item it tests.

    ``listener`` gets the grade parsed so far each time the streamed reply grows (the score arrives first);
    ``on_token`` gets the raw streamed text. Ctrl-C stops the generation and propagates. ``feedback=False``
    asks for the score alone (a few tokens; what the agreement evals need): no rubric verdicts or feedback.
    """
    from prepbot.retrieval.index import RequirementIndex
    from prepbot.llm import get_llm

    started = time.monotonic()
    answer = check_answer(answer)
    if not question.strip():
        raise UsageError("the question is empty")
    index = index or RequirementIndex(settings)
    if index.posting_summary(posting_id) is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    tested = tested_item(index, posting_id, question, requirement_id)
    points = [point.strip() for point in rubric or [] if point.strip()]
    if too_short(answer):
        elapsed = time.monotonic() - started
        return Grade(
            score=1, requirement_id=tested.id, rubric=[RubricMark(point=p, met=False) for p in points],
            strengths=[], gaps=["The answer is too short to show anything; answer in a few sentences."],
            better_answer="", follow_up="", citations=cite(tested, []), prompt=None, backend=None, model=None,
            score_latency_s=elapsed, first_token_s=None, latency_s=elapsed,
        )  # fmt: skip

    llm = llm or get_llm(settings)
    stretch = score_stretch(llm, prompt)
    stream = _Stream(started, listener, on_token, hold_score=stretch is not None)
    variables = score_variables(llm, prompt, tested.text, question, points, answer, language)
    scored: Generation = llm.generate(prompt, variables, stream=stream.piece, no_cache=no_cache,
                                      top_logprobs=SCORE_TOP_LOGPROBS)  # fmt: skip
    expected = expected_score(scored)
    digit: int = scored.output.score  # type: ignore[union-attr]
    score = calibrated_score(digit, expected, stretch)
    stream.scored(score, expected)
    generations = [scored]
    written = scored.output
    feedback_error = None
    if not feedback and not isinstance(written, GradeDraft):
        written = _NO_FEEDBACK
    elif not isinstance(written, GradeDraft):  # a score-only prompt: the feedback continues its conversation
        stream.next_part()
        try:
            explained = llm.generate(feedback_prompt, feedback_variables(llm, feedback_prompt, points, score, language),
                                     after=scored, stream=stream.piece, no_cache=no_cache)  # fmt: skip
        except PrepbotError as exc:  # junk, cut off, timed out: the score is known and stands without feedback
            written, feedback_error = _NO_FEEDBACK, str(exc)
        else:
            generations.append(explained)
            written = explained.output
    touched = touched_items(index, posting_id, answer, exclude=tested.id)
    done = time.monotonic()
    return Grade(
        score=score, expected_score=expected, model_score=digit if stretch is not None and expected is not None else None,
        requirement_id=tested.id, rubric=_marks(points, written.rubric),  # type: ignore[union-attr]
        strengths=[whole_sentences(x, SHORT_MAX) for x in written.strengths if x.strip()],  # type: ignore[union-attr]
        gaps=[whole_sentences(x, SHORT_MAX) for x in written.gaps if x.strip()],  # type: ignore[union-attr]
        better_answer=whole_sentences(written.better_answer, BETTER_ANSWER_MAX),  # type: ignore[union-attr]
        follow_up=as_question(written.follow_up),  # type: ignore[union-attr]
        citations=cite(tested, touched), prompt=scored.prompt, backend=scored.backend, model=scored.model,
        score_latency_s=(stream.score_at or done) - started,
        first_token_s=None if stream.first_at is None else stream.first_at - started,
        latency_s=done - started, generations=generations, feedback_error=feedback_error,
    )  # fmt: skip


_NO_FEEDBACK = GradeFeedback.model_construct(rubric=[], strengths=[], gaps=[], better_answer="", follow_up="")


def feedback_variables(llm: LLM, prompt: str, rubric: list[str], score: int, language: str | None) -> dict[str, Any]:
    """The feedback prompt's inputs, those of them its version declares (feedback@v1 is not told the score)."""
    from prepbot.prompts import load_prompt

    return load_prompt(prompt, llm.settings).declared({"language": language or "", "rubric": rubric, "score": score})


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")


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


def expected_score(generation: Generation) -> float | None:
    """The expected grade under the model's probabilities for 1-5 where it wrote the score digit, or None when
    the backend reported no probabilities there. Alternatives that are not a digit 1-5 are left out and the
    rest renormalised (the local model's include tokens the schema would not have allowed)."""
    for place in generation.logprobs or []:
        if place.token.strip() not in _DIGITS:
            continue
        chances: dict[int, float] = {}
        for token, logprob in place.top.items():
            if token.strip() in _DIGITS:
                digit = int(token.strip())
                chances[digit] = chances.get(digit, 0.0) + float(np.exp(logprob))
        total = sum(chances.values())
        if total <= 0:
            return None
        return round(sum(digit * chance for digit, chance in chances.items()) / total, 3)
    return None


_DIGITS = {"1", "2", "3", "4", "5"}


def score_stretch(llm: LLM, prompt: str) -> float | None:
    """The calibration measured for this grader (prompt version x backend x model), or None."""
    from prepbot.prompts import load_prompt

    ref = load_prompt(prompt, llm.settings).ref
    return SCORE_STRETCH.get((ref, llm.backend.name, llm.backend.model))


def calibrated_score(digit: int, expected: float | None, stretch: float | None) -> int:
    """The score: the expected grade stretched away from the middle and rounded where the grader is
    calibrated and the backend reported probabilities; otherwise the digit the model wrote."""
    if stretch is None or expected is None:
        return digit
    return int(min(5, max(1, round(3 + stretch * (expected - 3)))))
ANSWER_MARK = "\u0000answer\u0000"  # where the answer goes, for prewarm


def score_variables(llm: LLM, prompt: str, requirement: str, question: str, rubric: list[str], answer: str,
                    language: str | None) -> dict[str, Any]:  # fmt: skip
    """The grade prompt's inputs, those of them its version declares (grade@v1 also takes the language)."""
    from prepbot.prompts import load_prompt

    return load_prompt(prompt, llm.settings).declared({
        "requirement": requirement, "question": question.strip(), "rubric": rubric, "answer": answer,
        "language": language or "",
    })  # fmt: skip


def prewarm(settings: Settings, llm: LLM, index: RequirementIndex, *, question: str, requirement_id: str | None,
            posting_id: str, rubric: list[str] | None = None, prompt: str = PROMPT) -> Any:
    """Start evaluating the grade prompt up to where the answer goes, in the background, while the candidate
    types (local model only); returns a handle whose ``cancel()`` stops it, or None."""
    tested = tested_item(index, posting_id, question, requirement_id)
    points = [point.strip() for point in rubric or [] if point.strip()]
    return llm.prewarm(prompt, score_variables(llm, prompt, tested.text, question, points, ANSWER_MARK, None),
                       ANSWER_MARK)  # fmt: skip


def _marks(points: list[str], marks: list[RubricMark]) -> list[RubricMark]:
    """The given rubric's points with the model's verdicts in order; the model's own points when none was given
    or when it marked a different number of points than it was shown."""
    if points and len(marks) == len(points):
        return [RubricMark(point=point, met=mark.met) for point, mark in zip(points, marks)]
    return [RubricMark(point=mark.point.strip(), met=mark.met) for mark in marks]


_SCORE = re.compile(r'"score"\s*:\s*([1-5])')


class _Stream:
    """Follows the streamed replies: when the first token came, when the score was known, the grade so far."""

    def __init__(self, started: float, listener: GradeListener | None, on_token: Callable[[str], None] | None,
                 hold_score: bool = False):
        self.started, self.listener, self.on_token = started, listener, on_token
        self.hold_score = hold_score  # the digit streamed is not the score (calibrated): show it once known
        self.text = ""
        self.known: dict[str, Any] = {}  # parts already complete (the score, once the feedback streams)
        self.first_at: float | None = None
        self.score_at: float | None = None

    def piece(self, piece: str) -> None:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        if piece.startswith("{") and self.text:
            self.text = ""  # a repair attempt streams again from its start
        self.text += piece
        if self.score_at is None and not self.hold_score and _SCORE.search(self.text):
            self.score_at = now
        if self.on_token:
            self.on_token(piece)
        if self.listener:
            partial = parse_partial_json(self.text)
            if isinstance(partial, dict):
                if self.hold_score and "score" not in self.known:
                    partial.pop("score", None)
                self.listener({**self.known, **partial})

    def scored(self, score: int, expected: float | None) -> None:
        self.score_at = self.score_at or time.monotonic()
        self.known.update(score=score, **({"expected_score": expected} if expected is not None else {}))
        if self.listener:
            self.listener(dict(self.known))

    def next_part(self) -> None:
        self.text = ""
