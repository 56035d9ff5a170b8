"""Progress across sessions, per requirement item: scores over time, the weakest items, what is due.

Scheduling is spaced repetition by the latest score (a Leitner schedule): an item last scored 1 is due again
at once, 2 after a day, 3 after three days, 4 after a week, 5 after three weeks. ``--focus weak`` plans the
next interview from the due items scored 3 or lower, lowest and most overdue first.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

from prepbot import db
from prepbot.config import Settings

INTERVAL_DAYS = {1: 0, 2: 1, 3: 3, 4: 7, 5: 21}
WEAK_MAX_SCORE = 3


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


def item_progress(settings: Settings, posting_id: str | None = None) -> list[ItemProgress]:
    """Every graded item, weakest first (latest score, then best, then the most overdue)."""
    query = (
        "SELECT t.requirement_id, s.posting_id, t.score, t.graded_at, s.id AS session_id FROM turns t"
        " JOIN sessions s ON s.id = t.session_id WHERE t.score IS NOT NULL AND t.requirement_id IS NOT NULL"
    )
    params: tuple[str, ...] = ()
    if posting_id:
        query, params = query + " AND s.posting_id = ?", (posting_id,)
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(query + " ORDER BY t.graded_at", params).fetchall()
    attempts: dict[str, list[Attempt]] = {}
    postings: dict[str, str] = {}
    for row in rows:
        attempts.setdefault(row["requirement_id"], []).append(
            Attempt(at=row["graded_at"], score=row["score"], session_id=row["session_id"])
        )
        postings[row["requirement_id"]] = row["posting_id"]
    items = []
    for rid, history in attempts.items():
        last = history[-1]
        items.append(ItemProgress(
            requirement_id=rid, posting_id=postings[rid], attempts=history, latest=last.score,
            best=max(a.score for a in history), last_at=last.at,
            due_at=last.at + timedelta(days=INTERVAL_DAYS[last.score]),
        ))  # fmt: skip
    return sorted(items, key=lambda item: (item.latest, item.best, item.due_at))


def weak_items(settings: Settings, posting_id: str, now: datetime | None = None) -> list[ItemProgress]:
    """Items to practise next: scored 3 or lower last time and due again, lowest score and most overdue first."""
    now = now or datetime.now(timezone.utc)
    due = [item for item in item_progress(settings, posting_id) if item.weak and item.due(now)]
    return sorted(due, key=lambda item: (item.latest, item.due_at))
