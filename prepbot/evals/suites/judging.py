"""judging"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    pass


Score = Literal[1, 2, 3, 4, 5]


class QuestionJudgement(BaseModel):
    """A reviewer's scores for one interview question against the job-posting item it was written for."""

    # Literals, not ge/le bounds: an enum holds in OpenAI's strict mode and in llama.cpp's grammar alike.
    relevance: Score = Field(description="1-5: how directly the question tests what the item asks for.")
    specificity: Score = Field(description="1-5: how concrete and discriminating the question is.")
    reason: str = Field(max_length=120, description="A few words: the main strength or weakness.")


class FeedbackJudgement(BaseModel):
    """A reviewer's scores for the feedback a grader gave one interview answer."""

    faithfulness: Score = Field(description="1-5: strengths and gaps true to the answer, consistent with the score.")
    usefulness: Score = Field(description="1-5: how concretely it tells the candidate what to do better.")
    reason: str = Field(max_length=120, description="A few words: the main strength or weakness.")
