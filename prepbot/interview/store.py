"""Interview sessions and their turns in SQLite under ``PREPBOT_HOME``: all of the package's SQL.

A turn is written the moment each part of it exists: the question when it is asked, the answer when it is
sent, the grade when it is complete. Every write is its own committed statement, so a killed process loses
at most what was being generated, and ``--resume`` finds the turn that was in flight (asked but unanswered:
ask it again; answered but ungraded: grade it again).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from typing import Any, NamedTuple

from prepbot import db
from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.files import Lock
from prepbot.grading import Grade
from prepbot.interview.sessions import Mode, PlannedStep, Session, SessionSummary, Turn, TurnGrade, mean_score
from prepbot.text import Language


class ScoredTurn(NamedTuple):
    """One graded answer on a requirement item, for progress across sessions."""

    requirement_id: str
    posting_id: str
    score: int
    graded_at: datetime
    session_id: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def create_session(
    settings: Settings,
    *,
    posting_id: str,
    role: str,
    mode: Mode,
    language: Language,
    plan: list[PlannedStep],
    set_id: str | None = None,
    cv_id: str | None = None,
    backend: str | None = None,
    model: str | None = None,
) -> Session:
    now = _now()
    session_id = f"s-{datetime.now(timezone.utc):%Y%m%d}-{secrets.token_hex(3)}"
    steps = json.dumps([step.model_dump() for step in plan], ensure_ascii=False)
    with closing(db.connect(settings)) as conn:
        conn.execute(
            "INSERT INTO sessions (id, started_at, updated_at, posting_id, role, mode, language, set_id, cv_id,"
            " backend, model, plan) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, now, now, posting_id, role, mode, language, set_id, cv_id, backend, model, steps),
        )
    return load_session(session_id, settings)


def add_turn(settings: Settings, session: Session, turn: Turn) -> Turn:
    cv_claim = turn.cv_claim.model_dump() if turn.cv_claim else None
    body = json.dumps(
        {"rubric": turn.rubric, "difficulty": turn.difficulty, "cv_claim": cv_claim, "cv_gap": turn.cv_gap},
        ensure_ascii=False,
    )
    with closing(db.connect(settings)) as conn, _one_writer(session, turn):
        conn.execute(
            "INSERT INTO turns (session_id, n, kind, follows, requirement_id, question, body, asked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session.id,
                turn.n,
                turn.kind,
                turn.follows,
                turn.requirement_id,
                turn.question,
                body,
                turn.asked_at.isoformat(),
            ),
        )
        _touch(conn, session.id)
    session.turns.append(turn)
    return turn


@contextmanager
def _one_writer(session: Session, turn: Turn) -> Iterator[None]:
    """Turn n of a session is written once: a second process resuming the same session is told so."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise PrepbotError(
            f"turn {turn.n} of session {session.id} was saved by another prepbot process; "
            f"`prepbot chat --resume {session.id}` continues from what it saved"
        ) from None


def session_lock(settings: Settings, session_id: str) -> Lock:
    """The lock a chat holds on its session while it runs; a second chat of the session is refused."""
    lock = Lock(settings.home / "locks" / f"session-{session_id}.lock")
    if not lock.acquire():
        holder = lock.holder()
        raise PrepbotError(
            f"session {session_id} is open in another prepbot process{f' (pid {holder})' if holder else ''}; "
            "finish or quit it there, then resume"
        )
    return lock


def record_answer(settings: Settings, session: Session, turn: Turn, answer: str) -> None:
    turn.answer, turn.answered_at = answer, datetime.now(timezone.utc)
    _update(settings, session, turn, "answer = ?, answered_at = ?", (answer, turn.answered_at.isoformat()))


def record_grade(settings: Settings, session: Session, turn: Turn, grade: Grade, timings: dict[str, float]) -> None:
    turn.grade, turn.graded_at, turn.timings = TurnGrade.of(grade), datetime.now(timezone.utc), timings
    values = (grade.score, turn.grade.model_dump_json(), turn.graded_at.isoformat(), json.dumps(timings))
    _update(settings, session, turn, "score = ?, grade = ?, graded_at = ?, timings = ?", values)


def record_skip(settings: Settings, session: Session, turn: Turn) -> None:
    turn.skipped = True
    _update(settings, session, turn, "skipped = 1", ())


def set_language(settings: Settings, session: Session, language: Language) -> None:
    session.language = language
    with closing(db.connect(settings)) as conn:
        conn.execute("UPDATE sessions SET language = ?, updated_at = ? WHERE id = ?", (language, _now(), session.id))


def end_session(settings: Settings, session: Session) -> None:
    with closing(db.connect(settings)) as conn:
        conn.execute("UPDATE sessions SET ended_at = ?, updated_at = ? WHERE id = ?", (_now(), _now(), session.id))


def _update(settings: Settings, session: Session, turn: Turn, assignments: str, values: tuple[Any, ...]) -> None:
    with closing(db.connect(settings)) as conn:
        conn.execute(f"UPDATE turns SET {assignments} WHERE session_id = ? AND n = ?", (*values, session.id, turn.n))
        _touch(conn, session.id)


def _touch(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_now(), session_id))


def load_session(session_id: str, settings: Settings) -> Session:
    with closing(db.connect(settings)) as conn:
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise PrepbotError(f"no session {session_id!r}; `prepbot sessions list` shows them")
        rows = conn.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY n", (session_id,)).fetchall()
    fields = dict(row)
    plan = json.loads(fields.pop("plan"))
    return Session(**fields, plan=plan, turns=[_turn(r) for r in rows])


def _turn(row: sqlite3.Row) -> Turn:
    body = json.loads(row["body"])
    return Turn(
        n=row["n"],
        kind=row["kind"],
        follows=row["follows"],
        requirement_id=row["requirement_id"],
        question=row["question"],
        rubric=body.get("rubric") or [],
        difficulty=body.get("difficulty"),
        cv_claim=body.get("cv_claim"),
        cv_gap=bool(body.get("cv_gap")),
        asked_at=row["asked_at"],
        answer=row["answer"],
        answered_at=row["answered_at"],
        skipped=bool(row["skipped"]),
        grade=TurnGrade.model_validate_json(row["grade"]) if row["grade"] else None,
        graded_at=row["graded_at"],
        timings=json.loads(row["timings"]) if row["timings"] else {},
    )


def list_sessions(settings: Settings, posting_id: str | None = None) -> list[SessionSummary]:
    """Sessions, newest first."""
    query = (
        "SELECT s.id, s.posting_id, s.role, s.mode, s.started_at, s.ended_at,"
        " COUNT(t.answer) AS turns, GROUP_CONCAT(t.score) AS scores"
        " FROM sessions s LEFT JOIN turns t ON t.session_id = s.id"
    )
    params: tuple[str, ...] = ()
    if posting_id:
        query, params = query + " WHERE s.posting_id = ?", (posting_id,)
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(query + " GROUP BY s.id ORDER BY s.started_at DESC, s.rowid DESC", params).fetchall()
    return [_summary(dict(row)) for row in rows]


def _summary(fields: dict[str, Any]) -> SessionSummary:
    scores = fields.pop("scores")  # the graded turns' scores, comma-separated (None: none graded)
    return SessionSummary(
        **fields, mean_score=mean_score([int(score) for score in scores.split(",")] if scores else [])
    )


def latest_open_session(settings: Settings) -> str | None:
    with closing(db.connect(settings)) as conn:
        row = conn.execute("SELECT id FROM sessions WHERE ended_at IS NULL ORDER BY updated_at DESC LIMIT 1").fetchone()
    return row["id"] if row else None


def scored_turns(settings: Settings, posting_id: str | None = None) -> list[ScoredTurn]:
    """Every graded answer on a requirement item (of one posting's sessions, or all), oldest first."""
    query = (
        "SELECT t.requirement_id, s.posting_id, t.score, t.graded_at, s.id AS session_id FROM turns t"
        " JOIN sessions s ON s.id = t.session_id WHERE t.score IS NOT NULL AND t.requirement_id IS NOT NULL"
    )
    params: tuple[str, ...] = ()
    if posting_id:
        query, params = query + " AND s.posting_id = ?", (posting_id,)
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(query + " ORDER BY t.graded_at", params).fetchall()
    return [
        ScoredTurn(
            row["requirement_id"],
            row["posting_id"],
            row["score"],
            datetime.fromisoformat(row["graded_at"]),
            row["session_id"],
        )
        for row in rows
    ]
