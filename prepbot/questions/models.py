"""The shapes of question sets: what the ``question`` prompt writes, what a set holds, what a request asks for.

The bounds are part of the JSON schema the model is held to: constrained decoding then cannot loop inside one
field, and replies from other backends are held to them too. They are tight because every generated token
costs time on the local model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from prepbot.postings import Requirement
from prepbot.text import Language, LanguageChoice

# The small models write "why" as a long sentence whatever they are told; the bound cuts it (see writer._tidy).
WHY_MAX_CHARS = 60
TEXT_MAX_CHARS = 300
# For constrained decoding (the local model; servers that take a JSON-schema pattern): the question ends at its
# first question mark, within 240 characters, because the small models otherwise string two or three questions
# together until the bound cuts them. Only the schema carries it: pydantic does not check it, so a reply from a
# server that ignores patterns is still valid (and cut at its last whole question, see writer._whole_question).
QUESTION_MAX_CHARS, FOLLOW_UP_MAX_CHARS = 240, 150  # before the question mark
MAX_QUESTIONS = 50


def _one_question(most: int) -> str:
    return rf'^[^?？"\\\n\r\t]{{4,{most}}}[?？]$'


QUESTION_PATTERN = _one_question(QUESTION_MAX_CHARS)
FOLLOW_UP_PATTERN = _one_question(FOLLOW_UP_MAX_CHARS)  # the same for the follow-up: one question
RubricPoint = Annotated[str, Field(max_length=80)]
FollowUp = Annotated[str, Field(max_length=160, json_schema_extra={"pattern": FOLLOW_UP_PATTERN})]


# The output of the `question` prompt. Docstring and descriptions go to the model inside the JSON schema.
# One follow-up, and no "why": the question's probe line is made in code (see kinds.probe_label).
class QuestionCore(BaseModel):
    """One interview question with what a strong answer covers."""

    text: str = Field(
        max_length=TEXT_MAX_CHARS,
        description="The question, asked directly to the candidate.",
        json_schema_extra={"pattern": QUESTION_PATTERN},
    )
    # The prompts ask for exactly 3 points; the schema holds constrained decoding to 3 (the default model
    # otherwise writes near-repeats), while a reply of up to 5 from another backend is valid.
    rubric: list[RubricPoint] = Field(
        min_length=3,
        max_length=5,
        description="Points a strong answer covers, a few words each.",
        json_schema_extra={"maxItems": 3},
    )
    follow_ups: list[FollowUp] = Field(min_length=1, max_length=1, description="Short follow-up questions.")


class QuestionDraft(QuestionCore):
    """One interview question with what a strong answer covers, and the skill it probes (question@v1-v3)."""

    why: str = Field(max_length=WHY_MAX_CHARS, description="A few words: the skill the question probes.")


Kind = Literal["technical", "behavioral", "system-design"]
KindChoice = Literal["technical", "behavioral", "system-design", "mixed"]
Difficulty = Literal["easy", "medium", "hard"]
DifficultyChoice = Literal["easy", "medium", "hard", "mixed"]
Progress = Callable[[str, int], None]  # ("total", n) once, then ("token", 1) and ("question", 1) as they come


class Citation(BaseModel):
    id: str
    quote: str  # the item's stored text, exactly


class Question(BaseModel):
    id: str
    text: str
    kind: Kind
    difficulty: Difficulty
    citations: list[Citation]
    rubric: list[str]
    follow_ups: list[str]
    why: str
    flags: list[str] = Field(default_factory=list)  # checks it still failed after its one regeneration
    exemplar: str | None = None  # the bank exemplar it was adapted from (question@v5 on)
    # With a CV (--cv): the CV line the question asks the candidate to prove (its claim ID and exact text), or
    # cv_gap where the CV does not show this must-have.
    cv_claim: Citation | None = None
    cv_gap: bool = False


class QuestionSet(BaseModel):
    set_id: str
    posting_id: str
    role: str
    backend: str
    model: str
    language: Language
    prompt: str  # the prompt version that wrote it, name@vN
    created_at: datetime
    cv_id: str | None = None  # the CV the set was planned from (--cv)
    skipped: list[str] = Field(default_factory=list)  # items left out: instructions to a model, logistics
    unwritten: list[str] = Field(
        default_factory=list
    )  # planned items whose question the model wrote no valid reply for
    questions: list[Question]


class SetRequest(BaseModel):
    """What a set should be; the CLI's flags."""

    n: int = Field(default=10, ge=1, le=MAX_QUESTIONS)
    kind: KindChoice = "mixed"
    difficulty: DifficultyChoice = "mixed"
    lang: LanguageChoice = "auto"
    seed: int = 0  # picks the mix of difficulties; another seed, another set
    cv_id: str | None = None  # plan from this CV's fit map: prove its claims, probe its gaps


class PlannedQuestion(BaseModel):
    item: Requirement
    prompt_text: str  # the item's text as the model sees it: instruction-like sentences removed
    round: int  # 1 for the first question on an item, 2 for the deeper second one, ...
    kind: Kind
    difficulty: Difficulty
    competency: str | None = None  # what a non-skill item is about (roles.item_competency), for its exemplar
    cv_claim: Citation | None = None  # the CV line that shows the item, for the candidate to prove
    cv_gap: bool = False  # a must-have the CV does not show


class SetSummary(BaseModel):
    set_id: str
    created_at: datetime
    posting_id: str
    role: str
    language: str
    backend: str
    model: str
    questions: int
