"""Saved question sets: all the SQL of the questions package (table ``question_sets``, see ``prepbot.db``).

A set is kept whole as JSON (``body``), with the columns ``prepbot questions list`` shows beside it.
"""

from __future__ import annotations

from contextlib import closing

from prepbot import db
from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.questions.models import QuestionSet, SetSummary


def save_set(question_set: QuestionSet, settings: Settings) -> None:
    row = (
        question_set.set_id,
        question_set.created_at.isoformat(),
        question_set.posting_id,
        question_set.role,
        question_set.language,
        question_set.backend,
        question_set.model,
        len(question_set.questions),
        question_set.model_dump_json(),
    )
    with closing(db.connect(settings)) as conn:
        conn.execute(
            "INSERT INTO question_sets (id, created_at, posting_id, role, language, backend, model, questions, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )


def load_set(set_id: str, settings: Settings) -> QuestionSet:
    with closing(db.connect(settings)) as conn:
        row = conn.execute("SELECT body FROM question_sets WHERE id = ?", (set_id,)).fetchone()
    if row is None:
        raise PrepbotError(f"no question set {set_id!r}; `prepbot questions list` shows them")
    return QuestionSet.model_validate_json(row["body"])


def list_sets(settings: Settings, posting_id: str | None = None) -> list[SetSummary]:
    """Saved sets, newest first."""
    query = "SELECT id, created_at, posting_id, role, language, backend, model, questions FROM question_sets"
    params: tuple[str, ...] = ()
    if posting_id:
        query, params = query + " WHERE posting_id = ?", (posting_id,)
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(query + " ORDER BY created_at DESC, rowid DESC", params).fetchall()
    # a sqlite3.Row iterates over its values, so its column names come from keys()
    return [SetSummary(set_id=row["id"], **{k: row[k] for k in row.keys() if k != "id"}) for row in rows]  # noqa: SIM118
