"""Mock interviews, without a terminal (``prepbot chat`` in ``prepbot/cli/chat.py`` drives them).

- ``interview``: an ``Interview``: ask, grade, follow up, adapt the difficulty, remember.
- ``plan``: the main questions an interview will ask (as for a question set, from a saved set, or the weak items).
- ``sessions``: what a session and its turns are. ``store``: saving them as they happen (all the package's SQL).
- ``progress``: scores per requirement item across sessions, and when each is due again (spaced repetition).
- ``report``: the ``--json`` shapes of saved sessions and the Markdown report a candidate keeps.
"""

from __future__ import annotations

from prepbot.interview.interview import (
    EASIER,
    FOLLOW_UP_MAX_SCORE,
    Interview,
    grade_one,
    language_named,
    open_interview,
)
from prepbot.interview.plan import DEFAULT_QUESTIONS, MODES
from prepbot.interview.progress import ItemProgress, QuotedProgress, item_progress, quoted_progress, weak_items
from prepbot.interview.sessions import Mode, PlannedStep, Session, SessionSummary, Turn, TurnGrade

__all__ = [
    "DEFAULT_QUESTIONS",
    "EASIER",
    "FOLLOW_UP_MAX_SCORE",
    "MODES",
    "Interview",
    "ItemProgress",
    "Mode",
    "PlannedStep",
    "QuotedProgress",
    "Session",
    "SessionSummary",
    "Turn",
    "TurnGrade",
    "grade_one",
    "item_progress",
    "language_named",
    "open_interview",
    "quoted_progress",
    "weak_items",
]
