"""``prepbot grade --answers FILE.jsonl``: many answers scored with one model load, for scripts.

Each line is a JSON object: ``question`` and ``answer``, a ``posting`` ID or a ``role``, optionally a
``requirement`` ID and an ``id`` of the caller's (default: the line number). Each answer gets the score alone
(no feedback): the score, the expected grade, the signals it was combined from and what lowered it. A line
that cannot be graded gets its error, and the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prepbot.errors import PrepbotError, UsageError

if TYPE_CHECKING:
    from prepbot.config import Settings


class BatchAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    question: str = Field(min_length=1)
    answer: str
    posting: str | None = None
    role: str | None = None
    requirement: str | None = None


class BatchScore(BaseModel):
    id: str
    score: int | None = None
    expected_score: float | None = None
    requirement_id: str | None = None
    signals: dict[str, float] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)
    latency_s: float | None = None
    error: str | None = None


def read_batch(text: str) -> list[tuple[str, BatchAnswer | str]]:
    """(id, the answer or why its line is not one) per non-empty line."""
    rows: list[tuple[str, BatchAnswer | str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = BatchAnswer.model_validate(json.loads(line))
        except json.JSONDecodeError:
            rows.append((str(number), f"line {number} is not valid JSON"))
            continue
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "line"
            rows.append((str(number), f"line {number}: {where}: {error['msg']}"))
            continue
        rows.append((row.id or str(number), row))
    if not rows:
        raise UsageError("the answers file has no lines; one JSON object a line: question, answer, posting or role")
    return rows


def grade_batch(settings: Settings, text: str, no_cache: bool = False) -> Iterator[BatchScore]:
    """Score every answer of a JSONL text in order, the model loaded once."""
    from prepbot.grading import grade_answer
    from prepbot.llm import get_llm
    from prepbot.questions.find import find_posting
    from prepbot.retrieval.index import RequirementIndex

    rows = read_batch(text)
    index = RequirementIndex(settings)
    llm = get_llm(settings)
    for row_id, row in rows:
        if isinstance(row, str):
            yield BatchScore(id=row_id, error=row)
            continue
        try:
            posting = find_posting(index, role=row.role, posting_id=row.posting)
            grade = grade_answer(
                settings,
                question=row.question,
                answer=row.answer,
                posting_id=posting.id,
                requirement_id=row.requirement,
                index=index,
                llm=llm,
                no_cache=no_cache,
                feedback=False,
            )
        except PrepbotError as exc:
            yield BatchScore(id=row_id, error=str(exc))
            continue
        yield BatchScore(
            id=row_id,
            score=grade.score,
            expected_score=grade.expected_score,
            requirement_id=grade.requirement_id,
            signals=grade.signals,
            findings=grade.findings,
            latency_s=round(grade.score_latency_s, 3),
        )
