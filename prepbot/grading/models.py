"""The shapes of a grade: what the ``grade`` and ``feedback`` prompts write, and the grade kept with a turn.

The feedback's free text is bounded in the schema, so the model cannot loop; a text that reaches its bound
is cut back to its last whole sentence (``feedback.whole_sentences``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

BETTER_ANSWER_MAX = 400
FOLLOW_UP_MAX = 200
SHORT_MAX = 120

Score = Literal[1, 2, 3, 4, 5]
Short = Annotated[str, Field(max_length=SHORT_MAX)]


class RubricMark(BaseModel):
    point: str = Field(max_length=80)
    met: bool
    quote: str | None = None  # the answer's words that meet it (checked to occur in the answer)


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


class QuotedMark(BaseModel):
    point: str = Field(max_length=80)
    met: bool
    quote: Short


class Strength(BaseModel):
    text: Short
    quote: Short


class QuotedFeedback(BaseModel):
    """What ``feedback@v3`` writes: every strength and every point met with the answer's words that show it."""

    rubric: list[QuotedMark] = Field(min_length=1, max_length=5)
    strengths: list[Strength] = Field(max_length=2)
    gaps: list[Short] = Field(max_length=2)
    better_answer: str = Field(max_length=BETTER_ANSWER_MAX)
    follow_up: str = Field(max_length=FOLLOW_UP_MAX)


# Score and feedback in one reply, score first (``grade@v1``, kept for comparison in the evals).
_FEEDBACK_FIELDS: dict[str, Any] = {name: (f.annotation, f) for name, f in GradeFeedback.model_fields.items()}
GradeDraft = create_model("GradeDraft", score=(Score, ...), **_FEEDBACK_FIELDS)


class GradeCitation(BaseModel):
    id: str
    quote: str  # the item's stored text, exactly
    relation: Literal["tested", "touched"]  # the item the question tests, or one the answer touches


class GradeBody(BaseModel):
    """A grade as it is kept with its turn."""

    score: int = Field(ge=1, le=5)
    expected_score: float | None = None  # sum of k * P(k) over the model's probabilities for 1-5, when known
    model_score: int | None = None  # the digit the model wrote, where the score was calibrated from its odds
    # what was measured of the answer: the checks' P(yes) (addresses, how, wrong), the expected grade, the
    # embedder's cosines (sim_question, sim_item, item_margin); the score combines them where calibrated
    signals: dict[str, float] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)  # the signals that lowered the score most, as short lines
    requirement_id: str | None
    rubric: list[RubricMark]
    strengths: list[str]
    strength_quotes: list[str] = Field(default_factory=list)  # per strength, the answer's words that show it
    gaps: list[str]
    better_answer: str
    follow_up: str
    citations: list[GradeCitation]
    prompt: str | None = None  # name@vN, None when no model was asked
    backend: str | None = None
    model: str | None = None
    feedback_error: str | None = None  # why the feedback after the score could not be written (the score stands)
    unsupported_claims: int = 0  # strengths and points met that the model wrote with a quote not in the answer: dropped


class Grade(GradeBody):
    """A grade as ``grade_answer`` returns it: the body plus how long it took."""

    score_latency_s: float  # seconds until the score was known
    first_token_s: float | None
    latency_s: float
    generations: list[Any] = Field(default_factory=list, exclude=True)  # prepbot.llm.Generation, for usage


GradeListener = Callable[[dict[str, Any]], None]  # the grade so far (partial JSON), each time it grows
