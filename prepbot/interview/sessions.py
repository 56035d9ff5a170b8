"""What an interview session is: its plan, its turns, and what is kept of each grade (``store`` saves them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from prepbot.grading import Grade, GradeBody
from prepbot.questions import Citation, Difficulty, Kind
from prepbot.text import Language

Mode = Literal["screen", "technical", "behavioral", "mixed"]
TurnKind = Literal["question", "follow_up"]


class PlannedStep(BaseModel):
    """One main question of a session's plan: the item it tests, and its text when it came from a saved set."""

    requirement_id: str
    kind: Kind
    difficulty: Difficulty
    text: str | None = None
    rubric: list[str] = Field(default_factory=list)
    cv_claim: Citation | None = None  # with a CV: the CV line the question asks the candidate to prove
    cv_gap: bool = False  # with a CV: a must-have the CV does not show


class TurnGrade(GradeBody):
    """What is kept of a grade: all but its timings (those go in the turn's ``timings``)."""

    @classmethod
    def of(cls, grade: Grade) -> TurnGrade:
        return cls.model_validate(grade.model_dump(include=set(GradeBody.model_fields)))


class Turn(BaseModel):
    n: int
    kind: TurnKind
    follows: int | None = None  # the turn a follow-up digs into
    requirement_id: str | None
    question: str
    rubric: list[str] = Field(default_factory=list)
    difficulty: Difficulty | None = None
    cv_claim: Citation | None = None  # the CV line the question is about; the grader is told it
    cv_gap: bool = False  # the question is on a requirement the CV does not show
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    skipped: bool = False
    grade: TurnGrade | None = None
    graded_at: datetime | None = None
    timings: dict[str, float] = Field(default_factory=dict)

    @property
    def score(self) -> int | None:
        return self.grade.score if self.grade else None

    @property
    def open(self) -> bool:
        """Asked and neither graded nor skipped: the turn in flight."""
        return self.grade is None and not self.skipped


class Session(BaseModel):
    id: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    posting_id: str
    role: str
    mode: Mode
    language: Language
    set_id: str | None = None
    cv_id: str | None = None
    backend: str | None = None
    model: str | None = None
    plan: list[PlannedStep]
    turns: list[Turn] = Field(default_factory=list)

    @property
    def graded(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.grade]

    @property
    def mean_score(self) -> float | None:
        return mean_score([turn.grade.score for turn in self.graded if turn.grade])

    @property
    def main_turns(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.kind == "question"]


class SessionSummary(BaseModel):
    id: str
    posting_id: str
    role: str
    mode: str
    started_at: datetime
    ended_at: datetime | None
    turns: int  # answers given
    mean_score: float | None


def mean_score(scores: list[int]) -> float | None:
    """A session's mean score, to two decimals; None before anything is graded."""
    return round(sum(scores) / len(scores), 2) if scores else None
