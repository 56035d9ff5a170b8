"""Interview sessions and their turns, in SQLite under ``PREPBOT_HOME``.

A turn is written the moment each part of it exists: the question when it is asked, the answer when it is
sent, the grade when it is complete. Every write is its own committed statement, so a killed process loses
at most what was being generated, and ``--resume`` finds the turn that was in flight (asked but unanswered:
ask it again; answered but ungraded: grade it again).
"""

from __future__ import annotations

import json
import secrets
from contextlib import closing
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from prepbot import db
from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.grading import Grade, GradeBody

Mode = Literal["screen", "technical", "behavioral", "mixed"]
TurnKind = Literal["question", "follow_up"]


class PlannedStep(BaseModel):
    """One main question of a session's plan: the item it tests, and its text when it came from a saved set."""

    requirement_id: str
    kind: str
    difficulty: str
    text: str | None = None
    rubric: list[str] = Field(default_factory=list)


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
    difficulty: str | None = None
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
    language: str
    set_id: str | None = None
    backend: str | None = None
    model: str | None = None
    plan: list[PlannedStep]
    turns: list[Turn] = Field(default_factory=list)

    @property
    def graded(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.grade]

    @property
    def mean_score(self) -> float | None:
        scores = [turn.grade.score for turn in self.graded if turn.grade]
        return round(sum(scores) / len(scores), 2) if scores else None

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
    turns: int
    mean_score: float | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def create_session(
    settings: Settings, *, posting_id: str, role: str, mode: Mode, language: str, plan: list[PlannedStep],
    set_id: str | None = None, backend: str | None = None, model: str | None = None,
) -> Session:  # fmt: skip
    now = _now()
    session_id = f"s-{datetime.now(timezone.utc):%Y%m%d}-{secrets.token_hex(3)}"
    with closing(db.connect(settings)) as conn:
        conn.execute(
            "INSERT INTO sessions (id, started_at, updated_at, posting_id, role, mode, language, set_id, backend,"
            " model, plan) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, now, now, posting_id, role, mode, language, set_id, backend, model,
             json.dumps([step.model_dump() for step in plan], ensure_ascii=False)),
        )  # fmt: skip
    return load_session(session_id, settings)


def add_turn(settings: Settings, session: Session, turn: Turn) -> Turn:
    body = {"rubric": turn.rubric, "difficulty": turn.difficulty}
    with closing(db.connect(settings)) as conn:
        conn.execute(
            "INSERT INTO turns (session_id, n, kind, follows, requirement_id, question, body, asked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (session.id, turn.n, turn.kind, turn.follows, turn.requirement_id, turn.question,
             json.dumps(body, ensure_ascii=False), turn.asked_at.isoformat()),
        )  # fmt: skip
        _touch(conn, session.id)
    session.turns.append(turn)
    return turn


def record_answer(settings: Settings, session: Session, turn: Turn, answer: str) -> None:
    turn.answer, turn.answered_at = answer, datetime.now(timezone.utc)
    _update(settings, session, turn, "answer = ?, answered_at = ?", (answer, turn.answered_at.isoformat()))


def record_grade(settings: Settings, session: Session, turn: Turn, grade: Grade, timings: dict[str, float]) -> None:
    turn.grade, turn.graded_at, turn.timings = TurnGrade.of(grade), datetime.now(timezone.utc), timings
    _update(
        settings, session, turn, "score = ?, grade = ?, graded_at = ?, timings = ?",
        (grade.score, turn.grade.model_dump_json(), turn.graded_at.isoformat(), json.dumps(timings)),
    )  # fmt: skip


def record_skip(settings: Settings, session: Session, turn: Turn) -> None:
    turn.skipped = True
    _update(settings, session, turn, "skipped = 1", ())


def set_language(settings: Settings, session: Session, language: str) -> None:
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


def _touch(conn: Any, session_id: str) -> None:
    conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_now(), session_id))


def load_session(session_id: str, settings: Settings) -> Session:
    with closing(db.connect(settings)) as conn:
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise PrepbotError(f"no session {session_id!r}; `prepbot sessions list` shows them")
        rows = conn.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY n", (session_id,)).fetchall()
    fields = {key: row[key] for key in row.keys() if key != "plan"}
    return Session(**fields, plan=json.loads(row["plan"]), turns=[_turn(r) for r in rows])


def _turn(row: Any) -> Turn:
    body = json.loads(row["body"])
    return Turn(
        n=row["n"], kind=row["kind"], follows=row["follows"], requirement_id=row["requirement_id"],
        question=row["question"], rubric=body.get("rubric") or [], difficulty=body.get("difficulty"),
        asked_at=row["asked_at"], answer=row["answer"], answered_at=row["answered_at"], skipped=bool(row["skipped"]),
        grade=TurnGrade.model_validate_json(row["grade"]) if row["grade"] else None, graded_at=row["graded_at"],
        timings=json.loads(row["timings"]) if row["timings"] else {},
    )  # fmt: skip


def list_sessions(settings: Settings, posting_id: str | None = None) -> list[SessionSummary]:
    """Sessions, newest first."""
    query = (
        "SELECT s.id, s.posting_id, s.role, s.mode, s.started_at, s.ended_at,"
        " COUNT(t.answer) AS turns, AVG(t.score) AS mean_score"
        " FROM sessions s LEFT JOIN turns t ON t.session_id = s.id"
    )
    params: tuple[str, ...] = ()
    if posting_id:
        query, params = query + " WHERE s.posting_id = ?", (posting_id,)
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(query + " GROUP BY s.id ORDER BY s.started_at DESC, s.rowid DESC", params).fetchall()
    return [
        SessionSummary(**{k: row[k] for k in row.keys() if k != "mean_score"},
                       mean_score=None if row["mean_score"] is None else round(row["mean_score"], 2))
        for row in rows
    ]  # fmt: skip


def latest_open_session(settings: Settings) -> str | None:
    with closing(db.connect(settings)) as conn:
        row = conn.execute("SELECT id FROM sessions WHERE ended_at IS NULL ORDER BY updated_at DESC LIMIT 1").fetchone()
    return row["id"] if row else None


def session_json(session: Session) -> dict[str, Any]:
    """The ``sessions show --json`` shape."""
    return {
        "id": session.id, "posting_id": session.posting_id, "role": session.role, "mode": session.mode,
        "language": session.language, "started_at": session.started_at.isoformat(),
        "ended_at": session.ended_at.isoformat() if session.ended_at else None, "mean_score": session.mean_score,
        "turns": [
            {
                "n": turn.n, "kind": turn.kind, "follows": turn.follows, "requirement_id": turn.requirement_id,
                "question": turn.question, "answer": turn.answer, "skipped": turn.skipped, "score": turn.score,
                "expected_score": turn.grade.expected_score if turn.grade else None,
                "model_score": turn.grade.model_score if turn.grade else None,
                "rubric": [mark.model_dump() for mark in turn.grade.rubric] if turn.grade else [],
                "strengths": turn.grade.strengths if turn.grade else [],
                "gaps": turn.grade.gaps if turn.grade else [],
                "better_answer": turn.grade.better_answer if turn.grade else None,
                "citations": [c.model_dump() for c in turn.grade.citations] if turn.grade else [],
                "follow_up": _follow_up_of(session, turn), "timings": turn.timings,
            }
            for turn in session.turns
        ],
    }  # fmt: skip


def _follow_up_of(session: Session, turn: Turn) -> str | None:
    """The follow-up asked after this turn, if any."""
    return next((t.question for t in session.turns if t.follows == turn.n), None)


def export_markdown(session: Session) -> str:
    """A report a candidate would keep: scores per question, the items cited, what to practise."""
    lines = [f"# Mock interview: {session.role}", ""]
    lines.append(f"- Session `{session.id}`, posting `{session.posting_id}`, mode {session.mode}, "
                 f"started {session.started_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    answered = [t for t in session.turns if t.grade]
    lines.append(f"- {len(answered)} answers graded, mean score {session.mean_score if session.mean_score else '-'} / 5")
    lines.append("")
    for turn in session.turns:
        label = "Follow-up" if turn.kind == "follow_up" else "Question"
        lines += [f"## {turn.n}. {label}: {turn.question}", ""]
        if turn.skipped:
            lines += ["*Skipped.*", ""]
            continue
        if turn.answer is None:
            lines += ["*Not answered.*", ""]
            continue
        lines += ["**Answer:**", "", *[f"> {line}" for line in turn.answer.splitlines()], ""]
        if not turn.grade:
            lines += ["*Not graded.*", ""]
            continue
        grade = turn.grade
        lines.append(f"**Score: {grade.score}/5**")
        lines.append("")
        lines += [f"- [{'x' if mark.met else ' '}] {mark.point}" for mark in grade.rubric]
        if grade.strengths:
            lines += ["", "Strengths: " + "; ".join(grade.strengths)]
        if grade.gaps:
            lines += ["", "Gaps: " + "; ".join(grade.gaps)]
        if grade.better_answer:
            lines += ["", f"A stronger answer: {grade.better_answer}"]
        if grade.citations:
            lines += ["", "Requirements:"]
            lines += [f"- `{c.id}` ({c.relation}): \"{c.quote}\"" for c in grade.citations]
        lines.append("")
    practise = practise_list(session)
    if practise:
        lines += ["## What to practise", ""]
        lines += [f"- `{rid}` (best {score}/5): {gap}" for rid, score, gap in practise]
        lines.append("")
    return "\n".join(lines)


def practise_list(session: Session) -> list[tuple[str, int, str]]:
    """The session's items scored 3 or lower, each with its best score and the first gap named."""
    best: dict[str, tuple[int, str]] = {}
    for turn in session.graded:
        grade = turn.grade
        if grade is None or not turn.requirement_id:
            continue
        gap = grade.gaps[0] if grade.gaps else ""
        if turn.requirement_id not in best or grade.score > best[turn.requirement_id][0]:
            best[turn.requirement_id] = (grade.score, gap or best.get(turn.requirement_id, (0, ""))[1])
    return sorted(((rid, score, gap) for rid, (score, gap) in best.items() if score <= 3), key=lambda x: x[1])
