"""Progress across sessions, per requirement item: scores over time, the weakest items, what is due.

Scheduling is spaced repetition by the latest score (a Leitner schedule): an item last scored 1 is due again
at once, 2 after a day, 3 after three days, 4 after a week, 5 after three weeks. ``--focus weak`` plans the
next interview from the due items scored 3 or lower, lowest and most overdue first.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel

from prepbot.config import Settings
from prepbot.cv.fit import saved_verdicts
from prepbot.cv.models import Interviewed
from prepbot.interview.store import scored_turns

INTERVAL_DAYS = {1: 0, 2: 1, 3: 3, 4: 7, 5: 21}
WEAK_MAX_SCORE = 3  # an item whose latest score is this or lower is weak: practised again when due
WEAKEST_SHOWN = 5  # the weakest items `prepbot progress --json` names


class Attempt(BaseModel):
    at: datetime
    score: int
    session_id: str


class ItemProgress(BaseModel):
    requirement_id: str
    posting_id: str
    attempts: list[Attempt]  # oldest first
    latest: int
    best: int
    last_at: datetime
    due_at: datetime

    @property
    def weak(self) -> bool:
        return self.latest <= WEAK_MAX_SCORE

    def due(self, now: datetime | None = None) -> bool:
        return self.due_at <= (now or datetime.now(timezone.utc))


class QuotedProgress(BaseModel):
    """An item's progress with the item's text as it is indexed now (None once it is no longer indexed)."""

    progress: ItemProgress
    quote: str | None
    cv: str | None = None  # the item's verdict in the newest saved fit map (covered, partly, not_shown)


def item_progress(settings: Settings, posting_id: str | None = None) -> list[ItemProgress]:
    """Every graded item, weakest first (latest score, then best, then the most overdue)."""
    attempts: dict[str, list[Attempt]] = {}
    postings: dict[str, str] = {}
    for turn in scored_turns(settings, posting_id):
        attempts.setdefault(turn.requirement_id, []).append(
            Attempt(at=turn.graded_at, score=turn.score, session_id=turn.session_id)
        )
        postings[turn.requirement_id] = turn.posting_id
    items = []
    for rid, history in attempts.items():
        last = history[-1]
        items.append(
            ItemProgress(
                requirement_id=rid,
                posting_id=postings[rid],
                attempts=history,
                latest=last.score,
                best=max(a.score for a in history),
                last_at=last.at,
                due_at=last.at + timedelta(days=INTERVAL_DAYS[last.score]),
            )
        )
    return sorted(items, key=lambda item: (item.latest, item.best, item.due_at))


def weak_items(settings: Settings, posting_id: str, now: datetime | None = None) -> list[ItemProgress]:
    """Items to practise next: scored 3 or lower last time and due again, lowest score and most overdue first."""
    now = now or datetime.now(timezone.utc)
    due = [item for item in item_progress(settings, posting_id) if item.weak and item.due(now)]
    return sorted(due, key=lambda item: (item.latest, item.due_at))


def quoted_progress(
    settings: Settings, *, role: str | None = None, posting_id: str | None = None
) -> list[QuotedProgress]:
    """``prepbot progress``: every graded item of the posting a role or an ID names (of all postings without
    either), weakest first, each with its item's text from the index."""
    from prepbot.questions import find_posting
    from prepbot.retrieval.index import RequirementIndex

    index = RequirementIndex(settings)
    if role or posting_id:
        posting_id = find_posting(index, role=role, posting_id=posting_id).id
    items = item_progress(settings, posting_id)
    quotes = index.get_requirements([item.requirement_id for item in items])
    verdicts = saved_verdicts(settings)
    return [
        QuotedProgress(
            progress=item,
            quote=quotes[item.requirement_id].text if item.requirement_id in quotes else None,
            cv=verdicts.get(item.requirement_id),
        )
        for item in items
    ]


def progress_json(rows: list[QuotedProgress]) -> dict[str, Any]:
    """The ``prepbot progress --json`` shape: every item with its history, and the weakest items' IDs."""
    items = [
        {
            "requirement_id": row.progress.requirement_id,
            "posting_id": row.progress.posting_id,
            "quote": row.quote,
            "attempts": len(row.progress.attempts),
            "latest": row.progress.latest,
            "best": row.progress.best,
            "last_at": row.progress.last_at.isoformat(),
            "due_at": row.progress.due_at.isoformat(),
            "weak": row.progress.weak,
            "cv": row.cv,
            "history": [
                {"at": a.at.isoformat(), "score": a.score, "session_id": a.session_id} for a in row.progress.attempts
            ],
        }
        for row in rows
    ]
    return {"items": items, "weakest": [item["requirement_id"] for item in items if item["weak"]][:WEAKEST_SHOWN]}


CLOSED_MIN_SCORE = 4  # an interview answer scored this or more closes a gap the CV leaves


def closed_items(settings: Settings, posting_id: str) -> dict[str, Interviewed]:
    """The posting's items that an interview answer scored CLOSED_MIN_SCORE or more, with the best such
    answer: what `fit` shows beside the CV's verdict."""
    closed = {}
    for progress in item_progress(settings, posting_id):
        if progress.best >= CLOSED_MIN_SCORE:
            best = max(progress.attempts, key=lambda a: a.score)
            closed[progress.requirement_id] = Interviewed(session_id=best.session_id, score=best.score)
    return closed
