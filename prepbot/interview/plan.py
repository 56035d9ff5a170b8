"""An interview's plan: the main questions it will ask, as items with a kind and a difficulty.

The plan is made as for a question set (requirements first, one question per item before any gets a second),
from a saved set (``--questions SET_ID``, its questions asked as written), or from the items due for practice
(``--focus weak``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prepbot.config import Settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.interview.progress import weak_items
from prepbot.interview.sessions import Mode, PlannedStep
from prepbot.postings import Posting
from prepbot.questions import (
    MAX_QUESTIONS,
    DifficultyChoice,
    Kind,
    SetRequest,
    find_posting,
    item_kinds,
    load_set,
    plan_questions,
    with_cv,
)

if TYPE_CHECKING:
    from prepbot.cv.models import FitMap
    from prepbot.retrieval.index import RequirementIndex

DEFAULT_QUESTIONS = 5
# What each mode asks: the kind of question (None: each item's natural kind) and the difficulty.
MODES: dict[Mode, tuple[Kind | None, DifficultyChoice]] = {
    "screen": (None, "easy"),
    "technical": ("technical", "mixed"),
    "behavioral": ("behavioral", "mixed"),
    "mixed": (None, "mixed"),
}


def set_plan(
    settings: Settings,
    index: RequirementIndex,
    set_id: str,
    role: str | None,
    posting_id: str | None,
    n: int | None,
) -> tuple[Posting, list[PlannedStep]]:
    """The posting of a saved question set, and its questions (those citing an item) as written."""
    question_set = load_set(set_id, settings)
    if role or (posting_id and posting_id != question_set.posting_id):
        raise UsageError(f"question set {set_id} belongs to posting {question_set.posting_id}; drop --role/--posting")
    posting = find_posting(index, posting_id=question_set.posting_id)
    plan = [
        PlannedStep(
            requirement_id=q.citations[0].id,
            kind=q.kind,
            difficulty=q.difficulty,
            text=q.text,
            rubric=q.rubric,
            cv_claim=q.cv_claim,
            cv_gap=q.cv_gap,
        )
        for q in question_set.questions
        if q.citations
    ]
    return posting, plan[: n or None]


def posting_plan(
    posting: Posting, index: RequirementIndex, mode: Mode, n: int, fit_map: FitMap | None = None
) -> list[PlannedStep]:
    """``n`` questions planned as for a question set, of the kind and difficulty the mode asks; with a CV's
    ``fit_map``, questions that make the candidate prove their CV lines and probe its gaps."""
    kind, difficulty = MODES[mode]
    request = SetRequest(n=min(n, MAX_QUESTIONS), kind=kind or "mixed", difficulty=difficulty)
    kinds: dict[str, Kind] | None = None
    if kind is None:
        kinds = item_kinds(list(posting.requirements), index.embedder)
        if mode == "screen":  # a screening call asks no system design
            kinds = {rid: ("technical" if k == "system-design" else k) for rid, k in kinds.items()}
    plan, _ = plan_questions(posting, request, kinds)
    if fit_map is not None:
        plan = with_cv(plan, fit_map)
    return [
        PlannedStep(
            requirement_id=p.item.id, kind=p.kind, difficulty=p.difficulty, cv_claim=p.cv_claim, cv_gap=p.cv_gap
        )
        for p in plan
    ]


def weak_plan(
    settings: Settings, posting: Posting, index: RequirementIndex, mode: Mode, n: int | None
) -> list[PlannedStep]:
    """The weak items due for practice, lowest score first: easy after a score of 1 or 2, medium after 3."""
    due = weak_items(settings, posting.id)
    items = {item.id: item for item in posting.requirements}
    due = [progress for progress in due if progress.requirement_id in items][: n or DEFAULT_QUESTIONS]
    if not due:
        raise PrepbotError(
            f"no weak items are due for practice in {posting.id}; run a normal interview first"
            " (`prepbot progress` shows the scores)"
        )
    kind, _ = MODES[mode]
    kinds = item_kinds([items[p.requirement_id] for p in due], index.embedder) if kind is None else {}
    return [
        PlannedStep(
            requirement_id=p.requirement_id,
            kind=kind or kinds[p.requirement_id],
            difficulty="easy" if p.latest <= 2 else "medium",
        )
        for p in due
    ]
